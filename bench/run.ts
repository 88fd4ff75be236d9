/**
 * `npm run bench`: runs every benchmark one after the other, prints their tables, and writes the
 * collected `BENCH {...}` results with the machine and versions to `bench/results/<time>.json`
 * (and `bench/results/latest.json`) so runs can be compared.
 *
 * Options are passed on: `npm run bench -- --seconds 5`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const seconds = args.includes('--seconds') ? args[args.indexOf('--seconds') + 1]! : undefined;

/** Benchmarks in run order, with the arguments each takes (the other files here are their modules). */
const suites: [string, string[]][] = [
  ['codec.js', seconds ? [seconds] : []],
  ['privacy-detectors.js', []],
  ['pipeline.js', seconds ? [seconds] : []],
  ['privacy.js', args],
  ['workers.js', seconds ? ['--seconds', seconds] : []],
  ['heap.js', []],
  ['handoff.js', []],
  ['gateway.js', args],
  ['auth.js', []],
  ['kafka.js', args],
  ['fleet.js', []],
  ['overload.js', seconds ? ['--seconds', seconds] : []],
  // Case A also on two cores (both systems on the same two, with the load generator), unless given.
  ['collector.js', args.includes('--cpus') ? args : [...args, '--cpus', '2']],
];

const results: unknown[] = [];
for (const [file, a] of suites) {
  if (!fs.existsSync(path.join(here, file))) continue;
  process.stdout.write(`\n== ${file.replace(/\.js$/, '')} ==\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, file), ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('BENCH ')) results.push(JSON.parse(line.slice(6)));
    else if (line) process.stdout.write(line + '\n');
  }
  if (r.status !== 0) process.stdout.write(`(${file} exited with ${r.status})\n`);
}

const report = {
  time: new Date().toISOString(),
  node: process.version,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memory_gib: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}` },
  results,
};
const dir = path.join(root, 'bench', 'results');
fs.mkdirSync(dir, { recursive: true });
const stamp = report.time.replace(/[:.]/g, '-');
fs.writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify(report, null, 2) + '\n');
fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
process.stdout.write(`\nresults written to bench/results/${stamp}.json\n`);
