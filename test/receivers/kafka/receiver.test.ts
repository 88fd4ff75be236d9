/**
 * The kafka receiver against a real broker: OTLP and event records into pipelines, offsets
 * committed only after the pipeline accepted, pause and re-read under back-pressure, trace
 * context from headers, bad records skipped and counted, consumer groups sharing partitions.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Consumer, Payload, Receiver } from '../../../src/component.js';
import { itemCount } from '../../../src/component.js';
import { PermanentError, RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { encodeLogsRequest, encodeTracesRequest } from '../../../src/otlp/proto.js';
import { logRecordCount, spanCount } from '../../../src/pdata.js';
import { Telemetry } from '../../../src/telemetry.js';
import { kafkaReceiverFactory } from '../../../receivers/kafka/index.js';
import { createTopic, eventsOf, fixtureData, kafkaClient, noKafka, settings, startBroker, type Broker } from '../../exporters/kafka/kafka-helpers.js';
import { describeUnless } from '../../skip.js';

const data = fixtureData();
const events = eventsOf(data);

function receiver(id: string, raw: Record<string, unknown>, consumers: Partial<Record<'traces' | 'logs' | 'events', Consumer>>, telemetry = new Telemetry()): Receiver {
  const cfg = kafkaReceiverFactory.configSchema.parse({ heartbeat_interval: '300ms', session_timeout: '6s', max_fetch_wait: '100ms', ...raw });
  return kafkaReceiverFactory.create(settings(id, telemetry), cfg, consumers);
}

/** A consumer that records what it accepted; `refuse(call)` may throw to refuse a call. */
function recorder(refuse?: (call: number) => void) {
  const accepted: Payload[] = [];
  let calls = 0;
  const consumer: Consumer = {
    async consume(p) {
      calls++;
      refuse?.(calls);
      accepted.push(p);
    },
  };
  return { consumer, accepted, calls: () => calls, items: () => accepted.reduce((n, p) => n + itemCount(p), 0) };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function produce(brokers: string[], topic: string, messages: { key?: string; value: Buffer | string; headers?: Record<string, string> }[]): Promise<void> {
  const producer = kafkaClient(brokers).producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
}

async function committed(brokers: string[], groupId: string, topic: string): Promise<number> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

async function metric(t: Telemetry, name: string): Promise<number> {
  const m = (await t.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((n, v) => n + Number(v.value), 0);
}

describeUnless(noKafka, 'kafka receiver', { timeout: 180_000 }, () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker?.stop();
  });

  it('reads OTLP protobuf spans and log records into their pipelines and commits what was accepted', async () => {
    await createTopic(broker.brokers, 'r-spans', 1);
    await createTopic(broker.brokers, 'r-logs', 1);
    await produce(broker.brokers, 'r-spans', data.traces.map((t) => ({ value: Buffer.from(encodeTracesRequest(t)) })));
    await produce(broker.brokers, 'r-logs', data.logs.map((l) => ({ value: Buffer.from(encodeLogsRequest(l)) })));
    const traces = recorder();
    const logs = recorder();
    const telemetry = new Telemetry();
    const r = receiver('kafka/raw', { brokers: broker.brokers, group_id: 'g-otlp', initial_offset: 'earliest', traces: { topics: ['r-spans'] }, logs: { topics: ['r-logs'] } }, { traces: traces.consumer, logs: logs.consumer }, telemetry);
    await r.start({ getExporter: () => undefined });
    const wantSpans = data.traces.reduce((n, t) => n + spanCount(t), 0);
    const wantLogs = data.logs.reduce((n, l) => n + logRecordCount(l), 0);
    try {
      await until(() => traces.items() >= wantSpans && logs.items() >= wantLogs, 'all spans and log records');
      await until(async () => (await committed(broker.brokers, 'g-otlp', 'r-spans')) === data.traces.length && (await committed(broker.brokers, 'g-otlp', 'r-logs')) === data.logs.length, 'offsets committed');
    } finally {
      await r.shutdown();
    }
    assert.equal(traces.items(), wantSpans);
    assert.equal(logs.items(), wantLogs);
    assert.ok(traces.accepted.every((p) => p.signal === 'traces'));
    assert.equal(await metric(telemetry, 'otelcol_receiver_accepted_spans'), wantSpans);
  });

  it('pauses while the pipeline refuses for now, commits nothing meanwhile, then reads the same records again', async () => {
    await createTopic(broker.brokers, 'r-pressure', 1);
    const sent = events.slice(0, 30);
    await produce(broker.brokers, 'r-pressure', sent.map((e) => ({ key: e.session_id, value: JSON.stringify(e) })));
    let refusing = true;
    const rec = recorder(() => {
      if (refusing) throw new RetryableError('queue is full', 150);
    });
    const r = receiver('kafka/ev', { brokers: broker.brokers, group_id: 'g-pressure', initial_offset: 'earliest', events: { topics: ['r-pressure'] } }, { events: rec.consumer });
    await r.start({ getExporter: () => undefined });
    try {
      await until(() => rec.calls() >= 3, 'a few refused attempts');
      const t0 = Date.now();
      const callsBefore = rec.calls();
      await new Promise((res) => setTimeout(res, 600));
      // Paused for ~150 ms between attempts: a handful of attempts, not a busy loop.
      assert.ok(rec.calls() - callsBefore <= 6, `${rec.calls() - callsBefore} attempts in ${Date.now() - t0} ms`);
      assert.equal(await committed(broker.brokers, 'g-pressure', 'r-pressure'), 0, 'nothing committed while refused');
      refusing = false;
      await until(() => rec.items() >= sent.length, 'the refused records again');
      await until(async () => (await committed(broker.brokers, 'g-pressure', 'r-pressure')) === sent.length, 'offsets committed after acceptance');
    } finally {
      await r.shutdown();
    }
    const ids = rec.accepted.flatMap((p) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id));
    assert.deepEqual(ids, sent.map((e) => e.insert_id), 'every record once, in order');
  });

  it('leaves what the pipeline never accepted to the next member of the group', async () => {
    await createTopic(broker.brokers, 'r-handover', 1);
    const early = events.slice(0, 12);
    const late = events.slice(12, 24);
    let refusing = false;
    const firstRec = recorder(() => {
      if (refusing) throw new RetryableError('down');
    });
    const cfg = { brokers: broker.brokers, group_id: 'g-handover', initial_offset: 'latest', events: { topics: ['r-handover'] } };
    const first = receiver('kafka/a', cfg, { events: firstRec.consumer });
    await first.start({ getExporter: () => undefined });
    await produce(broker.brokers, 'r-handover', early.map((e) => ({ value: JSON.stringify(e) })));
    await until(async () => (await committed(broker.brokers, 'g-handover', 'r-handover')) === early.length, 'the first records committed');
    refusing = true;
    const callsBefore = firstRec.calls();
    await produce(broker.brokers, 'r-handover', late.map((e) => ({ value: JSON.stringify(e) })));
    await until(() => firstRec.calls() >= callsBefore + 2, 'refused attempts');
    await first.shutdown();
    assert.equal(await committed(broker.brokers, 'g-handover', 'r-handover'), early.length, 'refused records not committed');
    const rec = recorder();
    const second = receiver('kafka/b', cfg, { events: rec.consumer });
    await second.start({ getExporter: () => undefined });
    try {
      await until(() => rec.items() >= late.length, 'the uncommitted records by the second member');
      await new Promise((res) => setTimeout(res, 300));
    } finally {
      await second.shutdown();
    }
    assert.deepEqual(rec.accepted.flatMap((p) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id)), late.map((e) => e.insert_id));
  });

  it('takes the trace context of an event from its traceparent header when the event has none, and skips bad records', async () => {
    await createTopic(broker.brokers, 'r-headers', 1);
    const bare: AnalyticsEvent = { name: 'user.signed_up', time_unix_nano: '1700000000000000000', insert_id: 'bare', properties: {}, context: { source: 'log' } };
    const own = events.find((e) => e.context.trace_id)!;
    const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await produce(broker.brokers, 'r-headers', [
      { value: JSON.stringify(bare), headers: { traceparent: header } },
      { value: 'not json' },
      { value: JSON.stringify({ time_unix_nano: '1' }) },
      { value: JSON.stringify(own), headers: { traceparent: header } },
    ]);
    const rec = recorder();
    const telemetry = new Telemetry();
    const r = receiver('kafka/h', { brokers: broker.brokers, group_id: 'g-headers', initial_offset: 'earliest', events: { topics: ['r-headers'] } }, { events: rec.consumer }, telemetry);
    await r.start({ getExporter: () => undefined });
    try {
      await until(() => rec.items() >= 2, 'the two good records');
      await until(async () => (await committed(broker.brokers, 'g-headers', 'r-headers')) === 4, 'committed past the bad records');
    } finally {
      await r.shutdown();
    }
    const got = rec.accepted.flatMap((p) => p.data as AnalyticsEvent[]);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.context.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(got[0]!.context.span_id, '00f067aa0ba902b7');
    assert.equal(got[1]!.context.trace_id, own.context.trace_id, 'the payload\'s own context wins');
    assert.equal(await metric(telemetry, 'otelcol_receiver_refused_log_records'), 2);
  });

  it('skips a batch the pipeline refuses for good, and goes on', async () => {
    await createTopic(broker.brokers, 'r-permanent', 1);
    await produce(broker.brokers, 'r-permanent', [{ value: JSON.stringify(events[0]) }]);
    let first = true;
    const rec = recorder(() => {
      if (first) {
        first = false;
        throw new PermanentError('bad data');
      }
    });
    const r = receiver('kafka/p', { brokers: broker.brokers, group_id: 'g-perm', initial_offset: 'earliest', events: { topics: ['r-permanent'] } }, { events: rec.consumer });
    await r.start({ getExporter: () => undefined });
    try {
      await until(async () => (await committed(broker.brokers, 'g-perm', 'r-permanent')) === 1, 'committed past the refused record');
      await produce(broker.brokers, 'r-permanent', [{ value: JSON.stringify(events[1]) }]);
      await until(() => rec.items() === 1, 'the next record');
    } finally {
      await r.shutdown();
    }
    assert.equal((rec.accepted[0]!.data as AnalyticsEvent[])[0]!.insert_id, events[1]!.insert_id);
  });

  it('starts a new group at the latest offset by default', async () => {
    await createTopic(broker.brokers, 'r-latest', 1);
    await produce(broker.brokers, 'r-latest', [{ value: JSON.stringify(events[0]) }]);
    const rec = recorder();
    const r = receiver('kafka/l', { brokers: broker.brokers, group_id: 'g-latest', events: { topics: ['r-latest'] } }, { events: rec.consumer });
    await r.start({ getExporter: () => undefined });
    try {
      await produce(broker.brokers, 'r-latest', [{ value: JSON.stringify(events[1]) }]);
      await until(() => rec.items() >= 1, 'the new record');
      await new Promise((res) => setTimeout(res, 300));
    } finally {
      await r.shutdown();
    }
    assert.deepEqual(rec.accepted.flatMap((p) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id)), [events[1]!.insert_id]);
  });

  it('shares the partitions between two receivers of one group, which together deliver every record', async () => {
    await createTopic(broker.brokers, 'r-group', 3);
    const a = recorder();
    const b = recorder();
    const cfg = { brokers: broker.brokers, group_id: 'g-shared', initial_offset: 'earliest', events: { topics: ['r-group'] } };
    const ra = receiver('kafka/1', cfg, { events: a.consumer });
    const rb = receiver('kafka/2', cfg, { events: b.consumer });
    await ra.start({ getExporter: () => undefined });
    await rb.start({ getExporter: () => undefined });
    const sent = Array.from({ length: 60 }, (_, i) => ({ ...events[i % events.length]!, insert_id: `shared-${i}` }));
    try {
      // Wait until both are members before producing, so the second one gets partitions.
      await until(async () => {
        const admin = kafkaClient(broker.brokers).admin();
        await admin.connect();
        const { groups } = await admin.describeGroups(['g-shared']);
        await admin.disconnect();
        return groups[0]?.state === 'Stable' && groups[0].members.length === 2;
      }, 'a stable group of two');
      await produce(broker.brokers, 'r-group', sent.map((e, i) => ({ key: `k${i}`, value: JSON.stringify(e) })));
      await until(() => a.items() + b.items() >= sent.length, 'every record by one of the two');
    } finally {
      await Promise.all([ra.shutdown(), rb.shutdown()]);
    }
    const idsA = a.accepted.flatMap((p) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id));
    const idsB = b.accepted.flatMap((p) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id));
    assert.ok(idsA.length > 0 && idsB.length > 0, `both took a share (${idsA.length} / ${idsB.length})`);
    assert.deepEqual(new Set([...idsA, ...idsB]), new Set(sent.map((e) => e.insert_id)));
    assert.equal(idsA.length + idsB.length, sent.length, 'no record twice');
  });

  it('feeds events pipelines with the kinds it is configured for, and refuses to start without a section for its pipeline', async () => {
    const cfg = kafkaReceiverFactory.configSchema.parse({ traces: {}, logs: {} });
    assert.deepEqual(kafkaReceiverFactory.outputs('events', cfg), ['traces', 'logs']);
    assert.deepEqual(kafkaReceiverFactory.outputs('traces', cfg), ['traces']);
    const evOnly = kafkaReceiverFactory.configSchema.parse({ events: {} });
    assert.deepEqual(kafkaReceiverFactory.outputs('events', evOnly), ['events']);
    assert.equal(kafkaReceiverFactory.configSchema.safeParse({}).success, false);
    assert.equal(kafkaReceiverFactory.configSchema.safeParse({ traces: { topics: ['x'] }, logs: { topics: ['x'] } }).success, false);
    const r = kafkaReceiverFactory.create(settings('kafka/x'), evOnly, { traces: recorder().consumer });
    await assert.rejects(r.start({ getExporter: () => undefined }), /feeds a traces pipeline but has no traces section/);
  });
});
