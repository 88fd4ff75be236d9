/**
 * The `memory_limiter` processor (the collector's `memorylimiterprocessor` options): every
 * `check_interval` it measures the process's memory; above the soft limit (`limit` minus
 * `spike_limit`) it refuses data with a retryable error, so receivers answer 503 with
 * `Retry-After` (OTLP/HTTP) or `UNAVAILABLE` with `RetryInfo` (OTLP/gRPC) and SDKs back off,
 * until usage is back under the soft limit. While it refuses, receivers also refuse requests
 * before reading their bodies (see `src/delivery/admission.ts`). Above the soft limit it runs a
 * full garbage collection at most every `min_gc_interval_when_soft_limited` (above the hard
 * limit, every `min_gc_interval_when_hard_limited`) and measures again, so garbage left by a
 * burst does not keep data refused after the burst (the collector's options of the same names).
 *
 * Memory measured: the process's resident memory that no file backs (Linux `/proc/self/status`
 * `RssAnon + RssShmem`; elsewhere the whole resident set). The collector measures the Go heap,
 * which in Go is nearly all of a process's memory; in Node.js the JavaScript heap is not: V8's
 * young generation, buffers, zlib and TLS state live outside it, and V8 lets the heap fill with
 * garbage up to a limit it picks itself. Resident anonymous memory counts all of that, as a
 * container's memory limit does, and leaves out the pages of the node binary and of a memory-mapped
 * persistent queue, which the kernel can drop. Percent limits are of the container's memory limit
 * (cgroup, via `process.constrainedMemory()`) when there is one, else of the machine's memory.
 * With `service::workers` N > 1, each worker process refuses above 1/N of the limits (src/workers.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { duration, z } from '../../src/config/schema.js';
import { registerAdmissionGate, type Refusal } from '../../src/delivery/admission.js';
import { RetryableError } from '../../src/errors.js';
import type { Telemetry } from '../../src/telemetry.js';
import { workerShare } from '../../src/workers.js';

const MIB = 1024 * 1024;
const mib = (bytes: number) => Math.round(bytes / MIB);

export const memoryLimiterSchema = z
  .strictObject({
    check_interval: duration('1s').describe('How often memory is measured. Must be above 0. Default 1s (the collector recommends 1s).'),
    limit_mib: z.number().int().nonnegative().default(0).describe('Hard limit, MiB of measured memory. 0: use limit_percentage. One of the two is required.'),
    spike_limit_mib: z.number().int().nonnegative().default(0).describe('Headroom below the hard limit, MiB; the soft limit is limit_mib - spike_limit_mib. 0: 20% of limit_mib.'),
    limit_percentage: z.number().int().min(0).max(100).default(0).describe('Hard limit as a percentage of the memory available (container limit, else total). 0: use limit_mib.'),
    spike_limit_percentage: z.number().int().min(0).max(100).default(0).describe('Headroom as a percentage of the memory available. 0: 20% of the hard limit. Used with limit_percentage.'),
    min_gc_interval_when_soft_limited: duration('10s').describe('Least time between forced full garbage collections while memory is above the soft limit. Default 10s.'),
    min_gc_interval_when_hard_limited: duration('0s').describe('Least time between forced full garbage collections while memory is above the hard limit. Default 0s (every check).'),
  })
  .superRefine((c, ctx) => {
    if (c.check_interval <= 0) ctx.addIssue({ code: 'custom', path: ['check_interval'], message: 'must be above 0' });
    if (c.limit_mib === 0 && c.limit_percentage === 0) ctx.addIssue({ code: 'custom', path: ['limit_mib'], message: 'one of limit_mib or limit_percentage is required (above 0)' });
    if (c.limit_mib > 0 && c.limit_percentage > 0) ctx.addIssue({ code: 'custom', path: ['limit_percentage'], message: 'set either limit_mib or limit_percentage, not both' });
    if (c.limit_mib > 0 && c.spike_limit_mib >= c.limit_mib) ctx.addIssue({ code: 'custom', path: ['spike_limit_mib'], message: 'must be below limit_mib' });
    if (c.limit_percentage > 0 && c.spike_limit_percentage >= c.limit_percentage) ctx.addIssue({ code: 'custom', path: ['spike_limit_percentage'], message: 'must be below limit_percentage' });
  });

export type MemoryLimiterConfig = z.infer<typeof memoryLimiterSchema>;

/** Memory available to the process, bytes: the cgroup limit when set, else the machine's total. */
export function availableMemory(): number {
  const total = os.totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? Number(process.constrainedMemory()) : 0;
  return constrained > 0 && constrained < total ? constrained : total;
}

/** The hard and soft limits in bytes for a config. */
export function limitsOf(c: MemoryLimiterConfig, available = availableMemory()): { hard: number; soft: number } {
  if (c.limit_mib > 0) {
    const hard = c.limit_mib * MIB;
    const spike = c.spike_limit_mib > 0 ? c.spike_limit_mib * MIB : hard / 5;
    return { hard, soft: hard - spike };
  }
  const hard = (available * c.limit_percentage) / 100;
  const spike = c.spike_limit_percentage > 0 ? (available * c.spike_limit_percentage) / 100 : hard / 5;
  return { hard, soft: hard - spike };
}

/**
 * Resident memory not backed by a file, bytes, from a `/proc/<pid>/status` text (`RssAnon` +
 * `RssShmem`, in kB; Linux 4.5 and later); undefined when the text has neither.
 */
