/**
 * The kafka exporter against a real broker: the fixtures' events, spans and log records arrive
 * once each with their keys, W3C trace headers and encoding; per-key order holds; oversized
 * records are refused with both sizes; compression codecs are accepted by the broker; a batch after
 * a send whose answer was lost is written, not taken for a duplicate, and the retry of that send
 * (the exporter's, or kafkajs' own with the records' partitions given) is not written twice; a
 * broker that cannot be reached is a retryable failure.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, it } from 'node:test';
import type { Payload } from '../../../src/component.js';
import { RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { logsDataToEvents } from '../../../src/event.js';
import { decodeLogsJson } from '../../../src/otlp/json.js';
import { decodeLogsRequest, decodeTracesRequest } from '../../../src/otlp/proto.js';
import { spanCount, logRecordCount, type Span } from '../../../src/pdata.js';
import { kafkaExporterFactory, KafkaExporter } from '../../../exporters/kafka/index.js';
import { parseTraceparent } from '../../../src/kafka/traceparent.js';
import { freePort } from '../../helpers.js';
import { captureHost, createTopic, eventsOf, fixtureData, noKafka, readTopic, settings, startBroker, type Broker } from './kafka-helpers.js';
import { describeUnless } from '../../skip.js';

// kafkajs' connection to one broker and its connection error, to lose the answer to a Produce request.
const require = createRequire(import.meta.url);
const KafkaBroker = require('kafkajs/src/broker') as { prototype: { produce(...args: unknown[]): Promise<unknown> } };
const { KafkaJSConnectionError } = require('kafkajs/src/errors') as { KafkaJSConnectionError: new (message: string) => Error };

/**
 * Makes kafkajs' next Produce request be written by the broker and its answer lost; after it, the
 * broker is out of reach (`then: 'down'`, every request fails until `up()`) or back (`'up'`).
 * `restore()` puts kafkajs' own Produce back.
 */
function loseNextAnswer(then: 'down' | 'up'): { up(): void; restore(): void } {
  const produce = KafkaBroker.prototype.produce;
  let state: 'lose-answer' | 'down' | 'up' = 'lose-answer';
  KafkaBroker.prototype.produce = async function (this: unknown, ...args: unknown[]) {
    if (state === 'down') throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    const answer: unknown = await produce.apply(this, args);
    if (state === 'up') return answer;
    state = then;
    throw new KafkaJSConnectionError('Connection error: socket closed before the answer');
  };
  return { up: () => void (state = 'up'), restore: () => void (KafkaBroker.prototype.produce = produce) };
}

function exporter(id: string, raw: Record<string, unknown>): KafkaExporter {
  const cfg = kafkaExporterFactory.configSchema.parse({ sending_queue: { enabled: false }, retry_on_failure: { enabled: false }, ...raw });
  return kafkaExporterFactory.create(settings(id), cfg) as KafkaExporter;
}

const data = fixtureData();
const events = eventsOf(data);
const spans: Span[] = data.traces.flatMap((t) => t.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));

