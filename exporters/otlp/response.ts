/**
 * Reading OTLP answers and classifying failures, per the OTLP specification
 * (opentelemetry-proto `docs/specification.md`):
 * - "Partial Success": an `Export*ServiceResponse` whose `partial_success` (field 1) holds the
 *   rejected count (field 1, int64) and `error_message` (field 2); the client MUST NOT retry it;
 * - "OTLP/HTTP Retryable Response Codes": 429, 502, 503 and 504 are retried, honouring
 *   `Retry-After`; every other 4xx/5xx MUST NOT be retried; a server that disconnects without an
 *   answer, or cannot be reached, is retried ("All Other Responses", "OTLP/HTTP Connection");
 * - "OTLP/gRPC Failures": CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and
 *   DATA_LOSS are retryable; RESOURCE_EXHAUSTED only when the status carries a
 *   `google.rpc.RetryInfo`; all other codes are not. A `RetryInfo.retry_delay` is the wait.
 */
import protobuf from 'protobufjs/minimal.js';
import { PermanentError, RetryableError } from '../../src/errors.js';
import type { PartialSuccess } from '../../src/otlp/proto.js';
import { connectionErrorText, tlsProblemOf } from '../../src/tls/client.js';

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** HTTP status codes the OTLP specification says to retry. */
export const RETRYABLE_HTTP_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** gRPC status codes (numeric, `grpc.status`) the OTLP specification says to retry. */
export const RETRYABLE_GRPC_CODES: ReadonlySet<number> = new Set([
  1, // CANCELLED
  4, // DEADLINE_EXCEEDED
  10, // ABORTED
  11, // OUT_OF_RANGE
  14, // UNAVAILABLE
  15, // DATA_LOSS
]);
const RESOURCE_EXHAUSTED = 8;
const UNAVAILABLE = 14;

const GRPC_CODE_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** The name of a gRPC status code (`14` → `UNAVAILABLE`). */
export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? `code ${code}`;
}

/** A decoded `google.rpc.Status`: the message and, when a `RetryInfo` detail is present, its delay in milliseconds. */
export interface RpcStatus {
  code: number;
  message: string;
  retryDelayMillis: number | undefined;
}

function readInt64(r: protobuf.Reader): number {
  const v = r.int64() as unknown as number | { toNumber(): number };
  return typeof v === 'number' ? v : v.toNumber();
}

/** `google.protobuf.Duration { seconds = 1; nanos = 2 }` in milliseconds. */
function decodeDurationMillis(buf: Uint8Array): number {
  const r = protobuf.Reader.create(buf);
  let seconds = 0;
  let nanos = 0;
  while (r.pos < r.len) {
    const t = r.uint32();
    if (t === 8) seconds = readInt64(r);
    else if (t === 16) nanos = r.int32();
    else r.skipType(t & 7);
  }
  return Math.max(0, seconds * 1000 + Math.round(nanos / 1e6));
}

/** `google.rpc.RetryInfo { retry_delay = 1 }` → milliseconds (0 when the delay is absent). */
function decodeRetryInfo(buf: Uint8Array): number {
  const r = protobuf.Reader.create(buf);
  let ms = 0;
  while (r.pos < r.len) {
    const t = r.uint32();
    if (t === 10) ms = decodeDurationMillis(r.bytes());
    else r.skipType(t & 7);
  }
  return ms;
}

/**
 * Decodes a protobuf `google.rpc.Status { code = 1; message = 2; repeated Any details = 3 }`
 * (`Any { type_url = 1; value = 2 }`). Returns undefined when the bytes are not such a message.
 */
export function decodeRpcStatus(buf: Uint8Array): RpcStatus | undefined {
  try {
    const r = protobuf.Reader.create(buf);
    const status: RpcStatus = { code: 0, message: '', retryDelayMillis: undefined };
    while (r.pos < r.len) {
      const t = r.uint32();
      if (t === 8) status.code = r.int32();
      else if (t === 18) status.message = r.string();
      else if (t === 26) {
        const any = protobuf.Reader.create(r.bytes());
        let typeUrl = '';
        let value: Uint8Array = new Uint8Array(0);
        while (any.pos < any.len) {
          const at = any.uint32();
          if (at === 10) typeUrl = any.string();
          else if (at === 18) value = any.bytes();
          else any.skipType(at & 7);
        }
        if (typeUrl === RETRY_INFO_TYPE) status.retryDelayMillis = decodeRetryInfo(value);
      } else r.skipType(t & 7);
    }
    return status;
  } catch {
    return undefined;
  }
}

/** A JSON `google.protobuf.Duration` (`"1.5s"`) in milliseconds. */
function jsonDurationMillis(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v.trim());
  return m ? Math.max(0, Math.round(Number(m[1]) * 1000)) : undefined;
}

