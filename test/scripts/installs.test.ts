/**
 * scripts/installs.mjs: the lines a first run prints about the tools it fetches or builds, and the
 * summary at the end of `npm test`; scripts/test.mjs: that summary and the closing counts line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { projectRoot } from '../helpers.js';

const run = promisify(execFile);
const script = path.join(projectRoot, 'scripts', 'installs.mjs');

interface Installs {
  summaryLines(file: string): string[];
  formatBytes(n: number): string;
  formatSeconds(s: number): string;
}

test('announce and installed say what, why, where, how long and how big; the record sums up', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-installs-'));
  try {
    const log = path.join(dir, 'installs.jsonl');
    const tool = path.join(dir, 'tool');
    fs.mkdirSync(tool);
    fs.writeFileSync(path.join(tool, 'bin'), Buffer.alloc(3 * 1024 * 1024));
    const env = { ...process.env, OTELYTICS_INSTALL_LOG: log };
    const a = await run(process.execPath, [script, 'announce', '--what', 'a tool', '--why', 'a test', '--where', tool, '--eta', 'about 1 minute'], { env });
    assert.equal(a.stderr, `otelytics: installing a tool for a test into ${tool}, once (about 1 minute) ...\n`);
    const b = await run(process.execPath, [script, 'installed', '--what', 'a tool', '--where', tool, '--seconds', '75', '--note', 'caches removed'], { env });
    assert.equal(b.stderr, `otelytics: a tool ready in 1 min 15 s: 3.0 MiB in ${tool}; caches removed\n`);
    assert.deepEqual(JSON.parse(fs.readFileSync(log, 'utf8')), { what: 'a tool', where: tool, seconds: 75, bytes: 3 * 1024 * 1024, note: 'caches removed' });
    await run(process.execPath, [script, 'installed', '--what', 'another', '--where', tool, '--seconds', '5', '--bytes', '2048'], { env });
    const m = (await import(pathToFileURL(script).href)) as Installs;
    assert.deepEqual(m.summaryLines(log), [
      'Installed for the tests during this run (3.0 MiB, 1 min 20 s; kept for later runs):',
      `  a tool: 3.0 MiB in ${tool}, 1 min 15 s (caches removed)`,
      `  another: 2.0 KiB in ${tool}, 5 s`,
    ]);
    assert.deepEqual(m.summaryLines(path.join(dir, 'none.jsonl')), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('scripts/test.mjs ends with the counts in one line, after the runner\'s own summary', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-testmjs-'));
  // A run of its own, not a child of this one (node:test tells its children by NODE_TEST_CONTEXT).
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_TEST_CONTEXT;
  try {
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
    fs.writeFileSync(path.join(dir, 'a.test.js'), "import { test } from 'node:test';\ntest('one', () => {});\ntest('two', { skip: 'not here' }, () => {});\n");
    const r = await run(process.execPath, [path.join(projectRoot, 'scripts', 'test.mjs'), dir], { env });
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[lines.length - 1], 'tests: 1 passed, 0 failed, 1 skipped');
    assert.ok(lines.some((l) => l === 'ℹ pass 1'), r.stdout);
    fs.writeFileSync(path.join(dir, 'a.test.js'), "import { test } from 'node:test';\ntest('fails', () => { throw new Error('no'); });\n");
    const f = (await run(process.execPath, [path.join(projectRoot, 'scripts', 'test.mjs'), dir], { env }).catch((e) => e)) as { code: number; stdout: string };
    assert.equal(f.code, 1);
    assert.match(f.stdout, /\ntests: 0 passed, 1 failed, 0 skipped\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
