/** `otelytics schema`: a JSON Schema that accepts the example config and catches what validate catches. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import YAML from 'yaml';
import { mergeTrees } from '../../src/config/sources.js';
import { defaultRegistry } from '../../src/registry.js';
import { cliPath, projectRoot } from '../helpers.js';

const run = promisify(execFile);

async function schemaValidator() {
  const { stdout } = await run(process.execPath, [cliPath, 'schema'], { timeout: 20_000 });
  const schema = JSON.parse(stdout) as { properties: Record<string, { patternProperties?: Record<string, unknown> }> };
  // strict: the schema uses only keywords and formats draft-07 defines (ajv-formats adds the formats).
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats.default(ajv);
  return { schema, validate: ajv.compile<any>(schema) };
}

const example = (): any => YAML.parse(fs.readFileSync(path.join(projectRoot, 'config.example.yaml'), 'utf8'));

test('the schema covers every registered component and accepts config.example.yaml, ${env:...} references included', async () => {
  const { schema, validate } = await schemaValidator();
  const registry = defaultRegistry();
  for (const [section, kind] of [['receivers', 'receiver'], ['processors', 'processor'], ['exporters', 'exporter'], ['connectors', 'connector'], ['extensions', 'extension']] as const) {
    const patterns = Object.keys(schema.properties[section]!.patternProperties ?? {});
    for (const type of registry.types(kind)) assert.ok(patterns.some((p) => new RegExp(p).test(type) && new RegExp(p).test(`${type}/named`)), `${section}: ${type}`);
  }
  const cfg = example();
  assert.ok(validate(cfg), JSON.stringify(validate.errors, null, 1));
  cfg.extensions.status = { endpoint: '${env:STATUS_ENDPOINT:-127.0.0.1:55679}', tail: { buffer_size: '${env:TAIL_BUFFER}' } };
  cfg.exporters['debug/quiet'] = null;
  assert.ok(validate(cfg), JSON.stringify(validate.errors, null, 1));
  // examples/routing.yaml laid over it: connectors, OTTL and match routes, exporters' consent.
  const routing = mergeTrees(example(), YAML.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'routing.yaml'), 'utf8')));
  assert.ok(validate(routing), JSON.stringify(validate.errors, null, 1));
});

test('the schema rejects unknown keys, unknown types, bad enums and bad ids, as validate does', async () => {
  const { validate } = await schemaValidator();
  const cases: [string, (c: any) => void][] = [
    ['unknown key', (c) => (c.processors.batch.send_batch_sise = 10)],
    ['unknown type', (c) => (c.exporters.s3 = {})],
    ['bad enum', (c) => (c.exporters.debug.verbosity = 'loud')],
    ['wrong type', (c) => (c.processors.batch.send_batch_size = 'many')],
    ['bad pipeline id', (c) => (c.service.pipelines.spans = c.service.pipelines.events)],
    ['unknown section', (c) => (c.pipelines = {})],
  ];
  for (const [what, change] of cases) {
    const cfg = example();
    change(cfg);
    assert.equal(validate(cfg), false, what);
  }
});