/** Decodes a JSON `google.rpc.Status` (`{"code":14,"message":"…","details":[{"@type":"…RetryInfo","retryDelay":"5s"}]}`). */
export function decodeRpcStatusJson(text: string): RpcStatus | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const rec = o as Record<string, unknown>;
  const status: RpcStatus = { code: typeof rec.code === 'number' ? rec.code : 0, message: typeof rec.message === 'string' ? rec.message : '', retryDelayMillis: undefined };
  if (Array.isArray(rec.details)) {
    for (const d of rec.details as unknown[]) {
      if (typeof d === 'object' && d !== null && (d as Record<string, unknown>)['@type'] === RETRY_INFO_TYPE) {
        status.retryDelayMillis = jsonDurationMillis((d as Record<string, unknown>).retryDelay ?? (d as Record<string, unknown>).retry_delay) ?? 0;
      }
    }
  }
  return status;
}

/**
 * Decodes the `partial_success` of a protobuf `Export{Trace,Logs,Metrics}ServiceResponse`.
 * Returns undefined for full success (field absent, or present with 0 rejected and no message).
 * @throws Error when the bytes are not such a message.
 */
export function decodeExportResponse(buf: Uint8Array): PartialSuccess | undefined {
  const r = protobuf.Reader.create(buf);
  let partial: PartialSuccess | undefined;
  while (r.pos < r.len) {
    const t = r.uint32();
    if (t === 10) {
      const p = protobuf.Reader.create(r.bytes());
      partial = { rejected: 0, message: '' };
      while (p.pos < p.len) {
        const pt = p.uint32();
        if (pt === 8) partial.rejected = readInt64(p);
        else if (pt === 18) partial.message = p.string();
        else p.skipType(pt & 7);
      }
    } else r.skipType(t & 7);
  }
  return partial && (partial.rejected > 0 || partial.message) ? partial : undefined;
}

/** Decodes the `partialSuccess` of an OTLP/JSON export response (see {@link decodeExportResponse}). */
export function decodeExportResponseJson(text: string): PartialSuccess | undefined {
  if (!text.trim()) return undefined;
  const o = JSON.parse(text) as Record<string, unknown>;
  const ps = (o?.partialSuccess ?? o?.partial_success) as Record<string, unknown> | undefined;
  if (typeof ps !== 'object' || ps === null) return undefined;
  let rejected = 0;
  for (const key of ['rejectedSpans', 'rejectedLogRecords', 'rejectedDataPoints', 'rejected_spans', 'rejected_log_records', 'rejected_data_points']) {
    const v = ps[key];
    if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) rejected = Number(v);
  }
  const m = ps.errorMessage ?? ps.error_message;
  const message = typeof m === 'string' ? m : '';
  return rejected > 0 || message ? { rejected, message } : undefined;
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP date, as milliseconds from
 * `now`; undefined when absent or unreadable. A date in the past gives 0.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The error for a non-2xx OTLP/HTTP answer: a `RetryableError` (with `Retry-After` as
 * `retryAfterMillis`) for 429/502/503/504, a `PermanentError` for every other status. The
 * message holds the status, the URL and the `google.rpc.Status.message` of the body when there is one.
 */
export function httpFailure(statusCode: number, url: string, body: Buffer, contentType: string | undefined, retryAfter: string | undefined): PermanentError | RetryableError {
  const json = (contentType ?? '').toLowerCase().includes('json');
  const status = body.length ? (json ? decodeRpcStatusJson(body.toString('utf8')) : decodeRpcStatus(body)) : undefined;
  let detail = status?.message;
  if (!detail && body.length && !json && !(contentType ?? '').includes('protobuf')) detail = body.toString('utf8').slice(0, 300).trim();
  const message = `HTTP ${statusCode} from ${url}${detail ? `: ${detail}` : ''}`;
  if (RETRYABLE_HTTP_STATUS.has(statusCode)) return new RetryableError(message, parseRetryAfter(retryAfter));
  return new PermanentError(message);
}

/** The error for a failed OTLP/gRPC call, classified by its status code and `RetryInfo` detail. */
export function grpcFailure(code: number, details: string, target: string, statusDetailsBin: Buffer | undefined): PermanentError | RetryableError {
  const status = statusDetailsBin ? decodeRpcStatus(statusDetailsBin) : undefined;
  const retryAfterMillis = status?.retryDelayMillis;
  // A connection that failed its TLS handshake: grpc-js passes on only the message.
  const problem = code === UNAVAILABLE ? tlsProblemOf({ message: details }, 'server') : undefined;
  // grpc-js ends a connection failure with an empty "Resolution note:".
  const said = problem ? details.replace(/\s+/g, ' ').replace(/\s*Resolution note:\s*$/, '').replace(/[\s.:;,]+$/, '') : details;
  const message = `gRPC ${grpcCodeName(code)} from ${target}${said ? `: ${said}` : ''}${problem ? `; ${problem.hint}` : ''}`;
  if (RETRYABLE_GRPC_CODES.has(code)) return new RetryableError(message, retryAfterMillis);
  if (code === RESOURCE_EXHAUSTED && retryAfterMillis !== undefined) return new RetryableError(message, retryAfterMillis);
  return new PermanentError(message);
}

/**
 * The error for a request that got no answer (refused connection, reset, TLS failure, time-out):
 * retryable, so that the data stays queued while the destination or the settings are fixed. A TLS
 * failure says which `tls` option to change ({@link tlsProblem}).
 */
export function transportFailure(err: unknown, url: string): RetryableError {
  return new RetryableError(`no answer from ${url}: ${connectionErrorText(err)}`, undefined, { cause: err });
}
