import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Payload } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { RetryableError } from '../../src/errors.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { decodePayload, encodePayload } from '../../src/delivery/codec.js';
import { PersistentQueue, queueDirectory } from '../../src/delivery/persistent_queue.js';
import { MemoryQueue } from '../../src/delivery/queue.js';
import { decodeLogsRequest, decodeMetricsRequest, decodeTracesRequest } from '../../src/otlp/proto.js';
import { fixtureBodyPlain, fixtureManifest } from '../helpers.js';

const ev = (i: number, extra: Partial<AnalyticsEvent> = {}): AnalyticsEvent => ({
  name: 'view_item',
  time_unix_nano: String(1_700_000_000_000_000_000n + BigInt(i)),
  insert_id: `id-${i}`,
  properties: { item_id: `sku-${i}`, value: i + 0.5, tags: ['a', 'b'], nested: { ok: true } },
  context: { source: 'span', 'service.name': 'shop' },
  ...extra,
});
const events = (from: number, n: number): Payload => ({ signal: 'events', data: Array.from({ length: n }, (_, i) => ev(from + i)) });

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-queue-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('memory queue', () => {
  it('is first in first out and bounded by items, counting entries until acknowledged', async () => {
    const q = new MemoryQueue(10, 'items', 'exporter t');
    await q.offer(events(0, 4));
    await q.offer(events(4, 6));
    await assert.rejects(q.offer(events(10, 1)), (e: unknown) => e instanceof RetryableError && /full \(10 of 10 items/.test(e.message));
    const a = (await q.take())!;
    assert.equal((a.payload.data as AnalyticsEvent[])[0]!.insert_id, 'id-0');
    await assert.rejects(q.offer(events(10, 1)), RetryableError, 'an entry being delivered keeps its room');
    await q.ack([a]);
    assert.equal(q.size, 6);
    await q.offer(events(10, 4));
    assert.equal(q.size, 10);
    assert.equal(((await q.take())!.payload.data as AnalyticsEvent[])[0]!.insert_id, 'id-4');
  });

  it('takes one request larger than the whole queue when it is empty', async () => {
    const q = new MemoryQueue(5, 'items', 'exporter t');
    await q.offer(events(0, 50));
    assert.equal(q.size, 50);
    await assert.rejects(q.offer(events(50, 1)), RetryableError);
  });

  it('counts requests or bytes with the other sizers', async () => {
    const r = new MemoryQueue(2, 'requests', 'exporter t');
    await r.offer(events(0, 100));
    await r.offer(events(100, 100));
    await assert.rejects(r.offer(events(200, 1)), RetryableError);
    const b = new MemoryQueue(10_000, 'bytes', 'exporter t');
    await b.offer(events(0, 3));
    assert.equal(b.size, encodePayload(events(0, 3)).byteLength);
  });

  it('wakes a waiting taker on offer, and with undefined when stopped; refuses offers once stopped', async () => {
    const q = new MemoryQueue(10, 'items', 'exporter t');
    const waiting = q.take();
    await q.offer(events(0, 1));
    assert.equal(itemCount((await waiting)!.payload), 1);
    const idle = q.take();
    q.stop();
    assert.equal(await idle, undefined);
    await assert.rejects(q.offer(events(1, 1)), /closed/);
  });
});

describe('queue record codec', () => {
  it('round-trips every fixture (traces, logs) and events with all their fields', () => {
    for (const f of fixtureManifest().filter((x) => x.path.endsWith('.pb'))) {
      const body = fixtureBodyPlain(f);
      const p: Payload = f.signal === 'traces' ? { signal: 'traces', data: decodeTracesRequest(body) } : { signal: 'logs', data: decodeLogsRequest(body) };
      assert.deepEqual(decodePayload(encodePayload(p)), p, f.path);
    }
    const e = events(0, 3);
    (e.data as AnalyticsEvent[])[1]!.dead_letter = { exporter: 'kafka', reason: 'too large', time: '2024-01-01T00:00:00.000Z' };
    (e.data as AnalyticsEvent[])[2]!.user_id = 'pseudonym';
    assert.deepEqual(decodePayload(encodePayload(e)), e);
  });

  it('keeps metrics as their protobuf bytes', () => {
    const empty = decodeMetricsRequest(new Uint8Array(0));
    const back = decodePayload(encodePayload({ signal: 'metrics', data: empty }));
    assert.equal(back.signal, 'metrics');
    assert.equal(itemCount(back), 0);
  });

  it('refuses records it did not write', () => {
    assert.throws(() => decodePayload(Buffer.from([9, 1, 2])), /unknown queue record tag 9/);
    assert.throws(() => decodePayload(Buffer.from([4, 0x7b])), /not JSON/);
  });
});

describe('queue room of a batch', () => {
  it('a batch whose rest was recorded frees each entry\'s room once', async () => {
    const q = new MemoryQueue(100, 'items', 'exporter t');
    for (let i = 0; i < 3; i++) await q.offer(events(i * 4, 4));
    const batch = [(await q.take())!, (await q.take())!, (await q.take())!];
    await q.update(batch, events(8, 2));
    assert.equal(q.size, 2, 'only the rest is held');
    await q.ack(batch);
    assert.equal(q.size, 0);
    await q.ack(batch);
    assert.equal(q.size, 0, 'acknowledging again changes nothing');
  });
});

describe('persistent queue (lmdb)', () => {
  it('keeps the payloads of the oldest waiting entries in memory up to its window, reads the others back from disk', async () => {
    const offered = [events(0, 10), events(10, 10), events(20, 10)];
    const stored = offered.map((p) => encodePayload(p).byteLength + 4);
    const q = new PersistentQueue(1000, 'items', 'exporter t', queueDirectory(tmp(), 'x'), () => {}, stored[0]! + stored[1]!);
    await q.open();
    for (const p of offered) await q.offer(p);
    assert.equal(q.memoryWindowBytes, stored[0]! + stored[1]!, 'the first two in memory, the third only on disk');
    const taken = [(await q.take())!, (await q.take())!, (await q.take())!];
    assert.equal(taken[0]!.payload, offered[0], 'within the window: the offered payload itself');
    assert.notEqual(taken[2]!.payload, offered[2], 'beyond the window: read back from disk');
    assert.deepEqual(taken[2]!.payload, offered[2]);
    assert.equal(q.memoryWindowBytes, 0);
    await q.ack(taken);
    await q.close();
  });

  it('keeps what was offered and not acknowledged across a reopen, in order', async () => {
    const dir = queueDirectory(tmp(), 'kafka/events');
    assert.match(dir, /kafka_events$/);
    const q1 = new PersistentQueue(100, 'items', 'exporter t', dir);
    assert.equal(await q1.open(), 0);
    for (let i = 0; i < 5; i++) await q1.offer(events(i * 10, 10));
    const first = (await q1.take())!;
    await q1.ack([first]);
    const second = (await q1.take())!; // taken, being sent when the process "dies"
    await q1.update([second], events(15, 5)); // a partial failure left half of it
    assert.equal(q1.size, 35);
    await q1.close();

    const q2 = new PersistentQueue(100, 'items', 'exporter t', dir);
    assert.equal(await q2.open(), 4);
    assert.equal(q2.size, 35);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const e = (await q2.take())!;
      got.push((e.payload.data as AnalyticsEvent[])[0]!.insert_id);
      await q2.ack([e]);
    }
    assert.deepEqual(got, ['id-15', 'id-20', 'id-30', 'id-40']);
    assert.equal(q2.size, 0);
    await q2.close();
    const q3 = new PersistentQueue(100, 'items', 'exporter t', dir);
    assert.equal(await q3.open(), 0, 'acknowledged entries are gone from disk');
    await q3.close();
  });

  it('is bounded like the memory queue, also by bytes', async () => {
    const q = new PersistentQueue(15, 'items', 'exporter t', path.join(tmp(), 'q'));
    await q.open();
    await q.offer(events(0, 10));
    await assert.rejects(q.offer(events(10, 10)), RetryableError);
    await q.close();
    const b = new PersistentQueue(1, 'bytes', 'exporter t', path.join(tmp(), 'b'));
    await b.open();
    await b.offer(events(0, 2));
    assert.equal(b.size, encodePayload(events(0, 2)).byteLength);
    await b.close();
  });

  it('skips and removes a damaged entry instead of failing', async () => {
    const dir = path.join(tmp(), 'damaged');
    const q1 = new PersistentQueue(100, 'items', 'exporter t', dir);
    await q1.open();
    await q1.offer(events(0, 1));
    await q1.offer(events(1, 1));
    await q1.close();
    const { open } = await import('lmdb');
    const raw = open<Buffer, number>({ path: dir, encoding: 'binary' });
    await raw.put(0, Buffer.from([1, 0, 0, 0, 4, 0x7b]));
    await raw.close();
    const damaged: number[] = [];
    const q2 = new PersistentQueue(100, 'items', 'exporter t', dir, (key) => damaged.push(key));
    assert.equal(await q2.open(), 2);
    const e = (await q2.take())!;
    assert.equal((e.payload.data as AnalyticsEvent[])[0]!.insert_id, 'id-1');
    assert.deepEqual(damaged, [0]);
    await q2.ack([e]);
    await q2.close();
  });
});
