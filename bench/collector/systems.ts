/**
 * The two systems under test of the side-by-side benchmark, started the same way: pinned to CPU 1
 * with taskset (this load generator to CPU 0), ready once an empty OTLP/HTTP export answers 200,
 * and stopped with SIGTERM (SIGKILL after 5 s); with `cpus` `0,1` pinned to both cores, shared with the
 * load generator (the collector with GOMAXPROCS=2, otelytics with `workers`). Process figures come
 * from /proc, summed over the process and its children (a gateway's workers): CPU time
 * (utime + stime of all threads, /proc/<pid>/stat fields 14 and 15, in clock ticks) and peak
 * resident set size (VmHWM in /proc/<pid>/status).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { hasTaskset } from '../harness.js';
import { GATEWAY_NODE_OPTIONS } from '../../src/workers.js';
import { cliPath, freePort, projectRoot } from '../../test/helpers.js';

export interface SystemUnderTest {
  /** `collector` or `otelytics`. */
  name: string;
  pid: number;
  /** host:port of the OTLP/HTTP receiver. */
  endpoint: string;
  port: number;
  /** Port of the Prometheus metrics (otelytics only). */
  metricsPort?: number;
  stop(): Promise<void>;
}

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 when unknown). */
export const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces); [1] is the parent pid. */
function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Pids of the processes whose parent is `pid` (the workers of a gateway of several). */
export function childPids(pid: number): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(Number(name))[1]) === pid) found.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return found;
}

/** CPU seconds (user + system, all threads) the process and its child processes (workers) have used so far. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...childPids(pid)]) {
    try {
      const fields = statFields(p);
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      /* gone */
    }
  }
  return ticks / clockTicks;
}

/** Peak resident set size (VmHWM) in MiB, summed over the process and its child processes (workers). */
export function peakRssMiB(pid: number): number {
  let kib = 0;
  for (const p of [pid, ...childPids(pid)]) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return kib > 0 ? kib / 1024 : NaN;
}

/** The CPUs the system under test is pinned to: `1` (one core, the load generator on CPU 0), or `0,1` (two cores, shared with it). */
export type Cpus = '1' | string;

/** The collector binary's version, from `--version` (e.g. `0.155.0`). */
export function collectorVersion(bin: string): string {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  return /version\s+(\S+)/.exec(out)?.[1] ?? out.trim();
}

function postEmpty(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-length': 0 } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => req.destroy());
    req.end();
  });
}

async function launch(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, port: number, pin = hasTaskset, cpus: Cpus = '1'): Promise<SystemUnderTest> {
  // On one core, the load generator keeps to CPU 0; on several, it shares them with the system.
  if (pin) execFileSync('taskset', ['-a', '-cp', cpus === '1' ? '0' : cpus, String(process.pid)], { stdio: 'ignore' });
  // taskset execs the command, so the child's pid is the system's own pid.
  const child: ChildProcess = pin ? spawn('taskset', ['-c', cpus, cmd, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] }) : spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  for (let i = 0; ; i++) {
    if ((await postEmpty(port)) === 200) break;
    if (i > 200 || child.exitCode !== null) {
      await stop();
      throw new Error(`${name} did not start (exit code ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, pid: child.pid!, endpoint: `127.0.0.1:${port}`, port, stop };
}

/** The collector on `bench/collector/<config>`; `env` fills its `${env:...}` references. */
export async function startCollector(bin: string, config: string, env: Record<string, string> = {}, cpus: Cpus = '1'): Promise<SystemUnderTest> {
  const port = await freePort();
  const gomaxprocs = String(cpus.split(',').length);
  return launch('collector', bin, ['--config', path.join(projectRoot, 'bench', 'collector', config)], { ...process.env, GOMAXPROCS: gomaxprocs, ...env, BENCH_OTLP_HTTP: `127.0.0.1:${port}` }, port, hasTaskset, cpus);
}

/**
 * The otelytics CLI (this build) on `config` (a path) with `--set` overrides. `example`: the config
 * is config.example.yaml, whose listeners (OTLP/HTTP and gRPC, health check, status page, metrics)
 * are moved to free ports; other configs take them from BENCH_OTLP_HTTP, BENCH_HEALTH and
 * BENCH_METRICS; `env` fills other `${env:...}` references. `pin`: pin it to CPU 1 and this process
 * to CPU 0 (default: when taskset exists).
 */
export async function startOtelytics(config: string, sets: readonly string[], example: boolean, env: Record<string, string> = {}, pin = hasTaskset, cpus: Cpus = '1', workers = 1): Promise<SystemUnderTest> {
  const port = await freePort();
  const health = `127.0.0.1:${await freePort()}`;
  const metrics = `127.0.0.1:${await freePort()}`;
  const portSets = example
    ? [
        `receivers::otlp::protocols::http::endpoint=127.0.0.1:${port}`,
        `receivers::otlp::protocols::grpc::endpoint=127.0.0.1:${await freePort()}`,
        `extensions::health_check::endpoint=${health}`,
        `service::telemetry::metrics::address=${metrics}`,
        `extensions::status::endpoint=127.0.0.1:${await freePort()}`,
      ]
    : [];
  const args = [...GATEWAY_NODE_OPTIONS, cliPath, '--config', config, ...[...portSets, `service::workers=${workers}`, ...sets].flatMap((s) => ['--set', s])];
  const sut = await launch('otelytics', process.execPath, args, { ...process.env, ...env, BENCH_OTLP_HTTP: `127.0.0.1:${port}`, BENCH_HEALTH: health, BENCH_METRICS: metrics }, port, pin, cpus);
  return { ...sut, metricsPort: Number(metrics.split(':')[1]) };
}

/**
 * The collector like startCollector, with its own metrics (level `basic`, Prometheus pulled from
 * 127.0.0.1:`metricsPort`) switched on by a second `--config yaml:...` merged over `config`, so that
 * what it accepted, refused and failed to export can be read (`otelcol_receiver_accepted_spans`,
 * ...). The port is also in BENCH_METRICS_PORT, for configs that set up the reader themselves.
 */
export async function startCollectorWithMetrics(bin: string, config: string, env: Record<string, string> = {}): Promise<SystemUnderTest> {
  const port = await freePort();
  const metricsPort = await freePort();
  const metrics = `yaml:service::telemetry::metrics: {level: basic, readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: ${metricsPort}}}}}]}`;
  const args = ['--config', path.join(projectRoot, 'bench', 'collector', config), '--config', metrics];
  const sut = await launch('collector', bin, args, { ...process.env, ...env, BENCH_OTLP_HTTP: `127.0.0.1:${port}`, BENCH_METRICS_PORT: String(metricsPort) }, port);
  return { ...sut, metricsPort };
}
