/** Shared test helpers: paths, fixtures, free ports. */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import zlib from 'node:zlib';
import fs from 'node:fs';
import type http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const compiledTestDir = path.dirname(fileURLToPath(import.meta.url));

/** The project's root (tests run compiled, from `<outDir>/test/...`). */
export const projectRoot = path.resolve(compiledTestDir, '..', '..');

/**
 * `test/captures/otlp`: real request bodies of the OpenTelemetry SDKs (JS, Python, Java, Go) and of
 * an OpenTelemetry Collector, recorded by `scripts/interop/capture.mjs`, with a `manifest.json`.
 */
export const fixturesDir = path.join(projectRoot, 'test', 'captures', 'otlp');

export interface FixtureFile {
  path: string;
  /** The SDK that sent it (`js`, `python`, `java`, `go`), or `collector` for a re-encoding. */
  source: string;
  /** For a collector re-encoding: the SDK body it re-encodes. */
  replayOf?: string;
  /** The request these bytes carry: every capture is there in all four encodings, with the same data. */
  capture: string;
  /** The capture's number within its SDK and signal (1, 2, ...). */
  batch: number;
  signal: 'traces' | 'logs';
  otlpPath: string;
  contentType: string;
  contentEncoding: string;
  bytes: number;
  uncompressedBytes: number;
  userAgent: string;
  spanCount?: number;
  logCount?: number;
  eventNames?: string[];
  resourceCount: number;
  services: string[];
  traceIdCount: number;
}

/** Every capture: the JS SDK's shop session, the Python, Java and Go SDKs', and the collector's re-encodings. */
export function captureManifest(): FixtureFile[] {
  return JSON.parse(fs.readFileSync(path.join(fixturesDir, 'manifest.json'), 'utf8')).files;
}

/**
 * The shop fixtures: the JS SDK shop's session (`scripts/interop/js/shop.mjs`), two traces and two
 * logs requests, each as protobuf and JSON, plain and gzip.
 */
export function fixtureManifest(): FixtureFile[] {
  return captureManifest().filter((f) => f.source === 'js');
}

export function readFixture(name: string): Buffer {
  return fs.readFileSync(path.join(fixturesDir, name));
}

/** Ports handed out by {@link freePort} in this process. */
const handedOut = new Set<number>();

/**
 * A free localhost port, never one this process was given before: the kernel may hand the same
 * port to two probes in a row once the first is closed, and a gateway given one port twice fails.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** A gateway run as a user runs it: `node dist/src/cli.js --config ... --set ...`. */
export interface RunningGateway {
  child: ChildProcess;
  ports: { http: number; grpc: number; health: number; metrics: number; status: number };
  dir: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** What the health check answered while the gateway was starting (0: nothing listening yet). */
  healthWhileStarting: number[];
}

/** The compiled CLI beside the compiled tests. */
export const cliPath = path.join(compiledTestDir, '..', 'src', 'cli.js');

/**
 * Starts the CLI on `configs` (default config.example.yaml) with free ports set for the `otlp`
 * receiver, `health_check`, the status page and the metrics endpoint, in `dir` (its working
 * directory; default a new temporary one), and waits until its health check answers 200.
 * `workers` sets `service::workers`: 1 unless given (one process, whatever the machine's CPUs).
 */
