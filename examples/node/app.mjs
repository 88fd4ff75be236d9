// Emits backend analytics events from Node.js with the OpenTelemetry JS SDK: an event is a log
// record with an event name, emitted through the logs API inside the active span, so it carries
// the trace context. Point it at otelytics (or any OTLP endpoint):
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

const traceId = await tracer.startActiveSpan('POST /cart', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/cart' } }, async (span) => {
  emitEvent('cart.item_added', { 'user.id': 'u-2001', 'session.id': 's-88', 'product.sku': 'TRQ22O064-Q11', 'cart.quantity': 1, 'product.price': 24.99 });
  emitEvent('cart.viewed', { 'user.id': 'u-2001', 'session.id': 's-88', 'cart.items': 3 });
  span.setAttribute('http.response.status_code', 200);
  span.end();
  return span.spanContext().traceId;
});

// Flush before exiting so that nothing buffered is lost.
await tracerProvider.shutdown();
await loggerProvider.shutdown();
console.log(JSON.stringify({ trace_id: traceId }));
