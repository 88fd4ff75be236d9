/**
 * The kafka exporter's encoding in slices (exporters/kafka/slices.ts): cut at every look at the
 * clock, it writes the same records and byte for byte the same Produce requests as kafkajs and as
 * the encoding in one go, and it does give the event loop turns in between.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import type { AnalyticsEvent } from '../../../src/event.js';
import { useCompression } from '../../../src/kafka/client.js';
import { kafkaExporterFactory } from '../../../exporters/kafka/index.js';
import { crc32cSliced, produceRequestV3, type ProduceMessage, type ProduceRequestArgs } from '../../../src/kafka/produce.js';
import { RecordEncoder } from '../../../exporters/kafka/records.js';
import { LoopLoad, LoopShare, slicing, SLICE_MILLIS, type LoopTimes } from '../../../src/kafka/slices.js';
import { eventsOf, fixtureData } from './kafka-helpers.js';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): unknown };
const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;

/** kafkajs' module at `path` as shipped, whatever the module cache holds now. */
function kafkajsModule(path: string): unknown {
  const cached = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as unknown;
  } finally {
    if (cached) require.cache[path] = cached;
    else delete require.cache[path];
  }
}
const kafkajsProduce = kafkajsModule(require.resolve('kafkajs/src/protocol/requests/produce/v3/request')) as typeof produceRequestV3;

async function encoded(make: typeof produceRequestV3, a: ProduceRequestArgs): Promise<Buffer> {
  const e = await make(a).encode();
  return e.buf.subarray(0, e.offset);
}

