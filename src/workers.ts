/**
 * `service::workers`: how many processes serve one gateway, and which one this process is.
 *
 * With one worker the gateway is a single process, as it always was. With N > 1 the process that
 * was started is a supervisor (src/supervisor.ts) that forks N workers with node:cluster; each
 * worker is a whole gateway (receivers, processors, exporters, sending queues, connections) and
 * the OTLP ports are shared between them by the cluster module. A worker learns its index and the
 * number of workers from its environment (set by the supervisor when it forks it).
 *
 * Default: the CPUs this process may use, `os.availableParallelism()` (the CPU affinity mask),
 * capped by the cgroup v2 CPU quota (`/sys/fs/cgroup/cpu.max`: `<quota> <period>`, or `max`)
 * rounded up, so in a Kubernetes pod the workers follow `resources.limits.cpu`.
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Environment variables the supervisor sets for each worker. */
export const WORKER_INDEX_ENV = 'OTELYTICS_WORKER_INDEX';
export const WORKER_COUNT_ENV = 'OTELYTICS_WORKER_COUNT';

export interface WorkerIdentity {
  /** 0 … count − 1. */
  index: number;
  /** How many workers the gateway runs (`service::workers`). */
  count: number;
}

/** This process's place among the gateway's workers; undefined in a single-process gateway (and in the supervisor). */
export function workerIdentity(): WorkerIdentity | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  const count = Number(process.env[WORKER_COUNT_ENV]);
  if (!Number.isInteger(index) || !Number.isInteger(count) || count < 1 || index < 0 || index >= count) return undefined;
  return { index, count };
}

/** How many workers share what is configured for the whole gateway (memory, queue budgets): 1 outside a worker. */
export function workerShare(): number {
  return workerIdentity()?.count ?? 1;
}

/**
 * CPUs a cgroup v2 `cpu.max` text allows, rounded up (`150000 100000` → 2); undefined for `max`
 * (no quota) or text that is not a quota.
 */
export function cpusOfQuota(cpuMax: string): number | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(cpuMax);
  if (!m) return undefined;
  const quota = Number(m[1]);
  const period = Number(m[2]);
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

/** The cgroup v2 CPU quota of this process, in CPUs rounded up; undefined when there is none. */
export function cgroupCpuLimit(root = '/sys/fs/cgroup'): number | undefined {
  // The process's own cgroup (`0::/path` in /proc/self/cgroup); in a container that is usually the root.
  const candidates: string[] = [];
  try {
    const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    if (line) candidates.push(path.join(root, line.slice(3).trim(), 'cpu.max'));
  } catch {
    /* not Linux, or no cgroup v2 */
  }
  candidates.push(path.join(root, 'cpu.max'));
  let limit: number | undefined;
  for (const file of candidates) {
    try {
      const cpus = cpusOfQuota(fs.readFileSync(file, 'utf8'));
      if (cpus !== undefined) limit = limit === undefined ? cpus : Math.min(limit, cpus);
    } catch {
      /* not there */
    }
  }
  return limit;
}

/** The default of `service::workers`: the CPUs this process may use, capped by its cgroup CPU quota. */
export function defaultWorkers(available = os.availableParallelism(), quota = cgroupCpuLimit()): number {
  return Math.max(1, quota === undefined ? available : Math.min(available, quota));
}

/**
 * Node options every gateway process runs with, unless the operator gives them other values: in
 * `npm start`, in the image's entrypoint, and for the workers the supervisor forks (README,
 * Performance: "Memory and latency at 10,000 spans a second").
 *
 * - `--max-semi-space-size=2`: V8's young generation at two semi-spaces of 2 MiB instead of 16 on
 *   64-bit. A gateway's young objects are short-lived (a request's decoded spans, its events until
 *   the destination acknowledges them), and request bodies, allocated outside the heap, are freed
 *   only by the scavenge after them. At 10,000 spans/s, 4 MiB took about 10 MiB off the resident
 *   memory of 8 MiB (cases A and B of the benchmark) for 3–5% fewer spans/s on one core at full
 *   load, and 2 MiB 3–6 MiB more (B 115.7–118.4 MiB over 30 s against 119.8–122.4, 4 pairs; 2
 *   workers at full load 279–283 MiB against 293) for about 4–6% fewer spans/s.
 * - `--heap-growing-percent=30`: after a mark-compact, V8 lets the old generation grow by 30% of
 *   what is alive before the next, instead of up to 4 times as it does when the heap limit is 2 GiB
 *   or more (Node's default on a machine with 16 GiB or more). The events of a batch that survive
 *   two scavenges while they wait for the broker are garbage soon after, and this bounds how much
 *   of it waits for a mark-compact: case B at 10,000 spans/s about 118 MiB resident over 30 s
 *   instead of 126 with 50% and 125–131 with V8's own factor (all with 4 MiB semi-spaces).
 * - `--v8-pool-size=1`: one V8 background thread (concurrent marking, parallel scavenges,
 *   optimising compiles) instead of Node's 4. A worker has about one core of its own, so more
 *   threads only contend with the other workers: with 2 workers on 2 cores, 2–5% more spans/s
 *   and 11–14 MiB less resident at full load; one process 3–4 MiB less at 10,000 spans/s.
 * - `--no-allocation-site-pretenuring`: V8 stops allocating objects straight into the old
 *   generation when most objects made at the same place in the code survived their first scavenge.
 *   The events a sending queue holds for its batch `timeout` (200 ms by default) do survive one, so
 *   V8 tenured every event made after them, and those stayed until the next mark-compact.
 * - `--single-threaded-gc`: the garbage collector marks and sweeps on the main thread, in
 *   increments between JavaScript, instead of on the background thread. On a core of its own, that
 *   thread took the core from the main thread for several milliseconds at a time, in the middle of
 *   a request: case B at 10,000 spans/s, p99 8.2–10.3 ms over 30 s instead of 12.7–14.5 (5 pairs),
 *   for about the same CPU and 1–2 MiB more resident memory (the sweeping waits for the main
 *   thread); one core and 2 workers at full load did not do fewer spans/s.
 */
export const GATEWAY_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=30', '--v8-pool-size=1', '--no-allocation-site-pretenuring', '--single-threaded-gc'];

/**
 * An option's name with `_` read as `-` and without a `no-` prefix, as Node and V8 read them
 * (`--max_semi_space_size=2` → `--max-semi-space-size`, `--no-foo` → `--foo`).
 */
function optionName(arg: string): string {
  const eq = arg.indexOf('=');
  return (eq < 0 ? arg : arg.slice(0, eq)).replaceAll('_', '-').replace(/^--no-/, '--');
}

/**
 * The node options a worker is forked with: the supervisor's own (`execArgv`), and each of
 * {@link GATEWAY_NODE_OPTIONS} that neither `execArgv` nor `NODE_OPTIONS` sets (the operator's
 * choice wins).
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(optionName));
  return [...execArgv, ...GATEWAY_NODE_OPTIONS.filter((o) => !given.has(optionName(o)))];
}
