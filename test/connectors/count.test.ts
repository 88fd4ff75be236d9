/**
 * The count connector: counts by event name (the default) and by chosen attributes into the
 * gateway's Prometheus metrics, conditions and matches, the cardinality limit, spans and log
 * records with the collector's attribute lookup, and the OTLP metrics it hands to metrics pipelines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs/minimal.js';
import type { MetricsData, TracesData } from '../../src/pdata.js';
import { emptyScope, emptySpan, fromJsonValue } from '../../src/pdata.js';
import { decodeMetricsRequest } from '../../src/otlp/proto.js';
import { ev, harness, metricValue } from './harness.js';

/** The fields of one protobuf message: field number → values (varints as numbers, fixed64 as bigint, length-delimited as bytes). */
function fields(buf: Uint8Array): Map<number, (number | bigint | Uint8Array)[]> {
  const r = protobuf.Reader.create(buf);
  const out = new Map<number, (number | bigint | Uint8Array)[]>();
  while (r.pos < r.len) {
    const t = r.uint32();
    const no = t >>> 3;
    let v: number | bigint | Uint8Array;
    switch (t & 7) {
      case 0:
        v = r.uint32();
        break;
      case 1: {
        const lo = BigInt(r.fixed32());
        v = (BigInt(r.fixed32()) << 32n) | lo;
        break;
      }
      case 2:
        v = r.bytes();
        break;
      default:
        throw new Error(`wire type ${t & 7}`);
    }
    out.set(no, [...(out.get(no) ?? []), v]);
  }
  return out;
}

interface Point {
  attributes: Record<string, string>;
  value: number;
  time: bigint;
}

/** The Sum metrics of an ExportMetricsServiceRequest: name → temporality, monotonic, points. */
function sums(data: MetricsData): Map<string, { temporality: number; monotonic: number; points: Point[] }> {
  const out = new Map<string, { temporality: number; monotonic: number; points: Point[] }>();
  const text = (b: unknown) => Buffer.from(b as Uint8Array).toString('utf8');
  for (const rm of fields(data.body).get(1) ?? []) {
    for (const sm of fields(rm as Uint8Array).get(2) ?? []) {
      for (const m of fields(sm as Uint8Array).get(2) ?? []) {
        const mf = fields(m as Uint8Array);
        const sum = fields(mf.get(7)![0] as Uint8Array);
        const points = (sum.get(1) ?? []).map((dp) => {
          const f = fields(dp as Uint8Array);
          const attributes: Record<string, string> = {};
          for (const kv of f.get(7) ?? []) {
            const k = fields(kv as Uint8Array);
            attributes[text(k.get(1)![0])] = text(fields(k.get(2)![0] as Uint8Array).get(1)![0]);
          }
          return { attributes, value: Number(f.get(6)![0] as bigint), time: f.get(3)![0] as bigint };
        });
        out.set(text(mf.get(1)![0]), { temporality: sum.get(2)![0] as number, monotonic: sum.get(3)![0] as number, points });
      }
    }
  }
  return out;
}

const attrs = (o: Record<string, unknown>) => Object.entries(o).map(([key, v]) => ({ key, value: fromJsonValue(v) }));

