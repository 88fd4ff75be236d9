/**
 * The routing connector in a running gateway: events by category, consent and tenant, first route
 * wins, default and dropped items counted; spans and log records routed per resource or per
 * record, parts keeping their resource and scope; collector routing tables taken as they are;
 * error_mode.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogsData, TracesData } from '../../src/pdata.js';
import { emptyScope, emptySpan, fromJsonValue, scalarString } from '../../src/pdata.js';
import { PermanentError } from '../../src/errors.js';
import { ev, harness, metricValue } from './harness.js';

const attrs = (o: Record<string, unknown>) => Object.entries(o).map(([key, v]) => ({ key, value: fromJsonValue(v) }));

/** Traces of two resources (services), each with spans named and attributed as given. */
function traces(resources: Record<string, Record<string, Record<string, unknown>>>): TracesData {
  return {
    resourceSpans: Object.entries(resources).map(([service, spans]) => ({
      resource: { attributes: attrs({ 'service.name': service }), droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { ...emptyScope(), name: `${service}-scope` }, spans: Object.entries(spans).map(([name, a]) => ({ ...emptySpan(), name, attributes: attrs(a) })), schemaUrl: '' }],
      schemaUrl: '',
    })),
  };
}

function logs(resources: Record<string, { event: string; attributes: Record<string, unknown> }[]>): LogsData {
  return {
    resourceLogs: Object.entries(resources).map(([service, records]) => ({
      resource: { attributes: attrs({ 'service.name': service }), droppedAttributesCount: 0 },
      scopeLogs: [
        {
          scope: emptyScope(),
          logRecords: records.map((r) => ({ timeUnixNano: '1', observedTimeUnixNano: '1', severityNumber: 9, severityText: 'INFO', body: {}, attributes: attrs(r.attributes), droppedAttributesCount: 0, flags: 0, traceId: '', spanId: '', eventName: r.event })),
          schemaUrl: '',
        },
      ],
      schemaUrl: '',
    })),
  };
}

const spanNames = (d: TracesData) => d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => `${scalarString(rs.resource.attributes[0]!.value)}:${s.name}`)));
const recordNames = (d: LogsData) => d.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => `${scalarString(rl.resource.attributes[0]!.value)}:${r.eventName}`)));

