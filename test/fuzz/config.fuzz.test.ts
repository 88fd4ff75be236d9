/**
 * Config fuzzing of `otelytics validate`: random YAML trees (built from the real section,
 * component and option names plus noise), mutations of the example config, and random YAML text
 * never crash validation; they end valid or with ConfigErrors whose every message names a path.
 * A few of them go through the real CLI, which exits 0 or 1 and prints the errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import YAML from 'yaml';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseConfigText, substituteEnv, type RawTree } from '../../src/config/sources.js';
import { ConfigErrors } from '../../src/errors.js';
import { defaultRegistry } from '../../src/registry.js';
import { cliPath, projectRoot } from '../helpers.js';

const SEED = Number(process.env.OTELYTICS_FUZZ_SEED ?? 20240611);
const registry = defaultRegistry();

const words = [
  'receivers', 'processors', 'exporters', 'extensions', 'service', 'pipelines', 'telemetry', 'metrics', 'logs', 'traces', 'events',
  'otlp', 'protocols', 'http', 'grpc', 'endpoint', 'limits', 'attribute_count_limit', 'read_timeout',
  'analytics', 'rules', 'batch', 'timeout', 'send_batch_size', 'filter', 'memory_limiter', 'limit_mib', 'check_interval',
  'file', 'file/dead', 'path', 'debug', 'verbosity', 'sending_queue', 'queue_size', 'sizer', 'storage', 'drain_timeout',
  'retry_on_failure', 'max_elapsed_time', 'dead_letter', 'health_check', 'ready_path', 'level', 'address', 'exporters',
  'events/x', '', ' ', '::', '${env:NOPE}', '__proto__', 'constructor', 'kafka', 'brokers', 'topic',
];
const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...words) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });
const scalar = fc.oneof(
  fc.constantFrom('5s', '0', '-1', '1h', '127.0.0.1:0', '0.0.0.0:99999', '/tmp/x', '${env:HOME}', '${env:X:-5s}', 'items', 'bytes', 'otlp', 'file', '', 'NaN'),
  fc.string({ maxLength: 16 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 3 }), tie('tree')),
}));

/** Validates the way the CLI does, after YAML: env substitution, then the registry. */
function validate(raw: RawTree): 'valid' | 'invalid' {
  try {
    const errors: ConstructorParameters<typeof ConfigErrors>[0][number][] = [];
    const t = substituteEnv(raw, { HOME: '/root' }, [], errors) as RawTree;
    if (errors.length) throw new ConfigErrors(errors);
    resolveConfig(t, registry);
    return 'valid';
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw new Error(`validation crashed with ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    assert.ok(err.errors.length > 0, 'invalid, but no error message');
    for (const e of err.errors) assert.ok(e.message.trim().length > 0);
    return 'invalid';
  }
}

const example = parseConfigText(fs.readFileSync(path.join(projectRoot, 'config.example.yaml'), 'utf8'), 'config.example.yaml');

/** Every path of a tree, for mutations. */
function paths(t: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (typeof t === 'object' && t !== null) {
    for (const k of Object.keys(t)) {
      out.push([...prefix, k]);
      paths((t as Record<string, unknown>)[k], [...prefix, k], out);
    }
  }
  return out;
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('fuzz: config validation', () => {
  it('never crashes on random config trees', () => {
    fc.assert(fc.property(tree, (t) => void validate(t as RawTree)), { numRuns: 300, seed: SEED });
  });

  it('never crashes on the example config with random values put at random paths (and keeps it valid without them)', () => {
    assert.equal(validate(structuredClone(example)), 'valid');
    const all = paths(example);
    let invalid = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.oneof(scalar, tree)), { minLength: 1, maxLength: 3 }), (changes) => {
        const t = structuredClone(example) as Record<string, unknown>;
        for (const [i, v] of changes) {
          const p = all[i % all.length]!;
          let parent = t;
          for (const k of p.slice(0, -1)) {
            const next = parent[k];
            if (typeof next !== 'object' || next === null) return;
            parent = next as Record<string, unknown>;
          }
          parent[p.at(-1)!] = v;
        }
        if (validate(t) === 'invalid') invalid++;
      }),
      { numRuns: 300, seed: SEED },
    );
    assert.ok(invalid > 0, 'the mutations reached validation errors');
  });

  it('never crashes on random YAML text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), tree.map((t) => YAML.stringify(t)).chain((y) => fc.nat({ max: Math.max(1, y.length) }).map((n) => y.slice(0, n)))), (text) => {
        try {
          validate(parseConfigText(text, 'fuzz.yaml'));
        } catch (err) {
          // The CLI prints any error as `otelytics: <message>` and exits 1: a message is what counts.
          // (The YAML library's alias errors, e.g. for `*!`, arrive as plain errors, not ConfigErrors.)
          if (!(err instanceof ConfigErrors)) assert.ok(err instanceof Error && err.message.length > 0, String(err));
        }
      }),
      { numRuns: 200, seed: SEED },
    );
  });

  it('otelytics validate exits 0 or 1 with messages for random configs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-cfgfuzz-'));
    dirs.push(dir);
    const samples = fc.sample(fc.oneof(tree.map((t) => YAML.stringify(t)), fc.string({ maxLength: 80 })), { numRuns: 2, seed: SEED });
    samples.push('*!'); // an alias without its anchor: rejected by the YAML library
    samples.push(fs.readFileSync(path.join(projectRoot, 'config.example.yaml'), 'utf8'));
    for (const [i, text] of samples.entries()) {
      const file = path.join(dir, `c${i}.yaml`);
      fs.writeFileSync(file, text);
      const r = spawnSync(process.execPath, [cliPath, 'validate', '--config', file], { encoding: 'utf8', timeout: 20_000 });
      assert.ok(r.status === 0 || r.status === 1, `exit ${r.status} for ${JSON.stringify(text)}: ${r.stderr}`);
      if (r.status === 1) assert.match(r.stderr, /^otelytics: /, r.stderr);
      else assert.match(r.stdout, /configuration is valid/);
      if (i === samples.length - 1) assert.equal(r.status, 0, r.stderr);
    }
  });
});
