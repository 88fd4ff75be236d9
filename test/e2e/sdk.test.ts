/**
 * The real OpenTelemetry JS SDK, with its OTLP exporters (HTTP protobuf, HTTP JSON, gRPC), pointed
 * at a running gateway: the spans and log records it emits come out as events.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as TracesGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TracesJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { readJsonLines, startGateway, type RunningGateway } from '../helpers.js';

interface Ev { name: string; properties: Record<string, unknown>; context: Record<string, string>; user_id?: string; session_id?: string }

const transports = ['http/protobuf', 'http/json', 'grpc'] as const;

describe('OpenTelemetry JS SDK → gateway', () => {
  let gw: RunningGateway;
  const sent = new Map<string, { traceId: string; spanId: string }>();

  before(async () => {
    gw = await startGateway();
    for (const t of transports) {
      const httpUrl = (signal: string) => `http://127.0.0.1:${gw.ports.http}/v1/${signal}`;
      const grpcUrl = `http://127.0.0.1:${gw.ports.grpc}`;
      const traceExporter = t === 'grpc' ? new TracesGrpc({ url: grpcUrl }) : t === 'http/json' ? new TracesJson({ url: httpUrl('traces') }) : new TracesProto({ url: httpUrl('traces') });
      const logExporter = t === 'grpc' ? new LogsGrpc({ url: grpcUrl }) : t === 'http/json' ? new LogsJson({ url: httpUrl('logs') }) : new LogsProto({ url: httpUrl('logs') });
      const resource = resourceFromAttributes({ 'service.name': `sdk-${t}`, 'service.version': '9.9.9' });
      const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(traceExporter)] });
      const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: logExporter })] });
      const tracer = tracerProvider.getTracer('shop');
      const span = tracer.startSpan('GET /pdp/:slug', {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/pdp/:slug',
          'url.path': '/pdp/sneaker-low-weiss-ad115o0k2-a11.html',
          'http.response.status_code': 200,
          'session.id': `s-${t}`,
          'consent.analytics': true,
        },
      });
      span.setStatus({ code: SpanStatusCode.OK });
      span.end();
      const ctx = span.spanContext();
      sent.set(t, { traceId: ctx.traceId, spanId: ctx.spanId });
      loggerProvider.getLogger('shop').emit({ eventName: 'cart.item_added', attributes: { 'product.sku': 'AD115O0K2-A11', 'cart.quantity': 2, transport: t } });
      await tracerProvider.forceFlush();
      await loggerProvider.forceFlush();
      await tracerProvider.shutdown();
      await loggerProvider.shutdown();
    }
    assert.equal(await gw.stop(), 0, gw.output());
  });

  after(() => gw?.child.exitCode === null && gw.child.kill('SIGKILL'));

  for (const t of transports) {
    it(`delivers spans and log records sent over ${t}`, () => {
      const events = readJsonLines<Ev>(path.join(gw.dir, 'events.jsonl')).filter((e) => e.context['service.name'] === `sdk-${t}`);
      const view = events.find((e) => e.name === 'view_item');
      assert.ok(view, `no view_item from ${t}: ${JSON.stringify(events)}`);
      assert.equal(view.properties.item_id, 'ad115o0k2-a11');
      // The example config pseudonymises identity of users who consented: a keyed pseudonym, never the raw id.
      assert.match(String(view.session_id), /^[0-9a-f]{8}:[A-Za-z0-9_-]{22}$/);
      assert.equal(view.context.trace_id, sent.get(t)!.traceId);
      assert.equal(view.context.span_id, sent.get(t)!.spanId);
      assert.equal(view.context['service.version'], '9.9.9');
      const cart = events.find((e) => e.name === 'cart.item_added');
      assert.ok(cart, `no log event from ${t}`);
      assert.deepEqual(cart.properties, { 'product.sku': 'AD115O0K2-A11', 'cart.quantity': 2, transport: t });
    });
  }
});