describe('count connector', () => {
  it('counts events by name on the metrics endpoint and hands delta sums to the metrics pipeline', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { capture/events: , capture/metrics: }
connectors: { count: }
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    events: { receivers: [feed], exporters: [count, capture/events] }
    metrics: { receivers: [count], exporters: [capture/metrics] }
`);
    try {
      const before = Date.now();
      await h.send({ signal: 'events', data: [ev('view_item'), ev('view_item'), ev('purchase')] });
      await h.send({ signal: 'events', data: [ev('view_item')] });
      const m = await h.metrics();
      assert.equal(metricValue(m, 'event_count{event_name="view_item"}'), 3);
      assert.equal(metricValue(m, 'event_count{event_name="purchase"}'), 1);
      assert.match(m, /# HELP event_count The number of events counted, by event name\./);
      assert.equal(h.events('capture/events').length, 4, 'the events pipeline goes on as before');
      const out = h.captured('capture/metrics');
      assert.equal(out.length, 2, 'one metrics payload per consumed payload');
      const first = out[0]!.data as MetricsData;
      assert.equal(decodeMetricsRequest(first.body).dataPointCount, 2, 'a valid ExportMetricsServiceRequest');
      const s = sums(first).get('event.count')!;
      assert.equal(s.temporality, 1, 'delta');
      assert.equal(s.monotonic, 1);
      assert.deepEqual(s.points.map((p) => [p.attributes, p.value]), [[{ 'event.name': 'view_item' }, 2], [{ 'event.name': 'purchase' }, 1]]);
      assert.ok(Number(s.points[0]!.time / 1_000_000n) >= before);
    } finally {
      await h.stop();
    }
  });

  it('custom metrics: attributes from event fields, properties and context, defaults, conditions (any), match (and)', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { nop: }
connectors:
  count:
    events:
      shop.orders:
        description: Orders by tenant and currency.
        conditions: ['name == "purchase"', 'name == "refund"']
        match: { consent: analytics }
        attributes: [{ key: tenant }, { key: currency, default_value: EUR }, { key: event.name }]
      shop.category:
        attributes: [{ key: event.category }]
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    events: { receivers: [feed], exporters: [count] }
    metrics: { receivers: [count], exporters: [nop] }
`);
    try {
      const acme = { source: 'log' as const, tenant: 'acme' };
      await h.send({
        signal: 'events',
        data: [
          ev('purchase', { context: acme, consent: { analytics: true }, properties: { currency: 'USD' }, category: 'commerce' }),
          ev('purchase', { context: acme, consent: { analytics: true }, category: 'commerce' }),
          ev('refund', { context: acme, consent: { analytics: true } }),
          ev('purchase', { context: acme, consent: { analytics: false } }),
          ev('purchase', { consent: { analytics: true } }),
          ev('view_item', { context: acme, consent: { analytics: true } }),
        ],
      });
      const m = await h.metrics();
      assert.equal(metricValue(m, 'shop_orders{tenant="acme",currency="USD",event_name="purchase"}'), 1);
      assert.equal(metricValue(m, 'shop_orders{tenant="acme",currency="EUR",event_name="purchase"}'), 1);
      assert.equal(metricValue(m, 'shop_orders{tenant="acme",currency="EUR",event_name="refund"}'), 1);
      assert.equal(m.split('\n').filter((l) => l.startsWith('shop_orders{')).length, 3, 'no consent, no tenant, no matching name: not counted');
      assert.equal(metricValue(m, 'shop_category{event_category="commerce"}'), 2, 'events without a category and no default are not counted');
      assert.match(m, /# HELP shop_orders Orders by tenant and currency\./);
      assert.doesNotMatch(m, /event_count/, 'a section given replaces the default metric');
    } finally {
      await h.stop();
    }
  });

  it('keeps at most cardinality_limit sets of values per metric; the rest count as overflow', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { nop: }
connectors: { count: { cardinality_limit: 2 } }
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    events: { receivers: [feed], exporters: [count] }
    metrics: { receivers: [count], exporters: [nop] }
`);
    try {
      await h.send({ signal: 'events', data: ['a', 'b', 'c', 'd', 'a', 'd'].map((n) => ev(n)) });
      await h.send({ signal: 'events', data: ['b', 'e'].map((n) => ev(n)) });
      const m = await h.metrics();
      assert.equal(metricValue(m, 'event_count{event_name="a"}'), 2);
      assert.equal(metricValue(m, 'event_count{event_name="b"}'), 2);
      assert.equal(metricValue(m, 'event_count{otel_metric_overflow="true"}'), 4, 'c, d, d, e');
    } finally {
      await h.stop();
    }
  });

  it('counts spans and log records, attributes looked up on the record, then its scope, then its resource', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { nop: }
connectors:
  count:
    spans:
      http.server.count:
        conditions: ['kind == SPAN_KIND_SERVER']
        attributes: [{ key: http.route }, { key: service.name }]
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    traces: { receivers: [feed], exporters: [count] }
    logs: { receivers: [feed], exporters: [count] }
    metrics: { receivers: [count], exporters: [nop] }
`);
    try {
      const data: TracesData = {
        resourceSpans: [
          {
            resource: { attributes: attrs({ 'service.name': 'shop-web' }), droppedAttributesCount: 0 },
            scopeSpans: [{ scope: emptyScope(), spans: [{ ...emptySpan(), kind: 2, attributes: attrs({ 'http.route': '/cart' }) }, { ...emptySpan(), kind: 3, attributes: attrs({ 'http.route': '/cart' }) }, { ...emptySpan(), kind: 2, attributes: attrs({ 'http.route': '/cart', 'service.name': 'override' }) }], schemaUrl: '' }],
            schemaUrl: '',
          },
        ],
      };
      await h.send({ signal: 'traces', data });
      await h.send({ signal: 'logs', data: { resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeLogs: [{ scope: emptyScope(), logRecords: [], schemaUrl: '' }], schemaUrl: '' }] } });
      const m = await h.metrics();
      assert.equal(metricValue(m, 'http_server_count{http_route="/cart",service_name="shop-web"}'), 1);
      assert.equal(metricValue(m, 'http_server_count{http_route="/cart",service_name="override"}'), 1);
      assert.match(m, /# TYPE log_record_count counter/, 'the logs section kept its default metric');
    } finally {
      await h.stop();
    }
  });
});
