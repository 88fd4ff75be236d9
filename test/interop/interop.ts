/**
 * Helpers of the interop tests: the tools installed by scripts/interop/tools.mjs (Python SDK venv,
 * telemetrygen, an OpenTelemetry Collector, the Java and Go SDK shops), child processes with bounded run times, gateway
 * configs and its Prometheus counters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, projectRoot } from '../helpers.js';

interface Tools {
  ensurePythonVenv(opts?: { log?: (m: string) => void }): Promise<{ python: string; dir: string; installed: boolean }>;
  ensureTelemetrygen(opts?: { log?: (m: string) => void }): Promise<{ bin: string; installed: boolean }>;
  ensureCollector(opts?: { log?: (m: string) => void }): Promise<{ bin: string; installed: boolean; seconds: number }>;
  ensureJavaShop(opts?: { log?: (m: string) => void }): Promise<{ java: string; args: string[]; installed: boolean }>;
  ensureGoShop(opts?: { log?: (m: string) => void }): Promise<{ bin: string; installed: boolean }>;
  COLLECTOR_VERSION: string;
}

/** scripts/interop/tools.mjs (resolved from the project root: tests run compiled, from dist*). */
export async function tools(): Promise<Tools> {
  return (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'interop', 'tools.mjs')).href)) as Tools;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after `timeoutMs`), capturing its output. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Waits until `check` returns a value other than undefined (polling every 100 ms), or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes a config file into `dir` and returns its path. */
export function writeConfig(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/**
 * The sum of a Prometheus counter's samples whose labels include `labels`, from the gateway's
 * `/metrics` (0 when absent).
 */
export async function metric(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** A running OpenTelemetry Collector. */
export interface RunningCollector {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts the collector binary with a config, and resolves once its receiver listens on `readyPort`. */
export async function startCollector(bin: string, configFile: string, readyPort: number, timeoutMs = 30_000): Promise<RunningCollector> {
  const child = spawn(bin, ['--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(
      'the collector to listen',
      async () => {
        if (child.exitCode !== null) throw new Error(`collector exited with ${child.exitCode}:\n${out}`);
        return (await listening(readyPort)) ? true : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Free ports for a component with gRPC and HTTP listeners. */
export async function otlpPorts(): Promise<{ grpc: number; http: number }> {
  return { grpc: await freePort(), http: await freePort() };
}

/**
 * A gateway config (YAML) with an `otlp` receiver on both protocols, the health_check extension
 * and the given exporters and pipelines; startGateway() sets the endpoints and ports.
 */
export function gatewayConfig(parts: { processors?: string; exporters: string; pipelines: string }): string {
  return `receivers:
  otlp:
    protocols:
      grpc:
      http:
${parts.processors ? `processors:\n${parts.processors}\n` : ''}exporters:
${parts.exporters}
extensions:
  health_check:
service:
  extensions: [health_check]
  pipelines:
${parts.pipelines}
  telemetry:
    logs:
      level: warn
`;
}

/** {@link gatewayConfig} with one `events` pipeline: otlp → analytics (no rules) → `dir`/events.jsonl. */
export function eventsToFileConfig(dir: string): string {
  return gatewayConfig({
    processors: '  analytics:',
    exporters: `  file/events: { path: ${dir}/events.jsonl }`,
    pipelines: '    events: { receivers: [otlp], processors: [analytics], exporters: [file/events] }',
  });
}