export async function startGateway(opts: { configs?: string[]; sets?: string[]; env?: NodeJS.ProcessEnv; filePath?: (dir: string) => string; dir?: string; workers?: number } = {}): Promise<RunningGateway> {
  const ports = { http: await freePort(), grpc: await freePort(), health: await freePort(), metrics: await freePort(), status: await freePort() };
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-test-'));
  const configs = opts.configs ?? [path.join(projectRoot, 'config.example.yaml')];
  const sets = [
    `receivers::otlp::protocols::http::endpoint=127.0.0.1:${ports.http}`,
    `receivers::otlp::protocols::grpc::endpoint=127.0.0.1:${ports.grpc}`,
    `extensions::health_check::endpoint=127.0.0.1:${ports.health}`,
    `service::telemetry::metrics::address=127.0.0.1:${ports.metrics}`,
    `extensions::status::endpoint=127.0.0.1:${ports.status}`,
    `service::workers=${opts.workers ?? 1}`,
    ...(opts.sets ?? [`exporters::file::path=${path.join(dir, 'events.jsonl')}`, 'exporters::debug::verbosity=basic']),
  ];
  const args = [cliPath, ...configs.flatMap((c) => ['--config', c]), ...sets.flatMap((s) => ['--set', s])];
  const child = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A failed test must not leave its gateway running, nor be kept alive by it.
  const reap = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const deadline = Date.now() + 30_000;
  const healthWhileStarting: number[] = [];
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${ports.health}/`);
      await r.arrayBuffer();
      healthWhileStarting.push(r.status);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
      healthWhileStarting.push(0);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway not healthy within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    ports,
    dir,
    healthWhileStarting,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Reads a JSON Lines file (missing file: no lines). */
export function readJsonLines<T = Record<string, unknown>>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** A fixture body as the manifest describes it, decompressed. */
export function fixtureBodyPlain(f: FixtureFile): Buffer {
  const b = readFixture(f.path);
  return f.contentEncoding === 'gzip' ? zlib.gunzipSync(b) : b;
}

/** Posts a fixture to an OTLP/HTTP endpoint with its own content type and encoding. */
export async function postFixture(port: number, f: FixtureFile): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': f.contentType };
  if (f.contentEncoding !== 'identity') headers['content-encoding'] = f.contentEncoding;
  return fetch(`http://127.0.0.1:${port}${f.otlpPath}`, { method: 'POST', headers, body: readFixture(f.path) });
}

/** What {@link sendRaw} saw: the bytes that came back, a socket error if any, and how long until the server closed. */
export interface RawExchange {
  response: string;
  error: string | undefined;
  millis: number;
}

/**
 * Sends `first` over a raw TCP connection, then, like a client still writing its request, `more`
 * every 5 ms, `times` times, whatever the server answers meanwhile, then ends its side; resolves
 * once the connection is closed. What the server does with bytes it did not read shows: a reset
 * is `error` (`ECONNRESET`, `EPIPE`).
 */
export function sendRaw(port: number, first: string | Buffer, more: string | Buffer = '', times = 0): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const timer = setTimeout(() => (sock.destroy(), reject(new Error('the server kept the connection open for 10 s'))), 10_000);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ response: Buffer.concat(chunks).toString('latin1'), error, millis: Date.now() - t0 });
    });
    sock.write(first);
    void (async () => {
      for (let i = 0; i < times && !sock.destroyed; i++) {
        await new Promise((r) => setTimeout(r, 5));
        if (!sock.destroyed && sock.writable) sock.write(more);
      }
      if (!sock.destroyed) sock.end();
    })();
  });
}

/**
 * One unary gRPC call over `session` with a hand-made Length-Prefixed-Message (gRPC over HTTP/2):
 * the Compressed-Flag `flag`, the length of `body`, then `body`, with `headers` added to the
 * request's; resolves with the `grpc-status` and `grpc-message` answered (in trailers, or in a
 * trailers-only answer), `-1` when there was none.
 */
export function grpcRawCall(session: http2.ClientHttp2Session, path: string, flag: number, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let status = -1;
    let message = '';
    const read = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) {
        status = Number(h['grpc-status']);
        message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    req.on('response', read);
    req.on('trailers', read);
    req.on('error', reject);
    req.on('close', () => resolve({ status, message }));
    req.resume();
    const prefix = Buffer.alloc(5);
    prefix[0] = flag;
    prefix.writeUInt32BE(body.length, 1);
    req.end(Buffer.concat([prefix, body]));
  });
}

/** V8's garbage-collect function, exposed at run time (no `--expose-gc` needed on the command line). */
export function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
