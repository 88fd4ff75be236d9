/**
 * OTLP/protobuf logs: `ExportLogsServiceRequest` (`collector/logs/v1/logs_service.proto`,
 * `logs/v1/logs.proto`) decoded into and encoded from pdata `LogsData`.
 */
import { emptyResource, emptyScope, type LogRecord, type LogsData, type ResourceLogs, type ScopeLogs } from '../../pdata.js';
import { LEN } from '../wire.js';
import {
  F_ANY_VALUE,
  F_RESOURCE,
  F_SCOPE,
  readAnyValue,
  readAttribute,
  readGroup,
  readRequest,
  readResource,
  readScope,
} from './common.js';
import { enter, fieldNo, leave, names, readEnum, readFixed32, readId, readString, readTag, readTimestamp, readUint32, skip, type Reader } from './reader.js';
import {
  encodeRequest,
  tag,
  writeAnyValueFields,
  writeEnum,
  writeFixed32,
  writeId,
  writeKeyValues,
  writeString,
  writeTimestamp,
  writeUint32,
  type Writer,
} from './writer.js';

const F_LOGS_REQ = names({ 1: 'resource_logs' });
const F_RESOURCE_LOGS = names({ 1: 'resource', 2: 'scope_logs', 3: 'schema_url' });
const F_SCOPE_LOGS = names({ 1: 'scope', 2: 'log_records', 3: 'schema_url' });
const F_LOG = names({
  1: 'time_unix_nano', 2: 'severity_number', 3: 'severity_text', 5: 'body', 6: 'attributes',
  7: 'dropped_attributes_count', 8: 'flags', 9: 'trace_id', 10: 'span_id', 11: 'observed_time_unix_nano',
  12: 'event_name',
});

function readLogRecord(r: Reader): LogRecord {
  const lr: LogRecord = {
    timeUnixNano: '0',
    observedTimeUnixNano: '0',
    severityNumber: 0,
    severityText: '',
    body: {},
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
  };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        lr.timeUnixNano = readTimestamp(r, wt);
        break;
      case 2:
        lr.severityNumber = readEnum(r, wt);
        break;
      case 3:
        lr.severityText = readString(r, wt);
        break;
      case 5: {
        const saved = enter(r, wt, 'body', -1, F_ANY_VALUE);
        lr.body = readAnyValue(r, 1);
        leave(r, saved);
        break;
      }
      case 6:
        readAttribute(r, wt, 'attributes', lr.attributes);
        break;
      case 7:
        lr.droppedAttributesCount = readUint32(r, wt);
        break;
      case 8:
        lr.flags = readFixed32(r, wt);
        break;
      case 9:
        lr.traceId = readId(r, wt, 16);
        break;
      case 10:
        lr.spanId = readId(r, wt, 8);
        break;
      case 11:
        lr.observedTimeUnixNano = readTimestamp(r, wt);
        break;
      case 12:
        lr.eventName = readString(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return lr;
}

function readScopeLogs(r: Reader): ScopeLogs {
  const sl: ScopeLogs = { scope: emptyScope(), logRecords: [], schemaUrl: '' };
  sl.schemaUrl = readGroup(r, 'scope', F_SCOPE, readScope, sl.scope, 'log_records', F_LOG, readLogRecord, sl.logRecords);
  return sl;
}

function readResourceLogs(r: Reader): ResourceLogs {
  const rl: ResourceLogs = { resource: emptyResource(), scopeLogs: [], schemaUrl: '' };
  rl.schemaUrl = readGroup(r, 'resource', F_RESOURCE, readResource, rl.resource, 'scope_logs', F_SCOPE_LOGS, readScopeLogs, rl.scopeLogs);
  return rl;
}

/**
 * Decodes an `ExportLogsServiceRequest` (`opentelemetry.proto.collector.logs.v1`).
 *
 * Returns pdata `LogsData`, with the same conventions as `decodeTracesRequest`; `eventName` is
 * `LogRecord.event_name` (field 12) as sent, `""` when absent (no attribute fallback here).
 *
 * @throws OtlpDecodeError naming the proto path, for any malformed input (see `decodeTracesRequest`).
 */
export function decodeLogsRequest(buf: Uint8Array): LogsData {
  const data: LogsData = { resourceLogs: [] };
  readRequest(buf, F_LOGS_REQ, 'resource_logs', F_RESOURCE_LOGS, readResourceLogs, data.resourceLogs);
  return data;
}

function writeLogRecord(w: Writer, lr: LogRecord): void {
  writeTimestamp(w, 1, lr.timeUnixNano);
  writeEnum(w, 2, lr.severityNumber);
  writeString(w, 3, lr.severityText);
  if (Object.keys(lr.body).length !== 0) {
    w.uint32(tag(5, LEN)).fork();
    writeAnyValueFields(w, lr.body);
    w.ldelim();
  }
  writeKeyValues(w, 6, lr.attributes);
  writeUint32(w, 7, lr.droppedAttributesCount);
  writeFixed32(w, 8, lr.flags);
  writeId(w, 9, lr.traceId, 16);
  writeId(w, 10, lr.spanId, 8);
  writeTimestamp(w, 11, lr.observedTimeUnixNano);
  writeString(w, 12, lr.eventName);
}

/**
 * Encodes pdata `LogsData` as an `ExportLogsServiceRequest`; defaults omitted as in
 * `encodeTracesRequest`.
 *
 * @throws TypeError for malformed ids, timestamps or `intValue`s (see `encodeTracesRequest`).
 */
export function encodeLogsRequest(data: LogsData): Uint8Array {
  return encodeRequest(data.resourceLogs, (rl) => rl.scopeLogs, (sl) => sl.logRecords, writeLogRecord);
}
