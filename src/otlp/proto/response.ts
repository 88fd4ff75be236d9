/**
 * OTLP/protobuf responses: `Export{Trace,Logs,Metrics}ServiceResponse` and `google.rpc.Status`.
 */
import { LEN, VARINT } from '../wire.js';
import { createWriter, tag, writeEnum, writeInt64, writeString } from './writer.js';

/** The OTLP signals. */
export type Signal = 'traces' | 'logs' | 'metrics';

/** A partial success: how many items were rejected (a non-negative integer) and why. */
export interface PartialSuccess {
  rejected: number;
  message: string;
}

/**
 * Encodes an `Export{Trace,Logs,Metrics}ServiceResponse`: `partial_success` (field 1) holding
 * `rejected_spans` / `rejected_log_records` / `rejected_data_points` (field 1, int64) and
 * `error_message` (field 2). Full success (`partial` undefined) is the empty message: a zero-length
 * buffer (OTLP specification, "Full Success" / "Partial Success"). The signal does not change the
 * bytes (all three use field 1); it is taken for symmetry with the JSON encoder.
 */
export function encodeExportResponse(_signal: Signal, partial?: PartialSuccess): Uint8Array {
  if (partial === undefined) return new Uint8Array(0);
  const w = createWriter();
  w.uint32(tag(1, LEN)).fork();
  if (partial.rejected) {
    w.uint32(tag(1, VARINT));
    writeInt64(w, Math.max(0, Math.trunc(partial.rejected)));
  }
  writeString(w, 2, partial.message);
  w.ldelim();
  return w.finish();
}

/**
 * Encodes a `google.rpc.Status` (`code` = 1, int32 gRPC status code; `message` = 2; `details`
 * omitted), the body of OTLP/HTTP error responses (OTLP specification, "Failures").
 */
export function encodeStatus(code: number, message: string): Uint8Array {
  const w = createWriter();
  writeEnum(w, 1, code);
  writeString(w, 2, message);
  return w.finish();
}