describe('routing connector: events', () => {
  it('routes by category, consent purpose and tenant; the first matching route wins; the rest to the default pipelines; counted per route', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { capture/tenant: , capture/commerce: , capture/marketing: , capture/rest: }
connectors:
  routing:
    default_pipelines: [events/rest]
    table:
      - match: { context: { tenant: acme } }
        pipelines: [events/tenant]
      - condition: category == "commerce" and consent["analytics"] == true
        pipelines: [events/commerce]
      - match: { categories: [marketing], consent: { all: [marketing], any: [ads, email] } }
        pipelines: [events/marketing]
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    events: { receivers: [feed], exporters: [routing] }
    events/tenant: { receivers: [routing], exporters: [capture/tenant] }
    events/commerce: { receivers: [routing], exporters: [capture/commerce] }
    events/marketing: { receivers: [routing], exporters: [capture/marketing] }
    events/rest: { receivers: [routing], exporters: [capture/rest] }
`);
    try {
      await h.send({
        signal: 'events',
        data: [
          ev('purchase', { category: 'commerce', consent: { analytics: true }, context: { source: 'span', tenant: 'acme' } }),
          ev('purchase', { category: 'commerce', consent: { analytics: true } }),
          ev('add_to_cart', { category: 'commerce', consent: { analytics: false } }),
          ev('add_to_cart', { category: 'commerce' }),
          ev('newsletter', { category: 'marketing', consent: { marketing: true, email: true } }),
          ev('newsletter', { category: 'marketing', consent: { marketing: true } }),
          ev('newsletter', { category: 'marketing', consent: { email: true } }),
        ],
      });
      const names = (id: string) => h.events(id).map((e) => `${e.name}${e.context.tenant ? `@${String(e.context.tenant)}` : ''}`);
      assert.deepEqual(names('capture/tenant'), ['purchase@acme']);
      assert.deepEqual(names('capture/commerce'), ['purchase']);
      assert.deepEqual(names('capture/marketing'), ['newsletter']);
      assert.deepEqual(names('capture/rest'), ['add_to_cart', 'add_to_cart', 'newsletter', 'newsletter']);
      const m = await h.metrics();
      const routed = (route: string) => metricValue(m, `otelytics_connector_routed_items{connector="routing",route="${route}"}`);
      assert.deepEqual([routed('0'), routed('1'), routed('2'), routed('default')], [1, 1, 1, 4]);
    } finally {
      await h.stop();
    }
  });

  it('a route may feed several pipelines; without default pipelines what matches nothing is dropped and counted', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { capture/a: , capture/b: }
connectors:
  routing:
    table:
      - statement: route() where name == "purchase"
        pipelines: [events/a, events/b]
      - match: { names: ["view_*"], properties: { currency: EUR } }
        pipelines: [events/b]
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    events: { receivers: [feed], exporters: [routing] }
    events/a: { receivers: [routing], exporters: [capture/a] }
    events/b: { receivers: [routing], exporters: [capture/b] }
`);
    try {
      const all = [ev('purchase'), ev('view_item', { properties: { currency: 'EUR' } }), ev('view_item', { properties: { currency: 'USD' } }), ev('search')];
      await h.send({ signal: 'events', data: all });
      assert.deepEqual(h.events('capture/a').map((e) => e.name), ['purchase']);
      assert.deepEqual(h.events('capture/b').map((e) => e.name), ['purchase', 'view_item']);
      const m = await h.metrics();
      assert.equal(metricValue(m, 'otelytics_connector_routed_items{connector="routing",route="none"}'), 2);
      assert.equal(metricValue(m, 'otelytics_events_dropped{component="routing",reason="unrouted"}'), 2);
    } finally {
      await h.stop();
    }
  });

  it('hands a payload whose events all take one route on as it is', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { capture: }
connectors: { routing: { table: [{ condition: 'true', pipelines: [events/out] }] } }
service:
  pipelines:
    events: { receivers: [feed], exporters: [routing] }
    events/out: { receivers: [routing], exporters: [capture] }
`);
    try {
      const data = [ev('a'), ev('b')];
      await h.send({ signal: 'events', data });
      assert.equal(h.captured('capture')[0]!.data, data);
    } finally {
      await h.stop();
    }
  });

  it('error_mode: propagate refuses the payload; ignore sends the item to the default pipelines', async () => {
    const table = `
    default_pipelines: [events/rest]
    table:
      - condition: properties["cart"]["total"] > 100
        pipelines: [events/big]`;
    const yaml = (mode: string) => `
receivers: { feed: }
exporters: { capture/big: , capture/rest: }
connectors:
  routing:
    error_mode: ${mode}${table}
service:
  pipelines:
    events: { receivers: [feed], exporters: [routing] }
    events/big: { receivers: [routing], exporters: [capture/big] }
    events/rest: { receivers: [routing], exporters: [capture/rest] }
`;
    const data = () => [ev('a', { properties: { cart: { total: 120 } } }), ev('b', { properties: { cart: 'broken' } })];
    const strict = await harness(yaml('propagate'));
    try {
      await assert.rejects(strict.send({ signal: 'events', data: data() }), (e: unknown) => e instanceof PermanentError && /table::0: .*a string value cannot be indexed/.test(e.message));
      assert.equal(strict.events('capture/big').length + strict.events('capture/rest').length, 0, 'nothing of a refused payload was handed on');
    } finally {
      await strict.stop();
    }
    for (const mode of ['ignore', 'silent']) {
      const lenient = await harness(yaml(mode));
      try {
        await lenient.send({ signal: 'events', data: data() });
        assert.deepEqual(lenient.events('capture/big').map((e) => e.name), ['a']);
        assert.deepEqual(lenient.events('capture/rest').map((e) => e.name), ['b']);
      } finally {
        await lenient.stop();
      }
    }
  });
});

describe('routing connector: spans and log records', () => {
  it('routes each span (span context) or each resource (the default context), parts keeping resource and scope', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { capture/errors: , capture/checkout: , capture/rest: }
connectors:
  routing:
    default_pipelines: [traces/rest]
    table:
      - context: span
        condition: attributes["http.response.status_code"] >= 500
        pipelines: [traces/errors]
      - condition: attributes["service.name"] == "checkout"
        pipelines: [traces/checkout]
service:
  pipelines:
    traces: { receivers: [feed], exporters: [routing] }
    traces/errors: { receivers: [routing], exporters: [capture/errors] }
    traces/checkout: { receivers: [routing], exporters: [capture/checkout] }
    traces/rest: { receivers: [routing], exporters: [capture/rest] }
`);
    try {
      await h.send({
        signal: 'traces',
        data: traces({
          web: { 'GET /': { 'http.response.status_code': 200 }, 'GET /cart': { 'http.response.status_code': 503 } },
          checkout: { 'POST /pay': { 'http.response.status_code': 201 }, 'POST /refund': { 'http.response.status_code': 500 } },
        }),
      });
      const got = (id: string) => h.captured(id).flatMap((p) => (p.signal === 'traces' ? spanNames(p.data) : []));
      assert.deepEqual(got('capture/errors'), ['web:GET /cart', 'checkout:POST /refund']);
      assert.deepEqual(got('capture/checkout'), ['checkout:POST /pay']);
      assert.deepEqual(got('capture/rest'), ['web:GET /']);
      const errors = h.captured('capture/errors')[0]!.data as TracesData;
      assert.deepEqual(errors.resourceSpans.map((rs) => rs.scopeSpans[0]!.scope.name), ['web-scope', 'checkout-scope']);
      const rest = h.captured('capture/rest')[0]!.data as TracesData;
      assert.notEqual(errors.resourceSpans[0]!.resource, rest.resourceSpans[0]!.resource, 'a resource split between routes is copied');
      assert.deepEqual(errors.resourceSpans[0]!.resource, rest.resourceSpans[0]!.resource);
    } finally {
      await h.stop();
    }
  });

  it('takes a collector routing table as it is: log and resource contexts, statements, match_once: true, default pipelines', async () => {
    // Written as for an OpenTelemetry Collector (contrib) 0.120 or later.
    const h = await harness(`
receivers: { feed: }
exporters: { capture/eu: , capture/us: , capture/debug: , capture/other: }
connectors:
  routing:
    match_once: true
    error_mode: ignore
    default_pipelines: [logs/other]
    table:
      - context: log
        condition: severity_number < SEVERITY_NUMBER_INFO
        pipelines: [logs/debug]
      - context: log
        condition: attributes["region"] == "eu" or IsMatch(attributes["region"], "^eu-")
        pipelines: [logs/eu]
      - statement: route() where attributes["service.name"] == "us-shop"
        pipelines: [logs/us]
service:
  pipelines:
    logs/in: { receivers: [feed], exporters: [routing] }
    logs/eu: { receivers: [routing], exporters: [capture/eu] }
    logs/us: { receivers: [routing], exporters: [capture/us] }
    logs/debug: { receivers: [routing], exporters: [capture/debug] }
    logs/other: { receivers: [routing], exporters: [capture/other] }
`);
    try {
      const data = logs({
        'eu-shop': [
          { event: 'order.completed', attributes: { region: 'eu' } },
          { event: 'cart.item_added', attributes: { region: 'eu-west' } },
          { event: 'search', attributes: {} },
        ],
        'us-shop': [
          { event: 'order.completed', attributes: { region: 'us' } },
          { event: 'order.completed', attributes: { region: 'eu' } },
          { event: 'page.viewed', attributes: { region: 'us' } },
        ],
      });
      data.resourceLogs[1]!.scopeLogs[0]!.logRecords[0]!.severityNumber = 5;
      await h.send({ signal: 'logs', data });
      const got = (id: string) => h.captured(id).flatMap((p) => (p.signal === 'logs' ? recordNames(p.data) : []));
      assert.deepEqual(got('capture/debug'), ['us-shop:order.completed']);
      assert.deepEqual(got('capture/eu'), ['eu-shop:order.completed', 'eu-shop:cart.item_added', 'us-shop:order.completed']);
      assert.deepEqual(got('capture/us'), ['us-shop:page.viewed']);
      assert.deepEqual(got('capture/other'), ['eu-shop:search']);
    } finally {
      await h.stop();
    }
  });

  it('a traces table of the collector\'s form, resource context by default', async () => {
    const h = await harness(`
receivers: { feed: }
exporters: { capture/acme: , capture/all: }
connectors:
  routing:
    default_pipelines: [traces/all]
    table:
      - statement: route() where attributes["X-Tenant"] == "acme"
        pipelines: [traces/acme, traces/all]
service:
  pipelines:
    traces/in: { receivers: [feed], exporters: [routing] }
    traces/acme: { receivers: [routing], exporters: [capture/acme] }
    traces/all: { receivers: [routing], exporters: [capture/all] }
`);
    try {
      const data = traces({ a: { one: {} }, b: { two: {} } });
      data.resourceSpans[0]!.resource.attributes.push({ key: 'X-Tenant', value: { stringValue: 'acme' } });
      await h.send({ signal: 'traces', data });
      const got = (id: string) => h.captured(id).flatMap((p) => (p.signal === 'traces' ? spanNames(p.data) : []));
      assert.deepEqual(got('capture/acme'), ['a:one']);
      assert.deepEqual(got('capture/all').sort(), ['a:one', 'b:two']);
    } finally {
      await h.stop();
    }
  });
});
