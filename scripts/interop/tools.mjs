#!/usr/bin/env node
// Installs the real OpenTelemetry tools the interop tests and examples use, into a cache outside
// the repo (${OTELYTICS_CACHE:-$HOME/.cache/otelytics}), from package registries only:
//
//   python        a virtual environment with the OpenTelemetry Python SDK, its OTLP exporters
//                 (protobuf over HTTP, and gRPC) and structlog, pinned in
//                 examples/python-structlog/requirements.txt (PyPI, with pip)
//   telemetrygen  github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen,
//                 the release of the collector manifest (Go module proxy, with `go install`)
//   collector     an OpenTelemetry Collector built by the collector builder (ocb) of the same
//                 release from scripts/collector/builder-config.yaml (Go module proxy)
//
// CLI:     node scripts/interop/tools.mjs python|telemetrygen|collector|all [--quiet]
//          prints NAME=/path lines on stdout (progress on stderr); work already cached is skipped.
// Library: const { ensureCollector } = await import('.../scripts/interop/tools.mjs');
//          const { bin } = await ensureCollector();
// See README.md beside this file.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** The collector builder manifest. */
export const MANIFEST = path.join(root, 'scripts', 'collector', 'builder-config.yaml');
/** The Python example's pinned requirements (what the venv holds). */
export const PYTHON_REQUIREMENTS = path.join(root, 'examples', 'python-structlog', 'requirements.txt');

/** The collector release pinned by the manifest (`dist::version`), e.g. `0.155.0`. */
export const COLLECTOR_VERSION = (() => {
  const m = /^dist:\s*\n(?:[ \t]+.*\n)*?[ \t]+version:\s*"?([0-9][^"\s]*)"?/m.exec(fs.readFileSync(MANIFEST, 'utf8'));
  if (!m) throw new Error(`no dist::version in ${MANIFEST}`);
  return m[1];
})();
/** telemetrygen comes from the same collector-contrib release as the collector. */
export const TELEMETRYGEN_VERSION = COLLECTOR_VERSION;

const noop = () => {};

/** `${OTELYTICS_CACHE:-$HOME/.cache/otelytics}` */
export function cacheRoot() {
  return process.env.OTELYTICS_CACHE || path.join(os.homedir(), '.cache', 'otelytics');
}

/**
 * The Go environment of every Go step: module and build caches inside the cache dir (so CI on the
 * same machine reuses them), `-mod=mod` so that a module graph is completed as it is built, and
 * the local toolchain only.
 */
export function goEnv(extra = {}) {
  const cache = cacheRoot();
  return {
    ...process.env,
    GOMODCACHE: path.join(cache, 'go', 'mod'),
    GOCACHE: path.join(cache, 'go', 'build'),
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    ...extra,
  };
}

function shortHash(...inputs) {
  const h = crypto.createHash('sha256');
  for (const i of inputs) h.update(i);
  return h.digest('hex').slice(0, 12);
}

/** Runs a command, output to `logFile`; rejects with the log's tail when it fails. */
function run(cmd, args, { env = process.env, cwd, logFile }) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    fs.writeSync(out, `\n$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', out, out] });
    child.on('error', (err) => {
      fs.closeSync(out);
      reject(new Error(`cannot run ${cmd}: ${err.message}${err.code === 'ENOENT' ? ` (is ${cmd} installed and on PATH?)` : ''}`));
    });
    child.on('exit', (code, signal) => {
      fs.closeSync(out);
      if (code === 0) return resolve();
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
      reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}); log: ${logFile}\n${tail}`));
    });
  });
}

/**
 * Builds `final` (a directory) with `build(tmpDir)` unless it exists: the build writes into a
 * private temporary directory that is renamed into place when complete, so concurrent callers
 * never see a half-built tool and the loser of a race simply uses the winner's result.
 */
