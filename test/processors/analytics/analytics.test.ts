import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { fromLogRecord, toLogRecord } from '../../../src/event.js';
import type { KeyValue, LogsData, Span, TracesData } from '../../../src/pdata.js';
import { emptySpan, fromJsonValue } from '../../../src/pdata.js';
import { analyticsProcessorFactory, EventMaker } from '../../../processors/analytics/index.js';
import type { AnalyticsConfig } from '../../../processors/analytics/config.js';
import { decodeLogsRequest, decodeTracesRequest, EncodedTraces, encodeLogsRequest, encodeTracesRequest, scanTracesRequest } from '../../../src/otlp/proto.js';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { insertId } from '../../../processors/analytics/rules.js';
import { tracesRequest } from '../../fuzz/traces.js';
import path from 'node:path';
import { resolveConfig } from '../../../src/config/resolve.js';
import { loadRawConfig } from '../../../src/config/sources.js';
import { defaultRegistry } from '../../../src/registry.js';
import { fixtureBodyPlain, fixtureManifest, projectRoot, readFixture } from '../../helpers.js';

function config(raw: unknown): AnalyticsConfig {
  const r = analyticsProcessorFactory.configSchema.safeParse(raw);
  if (!r.success) throw new Error(JSON.stringify(r.error.issues));
  return r.data;
}

const attrs = (o: Record<string, unknown>): KeyValue[] => Object.entries(o).map(([key, v]) => ({ key, value: fromJsonValue(v) }));

function span(over: Partial<Span> & { attributes?: KeyValue[] }): Span {
  return {
    ...emptySpan(),
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    flags: 1,
    name: 'GET /pdp/:slug',
    kind: 2,
    startTimeUnixNano: '1795288699552000000',
    endTimeUnixNano: '1795288699559318452',
    ...over,
  };
}

function traces(spans: Span[], resource: Record<string, unknown> = { 'service.name': 'shop' }): TracesData {
  return {
    resourceSpans: [
      { resource: { attributes: attrs(resource), droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }], schemaUrl: '' },
    ],
  };
}

/** Events from traces as pdata and, for protobuf traces, as projected (`EncodedTraces`): both the same. */
function eventsOfTraces(maker: EventMaker, data: TracesData | Uint8Array): AnalyticsEvent[] {
  const body = data instanceof Uint8Array ? data : encodeTracesRequest(data);
  const fromPdata: AnalyticsEvent[] = [];
  maker.fromTraces(decodeTracesRequest(body), fromPdata);
  const projected: AnalyticsEvent[] = [];
  maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), projected);
  assert.deepEqual(projected, fromPdata, 'events of the projected request differ from those of the decoded one');
  return fromPdata;
}

function run(cfg: AnalyticsConfig, data: { traces?: TracesData; logs?: LogsData }): AnalyticsEvent[] {
  const maker = new EventMaker(cfg);
  const out: AnalyticsEvent[] = [];
  if (data.traces) out.push(...eventsOfTraces(maker, data.traces));
  if (data.logs) maker.fromLogs(data.logs, out);
  return out;
}

const pdpRule = {
  id: 'pdp',
  event: 'view_item',
  match: { kind: 'server', attributes: { 'http.route': '/pdp/:slug', 'http.response.status_code': { lt: 400 } } },
  capture: { 'url.path': '-(?<item_id>[a-z0-9]{9}-[a-z0-9]{3})\\.html$' },
  properties: { page: 'attributes.url.path', env: 'resource.deployment.environment.name', fixed: { value: 'x' } },
};

