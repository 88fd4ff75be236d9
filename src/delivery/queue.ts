/**
 * The sending queue between a pipeline and an exporter's destination (the collector's
 * `exporterhelper` queue): bounded, first in first out, taken from by `num_consumers` workers.
 *
 * An entry counts towards the queue's size from `offer` until `ack` (sent, or dead-lettered), so
 * entries being delivered or waiting for a retry keep their room: the bound covers everything the
 * exporter holds. A full queue refuses new data with a `RetryableError`; receivers turn that into
 * HTTP 503 with `Retry-After` or gRPC `UNAVAILABLE` with `RetryInfo`, and SDKs retry.
 *
 * Two implementations: {@link MemoryQueue} here and `PersistentQueue` (lmdb, survives restarts
 * and crashes) in `persistent_queue.ts`.
 */
import type { Payload } from '../component.js';
import { itemCount } from '../component.js';
import { RetryableError } from '../errors.js';
import { encodePayload } from './codec.js';

/** What `queue_size` counts: items (spans, log records, data points, events), requests, or bytes of the stored encoding. */
export type Sizer = 'items' | 'requests' | 'bytes';

/** Size of a payload in the unit of `sizer`. `bytes` costs one encoding of the payload. */
export function sizeOf(p: Payload, sizer: Sizer, encoded?: Uint8Array): number {
  switch (sizer) {
    case 'items':
      return itemCount(p);
    case 'requests':
      return 1;
    case 'bytes':
      return (encoded ?? encodePayload(p)).byteLength;
  }
}

/** One queued request. `payload` may be replaced while it is delivered (what is left to send). */
export interface QueueEntry {
  readonly key: number;
  payload: Payload;
  /** Items in `payload`. */
  items: number;
  /** Size in the queue's unit. */
  size: number;
}

export interface DeliveryQueue {
  /** `queue_size`, in the unit of the sizer. */
  readonly capacity: number;
  /** Size of everything held: waiting, being delivered, waiting for a retry. */
  readonly size: number;
  /** Entries waiting to be taken. */
  readonly waiting: number;
  /** Loads what a previous run left (persistent queue); resolves with the number of entries found. */
  open(): Promise<number>;
  /**
   * Adds a payload; resolves once it is held (on disk for a persistent queue).
   * @throws RetryableError when the queue is full or closed, or the store cannot be written.
   */
  offer(p: Payload): Promise<void>;
  /**
   * The oldest waiting entry; waits for one, at most `waitMillis` when given (then resolves
   * undefined). Resolves undefined once the queue is stopped.
   */
  take(waitMillis?: number): Promise<QueueEntry | undefined>;
  /**
   * Records that only `payload` is left to send of the entries of one batch being delivered (the
   * rest was delivered or handed to the dead-letter route): the first entry holds `payload` from
   * now on, the others are removed, in one write for a persistent queue. What the destination
   * accepted is then not sent again, not even after a crash.
   */
  update(entries: readonly QueueEntry[], payload: Payload): Promise<void>;
  /** Removes delivered (or dead-lettered) entries. */
  ack(entries: readonly QueueEntry[]): Promise<void>;
  /** Refuses new data, stops handing out entries and wakes waiting takers (they get undefined). */
  stop(): void;
  /** Stops, then releases the store. Entries not acknowledged stay on disk (persistent) or are lost (memory). */
  close(): Promise<void>;
  /** Entries held but not acknowledged: after close, what a memory queue loses. */
  unacknowledged(): QueueEntry[];
}

/** A FIFO of waiting entries with an index of the head (no `shift()` copying). */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(v: T): void {
    this.items.push(v);
  }

  unshift(v: T): void {
    if (this.head > 0) this.items[--this.head] = v;
    else this.items.unshift(v);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head]!;
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }

  toArray(): T[] {
    return this.items.slice(this.head);
  }
}

