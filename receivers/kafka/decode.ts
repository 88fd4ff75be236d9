/**
 * Kafka record → pipeline data for the `kafka` receiver.
 *
 * - traces / logs: the record value is an `Export{Trace,Logs}ServiceRequest` in OTLP protobuf or
 *   OTLP/JSON, as the collector's kafka exporter and otelytics' write them;
 * - events: `json` is one event (or an array of events) with the event model's fields;
 *   `otlp_proto` / `otlp_json` carry events as OTLP log records with an event name.
 * An event without a trace context takes it from the record's W3C `traceparent` header.
 */
import type { AnalyticsEvent } from '../../src/event.js';
import { logsDataToEvents } from '../../src/event.js';
import { OtlpDecodeError } from '../../src/errors.js';
import { decodeLogsJson, decodeTracesJson } from '../../src/otlp/json.js';
import { decodeLogsRequest, decodeTracesRequest } from '../../src/otlp/proto.js';
import type { JsonValue, LogsData, TracesData } from '../../src/pdata.js';
import { parseTraceparent } from '../../src/kafka/traceparent.js';

export type SectionSignal = 'traces' | 'logs' | 'events';
export type Encoding = 'otlp_proto' | 'otlp_json' | 'json';

const text = (b: Buffer) => b.toString('utf8');

export function decodeTraces(value: Buffer, encoding: Encoding): TracesData {
  return encoding === 'otlp_json' ? decodeTracesJson(value) : decodeTracesRequest(value);
}

export function decodeLogs(value: Buffer, encoding: Encoding): LogsData {
  return encoding === 'otlp_json' ? decodeLogsJson(value) : decodeLogsRequest(value);
}

const isObject = (v: unknown): v is { [k: string]: JsonValue } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks and completes one JSON event; throws OtlpDecodeError naming what is wrong. */
export function toEvent(v: unknown, where: string): AnalyticsEvent {
  if (!isObject(v)) throw new OtlpDecodeError(`${where}: an event must be a JSON object`);
  if (typeof v.name !== 'string' || v.name === '') throw new OtlpDecodeError(`${where}: the event has no name`);
  const t = v.time_unix_nano;
  if (typeof t === 'number' ? !Number.isSafeInteger(t) || t < 0 : typeof t !== 'string' || !/^\d+$/.test(t)) {
    throw new OtlpDecodeError(`${where}: time_unix_nano must be nanoseconds since the epoch as a decimal string`);
  }
  for (const k of ['properties', 'context', 'user_properties', 'consent'] as const) {
    if (v[k] !== undefined && !isObject(v[k])) throw new OtlpDecodeError(`${where}: ${k} must be an object`);
  }
  for (const k of ['insert_id', 'user_id', 'device_id', 'session_id', 'privacy_level', 'category'] as const) {
    if (v[k] !== undefined && typeof v[k] !== 'string') throw new OtlpDecodeError(`${where}: ${k} must be a string`);
  }
  const e = v as unknown as AnalyticsEvent;
  e.time_unix_nano = String(t);
  e.insert_id ??= '';
  e.properties ??= {};
  e.context ??= { source: 'log' };
  return e;
}

/** Events of one record. `traceparent`: the record's header, used when an event has no trace id. */
export function decodeEvents(value: Buffer, encoding: Encoding, traceparent: string | undefined, where: string): AnalyticsEvent[] {
  let events: AnalyticsEvent[];
  if (encoding === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text(value));
    } catch (err) {
      throw new OtlpDecodeError(`${where}: not JSON: ${(err as Error).message}`);
    }
    events = Array.isArray(parsed) ? parsed.map((x, i) => toEvent(x, `${where}[${i}]`)) : [toEvent(parsed, where)];
  } else {
    events = logsDataToEvents(decodeLogs(value, encoding));
  }
  if (traceparent !== undefined) {
    const tp = parseTraceparent(traceparent);
    if (tp) {
      for (const e of events) {
        if (e.context.trace_id) continue;
        e.context.trace_id = tp.traceId;
        e.context.span_id = tp.spanId;
      }
    }
  }
  return events;
}

/** A header value as a string (kafkajs gives Buffers; a header may repeat: the first counts). */
export function headerString(h: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (h === undefined) return undefined;
  const v = Array.isArray(h) ? h[0] : h;
  return v === undefined ? undefined : v.toString();
}
