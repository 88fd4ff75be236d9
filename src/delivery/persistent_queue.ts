/**
 * The persistent sending queue: every entry is written to an LMDB environment (the `lmdb` package,
 * https://github.com/kriszyp/lmdb-js) before `offer` resolves, and removed only once delivered or
 * dead-lettered. A gateway killed at any moment (SIGKILL, OOM, power loss after the commit was
 * flushed) finds on its next start every entry it had accepted and not yet delivered, and sends
 * them first; an entry that was being sent when the process died is sent again (at-least-once).
 *
 * Layout: `<storage>/<exporter id, '/' replaced by '_'>/` holds LMDB's `data.mdb` and `lock.mdb`.
 * Keys are increasing integers (the queue order); a value is 4 bytes of item count (uint32 LE)
 * followed by a record of `codec.ts`. The payloads of the oldest waiting entries stay in memory as
 * well, up to {@link MEMORY_WINDOW_BYTES} of their stored form, so that a queue the consumers keep up
 * with never reads back what it just wrote; beyond that only keys and sizes stay in memory and
 * payloads are read back from disk when taken, so a long outage costs disk, not memory. One gateway
 * per directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RootDatabase } from 'lmdb';
import type { Payload } from '../component.js';
import { itemCount } from '../component.js';
import { errorMessage, RetryableError } from '../errors.js';
import { decodePayload, encodePayload } from './codec.js';
import { QueueBase, sizeOf, type QueueEntry, type Sizer } from './queue.js';

/**
 * Directory of an exporter's queue under the `storage` directory: `<storage>/<exporter>` for a
 * single-process gateway and for worker 0 of several, `<storage>/worker-<i>/<exporter>` for worker i.
 */
export function queueDirectory(storage: string, exporterId: string, worker = 0): string {
  const name = exporterId.replace(/[^A-Za-z0-9._-]/g, '_');
  return worker === 0 ? path.join(path.resolve(storage), name) : path.join(path.resolve(storage), `worker-${worker}`, name);
}

/**
 * Queue directories of an exporter that worker `worker` of `workers` takes over: those of workers
 * `worker + workers`, `worker + 2 × workers`, … that a previous run with more workers left under
 * `storage`, so that a gateway restarted with fewer workers still delivers what the others held.
 */
export function leftQueueDirectories(storage: string, exporterId: string, worker: number, workers: number): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.resolve(storage));
  } catch {
    return [];
  }
  const found: { index: number; dir: string }[] = [];
  for (const n of names) {
    const m = /^worker-(\d+)$/.exec(n);
    if (!m) continue;
    const index = Number(m[1]);
    if (index < workers || index % workers !== worker) continue;
    const dir = queueDirectory(storage, exporterId, index);
    if (fs.existsSync(path.join(dir, 'data.mdb'))) found.push({ index, dir });
  }
  return found.sort((a, b) => a.index - b.index).map((f) => f.dir);
}

function record(p: Payload): { value: Buffer; items: number } {
  const body = encodePayload(p);
  const items = itemCount(p);
  const value = Buffer.allocUnsafe(body.byteLength + 4);
  value.writeUInt32LE(Math.min(items, 0xffffffff), 0);
  value.set(body, 4);
  return { value, items };
}

/** Stored bytes of waiting entries whose payloads are also kept in memory: 32 MiB. */
export const MEMORY_WINDOW_BYTES = 32 * 1024 * 1024;

/** An entry kept on disk; its payload is in memory when `loaded`, else only its key, item count and size. */
interface DiskEntry extends QueueEntry {
  loaded: boolean;
  /** Stored bytes counted in the memory window while it waits with its payload loaded; 0 otherwise. */
  windowBytes: number;
}

export class PersistentQueue extends QueueBase {
  private db: RootDatabase<Buffer, number> | undefined;
  private nextKey = 0;
  /** Entries on disk that cannot be read back (damaged); skipped and removed. */
  damaged = 0;
  /** Stored bytes of the waiting entries whose payloads are in memory. */
  private windowBytes = 0;
  /** Entries moved into this queue from the directories taken over, on open. */
  adopted = 0;

  constructor(
    capacity: number,
    sizer: Sizer,
    name: string,
    readonly directory: string,
    private readonly onDamaged: (key: number, reason: string) => void = () => {},
    /** Stored bytes of waiting entries whose payloads stay in memory too. */
    private readonly memoryWindow = MEMORY_WINDOW_BYTES,
    /** Queue directories left by workers of a previous run (see {@link leftQueueDirectories}): their entries are moved into this queue on open. */
    private readonly takeOver: readonly string[] = [],
  ) {
    super(capacity, sizer, name);
  }

