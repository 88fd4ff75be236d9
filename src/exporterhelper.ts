/**
 * The base of every exporter, with the delivery behaviour all exporters share (the collector's
 * `exporterhelper`): a bounded sending queue (in memory, or on disk with `storage`), retries with
 * exponential back-off and jitter, a per-send timeout, a dead-letter route, draining on shutdown,
 * and the collector's metrics (`otelcol_exporter_sent_*`, `otelcol_exporter_send_failed_*`,
 * `otelcol_exporter_enqueue_failed_*`, `otelcol_exporter_queue_size`, `otelcol_exporter_queue_capacity`,
 * `otelytics_events_dead_lettered`), and `otelytics_event_delivery_latency_seconds` (time to glass). Behaviour and guarantees: `src/delivery/README.md`.
 *
 * The contract for an exporter:
 * - spread `exporterHelperShape` (./exporterhelper_config.ts) into its zod schema and pass the parsed config (it holds
 *   the helper's options) as the second argument of `super(settings, config)`;
 * - implement only `send(p, ctx)`: deliver the payload once, and fail with `PermanentError`
 *   (never retried; dead-lettered), `RetryableError` (retried, after `retryAfterMillis` when the
 *   destination said so) or `PartialFailure` (rejected parts dead-lettered, the rest retried);
 *   other errors count as retryable. Each request to the destination runs in `ctx.request(fn)`,
 *   which applies `timeout` to that request alone; a send that makes several requests reports
 *   what is left after each accepted one with `ctx.progress(rest)`, so that nothing the
 *   destination accepted is sent again (src/delivery/sender.ts);
 * - override `start`/`shutdown` (as methods) for its own connections if it has any. The base class
 *   wraps them: the queue's consumers start after the exporter's `start`, and the queue is drained
 *   before the exporter's `shutdown` runs. Calling `super.start`/`super.shutdown` is allowed and does
 *   nothing.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Exporter, ExporterCreateSettings, Host, Payload } from './component.js';
import type { AnalyticsEvent } from './event.js';
import { itemCount } from './component.js';
import { helperSchema, type ExporterHelperConfig } from './exporterhelper_config.js';
import { clip, errorMessage, isPermanent, isRetryable, PartialFailure, PermanentError, RetryableError } from './errors.js';
import { Backoff, sleep } from './delivery/backoff.js';
import { deadLetterMark, markDeadLetter } from './delivery/dead_letter.js';
import { leftQueueDirectories, PersistentQueue, queueDirectory } from './delivery/persistent_queue.js';
import { workerIdentity } from './workers.js';
import { MemoryQueue, type DeliveryQueue } from './delivery/queue.js';
import { BatchSource, type QueueBatch, type QueueBatchConfig } from './delivery/batcher.js';
import { mergePayloads, splitPayload } from './delivery/merge.js';
import { deliver, type DeliveryOptions, type SendContext } from './delivery/sender.js';
import type { Telemetry } from './telemetry.js';
import { acceptedEvents, observeDelivered } from './delivery/time_to_glass.js';
import { compileConsentRequirement } from './consent.js';
import { inSpan, payloadLinks, SpanKind } from './selftrace.js';

/** When the first exporter of a gateway started draining: all of them share one shutdown deadline clock. */
const drainStarted = new WeakMap<Host, number>();

const POLL_MILLIS = 20;

export abstract class BaseExporter implements Exporter {
  protected readonly id: string;
  protected readonly logger: Logger;
  protected readonly telemetry: Telemetry;
  readonly #helper: ExporterHelperConfig;
  #host: Host | undefined;
  #queue: DeliveryQueue | undefined;
  #workers: Promise<void>[] = [];
  readonly #inline = new Set<Promise<void>>();
  /** Aborted at the shutdown deadline: no new batch, attempt or request starts. */
  readonly #stopController = new AbortController();
  /** Aborted `timeout` after that: requests still in flight are cut off. */
  readonly #cutController = new AbortController();
  #deadLetterTarget: Exporter | undefined;
  /** `sending_queue::batch`, or what the pipelines feeding this exporter ask (a `batch` processor). */
  readonly #batch: QueueBatchConfig | undefined;
  /** Exporters whose dead letters come here: drained before this one. */
  readonly #feeders = new Set<BaseExporter>();
  #stopping: Promise<void> | undefined;
  #latency: ReturnType<Telemetry['eventDeliveryLatency']> | undefined;
  /** `consent`: whether an event may reach this destination; undefined when there is no requirement. */
  readonly #consented: ((e: AnalyticsEvent) => boolean) | undefined;

