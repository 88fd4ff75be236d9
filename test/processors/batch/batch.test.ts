import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Payload } from '../../../src/component.js';
import { RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { batchProcessorFactory } from '../../../processors/batch/index.js';
import { splitPayload } from '../../../processors/batch/split.js';
import { decodeTracesRequest } from '../../../src/otlp/proto.js';
import { spanCount } from '../../../src/pdata.js';
import { readFixture } from '../../helpers.js';

const ev = (i: number): AnalyticsEvent => ({ name: 'e', time_unix_nano: String(i), insert_id: String(i), properties: {}, context: { source: 'log' } });
const events = (from: number, n: number): Payload => ({ signal: 'events', data: Array.from({ length: n }, (_, i) => ev(from + i)) });

function make(raw: unknown, consume: (p: Payload) => Promise<void>) {
  const cfg = batchProcessorFactory.configSchema.parse(raw);
  return batchProcessorFactory.create({ id: 'batch', pipeline: 'events', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, cfg, { consume });
}

describe('batch processor', () => {
  it('sends when send_batch_size is reached, and splits at send_batch_max_size', async () => {
    const sent: number[] = [];
    const b = make({ send_batch_size: 10, send_batch_max_size: 15, timeout: '10s' }, async (p) => void sent.push((p.data as unknown[]).length));
    await b.consume(events(0, 4));
    assert.deepEqual(sent, []);
    await b.consume(events(4, 20));
    assert.deepEqual(sent, [15, 9]);
    await b.shutdown();
  });

  it('sends after the timeout, and on shutdown', async () => {
    const sent: string[][] = [];
    const b = make({ send_batch_size: 100, timeout: '30ms' }, async (p) => void sent.push((p.data as AnalyticsEvent[]).map((e) => e.insert_id)));
    await b.consume(events(0, 2));
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual(sent, [['0', '1']]);
    await b.consume(events(2, 1));
    await b.shutdown();
    assert.deepEqual(sent, [['0', '1'], ['2']]);
  });

  it('keeps a refused batch and retries it; refuses new data above max_buffered_items', async () => {
    let refuse = true;
    const delivered: string[] = [];
    const b = make({ send_batch_size: 5, timeout: '10s', max_buffered_items: 8 }, async (p) => {
      if (refuse) throw new RetryableError('full', 20);
      delivered.push(...(p.data as AnalyticsEvent[]).map((e) => e.insert_id));
    });
    await b.consume(events(0, 5)); // sent, refused, held for retry
    await assert.rejects(b.consume(events(5, 5)), (err: unknown) => err instanceof RetryableError);
    refuse = false;
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(delivered, ['0', '1', '2', '3', '4']);
    await b.consume(events(5, 5));
    await b.shutdown();
    assert.equal(delivered.length, 10);
  });

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
});