/** Shared bookkeeping: capacity check, waiting takers, entries in delivery. */
export abstract class QueueBase implements DeliveryQueue {
  protected readonly entries = new Fifo<QueueEntry>();
  protected readonly inDelivery = new Set<QueueEntry>();
  private takers: ((e: QueueEntry | undefined) => void)[] = [];
  protected closed = false;
  protected held = 0;

  constructor(
    readonly capacity: number,
    protected readonly sizer: Sizer,
    protected readonly name: string,
  ) {}

  get size(): number {
    return this.held;
  }

  get waiting(): number {
    return this.entries.length;
  }

  abstract open(): Promise<number>;
  abstract offer(p: Payload): Promise<void>;
  abstract update(entries: readonly QueueEntry[], payload: Payload): Promise<void>;
  abstract ack(entries: readonly QueueEntry[]): Promise<void>;

  /** Reserves room for `size`, or throws RetryableError. One request larger than the capacity fits an empty queue. */
  protected reserve(size: number): void {
    if (this.closed) throw new RetryableError(`the sending queue of ${this.name} is closed (shutting down)`, 1000);
    if (this.held > 0 && this.held + size > this.capacity) {
      throw new RetryableError(`the sending queue of ${this.name} is full (${this.held} of ${this.capacity} ${this.unit()} held); try again later`, 1000);
    }
    this.held += size;
  }

  protected unit(): string {
    return this.sizer === 'requests' ? 'requests' : this.sizer;
  }

  /** Hands an entry to a waiting taker, or queues it. */
  protected push(e: QueueEntry): void {
    const taker = this.takers.shift();
    if (taker) {
      this.inDelivery.add(e);
      taker(e);
    } else this.entries.push(e);
  }

  take(waitMillis?: number): Promise<QueueEntry | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const e = this.entries.shift();
    if (e) {
      this.inDelivery.add(e);
      return Promise.resolve(e);
    }
    if (waitMillis !== undefined && waitMillis <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      if (waitMillis === undefined) return void this.takers.push(resolve);
      const timer = setTimeout(() => {
        this.takers = this.takers.filter((t) => t !== taker);
        resolve(undefined);
      }, waitMillis);
      const taker = (entry: QueueEntry | undefined) => {
        clearTimeout(timer);
        resolve(entry);
      };
      this.takers.push(taker);
    });
  }

  stop(): void {
    this.closed = true;
    for (const t of this.takers.splice(0)) t(undefined);
  }

  async close(): Promise<void> {
    this.stop();
  }

  unacknowledged(): QueueEntry[] {
    return [...this.inDelivery, ...this.entries.toArray()];
  }

  /** Frees the room of an entry being delivered; an entry already released is left alone. */
  protected release(entry: QueueEntry): void {
    if (this.inDelivery.delete(entry)) this.held -= entry.size;
  }

  /** Bookkeeping of {@link DeliveryQueue.update}: the first entry holds `payload` (of `size`), the others are released. */
  protected replace(entries: readonly QueueEntry[], payload: Payload, size: number): void {
    const first = entries[0]!;
    for (let i = 1; i < entries.length; i++) this.release(entries[i]!);
    this.held += size - first.size;
    first.size = size;
    first.payload = payload;
    first.items = itemCount(payload);
  }
}

/** The in-memory queue: fast, bounded, lost on a crash (drained on a graceful shutdown). */
export class MemoryQueue extends QueueBase {
  private seq = 0;

  async open(): Promise<number> {
    return 0;
  }

  async offer(p: Payload): Promise<void> {
    const size = sizeOf(p, this.sizer);
    this.reserve(size);
    this.push({ key: this.seq++, payload: p, items: itemCount(p), size });
  }

  async update(entries: readonly QueueEntry[], payload: Payload): Promise<void> {
    this.replace(entries, payload, sizeOf(payload, this.sizer));
  }

  async ack(entries: readonly QueueEntry[]): Promise<void> {
    for (const e of entries) this.release(e);
  }
}