  constructor(settings: ExporterCreateSettings, helper: ExporterHelperConfig) {
    this.id = settings.id;
    this.logger = settings.logger;
    this.telemetry = settings.telemetry;
    this.#helper = (helper as ExporterHelperConfig | undefined) ?? helperSchema.parse({});
    this.#batch = this.#helper.sending_queue.batch ?? settings.batching;
    if (this.#helper.consent !== undefined) {
      const granted = compileConsentRequirement(this.#helper.consent);
      this.#consented = (e) => granted(e.consent);
    }
    // Every delivery and every request in flight listens to these two signals.
    setMaxListeners(0, this.#stopController.signal, this.#cutController.signal);
    const ownStart = this.start;
    const ownShutdown = this.shutdown;
    this.start = async (host: Host) => {
      await this.#openQueue(host);
      try {
        await ownStart.call(this, host);
      } catch (err) {
        await this.#queue?.close();
        throw err;
      }
      this.#startWorkers();
    };
    this.shutdown = async () => {
      await this.#drain();
      await ownShutdown.call(this);
    };
  }

  /** Override to open the exporter's own connections; the sending queue starts after it. */
  async start(_host: Host): Promise<void> {}
  /** Override to close the exporter's own connections; it runs after the sending queue was drained. */
  async shutdown(): Promise<void> {}

  /**
   * Delivers the payload once. Rejects with a PermanentError, a RetryableError or a PartialFailure.
   * Each request to the destination runs in `ctx.request` (the per-request `timeout`); a send of
   * several requests reports what is left after each accepted one with `ctx.progress`.
   */
  protected abstract send(p: Payload, ctx: SendContext): Promise<void>;

  /**
   * Takes data from the pipeline: queues it, or (queue disabled) sends it before resolving. Events
   * without the consent `consent` requires are dropped first, counted in
   * `otelytics_events_dropped{component=<exporter>,reason="no_consent"}`.
   */
  async consume(p: Payload): Promise<void> {
    if (this.#consented && p.signal === 'events') {
      const kept = p.data.filter(this.#consented);
      if (kept.length < p.data.length) {
        this.telemetry.eventsDropped(this.id, 'no_consent', p.data.length - kept.length);
        p = { signal: 'events', data: kept };
      }
    }
    const n = itemCount(p);
    if (n === 0) return;
    const q = this.#queue;
    if (q) {
      try {
        await q.offer(p);
      } catch (err) {
        this.telemetry.exporterEnqueueFailed(this.id, p.signal, n);
        throw err;
      }
      this.telemetry.exporterQueueSize(this.id, q.size);
      return;
    }
    const task = this.#sendNow(p);
    this.#inline.add(task);
    try {
      await task;
    } finally {
      this.#inline.delete(task);
    }
  }

  #deliveryOptions(reject: DeliveryOptions['reject'], update?: DeliveryOptions['update']): DeliveryOptions {
    return {
      // One CLIENT span per attempt when own traces are on (src/selftrace.ts).
      send: (p, ctx) =>
        inSpan(`export ${this.id}`, SpanKind.CLIENT, () => ({ 'otelytics.exporter': this.id, 'otelytics.signal': p.signal, 'otelytics.items': itemCount(p) }), () => payloadLinks(p), () =>
          this.#sendInParts(p, ctx),
        ),
      timeoutMillis: this.#helper.timeout,
      retry: this.#helper.retry_on_failure,
      stop: this.#stopController.signal,
      cut: this.#cutController.signal,
      reject,
      update,
      onRetry: (err, wait) => {
        this.telemetry.exporterRetry(this.id);
        this.logger.warn({ err: errorMessage(err), retry_in_ms: wait }, 'send failed; will retry');
      },
    };
  }

  /**
   * One attempt, in parts of at most `sending_queue::batch::max_size` items when that is set: each
   * part accepted is recorded with `ctx.progress` before the next is sent, so a failure of a later
   * part never sends an earlier one again.
   */
  async #sendInParts(p: Payload, ctx: SendContext): Promise<void> {
    const max = this.#batch?.max_size ?? 0;
    const parts = max > 0 ? splitPayload(p, max) : [p];
    if (parts.length === 1) return this.#sendOne(p, ctx);
    for (let i = 0; i < parts.length; i++) {
      const later = i + 1 < parts.length ? parts.slice(i + 1) : [];
      const withLater = (rest: Payload | undefined) => {
        const list = rest ? [rest, ...later] : later;
        return list.length > 0 ? mergePayloads(list) : undefined;
      };
      const partCtx: SendContext = { ...ctx, progress: (rest) => ctx.progress(withLater(rest)!) };
      try {
        await this.#sendOne(parts[i]!, partCtx);
      } catch (err) {
        if (err instanceof PartialFailure) {
          throw new PartialFailure(err.message, { rejected: err.rejected, retry: withLater(err.retry as Payload | undefined), retryAfterMillis: err.retryAfterMillis });
        }
        if (isPermanent(err)) throw new PartialFailure(errorMessage(err), { rejected: [{ payload: parts[i]!, reason: errorMessage(err) }], retry: withLater(undefined) });
        throw err; // retryable: what progress left (this part and the later ones) is sent again
      }
      const rest = withLater(undefined);
      if (rest) await ctx.progress(rest);
    }
  }

  /**
   * One call of `send`; for events, observes `otelytics_event_delivery_latency_seconds` for what
   * the destination acknowledged (all of it, or a partial failure's accepted rest).
   */
  async #sendOne(p: Payload, ctx: SendContext): Promise<void> {
    if (p.signal !== 'events') return this.send(p, ctx);
    const latency = (this.#latency ??= this.telemetry.eventDeliveryLatency(this.id));
    try {
      await this.send(p, ctx);
    } catch (err) {
      if (err instanceof PartialFailure) observeDelivered(latency, acceptedEvents(p.data, err), Date.now());
      throw err;
    }
    observeDelivered(latency, p.data, Date.now());
  }

  /** No queue: deliver in the caller's request; what cannot be delivered is the caller's error. */
  async #sendNow(p: Payload): Promise<void> {
    const refused: string[] = [];
    const out = await deliver(
      p,
      this.#deliveryOptions(async (part, reason) => {
        this.telemetry.exporterSendFailed(this.id, part.signal, itemCount(part));
        if (!this.#deadLetterTarget || !(await this.#deadLetter(part, reason))) refused.push(reason);
      }),
    );
    if (out.sent > 0) this.telemetry.exporterSent(this.id, p.signal, out.sent);
    if (out.left) {
      this.telemetry.exporterSendFailed(this.id, p.signal, itemCount(out.left.payload));
      throw new RetryableError(`exporter ${this.id}: ${out.left.error}`);
    }
    if (refused.length > 0) throw new PermanentError(`exporter ${this.id}: the destination refused the data: ${refused[0]}`);
  }

  // -------------------------------------------------------------------------------------------
  // Queue and consumers
  // -------------------------------------------------------------------------------------------

  async #openQueue(host: Host): Promise<void> {
    this.#host = host;
    this.#resolveDeadLetter(host);
    const q = this.#helper.sending_queue;
    if (!q.enabled) return;
    let queue: DeliveryQueue;
    // Workers of one gateway (service::workers) share its queue budget; each has a queue of its own.
    const worker = workerIdentity() ?? { index: 0, count: 1 };
    const capacity = Math.max(1, Math.ceil(q.queue_size / worker.count));
    if (q.storage) {
      const dir = queueDirectory(q.storage, this.id, worker.index);
      const left = leftQueueDirectories(q.storage, this.id, worker.index, worker.count);
      const persistent = new PersistentQueue(
        capacity,
        q.sizer,
        `exporter ${this.id}`,
        dir,
        (key, reason) => this.logger.error({ key, reason, directory: dir }, 'damaged entry in the persistent queue; removed'),
        undefined,
        left,
      );
      queue = persistent;
      let found: number;
      try {
        found = await queue.open();
      } catch (err) {
        throw new Error(`sending_queue::storage: cannot open the persistent queue in ${dir}: ${errorMessage(err)}`);
      }
      if (persistent.adopted > 0) this.logger.info({ requests: persistent.adopted, directories: left, directory: dir }, 'took over the persistent queues left by workers of a previous run');
      if (found > 0) this.logger.info({ requests: found, size: queue.size, sizer: q.sizer, directory: dir }, 'resuming the persistent queue left by the previous run');
    } else {
      queue = new MemoryQueue(capacity, q.sizer, `exporter ${this.id}`);
    }
    this.#queue = queue;
    this.telemetry.exporterQueueCapacity(this.id, capacity);
    this.telemetry.exporterQueueSize(this.id, queue.size);
  }

  #resolveDeadLetter(host: Host): void {
    const dl = this.#helper.dead_letter;
    if (!dl) return;
    if (dl === this.id) throw new Error(`dead_letter: exporter "${this.id}" cannot be its own dead-letter route`);
    const target = host.getExporter(dl);
    if (!target) throw new Error(`dead_letter: exporter "${dl}" is not configured`);
    // Follow the chain of dead-letter routes: a cycle would never drain.
    const seen = new Set([this.id]);
    for (let t: Exporter | undefined = target; t instanceof BaseExporter && t.#helper.dead_letter; t = host.getExporter(t.#helper.dead_letter)) {
      if (seen.has(t.id)) throw new Error(`dead_letter: the dead-letter routes from "${this.id}" form a cycle through "${t.id}"`);
      seen.add(t.id);
    }
    this.#deadLetterTarget = target;
    if (target instanceof BaseExporter) target.#feeders.add(this);
  }

  #startWorkers(): void {
    const q = this.#queue;
    if (!q) return;
    const source = new BatchSource(q, this.#batch);
    for (let i = 0; i < this.#helper.sending_queue.num_consumers; i++) this.#workers.push(this.#work(q, source));
  }

  /**
   * One consumer of the queue. Each batch is taken and delivered in a call of its own: a suspended
   * async function keeps the values of its whole frame, so a loop here holding the batch would keep
   * every consumer's last batch reachable while it waits for the next one.
   */
  async #work(q: DeliveryQueue, source: BatchSource): Promise<void> {
    while (await this.#deliverNext(q, source));
  }

  /** Takes the next batch and delivers it; resolves false once the queue is stopped. */
  async #deliverNext(q: DeliveryQueue, source: BatchSource): Promise<boolean> {
    const b = await source.next();
    if (!b) return false;
    try {
      await this.#deliverBatch(q, b);
    } catch (err) {
      // Only the queue's own store can fail here; the entries stay unacknowledged.
      this.logger.error({ err: errorMessage(err) }, 'sending queue failure');
    }
    this.telemetry.exporterQueueSize(this.id, q.size);
    return true;
  }

  async #deliverBatch(q: DeliveryQueue, b: QueueBatch): Promise<void> {
    // While stopping, a part the dead-letter route cannot take keeps its entry unacknowledged
    // (on disk for the next start) instead of being dropped.
    const reject = async (part: Payload, reason: string) => {
      if (await this.#reject(part, reason)) return;
      if (this.#stopController.signal.aborted) {
        throw new RetryableError(`exporter ${this.id}: the dead-letter route did not take data while stopping; the entry is kept`);
      }
      this.#dropped(part, reason);
    };
    let entries = b.entries;
    const update = async (rest: Payload) => {
      await q.update(entries, rest);
      entries = entries.slice(0, 1); // the first entry holds what is left, the others are gone
    };
    const out = await deliver(b.payload, this.#deliveryOptions(reject, update));
    if (out.sent > 0) this.telemetry.exporterSent(this.id, b.payload.signal, out.sent);
    if (out.left?.why === 'stopped') return; // stays unacknowledged: on disk for the next start, or handled by drain()
    if (out.left) await reject(out.left.payload, out.left.error);
    await q.ack(entries);
  }

  /**
   * A part that will not be delivered: counted as failed and handed to the dead-letter route.
   * Resolves true when it is dealt with: dead-lettered, or dropped (logged, counted) for want of a
   * route; false when a route exists but did not take it (the caller decides).
   */
  async #reject(p: Payload, reason: string): Promise<boolean> {
    this.telemetry.exporterSendFailed(this.id, p.signal, itemCount(p));
    if (this.#deadLetterTarget) return this.#deadLetter(p, reason);
    this.#dropped(p, reason);
    return true;
  }

  #dropped(p: Payload, reason: string): void {
    const n = itemCount(p);
    if (p.signal === 'events') this.telemetry.eventsDropped(this.id, 'undeliverable', n);
    this.logger.error({ items: n, signal: p.signal, reason: clip(reason) }, 'data not delivered and no dead-letter route took it; dropped');
  }

  /** Hands a marked copy to the dead-letter exporter, retrying while it refuses for now. Resolves false when it could not. */
  async #deadLetter(p: Payload, reason: string): Promise<boolean> {
    const target = this.#deadLetterTarget!;
    const dl = this.#helper.dead_letter!;
    const marked = markDeadLetter(p, deadLetterMark(this.id, reason));
    const backoff = new Backoff({ ...this.#helper.retry_on_failure, enabled: true });
    for (;;) {
      try {
        await target.consume(marked);
        const n = itemCount(p);
        this.telemetry.deadLettered(this.id, dl, p.signal, n);
        this.logger.warn({ items: n, signal: p.signal, dead_letter: dl, reason: clip(reason) }, 'data dead-lettered');
        return true;
      } catch (err) {
        const wait = isRetryable(err) && !this.#stopController.signal.aborted ? backoff.next(err.retryAfterMillis) : undefined;
        if (wait === undefined) {
          this.logger.error({ dead_letter: dl, err: errorMessage(err) }, 'the dead-letter exporter did not take the data');
          return false;
        }
        await sleep(wait, this.#stopController.signal).catch(() => undefined);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown
  // -------------------------------------------------------------------------------------------

  /**
   * Drains: waits (until the shared deadline) for the queue to empty and sends in flight to end,
   * then stops the consumers. Exporters that dead-letter into this one are drained first.
   * Idempotent.
   */
  #drain(): Promise<void> {
    this.#stopping ??= this.#doDrain();
    return this.#stopping;
  }

  async #doDrain(): Promise<void> {
    await Promise.all([...this.#feeders].map((f) => f.#drain()));
    const host = this.#host;
    let started = host ? drainStarted.get(host) : undefined;
    if (started === undefined) {
      started = Date.now();
      if (host) drainStarted.set(host, started);
    }
    const deadline = started + this.#helper.sending_queue.drain_timeout;
    const q = this.#queue;
    while (((q?.size ?? 0) > 0 || this.#inline.size > 0) && Date.now() < deadline) {
      await sleep(Math.min(POLL_MILLIS, Math.max(1, deadline - Date.now())));
    }
    q?.stop();
    this.#stopController.abort(new RetryableError(`exporter ${this.id} is shutting down`));
    // Requests in flight may finish, each within its `timeout`: what the destination confirms
    // then is not sent again after the next start.
    await settledWithin([...this.#workers, ...this.#inline], this.#helper.timeout);
    this.#cutController.abort(new RetryableError(`exporter ${this.id} is shutting down`));
    await Promise.all(this.#workers);
    await Promise.allSettled([...this.#inline]);
    if (!q) return;
    const left = q.unacknowledged();
    const items = left.reduce((s, e) => s + e.items, 0);
    if (left.length > 0 && q instanceof PersistentQueue) {
      this.logger.warn({ requests: left.length, items, directory: q.directory }, 'shutdown deadline passed; what was not sent stays in the persistent queue for the next start');
    } else if (left.length > 0) {
      this.logger.error({ requests: left.length, items }, 'shutdown deadline passed with data still in the in-memory queue');
      const reason = 'not sent before the shutdown deadline (sending_queue::drain_timeout)';
      for (const e of left) if (e.payload && !(await this.#reject(e.payload, reason))) this.#dropped(e.payload, reason);
    }
    await q.close();
    this.telemetry.exporterQueueSize(this.id, q instanceof PersistentQueue ? q.size : 0);
  }
}

/** Resolves once every promise has settled, or after `millis` (0: at once). */
async function settledWithin(promises: readonly Promise<unknown>[], millis: number): Promise<void> {
  if (millis <= 0 || promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise((r) => (timer = setTimeout(r, millis)))]);
  clearTimeout(timer);
}
