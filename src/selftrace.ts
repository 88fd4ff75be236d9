/**
 * The gateway's own traces (`service::telemetry::traces`): spans for receiving a request, each
 * processor `consume` call (`process {processor id}`, INTERNAL, made in src/gateway.ts), each
 * export attempt, and Kafka produce / consume, made with the OpenTelemetry JS SDK
 * (`BasicTracerProvider` + `BatchSpanProcessor`) and exported over OTLP (http/protobuf or grpc).
 *
 * Off by default: until {@link startSelfTracing} runs with a config, {@link selfTracer} is the
 * API's no-op tracer and {@link selfTracingEnabled} is false, so call sites skip building
 * attributes and links (no cost on the hot path).
 *
 * How a gateway hop relates to the user's trace: the gateway's spans are not children of the
 * user's spans (the data is not the request that made it); each span instead carries span links
 * (https://opentelemetry.io/docs/specs/otel/overview/#links-between-spans) to the user's spans
 * found in the data: the `traceId`/`spanId` of spans and log records, the `trace_id`/`span_id`
 * of events, or a Kafka record's `traceparent` header. A Kafka consume span whose batch holds one
 * `traceparent` is the child of that span instead (messaging semantic conventions, "Context
 * propagation").
 *
 * No loops: the SDK's OTLP exporter uses its own HTTP/gRPC client, and the gateway uses no
 * auto-instrumentation, so exporting these spans makes no spans.
 */
import { context, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { Payload } from './component.js';

export { SpanKind, SpanStatusCode, type Attributes, type Link, type Span };

/** `service::telemetry::traces` after parsing (see src/config/service.ts). */
export interface SelfTracesConfig {
  /** OTLP/HTTP base URL (`http://host:4318`, `/v1/traces` appended unless present) or `host:port`; for grpc `host:port` or `http://host:4317`. */
  endpoint: string;
  protocol: 'http/protobuf' | 'grpc';
  /** Fraction of root spans sampled, 0..1; spans with a sampled remote parent follow the parent. */
  sampler_ratio: number;
}

/** Most span links one span gets from the data it handles; the rest are not linked. */
export const MAX_LINKS = 32;

const NAME = 'otelytics';
let provider: BasicTracerProvider | undefined;
let tracer: Tracer = trace.getTracer(NAME); // no global provider registered: the API's no-op tracer
let enabled = false;

/** Whether own traces are on; call sites check it before building attributes or links. */
export function selfTracingEnabled(): boolean {
  return enabled;
}

/** The gateway's tracer: a no-op one while own traces are off. */
export function selfTracer(): Tracer {
  return tracer;
}

/** The OTLP URL for `endpoint` under `protocol`. */
export function tracesUrl(endpoint: string, protocol: SelfTracesConfig['protocol']): string {
  const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
  if (protocol === 'grpc') return base;
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

/**
 * Starts own traces when `cfg` is given; idempotent. `version`: `service.version` of the resource.
 * The OpenTelemetry SDK is loaded only then, so a gateway without own traces does not carry it.
 */
export async function startSelfTracing(cfg: SelfTracesConfig | undefined, version: string): Promise<void> {
  if (!cfg || provider) return;
  const [{ BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler }, { resourceFromAttributes }, exporters] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    cfg.protocol === 'grpc' ? import('@opentelemetry/exporter-trace-otlp-grpc') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  if (provider) return;
  const url = tracesUrl(cfg.endpoint, cfg.protocol);
  const exporter = new exporters.OTLPTraceExporter({ url });
  provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': NAME, 'service.version': version }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampler_ratio) }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  tracer = provider.getTracer(NAME, version);
  enabled = true;
}

/** Flushes the spans still buffered and stops exporting; the tracer becomes a no-op again. */
export async function stopSelfTracing(): Promise<void> {
  const p = provider;
  if (!p) return;
  provider = undefined;
  enabled = false;
  tracer = trace.getTracer(NAME);
  await p.shutdown();
}

/** Ends `span`, with an error status and the message when `err` is given. */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/**
 * Runs `fn` inside a span when own traces are on (just `fn` when off): the span ends when `fn`
 * settles, with an error status when it rejects. `links`: computed only when on.
 */
export async function inSpan<T>(name: string, kind: SpanKind, attributes: () => Attributes, links: () => Link[], fn: () => Promise<T>, parent?: Context): Promise<T> {
  if (!enabled) return fn();
  const span = tracer.startSpan(name, { kind, attributes: attributes(), links: links() }, parent);
  try {
    const v = await fn();
    span.end();
    return v;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

/** A context whose parent is the remote span `sc` (e.g. from a Kafka record's traceparent). */
export function remoteParent(sc: SpanContext): Context {
  return trace.setSpanContext(context.active(), { ...sc, isRemote: true });
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** Collects links to distinct user spans, one per trace, at most {@link MAX_LINKS}. */
export class LinkSet {
  readonly links: Link[] = [];
  readonly #traces = new Set<string>();

  /** Adds a link to span `spanId` of trace `traceId` (lowercase hex) unless its trace is linked already or ids are invalid. */
  add(traceId: string | undefined, spanId: string | undefined, flags = 1): void {
    if (!traceId || !spanId || this.#traces.has(traceId) || this.links.length >= MAX_LINKS) return;
    if (!HEX32.test(traceId) || !HEX16.test(spanId) || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return;
    this.#traces.add(traceId);
    this.links.push({ context: { traceId, spanId, traceFlags: flags & 0xff, isRemote: true } });
  }

  /** Links of the user spans in a payload: spans and log records by their ids, events by `context.trace_id`/`span_id`. */
  addPayload(p: Payload): this {
    if (p.signal === 'traces') {
      for (const rs of p.data.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) this.add(s.traceId, s.spanId);
    } else if (p.signal === 'logs') {
      for (const rl of p.data.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) this.add(r.traceId, r.spanId);
    } else if (p.signal === 'events') {
      for (const e of p.data) {
        const t = e.context.trace_id;
        const s = e.context.span_id;
        this.add(typeof t === 'string' ? t : undefined, typeof s === 'string' ? s : undefined);
      }
    }
    return this;
  }
}

/** Links to the user spans in `p` (see {@link LinkSet.addPayload}). */
export function payloadLinks(p: Payload): Link[] {
  return new LinkSet().addPayload(p).links;
}
