/**
 * The two-stage Kafka example end to end, with two real gateway processes and a real broker:
 * OTLP/HTTP into gateway A (examples/kafka-pipeline-ingest.yaml) → raw topics → gateway B
 * (config.example.yaml + examples/kafka-pipeline-events.yaml: analytics, privacy, filter, enrich)
 * → events topic and file. Then the broker is stopped mid-stream and restarted: no event is lost,
 * and any duplicate is the same event with the same insert_id.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { AnalyticsEvent } from '../../src/event.js';
import { encodeLogsRequest, encodeTracesRequest } from '../../src/otlp/proto.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { loadRawConfig } from '../../src/config/sources.js';
import type { LogsData, TracesData } from '../../src/pdata.js';
import { defaultRegistry } from '../../src/registry.js';
import { compileEventMatcher, type FilterConfig } from '../../processors/filter/index.js';
import { parseTraceparent } from '../../src/kafka/traceparent.js';
import { fixtureManifest, postFixture, projectRoot, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { eventsOf, fixtureData, noKafka, readTopic, startBroker, type Broker, type ReadRecord } from '../exporters/kafka/kafka-helpers.js';
import { describeUnless } from '../skip.js';

const ingestConfig = path.join(projectRoot, 'examples', 'kafka-pipeline-ingest.yaml');
const eventsConfig = path.join(projectRoot, 'examples', 'kafka-pipeline-events.yaml');
const products = fs
  .readFileSync(path.join(projectRoot, 'examples', 'catalog', 'products.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Events gateway B should produce from `data`: the example's analytics rules, then its filter. */
function expectedEvents(data: { traces: TracesData[]; logs: LogsData[] }): AnalyticsEvent[] {
  const cfg = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml'), eventsConfig], [], {}), defaultRegistry());
  const exclude = (cfg.processors.get('filter')!.config as FilterConfig).events.exclude;
  const drop = exclude ? compileEventMatcher(exclude) : () => false;
  return eventsOf(data).filter((e) => !drop(e));
}

/** A copy of the fixture data with other trace ids and times, so its events get new insert_ids. */
function variant(data: { traces: TracesData[]; logs: LogsData[] }, round: number): { traces: TracesData[]; logs: LogsData[] } {
  const tag = round.toString(16).padStart(4, '0');
  const copy = structuredClone(data);
  for (const t of copy.traces) for (const rs of t.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) s.traceId = tag + s.traceId.slice(4);
  for (const l of copy.logs) {
    for (const rl of l.resourceLogs) {
      for (const sl of rl.scopeLogs) {
        for (const r of sl.logRecords) {
          if (r.traceId) r.traceId = tag + r.traceId.slice(4);
          r.timeUnixNano = (BigInt(r.timeUnixNano) + BigInt(round)).toString();
        }
      }
    }
  }
  return copy;
}

