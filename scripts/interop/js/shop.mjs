#!/usr/bin/env node
// A web shop's backend instrumented with the OpenTelemetry JS SDK, driven through a fixed session of
// three visitors, for scripts/interop/capture.mjs. It handles each request as an HTTP server
// instrumentation would record it (a SERVER span with the semantic-convention attributes, INTERNAL
// spans for catalog, search and payment work, a CLIENT span for the call to the payment endpoint)
// and emits analytics events as log records with an event name inside the request's span.
//
// Every span and log record goes through four exporters at once: OTLP/HTTP protobuf and OTLP/HTTP
// JSON, each uncompressed and gzip. The session is exported in two parts (a forced flush after
// each), so each exporter sends two traces and two logs requests holding the same data.
//
//   node scripts/interop/js/shop.mjs --endpoint http://127.0.0.1:4318
//
// Ids come from a seeded generator and every time is given explicitly, from a fixed start, so a
// second run sends byte for byte the same requests.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as TracesJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const { values } = parseArgs({ options: { endpoint: { type: 'string', default: 'http://127.0.0.1:4318' } } });
const endpoint = values.endpoint.replace(/\/$/, '');

// --------------------------------------------------------------------------------------- SDK set-up

/** Trace and span ids from SHA-256 of a seed and a counter: random-looking, the same on every run. */
class SeededIdGenerator {
  #n = 0;
  #next(bytes) {
    return crypto.createHash('sha256').update(`otelytics-shop:${this.#n++}`).digest('hex').slice(0, bytes * 2);
  }
  generateTraceId() {
    return this.#next(16);
  }
  generateSpanId() {
    return this.#next(8);
  }
}

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
// The SDK's own attributes (telemetry.sdk.*) and the service's, as the Node SDK's start-up merges them.
const resource = defaultResource().merge(
  resourceFromAttributes({
    'service.name': 'shop-web',
    'service.version': '1.4.2',
    'service.namespace': 'demo-shop',
    'service.instance.id': 'shop-web-7d9f8c-abcde',
    'deployment.environment.name': 'staging',
  }),
);
// One export per forced flush: no timer fires during the run, and a part fits one batch.
const batching = { scheduledDelayMillis: 600_000, maxExportBatchSize: 2048, maxQueueSize: 4096 };
const encodings = [
  { Traces: TracesProto, Logs: LogsProto, compression: 'none' },
  { Traces: TracesProto, Logs: LogsProto, compression: 'gzip' },
  { Traces: TracesJson, Logs: LogsJson, compression: 'none' },
  { Traces: TracesJson, Logs: LogsJson, compression: 'gzip' },
];
const tracerProvider = new BasicTracerProvider({
  resource,
  idGenerator: new SeededIdGenerator(),
  spanProcessors: encodings.map(({ Traces, compression }) => new BatchSpanProcessor(new Traces({ url: `${endpoint}/v1/traces`, compression }), batching)),
});
const loggerProvider = new LoggerProvider({
  resource,
  processors: encodings.map(({ Logs, compression }) => new BatchLogRecordProcessor({ exporter: new Logs({ url: `${endpoint}/v1/logs`, compression }), ...batching })),
});

const httpTracer = tracerProvider.getTracer('shop-web.http', '1.4.2');
const tracer = tracerProvider.getTracer('shop-web', '1.4.2');
const events = loggerProvider.getLogger('shop-web', '1.4.2');

// ------------------------------------------------------------------------------------------- clock

/** The session's clock in nanoseconds since the epoch; it only moves when the session says so. */
let now = 1_795_600_800_000_000_000n; // 2026-11-25T10:00:00Z
const hr = (ns) => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
const ms = (x) => BigInt(Math.round(x * 1_000_000));
const advance = (msec) => (now += ms(msec));
/** A duration that differs per call but not per run: 0.2 to 1.2 times `msec`. */
let jitterN = 0;
function jitter(msec) {
  const h = crypto.createHash('sha256').update(`jitter:${jitterN++}`).digest();
  return msec * (0.2 + h.readUInt16BE(0) / 65535);
}

// ------------------------------------------------------------------------------------------ visitors

