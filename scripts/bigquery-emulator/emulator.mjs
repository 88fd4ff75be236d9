#!/usr/bin/env node
// Installs and runs goccy/bigquery-emulator (https://github.com/goccy/bigquery-emulator), a local
// server of the BigQuery REST API, for the bigquery exporter's tests and examples. It is built from
// the Go module proxy into a cache outside the repository; see README.md beside this file.
//
// CLI:     node scripts/bigquery-emulator/emulator.mjs install|start|stop|status [--project P] [--dataset D] [--port N] [--dir D]
// Library: const { startBigQueryEmulator } = await import('.../scripts/bigquery-emulator/emulator.mjs');
//          const bq = await startBigQueryEmulator({ project: 'test' });   // fresh, in memory
//          bq.endpoint                                                     // 'http://127.0.0.1:<port>'
//          await bq.stop();

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The pinned emulator release. */
export const EMULATOR_VERSION = 'v0.6.6';
export const EMULATOR_MODULE = 'github.com/goccy/bigquery-emulator';
const HOST = '127.0.0.1';
const noop = () => {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `${OTELYTICS_CACHE:-$HOME/.cache/otelytics}` */
export function cacheRoot() {
  return process.env.OTELYTICS_CACHE || path.join(os.homedir(), '.cache', 'otelytics');
}

/** `<cache>/bigquery-emulator-<version>`: src/ (module copy), bin/, run/ (the CLI's emulator). */
export function emulatorHome() {
  return path.join(cacheRoot(), `bigquery-emulator-${EMULATOR_VERSION}`);
}

export function emulatorBinary() {
  return path.join(emulatorHome(), 'bin', 'bigquery-emulator');
}

export function isInstalled() {
  return fs.existsSync(emulatorBinary());
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

/**
 * A C++ compiler that builds go-zetasql: clang++ (GCC 12 fails on it). `CXX` wins; then clang++ on
 * PATH; then Debian's clang-14 fetched with `apt-get download` and unpacked into the cache (it
 * needs the libllvm14 and libclang-cpp14 libraries: `apt-get install clang-14` if it cannot start).
 */
export function findClang({ log = noop } = {}) {
  if (process.env.CXX) return { cc: process.env.CC || 'cc', cxx: process.env.CXX };
  const onPath = run('sh', ['-c', 'command -v clang++ && command -v clang']);
  if (onPath.status === 0) {
    const [cxx, cc] = onPath.stdout.trim().split('\n');
    return { cc, cxx };
  }
  const root = path.join(cacheRoot(), 'clang-14');
  const bin = path.join(root, 'root', 'usr', 'lib', 'llvm-14', 'bin');
  if (!fs.existsSync(path.join(bin, 'clang++'))) {
    log('fetching clang-14 from Debian (apt-get download) into ' + root);
    const debs = path.join(root, 'debs');
    fs.mkdirSync(debs, { recursive: true });
    const dl = run('apt-get', ['download', 'clang-14', 'libclang-common-14-dev'], { cwd: debs });
    if (dl.status !== 0) throw new Error(`apt-get download clang-14 failed; install clang (apt-get install clang-14) or set CXX=clang++:\n${dl.stderr}`);
    for (const f of fs.readdirSync(debs).filter((x) => x.endsWith('.deb'))) {
      const x = run('dpkg', ['-x', path.join(debs, f), path.join(root, 'root')]);
      if (x.status !== 0) throw new Error(`dpkg -x ${f}: ${x.stderr}`);
    }
  }
  const check = run(path.join(bin, 'clang++'), ['--version']);
  if (check.status !== 0) throw new Error(`the unpacked clang++ does not start (missing libllvm14/libclang-cpp14?): apt-get install clang-14, or set CXX:\n${check.stderr}`);
  return { cc: path.join(bin, 'clang'), cxx: path.join(bin, 'clang++') };
}

/**
 * Builds the emulator into `<cache>/bigquery-emulator-<version>/bin` unless it is there. Tries
 * `go install <module>/cmd/bigquery-emulator@<version>`; where the proxy refuses the module's
 * version list (which `go install pkg@version` reads to check deprecation), it downloads the
 * module with `go mod download` and runs `go install ./cmd/bigquery-emulator` in a copy of it.
 * The first build compiles ZetaSQL (C++) and takes a long time (about 30-60 minutes on 2 cores).
 */
export async function installEmulator({ log = noop } = {}) {
  if (isInstalled()) return emulatorBinary();
  const go = run('go', ['version']);
  if (go.status !== 0) throw new Error('Go is needed to build the BigQuery emulator (https://go.dev/dl/)');
  const { cc, cxx } = findClang({ log });
  const home = emulatorHome();
  const binDir = path.join(home, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  const env = { ...process.env, CGO_ENABLED: '1', CC: cc, CXX: cxx, GOBIN: binDir, GOFLAGS: '-buildvcs=false -mod=mod' };
  log(`building ${EMULATOR_MODULE}@${EMULATOR_VERSION} with ${cxx} (long: ZetaSQL is C++)`);
  const direct = run('go', ['install', `${EMULATOR_MODULE}/cmd/bigquery-emulator@${EMULATOR_VERSION}`], { env, stdio: ['ignore', 'inherit', 'pipe'] });
  if (direct.status === 0 && isInstalled()) return emulatorBinary();
  log(`go install ${EMULATOR_MODULE}@${EMULATOR_VERSION} failed (${(direct.stderr || '').trim().split('\n').pop()}); building from the downloaded module`);
  const dl = run('go', ['mod', 'download', '-json', `${EMULATOR_MODULE}@${EMULATOR_VERSION}`], { env, cwd: os.tmpdir() });
  if (dl.status !== 0) throw new Error(`go mod download ${EMULATOR_MODULE}@${EMULATOR_VERSION} failed:\n${dl.stdout}${dl.stderr}`);
  const { Dir } = JSON.parse(dl.stdout);
  const src = path.join(home, 'src');
  fs.rmSync(src, { recursive: true, force: true });
  fs.cpSync(Dir, src, { recursive: true });
  run('chmod', ['-R', 'u+w', src]);
  const b = run('go', ['install', './cmd/bigquery-emulator'], { env, cwd: src, stdio: ['ignore', 'inherit', 'pipe'] });
  if (b.status !== 0 || !isInstalled()) throw new Error(`building the BigQuery emulator failed:\n${(b.stderr || '').split('\n').filter((l) => /error/i.test(l)).slice(0, 20).join('\n')}`);
  return emulatorBinary();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(endpoint, project, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the BigQuery emulator exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${endpoint}/bigquery/v2/projects/${project}/datasets`);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`the BigQuery emulator did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Starts an emulator on 127.0.0.1 ports (`port` and `grpcPort`, or free ones), in memory (or
 * `database`, a file), and resolves once its REST API answers: `{ endpoint, port, grpcPort, pid,
 * project, stop() }`. Unless `detached`, it is killed when this process exits. A caller that picks
 * ports for other servers too passes its own, so that no two of them are given one port (the
 * emulator binds its gRPC port some time after its REST API answers).
 */
export async function startBigQueryEmulator({ project = 'otelytics', dataset, port, grpcPort: grpc, database, log = noop, timeoutMs = 30_000, detached = false } = {}) {
  if (!isInstalled()) throw new Error(`the BigQuery emulator is not installed: node scripts/bigquery-emulator/emulator.mjs install`);
  const httpPort = port ?? (await freePort());
  let grpcPort = grpc;
  while (grpcPort === undefined || grpcPort === httpPort) grpcPort = await freePort();
  const args = [`--project=${project}`, `--host=${HOST}`, `--port=${httpPort}`, `--grpc-port=${grpcPort}`, '--log-level=error'];
  if (dataset) args.push(`--dataset=${dataset}`);
  if (database) args.push(`--database=${database}`);
  const logFile = database ? `${database}.log` : path.join(os.tmpdir(), `otelytics-bigquery-emulator-${process.pid}-${httpPort}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(emulatorBinary(), args, { stdio: ['ignore', out, out], detached });
  fs.closeSync(out);
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  if (!detached) process.once('exit', kill);
  const endpoint = `http://${HOST}:${httpPort}`;
  try {
    await waitReady(endpoint, project, child, timeoutMs);
  } catch (err) {
    kill();
    throw new Error(`${err.message}; see ${logFile}`);
  }
  log(`BigQuery emulator ${EMULATOR_VERSION} on ${endpoint} (project ${project})`);
  if (detached) child.unref();
  return {
    endpoint,
    port: httpPort,
    grpcPort,
    pid: child.pid,
    project,
    logFile,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 5000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', kill);
      if (!database) fs.rmSync(logFile, { force: true });
    },
  };
}

// ---------------------------------------------------------------- CLI

const stateFile = (dir) => path.join(dir, 'state.json');

function readState(dir) {
  try {
    const s = JSON.parse(fs.readFileSync(stateFile(dir), 'utf8'));
    process.kill(s.pid, 0);
    return s;
  } catch {
    return undefined;
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { project: { type: 'string', default: 'otelytics-dev' }, dataset: { type: 'string' }, port: { type: 'string' }, dir: { type: 'string' } },
  });
  const cmd = positionals[0];
  const dir = values.dir ?? path.join(emulatorHome(), 'run');
  const log = (m) => process.stderr.write(`${m}\n`);
  switch (cmd) {
    case 'install':
      log(`installed: ${await installEmulator({ log })}`);
      return 0;
    case 'start': {
      const running = readState(dir);
      if (running) {
        process.stdout.write(`BIGQUERY_ENDPOINT=${running.endpoint}\n`);
        return 0;
      }
      await installEmulator({ log });
      fs.mkdirSync(dir, { recursive: true });
      const bq = await startBigQueryEmulator({ project: values.project, dataset: values.dataset, port: values.port ? Number(values.port) : undefined, database: path.join(dir, 'emulator.db'), log, detached: true });
      fs.writeFileSync(stateFile(dir), JSON.stringify({ pid: bq.pid, endpoint: bq.endpoint, project: bq.project }, null, 2));
      process.stdout.write(`BIGQUERY_ENDPOINT=${bq.endpoint}\n`);
      return 0;
    }
    case 'status': {
      const s = readState(dir);
      if (!s) {
        process.stdout.write('not running\n');
        return 1;
      }
      process.stdout.write(`BIGQUERY_ENDPOINT=${s.endpoint}\n`);
      return 0;
    }
    case 'stop': {
      const s = readState(dir);
      if (s) {
        process.kill(s.pid, 'SIGTERM');
        for (let i = 0; i < 50 && readState(dir); i++) await sleep(100);
      }
      fs.rmSync(stateFile(dir), { force: true });
      return 0;
    }
    default:
      log('usage: emulator.mjs install | start [--project P] [--dataset D] [--port N] [--dir D] | status | stop');
      return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
