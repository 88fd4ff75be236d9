/**
 * Routing across three real destinations, with the CLI: a Kafka topic of a real broker
 * (scripts/kafka), the Amplitude stand-in and a file. Log records of several tenants, categories
 * and consent values (as consent tools send them) become events; the routing connector sends them
 * by tenant (a context key), category and consent purpose, the Amplitude exporter's own consent
 * requirement keeps out what a route hands it without consent, and every destination gets exactly
 * the events it should, counted per route.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { AnalyticsEvent } from '../../src/event.js';
import { consentGranted } from '../../src/consent.js';
import { fromJsonValue } from '../../src/pdata.js';
import { startAmplitudeServer, type FakeAmplitude } from '../fakes/amplitude-server.js';
import { noKafka, readTopic, startBroker, type Broker } from '../exporters/kafka/kafka-helpers.js';
import { readJsonLines, startGateway } from '../helpers.js';
import { describeUnless } from '../skip.js';
import { metricValue } from './harness.js';

const KEY = 'test-key-destinations';
const TOPIC = 'tenant_acme_events';

interface Record_ {
  seq: number;
  name: string;
  tenant: string | undefined;
  analytics: unknown;
  marketing: unknown;
}

/** Every combination of event name, tenant and consent values (booleans and the strings consent tools send). */
function records(): Record_[] {
  const out: Record_[] = [];
  for (const name of ['order.completed', 'cart.item_added', 'search', 'newsletter.subscribed', 'page.viewed']) {
    for (const tenant of ['acme', 'globex', undefined]) {
      for (const analytics of [true, false, 'granted', 'DENIED', undefined]) {
        for (const marketing of [true, 'yes', undefined]) out.push({ seq: out.length, name, tenant, analytics, marketing });
      }
    }
  }
  return out;
}

/** The records as one OTLP/JSON logs request. */
function body(rs: readonly Record_[]): string {
  const attr = (key: string, v: unknown) => (v === undefined ? [] : [{ key, value: fromJsonValue(v) }]);
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
        scopeLogs: [
          {
            scope: { name: 'shop' },
            logRecords: rs.map((r) => ({
              timeUnixNano: String(1795600800000000000n + BigInt(r.seq) * 1000000n),
              eventName: r.name,
              attributes: [...attr('seq', r.seq), ...attr('user.id', `u-${r.seq}`), ...attr('tenant', r.tenant), ...attr('consent.analytics', r.analytics), ...attr('consent.marketing', r.marketing)],
            })),
          },
        ],
      },
    ],
  });
}

const granted = (v: unknown) => v !== undefined && consentGranted(fromJsonValue(v));
const category = (r: Record_) => (/^(order|cart)\./.test(r.name) ? 'commerce' : r.name.startsWith('newsletter.') ? 'marketing' : undefined);

/** The route each record takes: the table of the config below, evaluated by hand. */
function routeOf(r: Record_): '0' | '1' | '2' | '3' | 'none' {
  if (r.tenant === 'acme') return '0';
  if (category(r) === 'commerce' && granted(r.analytics)) return '1';
  if (r.name === 'search') return '2';
  if (granted(r.marketing)) return '3';
  return 'none';
}

