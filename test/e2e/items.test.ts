/**
 * GA4 items lists through every exporter, with the gateway run as users run it: the CLI on
 * config.example.yaml (its privacy and filter settings) with an overlay that adds three commerce
 * rules, the enrich processor on examples/catalog/products.csv and four destinations, fed by the
 * OpenTelemetry JS SDK over OTLP/HTTP (protobuf):
 *
 * - a span `POST /checkout` whose attributes `cart.items.sku` and `cart.items.quantity` are OTLP
 *   arrays → `purchase` with an items list zipped from them;
 * - a span `POST /buy-now` with one product (scalar attributes) → `purchase` with `item_id`,
 *   `quantity` and a one-item list;
 * - a log record `cart.checkout` whose attribute `cart.items` is a list of maps → `begin_checkout`
 *   with one item per map;
 *
 * enrich fills each item's `item_name`, `price`, ... and the event's `value` (Σ price × quantity).
 * Each destination must get `items` as an array of objects with `price`, `quantity` and `value` as
 * JSON numbers: the Amplitude stand-in's `event_properties` (and `revenue`, `price`, `quantity` of
 * the purchase with one product), the Kafka topics' records (a real broker; JSON values, and OTLP
 * log records whose items are kvlists with typed numbers), the file, and
 * BigQuery rows read back with the official client from a GA4-shaped `items REPEATED RECORD`
 * column (goccy/bigquery-emulator when installed, else the stand-in, as emulator.test.ts does).
 * Every item carries analytics consent, as a consent tool would set it, so privacy keeps identity.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BigQuery } from '@google-cloud/bigquery';
import { logsDataToEvents, type AnalyticsEvent } from '../../src/event.js';
import { decodeLogsRequest } from '../../src/otlp/proto.js';
import { startAmplitudeServer, type FakeAmplitude } from '../fakes/amplitude-server.js';
import { startFakeBigQuery } from '../fakes/bigquery-server.js';
import { GA4_ITEMS_COLUMN } from '../exporters/bigquery/ga4-items.js';
import { createTopic, noKafka, readTopic, startBroker, type Broker } from '../exporters/kafka/kafka-helpers.js';
import { freePort, projectRoot, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { describeUnless } from '../skip.js';

const API_KEY = 'items-test-key';
const PROJECT = 'otelytics-items';
const TOPIC = 'otelytics_items_events';
const TOPIC_OTLP = 'otelytics_items_otlp';

interface EmulatorScript {
  isInstalled(): boolean;
  startBigQueryEmulator(o: { project: string; port: number; grpcPort: number }): Promise<{ endpoint: string; stop(): Promise<void> }>;
}
const emulator = (await import(pathToFileURL(path.join(projectRoot, 'scripts/bigquery-emulator/emulator.mjs')).href)) as EmulatorScript;
const withEmulator = emulator.isInstalled();

/** The catalogue's rows by item_id, prices as numbers. */
const catalogue = new Map(
  fs
    .readFileSync(path.join(projectRoot, 'examples/catalog/products.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { item_id: string; item_name: string; price: number; item_brand: string; item_category: string })
    .map((r) => [r.item_id, r]),
);

/** What each event's items must be after enrich: the sent item fields plus the catalogue's. */
const SENT: Record<string, { item_id: string; quantity: number; coupon?: string }[]> = {
  'checkout:purchase': [
    { item_id: 'trq22o064-q11', quantity: 1 },
    { item_id: 'le222n0ab-k11', quantity: 2 },
  ],
  'buy-now:purchase': [{ item_id: 'ad115o0k2-a11', quantity: 2 }],
  'checkout-log:begin_checkout': [
    { item_id: 'gu521a0c3-b12', quantity: 1, coupon: 'WINTER10' },
    { item_id: 'ho311b0q7-c11', quantity: 3 },
  ],
};
const expectedItems = (key: string) =>
  SENT[key]!.map((s) => {
    const row = catalogue.get(s.item_id)!;
    return { ...s, item_name: row.item_name, price: row.price, item_brand: row.item_brand, item_category: row.item_category };
  });
const expectedValue = (key: string) => Math.round(SENT[key]!.reduce((sum, s) => sum + catalogue.get(s.item_id)!.price * s.quantity, 0) * 1e6) / 1e6;

/** The overlay: rules, enrich, the four destinations and the events pipeline (privacy and filter as config.example.yaml has them). */
function overlay(o: { amplitude: string; bigquery: string; brokers: string; events: string }): string {
  const schema = [
    { name: 'event_name', type: 'STRING', mode: 'REQUIRED', source: 'name' },
    { name: 'event_time', type: 'TIMESTAMP', mode: 'REQUIRED', source: 'time' },
    { name: 'insert_id', type: 'STRING', mode: 'REQUIRED', source: 'insert_id' },
    { name: 'user_id', type: 'STRING', source: 'user_id' },
    { name: 'rule', type: 'STRING', source: 'context.rule' },
    { name: 'transaction_id', type: 'STRING', source: 'properties.transaction_id' },
    { name: 'value', type: 'FLOAT', source: 'properties.value' },
    { name: 'currency', type: 'STRING', source: 'properties.currency' },
    GA4_ITEMS_COLUMN,
  ];
  return `
processors:
  analytics:
    rules:
      - id: checkout
        event: purchase
        match: { kind: server, attributes: { http.request.method: POST, http.route: /checkout, http.response.status_code: { lt: 400 } } }
        properties:
          transaction_id: attributes.order.id
          currency: { from: attributes.currency, default: EUR }
          items:
            fields:
              item_id: { from: attributes.cart.items.sku, transform: lowercase }
              quantity: { from: attributes.cart.items.quantity, default: 1 }
        category: commerce
      - id: buy-now
        event: purchase
        match: { kind: server, attributes: { http.request.method: POST, http.route: /buy-now, http.response.status_code: { lt: 400 } } }
        properties:
          transaction_id: attributes.order.id
          item_id: { from: attributes.product.sku, transform: lowercase }
          quantity: attributes.product.quantity
          items:
            fields:
              item_id: { from: attributes.product.sku, transform: lowercase }
              quantity: attributes.product.quantity
        category: commerce
      - id: checkout-log
        source: log
        event: begin_checkout
        match: { name: cart.checkout }
        properties:
          currency: attributes.currency
          items:
            each: attributes.cart.items
            fields:
              item_id: { from: item.sku, transform: lowercase }
              quantity: { from: item.qty, default: 1 }
              coupon: item.coupon
        category: commerce
  enrich/products:
    key: properties.item_id
    source: { file: { path: ${JSON.stringify(path.join(projectRoot, 'examples/catalog/products.csv'))}, number_fields: [price] } }
    fields: [item_name, price, currency, item_brand, item_category]
    items:
      fields: [item_name, price, item_brand, item_category]
      value: true
exporters:
  file:
    path: ${JSON.stringify(o.events)}
  amplitude:
    api_key: ${API_KEY}
    endpoint: ${o.amplitude}
    device_id: [device_id, session_id, insert_id]
  bigquery:
    project: ${PROJECT}
    dataset: shop
    table: events
    api_endpoint: ${o.bigquery}
    no_auth: true
    time_partitioning: { field: event_time }
    schema: ${JSON.stringify(schema)}
  kafka/events:
    brokers: ${o.brokers}
    client_id: otelytics-items
    events: { topic: ${TOPIC}, encoding: json }
  kafka/otlp:
    brokers: ${o.brokers}
    client_id: otelytics-items-otlp
    events: { topic: ${TOPIC_OTLP}, encoding: otlp_proto }
service:
  pipelines:
    events:
      receivers: [otlp]
      processors: [memory_limiter, analytics, privacy, filter, enrich/products, batch]
      exporters: [file, amplitude, bigquery, kafka/events, kafka/otlp]
`;
}

/** Sends the two purchases and the checkout with the OpenTelemetry JS SDK (OTLP/HTTP protobuf). */
async function send(port: number): Promise<void> {
  const resource = resourceFromAttributes({ 'service.name': 'shop-items', 'service.version': '1.0.0' });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces` }))] });
  const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `http://127.0.0.1:${port}/v1/logs` }) })] });
  const tracer = tracerProvider.getTracer('shop');
  const visitor = { 'enduser.id': 'customer-4711', 'session.id': 'session-items-1', 'consent.analytics': true };
  const server = (route: string, attributes: Record<string, string | number | boolean | string[] | number[]>) => {
    const span = tracer.startSpan(`POST ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': route, 'http.response.status_code': 200, ...visitor, ...attributes } });
    span.setStatus({ code: SpanStatusCode.OK });
    span.end();
  };
  server('/checkout', { 'order.id': 'T-1001', 'cart.items.sku': ['TRQ22O064-Q11', 'LE222N0AB-K11'], 'cart.items.quantity': [1, 2] });
  server('/buy-now', { 'order.id': 'T-1002', 'product.sku': 'AD115O0K2-A11', 'product.quantity': 2 });
  loggerProvider.getLogger('shop').emit({
    eventName: 'cart.checkout',
    attributes: { ...visitor, currency: 'EUR', 'cart.items': [{ sku: 'GU521A0C3-B12', qty: 1, coupon: 'WINTER10' }, { sku: 'HO311B0Q7-C11', qty: 3 }] },
  });
  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
}

/** `rule:event name`, the keys of SENT. */
const keyOf = (e: { name?: string; event_type?: string }, rule: string | undefined) => `${rule}:${e.name ?? e.event_type}`;

/** Asserts the items and value of an event's properties: arrays of objects, numbers as numbers. */
function assertCommerce(where: string, key: string, props: Record<string, unknown>): void {
  assert.ok(Array.isArray(props.items), `${where} ${key}: items is an array`);
  for (const item of props.items as unknown[]) {
    assert.ok(item !== null && typeof item === 'object' && !Array.isArray(item), `${where} ${key}: items are objects`);
    const { price, quantity } = item as { price: unknown; quantity: unknown };
    assert.equal(typeof price, 'number', `${where} ${key}: price ${JSON.stringify(price)} is a number`);
    assert.equal(typeof quantity, 'number', `${where} ${key}: quantity ${JSON.stringify(quantity)} is a number`);
  }
  assert.deepEqual(props.items, expectedItems(key), `${where} ${key}: items`);
  assert.equal(typeof props.value, 'number', `${where} ${key}: value is a number`);
  assert.equal(props.value, expectedValue(key), `${where} ${key}: value`);
  assert.equal(props.currency, 'EUR', `${where} ${key}: currency`);
}

describeUnless(noKafka, `GA4 items through every exporter (BigQuery: ${withEmulator ? 'goccy/bigquery-emulator' : 'the REST stand-in; goccy/bigquery-emulator is not installed'})`, { timeout: 120_000 }, () => {
  let broker: Broker;
  let amplitude: FakeAmplitude;
  let bigquery: { endpoint: string; stop(): Promise<void> };
  let gw: RunningGateway;
  let dir = '';

  before(async () => {
    [broker, amplitude, bigquery] = await Promise.all([
      startBroker(),
      startAmplitudeServer({ apiKeys: [API_KEY] }),
      withEmulator
        ? emulator.startBigQueryEmulator({ project: PROJECT, port: await freePort(), grpcPort: await freePort() })
        : startFakeBigQuery().then((f) => ({ endpoint: f.endpoint, stop: () => f.close() })),
    ]);
    await createTopic(broker.brokers, TOPIC, 1);
    await createTopic(broker.brokers, TOPIC_OTLP, 1);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-items-'));
    const overlayFile = path.join(dir, 'items.yaml');
    fs.writeFileSync(overlayFile, overlay({ amplitude: amplitude.url, bigquery: bigquery.endpoint, brokers: broker.brokers.join(','), events: path.join(dir, 'events.jsonl') }));
    gw = await startGateway({
      dir,
      configs: [path.join(projectRoot, 'config.example.yaml'), overlayFile],
      env: { OTELYTICS_PSEUDONYM_KEY: 'items-test-key-0123456789abcdef0123' },
      sets: ['processors::batch::timeout=50ms', 'service::telemetry::logs::level=warn'],
    });
    await send(gw.ports.http);
    // Stopping drains every exporter's queue.
    assert.equal(await gw.stop(), 0, gw.output());
  });

  after(async () => {
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
    await Promise.all([broker?.stop(), amplitude?.close(), bigquery?.stop()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the file: items as arrays of objects, price, quantity and value as numbers', () => {
    const events = readJsonLines<AnalyticsEvent>(path.join(dir, 'events.jsonl'));
    assert.deepEqual(events.map((e) => keyOf(e, e.context.rule)).sort(), Object.keys(SENT).sort());
    for (const e of events) {
      const key = keyOf(e, e.context.rule);
      assertCommerce('file', key, e.properties);
      assert.match(String(e.user_id), /^[0-9a-f]{8}:/, 'pseudonymised with consent');
    }
    // The raw line: numbers written as JSON numbers, not text.
    assert.match(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8'), /"price":19\.99,"quantity":1|"quantity":1,[^}]*"price":19\.99/);
  });

  it('Amplitude: event_properties.items as arrays of objects with numbers; the purchase of one product has numeric revenue, price and quantity', () => {
    const events = [...amplitude.ingested.values()].map((i) => i.event as { event_type: string; event_properties: Record<string, unknown>; revenue?: unknown; price?: unknown; quantity?: unknown; productId?: unknown });
    const withKeys = events.map((e) => ({ e, key: keyOf(e, ruleOf(e)) }));
    assert.deepEqual(withKeys.map((x) => x.key).sort(), Object.keys(SENT).sort());
    for (const { e, key } of withKeys) {
      assertCommerce('amplitude', key, e.event_properties);
      if (e.event_type === 'purchase') assert.equal(e.revenue, expectedValue(key), `${key}: revenue = value`);
    }
    const one = withKeys.find((x) => x.key === 'buy-now:purchase')!.e;
    assert.deepEqual({ revenue: one.revenue, price: one.price, quantity: one.quantity, productId: one.productId }, { revenue: 179.9, price: 89.95, quantity: 2, productId: 'ad115o0k2-a11' });
    for (const f of ['revenue', 'price', 'quantity'] as const) assert.equal(typeof one[f], 'number', f);
  });

  it('Kafka: each record\'s JSON value carries items as arrays of objects with numbers', async () => {
    const records = await readTopic(broker.brokers, TOPIC, (r) => r.length >= 3, { timeoutMs: 20_000, settleMs: 300 });
    assert.equal(records.length, 3);
    for (const r of records) {
      const e = JSON.parse(r.value.toString('utf8')) as AnalyticsEvent;
      assertCommerce('kafka', keyOf(e, e.context.rule), e.properties);
    }
  });

  it('Kafka, OTLP encoding: items as an array of kvlists, price and quantity typed as numbers (doubleValue / intValue)', async () => {
    const records = await readTopic(broker.brokers, TOPIC_OTLP, (r) => r.length >= 3, { timeoutMs: 20_000, settleMs: 300 });
    assert.equal(records.length, 3);
    for (const r of records) {
      const data = decodeLogsRequest(r.value);
      const record = data.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
      const attr = (key: string) => record.attributes.find((kv) => kv.key === key)?.value;
      const items = attr('items');
      assert.ok(items && 'arrayValue' in items, 'items is an arrayValue');
      for (const item of items.arrayValue.values) {
        assert.ok('kvlistValue' in item, 'each item a kvlistValue');
        const field = (k: string) => item.kvlistValue.values.find((kv) => kv.key === k)!.value;
        assert.ok('doubleValue' in field('price') || 'intValue' in field('price'), JSON.stringify(field('price')));
        assert.ok('intValue' in field('quantity'), JSON.stringify(field('quantity')));
      }
      assert.ok('doubleValue' in attr('value')! || 'intValue' in attr('value')!);
      const [e] = logsDataToEvents(data);
      assertCommerce('kafka otlp', keyOf(e!, e!.context.rule), e!.properties);
    }
  });

  it('BigQuery: the GA4-shaped items REPEATED RECORD reads back as arrays of records, FLOAT and INTEGER as numbers; value a number', async () => {
    const client = new BigQuery({ projectId: PROJECT, apiEndpoint: bigquery.endpoint, authClient: { getRequestHeaders: async () => new Headers() } as never });
    const [meta] = await client.dataset('shop').table('events').getMetadata();
    const items = (meta.schema.fields as { name: string; type: string; mode: string; fields?: { name: string; type: string }[] }[]).find((f) => f.name === 'items')!;
    assert.deepEqual({ type: items.type, mode: items.mode, price: items.fields?.find((f) => f.name === 'price')?.type, quantity: items.fields?.find((f) => f.name === 'quantity')?.type }, { type: 'RECORD', mode: 'REPEATED', price: 'FLOAT', quantity: 'INTEGER' });
    const [rows] = await client.dataset('shop').table('events').getRows();
    assert.deepEqual(rows.map((r) => keyOf({ name: String(r.event_name) }, String(r.rule))).sort(), Object.keys(SENT).sort());
    for (const r of rows) {
      const key = keyOf({ name: String(r.event_name) }, String(r.rule));
      const want = expectedItems(key).map((i) => ({ item_id: i.item_id, item_name: i.item_name, item_brand: i.item_brand, item_category: i.item_category, price: i.price, quantity: i.quantity, coupon: i.coupon ?? null }));
      const got = (r.items as Record<string, unknown>[]).map((i) => ({ item_id: i.item_id, item_name: i.item_name, item_brand: i.item_brand, item_category: i.item_category, price: i.price, quantity: i.quantity, coupon: i.coupon ?? null }));
      assert.deepEqual(got, want, `bigquery ${key}: items`);
      for (const i of got) {
        assert.equal(typeof i.price, 'number', `${key}: price`);
        assert.equal(typeof i.quantity, 'number', `${key}: quantity`);
      }
      assert.equal(r.value, expectedValue(key), `${key}: value`);
      assert.equal(r.currency, 'EUR');
    }
  });
});

/** Amplitude events carry no rule: tell the purchases apart by their single product. */
function ruleOf(e: { event_type: string; event_properties: Record<string, unknown> }): string {
  if (e.event_type === 'begin_checkout') return 'checkout-log';
  return e.event_properties.item_id ? 'buy-now' : 'checkout';
}
