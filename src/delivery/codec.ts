/**
 * How a queued payload is stored on disk by the persistent queue, and measured by the `bytes` sizer.
 *
 * One record = one tag byte + the payload in a stable, documented encoding, so that a queue
 * written by one version of the gateway is read by the next:
 * - `1` traces: an OTLP `ExportTraceServiceRequest` (protobuf);
 * - `2` logs: an OTLP `ExportLogsServiceRequest` (protobuf);
 * - `3` metrics: an OTLP `ExportMetricsServiceRequest` (protobuf, as received);
 * - `4` events: a JSON array of events with the fields of the event model (`src/event.ts`),
 *   `dead_letter` included.
 */
import type { Payload } from '../component.js';
import type { AnalyticsEvent } from '../event.js';
import { OtlpDecodeError } from '../errors.js';
import { decodeLogsRequest, decodeMetricsRequest, decodeTracesRequest, encodeLogsRequest, encodeTracesRequest } from '../otlp/proto.js';

const TAG = { traces: 1, logs: 2, metrics: 3, events: 4 } as const;

function withTag(tag: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(body.byteLength + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/** The stored bytes of a payload. */
export function encodePayload(p: Payload): Buffer {
  switch (p.signal) {
    case 'traces':
      return withTag(TAG.traces, encodeTracesRequest(p.data));
    case 'logs':
      return withTag(TAG.logs, encodeLogsRequest(p.data));
    case 'metrics':
      return withTag(TAG.metrics, p.data.body);
    case 'events':
      return withTag(TAG.events, Buffer.from(JSON.stringify(p.data), 'utf8'));
  }
}

/**
 * The payload of stored bytes.
 * @throws OtlpDecodeError for bytes that are not a record of this format (a damaged queue entry).
 */
export function decodePayload(b: Uint8Array): Payload {
  if (b.byteLength === 0) throw new OtlpDecodeError('empty queue record');
  const body = b.subarray(1);
  switch (b[0]) {
    case TAG.traces:
      return { signal: 'traces', data: decodeTracesRequest(body) };
    case TAG.logs:
      return { signal: 'logs', data: decodeLogsRequest(body) };
    case TAG.metrics:
      // The decoder keeps a view of its input: copy so that the record's buffer may be reused.
      return { signal: 'metrics', data: decodeMetricsRequest(Uint8Array.prototype.slice.call(body)) };
    case TAG.events: {
      let events: unknown;
      try {
        events = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
      } catch (err) {
        throw new OtlpDecodeError(`queue record of events is not JSON: ${(err as Error).message}`);
      }
      if (!Array.isArray(events)) throw new OtlpDecodeError('queue record of events is not a JSON array');
      return { signal: 'events', data: events as AnalyticsEvent[] };
    }
    default:
      throw new OtlpDecodeError(`unknown queue record tag ${b[0]}`);
  }
}