export function anonymousResident(status: string): number | undefined {
  const anon = /^RssAnon:\s+(\d+) kB/m.exec(status);
  if (!anon) return undefined;
  const shmem = /^RssShmem:\s+(\d+) kB/m.exec(status);
  return (Number(anon[1]) + Number(shmem?.[1] ?? 0)) * 1024;
}

let procStatus = process.platform === 'linux';

/** Bytes measured: resident memory not backed by a file (see the module doc); the resident set where /proc does not tell. */
export function measureMemory(): number {
  if (procStatus) {
    try {
      const n = anonymousResident(fs.readFileSync('/proc/self/status', 'latin1'));
      if (n !== undefined) return n;
    } catch {
      /* no procfs */
    }
    procStatus = false;
  }
  return process.memoryUsage.rss();
}

/**
 * A function that runs a full garbage collection: `globalThis.gc` when Node runs with
 * `--expose-gc`, else V8's `gc` extension turned on at run time; undefined if neither works.
 */
export function fullGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

export interface MemoryLimiterDeps {
  /** Reads the memory in use, bytes. Default {@link measureMemory}. */
  readMemory?: () => number;
  /** Runs a full garbage collection. Default {@link fullGc}. */
  collectGarbage?: () => void;
  /** Clock, ms. Default Date.now. */
  now?: () => number;
  /** Memory available, bytes, for percentage limits. Default {@link availableMemory}. */
  available?: number;
  /** Processes sharing the limits (`service::workers`). Default: this gateway's workers, 1 in a single process. */
  workers?: number;
}

export class MemoryLimiter {
  private refusal: Refusal | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unregister: (() => void) | undefined;
  readonly limits: { hard: number; soft: number };
  private readonly readMemory: () => number;
  private readonly collectGarbage: (() => void) | undefined;
  private readonly now: () => number;
  private lastGc = -Infinity;

  constructor(
    private readonly id: string,
    private readonly pipeline: string,
    private readonly cfg: MemoryLimiterConfig,
    private readonly next: Consumer,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry,
    deps: MemoryLimiterDeps = {},
  ) {
    this.readMemory = deps.readMemory ?? measureMemory;
    this.collectGarbage = deps.collectGarbage ?? fullGc();
    this.now = deps.now ?? Date.now;
    // Each of N workers keeps to 1/N of the limits, so that together they keep to the whole.
    const share = deps.workers ?? workerShare();
    const limits = limitsOf(cfg, deps.available);
    this.limits = share > 1 ? { hard: limits.hard / share, soft: limits.soft / share } : limits;
  }

  /** Whether data is refused now. */
  get refusing(): boolean {
    return this.refusal !== undefined;
  }

  /** Measures once and updates the state (called every check_interval). */
  check(): void {
    let used = this.readMemory();
    if (used > this.limits.soft && this.collectGarbage) {
      const interval = used > this.limits.hard ? this.cfg.min_gc_interval_when_hard_limited : this.cfg.min_gc_interval_when_soft_limited;
      const now = this.now();
      if (now - this.lastGc >= interval) {
        this.lastGc = now;
        this.collectGarbage();
        used = this.readMemory();
      }
    }
    if (used > this.limits.soft) {
      if (!this.refusal) this.logger.warn({ used_mib: mib(used), soft_limit_mib: mib(this.limits.soft), hard_limit_mib: mib(this.limits.hard) }, 'memory usage above the soft limit; refusing data');
      this.refusal = {
        message: `memory usage ${mib(used)} MiB is above the soft limit of ${mib(this.limits.soft)} MiB (memory_limiter ${this.id}); try again later`,
        retryAfterMillis: Math.max(1000, this.cfg.check_interval),
      };
    } else if (this.refusal) {
      this.refusal = undefined;
      this.logger.info({ used_mib: mib(used), soft_limit_mib: mib(this.limits.soft) }, 'memory usage back under the soft limit; taking data again');
    }
  }

  async start(): Promise<void> {
    const heapLimit = v8.getHeapStatistics().heap_size_limit;
    if (this.limits.hard > heapLimit) {
      this.logger.warn({ hard_limit_mib: mib(this.limits.hard), heap_limit_mib: mib(heapLimit) }, 'memory_limiter hard limit is above the V8 heap limit (raise it with --max-old-space-size)');
    }
    const atStart = this.readMemory();
    if (atStart > this.limits.soft / 2) {
      this.logger.warn({ used_mib: mib(atStart), soft_limit_mib: mib(this.limits.soft) }, 'memory_limiter soft limit is less than twice the memory in use at start, which leaves little room for data; raise limit_mib');
    }
    this.check();
    this.timer = setInterval(() => this.check(), this.cfg.check_interval);
    this.timer.unref();
    this.unregister = registerAdmissionGate(() => this.refusal);
  }

  async consume(p: Payload): Promise<void> {
    const r = this.refusal;
    if (r) {
      this.telemetry.processorRefused(this.id, this.pipeline, p.signal, itemCount(p));
      throw new RetryableError(r.message, r.retryAfterMillis);
    }
    return this.next.consume(p);
  }

  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.unregister?.();
    this.refusal = undefined;
  }
}

export const memoryLimiterProcessorFactory: ProcessorFactory<MemoryLimiterConfig> = {
  kind: 'processor',
  type: 'memory_limiter',
  description: 'Refuses data (retryable, so clients back off) while memory is above a soft limit',
  configSchema: memoryLimiterSchema,
  accepts: ['traces', 'logs', 'metrics', 'events'],
  output: (s) => s,
  mutatesData: false,
  takesEncodedTraces: true,
  create: (settings, config, next) => new MemoryLimiter(settings.id, settings.pipeline, config, next, settings.logger, settings.telemetry),
};
