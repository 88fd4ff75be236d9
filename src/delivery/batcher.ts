/**
 * Batching after the sending queue (the collector's `sending_queue::batch`): the queue's consumers
 * deliver batches made of several queued requests instead of one request at a time.
 *
 * Requests are batched *after* the queue holds them, so a receiver's acknowledgement (given once
 * the queue holds the request, on disk for a persistent queue) never depends on a batch that
 * exists only in memory. A batch's entries stay in the queue until the batch is delivered; what is
 * delivered of a batch before a failure is recorded with `DeliveryQueue.update`.
 *
 * One batch is built at a time (as the collector's single batcher): the first free consumer takes
 * the oldest request and keeps taking requests of the same signal until the batch holds `min_size`
 * items or `flush_timeout` has passed since its first request; then it delivers the batch and the
 * next free consumer builds the next one. Requests are never cut: a batch may end above
 * `min_size`, and `max_size` splits what is sent (see the exporter helper).
 */
import type { Payload } from '../component.js';
import { mergePayloads } from './merge.js';
import type { DeliveryQueue, QueueEntry } from './queue.js';

/** `sending_queue::batch`, durations in milliseconds. */
export interface QueueBatchConfig {
  /** Longest the first request of a batch waits for more, ms (> 0). */
  flush_timeout: number;
  /** Items at which a batch is sent without waiting longer. */
  min_size: number;
  /** Most items sent in one request to the destination; larger batches are sent in parts. 0: no limit. */
  max_size: number;
}

/** Entries of the queue delivered together, and their payloads merged. */
export interface QueueBatch {
  entries: QueueEntry[];
  payload: Payload;
}

/** Hands the queue's consumers their next batch: one entry each without batching, else batches as described above. */
export class BatchSource {
  /** Resolves when the consumer building a batch is done with it. */
  #building: Promise<void> = Promise.resolve();
  /** An entry taken for a batch it did not fit (another signal): the first of the next batch. */
  #carried: QueueEntry | undefined;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly batch: QueueBatchConfig | undefined,
  ) {}

  /** The next batch; waits for one. Resolves undefined once the queue is stopped. */
  async next(): Promise<QueueBatch | undefined> {
    if (!this.batch) {
      const e = await this.queue.take();
      return e && { entries: [e], payload: e.payload };
    }
    const previous = this.#building;
    let done!: () => void;
    this.#building = new Promise<void>((r) => (done = r));
    await previous;
    try {
      return await this.#build(this.batch);
    } finally {
      done();
    }
  }

  async #build(cfg: QueueBatchConfig): Promise<QueueBatch | undefined> {
    const first = this.#carried ?? (await this.queue.take());
    this.#carried = undefined;
    if (!first) return undefined;
    const entries = [first];
    let items = first.items;
    const deadline = Date.now() + cfg.flush_timeout;
    while (items < cfg.min_size) {
      const e = await this.queue.take(deadline - Date.now());
      if (!e) break;
      if (e.payload.signal !== first.payload.signal) {
        this.#carried = e;
        break;
      }
      entries.push(e);
      items += e.items;
    }
    return { entries, payload: mergePayloads(entries.map((e) => e.payload)) };
  }
}