  async open(): Promise<number> {
    fs.mkdirSync(this.directory, { recursive: true });
    // Loaded here, so gateways without a persistent queue do not carry the store.
    const { open } = await import('lmdb');
    const db = open<Buffer, number>({ path: this.directory, encoding: 'binary', keyEncoding: 'ordered-binary', compression: false });
    this.db = db;
    for (const dir of this.takeOver) this.adopted += await this.adopt(db, dir, open);
    let found = 0;
    for (const { key, value } of db.getRange({})) {
      if (typeof key !== 'number' || value.byteLength < 5) {
        this.onDamaged(Number(key), 'entry too short');
        await db.remove(key);
        continue;
      }
      const items = value.readUInt32LE(0);
      const size = this.sizer === 'items' ? items : this.sizer === 'requests' ? 1 : value.byteLength - 4;
      const e: DiskEntry = { key, payload: undefined as unknown as Payload, items, size, loaded: false, windowBytes: 0 };
      this.held += size;
      this.entries.push(e);
      this.nextKey = Math.max(this.nextKey, key + 1);
      found++;
    }
    return found;
  }

  /**
   * Moves the entries of the queue in `dir` (left by a worker of a previous run) to the end of this
   * one, in their order, in one transaction, then removes `dir`. A crash before the removal leaves
   * them in both: sent twice, never lost.
   */
  private async adopt(db: RootDatabase<Buffer, number>, dir: string, open: typeof import('lmdb').open): Promise<number> {
    const other = open<Buffer, number>({ path: dir, encoding: 'binary', keyEncoding: 'ordered-binary', compression: false });
    let last = -1;
    for (const key of db.getKeys({ reverse: true, limit: 1 })) last = typeof key === 'number' ? key : last;
    let next = last + 1;
    const moved: Buffer[] = [];
    for (const { value } of other.getRange({})) moved.push(Buffer.from(value));
    if (moved.length > 0) await db.transaction(() => moved.forEach((v) => void db.put(next++, v)));
    await db.flushed;
    await other.close();
    fs.rmSync(dir, { recursive: true, force: true });
    return moved.length;
  }

  async offer(p: Payload): Promise<void> {
    const db = this.db;
    if (!db) throw new RetryableError(`the persistent queue of ${this.name} is not open`, 1000);
    const { value, items } = record(p);
    const size = sizeOf(p, this.sizer, value.subarray(4));
    this.reserve(size);
    const key = this.nextKey++;
    try {
      await db.put(key, value);
    } catch (err) {
      this.held -= size;
      throw new RetryableError(`cannot write the persistent queue of ${this.name} in ${this.directory}: ${errorMessage(err)}`, 1000);
    }
    // Within the window the payload stays in memory too; beyond it, it is read back when taken.
    const keep = this.windowBytes + value.byteLength <= this.memoryWindow;
    const e: DiskEntry = { key, payload: keep ? p : (undefined as unknown as Payload), items, size, loaded: keep, windowBytes: keep ? value.byteLength : 0 };
    this.windowBytes += e.windowBytes;
    this.push(e);
  }

  /** Stored bytes of the waiting entries whose payloads are in memory (at most the window). */
  get memoryWindowBytes(): number {
    return this.windowBytes;
  }

  /** Takes the next entry, reading its payload from disk; damaged entries are removed and skipped. */
  override async take(waitMillis?: number): Promise<QueueEntry | undefined> {
    for (;;) {
      const e = (await super.take(waitMillis)) as DiskEntry | undefined;
      if (e) {
        this.windowBytes -= e.windowBytes;
        e.windowBytes = 0;
      }
      if (!e || e.loaded) return e;
      const value = this.db?.get(e.key);
      if (value) {
        try {
          e.payload = decodePayload(value.subarray(4));
          e.loaded = true;
          return e;
        } catch (err) {
          this.onDamaged(e.key, errorMessage(err));
        }
      } else this.onDamaged(e.key, 'entry missing');
      this.damaged++;
      await this.ack([e]);
    }
  }

  async update(entries: readonly QueueEntry[], payload: Payload): Promise<void> {
    const { value } = record(payload);
    const size = sizeOf(payload, this.sizer, value.subarray(4));
    const db = this.db;
    // One transaction: a crash leaves either the entries as they were or the rest alone.
    await db?.transaction(() => {
      void db.put(entries[0]!.key, value);
      for (let i = 1; i < entries.length; i++) void db.remove(entries[i]!.key);
    });
    this.replace(entries, payload, size);
  }

  async ack(entries: readonly QueueEntry[]): Promise<void> {
    for (const e of entries) this.release(e);
    const db = this.db;
    if (!db) return;
    if (entries.length === 1) await db.remove(entries[0]!.key);
    else await db.transaction(() => entries.forEach((e) => void db.remove(e.key)));
  }

  /** Closes the store once pending writes are committed; entries not acknowledged stay on disk for the next start. */
  override async close(): Promise<void> {
    await super.close();
    const db = this.db;
    this.db = undefined;
    if (db) {
      await db.flushed;
      await db.close();
    }
  }
}