/** Posts OTLP protobuf to gateway A like an SDK: retries 429/502/503/504 until accepted (bounded). */
async function post(port: number, signal: 'traces' | 'logs', body: Uint8Array): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    let status = 0;
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v1/${signal}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
      status = r.status;
      await r.arrayBuffer();
    } catch {
      status = 503;
    }
    if (status === 200) return;
    if (![429, 502, 503, 504].includes(status) || Date.now() > deadline) throw new Error(`POST /v1/${signal}: ${status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function postData(port: number, data: { traces: TracesData[]; logs: LogsData[] }): Promise<void> {
  for (const t of data.traces) await post(port, 'traces', encodeTracesRequest(t));
  for (const l of data.logs) await post(port, 'logs', encodeLogsRequest(l));
}

const fast = (id: string) => [`exporters::${id}::retry_on_failure::initial_interval=200ms`, `exporters::${id}::retry_on_failure::max_interval=1s`];

describeUnless(noKafka, 'two-stage Kafka example', { timeout: 240_000 }, () => {
  let broker: Broker;
  let a: RunningGateway;
  let b: RunningGateway;
  const fixtures = fixtureData();
  const rawIds = new Set<string>();
  for (const t of fixtures.traces) for (const rs of t.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) for (const kv of s.attributes) if (['enduser.id', 'user.id', 'session.id'].includes(kv.key) && 'stringValue' in kv.value) rawIds.add(kv.value.stringValue);
  let eventsFile = '';

  before(async () => {
    broker = await startBroker();
    const env = { KAFKA_BROKERS: broker.brokers.join(','), OTELYTICS_PRODUCTS: path.join(projectRoot, 'examples', 'catalog', 'products.csv') };
    a = await startGateway({ configs: [ingestConfig], env, sets: [...fast('kafka/raw'), 'service::telemetry::logs::level=warn'] });
    eventsFile = path.join(a.dir, 'events-b.jsonl');
    b = await startGateway({
      configs: [path.join(projectRoot, 'config.example.yaml'), eventsConfig],
      env,
      sets: [`exporters::file::path=${eventsFile}`, ...fast('kafka/events'), 'processors::batch::timeout=50ms', 'service::telemetry::logs::level=warn'],
    });
  });

  after(async () => {
    const codes = await Promise.all([a?.stop(), b?.stop()]);
    await broker?.stop();
    assert.deepEqual(codes, [0, 0], `gateways exit cleanly\nA:\n${a?.output()}\nB:\n${b?.output()}`);
    for (const g of [a, b]) if (g) fs.rmSync(g.dir, { recursive: true, force: true });
  });

  const readEvents = (until: (r: ReadRecord[]) => boolean, settleMs = 0) => readTopic(broker.brokers, 'otelytics_events', until, { timeoutMs: 60_000, settleMs });
  const idsOf = (records: ReadRecord[]) => records.map((r) => (JSON.parse(r.value.toString()) as AnalyticsEvent).insert_id);

  it('turns OTLP posted to gateway A into enriched, privacy-clean events on the events topic and in gateway B\'s file', async () => {
    // Each batch once, in the encodings SDKs use.
    const byName = (n: string) => fixtureManifest().find((f) => f.path === n)!;
    for (const name of ['traces-shop-01.pb.gz', 'traces-shop-02.json', 'logs-shop-01.pb', 'logs-shop-02.json.gz']) {
      const r = await postFixture(a.ports.http, byName(name));
      assert.equal(r.status, 200, `${name}: ${await r.text()}`);
    }
    const expected = expectedEvents(fixtures);
    const want = new Set(expected.map((e) => e.insert_id));
    assert.equal(want.size, expected.length);
    const records = await readEvents((r) => new Set(idsOf(r)).size >= want.size, 1000);
    assert.deepEqual(new Set(idsOf(records)), want, 'every expected event, nothing else');
    assert.equal(records.length, want.size, 'each once');

    const catalogue = new Map(products.map((p) => [p.item_id, p]));
    let enriched = 0;
    for (const r of records) {
      const e = JSON.parse(r.value.toString()) as AnalyticsEvent;
      const source = expected.find((x) => x.insert_id === e.insert_id)!;
      assert.equal(e.name, source.name);
      // Enrichment: every catalogued item id got its product fields.
      const row = typeof e.properties.item_id === 'string' ? catalogue.get(e.properties.item_id) : undefined;
      if (row) {
        enriched++;
        for (const f of ['item_name', 'price', 'item_brand', 'item_category']) assert.deepEqual(e.properties[f], row[f], `${e.name} ${f}`);
      }
      // Privacy: no raw identifier left, in the value or the key.
      for (const raw of rawIds) {
        assert.ok(!r.value.toString().includes(raw), `raw id ${raw} in ${e.name}`);
        assert.notEqual(r.key, raw);
      }
      assert.equal(r.key, e.user_id ?? e.session_id ?? null);
      // The trace continues across the hop: traceparent = the source record's span.
      if (source.context.trace_id) {
        const tp = parseTraceparent(r.headers.traceparent ?? '');
        assert.equal(tp?.traceId, source.context.trace_id);
        assert.equal(tp?.spanId, source.context.span_id);
      }
      assert.equal(r.headers['event.name'], e.name);
    }
    assert.ok(enriched >= 10, `${enriched} events enriched`);
    assert.ok(records.some((r) => r.key !== null), 'events keyed by pseudonymous user or session id');

    // The same events in gateway B's file.
    for (let i = 0; i < 100 && readJsonLines(eventsFile).length < want.size; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(new Set(readJsonLines<AnalyticsEvent>(eventsFile).map((e) => e.insert_id)), want);
  });

  it('loses no event when the broker is stopped mid-stream and restarted; duplicates keep their insert_id', async (t) => {
    const earlier = new Set(idsOf(await readEvents((r) => r.length > 0, 300)));
    const rounds = [1, 2, 3, 4].map((n) => variant(fixtures, n));
    const want = new Set(rounds.flatMap((d) => expectedEvents(d).map((e) => e.insert_id)));
    await postData(a.ports.http, rounds[0]!);
    await broker.stop({ keepData: true });
    // Posted while the broker is down: gateway A acknowledges only what Kafka has, so it answers
    // 503 and the client posts again until the broker is back.
    const duringOutage = (async () => {
      await postData(a.ports.http, rounds[1]!);
      await postData(a.ports.http, rounds[2]!);
    })();
    // About 20 s of outage, as a broker restart or a leader move takes in production.
    await new Promise((r) => setTimeout(r, 20_000));
    broker = await startBroker({ dir: broker.dir, port: broker.port });
    await duringOutage;
    await postData(a.ports.http, rounds[3]!);

    const records = await readEvents((r) => {
      const ids = new Set(idsOf(r));
      for (const id of want) if (!ids.has(id)) return false;
      return true;
    }, 1500);
    const fresh = records.filter((r) => !earlier.has((JSON.parse(r.value.toString()) as AnalyticsEvent).insert_id));
    const byId = new Map<string, string[]>();
    for (const r of fresh) {
      const id = (JSON.parse(r.value.toString()) as AnalyticsEvent).insert_id;
      assert.ok(want.has(id), `unexpected event ${id}`);
      let list = byId.get(id);
      if (!list) byId.set(id, (list = []));
      list.push(r.value.toString());
    }
    assert.equal(byId.size, want.size, 'no event lost');
    for (const [id, copies] of byId) assert.ok(copies.every((c) => c === copies[0]), `copies of ${id} are the same event`);
    const duplicates = fresh.length - byId.size;
    // The outage was real: gateway A's exporter had to retry.
    const metrics = await (await fetch(`http://127.0.0.1:${a.ports.metrics}/metrics`)).text();
    const retries = metrics.split('\n').filter((l) => l.startsWith('otelytics_exporter_send_retries{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    assert.ok(retries > 0, 'gateway A retried while the broker was down');
    t.diagnostic(`outage: ${want.size} events expected, ${fresh.length} records, ${duplicates} duplicates (same insert_id), ${retries} retried sends in gateway A`);
  });
});
