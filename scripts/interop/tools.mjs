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
//   java-shop     scripts/interop/java, the shop's checkout service on the OpenTelemetry Java SDK,
//                 built with Maven (Maven Central) for scripts/interop/capture.mjs
//   go-shop       scripts/interop/go, the shop's search service on the OpenTelemetry Go SDK, built
//                 with `go build` (Go module proxy) for scripts/interop/capture.mjs
//
// CLI:     node scripts/interop/tools.mjs python|telemetrygen|collector|java-shop|go-shop|all [--quiet]
//          prints NAME=/path lines on stdout (progress on stderr); work already cached is skipped.
//
// Each install says what it fetches or builds, why, where and about how long before it starts,
// and how long it took and how big it is when done (scripts/installs.mjs; `npm test` sums them up).
// Go builds use a module and build cache of their own that is removed when the build is done:
// only the binaries stay.
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
import { announce, dirBytes, formatBytes, installed as recordInstalled } from '../installs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** The collector builder manifest. */
export const MANIFEST = path.join(root, 'scripts', 'collector', 'builder-config.yaml');
/** The Java SDK shop (Maven project) and the Go SDK shop (Go module) that capture.mjs runs. */
export const JAVA_SHOP = path.join(root, 'scripts', 'interop', 'java');
export const GO_SHOP = path.join(root, 'scripts', 'interop', 'go');
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
 * The Go environment of a Go step: module and build caches in `caches` (a directory of the build's
 * own, removed afterwards; default `<cache>/go`), `-mod=mod` so that a module graph is completed as
 * it is built, the local toolchain only, and no cgo.
 */
export function goEnv(extra = {}, caches = path.join(cacheRoot(), 'go')) {
  return {
    ...process.env,
    GOMODCACHE: path.join(caches, 'mod'),
    GOCACHE: path.join(caches, 'build'),
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    ...extra,
  };
}

/**
 * Runs `fn(env, dir)` with a Go module and build cache of its own under the cache root, then
 * removes both (`go clean -modcache` first: the module cache is read-only). Resolves with what `fn`
 * resolved and `cacheBytes`, how much the caches held when the build was done.
 */
