/**
 * What both OTLP transports share: admit a request before its body is read or decoded (the
 * process-wide gate of the memory limiter, then the receiver's own bounds: how long the event loop
 * has been busy, and request bytes in flight), decode a request body for a signal, apply the attribute limits, hand it to the
 * pipelines, count it, and classify the outcome for the transport to answer.
 *
 * Protobuf traces for pipelines that read no span (`Consumer.takesEncodedTraces`: only
 * `memory_limiter` before OTLP or `nop` exporters) are checked by a validating scan instead of
 * decoded, and handed on as the bytes they came in (`EncodedTraces`), when the scan shows that
 * nothing in them can pass the limits: every resource, scope and span too small to pass the
 * attribute count and value limits (see {@link limitsProofBytes}), and no attribute key or
 * name-like string longer in bytes than its limit in characters (see {@link withinLimits}); else
 * they are decoded and limited as usual.
 */
import type { Logger } from 'pino';
import type { ClientInfo, Consumer, Payload, ReceiverConsumers, Signal } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { errorMessage, isPermanent, isRetryable, OtlpDecodeError } from '../../src/errors.js';
import { decodeLogsJson, decodeMetricsJson, decodeTracesJson } from '../../src/otlp/json.js';
import { decodeLogsRequest, decodeMetricsRequest, decodeTracesRequest, EncodedTraces, scanTracesRequest, type TracesScan } from '../../src/otlp/proto.js';
import type { Telemetry } from '../../src/telemetry.js';
import { admissionRefusal, loopBusyClock } from '../../src/delivery/admission.js';
import { endSpan, payloadLinks, selfTracer, selfTracingEnabled, SpanKind, type Span } from '../../src/selftrace.js';
import type { OtlpAdmission, OtlpLimits } from './config.js';
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
  // As bytes: the JSON decoders refuse a body that is not UTF-8 instead of decoding it with U+FFFD.
  switch (signal) {
    case 'traces': return { signal, data: decodeTracesJson(body) };
    case 'logs': return { signal, data: decodeLogsJson(body) };
    case 'metrics': return { signal, data: decodeMetricsJson(body) };
  }
}

/** A refusal before the body is read; `closeConnection`: answer without reading the body (HTTP closes the connection), else the body is read and discarded so the connection stays usable. */
export type Refused = Extract<ExportOutcome, { kind: 'retryable' }> & { closeConnection: boolean };

const MIB = 1024 * 1024;

/**
 * The largest resource, scope or span encoding that cannot pass `limits` whatever it holds: n bytes
 * hold at most n/2 attributes, nested entries included (each takes a tag and a length at least),
 * and no string or bytes value longer than n (UTF-16 units never outnumber UTF-8 bytes).
 */
export function limitsProofBytes(limits: OtlpLimits): number {
  const byCount = limits.attribute_count_limit > 0 ? 2 * limits.attribute_count_limit : Infinity;
  const byLength = limits.attribute_value_length_limit > 0 ? limits.attribute_value_length_limit : Infinity;
  return Math.min(byCount, byLength);
}

/**
 * Whether a scanned trace request cannot pass `limits`, so that it may travel undecoded: its
 * largest resource, scope or span within {@link limitsProofBytes} (which bounds attribute counts,
 * values and the status message, held in the span), and its longest attribute key and name-like
 * string within their limits in bytes (a string has at most as many UTF-16 units as UTF-8 bytes).
 */
export function withinLimits(scan: TracesScan, limits: OtlpLimits, proofBytes = limitsProofBytes(limits)): boolean {
  return (
    scan.largest <= proofBytes &&
    (limits.attribute_key_length_limit === 0 || scan.longestKey <= limits.attribute_key_length_limit) &&
    (limits.name_length_limit === 0 || scan.longestName <= limits.name_length_limit)
  );
}

export class ExportHandler {
  /** Bytes of the request bodies admitted and not yet answered, both transports together. */
  private inFlightBytes = 0;
  private readonly requestLimitBytes: number;
  private readonly maxLoopDelay: number;
  /** Resource, scope and span encodings up to this many bytes cannot pass the attribute limits. */
  private readonly limitsProofBytes: number;

  constructor(
    private readonly id: string,
    private readonly consumers: ReceiverConsumers,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
    private readonly limits: OtlpLimits = { attribute_count_limit: 0, attribute_value_length_limit: 0, attribute_key_length_limit: 0, name_length_limit: 0 },
    admission: OtlpAdmission = { request_limit_mib: 0, max_event_loop_delay: 0 },
  ) {
    this.requestLimitBytes = admission.request_limit_mib * MIB;
    this.maxLoopDelay = admission.max_event_loop_delay;
    this.limitsProofBytes = limitsProofBytes(limits);
  }

