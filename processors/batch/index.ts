/**
 * The `batch` processor: groups items into batches of `send_batch_size`, sent when full or when
 * `timeout` has passed since the first item arrived (the collector's `batchprocessor` options).
 *
 * Items are acknowledged once buffered. A batch the next stage refuses for now (retryable) is
 * kept and offered again with back-off; while more than `max_buffered_items` wait, new data is
 * refused with a retryable error, so receivers answer 503 and SDKs retry (memory stays bounded).
 * A permanent refusal is logged and counted in `otelytics_events_dropped{reason="permanent"}`.
 * Shutdown flushes what is buffered.
 */
import type { Logger } from 'pino';
import type { Consumer, Payload, ProcessorFactory, Signal } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { duration, z } from '../../src/config/schema.js';
import { errorMessage, isRetryable, RetryableError } from '../../src/errors.js';
import type { Telemetry } from '../../src/telemetry.js';
import { mergePayloads, splitPayload } from './split.js';

/** Collector defaults: 8192 items, 200ms, no max size. */
export const DEFAULT_SEND_BATCH_SIZE = 8192;
export const DEFAULT_TIMEOUT = '200ms';

export const batchSchema = z
  .strictObject({
    send_batch_size: z.number().int().nonnegative().default(DEFAULT_SEND_BATCH_SIZE).describe('Items that trigger a send. 0: size never triggers, only the timeout. Default 8192.'),
    send_batch_max_size: z.number().int().nonnegative().default(0).describe('Upper bound of a batch; larger ones are split. 0: no bound. Default 0.'),
    timeout: duration(DEFAULT_TIMEOUT).describe('Longest an item waits before its batch is sent. 0: send at once. Default 200ms.'),
    max_buffered_items: z.number().int().positive().default(100_000).describe('Items held (buffered plus waiting for a retry) before new data is refused. Default 100000.'),
  })
  .refine((c) => c.send_batch_max_size === 0 || c.send_batch_max_size >= c.send_batch_size, {
    message: 'must be 0 or at least send_batch_size',
    path: ['send_batch_max_size'],
  });

export type BatchConfig = z.infer<typeof batchSchema>;

const RETRY_INITIAL_MILLIS = 100;
const RETRY_MAX_MILLIS = 5000;

class SignalBatcher {
  private pending: Payload[] = [];
  private pendingItems = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  /** Items handed on but refused for now, waiting for a retry. */
  private retrying = 0;
  private closed = false;
  /** Set when the shutdown deadline passed: stop retrying. */
  private closedHard = false;

  constructor(
    private readonly cfg: BatchConfig,
    private readonly next: Consumer,
    private readonly logger: Logger,
    private readonly onDropped: (n: number, reason: string) => void,
  ) {}

  get held(): number {
    return this.pendingItems + this.retrying;
  }

  add(p: Payload, n: number): void {
    this.pending.push(p);
    this.pendingItems += n;
    if (this.cfg.send_batch_size > 0 && this.pendingItems >= this.cfg.send_batch_size) this.flush();
    else if (this.cfg.timeout === 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.cfg.timeout);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const merged = mergePayloads(this.pending);
    this.pending = [];
    this.pendingItems = 0;
    const max = this.cfg.send_batch_max_size || Number.MAX_SAFE_INTEGER;
    for (const part of splitPayload(merged, max)) this.send(part);
  }

  private send(p: Payload): void {
    const task = this.deliver(p).finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  private async deliver(p: Payload): Promise<void> {
    let delay = RETRY_INITIAL_MILLIS;
    let counted = false;
    for (;;) {
      try {
        await this.next.consume(p);
        if (counted) this.retrying -= itemCount(p);
        return;
      } catch (err) {
        if (!isRetryable(err) || (this.closed && this.closedHard)) {
          if (counted) this.retrying -= itemCount(p);
          const n = itemCount(p);
          this.onDropped(n, isRetryable(err) ? 'shutdown' : 'permanent');
          this.logger.error({ items: n, err: errorMessage(err) }, 'batch refused by the next stage; dropped');
          return;
        }
        if (!counted) {
          this.retrying += itemCount(p);
          counted = true;
        }
        const wait = Math.min(err.retryAfterMillis ?? delay, RETRY_MAX_MILLIS);
        delay = Math.min(delay * 2, RETRY_MAX_MILLIS);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async drain(deadlineMillis: number): Promise<void> {
    this.closed = true;
    this.flush();
    const all = Promise.all([...this.inFlight]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(() => ((this.closedHard = true), r()), deadlineMillis)));
    await Promise.race([all, timeout]);
    clearTimeout(timer);
    await all;
  }
}

class BatchProcessor {
  private readonly batchers = new Map<Signal, SignalBatcher>();

  constructor(
    private readonly id: string,
    private readonly cfg: BatchConfig,
    private readonly next: Consumer,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry,
  ) {}

  async start(): Promise<void> {}

  async consume(p: Payload): Promise<void> {
    let b = this.batchers.get(p.signal);
    if (!b) {
      b = new SignalBatcher(this.cfg, this.next, this.logger, (n, reason) => {
        if (p.signal === 'events') this.telemetry.eventsDropped(this.id, reason, n);
      });
      this.batchers.set(p.signal, b);
    }
    const n = itemCount(p);
    if (b.held + n > this.cfg.max_buffered_items) {
      throw new RetryableError(`batch processor ${this.id} holds ${b.held} items (limit ${this.cfg.max_buffered_items}); try again later`, 1000);
    }
    b.add(p, n);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.drain(10_000)));
  }
}

export const batchProcessorFactory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  description: 'Groups spans, log records, metrics or events into batches by size and time',
  configSchema: batchSchema,
  accepts: ['traces', 'logs', 'metrics', 'events'],
  output: (s) => s,
  mutatesData: false,
  buffersData: true,
  create: (settings, config, next) => new BatchProcessor(settings.id, config, next, settings.logger, settings.telemetry),
};