async function withPrivateGoCaches(fn) {
  await fsp.mkdir(cacheRoot(), { recursive: true });
  const dir = await fsp.mkdtemp(path.join(cacheRoot(), '.go-build-'));
  const env = goEnv({}, dir);
  let cacheBytes = 0;
  try {
    const value = await fn(env, dir);
    cacheBytes = dirBytes(dir);
    return { value, cacheBytes };
  } finally {
    await new Promise((resolve) => spawn('go', ['clean', '-modcache'], { env, stdio: 'ignore' }).on('exit', resolve).on('error', resolve));
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

function shortHash(...inputs) {
  const h = crypto.createHash('sha256');
  for (const i of inputs) h.update(i);
  return h.digest('hex').slice(0, 12);
}

/** A hash of every file under `dir` (relative paths and contents), to key a build of its sources. */
function treeHash(dir) {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk(dir);
  return shortHash(...files.flatMap((f) => [path.relative(dir, f), '\0', fs.readFileSync(f), '\0']));
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
    announce({ what: `the OpenTelemetry Python SDK and structlog (a venv with ${path.relative(root, PYTHON_REQUIREMENTS)}, pip)`, why: 'the Python example and its tests', where: dir, eta: 'under a minute' });
    await fsp.mkdir(path.dirname(logFile), { recursive: true });
    await run(python, ['-m', 'venv', tmp], { logFile });
    // No pip cache: the venv is the only copy kept.
    await run(path.join(tmp, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--no-cache-dir', '-q', '-r', PYTHON_REQUIREMENTS], { logFile });
  });
  if (installed) recordInstalled({ what: 'Python venv (OpenTelemetry SDK, structlog)', where: dir, seconds: (Date.now() - started) / 1000 });
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

function telemetrygenDir() {
  return path.join(cacheRoot(), `telemetrygen-${TELEMETRYGEN_VERSION}`);
}

/** `go install`s telemetrygen into `tmp` with the Go environment `env`. */
async function buildTelemetrygen(tmp, env, logFile) {
  await fsp.mkdir(tmp, { recursive: true });
  await run('go', ['install', `github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v${TELEMETRYGEN_VERSION}`], { env: { ...env, GOBIN: tmp }, logFile });
}

/**
 * `telemetrygen` at `<cache>/telemetrygen-<version>/telemetrygen`; resolves with `{ bin, installed }`.
 * The collector's build makes it too (same modules), so this builds only when that did not run.
 */
export async function ensureTelemetrygen({ log = noop } = {}) {
  const dir = telemetrygenDir();
  const logFile = `${dir}.log`;
  const started = Date.now();
  let cacheBytes = 0;
  const installed = await buildOnce(dir, async (tmp) => {
    announce({ what: `telemetrygen ${TELEMETRYGEN_VERSION} (Go, from the module proxy)`, why: 'the telemetrygen interop test and the benchmarks', where: dir, eta: 'about 3 minutes on 2 cores' });
    log(`telemetrygen: go install ...@v${TELEMETRYGEN_VERSION} into ${dir} ...`);
    ({ cacheBytes } = await withPrivateGoCaches((env) => buildTelemetrygen(tmp, env, logFile)));
  });
  if (installed) recordInstalled({ what: `telemetrygen ${TELEMETRYGEN_VERSION}`, where: dir, seconds: (Date.now() - started) / 1000, note: `Go's module and build caches of the build (${formatBytes(cacheBytes)}) removed` });
  return { bin: path.join(dir, 'telemetrygen'), installed };
}

// ---------------------------------------------------------------- collector

/** The collector builder (`ocb`) of the pinned release, `go install`ed into `dir` with `env`. */
async function installBuilder(dir, env, logFile) {
  await run('go', ['install', `go.opentelemetry.io/collector/cmd/builder@v${COLLECTOR_VERSION}`], { env: { ...env, GOBIN: dir }, logFile });
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
 * actually compiled. telemetrygen of the same release is built in the same go (it shares most
 * modules) unless it is there. The builder and Go's caches live in a directory of the build's own
 * that is removed afterwards. Resolves with `{ bin, installed, seconds }`.
 */
export async function ensureCollector({ log = noop } = {}) {
  const manifest = fs.readFileSync(MANIFEST, 'utf8');
  const name = /^[ \t]+name:\s*"?([\w.-]+)"?/m.exec(manifest)?.[1] ?? 'otelcol';
  const dir = path.join(cacheRoot(), `otelcol-${COLLECTOR_VERSION}-${shortHash(manifest)}`);
  const logFile = `${dir}.log`;
  const started = Date.now();
  let cacheBytes = 0;
  let withTelemetrygen = false;
  let telemetrygenSeconds = 0;
  const installed = await buildOnce(dir, async (tmp) => {
    withTelemetrygen = !fs.existsSync(telemetrygenDir());
    announce({
      what: `an OpenTelemetry Collector ${COLLECTOR_VERSION}${withTelemetrygen ? ' and telemetrygen' : ''} (Go, from the module proxy, by the collector builder)`,
      why: 'the interop tests and the benchmark comparison',
      where: dir,
      eta: 'about 5 minutes on 2 cores: Go fetches some 500 MB of modules and compiles them',
    });
    log(`collector: building ${name} ${COLLECTOR_VERSION} from ${path.relative(root, MANIFEST)} into ${dir} ...`);
    ({ cacheBytes } = await withPrivateGoCaches(async (env, caches) => {
      const builder = await installBuilder(path.join(caches, 'bin'), env, logFile);
      const src = path.join(caches, 'src');
      await fsp.mkdir(tmp, { recursive: true });
      await run(builder, [`--config=${MANIFEST}`, `--output-path=${src}`, '--skip-get-modules', '--skip-compilation'], { env, logFile });
      await fsp.writeFile(path.join(src, 'go.mod'), distributionGoMod(manifest));
      await run('go', ['build', '-trimpath', '-o', path.join(tmp, name), '-ldflags=-s -w', '.'], { env, cwd: src, logFile });
      if (withTelemetrygen) {
        const t0 = Date.now();
        await buildOnce(telemetrygenDir(), (tgTmp) => buildTelemetrygen(tgTmp, env, `${telemetrygenDir()}.log`));
        telemetrygenSeconds = (Date.now() - t0) / 1000;
        recordInstalled({ what: `telemetrygen ${TELEMETRYGEN_VERSION}`, where: telemetrygenDir(), seconds: telemetrygenSeconds, note: 'built with the collector, from its modules' });
      }
    }));
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (installed) {
    recordInstalled({ what: `OpenTelemetry Collector ${COLLECTOR_VERSION}`, where: dir, seconds: seconds - telemetrygenSeconds, note: `Go's module and build caches of the build (${formatBytes(cacheBytes)}) removed` });
    log(`collector: built in ${seconds} s`);
  }
  return { bin: path.join(dir, name), installed, seconds };
}

// ---------------------------------------------------------------- SDK shops

/**
 * The Java SDK shop built with Maven from scripts/interop/java, at `<cache>/java-shop-<hash of its
 * sources>/`: `mvn package` writes its classes, jar and runtime jars (lib/) there, never into the
 * checkout (the pom's build directory is `otelytics.build.dir`). Dependencies come from Maven
 * Central through the user's local repository. Resolves with `{ java, args, installed }`: run
 * `java ...args <OTLP endpoint>`.
 */
export async function ensureJavaShop({ log = noop } = {}) {
  const dir = path.join(cacheRoot(), `java-shop-${treeHash(JAVA_SHOP)}`);
  const logFile = `${dir}.log`;
  const started = Date.now();
  const mvn = process.env.MVN || 'mvn';
  const installed = await buildOnce(dir, async (tmp) => {
    announce({ what: 'the Java SDK shop (Maven, the OpenTelemetry Java SDK from Maven Central)', why: 'the Java captures and the test that they are sent again', where: dir, eta: 'about a minute' });
    log(`java-shop: mvn package of ${path.relative(root, JAVA_SHOP)} into ${dir} ...`);
    await fsp.mkdir(path.dirname(logFile), { recursive: true });
    await run(mvn, ['-q', '-B', '-f', path.join(JAVA_SHOP, 'pom.xml'), 'package', `-Dotelytics.build.dir=${tmp}`], { logFile });
  });
  if (installed) {
    const seconds = Math.round((Date.now() - started) / 1000);
    recordInstalled({ what: 'the Java SDK shop', where: dir, seconds, note: "its Maven dependencies are also in Maven's own ~/.m2" });
    log(`java-shop: built in ${seconds} s`);
  }
  const jar = fs.readdirSync(dir).find((f) => f.endsWith('.jar'));
  if (!jar) throw new Error(`no jar in ${dir}; remove it and build again`);
  const java = process.env.JAVA || (process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java');
  return { java, args: ['-cp', [path.join(dir, jar), path.join(dir, 'lib', '*')].join(path.delimiter), 'dev.otelytics.interop.Shop'], installed };
}

/**
 * The Go SDK shop built from scripts/interop/go (its go.mod and go.sum pin the SDK), at
 * `<cache>/go-shop-<hash of its sources>/shop`, with the Go environment of every Go step.
 * Resolves with `{ bin, installed }`: run `bin <OTLP endpoint>`.
 */
export async function ensureGoShop({ log = noop } = {}) {
  const dir = path.join(cacheRoot(), `go-shop-${treeHash(GO_SHOP)}`);
  const logFile = `${dir}.log`;
  const started = Date.now();
  let cacheBytes = 0;
  const installed = await buildOnce(dir, async (tmp) => {
    announce({ what: 'the Go SDK shop (go build, the OpenTelemetry Go SDK from the module proxy)', why: 'the Go captures and the test that they are sent again', where: dir, eta: 'about a minute' });
    log(`go-shop: go build of ${path.relative(root, GO_SHOP)} into ${dir} ...`);
    await fsp.mkdir(tmp, { recursive: true });
    ({ cacheBytes } = await withPrivateGoCaches((env) => run('go', ['build', '-trimpath', '-o', path.join(tmp, 'shop'), '.'], { env: { ...env, GOFLAGS: '-mod=readonly' }, cwd: GO_SHOP, logFile })));
  });
  if (installed) {
    const seconds = Math.round((Date.now() - started) / 1000);
    recordInstalled({ what: 'the Go SDK shop', where: dir, seconds, note: `Go's module and build caches of the build (${formatBytes(cacheBytes)}) removed` });
    log(`go-shop: built in ${seconds} s`);
  }
  return { bin: path.join(dir, 'shop'), installed };
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
  // The collector before telemetrygen: its build makes telemetrygen too, from the same modules.
  const targets = what.length === 0 || what.includes('all') ? ['python', 'collector', 'telemetrygen', 'java-shop', 'go-shop'] : what;
  for (const t of targets) {
    if (t === 'python') process.stdout.write(assignment('OTEL_PYTHON', (await ensurePythonVenv({ log })).python));
    else if (t === 'telemetrygen') process.stdout.write(assignment('TELEMETRYGEN', (await ensureTelemetrygen({ log })).bin));
    else if (t === 'collector') {
      const c = await ensureCollector({ log });
      if (!quiet) log(`collector: ${c.bin} (${(fs.statSync(c.bin).size / 1024 / 1024).toFixed(1)} MiB)`);
      process.stdout.write(assignment('OTELCOL', c.bin));
    } else if (t === 'java-shop') {
      const j = await ensureJavaShop({ log });
      process.stdout.write(assignment('JAVA_SHOP', [j.java, ...j.args].join(' ')));
    } else if (t === 'go-shop') process.stdout.write(assignment('GO_SHOP', (await ensureGoShop({ log })).bin));
    else {
      process.stderr.write(`unknown tool "${t}"; use python, telemetrygen, collector, java-shop, go-shop or all\n`);
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
