/**
 * Payload → OTLP export request body. Traces and logs are encoded as they are; events become an
 * `ExportLogsServiceRequest` with one log record per event, `event_name` set (the lossless mapping
 * of the event model, `eventsToLogsData` in src/event.ts); metrics are carried as the protobuf
 * bytes they arrived in.
 */
import type { Payload } from '../../src/component.js';
import { eventsToLogsData } from '../../src/event.js';
import { encodeLogsJson, encodeTracesJson } from '../../src/otlp/json.js';
import { encodeLogsRequest, encodeTracesRequest, type Signal as OtlpSignal } from '../../src/otlp/proto.js';
import { bufferOf } from '../../src/otlp/wire.js';

export type { OtlpSignal };

/** The OTLP signal a payload travels as (`events` go as `logs`). */
export function otlpSignalOf(p: Payload): OtlpSignal {
  return p.signal === 'events' ? 'logs' : p.signal;
}

/** The request body of a payload in protobuf (`application/x-protobuf`), as a Buffer over the encoded bytes (not a copy). */
export function encodeProtoBuffer(p: Payload): Buffer {
  return bufferOf(encodeProto(p));
}

/** The request body of a payload in protobuf (`application/x-protobuf`). */
export function encodeProto(p: Payload): Uint8Array {
  switch (p.signal) {
    case 'traces':
      return encodeTracesRequest(p.data);
    case 'logs':
      return encodeLogsRequest(p.data);
    case 'events':
      return encodeLogsRequest(eventsToLogsData(p.data));
    case 'metrics':
      return p.data.body;
  }
}

/**
 * The request body of a payload in OTLP/JSON (`application/json`). Metrics have no JSON encoder
 * here (they pass through opaquely), so `undefined` tells the caller to send them as protobuf.
 */
export function encodeJson(p: Payload): string | undefined {
  switch (p.signal) {
    case 'traces':
      return encodeTracesJson(p.data);
    case 'logs':
      return encodeLogsJson(p.data);
    case 'events':
      return encodeLogsJson(eventsToLogsData(p.data));
    case 'metrics':
      return undefined;
  }
}
