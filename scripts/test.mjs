#!/usr/bin/env node
// Runs every compiled test file (`dist/test/**/*.test.js`) with node's test runner, one file at a
// time, so that helpers and local servers under test/ are never run as tests themselves.
// Extra arguments (files or directories under dist/test) narrow the run.
//
// The runner's report is passed through as it comes. After it: what the tests installed on the way
// (tools fetched or built on a first run, each also announced when it starts; scripts/installs.mjs),
// and one closing line with the counts, `tests: N passed, N failed, N skipped` (cancelled tests
// count as failed). The exit code is the runner's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dirBytes, formatBytes, shortPath, summaryLines } from './installs.mjs';

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['dist/test'];
const files = [];
const walk = (p) => {
  const st = fs.statSync(p);
  if (st.isDirectory()) for (const f of fs.readdirSync(p).sort()) walk(path.join(p, f));
  else if (p.endsWith('.test.js')) files.push(p);
};
for (const r of roots) walk(r);
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}; run npm run build first`);
  process.exit(1);
}

const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-test-run-'));
const installLog = path.join(logDir, 'installs.jsonl');
const env = { ...process.env, OTELYTICS_INSTALL_LOG: installLog };
if (process.stdout.isTTY && env.FORCE_COLOR === undefined && env.NO_COLOR === undefined) env.FORCE_COLOR = '1';
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files], { stdio: ['inherit', 'pipe', 'inherit'], env });

// Pass the report through, reading the summary's counts (`ℹ pass 12`) as they go by.
const counts = { pass: 0, fail: 0, cancelled: 0, skipped: 0 };
const ansi = new RegExp('\u001b\\[[0-9;]*m', 'g');
let partial = '';
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  const lines = (partial + d.toString()).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) {
    const m = /^ℹ (pass|fail|cancelled|skipped) (\d+)$/.exec(line.replace(ansi, '').trimEnd());
    if (m) counts[m[1]] = Number(m[2]);
  }
});
const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))));

const installedLines = summaryLines(installLog);
if (installedLines.length > 0) {
  const lines = ['', ...installedLines];
  // Go caches that earlier versions of the install scripts kept beside the tools; nothing uses them now.
  const legacy = path.join(process.env.OTELYTICS_CACHE || path.join(os.homedir(), '.cache', 'otelytics'), 'go');
  if (fs.existsSync(legacy)) lines.push(`  (${shortPath(legacy)}, ${formatBytes(dirBytes(legacy))}, holds Go caches that earlier versions of these scripts kept; no longer used; free it with: GOMODCACHE=${shortPath(legacy)}/mod go clean -modcache && rm -rf ${shortPath(legacy)})`);
  process.stdout.write(lines.join('\n') + '\n');
}
fs.rmSync(logDir, { recursive: true, force: true });

process.stdout.write(`\ntests: ${counts.pass} passed, ${counts.fail + counts.cancelled} failed, ${counts.skipped} skipped\n`);
process.exit(code);