describeUnless(noKafka, 'kafka exporter', { timeout: 120_000 }, () => {
  let broker: Broker;
  const { host, deadLetters } = captureHost();

  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker?.stop();
  });

  it('writes every fixture event once, as JSON, keyed by user id else session id, with a traceparent of its source span', async () => {
    assert.ok(events.length > 20, 'the fixtures make events');
    const ex = exporter('kafka/events', { brokers: broker.brokers, events: { topic: 'ev-json' } });
    await ex.start(host);
    try {
      // In several batches, as a pipeline would hand them over.
      for (let i = 0; i < events.length; i += 7) await ex.consume({ signal: 'events', data: events.slice(i, i + 7) });
    } finally {
      await ex.shutdown();
    }
    const got = await readTopic(broker.brokers, 'ev-json', (r) => r.length >= events.length, { settleMs: 500 });
    assert.equal(got.length, events.length, 'each event exactly once');
    const byInsertId = new Map(events.map((e) => [e.insert_id, e]));
    assert.equal(byInsertId.size, events.length);
    for (const r of got) {
      const e = JSON.parse(r.value.toString()) as AnalyticsEvent;
      const want = byInsertId.get(e.insert_id);
      assert.ok(want, `unexpected event ${e.insert_id}`);
      assert.deepEqual(e, JSON.parse(JSON.stringify(want)));
      assert.equal(r.key, want.user_id ?? want.session_id ?? null);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['event.name'], want.name);
      if (want.context.trace_id) {
        const tp = parseTraceparent(r.headers.traceparent ?? '');
        assert.ok(tp, `valid traceparent on ${want.name}: ${r.headers.traceparent}`);
        assert.equal(tp.traceId, want.context.trace_id);
        assert.equal(tp.spanId, want.context.span_id);
        if (want.context.source === 'span') assert.ok(spans.some((s) => s.traceId === tp.traceId && s.spanId === tp.spanId), 'the source span exists');
      } else assert.equal(r.headers.traceparent, undefined);
    }
    assert.ok(got.some((r) => r.key !== null) && new Set(got.map((r) => r.partition)).size > 1, 'keys spread over partitions');
  });

  it('keeps the order of each key across batches', async () => {
    // Every event made twelve times with a sequence number, for a few keys, in interleaved batches.
    const keyed = events.filter((e) => e.session_id || e.user_id).slice(0, 4);
    const sent: AnalyticsEvent[] = [];
    for (let seq = 0; seq < 12; seq++) for (const e of keyed) sent.push({ ...e, insert_id: `${e.insert_id}-${seq}`, properties: { ...e.properties, seq } });
    const ex = exporter('kafka/order', { brokers: broker.brokers, events: { topic: 'ev-order' }, producer: { compression: 'gzip' } });
    await ex.start(host);
    try {
      await Promise.all([0, 1, 2, 3].map((b) => ex.consume({ signal: 'events', data: sent.slice(b * 12, b * 12 + 12) })));
    } finally {
      await ex.shutdown();
    }
    const got = await readTopic(broker.brokers, 'ev-order', (r) => r.length >= sent.length);
    const byKey = new Map<string, number[]>();
    for (const r of got) {
      const e = JSON.parse(r.value.toString()) as AnalyticsEvent;
      let list = byKey.get(r.key!);
      if (!list) byKey.set(r.key!, (list = []));
      list.push(sent.findIndex((s) => s.insert_id === e.insert_id));
    }
    for (const [key, order] of byKey) assert.deepEqual(order, [...order].sort((a, b) => a - b), `order of key ${key}`);
  });

  it('writes spans as OTLP protobuf, one record per trace keyed by trace id, with a traceparent of the trace', async () => {
    const ex = exporter('kafka/raw', { brokers: broker.brokers, traces: { topic: 'raw-spans' }, partition_traces_by_id: true, producer: { compression: 'snappy' } });
    await ex.start(host);
    try {
      for (const t of data.traces) await ex.consume({ signal: 'traces', data: t });
    } finally {
      await ex.shutdown();
    }
    const traceIds = new Set(spans.map((s) => s.traceId));
    const got = await readTopic(broker.brokers, 'raw-spans', (r) => r.length >= traceIds.size, { settleMs: 300 });
    const seen: Span[] = [];
    for (const r of got) {
      assert.equal(r.headers['content-type'], 'application/x-protobuf');
      const d = decodeTracesRequest(r.value);
      const ids = new Set(d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.traceId))));
      assert.equal(ids.size, 1);
      const [id] = ids;
      assert.equal(r.key, id);
      const tp = parseTraceparent(r.headers.traceparent!);
      assert.equal(tp?.traceId, id);
      const mine = d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      assert.ok(mine.some((s) => s.spanId === tp!.spanId && (!s.parentSpanId || !mine.some((p) => p.spanId === s.parentSpanId))), 'traceparent names the local root span');
      assert.ok(d.resourceSpans.every((rs) => rs.resource.attributes.some((a) => a.key === 'service.name')), 'resource kept');
      seen.push(...mine);
    }
    assert.equal(seen.length, spans.length, 'every span once');
    assert.deepEqual(new Set(seen.map((s) => s.spanId)), new Set(spans.map((s) => s.spanId)));
  });

  it('writes log records as OTLP/JSON and events as OTLP log records that read back as the same events', async () => {
    const ex = exporter('kafka/mixed', { brokers: broker.brokers, logs: { topic: 'raw-logs', encoding: 'otlp_json' }, events: { topic: 'ev-otlp', encoding: 'otlp_proto' }, producer: { compression: 'lz4' } });
    await ex.start(host);
    try {
      for (const l of data.logs) await ex.consume({ signal: 'logs', data: l });
      await ex.consume({ signal: 'events', data: events });
    } finally {
      await ex.shutdown();
    }
    const logs = await readTopic(broker.brokers, 'raw-logs', (r) => r.length >= data.logs.length);
    assert.equal(
      logs.reduce((n, r) => n + logRecordCount(decodeLogsJson(r.value.toString())), 0),
      data.logs.reduce((n, l) => n + logRecordCount(l), 0),
    );
    assert.ok(logs.every((r) => r.headers['content-type'] === 'application/json'));
    const evs = await readTopic(broker.brokers, 'ev-otlp', (r) => r.length >= events.length);
    const back = evs.flatMap((r) => logsDataToEvents(decodeLogsRequest(r.value)));
    const want = new Map(events.map((e) => [e.insert_id, e]));
    assert.equal(back.length, events.length);
    for (const e of back) assert.deepEqual(e, want.get(e.insert_id));
  });

  it('sends zstd-compressed records the broker accepts', async () => {
    const ex = exporter('kafka/zstd', { brokers: broker.brokers, events: { topic: 'ev-zstd' }, producer: { compression: 'zstd' } });
    await ex.start(host);
    await ex.consume({ signal: 'events', data: events.slice(0, 10) });
    await ex.shutdown();
    const got = await readTopic(broker.brokers, 'ev-zstd', (r) => r.length >= 10);
    assert.deepEqual(new Set(got.map((r) => JSON.parse(r.value.toString()).insert_id)), new Set(events.slice(0, 10).map((e) => e.insert_id)));
  });

  it('takes the topic from an attribute when present', async () => {
    const ex = exporter('kafka/routed', { brokers: broker.brokers, events: { topic: 'ev-default' }, topic_from_attribute: 'topic' });
    await ex.start(host);
    const routed = { ...events[0]!, insert_id: 'routed', properties: { ...events[0]!.properties, topic: 'ev-routed' } };
    await ex.consume({ signal: 'events', data: [routed, events[1]!] });
    await ex.shutdown();
    assert.equal(JSON.parse((await readTopic(broker.brokers, 'ev-routed', (r) => r.length >= 1))[0]!.value.toString()).insert_id, 'routed');
    assert.equal(JSON.parse((await readTopic(broker.brokers, 'ev-default', (r) => r.length >= 1))[0]!.value.toString()).insert_id, events[1]!.insert_id);
  });

  it('refuses an oversized event for good with both sizes, and sends the rest of its batch', async () => {
    deadLetters.length = 0;
    const ex = exporter('kafka/small', { brokers: broker.brokers, events: { topic: 'ev-small' }, producer: { max_message_bytes: 2000 }, dead_letter: 'dl' });
    await ex.start(host);
    const big = { ...events[0]!, insert_id: 'big', properties: { blob: 'x'.repeat(5000) } };
    await ex.consume({ signal: 'events', data: [events[1]!, big, events[2]!] });
    await ex.shutdown();
    assert.equal(deadLetters.length, 1);
    const dl = deadLetters[0]! as Extract<Payload, { signal: 'events' }>;
    assert.equal(dl.data.length, 1);
    assert.equal(dl.data[0]!.insert_id, 'big');
    const size = Buffer.byteLength(JSON.stringify(big));
    const reason = dl.data[0]!.dead_letter!.reason;
    assert.match(reason, /max_message_bytes of 2000 bytes/);
    const stated = Number(/record of (\d+) bytes/.exec(reason)?.[1]);
    assert.ok(stated > size && stated < size + 200, `the stated size ${stated} counts value, key and headers (value ${size})`);
    const got = await readTopic(broker.brokers, 'ev-small', (r) => r.length >= 2, { settleMs: 300 });
    assert.deepEqual(got.map((r) => JSON.parse(r.value.toString()).insert_id).sort(), [events[1]!.insert_id, events[2]!.insert_id].sort());
  });

  it('splits an OTLP request larger than max_message_bytes into records that fit', async () => {
    const ex = exporter('kafka/split', { brokers: broker.brokers, traces: { topic: 'raw-split' }, producer: { max_message_bytes: 4000 } });
    await ex.start(host);
    const all = { resourceSpans: data.traces.flatMap((t) => t.resourceSpans) };
    await ex.consume({ signal: 'traces', data: all });
    await ex.shutdown();
    const got = await readTopic(broker.brokers, 'raw-split', (r) => r.reduce((n, x) => n + spanCount(decodeTracesRequest(x.value)), 0) >= spans.length, { settleMs: 300 });
    assert.ok(got.length > 2);
    assert.ok(got.every((r) => r.value.length <= 4000));
    assert.equal(got.reduce((n, r) => n + spanCount(decodeTracesRequest(r.value)), 0), spans.length);
  });

  it('loses no batch after a request whose answer was lost: the next one gets a new producer id, not the written one\'s sequence numbers', async () => {
    // One partition, so both batches carry the sequence numbers of the same partition.
    await createTopic(broker.brokers, 'ev-lost-answer', 1);
    const first = events.slice(0, 3);
    const second = events.slice(3, 6);
    const ex = exporter('kafka/lost-answer', { brokers: broker.brokers, events: { topic: 'ev-lost-answer' } });
    await ex.start(host);
    // The broker writes the first batch, then its answer is lost and the broker cannot be reached
    // until kafkajs gives up: the send fails, though the records are in the topic.
    const lossy = loseNextAnswer('down');
    try {
      await assert.rejects(ex.consume({ signal: 'events', data: first }), (err: unknown) => err instanceof RetryableError);
      lossy.up();
      // Another batch of as many records: acknowledged, so it must be in the topic.
      await ex.consume({ signal: 'events', data: second });
    } finally {
      lossy.restore();
      await ex.shutdown();
    }
    const want = new Set([...first, ...second].map((e) => e.insert_id));
    const idsOf = (r: { value: Buffer }[]) => new Set(r.map((x) => (JSON.parse(x.value.toString()) as AnalyticsEvent).insert_id));
    let got: { value: Buffer }[] = [];
    await readTopic(broker.brokers, 'ev-lost-answer', (r) => [...want].every((id) => idsOf((got = r)).has(id)), { timeoutMs: 10_000, settleMs: 300 }).catch(() => undefined);
    assert.deepEqual(idsOf(got), want, 'both batches in the topic');
    assert.equal(got.length, want.size, 'each record once (the failed send was not retried)');
  });

  for (const { keyed, partitions } of [
    { keyed: true, partitions: 1 },
    { keyed: false, partitions: 3 },
  ]) {
    it(`writes once the batch whose answer was lost when its retry comes next (same producer id, sequence numbers and partitions), records ${keyed ? 'with' : 'without'} a key`, async () => {
      const topic = `ev-lost-answer-retry-${keyed ? 'keyed' : 'unkeyed'}`;
      await createTopic(broker.brokers, topic, partitions);
      // Without a key, four records over three partitions: round robin anew would move them.
      const batch = keyed ? events.filter((e) => e.user_id ?? e.session_id).slice(0, 3) : events.slice(0, 4);
      const ex = exporter(`kafka/${topic}`, { brokers: broker.brokers, events: { topic, ...(keyed ? {} : { key: [] }) }, retry_on_failure: { enabled: true, initial_interval: '50ms', max_interval: '100ms', max_elapsed_time: '30s' } });
      await ex.start(host);
      // Written, answer lost, broker out of reach until the exporter's send failed; then back.
      const lossy = loseNextAnswer('down');
      const target = ex as unknown as { send(p: Payload, ctx: unknown): Promise<void> };
      const send = target.send.bind(ex);
      let failedSends = 0;
      target.send = async (p, ctx) => {
        try {
          await send(p, ctx);
        } catch (err) {
          failedSends++;
          lossy.up();
          throw err;
        }
      };
      try {
        await ex.consume({ signal: 'events', data: batch });
      } finally {
        lossy.restore();
        await ex.shutdown();
      }
      assert.equal(failedSends, 1, 'one send failed, its retry succeeded');
      const got = await readTopic(broker.brokers, topic, (r) => r.length >= batch.length, { timeoutMs: 10_000, settleMs: 500 });
      assert.deepEqual(got.map((r) => (JSON.parse(r.value.toString()) as AnalyticsEvent).insert_id).sort(), batch.map((e) => e.insert_id).sort(), 'each event once');
    });
  }

  it('writes once a batch of records without a key whose answer was lost and that kafkajs retried itself (the partitions go with the records)', async () => {
    // One broker, three partitions, four records without a key: round robin anew on kafkajs' own
    // retry would put them in other partitions under the written request's sequence numbers.
    await createTopic(broker.brokers, 'ev-internal-retry', 3);
    const batch = events.slice(0, 4);
    const ex = exporter('kafka/internal-retry', { brokers: broker.brokers, events: { topic: 'ev-internal-retry', key: [] } });
    await ex.start(host);
    // Written, answer lost, and kafkajs' own retry goes through: the exporter's send succeeds.
    const lossy = loseNextAnswer('up');
    try {
      await ex.consume({ signal: 'events', data: batch });
    } finally {
      lossy.restore();
      await ex.shutdown();
    }
    const got = await readTopic(broker.brokers, 'ev-internal-retry', (r) => r.length >= batch.length, { timeoutMs: 10_000, settleMs: 500 });
    assert.deepEqual(got.map((r) => (JSON.parse(r.value.toString()) as AnalyticsEvent).insert_id).sort(), batch.map((e) => e.insert_id).sort(), 'each event once');
  });

  it('reports an unreachable broker as retryable, quickly', async () => {
    const port = await freePort();
    const ex = exporter('kafka/down', { brokers: [`127.0.0.1:${port}`], connection_timeout: '300ms' });
    await ex.start(host); // not fatal: the broker may come later
    const t0 = Date.now();
    await assert.rejects(ex.consume({ signal: 'events', data: events.slice(0, 2) }), (err: unknown) => err instanceof RetryableError);
    assert.ok(Date.now() - t0 < 5000, `gave up after ${Date.now() - t0} ms`);
    await ex.shutdown();
  });

  it('rejects bad options with their path', () => {
    const r = kafkaExporterFactory.configSchema.safeParse({ brokers: 'a:1,b', producer: { compression: 'brotli' }, events: { key: ['nope'] }, topics: 'x' });
    assert.equal(r.success, false);
    const paths = r.error!.issues.map((i) => i.path.join('::')).sort();
    assert.deepEqual(paths, ['', 'brokers', 'events::key::0', 'producer::compression'].sort());
    const ok = kafkaExporterFactory.configSchema.parse({ brokers: '127.0.0.1:1, 127.0.0.1:2' });
    assert.deepEqual(ok.brokers, ['127.0.0.1:1', '127.0.0.1:2']);
  });
});