/** Turns of the event loop (setImmediate callbacks run) while `work` runs. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}

const message: fc.Arbitrary<ProduceMessage> = fc.record(
  {
    key: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null)),
    value: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u))),
    headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 3 }),
  },
  { requiredKeys: ['value'] },
);
/** Requests of partitions with up to 120 messages: many slices each when cut at every look. */
const args = (compression: number): fc.Arbitrary<ProduceRequestArgs> =>
  fc.record({
    acks: fc.constantFrom(-1, 1),
    timeout: fc.constant(30_000),
    producerId: fc.bigInt({ min: -1n, max: 2n ** 40n }).map((v) => Long.fromValue(v)),
    producerEpoch: fc.integer({ min: 0, max: 100 }),
    compression: fc.constant(compression),
    topicData: fc.array(
      fc.record({
        topic: fc.string({ minLength: 1, maxLength: 12 }),
        partitions: fc.array(fc.record({ partition: fc.nat(20), firstSequence: fc.nat(1000), messages: fc.array(message, { minLength: 1, maxLength: 120 }) }), { minLength: 1, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  });

describe('kafka exporter: encoding in slices', () => {
  beforeEach(() => {
    slicing.sliceMillis = 0; // a turn at every look at the clock
  });
  afterEach(() => {
    slicing.sliceMillis = SLICE_MILLIS;
  });

  for (const [name, compression] of [
    ['uncompressed', useCompression('none')],
    ['gzip', useCompression('gzip')],
    ['lz4', useCompression('lz4')],
  ] as const) {
    it(`writes the Produce request kafkajs writes, cut at every look at the clock, ${name}`, async (t) => {
      t.mock.method(Date, 'now', () => 1_700_000_000_123);
      await fc.assert(
        fc.asyncProperty(args(compression), async (a) => {
          const ours = await encoded(produceRequestV3, a);
          const theirs = await encoded(kafkajsProduce, a);
          assert.ok(ours.equals(theirs), `${ours.length} bytes against kafkajs' ${theirs.length}`);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('gives the event loop turns while it writes a large request, and the same bytes as in one slice', async (t) => {
    t.mock.method(Date, 'now', () => 1_700_000_000_123);
    const messages = Array.from({ length: 1000 }, (_, i) => ({ key: `user-${i % 37}`, value: JSON.stringify({ name: 'view_item', i, page: `/pdp/item-${i}.html` }), headers: { 'content-type': 'application/json', 'event.name': 'view_item' } }));
    const a: ProduceRequestArgs = { acks: -1, timeout: 30_000, compression: useCompression('lz4'), topicData: [{ topic: 'ev', partitions: [0, 1, 2].map((partition) => ({ partition, messages: messages.filter((_, i) => i % 3 === partition) })) }] };
    const { result: cut, turns } = await turnsDuring(() => encoded(produceRequestV3, a));
    assert.ok(turns >= 50, `${turns} turns of the event loop while writing 1000 records`);
    slicing.sliceMillis = 60_000; // one slice
    const whole = await encoded(produceRequestV3, a);
    assert.ok(cut.equals(whole));
    assert.ok(cut.equals(await encoded(kafkajsProduce, a)));
  });

  it('computes the CRC-32C kafkajs computes, in chunks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), async (u) => {
        assert.equal(await crc32cSliced(u, new LoopShare(0)), kafkajsCrc32C(Buffer.from(u)));
      }),
    );
    const large = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff));
    const { result, turns } = await turnsDuring(() => crc32cSliced(large, new LoopShare(0)));
    assert.equal(result, kafkajsCrc32C(large));
    assert.ok(turns >= 4, `${turns} turns over 5 chunks`);
  });

  for (const encoding of ['json', 'otlp_proto', 'otlp_json'] as const) {
    it(`makes the records of the one-go encoding from the fixtures' events, ${encoding}`, async () => {
      const events: AnalyticsEvent[] = [];
      const fixture = eventsOf(fixtureData());
      // Enough events for many slices, each a copy with an insert id of its own.
      for (let i = 0; events.length < 400; i++) for (const e of fixture) events.push({ ...e, insert_id: `${e.insert_id}-${i}` });
      const cfg = kafkaExporterFactory.configSchema.parse({ events: { topic: 'ev', encoding }, producer: { max_message_bytes: 1500 } });
      const encoder = new RecordEncoder(cfg);
      const p = { signal: 'events' as const, data: events };
      const { result: sliced, turns } = await turnsDuring(() => encoder.encodeSliced(p));
      const whole = encoder.encode(p);
      assert.ok(turns >= 10, `${turns} turns while encoding ${events.length} events`);
      const plain = (e: typeof whole) => ({
        records: e.records.map((r) => ({ topic: r.topic, key: r.key, value: Buffer.from(r.value), headers: r.headers })),
        rejected: e.rejected.map((r) => ({ reason: r.reason, data: r.payload.data })),
      });
      assert.deepEqual(plain(sliced), plain(whole));
      assert.equal(sliced.records.length + sliced.rejected.length, events.length);
    });
  }
});

/** Keeps the thread busy for `ms`. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** A {@link LoopLoad} that is saturated or not, as told. */
function fixedLoad(saturated: boolean): LoopLoad {
  const load = new LoopLoad(() => ({ active: 0, idle: 0 }), Infinity);
  load.saturated = saturated;
  return load;
}

describe('kafka exporter: the length of a slice', () => {
  /** How long `share`'s slice lasts right after a turn in which other work kept the loop for 30 ms. */
  async function sliceAfterLongTurn(share: LoopShare): Promise<number> {
    setImmediate(() => busy(30)); // queued before the turn's own callback: it runs inside the turn
    await share.turn();
    const start = performance.now();
    while (!share.due());
    return performance.now() - start;
  }

  it('keeps to SLICE_MILLIS after a long turn while the event loop is not saturated', async () => {
    const ms = await sliceAfterLongTurn(new LoopShare(SLICE_MILLIS, fixedLoad(false)));
    assert.ok(ms < 15, `a slice of ${ms.toFixed(1)} ms after a turn of 30 ms`);
  });

  it('lasts as long as the turn before it while the event loop is saturated', async () => {
    const ms = await sliceAfterLongTurn(new LoopShare(SLICE_MILLIS, fixedLoad(true)));
    assert.ok(ms >= 25, `a slice of ${ms.toFixed(1)} ms after a turn of 30 ms`);
  });
});

describe('kafka exporter: the event loop load that slices go by', () => {
  it('is saturated when the loop was busy at least 90% of a window, and only decides once a window has passed', () => {
    let times: LoopTimes = { active: 0, idle: 0 };
    const load = new LoopLoad(() => times, 0);
    assert.equal(load.saturated, true, 'saturated until measured');
    times = { active: 50, idle: 450 };
    load.update(performance.now());
    assert.equal(load.saturated, false, '10% busy');
    times = { active: 50 + 455, idle: 450 + 45 };
    load.update(performance.now());
    assert.equal(load.saturated, true, '91% busy');
    times = { active: 505 + 890, idle: 495 + 110 };
    load.update(performance.now());
    assert.equal(load.saturated, false, '89% busy');
    load.update(performance.now());
    assert.equal(load.saturated, false, 'an empty window decides nothing');

    const waiting = new LoopLoad(() => times, 60_000);
    times = { active: times.active + 1000, idle: times.idle };
    waiting.update(performance.now());
    assert.equal(waiting.saturated, true, 'the window has not passed yet: as it started');
  });

  it("reads this process's event loop", async () => {
    const load = new LoopLoad(undefined, 200);
    // Busy: callbacks of 20 ms one after the other for 300 ms.
    for (const end = performance.now() + 300; performance.now() < end; ) await new Promise<void>((r) => setImmediate(() => (busy(20), r())));
    load.update(performance.now());
    assert.equal(load.saturated, true, 'after 300 ms of work');
    await new Promise((r) => setTimeout(r, 300));
    load.update(performance.now());
    assert.equal(load.saturated, false, 'after 300 ms of waiting');
  });
});
