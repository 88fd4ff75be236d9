/**
 * What the end-to-end benchmarks share: starting the real CLI on config.example.yaml pinned to
 * one core, Prometheus metric reads, percentiles (the OTLP/HTTP sender is bench/sender.ts).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { cliPath, freePort, projectRoot } from '../test/helpers.js';
import { GATEWAY_NODE_OPTIONS } from '../src/workers.js';

/** Whether `taskset` can pin processes (gateway on CPU 1, load generator on CPU 0). */
export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;

export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/** Sum of a Prometheus metric's samples (all label sets), or of one sample when `name` includes its labels (`name{a="b"}`). */
export async function metricValue(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + (name.endsWith('}') ? ' ' : '{')) || l.startsWith(name + ' '))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

export interface BenchGateway {
  child: ChildProcess;
  ports: { http: number; grpc: number; health: number; metrics: number; status: number };
  stop(): Promise<void>;
}

/**
 * Runs the CLI on config.example.yaml with free ports and `sets` applied, pinned to CPU 1 (and
 * this process to CPU 0) when taskset exists; resolves once it is healthy.
 */
export async function startBenchGateway(sets: readonly string[]): Promise<BenchGateway> {
  const ports = { http: await freePort(), grpc: await freePort(), health: await freePort(), metrics: await freePort(), status: await freePort() };
  const all = [
    `receivers::otlp::protocols::http::endpoint=127.0.0.1:${ports.http}`,
    `receivers::otlp::protocols::grpc::endpoint=127.0.0.1:${ports.grpc}`,
    `extensions::health_check::endpoint=127.0.0.1:${ports.health}`,
    `service::telemetry::metrics::address=127.0.0.1:${ports.metrics}`,
    `extensions::status::endpoint=127.0.0.1:${ports.status}`,
    // One process on its one core, whatever the machine has.
    'service::workers=1',
    ...sets,
  ];
  // The gateway's node options, as `npm start` and the image run it (workers get them from the supervisor).
  const args = [...GATEWAY_NODE_OPTIONS, cliPath, '--config', path.join(projectRoot, 'config.example.yaml'), ...all.flatMap((s) => ['--set', s])];
  if (hasTaskset) execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
  // A key of its own, so the example's development key (and its warning) stays out of the figures.
  const env = { ...process.env, OTELYTICS_PSEUDONYM_KEY: randomBytes(32).toString('base64') };
  const child = hasTaskset ? spawn('taskset', ['-c', '1', process.execPath, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] }) : spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${ports.health}/`)).status === 200) break;
    } catch {
      /* starting */
    }
    if (i > 300 || child.exitCode !== null) {
      await stop();
      throw new Error('gateway did not become healthy');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, ports, stop };
}

