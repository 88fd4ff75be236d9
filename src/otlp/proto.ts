/**
 * OTLP/protobuf codec for the export requests and responses of the three signals.
 *
 * Wire format: opentelemetry-proto `opentelemetry/proto/collector/{trace,logs,metrics}/v1/*_service.proto`
 * and the messages they embed (`trace/v1/trace.proto`, `logs/v1/logs.proto`, `common/v1/common.proto`,
 * `resource/v1/resource.proto`, `metrics/v1/metrics.proto`); OTLP specification, "OTLP/HTTP" and
 * "OTLP/gRPC" (https://opentelemetry.io/docs/specs/otlp/).
 *
 * Traces and logs are decoded straight into the pdata shapes of `../pdata.ts`; metrics stay opaque
 * (framing is checked and data points are counted). Every decoding failure is an `OtlpDecodeError`
 * whose message names the proto path where it broke, e.g.
 * `resource_spans[0].scope_spans[1].spans[3].trace_id: expected 16 bytes, got 5`.
 */
export { MAX_ANY_VALUE_DEPTH, uint64ToDecimal } from './wire.js';
import type { TracesData } from '../pdata.js';
import { EncodedTraces } from './encoded.js';
import { encodeTracesRequest as encodeTraces } from './proto/traces.js';

export { decodeTracesRequest } from './proto/traces.js';
export { EncodedTraces } from './encoded.js';
export { scanTracesRequest, type TracesScan } from './proto/scan.js';

/**
 * Encodes pdata traces as an `ExportTraceServiceRequest`; traces still in the bytes they arrived
 * in ({@link EncodedTraces} not yet read) are those bytes, unchanged.
 */
export function encodeTracesRequest(data: TracesData): Uint8Array {
  if (data instanceof EncodedTraces) {
    const bytes = data.bytes;
    if (bytes) return bytes;
  }
  return encodeTraces(data);
}
export { decodeLogsRequest, encodeLogsRequest } from './proto/logs.js';
export { decodeMetricsRequest } from './proto/metrics.js';
export { encodeExportResponse, encodeStatus, type PartialSuccess, type Signal } from './proto/response.js';
export {
  createWriter,
  tag,
  writeFixed64,
  writeId,
  writeKeyValues,
  writeResource,
  writeScope,
  writeSfixed64,
  writeUint64,
} from './proto/writer.js';
