import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Payload } from '../../../src/component.js';
import { RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { batchProcessorFactory } from '../../../processors/batch/index.js';

const ev = (i: number): AnalyticsEvent => ({ name: 'e', time_unix_nano: String(i), insert_id: String(i), properties: {}, context: { source: 'log' } });
const events = (from: number, n: number): Payload => ({ signal: 'events', data: Array.from({ length: n }, (_, i) => ev(from + i)) });

function make(raw: unknown, consume: (p: Payload) => Promise<void>) {
  const cfg = batchProcessorFactory.configSchema.parse(raw);
  return batchProcessorFactory.create({ id: 'batch', pipeline: 'events', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, cfg, { consume });
}

const batching = (raw: unknown) => batchProcessorFactory.exporterBatching!(batchProcessorFactory.configSchema.parse(raw));

describe('batch processor', () => {
  it('holds nothing: a request is handed on at once and acknowledged only once the next stage took it', async () => {
    const taken: Payload[] = [];
    let release!: () => void;
    const b = make({ send_batch_size: 100, timeout: '10s' }, async (p) => {
      taken.push(p);
      await new Promise<void>((r) => (release = r));
    });
    const p = events(0, 3);
    let acknowledged = false;
    const consumed = b.consume(p).then(() => (acknowledged = true));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(taken, [p], 'handed on as it came, without waiting for the timeout');
    assert.equal(acknowledged, false, 'not acknowledged before the next stage took it');
    release();
    await consumed;
    assert.equal(acknowledged, true);
  });

  it('passes a refusal of the next stage back to the caller (nothing acknowledged that was not taken)', async () => {
    const b = make({}, async () => {
      throw new RetryableError('queue full', 1000);
    });
    await assert.rejects(b.consume(events(0, 2)), (err: unknown) => err instanceof RetryableError && err.retryAfterMillis === 1000);
  });

  it('asks the exporters after it for batches of its settings, built in their sending queues', () => {
    assert.deepEqual(batching({}), { flush_timeout: 200, min_size: 8192, max_size: 0 });
    assert.deepEqual(batching({ send_batch_size: 500, send_batch_max_size: 1000, timeout: '1s' }), { flush_timeout: 1000, min_size: 500, max_size: 1000 });
    assert.equal(batching({ timeout: '0s' }).min_size, 0, 'timeout 0: each request is sent at once');
    assert.deepEqual(batching({ send_batch_size: 0, timeout: '50ms' }), { flush_timeout: 50, min_size: Number.MAX_SAFE_INTEGER, max_size: 0 }, 'size 0: only the timeout sends');
  });

  it('refuses send_batch_max_size below send_batch_size, and the removed max_buffered_items', () => {
    assert.throws(() => batchProcessorFactory.configSchema.parse({ send_batch_size: 100, send_batch_max_size: 50 }));
    assert.throws(() => batchProcessorFactory.configSchema.parse({ max_buffered_items: 10 }));
  });
});