  /** Bytes of request bodies in flight (admitted, not yet answered). */
  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  /**
   * Admits a request of `bytes` (its declared body size; 0 when unknown) before its body is read
   * or decoded, or refuses it (counted in `otelytics_receiver_refused_requests{reason}`):
   * - `admission`: a process-wide gate (the memory limiter) refuses; the body is not read;
   * - `overload`: this turn of the event loop has been taking requests for more than
   *   `admission::max_event_loop_delay` (see {@link LoopBusyClock}): the gateway is saturated;
   * - `request_limit`: the bodies in flight plus this one would pass `admission::request_limit_mib`.
   *   A request is always admitted when nothing is in flight, so one body larger than the limit
   *   is still served.
   * Undefined: admitted, and `bytes` count as in flight until {@link release} is called with them.
   */
  admit(transport: 'http' | 'grpc', bytes: number): Refused | undefined {
    const r = admissionRefusal();
    if (r) {
      this.telemetry.receiverRefusedRequest(this.id, transport, 'admission');
      return { kind: 'retryable', message: r.message, retryAfterMillis: r.retryAfterMillis, closeConnection: true };
    }
    if (this.maxLoopDelay > 0) {
      const busy = loopBusyClock.busyMillis();
      if (busy > this.maxLoopDelay) {
        this.telemetry.receiverRefusedRequest(this.id, transport, 'overload');
        return {
          kind: 'retryable',
          message: `the gateway is saturated (busy for ${Math.round(busy)} ms without a break, above admission::max_event_loop_delay of ${this.maxLoopDelay} ms); try again later`,
          retryAfterMillis: DEFAULT_RETRY_AFTER_MILLIS,
          closeConnection: false,
        };
      }
    }
    const limit = this.requestLimitBytes;
    if (limit > 0 && this.inFlightBytes > 0 && this.inFlightBytes + bytes > limit) {
      this.telemetry.receiverRefusedRequest(this.id, transport, 'request_limit');
      return {
        kind: 'retryable',
        message: `requests in flight hold ${(this.inFlightBytes / MIB).toFixed(1)} MiB, at the receiver's limit of ${limit / MIB} MiB (admission::request_limit_mib); try again later`,
        retryAfterMillis: DEFAULT_RETRY_AFTER_MILLIS,
        closeConnection: false,
      };
    }
    this.inFlightBytes += bytes;
    return undefined;
  }

  /** Counts `bytes` more of an admitted request as in flight (its body turned out larger than declared). */
  grow(bytes: number): void {
    this.inFlightBytes += bytes;
  }

  /** Ends what {@link admit} and {@link grow} counted for one request. */
  release(bytes: number): void {
    this.inFlightBytes = Math.max(0, this.inFlightBytes - bytes);
  }

  /** The consumer for a signal, or undefined when no pipeline takes it from this receiver. */
  consumer(signal: Signal): Consumer | undefined {
    return this.consumers[signal];
  }

  /**
   * Decodes and hands the body to the pipelines; resolves when every pipeline accepted it. With
   * own traces on, makes one SERVER span `otlp.receive {signal}` linked to the user spans it carries.
   *
   * @param client who sent it (authenticated identity, headers with `include_metadata`), handed
   *   on as the payload's `client`; undefined when nothing is known.
   */
  async export(transport: 'http' | 'grpc', signal: OtlpSignal, body: Uint8Array, encoding: WireEncoding, client?: ClientInfo): Promise<ExportOutcome> {
    if (!selfTracingEnabled()) return this.#export(transport, signal, body, encoding, undefined, client);
    const span = selfTracer().startSpan(`otlp.receive ${signal}`, {
      kind: SpanKind.SERVER,
      attributes: { 'otelytics.receiver': this.id, 'otelytics.signal': signal, 'network.protocol.name': transport === 'grpc' ? 'grpc' : 'http', 'otelytics.request.bytes': body.byteLength },
    });
    const out = await this.#export(transport, signal, body, encoding, span, client);
    span.setAttribute('otelytics.outcome', out.kind);
    endSpan(span, out.kind === 'ok' ? undefined : out.message);
    return out;
  }

  async #export(transport: 'http' | 'grpc', signal: OtlpSignal, body: Uint8Array, encoding: WireEncoding, span?: Span, client?: ClientInfo): Promise<ExportOutcome> {
    const consumer = this.consumers[signal];
    if (!consumer) return { kind: 'invalid', message: `this receiver feeds no ${signal} pipeline` };
    let payload: Payload;
    let checked = false;
    try {
      if (signal === 'traces' && encoding === 'proto' && consumer.takesEncodedTraces === true) {
        const scan = scanTracesRequest(body);
        // Nothing in it can pass a limit: hand the bytes on undecoded.
        checked = withinLimits(scan, this.limits, this.limitsProofBytes);
        payload = checked ? { signal, data: new EncodedTraces(body, scan.spans) } : decodeRequest(signal, body, encoding);
      } else payload = decodeRequest(signal, body, encoding);
    } catch (err) {
      if (err instanceof OtlpDecodeError) return { kind: 'invalid', message: `cannot decode ${encoding === 'proto' ? 'protobuf' : 'JSON'} ${signal} request: ${err.message}` };
      this.logger.error({ err: errorMessage(err) }, 'unexpected error while decoding');
      return { kind: 'internal', message: 'internal error while decoding the request' };
    }
    const total = itemCount(payload);
    if (total === 0) return { kind: 'ok' };
    const limited = checked ? { payload, rejected: 0 } : applyLimits(payload, this.limits);
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
    if (client !== undefined) payload.client = client;
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