async function buildOnce(final, build) {
  if (fs.existsSync(final)) return false;
  await fsp.mkdir(path.dirname(final), { recursive: true });
  const tmp = `${final}.partial-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  try {
    await build(tmp);
    try {
      await fsp.rename(tmp, final);
    } catch (err) {
      if (!fs.existsSync(final)) throw err;
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  return true;
}

// ---------------------------------------------------------------- python

/**
 * A virtual environment with the pinned OpenTelemetry Python SDK, OTLP exporters and structlog,
 * at `<cache>/python-otel-<hash of requirements.txt and python version>/`. Resolves with
 * `{ python, dir, installed }` (`installed` false when it was cached).
 */
export async function ensurePythonVenv({ log = noop } = {}) {
  const python = process.env.PYTHON || 'python3';
  const requirements = fs.readFileSync(PYTHON_REQUIREMENTS, 'utf8');
  const version = await capture(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
  const dir = path.join(cacheRoot(), `python-otel-py${version}-${shortHash(requirements)}`);
  const logFile = `${dir}.log`;
  const started = Date.now();
  const installed = await buildOnce(dir, async (tmp) => {
    log(`python: creating a virtual environment with ${path.relative(root, PYTHON_REQUIREMENTS)} in ${dir} ...`);
    await fsp.mkdir(path.dirname(logFile), { recursive: true });
    await run(python, ['-m', 'venv', tmp], { logFile });
    await run(path.join(tmp, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-q', '-r', PYTHON_REQUIREMENTS], { logFile });
  });
  if (installed) log(`python: ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return { python: path.join(dir, 'bin', 'python'), dir, installed };
}

