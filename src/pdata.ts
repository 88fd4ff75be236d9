/**
 * The OTLP data model inside the gateway ("pdata"), for traces, logs and metrics.
 *
 * Shapes follow opentelemetry-proto (`opentelemetry/proto/{common,resource,trace,logs}/v1/*.proto`)
 * with OTLP/JSON's lowerCamelCase names, so that a decoded request reads like its JSON encoding:
 * - trace and span ids are lowercase hex strings (`""` when absent);
 * - 64-bit timestamps are decimal strings of nanoseconds since the Unix epoch (`"0"` when absent);
 * - `AnyValue` is the tagged union of the proto (`{ stringValue }`, `{ intValue }`, ...), so an
 *   integer stays an integer and a double stays a double through decode → process → encode.
 *   `intValue` is a JS number when it fits in 2^53, else its decimal string;
 * - enums (span kind, status code, severity number) are their integer values.
 */

import { EncodedTraces } from './otlp/encoded.js';

/** `opentelemetry.proto.common.v1.AnyValue`; `{}` is the empty value. */
export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: number | string }
  | { doubleValue: number }
  | { bytesValue: Uint8Array }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | Record<string, never>;

/** `opentelemetry.proto.common.v1.KeyValue`. */
export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface SpanEvent {
  timeUnixNano: string;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
}

/** `kind` is `Span.SpanKind` (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer); `status.code` is `Status.StatusCode` (0 unset, 1 ok, 2 error). */
export interface Span {
  traceId: string;
  spanId: string;
  traceState: string;
  parentSpanId: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: { code: number; message: string };
}

export interface ScopeSpans {
  scope: InstrumentationScope;
  spans: Span[];
  schemaUrl: string;
}

export interface ResourceSpans {
  resource: Resource;
  scopeSpans: ScopeSpans[];
  schemaUrl: string;
}

/** `ExportTraceServiceRequest`. */
export interface TracesData {
  resourceSpans: ResourceSpans[];
}

export interface LogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
  traceId: string;
  spanId: string;
  /** `LogRecord.event_name` (field 12); `""` when absent. */
  eventName: string;
}

export interface ScopeLogs {
  scope: InstrumentationScope;
  logRecords: LogRecord[];
  schemaUrl: string;
}

export interface ResourceLogs {
  resource: Resource;
  scopeLogs: ScopeLogs[];
  schemaUrl: string;
}

/** `ExportLogsServiceRequest`. */
export interface LogsData {
  resourceLogs: ResourceLogs[];
}

/**
 * `ExportMetricsServiceRequest`, carried opaquely: metrics are passed through, not processed.
 * `body` is the request's protobuf encoding; `dataPointCount` is counted while decoding.
 */
export interface MetricsData {
  body: Uint8Array;
  dataPointCount: number;
}

/** The empty `Resource`. */
export function emptyResource(): Resource {
  return { attributes: [], droppedAttributesCount: 0 };
}

/** The empty `InstrumentationScope`. */
export function emptyScope(): InstrumentationScope {
  return { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
}

/** A span with every field at its proto3 default (ids `""`, times `"0"`, empty lists, unset status). */
export function emptySpan(): Span {
  return {
    traceId: '',
    spanId: '',
    traceState: '',
    parentSpanId: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: '0',
    endTimeUnixNano: '0',
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
  };
}

export function spanCount(data: TracesData): number {
  if (data instanceof EncodedTraces && data.bytes) return data.spans;
  let n = 0;
  for (const rs of data.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

export function logRecordCount(data: LogsData): number {
  let n = 0;
  for (const rl of data.resourceLogs) for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

/** The value of the first attribute named `key`, or undefined. */
export function findAttribute(attrs: readonly KeyValue[], key: string): AnyValue | undefined {
  for (let i = 0; i < attrs.length; i++) if (attrs[i]!.key === key) return attrs[i]!.value;
  return undefined;
}

/** JSON value of an AnyValue: strings, numbers, booleans, arrays and objects; bytes become base64. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Converts an AnyValue to a plain JSON value (int64 beyond 2^53 stays a decimal string). */
export function toJsonValue(v: AnyValue): JsonValue {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return v.intValue;
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return v.arrayValue.values.map(toJsonValue);
  if ('kvlistValue' in v) {
    const o: { [key: string]: JsonValue } = {};
    for (const kv of v.kvlistValue.values) o[kv.key] = toJsonValue(kv.value);
    return o;
  }
  if ('bytesValue' in v) return Buffer.from(v.bytesValue).toString('base64');
  return null;
}

/** Converts a plain JSON value to an AnyValue: integers become `intValue`, other numbers `doubleValue`. */
export function fromJsonValue(v: unknown): AnyValue {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
    case 'bigint':
      return { intValue: v.toString() };
    case 'object':
      if (v === null) return {};
      if (Array.isArray(v)) return { arrayValue: { values: v.map(fromJsonValue) } };
      if (v instanceof Uint8Array) return { bytesValue: v };
      return {
        kvlistValue: { values: Object.entries(v as Record<string, unknown>).map(([key, x]) => ({ key, value: fromJsonValue(x) })) },
      };
    default:
      return {};
  }
}

/** The attributes as a plain object of JSON values (later duplicates win). */
export function attributesToObject(attrs: readonly KeyValue[]): { [key: string]: JsonValue } {
  const o: { [key: string]: JsonValue } = {};
  for (const kv of attrs) o[kv.key] = toJsonValue(kv.value);
  return o;
}

/** A string view of a scalar AnyValue (for matching); undefined for arrays, maps, bytes and empty. */
export function scalarString(v: AnyValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return String(v.intValue);
  if ('doubleValue' in v) return String(v.doubleValue);
  if ('boolValue' in v) return v.boolValue ? 'true' : 'false';
  if ('arrayValue' in v && v.arrayValue.values.length === 1) return scalarString(v.arrayValue.values[0]);
  return undefined;
}