describeUnless(noKafka, 'routing to Kafka, Amplitude and a file', { timeout: 180_000 }, () => {
  let broker: Broker;
  let fake: FakeAmplitude;
  before(async () => {
    broker = await startBroker();
    fake = await startAmplitudeServer({ apiKeys: [KEY] });
  });
  after(async () => {
    await fake?.close();
    await broker?.stop();
  });

  it('by tenant, category and consent purpose, each destination getting its events once, counted per route', async () => {
    const gwConfig = `
receivers:
  otlp: { protocols: { http: {}, grpc: {} } }
processors:
  analytics:
    context_attributes: [tenant]
    rules:
      - { id: commerce, source: log, match: { name: ["order.*", "cart.*"] }, category: commerce }
      - { id: marketing, source: log, match: { name: ["newsletter.*"] }, category: marketing }
  privacy:
    pseudonymization: { key: destinations-test-key-0123456789 }
    consent: { required: false }
  batch: { send_batch_size: 50, timeout: 20ms }
exporters:
  kafka: { brokers: "${broker.brokers.join(',')}", events: { topic: ${TOPIC} } }
  amplitude: { api_key: ${KEY}, endpoint: "${fake.url}", device_id: [device_id, insert_id], consent: analytics }
  file: { path: marketing.jsonl }
connectors:
  routing:
    table:
      - match: { context: { tenant: acme } }
        pipelines: [events/kafka]
      - condition: category == "commerce" and consent["analytics"] == true
        pipelines: [events/amplitude]
      - statement: route() where name == "search"
        pipelines: [events/amplitude]
      - match: { consent: marketing }
        pipelines: [events/file]
extensions: { health_check: }
service:
  extensions: [health_check]
  pipelines:
    events: { receivers: [otlp], processors: [analytics, privacy, batch], exporters: [routing] }
    events/kafka: { receivers: [routing], exporters: [kafka] }
    events/amplitude: { receivers: [routing], exporters: [amplitude] }
    events/file: { receivers: [routing], exporters: [file] }
  telemetry: { logs: { level: warn } }
`;
    const rs = records();
    const dirFile = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-destinations-'));
    const file = path.join(dirFile, 'config.yaml');
    fs.writeFileSync(file, gwConfig);
    const gw = await startGateway({ configs: [file], sets: [] });
    let metrics = '';
    try {
      const r = await fetch(`http://127.0.0.1:${gw.ports.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(rs) });
      assert.equal(r.status, 200, await r.text());
      const toKafka = rs.filter((x) => routeOf(x) === '0');
      const kafka = await readTopic(broker.brokers, TOPIC, (got) => got.length >= toKafka.length, { timeoutMs: 60_000, settleMs: 500 });
      const seqs = (events: AnalyticsEvent[]) => events.map((e) => Number(e.properties.seq)).sort((a, b) => a - b);
      const expect = (pred: (x: Record_) => boolean) => rs.filter(pred).map((x) => x.seq);
      assert.deepEqual(seqs(kafka.map((k) => JSON.parse(k.value.toString('utf8')) as AnalyticsEvent)), expect((x) => routeOf(x) === '0'), 'Kafka: tenant acme, every category and consent');
      // Amplitude: route 1, and the searches of route 2 that carry analytics consent (the exporter's requirement).
      const toAmplitude = expect((x) => routeOf(x) === '1' || (routeOf(x) === '2' && granted(x.analytics)));
      for (let i = 0; i < 100 && fake.ingested.size < toAmplitude.length; i++) await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual([...fake.ingested.values()].map((x) => Number((x.event.event_properties as Record<string, unknown>).seq)).sort((a, b) => a - b), toAmplitude);
      metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
    } finally {
      assert.equal(await gw.stop(), 0, gw.output());
    }
    const marketing = readJsonLines<AnalyticsEvent>(path.join(gw.dir, 'marketing.jsonl'));
    assert.deepEqual(
      marketing.map((e) => Number(e.properties.seq)).sort((a, b) => a - b),
      rs.filter((x) => routeOf(x) === '3').map((x) => x.seq),
      'the file: marketing consent, not taken by an earlier route',
    );
    assert.ok(marketing.every((e) => e.context.tenant !== 'acme' && e.user_id !== undefined && /^[0-9a-f]{8}:/.test(e.user_id)), 'pseudonymised, no acme event');
    for (const route of ['0', '1', '2', '3', 'none'] as const) {
      assert.equal(metricValue(metrics, `otelytics_connector_routed_items{connector="routing",route="${route}"}`), rs.filter((x) => routeOf(x) === route).length, `route ${route}`);
    }
    assert.equal(metricValue(metrics, 'otelytics_events_dropped{component="amplitude",reason="no_consent"}'), rs.filter((x) => routeOf(x) === '2' && !granted(x.analytics)).length);
    assert.equal(metricValue(metrics, 'otelytics_events_dropped{component="routing",reason="unrouted"}'), rs.filter((x) => routeOf(x) === 'none').length);
    fs.rmSync(dirFile, { recursive: true, force: true });
    fs.rmSync(gw.dir, { recursive: true, force: true });
  });
});