const anonymous = { ip: '192.0.2.10', port: 55002, session: 's-0c7d3355', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0' };
const jane = { ip: '203.0.113.7', port: 55004, session: 's-9f2c1a7e', ua: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', user: 'u-1001', consent: { analytics: true, marketing: false } };
const john = { ip: '203.0.113.42', port: 55006, session: 's-41be88d0', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1', user: 'u-1002', consent: { analytics: false, marketing: true } };
const probe = { ip: '10.42.0.1', port: 41234, ua: 'kube-probe/1.31' };

const products = {
  'TRQ22O064-Q11': { slug: 't-shirt-print-schwarz-trq22o064-q11', name: 'T-Shirt Print schwarz', price: 19.99 },
  'AD115O0K2-A11': { slug: 'sneaker-low-weiss-ad115o0k2-a11', name: 'Sneaker low weiss', price: 89.95 },
  'LE222N0AB-K11': { slug: 'jeans-slim-fit-blau-le222n0ab-k11', name: 'Jeans Slim Fit blau', price: 59.9 },
};

/** What the application knows about a visitor on every request: identity, session and consent. */
function visitorAttributes(v) {
  const a = {};
  if (v.user) Object.assign(a, { 'enduser.id': v.user, 'user.id': v.user });
  if (v.session) a['session.id'] = v.session;
  if (v.consent) Object.assign(a, { 'consent.analytics': v.consent.analytics, 'consent.marketing': v.consent.marketing });
  return a;
}

/** The attributes an event log record carries about its visitor. */
function eventContext(v) {
  const a = {};
  if (v.session) a['session.id'] = v.session;
  a['client.address'] = v.ip;
  if (v.user) a['user.id'] = v.user;
  if (v.consent) a['consent.analytics'] = v.consent.analytics;
  return a;
}

// ---------------------------------------------------------------------------------------- requests

/**
 * Handles one request: a SERVER span as an HTTP server instrumentation records it, with `work`
 * run inside it (child spans, events). `work` may return `{ status, attributes, error }`.
 */
function request(v, method, target, { route, status = 200, work, internal = false, parent } = {}) {
  advance(internal ? 1 : 3);
  const [urlPath, query] = target.split('?');
  const attributes = {
    'http.request.method': method,
    'url.scheme': 'http',
    'url.path': urlPath,
    ...(query === undefined ? {} : { 'url.query': query }),
    'server.address': 'shop.example.com',
    'server.port': 8080,
    'network.protocol.version': '1.1',
    'network.peer.address': internal ? '127.0.0.1' : v.ip,
    'network.peer.port': internal ? 58110 : v.port,
    'client.address': internal ? '127.0.0.1' : v.ip,
    ...(internal ? {} : { 'user_agent.original': v.ua, 'http.request.header.user-agent': [v.ua] }),
    ...(v.user ? { 'http.request.header.x-user-id': [v.user] } : {}),
    ...(v.session && !internal ? { 'http.request.header.x-session-id': [v.session] } : {}),
    ...(route ? { 'http.route': route } : {}),
    ...visitorAttributes(internal ? { user: v.user } : v),
  };
  const span = httpTracer.startSpan(route ? `${method} ${route}` : method, { kind: SpanKind.SERVER, startTime: hr(now), attributes }, parent ?? ROOT_CONTEXT);
  const outcome = (work && context.with(trace.setSpan(parent ?? ROOT_CONTEXT, span), work)) || {};
  const code = outcome.status ?? status;
  if (outcome.attributes) span.setAttributes(outcome.attributes);
  span.setAttribute('http.response.status_code', code);
  if (outcome.error) {
    span.recordException(outcome.error, hr(now));
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
  } else if (code >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  advance(jitter(2));
  span.end(hr(now));
  return span;
}

/** An INTERNAL span for a piece of work inside the current request. */
function step(name, attributes, { took = 2, error } = {}) {
  advance(0.3);
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: hr(now), attributes });
  advance(jitter(took));
  if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end(hr(now));
}

/** An analytics event: a log record with an event name, in the active span's trace. */
function emit(eventName, attributes, { body, severity = SeverityNumber.INFO, severityText = 'INFO' } = {}) {
  advance(0.5);
  events.emit({ eventName, severityNumber: severity, severityText, body: body ?? eventName, attributes, timestamp: hr(now), observedTimestamp: hr(now) });
}

/** A plain log line without an event name (not an analytics event). */
function logLine(body, severity, severityText, attributes = {}) {
  advance(0.2);
  events.emit({ severityNumber: severity, severityText, body, attributes, timestamp: hr(now), observedTimestamp: hr(now) });
}

// ------------------------------------------------------------------------------------ the shop's pages

const flagVariant = (v) => (v === jane ? 'new-gallery' : 'control');

function productPage(v, sku) {
  const p = products[sku];
  request(v, 'GET', `/pdp/${p.slug}.html`, {
    route: '/pdp/:slug',
    work: () => {
      step('catalog.lookup', { 'product.sku': sku, 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM products WHERE sku = $1' });
      emit('feature_flag.evaluated', { ...eventContext(v), 'feature_flag.key': 'pdp-gallery-v2', 'feature_flag.result.variant': flagVariant(v), 'feature_flag.provider.name': 'flagd', 'product.sku': sku });
      emit('product.viewed', { ...eventContext(v), 'product.sku': sku, 'product.price': p.price, 'product.name': p.name });
    },
  });
}

/** `q` as the browser sends it (form-encoded); `term` as the application reads it. */
function search(v, term, results) {
  const q = new URLSearchParams({ q: term }).toString();
  request(v, 'GET', `/search?${q}`, {
    route: '/search',
    work: () => {
      step('search.query', { 'search.query': term, 'search.results': results });
      emit('search.performed', { ...eventContext(v), 'search.query': term, 'search.results_count': results });
    },
  });
}

function addToCart(v, sku, quantity) {
  request(v, 'POST', '/cart', {
    route: '/cart',
    status: 201,
    work: () => {
      emit('cart.item_added', { ...eventContext(v), 'product.sku': sku, 'cart.quantity': quantity, 'product.price': products[sku].price, currency: 'EUR' });
      return { attributes: { 'cart.sku': sku, 'cart.quantity': quantity } };
    },
  });
}

function checkoutPage(v) {
  request(v, 'GET', '/checkout', { route: '/checkout', work: () => step('cart.load', { 'cart.items': 3 }) });
}

/**
 * POST /checkout: the payment endpoint is called over HTTP (a CLIENT span, and the SERVER span of
 * the same application answering it). The card reaches the payment endpoint's query string, as
 * careless code does.
 */
function checkout(v, { orderId, items, card, declined = false, email }) {
  const amount = Math.round(items.reduce((n, sku) => n + products[sku].price, 0) * 100) / 100;
  let paymentSpan;
  return request(v, 'POST', '/checkout', {
    route: '/checkout',
    work: () => {
      advance(0.4);
      const target = `/internal/payment?card=${card.replace(/ /g, '')}`;
      const client = httpTracer.startSpan('POST', {
        kind: SpanKind.CLIENT,
        startTime: hr(now),
        attributes: { 'http.request.method': 'POST', 'url.full': `http://127.0.0.1:8080${target}`, 'server.address': '127.0.0.1', 'server.port': 8080 },
      });
      const status = declined ? 402 : 200;
      paymentSpan = request(v, 'POST', target, {
        route: '/internal/payment',
        internal: true,
        parent: trace.setSpan(context.active(), client),
        work: () => {
          step('payment.authorize', { 'payment.method': 'card', 'order.amount': amount }, declined ? { error: 'card declined' } : {});
          return declined ? { status, error: { name: 'CardDeclinedError', message: 'card declined: insufficient funds' } } : {};
        },
      });
      client.setAttribute('http.response.status_code', status);
      if (declined) client.setStatus({ code: SpanStatusCode.ERROR });
      advance(0.3);
      client.end(hr(now));
      if (declined) {
        emit(
          'payment.failed',
          { ...eventContext(v), 'user.email': email, 'payment.card.number': card, 'order.amount': amount, reason: 'card_declined' },
          { body: `Payment declined for ${email} card ${card}`, severity: SeverityNumber.WARN, severityText: 'WARN' },
        );
        return { status: 402, error: { name: 'PaymentDeclinedError', message: 'payment declined' } };
      }
      emit('order.completed', {
        ...eventContext(v),
        'order.id': orderId,
        'order.amount': amount,
        currency: 'EUR',
        'user.email': email,
        'order.items': items,
        payment: { method: 'card', reference: `visa ${card}`, customer: { email, ip: v.ip } },
      });
      return { attributes: { 'order.id': orderId, 'order.amount': amount, currency: 'EUR' } };
    },
  });
}

/** After a purchase, the confirmation mail is sent from a job in a trace of its own, linked to the order. */
function confirmationMail(checkoutSpan, email, orderId) {
  advance(5);
  const span = tracer.startSpan('mail.send', {
    kind: SpanKind.PRODUCER,
    startTime: hr(now),
    attributes: { 'email.template': 'order-confirmation', 'email.to': email, 'order.id': orderId },
    links: [{ context: checkoutSpan.spanContext(), attributes: { 'link.reason': 'order' } }],
  }, ROOT_CONTEXT);
  advance(jitter(8));
  span.end(hr(now));
}

function signup(v, { email, phone, name, consent }) {
  request(v, 'POST', '/signup', {
    route: '/signup',
    status: 201,
    work: () =>
      emit(
        'user.signed_up',
        { ...eventContext(v), 'user.email': email, 'user.phone': phone, 'user.name': name, 'consent.analytics': consent.analytics, 'consent.marketing': consent.marketing, 'signup.method': 'email' },
        { body: `New signup ${email} from ${v.ip}` },
      ),
  });
}

const page = (v, target, opts = {}) => request(v, 'GET', target, opts);
const health = () => request(probe, 'GET', '/healthz', { route: '/healthz' });

// --------------------------------------------------------------------------------------- the session

function part1() {
  emit('app.started', { 'app.port.kind': 'http' }, { body: 'shop-web started' });
  health();
  page(anonymous, '/');
  productPage(anonymous, 'TRQ22O064-Q11');
  page(anonymous, '/static/app.css', { route: '/static/*' });
  page(anonymous, '/static/img/trq22o064-q11.jpg', { route: '/static/*' });
  search(anonymous, 'sneaker weiss', 6);
  productPage(anonymous, 'AD115O0K2-A11');
  page(anonymous, '/account', { route: '/account', status: 401, work: () => logLine('GET /account: not signed in', SeverityNumber.INFO, 'INFO', { 'session.id': anonymous.session }) });
  for (const [v, q, n] of [
    [jane, 'sommerkleid blau', 2],
    [john, 'sneaker weiss', 6],
  ]) {
    page(v, '/');
    productPage(v, 'TRQ22O064-Q11');
    search(v, q, n);
    productPage(v, 'AD115O0K2-A11');
    page(v, '/account', { route: '/account' });
  }
  signup(jane, { email: 'jane.doe@example.com', phone: '+49 151 23456789', name: 'Jane Doe', consent: jane.consent });
  signup(john, { email: 'john.smith@example.com', phone: '+1 415 555 0199', name: 'John Smith', consent: john.consent });
  search(anonymous, 'jane.doe@example.com', 6);
  page(anonymous, '/pdp/does-not-exist-xx.html', { route: '/pdp/:slug', status: 404 });
  page(anonymous, '/favicon.ico', { status: 404 });
  health();
}

function part2() {
  advance(350);
  productPage(jane, 'LE222N0AB-K11');
  addToCart(jane, 'TRQ22O064-Q11', 1);
  addToCart(jane, 'LE222N0AB-K11', 2);
  search(jane, 'gürtel leder', 5);
  addToCart(jane, 'AD115O0K2-A11', 1);
  checkoutPage(jane);
  const order = checkout(jane, { orderId: 'o-22974', items: ['TRQ22O064-Q11', 'LE222N0AB-K11', 'LE222N0AB-K11', 'AD115O0K2-A11'], card: '4111 1111 1111 1111', email: 'jane.doe@example.com' });
  productPage(john, 'LE222N0AB-K11');
  addToCart(john, 'TRQ22O064-Q11', 1);
  addToCart(john, 'LE222N0AB-K11', 2);
  search(john, 'gürtel leder', 5);
  addToCart(john, 'AD115O0K2-A11', 1);
  checkoutPage(john);
  checkout(john, { orderId: 'o-8994', items: ['TRQ22O064-Q11', 'LE222N0AB-K11', 'LE222N0AB-K11', 'AD115O0K2-A11'], card: '4000 0000 0000 0002', declined: true, email: 'john.smith@example.com' });
  for (let i = 0; i < 4; i++) {
    productPage(anonymous, 'TRQ22O064-Q11');
    search(anonymous, 'jacke', 5);
  }
  productPage(john, 'AD115O0K2-A11');
  search(jane, 'jane doe +49 151 23456789', 4);
  checkout(john, { orderId: 'o-8995', items: ['AD115O0K2-A11'], card: '4111111111111111', email: 'john.smith@example.com' });
  page(jane, '/account', { route: '/account' });
  const second = checkout(jane, { orderId: 'o-1998', items: ['TRQ22O064-Q11'], card: '4111 1111 1111 1111', email: 'jane.doe@example.com' });
  addToCart(anonymous, 'AD115O0K2-A11', 1);
  confirmationMail(order, 'jane.doe@example.com', 'o-22974');
  confirmationMail(second, 'jane.doe@example.com', 'o-1998');
  logLine('payment provider slow: 1 of 4 authorisations above 500 ms', SeverityNumber.WARN, 'WARN', { 'payment.provider': 'acme-pay' });
}

part1();
await tracerProvider.forceFlush();
await loggerProvider.forceFlush();
part2();
await tracerProvider.forceFlush();
await loggerProvider.forceFlush();
await tracerProvider.shutdown();
await loggerProvider.shutdown();