describe('analytics span rules', () => {
  const pdp = (path: string, status = 200, kind = 2) =>
    span({ kind, attributes: attrs({ 'http.route': '/pdp/:slug', 'url.path': path, 'http.response.status_code': status, 'enduser.id': 'u-1', 'session.id': 's-1' }) });

  it('captures the item id from the URL with a named group', () => {
    const [e] = run(config({ rules: [pdpRule] }), { traces: traces([pdp('/pdp/t-shirt-print-schwarz-trq22o064-q11.html')], { 'service.name': 'shop', 'deployment.environment.name': 'prod' }) });
    assert.equal(e!.name, 'view_item');
    assert.deepEqual(e!.properties, { item_id: 'trq22o064-q11', page: '/pdp/t-shirt-print-schwarz-trq22o064-q11.html', env: 'prod', fixed: 'x' });
    assert.equal(e!.user_id, 'u-1');
    assert.equal(e!.session_id, 's-1');
    assert.equal(e!.time_unix_nano, '1795288699552000000');
    assert.deepEqual(e!.context, { source: 'span', 'service.name': 'shop', 'deployment.environment': 'prod', trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', rule: 'pdp' });
  });

  it('makes no event when a condition or a capture fails', () => {
    const cfg = config({ rules: [pdpRule] });
    assert.equal(run(cfg, { traces: traces([pdp('/pdp/x.html', 200)]) }).length, 0, 'capture does not match');
    assert.equal(run(cfg, { traces: traces([pdp('/pdp/t-shirt-trq22o064-q11.html', 404)]) }).length, 0, 'status 404');
    assert.equal(run(cfg, { traces: traces([pdp('/pdp/t-shirt-trq22o064-q11.html', 200, 3)]) }).length, 0, 'client span');
  });

  it('matches names by glob, status codes, and attribute tests', () => {
    const cfg = config({
      rules: [
        { id: 'a', event: 'a', match: { name: 'GET /pdp/*', status: ['unset', 'ok'] } },
        { id: 'b', event: 'b', match: { attributes: { 'http.request.method': { in: ['POST', 'PUT'] } } } },
        { id: 'c', event: 'c', match: { attributes: { missing: { exists: false }, 'url.path': { regex: '^/cart' } } } },
        { id: 'd', event: 'd', match: { attributes: { 'url.path': { glob: '/cart*' }, code: { gte: 200, lt: 300 } } } },
      ],
    });
    const s = span({ name: 'POST /cart', attributes: attrs({ 'http.request.method': 'POST', 'url.path': '/cart', code: 201 }) });
    assert.deepEqual(run(cfg, { traces: traces([s]) }).map((e) => e.name), ['b', 'c', 'd']);
    const failed = span({ name: 'GET /pdp/:slug', status: { code: 2, message: 'boom' } });
    assert.deepEqual(run(cfg, { traces: traces([failed]) }).map((e) => e.name), []);
  });

  it('reads query parameters form-decoded, and transforms values', () => {
    const cfg = config({
      rules: [
        {
          id: 's',
          event: 'search',
          properties: { search_term: 'query.q', n: { from: 'attributes.n', transform: 'number' }, sku: { from: 'attributes.sku', transform: 'lowercase' }, cur: { from: 'attributes.none', default: 'EUR' } },
        },
      ],
    });
    const [e] = run(cfg, { traces: traces([span({ attributes: attrs({ 'url.query': 'q=g%C3%BCrtel+leder&page=2', n: '3', sku: 'TRQ22O064-Q11' }) })]) });
    assert.deepEqual(e!.properties, { search_term: 'gürtel leder', n: 3, sku: 'trq22o064-q11', cur: 'EUR' });
    const [f] = run(cfg, { traces: traces([span({ attributes: attrs({ 'url.full': 'http://h/search?q=jeans' }) })]) });
    assert.equal(f!.properties.search_term, 'jeans');
  });

  it('gives deterministic insert_ids that differ per rule and per span', () => {
    const cfg = config({ rules: [{ id: 'one', event: 'x' }, { id: 'two', event: 'y' }] });
    const a = run(cfg, { traces: traces([span({})]) });
    const b = run(cfg, { traces: traces([span({})]) });
    assert.deepEqual(a.map((e) => e.insert_id), b.map((e) => e.insert_id));
    assert.notEqual(a[0]!.insert_id, a[1]!.insert_id);
    const c = run(cfg, { traces: traces([span({ spanId: '00000000000000aa' })]) });
    assert.notEqual(c[0]!.insert_id, a[0]!.insert_id);
    assert.match(a[0]!.insert_id, /^[0-9a-f]{32}$/);
  });

  it('insert_id is the first 32 hex digits of SHA-256 over the parts joined by NUL', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 6 }), (parts) => {
        assert.equal(insertId(parts), createHash('sha256').update(parts.join('\u0000'), 'utf8').digest('hex').slice(0, 32));
      }),
      { numRuns: 500 },
    );
  });

  it('copies governance attributes and consent flags', () => {
    const cfg = config({ rules: [{ id: 'r', event: 'e', category: 'commerce', privacy_level: 'internal' }] });
    const [e] = run(cfg, { traces: traces([span({ attributes: attrs({ 'consent.analytics': true, 'consent.marketing': 'false' }) })]) });
    assert.equal(e!.category, 'commerce');
    assert.equal(e!.privacy_level, 'internal');
    assert.deepEqual(e!.consent, { analytics: true, marketing: false });
  });
});

