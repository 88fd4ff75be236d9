/**
 * What both OTLP transports share: ask the admission gate (memory limiter) before decoding, decode
 * a request body for a signal, apply the attribute limits, hand it to the pipelines, count it, and
 * classify the outcome for the transport to answer.
 */
import type { Logger } from 'pino';
import type { Consumer, Payload, ReceiverConsumers, Signal } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { errorMessage, isPermanent, isRetryable, OtlpDecodeError } from '../../src/errors.js';
import { decodeLogsJson, decodeMetricsJson, decodeTracesJson } from '../../src/otlp/json.js';
import { decodeLogsRequest, decodeMetricsRequest, decodeTracesRequest } from '../../src/otlp/proto.js';
import type { Telemetry } from '../../src/telemetry.js';
import { admissionRefusal } from '../../src/delivery/admission.js';
import { endSpan, payloadLinks, selfTracer, selfTracingEnabled, SpanKind, type Span } from '../../src/selftrace.js';
import type { OtlpLimits } from './config.js';
import { applyLimits } from './limits.js';

export type OtlpSignal = 'traces' | 'logs' | 'metrics';
export type WireEncoding = 'proto' | 'json';

/** Outcome of one export request, for the transport to turn into a status. */
export type ExportOutcome =
  | { kind: 'ok'; partial?: { rejected: number; message: string } }
  | { kind: 'invalid'; message: string }
  | { kind: 'retryable'; message: string; retryAfterMillis: number }
  | { kind: 'internal'; message: string };

/** Default back-off suggested to clients when a refusal names none, milliseconds. */
export const DEFAULT_RETRY_AFTER_MILLIS = 1000;

export function decodeRequest(signal: OtlpSignal, body: Uint8Array, encoding: WireEncoding): Payload {
  if (encoding === 'proto') {
    switch (signal) {
      case 'traces': return { signal, data: decodeTracesRequest(body) };
      case 'logs': return { signal, data: decodeLogsRequest(body) };
      case 'metrics': return { signal, data: decodeMetricsRequest(body) };
    }
  }
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  switch (signal) {
    case 'traces': return { signal, data: decodeTracesJson(text) };
    case 'logs': return { signal, data: decodeLogsJson(text) };
    case 'metrics': return { signal, data: decodeMetricsJson(text) };
  }
}

export class ExportHandler {
  constructor(
    private readonly id: string,
    private readonly consumers: ReceiverConsumers,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
    private readonly limits: OtlpLimits = { attribute_count_limit: 0, attribute_value_length_limit: 0 },
  ) {}

  /**
   * The admission gate's answer, asked before a body is read or decoded; counts a refusal.
   * Undefined: go ahead.
   */
  refuseEarly(transport: 'http' | 'grpc'): Extract<ExportOutcome, { kind: 'retryable' }> | undefined {
    const r = admissionRefusal();
    if (!r) return undefined;
    this.telemetry.receiverRefusedRequest(this.id, transport, 'admission');
    return { kind: 'retryable', message: r.message, retryAfterMillis: r.retryAfterMillis };
  }

  /** The consumer for a signal, or undefined when no pipeline takes it from this receiver. */
  consumer(signal: Signal): Consumer | undefined {
    return this.consumers[signal];
  }

  /**
   * Decodes and hands the body to the pipelines; resolves when every pipeline accepted it. With
   * own traces on, makes one SERVER span `otlp.receive {signal}` linked to the user spans it carries.
   */
  async export(transport: 'http' | 'grpc', signal: OtlpSignal, body: Uint8Array, encoding: WireEncoding): Promise<ExportOutcome> {
    if (!selfTracingEnabled()) return this.#export(transport, signal, body, encoding);
    const span = selfTracer().startSpan(`otlp.receive ${signal}`, {
      kind: SpanKind.SERVER,
      attributes: { 'otelytics.receiver': this.id, 'otelytics.signal': signal, 'network.protocol.name': transport === 'grpc' ? 'grpc' : 'http', 'otelytics.request.bytes': body.byteLength },
    });
    const out = await this.#export(transport, signal, body, encoding, span);
    span.setAttribute('otelytics.outcome', out.kind);
    endSpan(span, out.kind === 'ok' ? undefined : out.message);
    return out;
  }

  async #export(transport: 'http' | 'grpc', signal: OtlpSignal, body: Uint8Array, encoding: WireEncoding, span?: Span): Promise<ExportOutcome> {
    const consumer = this.consumers[signal];
    if (!consumer) return { kind: 'invalid', message: `this receiver feeds no ${signal} pipeline` };
    const early = this.refuseEarly(transport);
    if (early) return early;
    let payload: Payload;
    try {
      payload = decodeRequest(signal, body, encoding);
    } catch (err) {
      if (err instanceof OtlpDecodeError) return { kind: 'invalid', message: `cannot decode ${encoding === 'proto' ? 'protobuf' : 'JSON'} ${signal} request: ${err.message}` };
      this.logger.error({ err: errorMessage(err) }, 'unexpected error while decoding');
      return { kind: 'internal', message: 'internal error while decoding the request' };
    }
    const total = itemCount(payload);
    if (total === 0) return { kind: 'ok' };
    const limited = applyLimits(payload, this.limits);
    let partial: { rejected: number; message: string } | undefined;
    if (limited.rejected > 0) {
      this.telemetry.receiverRefused(this.id, transport, signal, limited.rejected);
      const message = `${limited.rejected} of ${total} ${signal === 'traces' ? 'spans' : 'log records'} rejected: ${limited.reason}`;
      if (limited.rejected >= total) return { kind: 'invalid', message };
      partial = { rejected: limited.rejected, message };
      payload = limited.payload;
    }
    const n = itemCount(payload);
    if (span) {
      span.setAttribute('otelytics.items', n);
      span.addLinks(payloadLinks(payload));
    }
    try {
      await consumer.consume(payload);
      this.telemetry.receiverAccepted(this.id, transport, signal, n);
      return partial ? { kind: 'ok', partial } : { kind: 'ok' };
    } catch (err) {
      this.telemetry.receiverRefused(this.id, transport, signal, n);
      if (isRetryable(err)) return { kind: 'retryable', message: err.message, retryAfterMillis: err.retryAfterMillis ?? DEFAULT_RETRY_AFTER_MILLIS };
      if (isPermanent(err)) return { kind: 'invalid', message: errorMessage(err) };
      this.logger.error({ err: errorMessage(err), signal }, 'pipeline failed on accepted data');
      return { kind: 'internal', message: 'internal error in the pipeline' };
    }
  }
}
