// Backend analytics events from Node.js with the OpenTelemetry JS SDK, the two ways otelytics
// makes them: a server span that a rule of the config turns into an event (`add_to_cart` under
// config.example.yaml), and an event emitted through the logs API (a log record with an event name)
// inside the active span, so it carries the trace context. Point it at otelytics (or any OTLP endpoint):
//
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node examples/node/app.mjs
//   OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 node examples/node/app.mjs
//
// The exporters read the standard OTEL_EXPORTER_OTLP_* variables. At the end it prints one JSON
// line with the trace id of the request it simulated.
import { context, SpanKind, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const grpc = process.env.OTEL_EXPORTER_OTLP_PROTOCOL === 'grpc';
const { OTLPTraceExporter } = await import(grpc ? '@opentelemetry/exporter-trace-otlp-grpc' : '@opentelemetry/exporter-trace-otlp-proto');
const { OTLPLogExporter } = await import(grpc ? '@opentelemetry/exporter-logs-otlp-grpc' : '@opentelemetry/exporter-logs-otlp-proto');

// --- set-up (once per process) -----------------------------------------------------------------
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const resource = resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'cart-node', 'service.version': '2.0.1' });
const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
trace.setGlobalTracerProvider(tracerProvider);
const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter() })] });
logs.setGlobalLoggerProvider(loggerProvider);

// --- in the application --------------------------------------------------------------------------
const tracer = trace.getTracer('cart');
const events = logs.getLogger('cart');

/** Emits an event: a log record with an event name and attributes; the SDK attaches the active span's trace context. */
function emitEvent(eventName, attributes) {
  events.emit({ eventName, attributes });
}

// Who is asking, as a session middleware would know it. Log records do not inherit span
// attributes, so events carry the identity themselves. `consent.analytics: true` lets otelytics'
// privacy processor keep the ids (pseudonymised); without it the events are anonymised.
const visitor = { 'user.id': 'u-2001', 'session.id': 's-88', 'consent.analytics': true };

// One request: a visitor adds a T-shirt to a cart that already holds 35.00 EUR.
const traceId = await tracer.startActiveSpan('POST /cart', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/cart', ...visitor } }, async (span) => {
  const item = { sku: 'TRQ22O064-Q11', price: 24.99, quantity: 1 };
  // What the request did, as span attributes: the example config's `add-to-cart` rule makes the
  // event `add_to_cart` (item_id, quantity) of this span, with no code for the event here.
  span.setAttributes({ 'cart.sku': item.sku, 'cart.quantity': item.quantity });
  const before = 35.0;
  const cartValue = Math.round((before + item.price * item.quantity) * 100) / 100;
  // What only the code knows: the cart just passed the free-shipping threshold. An event of its own.
  if (before < 50 && cartValue >= 50) {
    emitEvent('cart.free_shipping_reached', { ...visitor, 'cart.value': cartValue, 'cart.currency': 'EUR', 'shipping.threshold': 50 });
  }
  span.setAttribute('http.response.status_code', 200);
  span.end();
  return span.spanContext().traceId;
});

// Flush before exiting so that nothing buffered is lost.
await tracerProvider.shutdown();
await loggerProvider.shutdown();
console.log(JSON.stringify({ trace_id: traceId }));
