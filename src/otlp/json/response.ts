/**
 * OTLP/JSON responses: `Export{Trace,Logs,Metrics}ServiceResponse` and `google.rpc.Status`.
 */
import type { PartialSuccess, Signal } from '../proto/response.js';
import type { JsonObj } from './common.js';

const REJECTED_KEY: Record<Signal, string> = {
  traces: 'rejectedSpans',
  logs: 'rejectedLogRecords',
  metrics: 'rejectedDataPoints',
};

/**
 * Encodes an OTLP/JSON `Export{Trace,Logs,Metrics}ServiceResponse`: `{}` on full success, else
 * `{"partialSuccess":{"rejectedSpans"|"rejectedLogRecords"|"rejectedDataPoints":"<n>","errorMessage":"…"}}`
 * (the int64 count as a decimal string, omitted when 0; OTLP specification, "Partial Success").
 */
export function encodeExportResponseJson(signal: Signal, partial?: PartialSuccess): string {
  if (partial === undefined) return '{}';
  const ps: JsonObj = {};
  const n = Math.max(0, Math.trunc(partial.rejected));
  if (n) ps[REJECTED_KEY[signal]] = String(n);
  if (partial.message) ps.errorMessage = partial.message;
  return JSON.stringify({ partialSuccess: ps });
}

/**
 * Encodes a `google.rpc.Status` as JSON: `{"code":<gRPC code>,"message":"…"}` (`details` omitted),
 * the body of OTLP/HTTP JSON error responses (OTLP specification, "Failures").
 */
export function encodeStatusJson(code: number, message: string): string {
  return JSON.stringify({ code, message });
}
