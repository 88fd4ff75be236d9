/**
 * A fleet of extractor gateways on Kafka, proven by killing members: OTLP log records keyed by
 * user in a raw topic of 6 partitions (`otel.raw`), three gateway processes of one consumer group
 * on config.example.yaml + examples/kafka-pipeline-events.yaml (only ports, topics and brokers set)
 * writing events to `analytics.events` (6 partitions). While records flow, one member is killed
 * with SIGKILL, a new one starts, another stops with SIGTERM. Then:
 *
 * - every raw record made exactly one event by insert_id (copies on the wire counted, none missing);
 * - offsets were committed only after the events were handed on: at every sample, each raw record
 *   below the group's committed offset already had its event in the events topic;
 * - events are keyed by the pseudonymous user id, a user's events are in one partition, and in
 *   each partition the first copy of each of a user's events comes in the order the user sent
 *   them (copies replayed after a kill repeat a run already seen, and are dropped by insert_id);
 * - the group's lag (`otelytics_kafka_receiver_lag`) is 0 on every partition at the end.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { Admin } from 'kafkajs';
import type { AnalyticsEvent } from '../../src/event.js';
import { decodeLogsRequest, encodeLogsRequest } from '../../src/otlp/proto.js';
import type { LogsData } from '../../src/pdata.js';
import { projectRoot, startGateway, type RunningGateway } from '../helpers.js';
import { createTopic, kafkaClient, noKafka, readTopic, startBroker, type Broker } from '../exporters/kafka/kafka-helpers.js';
import { describeUnless } from '../skip.js';

const RAW = 'otel.raw';
const EVENTS = 'analytics.events';
const GROUP = 'otelytics-events'; // the example's group_id
const PARTITIONS = 6;
const USERS = 40;
const configs = [path.join(projectRoot, 'config.example.yaml'), path.join(projectRoot, 'examples', 'kafka-pipeline-events.yaml')];

/** One log record of user `lane` with its per-user sequence number: an event as SDKs send it. */
function rawRecord(lane: number, seq: number): { key: string; value: Buffer } {
  const user = `shopper-${String(lane).padStart(3, '0')}`;
  const attr = (key: string, value: LogsData['resourceLogs'][0]['resource']['attributes'][0]['value']) => ({ key, value });
  const data: LogsData = {
    resourceLogs: [
      {
        resource: { attributes: [attr('service.name', { stringValue: 'shop' })], droppedAttributesCount: 0 },
        scopeLogs: [
          {
            scope: { name: 'shop', version: '1.0.0', attributes: [], droppedAttributesCount: 0 },
            logRecords: [
              {
                timeUnixNano: (1_767_225_600_000_000_000n + BigInt(lane) * 1_000_000_000_000n + BigInt(seq) * 1_000_000n).toString(),
                observedTimeUnixNano: '0',
                severityNumber: 9,
                severityText: 'INFO',
                body: { stringValue: '' },
                attributes: [
                  attr('enduser.id', { stringValue: user }),
                  attr('session.id', { stringValue: `${user}-s1` }),
                  attr('consent.analytics', { stringValue: 'granted' }),
                  attr('lane', { intValue: lane }),
                  attr('seq', { intValue: seq }),
                ],
                droppedAttributesCount: 0,
                flags: 0,
                traceId: '',
                spanId: '',
                eventName: 'checkout_step',
              },
            ],
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ],
  };
  return { key: user, value: Buffer.from(encodeLogsRequest(data)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Committed offset of the group per raw partition (−1 when none), then the events topic's end offsets. */
async function sample(admin: Admin): Promise<{ committed: Map<number, bigint>; eventsEnd: Map<number, bigint> }> {
  const [t] = await admin.fetchOffsets({ groupId: GROUP, topics: [RAW] });
  const committed = new Map(t!.partitions.map((p) => [p.partition, BigInt(p.offset)]));
  const eventsEnd = new Map((await admin.fetchTopicOffsets(EVENTS)).map((p) => [p.partition, BigInt(p.high)]));
  return { committed, eventsEnd };
}

/** Log records a member's kafka receiver took into its pipeline. */
async function accepted(g: RunningGateway): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.ports.metrics}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('otelcol_receiver_accepted_log_records{') && l.includes('receiver="kafka/raw"')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

async function lagSeries(g: RunningGateway): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${g.ports.metrics}/metrics`)).text();
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = /^otelytics_kafka_receiver_lag\{(.*)\} (\S+)$/.exec(l);
    if (!m || !m[1]!.includes(`topic="${RAW}"`)) continue;
    out.set(/partition="(\d+)"/.exec(m[1]!)![1]!, Number(m[2]));
  }
  return out;
}

describeUnless(noKafka, 'a fleet of extractor gateways on Kafka', { timeout: 150_000 }, () => {
  let broker: Broker;
  const members: RunningGateway[] = [];
  let admin: Admin;

  const startMember = () =>
    startGateway({
      configs,
      env: { KAFKA_BROKERS: broker.brokers.join(','), OTELYTICS_PRODUCTS: path.join(projectRoot, 'examples', 'catalog', 'products.csv') },
      sets: [`receivers::kafka/raw::logs::topics=[${RAW}]`, `exporters::kafka/events::events::topic=${EVENTS}`, 'service::telemetry::logs::level=warn'],
    });

  before(async () => {
    broker = await startBroker();
    await createTopic(broker.brokers, RAW, PARTITIONS);
    await createTopic(broker.brokers, EVENTS, PARTITIONS);
    admin = kafkaClient(broker.brokers).admin();
    await admin.connect();
  });

  after(async () => {
    await admin?.disconnect();
    await Promise.all(members.map((m) => m.stop()));
    await broker?.stop();
    for (const m of members) fs.rmSync(m.dir, { recursive: true, force: true });
  });

  it('delivers one event per raw record through SIGKILL, a new member and SIGTERM, in order per user, committed after hand-off', async (t) => {
    members.push(...(await Promise.all([startMember(), startMember(), startMember()])));
    const [first, second, third] = members as [RunningGateway, RunningGateway, RunningGateway];

    // The producer: one user's records in order on the partition of its key, ~150 records/s.
    const producer = kafkaClient(broker.brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const seqs = new Array<number>(USERS).fill(0);
    let produced = 0;
    let producing = true;
    const samples: Awaited<ReturnType<typeof sample>>[] = [];
    // A burst asked for by the timeline below: many records at once, so that a member is busy
    // handing events on when it is killed.
    let burst: { size: number; sent: () => void } | undefined;
    const sendBurst = (size: number) => new Promise<void>((sent) => (burst = { size, sent }));
    const producing$ = (async () => {
      while (producing) {
        const asked = burst;
        burst = undefined;
        const messages = Array.from({ length: asked?.size ?? 6 }, () => {
          const lane = Math.floor(Math.random() * USERS);
          return rawRecord(lane, ++seqs[lane]!);
        });
        await producer.send({ topic: RAW, acks: -1, messages });
        produced += messages.length;
        asked?.sent();
        await sleep(40);
      }
    })();
    const sampling$ = (async () => {
      while (producing) {
        samples.push(await sample(admin));
        await sleep(700);
      }
    })();

    const t0 = Date.now();
    const at = async (s: number) => sleep(Math.max(0, t0 + s * 1000 - Date.now()));
    await at(6);
    // Killed as soon as it has handed on part of the burst: with luck between the hand-off of a
    // batch and its commit, so that its successor reads records again whose events are written.
    const before = await accepted(first);
    await sendBurst(1500);
    let victimAccepted = before;
    for (let i = 0; i < 400 && victimAccepted === before; i++) victimAccepted = await accepted(first);
    await first.stop('SIGKILL');
    samples.push(await sample(admin));
    await at(12);
    const fourth = await startMember();
    members.push(fourth);
    await at(20);
    assert.equal(await second.stop('SIGTERM'), 0, `SIGTERM ends a member cleanly:\n${second.output()}`);
    samples.push(await sample(admin));
    await at(28);
    producing = false;
    await producing$;
    await sampling$;
    await producer.disconnect();

    // The raw topic as written, and the events until every (user, sequence) is there.
    const raw = await readTopic(broker.brokers, RAW, (r) => r.length >= produced, { timeoutMs: 30_000 });
    assert.equal(raw.length, produced);
    const expected = new Set(seqs.flatMap((n, lane) => Array.from({ length: n }, (_, i) => `${lane}/${i + 1}`)));
    assert.equal(expected.size, produced);
    const parse = (v: Buffer) => JSON.parse(v.toString()) as AnalyticsEvent;
    const records = await readTopic(broker.brokers, EVENTS, (r) => new Set(r.map((x) => { const p = parse(x.value).properties; return `${p.lane}/${p.seq}`; })).size >= produced, { timeoutMs: 60_000, settleMs: 1000 });

    // Exactly one event per raw record by insert_id; copies are the same event.
    const byId = new Map<string, { step: string; value: string }>();
    const steps = new Map<string, string>();
    for (const r of records) {
      const e = parse(r.value);
      const step = `${e.properties.lane}/${e.properties.seq}`;
      assert.ok(expected.has(step), `unexpected event ${step}`);
      const seen = byId.get(e.insert_id);
      if (seen) assert.equal(seen.value, r.value.toString(), `copies of ${e.insert_id} are the same event`);
      else byId.set(e.insert_id, { step, value: r.value.toString() });
      const other = steps.get(step);
      assert.ok(other === undefined || other === e.insert_id, `${step} made one event (${other}, ${e.insert_id})`);
      steps.set(step, e.insert_id);
      // Keyed by the pseudonymous user id, never the raw one.
      assert.equal(r.key, e.user_id);
      assert.ok(e.user_id && !e.user_id.includes('shopper'), `pseudonymous user id: ${e.user_id}`);
    }
    assert.equal(byId.size, produced, 'one event per raw record, none missing');
    const duplicates = records.length - byId.size;

    // Committed only after hand-off: below each sampled committed offset, every raw record's event
    // was already in the events topic (at an offset below the end offset read right after).
    const where = new Map<string, { partition: number; offset: bigint }[]>();
    for (const r of records) {
      const e = parse(r.value);
      const step = `${e.properties.lane}/${e.properties.seq}`;
      let list = where.get(step);
      if (!list) where.set(step, (list = []));
      list.push({ partition: r.partition, offset: BigInt(r.offset) });
    }
    // Each raw record's (user, sequence), from the record itself.
    const rawWithSeq = raw.map((r) => {
      const attrs = decodeLogsRequest(r.value).resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.attributes;
      const int = (k: string) => Number((attrs.find((a) => a.key === k)!.value as { intValue: number | string }).intValue);
      return { partition: r.partition, offset: BigInt(r.offset), step: `${int('lane')}/${int('seq')}` };
    });
    let checked = 0;
    for (const s of samples) {
      for (const r of rawWithSeq) {
        const c = s.committed.get(r.partition) ?? -1n;
        if (r.offset >= c) continue;
        const copies = where.get(r.step) ?? [];
        assert.ok(copies.some((x) => x.offset < (s.eventsEnd.get(x.partition) ?? 0n)), `raw ${r.partition}@${r.offset} (${r.step}) committed before its event was in ${EVENTS}`);
        checked++;
      }
    }
    assert.ok(checked > produced, `commit checks: ${checked}`);

    // Order per user: one partition per user; first copies in sequence order.
    const partitionOf = new Map<string, number>();
    const byPartition = new Map<number, typeof records>();
    for (const r of records) {
      const list = byPartition.get(r.partition) ?? [];
      list.push(r);
      byPartition.set(r.partition, list);
    }
    let replayRuns = 0;
    for (const [partition, list] of byPartition) {
      list.sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
      const last = new Map<number, number>();
      const firstSeen = new Set<string>();
      for (const r of list) {
        const e = parse(r.value);
        const lane = e.properties.lane as number;
        const seq = e.properties.seq as number;
        const p = partitionOf.get(e.user_id!);
        assert.ok(p === undefined || p === partition, `user ${lane} in partitions ${p} and ${partition}`);
        partitionOf.set(e.user_id!, partition);
        if (firstSeen.has(e.insert_id)) {
          if (seq <= (last.get(lane) ?? 0)) replayRuns++;
          continue;
        }
        firstSeen.add(e.insert_id);
        assert.equal(seq, (last.get(lane) ?? 0) + 1, `user ${lane}: seq ${seq} after ${last.get(lane) ?? 0} in partition ${partition}`);
        last.set(lane, seq);
      }
    }

    // The group rebalanced onto the two members left, committed everything, and shows no lag.
    const survivors = [third, fourth];
    const { groups } = await admin.describeGroups([GROUP]);
    assert.equal(groups[0]!.members.length, 2, `two members left: ${groups[0]!.members.map((m) => m.clientHost).join(', ')}`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { committed } = await sample(admin);
      const end = new Map((await admin.fetchTopicOffsets(RAW)).map((p) => [p.partition, BigInt(p.high)]));
      const lags = await Promise.all(survivors.map(lagSeries));
      const caughtUp = [...end].every(([p, h]) => committed.get(p) === h);
      const lagZero = lags.every((l) => l.size === PARTITIONS && [...l.values()].every((v) => v === 0));
      if (caughtUp && lagZero) break;
      if (Date.now() > deadline) assert.fail(`committed ${JSON.stringify([...committed].map(String))} of ${JSON.stringify([...end].map(String))}; lag ${JSON.stringify(lags.map((l) => [...l]))}`);
      await sleep(500);
    }
    // The status page's stats: the same lag, and the six partitions shared by the two members.
    const kafkaLag = await Promise.all(
      survivors.map(async (g) => {
        const st = (await (await fetch(`http://127.0.0.1:${g.ports.status}/api/stats`)).json()) as { nodes: Record<string, { kafka_lag?: { topic: string; partition: number; lag: number; held: boolean }[] }> };
        return Object.values(st.nodes).flatMap((n) => n.kafka_lag ?? []).filter((x) => x.topic === RAW);
      }),
    );
    for (const rows of kafkaLag) assert.deepEqual(rows.map((r) => [r.partition, r.lag]), [0, 1, 2, 3, 4, 5].map((p) => [p, 0]));
    assert.deepEqual(kafkaLag.flatMap((rows) => rows.filter((r) => r.held).map((r) => r.partition)).sort(), [0, 1, 2, 3, 4, 5], 'each partition held by one of the two');
    t.diagnostic(`${produced} raw records of ${USERS} users over ${PARTITIONS} partitions; ${records.length} event records, ${byId.size} distinct by insert_id, ${duplicates} copies on the wire (${replayRuns} replayed after the kill), the killed member had taken ${victimAccepted} records, ${samples.length} commit samples (${checked} records checked)`);
  });
});