function capture(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

// ---------------------------------------------------------------- telemetrygen

/** `telemetrygen` at `<cache>/telemetrygen-<version>/telemetrygen`; resolves with `{ bin, installed }`. */
export async function ensureTelemetrygen({ log = noop } = {}) {
  const dir = path.join(cacheRoot(), `telemetrygen-${TELEMETRYGEN_VERSION}`);
  const logFile = `${dir}.log`;
  const started = Date.now();
  const installed = await buildOnce(dir, async (tmp) => {
    log(`telemetrygen: go install ...@v${TELEMETRYGEN_VERSION} into ${dir} ...`);
    await fsp.mkdir(tmp, { recursive: true });
    await run('go', ['install', `github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v${TELEMETRYGEN_VERSION}`], { env: goEnv({ GOBIN: tmp }), logFile });
  });
  if (installed) log(`telemetrygen: ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return { bin: path.join(dir, 'telemetrygen'), installed };
}

// ---------------------------------------------------------------- collector

/** The collector builder (`ocb`) of the pinned release, at `<cache>/go/bin/builder-v<version>/builder`. */
async function ensureBuilder({ log }) {
  const dir = path.join(cacheRoot(), 'go', 'bin', `builder-v${COLLECTOR_VERSION}`);
  await buildOnce(dir, async (tmp) => {
    log(`collector: go install go.opentelemetry.io/collector/cmd/builder@v${COLLECTOR_VERSION} ...`);
    await fsp.mkdir(tmp, { recursive: true });
    await run('go', ['install', `go.opentelemetry.io/collector/cmd/builder@v${COLLECTOR_VERSION}`], { env: goEnv({ GOBIN: tmp }), logFile: `${dir}.log` });
  });
  return path.join(dir, 'builder');
}

/**
 * The `go.mod` of the generated distribution: what the builder's own template holds (every
 * `gomod` of the manifest, the telemetry module and `otelcol` of the pinned release), written by
 * this script because the builder writes it only in its get-modules step, which is skipped.
 */
export function distributionGoMod(manifest) {
  const module = /^[ \t]+module:\s*"?([^\s"]+)"?/m.exec(manifest)?.[1] ?? 'example.com/otelcol';
  const requires = [...manifest.matchAll(/gomod:\s*"?([^\s"]+)\s+(v[^\s"]+)"?/g)].map((m) => `${m[1]} ${m[2]}`);
  if (!/^telemetry:/m.test(manifest)) requires.push(`go.opentelemetry.io/collector/service v${COLLECTOR_VERSION}`);
  requires.push(`go.opentelemetry.io/collector/otelcol v${COLLECTOR_VERSION}`);
  return `module ${module}\n\ngo 1.25\n\nrequire (\n${requires.map((r) => `\t${r}\n`).join('')})\n`;
}

/**
 * The OpenTelemetry Collector built from the manifest, at
 * `<cache>/otelcol-<version>-<hash of the manifest>/otelcol-otelytics` (a changed manifest builds
 * anew). The builder generates the sources (`--skip-get-modules --skip-compilation`); this script
 * writes their go.mod and compiles them with the builder's flags (`go build -trimpath
 * -ldflags="-s -w"`, CGO off). The builder's get-modules step is skipped because its
 * `go mod tidy` also fetches the test-only dependencies of every component, some of which the
 * module proxy does not serve; `-mod=mod` lets `go build` complete the module graph from what is
 * actually compiled. Resolves with `{ bin, installed, seconds }`.
 */
export async function ensureCollector({ log = noop } = {}) {
  const manifest = fs.readFileSync(MANIFEST, 'utf8');
  const name = /^[ \t]+name:\s*"?([\w.-]+)"?/m.exec(manifest)?.[1] ?? 'otelcol';
  const dir = path.join(cacheRoot(), `otelcol-${COLLECTOR_VERSION}-${shortHash(manifest)}`);
  const logFile = `${dir}.log`;
  const started = Date.now();
  const installed = await buildOnce(dir, async (tmp) => {
    const builder = await ensureBuilder({ log });
    log(`collector: building ${name} ${COLLECTOR_VERSION} from ${path.relative(root, MANIFEST)} into ${dir} (takes several minutes the first time) ...`);
    const src = path.join(tmp, 'src');
    await fsp.mkdir(tmp, { recursive: true });
    await run(builder, [`--config=${MANIFEST}`, `--output-path=${src}`, '--skip-get-modules', '--skip-compilation'], { env: goEnv(), logFile });
    await fsp.writeFile(path.join(src, 'go.mod'), distributionGoMod(manifest));
    await run('go', ['build', '-trimpath', '-o', path.join(tmp, name), '-ldflags=-s -w', '.'], { env: goEnv(), cwd: src, logFile });
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (installed) log(`collector: built in ${seconds} s`);
  return { bin: path.join(dir, name), installed, seconds };
}

// ---------------------------------------------------------------- CLI

/** `NAME=value` for a shell's `eval "export $(...)"`: the value quoted when it has characters a shell would read. */
function assignment(name, value) {
  return `${name}=${/^[\w./:@%+,=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`}\n`;
}

async function main(argv) {
  const quiet = argv.includes('--quiet');
  const what = argv.filter((a) => !a.startsWith('--'));
  const log = quiet ? noop : (m) => process.stderr.write(`${m}\n`);
  const targets = what.length === 0 || what.includes('all') ? ['python', 'telemetrygen', 'collector'] : what;
  for (const t of targets) {
    if (t === 'python') process.stdout.write(assignment('OTEL_PYTHON', (await ensurePythonVenv({ log })).python));
    else if (t === 'telemetrygen') process.stdout.write(assignment('TELEMETRYGEN', (await ensureTelemetrygen({ log })).bin));
    else if (t === 'collector') {
      const c = await ensureCollector({ log });
      if (!quiet) log(`collector: ${c.bin} (${(fs.statSync(c.bin).size / 1024 / 1024).toFixed(1)} MiB)`);
      process.stdout.write(assignment('OTELCOL', c.bin));
    } else {
      process.stderr.write(`unknown tool "${t}"; use python, telemetrygen, collector or all\n`);
      process.exitCode = 2;
      return;
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  });
}
