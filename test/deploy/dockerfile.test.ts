/**
 * The Dockerfile, checked statically (no container engine runs here): dockerfile-utils' linter
 * (the Dockerfile language server's validator) finds no problem, and the parsed instructions
 * (dockerfile-ast) show a multi-stage build, a non-root runtime stage with a health check that asks
 * the health_check extension, build-context paths that exist and are not excluded by .dockerignore.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DockerfileParser } from 'dockerfile-ast';
import { ValidationSeverity, validate } from 'dockerfile-utils';
import { projectRoot } from '../helpers.js';
import { exampleConfig } from '../extensions/status/helpers.js';

const text = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
const strict = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

test('the linter finds nothing in the Dockerfile, and does find faults in a broken one', () => {
  assert.deepEqual(validate(text, strict).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
  const broken = text.replace(/^USER .*$/m, 'USER').replace('HEALTHCHECK --interval=15s', 'HEALTHCHECK --interval=fast').replace('EXPOSE 4317', 'EXPOSE otlp');
  assert.ok(validate(broken, strict).length >= 3);
});

test('multi-stage, non-root runtime with a health check on the health_check extension', () => {
  const df = DockerfileParser.parse(text);
  const froms = df.getFROMs();
  assert.ok(froms.length >= 2, 'a build stage and a runtime stage');
  const stages = froms.map((f) => f.getBuildStage()).filter(Boolean);
  const runtimeStart = froms.at(-1)!.getRange().start.line;
  const runtime = df.getInstructions().filter((i) => i.getRange().start.line >= runtimeStart);
  const kw = (k: string) => runtime.filter((i) => i.getKeyword() === k);
  const user = kw('USER').at(-1)?.getArgumentsContent() ?? '';
  assert.ok(user !== '' && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (USER ${user})`);
  for (const c of df.getCOPYs().filter((x) => x.getRange().start.line >= runtimeStart)) {
    const from = c.getFromFlag()?.getValue();
    assert.ok(from && stages.includes(from), `runtime COPY takes from a build stage: ${c.getArgumentsContent()}`);
  }
  const hc = kw('HEALTHCHECK');
  assert.equal(hc.length, 1);
  const health = exampleConfig().extensions.get('health_check')!.config as { endpoint: string; ready_path: string };
  const port = health.endpoint.split(':').at(-1)!;
  assert.ok((hc[0]!.getArgumentsContent() ?? '').includes(`http://127.0.0.1:${port}${health.ready_path}`), 'the health check asks the readiness path of health_check');
  const entry = JSON.parse(kw('ENTRYPOINT')[0]!.getArgumentsContent()!) as string[];
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.equal(entry.at(-1), `/app/${Object.values(pkg.bin)[0]}`, 'the entrypoint is the package\'s bin, in exec form');
  const exposed = kw('EXPOSE').flatMap((e) => e.getArguments().map((a) => a.getValue()));
  for (const p of ['4317', '4318', port]) assert.ok(exposed.includes(p), `EXPOSE ${p}`);
});

test('every path the build takes from the context exists and is not excluded by .dockerignore', () => {
  const ignored = fs
    .readFileSync(path.join(projectRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const df = DockerfileParser.parse(text);
  const sources = df
    .getCOPYs()
    .filter((c) => !c.getFromFlag())
    .flatMap((c) => c.getArguments().slice(0, -1).map((a) => a.getValue()));
  assert.ok(sources.length >= 5);
  for (const s of sources) {
    assert.ok(fs.existsSync(path.join(projectRoot, s)), `${s} exists`);
    assert.ok(!ignored.some((p) => s === p || s.startsWith(`${p.replace(/\/$/, '')}/`)), `${s} is not in .dockerignore`);
  }
});