describe('analytics log records', () => {
  const logs = decodeLogsRequest(readFixture('logs-shop-01.pb'));

  it('turns every log record with an event name into an event, properties from attributes', () => {
    const events = run(config({}), { logs });
    const named = logs.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).filter((r) => r.eventName);
    assert.equal(events.length, named.length);
    const signup = events.find((e) => e.name === 'user.signed_up')!;
    assert.equal(signup.user_id, 'u-1001');
    assert.equal(signup.session_id, 's-9f2c1a7e');
    assert.deepEqual(signup.consent, { analytics: true, marketing: false });
    assert.equal(signup.properties['signup.method'], 'email');
    for (const k of ['event.name', 'user.id', 'session.id', 'consent.analytics', 'client.address']) assert.ok(!(k in signup.properties), k);
    assert.equal(signup.context['client.address'], '203.0.113.7');
    assert.equal(signup.context.source, 'log');
    assert.ok(!('message' in signup.properties), 'bodies are left out by default');
  });

  it('takes a record\'s time from Timestamp, else ObservedTimestamp (as Java and Go SDKs send), else the receive time', () => {
    const record = (time: string, observed: string) => ({ timeUnixNano: time, observedTimeUnixNano: observed, severityNumber: 0, severityText: '', body: {}, attributes: [], droppedAttributesCount: 0, flags: 0, traceId: '', spanId: '', eventName: 'e' });
    const data: LogsData = {
      resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', logRecords: [record('1795601100014700000', '1795601100099900000'), record('0', '1795601100099900000'), record('0', '0')] }] }],
    };
    const before = BigInt(Date.now()) * 1_000_000n;
    const [timed, observed, neither] = run(config({}), { logs: data });
    assert.equal(timed!.time_unix_nano, '1795601100014700000');
    assert.equal(observed!.time_unix_nano, '1795601100099900000');
    const received = BigInt(neither!.time_unix_nano);
    assert.ok(received >= before && received <= BigInt(Date.now()) * 1_000_000n, `receive time ${received}`);
    const again = run(config({}), { logs: data });
    assert.equal(again[2]!.insert_id, neither!.insert_id, 'the receive time is not part of the insert_id');
    // An event read back from a log record (the kafka receiver's `events`) keeps its time the same way.
    assert.equal(fromLogRecord(record('0', '1795601100099900000'))!.time_unix_nano, '1795601100099900000');
    assert.equal(fromLogRecord(toLogRecord(observed!))!.time_unix_nano, observed!.time_unix_nano);
  });

  it('reads consent as consent tools send it: booleans, granted/denied (Google Consent Mode), true/false, yes/no, 1/0; anything else is denied', () => {
    const cases: [unknown, boolean][] = [[true, true], [false, false], ['granted', true], ['GRANTED', true], [' Denied ', false], ['true', true], ['no', false], ['1', true], [1, true], [0, false], ['maybe', false], [{ a: 1 }, false]];
    const logsWith = (v: unknown): LogsData => ({
      resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', logRecords: [{ timeUnixNano: '1', observedTimeUnixNano: '1', severityNumber: 0, severityText: '', body: {}, attributes: attrs({ 'consent.analytics': v }), droppedAttributesCount: 0, flags: 0, traceId: '', spanId: '', eventName: 'e' }] }] }],
    });
    for (const [value, granted] of cases) assert.equal(run(config({}), { logs: logsWith(value) })[0]!.consent?.analytics, granted, JSON.stringify(value));
  });

  it('keeps an attribute as a property of a log event even when a span rule reads that key', () => {
    const events = run(config({ rules: [{ id: 'pdp', event: 'view_item', properties: { method: 'attributes.signup.method' } }] }), { logs });
    assert.equal(events.find((e) => e.name === 'user.signed_up')!.properties['signup.method'], 'email');
  });

  it('falls back to the event.name attribute, and log rules rename, map and drop', () => {
    const cfg = config({
      rules: [
        { id: 'drop-flags', source: 'log', match: { name: 'feature_flag.*' }, drop: true },
        { id: 'viewed', source: 'log', event: 'view_item', match: { name: 'product.viewed' }, properties: { item_id: { from: 'attributes.product.sku', transform: 'lowercase' }, price: 'attributes.product.price' } },
        { id: 'body', source: 'log', event: 'app_log', match: { attributes: { kind: 'x' } }, properties: { text: 'body' } },
      ],
    });
    const rec = (eventName: string, a: Record<string, unknown>, body = 'hello') => ({
      timeUnixNano: '1',
      observedTimeUnixNano: '1',
      severityNumber: 9,
      severityText: 'INFO',
      body: { stringValue: body },
      attributes: attrs(a),
      droppedAttributesCount: 0,
      flags: 0,
      traceId: '',
      spanId: '',
      eventName,
    });
    const data: LogsData = {
      resourceLogs: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          scopeLogs: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              logRecords: [
                rec('', { 'event.name': 'feature_flag.evaluated' }),
                rec('product.viewed', { 'product.sku': 'AB-1', 'product.price': 9.5 }),
                rec('', { 'event.name': 'legacy.event', a: 1 }),
                rec('', { kind: 'x' }),
                rec('', { nothing: 1 }),
              ],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    };
    const events = run(cfg, { logs: data });
    assert.deepEqual(events.map((e) => [e.name, e.properties]), [
      ['view_item', { item_id: 'ab-1', price: 9.5 }],
      ['legacy.event', { a: 1 }],
      ['app_log', { text: 'hello' }],
    ]);
    assert.equal(new Set(events.map((e) => e.insert_id)).size, 3);
  });

  it('can switch log events off', () => {
    assert.equal(run(config({ logs: { events: false } }), { logs }).length, 0);
  });
});

