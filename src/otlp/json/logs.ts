/**
 * OTLP/JSON logs: `ExportLogsServiceRequest` decoded into and encoded from pdata `LogsData`.
 */
import type { LogRecord, LogsData, ResourceLogs, ScopeLogs } from '../../pdata.js';
import {
  anyValue,
  anyValueJson,
  eachObject,
  encodeRequestJson,
  guard,
  keyValues,
  keyValuesJson,
  parseRoot,
  put,
  resource,
  schemaUrlOf,
  scope,
  type JsonObj,
} from './common.js';
import { enumValue, get, hexId, str, u32, u64, type Obj } from './values.js';

const SEVERITIES: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((level, i) => {
  SEVERITIES[`SEVERITY_NUMBER_${level}`] = 4 * i + 1;
  for (let k = 2; k <= 4; k++) SEVERITIES[`SEVERITY_NUMBER_${level}${k}`] = 4 * i + k;
});

function logRecord(o: Obj): LogRecord {
  const body = o.body;
  return {
    timeUnixNano: u64(get(o, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
    observedTimeUnixNano: u64(get(o, 'observedTimeUnixNano', 'observed_time_unix_nano'), 'observedTimeUnixNano'),
    severityNumber: enumValue(get(o, 'severityNumber', 'severity_number'), 'severityNumber', SEVERITIES),
    severityText: str(get(o, 'severityText', 'severity_text'), 'severityText'),
    body: body === undefined || body === null ? {} : anyValue(body, 'body', 1),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    flags: u32(o.flags, 'flags'),
    traceId: hexId(get(o, 'traceId', 'trace_id'), 'traceId', 16),
    spanId: hexId(get(o, 'spanId', 'span_id'), 'spanId', 8),
    eventName: str(get(o, 'eventName', 'event_name'), 'eventName'),
  };
}

function scopeLogs(o: Obj): ScopeLogs {
  return {
    scope: scope(get(o, 'scope', 'scope'), 'scope'),
    logRecords: eachObject(o, 'logRecords', 'log_records', logRecord),
    schemaUrl: schemaUrlOf(o),
  };
}

function resourceLogs(o: Obj): ResourceLogs {
  return {
    resource: resource(get(o, 'resource', 'resource'), 'resource'),
    scopeLogs: eachObject(o, 'scopeLogs', 'scope_logs', scopeLogs),
    schemaUrl: schemaUrlOf(o),
  };
}

/**
 * Decodes an OTLP/JSON `ExportLogsServiceRequest` into pdata `LogsData` (conventions as in
 * `decodeTracesJson`; `eventName` is the record's own `eventName`, `""` when absent).
 *
 * @throws OtlpDecodeError for invalid JSON or a malformed value, naming its JSON path; for a body
 *   that is not UTF-8 or a string with a lone surrogate (see `decodeTracesJson`).
 */
export function decodeLogsJson(text: string | Uint8Array): LogsData {
  return guard(() => {
    const root = parseRoot(text);
    return { resourceLogs: eachObject(root, 'resourceLogs', 'resource_logs', resourceLogs) };
  });
}

function logRecordJson(r: LogRecord): JsonObj {
  const o: JsonObj = {};
  put(o, 'timeUnixNano', r.timeUnixNano);
  put(o, 'observedTimeUnixNano', r.observedTimeUnixNano);
  put(o, 'severityNumber', r.severityNumber);
  put(o, 'severityText', r.severityText);
  if (Object.keys(r.body).length !== 0) o.body = anyValueJson(r.body);
  put(o, 'attributes', keyValuesJson(r.attributes));
  put(o, 'droppedAttributesCount', r.droppedAttributesCount);
  put(o, 'flags', r.flags);
  put(o, 'traceId', r.traceId);
  put(o, 'spanId', r.spanId);
  put(o, 'eventName', r.eventName);
  return o;
}

/** Encodes pdata `LogsData` as an OTLP/JSON `ExportLogsServiceRequest` (as `encodeTracesJson`). */
export function encodeLogsJson(data: LogsData): string {
  return encodeRequestJson('resourceLogs', data.resourceLogs, 'scopeLogs', (rl) => rl.scopeLogs, 'logRecords', (sl) => sl.logRecords, logRecordJson);
}
