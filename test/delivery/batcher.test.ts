import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Payload } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { BatchSource } from '../../src/delivery/batcher.js';
import { mergePayloads, splitPayload } from '../../src/delivery/merge.js';
import { MemoryQueue } from '../../src/delivery/queue.js';
import { EncodedTraces } from '../../src/otlp/encoded.js';
import { decodeTracesRequest } from '../../src/otlp/proto.js';
import { spanCount } from '../../src/pdata.js';
import { readFixture } from '../helpers.js';

const ev = (i: number): AnalyticsEvent => ({ name: 'e', time_unix_nano: String(i), insert_id: `id-${i}`, properties: {}, context: { source: 'log' } });
const events = (from: number, n: number): Payload => ({ signal: 'events', data: Array.from({ length: n }, (_, i) => ev(from + i)) });
const ids = (p: Payload) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id);

describe('sending queue batches (BatchSource)', () => {
  it('without batch settings: one queued request at a time', async () => {
    const q = new MemoryQueue(100, 'items', 'x');
    await q.offer(events(0, 2));
    await q.offer(events(2, 2));
    const src = new BatchSource(q, undefined);
    const b = (await src.next())!;
    assert.equal(b.entries.length, 1);
    assert.deepEqual(ids(b.payload), ['id-0', 'id-1']);
  });

  it('takes requests until min_size, keeps whole requests, and leaves the rest for the next batch', async () => {
    const q = new MemoryQueue(100, 'items', 'x');
    for (let i = 0; i < 4; i++) await q.offer(events(i * 3, 3));
    const src = new BatchSource(q, { min_size: 5, max_size: 0, flush_timeout: 1000 });
    const b = (await src.next())!;
    assert.equal(b.entries.length, 2);
    assert.equal(itemCount(b.payload), 6);
    assert.deepEqual(ids(b.payload), ['id-0', 'id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
    assert.equal(q.size, 12, 'the entries stay in the queue until acknowledged');
    await q.ack(b.entries);
    assert.equal(q.size, 6);
  });

  it('sends what it has once flush_timeout has passed since the first request', async () => {
    const q = new MemoryQueue(100, 'items', 'x');
    const src = new BatchSource(q, { min_size: 100, max_size: 0, flush_timeout: 50 });
    const started = Date.now();
    const next = src.next();
    await q.offer(events(0, 1));
    setTimeout(() => void q.offer(events(1, 1)), 10);
    const b = (await next)!;
    assert.ok(Date.now() - started >= 45);
    assert.deepEqual(ids(b.payload), ['id-0', 'id-1']);
  });

  it('builds one batch at a time: the second consumer gets the next batch', async () => {
    const q = new MemoryQueue(100, 'items', 'x');
    const src = new BatchSource(q, { min_size: 2, max_size: 0, flush_timeout: 1000 });
    const first = src.next();
    const second = src.next();
    for (let i = 0; i < 4; i++) await q.offer(events(i, 1));
    assert.deepEqual(ids((await first)!.payload), ['id-0', 'id-1']);
    assert.deepEqual(ids((await second)!.payload), ['id-2', 'id-3']);
  });

  it('never mixes signals: a request of another signal starts the next batch', async () => {
    const q = new MemoryQueue(100, 'requests', 'x');
    const traces = decodeTracesRequest(readFixture('traces-shop-01.pb'));
    await q.offer(events(0, 1));
    await q.offer({ signal: 'traces', data: traces });
    await q.offer(events(1, 1));
    const src = new BatchSource(q, { min_size: 100, max_size: 0, flush_timeout: 20 });
    assert.equal((await src.next())!.payload.signal, 'events');
    const t = (await src.next())!;
    assert.equal(t.payload.signal, 'traces');
    assert.equal(t.entries.length, 1);
    assert.deepEqual(ids((await src.next())!.payload), ['id-1']);
  });

  it('stops handing out batches once the queue is stopped', async () => {
    const q = new MemoryQueue(100, 'items', 'x');
    const src = new BatchSource(q, { min_size: 10, max_size: 0, flush_timeout: 1000 });
    const next = src.next();
    q.stop();
    assert.equal(await next, undefined);
  });
});

describe('merging and splitting payloads', () => {
  it('splits traces keeping resource and scope grouping', () => {
    const data = decodeTracesRequest(readFixture('traces-shop-02.pb'));
    const total = spanCount(data);
    const parts = splitPayload({ signal: 'traces', data }, 7);
    assert.equal(parts.length, Math.ceil(total / 7));
    let n = 0;
    for (const p of parts) {
      assert.equal(p.signal, 'traces');
      const c = p.signal === 'traces' ? spanCount(p.data) : 0;
      assert.ok(c <= 7);
      n += c;
      if (p.signal === 'traces') for (const rs of p.data.resourceSpans) assert.deepEqual(rs.resource, data.resourceSpans[0]!.resource);
    }
    assert.equal(n, total);
  });

  it('merges traces still in their protobuf bytes as bytes, which decode to both requests', () => {
    const a = readFixture('traces-shop-01.pb');
    const b = readFixture('traces-shop-02.pb');
    const na = spanCount(decodeTracesRequest(a));
    const nb = spanCount(decodeTracesRequest(b));
    const merged = mergePayloads([
      { signal: 'traces', data: new EncodedTraces(a, na) },
      { signal: 'traces', data: new EncodedTraces(b, nb) },
    ]);
    assert.ok(merged.data instanceof EncodedTraces);
    assert.equal(itemCount(merged), na + nb);
    assert.equal(spanCount(decodeTracesRequest((merged.data as EncodedTraces).bytes!)), na + nb);
  });
});