describe('GA4 items lists', () => {
  const logRecord = (eventName: string, a: Record<string, unknown>, body: unknown = undefined) => ({
    timeUnixNano: '1795601100014700000',
    observedTimeUnixNano: '1795601100014700000',
    severityNumber: 9,
    severityText: 'INFO',
    body: body === undefined ? {} : fromJsonValue(body),
    attributes: attrs(a),
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName,
  });
  const logsOf = (...records: ReturnType<typeof logRecord>[]): LogsData => ({
    resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', logRecords: records }] }],
  });
  const cartRule = {
    id: 'cart',
    event: 'add_to_cart',
    properties: {
      currency: 'attributes.currency',
      items: {
        fields: {
          item_id: { from: 'attributes.cart.items.sku', transform: 'lowercase' },
          quantity: { from: 'attributes.cart.items.quantity', default: 1 },
          price: 'attributes.cart.items.price',
          item_list_name: { value: 'cart' },
        },
      },
    },
  };

  it('zips parallel array attributes of a span into items, numbers as numbers, the same from projected protobuf', () => {
    const s = span({ attributes: attrs({ 'cart.items.sku': ['TRQ22O064-Q11', 'LE222N0AB-K11'], 'cart.items.quantity': [1, 2], 'cart.items.price': [19.99, 59.9], currency: 'EUR' }) });
    const [e] = run(config({ rules: [cartRule] }), { traces: traces([s]) });
    assert.deepEqual(e!.properties, {
      currency: 'EUR',
      items: [
        { item_id: 'trq22o064-q11', quantity: 1, price: 19.99, item_list_name: 'cart' },
        { item_id: 'le222n0ab-k11', quantity: 2, price: 59.9, item_list_name: 'cart' },
      ],
    });
  });

  it('gives a shorter list\'s missing elements the default, one item when no value is a list, none for empty lists or no values', () => {
    const cfg = config({ rules: [cartRule] });
    const short = run(cfg, { traces: traces([span({ attributes: attrs({ 'cart.items.sku': ['A', 'B', 'C'], 'cart.items.quantity': [3], 'cart.items.price': [1.5, 2] }) })]) })[0]!;
    assert.deepEqual(short.properties.items, [
      { item_id: 'a', quantity: 3, price: 1.5, item_list_name: 'cart' },
      { item_id: 'b', quantity: 1, price: 2, item_list_name: 'cart' },
      { item_id: 'c', quantity: 1, item_list_name: 'cart' },
    ]);
    const one = run(cfg, { traces: traces([span({ attributes: attrs({ 'cart.items.sku': 'AD115O0K2-A11', 'cart.items.price': 89.95 }) })]) })[0]!;
    assert.deepEqual(one.properties.items, [{ item_id: 'ad115o0k2-a11', quantity: 1, price: 89.95, item_list_name: 'cart' }]);
    const onlyFromRecord = config({ rules: [{ id: 'v', event: 'view_item', properties: { items: { fields: { item_id: 'capture.item_id', quantity: { from: 'attributes.q', default: 1 } } } } }] });
    assert.deepEqual(run(onlyFromRecord, { traces: traces([span({})]) })[0]!.properties, {}, 'no value read: no items');
    const empty = run(cfg, { traces: traces([span({ attributes: attrs({ 'cart.items.sku': [], 'cart.items.price': [], currency: 'EUR' }) })]) })[0]!;
    assert.deepEqual(empty.properties, { currency: 'EUR' }, 'empty lists: an empty cart, no items');
  });

  it('makes one item per map of a list attribute of a log record (each), reading the map with item.<key>', () => {
    const cfg = config({
      rules: [
        {
          id: 'checkout',
          source: 'log',
          event: 'begin_checkout',
          match: { name: 'cart.checkout' },
          properties: {
            value: 'attributes.cart.value',
            items: {
              each: 'attributes.items',
              fields: {
                item_id: { from: 'item.sku', transform: 'lowercase' },
                quantity: { from: 'item.qty', transform: 'number' },
                price: 'item.price',
                item_variant: 'item.variant.color',
                currency: 'attributes.currency',
              },
            },
          },
        },
        { id: 'as-is', source: 'log', event: 'view_cart', match: { name: 'cart.viewed' }, properties: { items: { each: 'attributes.items' } } },
        { id: 'skus', source: 'log', event: 'purchase', match: { name: 'order.completed' }, properties: { items: { each: 'attributes.order.items', fields: { item_id: { from: 'item', transform: 'lowercase' } } } } },
      ],
    });
    const items = [
      { sku: 'TRQ22O064-Q11', qty: '1', price: 19.99, variant: { color: 'black' } },
      { sku: 'LE222N0AB-K11', qty: 2, price: 59.9 },
      'not a map',
    ];
    const events = run(cfg, {
      logs: logsOf(
        logRecord('cart.checkout', { items, 'cart.value': 139.79, currency: 'EUR' }),
        logRecord('cart.viewed', { items }),
        logRecord('order.completed', { 'order.items': ['AD115O0K2-A11', 'TRQ22O064-Q11'] }),
      ),
    });
    assert.deepEqual(events.map((e) => [e.name, e.properties]), [
      [
        'begin_checkout',
        {
          value: 139.79,
          items: [
            { item_id: 'trq22o064-q11', quantity: 1, price: 19.99, item_variant: 'black', currency: 'EUR' },
            { item_id: 'le222n0ab-k11', quantity: 2, price: 59.9, currency: 'EUR' },
            { currency: 'EUR' },
          ],
        },
      ],
      ['view_cart', { items: items.slice(0, 2) }],
      ['purchase', { items: [{ item_id: 'ad115o0k2-a11' }, { item_id: 'trq22o064-q11' }] }],
    ]);
  });

  it('reads a list of maps from a map body (body.<key>) or a list body', () => {
    const cfg = config({
      rules: [
        { id: 'refund', source: 'log', event: 'refund', match: { name: 'order.refunded' }, properties: { transaction_id: 'body.order.id', items: { each: 'body.items', fields: { item_id: 'item.sku', quantity: 'item.quantity' } } } },
        { id: 'list', source: 'log', event: 'view_item_list', match: { name: 'list.shown' }, properties: { items: { each: 'body', fields: { item_id: 'item.sku', index: 'item.position' } } } },
      ],
    });
    const events = run(cfg, {
      logs: logsOf(
        logRecord('order.refunded', {}, { order: { id: 'o-31337' }, items: [{ sku: 'AD115O0K2-A11', quantity: 1 }] }),
        logRecord('list.shown', {}, [{ sku: 'A', position: 0 }, { sku: 'B', position: 1 }]),
        logRecord('order.refunded', {}, 'a text body'),
      ),
    });
    assert.deepEqual(events.map((e) => e.properties), [
      { transaction_id: 'o-31337', items: [{ item_id: 'AD115O0K2-A11', quantity: 1 }] },
      { items: [{ item_id: 'A', index: 0 }, { item_id: 'B', index: 1 }] },
      {},
    ]);
  });

  it('keeps a list of maps of a log event without a rule as an array of objects, and through the OTLP log record of the event', () => {
    const items = [{ item_id: 'trq22o064-q11', price: 19.99, quantity: 1 }, { item_id: 'le222n0ab-k11', price: 49, quantity: 2 }];
    const [e] = run(config({}), { logs: logsOf(logRecord('cart.checkout', { items, value: 117.99 })) });
    assert.deepEqual(e!.properties, { items, value: 117.99 });
    const back = fromLogRecord(decodeLogsRequest(encodeLogsRequest({ resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', logRecords: [toLogRecord(e!)] }] }] })).resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!)!;
    assert.deepEqual(back.properties, e!.properties);
    assert.equal(typeof (back.properties.items as { price: unknown }[])[1]!.price, 'number');
  });

  it('refuses items lists it cannot build, naming the path', () => {
    const r = analyticsProcessorFactory.configSchema.safeParse({
      rules: [
        {
          id: 'a',
          event: 'x',
          properties: {
            items: { fields: { item_id: 'item.sku', price: { frm: 'attributes.p' } } },
            both: { each: 'attributes.items', fields: { a: 'item.b' }, transform: 'lowercase' },
            none: { fields: {} },
            bad: { each: 'nowhere.x', fields: { a: 'item.zz', b: 'item' } },
          },
        },
      ],
    });
    assert.ok(!r.success);
    const got = r.error.issues.map((i) => `${i.path.join('::')}: ${i.message}`);
    for (const want of [
      /^rules::0::properties::items::fields::price: .*"frm"/,
      /^rules::0::properties::items::fields::item_id: "item.sku" reads an element of an items list's `each`/,
      /^rules::0::properties::both: an items list takes `each` and `fields`; transform goes in its fields$/,
      /^rules::0::properties::none::fields: an items list needs at least one field/,
      /^rules::0::properties::bad::each: unknown source "nowhere.x"/,
    ]) assert.ok(got.some((g) => want.test(g)), `${want} in ${got.join('\n')}`);
    assert.equal(got.filter((g) => g.startsWith('rules::0::properties::bad::fields')).length, 0, 'item and item.<key> are sources in the fields of each');
  });
});

describe('analytics on the shop traces', () => {
  it('the example-style rule finds the product page views in the real fixture', () => {
    const data = decodeTracesRequest(readFixture('traces-shop-01.pb'));
    const events = run(config({ rules: [pdpRule] }), { traces: data });
    const spans = data.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const attr = (s: (typeof spans)[number], key: string) => s.attributes.find((a) => a.key === key)?.value;
    const str = (s: (typeof spans)[number], key: string) => { const v = attr(s, key); return v && 'stringValue' in v ? v.stringValue : undefined; };
    const int = (s: (typeof spans)[number], key: string) => { const v = attr(s, key); return v && 'intValue' in v ? Number(v.intValue) : undefined; };
    const pages = spans.filter((s) => s.kind === 2 && str(s, 'http.route') === '/pdp/:slug');
    const want = pages.filter((s) => int(s, 'http.response.status_code')! < 400);
    assert.ok(want.length > 0 && want.length < pages.length, 'the fixture has product pages, one of them a 404');
    assert.equal(events.length, want.length);
    assert.ok(events.some((e) => e.properties.item_id === 'trq22o064-q11'));
  });
});

describe('analytics on protobuf traces left undecoded (EncodedTraces)', () => {
  const every = config({
    rules: [
      { id: 'route', event: 'route', match: { kind: ['server', 'internal'], attributes: { 'http.route': { exists: true } } }, properties: { route: 'attributes.http.route', took: 'duration_ms' } },
      { id: 'named', event: 'named', match: { name: ['*a*', ''], status: ['unset', 'error'] }, properties: { name: 'name', why: 'status.message', q: 'query.q' } },
      { id: 'path', event: 'path', capture: { 'url.path': '^(?<first>.)' }, properties: { user: 'resource.user.id', a: { from: 'attributes.a', transform: 'string' } } },
      { id: 'empty-key', event: 'empty-key', match: { attributes: { '': { exists: true } } } },
      { id: 'not', event: 'not', match: { attributes: { a: { not: 'x' }, 'user.id': { in: ['1', 'true'] } } } },
    ],
    identity: { user_id: ['user.id', 'a'], session_id: [''], device_id: ['url.query'] },
    consent_attributes: { a: 'analytics' },
    context_attributes: ['url.path', 'other'],
  });

  it('makes the same events as from decoded traces, on every SDK fixture with the example rules', () => {
    const example = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry()).processors.get('analytics')!.config as AnalyticsConfig;
    let events = 0;
    for (const f of fixtureManifest().filter((x) => x.signal === 'traces' && x.path.endsWith('.pb'))) {
      events += eventsOfTraces(new EventMaker(example), fixtureBodyPlain(f)).length;
      eventsOfTraces(new EventMaker(every), fixtureBodyPlain(f));
    }
    assert.ok(events > 20, `${events} events`);
  });

  it('makes the same events as from decoded traces, on generated requests', () => {
    const maker = new EventMaker(every);
    let events = 0;
    fc.assert(
      fc.property(tracesRequest, (body) => {
        events += eventsOfTraces(maker, body).length;
      }),
      { numRuns: 1500, seed: Number(process.env.OTELYTICS_FUZZ_SEED ?? 20240611) },
    );
    assert.ok(events > 500, `${events} events`);
  });
});
