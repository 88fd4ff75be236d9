/**
 * OTLP/JSON codec (OTLP specification, "JSON Protobuf Encoding":
 * https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
 *
 * The proto3 JSON mapping with OTLP's exceptions: trace and span ids are hex strings (not base64),
 * enums are integers, keys are lowerCamelCase. Decoding is lenient where the specification lets a
 * receiver be: snake_case proto field names are accepted, as are enum names
 * (`"SPAN_KIND_SERVER"`), 64-bit integers given as strings or numbers, `null` for an absent field,
 * and unknown fields (ignored). Everything else that does not fit the schema is an
 * `OtlpDecodeError` naming its JSON path, e.g.
 * `resourceSpans[0].scopeSpans[0].spans[2].attributes[1].value: expected an object`.
 *
 * Traces and logs decode into pdata (`../pdata.ts`), so a request reads the same whether it came
 * as protobuf or as JSON. Metrics are converted to their protobuf encoding (`MetricsData.body`).
 */
import { OtlpDecodeError } from '../errors.js';
import type {
  AnyValue,
  InstrumentationScope,
  KeyValue,
  LogRecord,
  LogsData,
  MetricsData,
  Resource,
  ResourceLogs,
  ResourceSpans,
  ScopeLogs,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanLink,
  TracesData,
} from '../pdata.js';
import {
  MAX_ANY_VALUE_DEPTH,
  createWriter,
  tag,
  writeFixed64,
  writeId,
  writeKeyValues,
  writeResource,
  writeScope,
  writeSfixed64,
  writeUint64,
  type PartialSuccess,
  type Signal,
} from './proto.js';

type Obj = Record<string, unknown>;
type Writer = ReturnType<typeof createWriter>;

// ---------------------------------------------------------------------------------------------
// Decoding: JSON path of the value being decoded, for error messages
// ---------------------------------------------------------------------------------------------

/** Keys and array indexes from the document root to the object being decoded. */
const path: (string | number)[] = [];

/** The JSON path of the current value, plus `key` when given and non-empty (`(root)` for the document). */
function at(key?: string): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  if (key) s += s ? `.${key}` : key;
  return s || '(root)';
}

/** `name` under `key` (`key` empty: the current value itself). */
function child(key: string, name: string): string {
  return key ? `${key}.${name}` : name;
}

function fail(key: string | undefined, message: string): never {
  throw new OtlpDecodeError(`${at(key)}: ${message}`);
}

/** The value of `camel`, else of its proto name `snake`; `undefined` for absent or `null`. */
function get(o: Obj, camel: string, snake: string): unknown {
  const v = o[camel];
  if (v !== undefined && v !== null) return v;
  const s = o[snake];
  return s === null ? undefined : s;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asObject(v: unknown, key: string | undefined): Obj {
  if (!isObject(v)) fail(key, 'expected an object');
  return v;
}

/** `v` as an array; `[]` when absent. */
function asArray(v: unknown, key: string): readonly unknown[] {
  if (v === undefined || v === null) return EMPTY;
  if (!Array.isArray(v)) fail(key, 'expected an array');
  return v;
}
const EMPTY: readonly unknown[] = [];

function str(v: unknown, key: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(key, 'expected a string');
  return v;
}

const UINT_RE = /^\d+$/;
const INT_RE = /^[-+]?\d+$/;

/** A `uint32`/`fixed32`: a number or decimal string in 0..2^32-1; 0 when absent. */
function u32(v: unknown, key: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && UINT_RE.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    fail(key, `expected an unsigned 32-bit integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** An `int32`: a number or decimal string; 0 when absent. */
function i32(v: unknown, key: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && INT_RE.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) {
    fail(key, `expected a 32-bit integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** An enum: its integer value (number or decimal string) or its name in `names`; 0 when absent. */
function enumValue(v: unknown, key: string, names: Readonly<Record<string, number>>): number {
  if (typeof v === 'number') return i32(v, key);
  if (typeof v === 'string' && !INT_RE.test(v)) {
    const n = names[v];
    if (n === undefined) fail(key, `unknown enum value ${JSON.stringify(v)}`);
    return n;
  }
  return i32(v, key);
}

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const SEVERITIES: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((level, i) => {
  SEVERITIES[`SEVERITY_NUMBER_${level}`] = 4 * i + 1;
  for (let k = 2; k <= 4; k++) SEVERITIES[`SEVERITY_NUMBER_${level}${k}`] = 4 * i + k;
});
const TEMPORALITIES: Record<string, number> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

const MAX_UINT64 = '18446744073709551615';
const MAX_INT64 = '9223372036854775807';
const CANONICAL_RE = /^[1-9]\d{0,18}$/;

/** Digits without leading zeros (`"0"` for all zeros). */
function stripZeros(d: string): string {
  let i = 0;
  while (i < d.length - 1 && d.charCodeAt(i) === 48) i++;
  return i ? d.slice(i) : d;
}

/** Whether decimal digits `d` (no leading zeros) are at most `max` (same form). */
function notAbove(d: string, max: string): boolean {
  return d.length < max.length || (d.length === max.length && d <= max);
}

/**
 * An unsigned 64-bit integer (`fixed64`, e.g. nanosecond timestamps) as its canonical decimal
 * string: from a decimal string or a non-negative integral number; `"0"` when absent.
 */
function u64(v: unknown, key: string): string {
  if (typeof v === 'string') {
    if (CANONICAL_RE.test(v)) return v;
    if (UINT_RE.test(v)) {
      const d = stripZeros(v);
      if (notAbove(d, MAX_UINT64)) return d;
    }
  } else if (typeof v === 'number') {
    // The shortest decimal form gives back the digits the sender wrote, when that is exact.
    if (Number.isInteger(v) && v >= 0 && v < 18446744073709551616) return String(v);
  } else if (v === undefined || v === null) return '0';
  fail(key, `expected an unsigned 64-bit integer, got ${JSON.stringify(v)}`);
}

/**
 * A signed 64-bit integer as pdata's `intValue`: a number when it is a safe integer, else its
 * canonical decimal string; from a decimal string or an integral number.
 */
function i64(v: unknown, key: string): number | string {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return v;
    if (Number.isInteger(v) && v >= -9223372036854775808 && v < 9223372036854775808) {
      const s = String(v); // the digits the sender wrote, when exact; else the double's own value
      return INT_RE.test(s) && (v > 0 ? notAbove(s, MAX_INT64) : notAbove(s.slice(1), '9223372036854775808')) ? s : v.toFixed(0);
    }
  } else if (typeof v === 'string' && INT_RE.test(v)) {
    const neg = v.charCodeAt(0) === 45;
    const d = stripZeros(neg || v.charCodeAt(0) === 43 ? v.slice(1) : v);
    if (d.length <= 15) return neg && d !== '0' ? -Number(d) : Number(d);
    if (neg ? notAbove(d, '9223372036854775808') : notAbove(d, MAX_INT64)) {
      const n = Number(d);
      if (Number.isSafeInteger(n)) return neg ? -n : n;
      return neg ? `-${d}` : d;
    }
  }
  fail(key, `expected a 64-bit integer, got ${JSON.stringify(v)}`);
}

/** A `double`: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"` or a numeric string. */
function dbl(v: unknown, key: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  fail(key, `expected a number, got ${JSON.stringify(v)}`);
}

const HEX_LOWER_RE = /^[0-9a-f]*$/;
const HEX_RE = /^[0-9a-fA-F]*$/;

/** A trace id (`n` = 16 bytes) or span id (`n` = 8) as lowercase hex; `""` when absent or empty. */
function hexId(v: unknown, key: string, n: number): string {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') fail(key, `expected a hex string, got ${JSON.stringify(v)}`);
  if (v.length !== 2 * n || !(HEX_LOWER_RE.test(v) || HEX_RE.test(v))) {
    fail(key, `expected ${2 * n} hex digits, got ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`);
  }
  return v.toLowerCase();
}

const BASE64_RE = /^[A-Za-z0-9+/\-_]*={0,2}$/;

function bytes(v: unknown, key: string): Uint8Array {
  if (typeof v !== 'string' || !BASE64_RE.test(v)) fail(key, 'expected a base64 string');
  const b = Buffer.from(v, 'base64');
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding: common messages
// ---------------------------------------------------------------------------------------------

/** An `AnyValue` at nesting `level`, found under `key` of the current object (`""`: the current value). */
function anyValue(v: unknown, key: string, level: number): AnyValue {
  if (!isObject(v)) fail(key, 'expected an object');
  if (level > MAX_ANY_VALUE_DEPTH) fail(key, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  let x = get(v, 'stringValue', 'string_value');
  if (x !== undefined) return { stringValue: str(x, child(key, 'stringValue')) };
  if ((x = get(v, 'intValue', 'int_value')) !== undefined) return { intValue: i64(x, child(key, 'intValue')) };
  if ((x = get(v, 'boolValue', 'bool_value')) !== undefined) {
    if (typeof x !== 'boolean') fail(child(key, 'boolValue'), 'expected a boolean');
    return { boolValue: x };
  }
  if ((x = get(v, 'doubleValue', 'double_value')) !== undefined) return { doubleValue: dbl(x, child(key, 'doubleValue')) };
  if ((x = get(v, 'arrayValue', 'array_value')) !== undefined) {
    const n0 = path.length;
    if (key) path.push(key);
    const arr = asObject(x, 'arrayValue');
    path.push('arrayValue');
    const list = asArray(arr.values, 'values');
    path.push('values');
    const values: AnyValue[] = [];
    for (let i = 0; i < list.length; i++) {
      path.push(i);
      values.push(anyValue(list[i], '', level + 1));
      path.pop();
    }
    path.length = n0;
    return { arrayValue: { values } };
  }
  if ((x = get(v, 'kvlistValue', 'kvlist_value')) !== undefined) {
    const n0 = path.length;
    if (key) path.push(key);
    const kvl = asObject(x, 'kvlistValue');
    path.push('kvlistValue');
    const values = keyValues(kvl.values, 'values', level + 1);
    path.length = n0;
    return { kvlistValue: { values } };
  }
  if ((x = get(v, 'bytesValue', 'bytes_value')) !== undefined) return { bytesValue: bytes(x, child(key, 'bytesValue')) };
  return {};
}

/** A list of `KeyValue` under `key`, whose values are AnyValues at nesting `level`. */
function keyValues(v: unknown, key: string, level: number): KeyValue[] {
  const list = asArray(v, key);
  const out: KeyValue[] = [];
  if (list.length === 0) return out;
  path.push(key);
  for (let i = 0; i < list.length; i++) {
    path.push(i);
    const kv = asObject(list[i], undefined);
    const value = kv.value;
    out.push({
      key: str(kv.key, 'key'),
      value: value === undefined || value === null ? {} : anyValue(value, 'value', level),
    });
    path.pop();
  }
  path.pop();
  return out;
}

/** A `Resource` under `key`; the empty resource when absent. */
function resource(v: unknown, key: string): Resource {
  if (v === undefined) return { attributes: [], droppedAttributesCount: 0 };
  const o = asObject(v, key);
  path.push(key);
  const res: Resource = {
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
  path.pop();
  return res;
}

/** An `InstrumentationScope` under `key`; the empty scope when absent. */
function scope(v: unknown, key: string): InstrumentationScope {
  if (v === undefined) return { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
  const o = asObject(v, key);
  path.push(key);
  const s: InstrumentationScope = {
    name: str(o.name, 'name'),
    version: str(o.version, 'version'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
  path.pop();
  return s;
}

/** Applies `fn` to each object of the array under `key` of `o` (camel or snake name). */
function eachObject<T>(o: Obj, camel: string, snake: string, fn: (x: Obj) => T): T[] {
  const list = asArray(get(o, camel, snake), camel);
  const out: T[] = [];
  if (list.length === 0) return out;
  path.push(camel);
  for (let i = 0; i < list.length; i++) {
    path.push(i);
    out.push(fn(asObject(list[i], undefined)));
    path.pop();
  }
  path.pop();
  return out;
}

/** Parses the document and checks that it is an object. */
function parseRoot(text: string): Obj {
  path.length = 0;
  let doc: unknown;
  try {
    doc = JSON.parse(typeof text === 'string' ? text : String(text));
  } catch (err) {
    throw new OtlpDecodeError(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return asObject(doc, undefined);
}

/** Runs a decoder; any failure other than an `OtlpDecodeError` is reported as one at the current path. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw err;
    throw new OtlpDecodeError(`${at()}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    path.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding: traces
// ---------------------------------------------------------------------------------------------

function spanEvent(o: Obj): SpanEvent {
  return {
    timeUnixNano: u64(get(o, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
    name: str(o.name, 'name'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
}

function spanLink(o: Obj): SpanLink {
  return {
    traceId: hexId(get(o, 'traceId', 'trace_id'), 'traceId', 16),
    spanId: hexId(get(o, 'spanId', 'span_id'), 'spanId', 8),
    traceState: str(get(o, 'traceState', 'trace_state'), 'traceState'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    flags: u32(o.flags, 'flags'),
  };
}

function status(v: unknown): { code: number; message: string } {
  if (v === undefined || v === null) return { code: 0, message: '' };
  const o = asObject(v, 'status');
  path.push('status');
  const s = { code: enumValue(o.code, 'code', STATUS_CODES), message: str(o.message, 'message') };
  path.pop();
  return s;
}

function span(o: Obj): Span {
  return {
    traceId: hexId(get(o, 'traceId', 'trace_id'), 'traceId', 16),
    spanId: hexId(get(o, 'spanId', 'span_id'), 'spanId', 8),
    traceState: str(get(o, 'traceState', 'trace_state'), 'traceState'),
    parentSpanId: hexId(get(o, 'parentSpanId', 'parent_span_id'), 'parentSpanId', 8),
    flags: u32(o.flags, 'flags'),
    name: str(o.name, 'name'),
    kind: enumValue(o.kind, 'kind', SPAN_KINDS),
    startTimeUnixNano: u64(get(o, 'startTimeUnixNano', 'start_time_unix_nano'), 'startTimeUnixNano'),
    endTimeUnixNano: u64(get(o, 'endTimeUnixNano', 'end_time_unix_nano'), 'endTimeUnixNano'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    events: eachObject(o, 'events', 'events', spanEvent),
    droppedEventsCount: u32(get(o, 'droppedEventsCount', 'dropped_events_count'), 'droppedEventsCount'),
    links: eachObject(o, 'links', 'links', spanLink),
    droppedLinksCount: u32(get(o, 'droppedLinksCount', 'dropped_links_count'), 'droppedLinksCount'),
    status: status(o.status),
  };
}

function scopeSpans(o: Obj): ScopeSpans {
  return {
    scope: scope(get(o, 'scope', 'scope'), 'scope'),
    spans: eachObject(o, 'spans', 'spans', span),
    schemaUrl: str(get(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

function resourceSpans(o: Obj): ResourceSpans {
  return {
    resource: resource(get(o, 'resource', 'resource'), 'resource'),
    scopeSpans: eachObject(o, 'scopeSpans', 'scope_spans', scopeSpans),
    schemaUrl: str(get(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/**
 * Decodes an OTLP/JSON `ExportTraceServiceRequest` into pdata `TracesData`, equal to what
 * `decodeTracesRequest` gives for the protobuf encoding of the same request. Ids are normalised to
 * lowercase hex; timestamps to canonical decimal strings; absent fields get pdata's defaults.
 *
 * @throws OtlpDecodeError for invalid JSON, or a value of the wrong type or form, naming its JSON
 *   path (ids must be 32/16 hex digits or empty; AnyValue nesting is limited to 32 levels).
 */
export function decodeTracesJson(text: string): TracesData {
  return guard(() => {
    const root = parseRoot(text);
    return { resourceSpans: eachObject(root, 'resourceSpans', 'resource_spans', resourceSpans) };
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding: logs
// ---------------------------------------------------------------------------------------------

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
    schemaUrl: str(get(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

function resourceLogs(o: Obj): ResourceLogs {
  return {
    resource: resource(get(o, 'resource', 'resource'), 'resource'),
    scopeLogs: eachObject(o, 'scopeLogs', 'scope_logs', scopeLogs),
    schemaUrl: str(get(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/**
 * Decodes an OTLP/JSON `ExportLogsServiceRequest` into pdata `LogsData` (conventions as in
 * `decodeTracesJson`; `eventName` is the record's own `eventName`, `""` when absent).
 *
 * @throws OtlpDecodeError for invalid JSON or a malformed value, naming its JSON path.
 */
export function decodeLogsJson(text: string): LogsData {
  return guard(() => {
    const root = parseRoot(text);
    return { resourceLogs: eachObject(root, 'resourceLogs', 'resource_logs', resourceLogs) };
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding: metrics, converted to protobuf by a schema walk
// ---------------------------------------------------------------------------------------------

/** How a metrics field is written (`opentelemetry/proto/metrics/v1/metrics.proto`). */
type Kind =
  | 'string'
  | 'bool'
  | 'uint32'
  | 'sint32'
  | 'enum'
  | 'fixed64'
  | 'sfixed64'
  | 'double'
  | 'traceId'
  | 'spanId'
  | 'attributes'
  | 'resource'
  | 'scope'
  | 'message'
  | 'packedFixed64'
  | 'packedUint64'
  | 'packedDouble';

interface FieldSpec {
  json: string;
  snake: string;
  no: number;
  kind: Kind;
  /** Written even when default-valued (oneof members, `optional` fields, message presence). */
  presence?: boolean;
  repeated?: boolean;
  message?: readonly FieldSpec[];
  enumNames?: Readonly<Record<string, number>>;
  /** The elements of this field are data points (counted). */
  points?: boolean;
}

function f(json: string, no: number, kind: Kind, extra: Partial<FieldSpec> = {}): FieldSpec {
  const snake = json.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return { json, snake, no, kind, ...extra };
}

const EXEMPLAR = [
  f('timeUnixNano', 2, 'fixed64'),
  f('asDouble', 3, 'double', { presence: true }),
  f('spanId', 4, 'spanId'),
  f('traceId', 5, 'traceId'),
  f('asInt', 6, 'sfixed64', { presence: true }),
  f('filteredAttributes', 7, 'attributes'),
];
const NUMBER_POINT = [
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('asDouble', 4, 'double', { presence: true }),
  f('exemplars', 5, 'message', { repeated: true, message: EXEMPLAR }),
  f('asInt', 6, 'sfixed64', { presence: true }),
  f('attributes', 7, 'attributes'),
  f('flags', 8, 'uint32'),
];
const HISTOGRAM_POINT = [
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('count', 4, 'fixed64'),
  f('sum', 5, 'double', { presence: true }),
  f('bucketCounts', 6, 'packedFixed64'),
  f('explicitBounds', 7, 'packedDouble'),
  f('exemplars', 8, 'message', { repeated: true, message: EXEMPLAR }),
  f('attributes', 9, 'attributes'),
  f('flags', 10, 'uint32'),
  f('min', 11, 'double', { presence: true }),
  f('max', 12, 'double', { presence: true }),
];
const BUCKETS = [f('offset', 1, 'sint32'), f('bucketCounts', 2, 'packedUint64')];
const EXP_HISTOGRAM_POINT = [
  f('attributes', 1, 'attributes'),
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('count', 4, 'fixed64'),
  f('sum', 5, 'double', { presence: true }),
  f('scale', 6, 'sint32'),
  f('zeroCount', 7, 'fixed64'),
  f('positive', 8, 'message', { message: BUCKETS, presence: true }),
  f('negative', 9, 'message', { message: BUCKETS, presence: true }),
  f('flags', 10, 'uint32'),
  f('exemplars', 11, 'message', { repeated: true, message: EXEMPLAR }),
  f('min', 12, 'double', { presence: true }),
  f('max', 13, 'double', { presence: true }),
  f('zeroThreshold', 14, 'double'),
];
const QUANTILE = [f('quantile', 1, 'double'), f('value', 2, 'double')];
const SUMMARY_POINT = [
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('count', 4, 'fixed64'),
  f('sum', 5, 'double'),
  f('quantileValues', 6, 'message', { repeated: true, message: QUANTILE }),
  f('attributes', 7, 'attributes'),
  f('flags', 8, 'uint32'),
];
const points = (message: readonly FieldSpec[]): FieldSpec =>
  f('dataPoints', 1, 'message', { repeated: true, message, points: true });
const temporality = f('aggregationTemporality', 2, 'enum', { enumNames: TEMPORALITIES });
const METRIC = [
  f('name', 1, 'string'),
  f('description', 2, 'string'),
  f('unit', 3, 'string'),
  f('gauge', 5, 'message', { presence: true, message: [points(NUMBER_POINT)] }),
  f('sum', 7, 'message', { presence: true, message: [points(NUMBER_POINT), temporality, f('isMonotonic', 3, 'bool')] }),
  f('histogram', 9, 'message', { presence: true, message: [points(HISTOGRAM_POINT), temporality] }),
  f('exponentialHistogram', 10, 'message', { presence: true, message: [points(EXP_HISTOGRAM_POINT), temporality] }),
  f('summary', 11, 'message', { presence: true, message: [points(SUMMARY_POINT)] }),
  f('metadata', 12, 'attributes'),
];
const SCOPE_METRICS = [
  f('scope', 1, 'scope'),
  f('metrics', 2, 'message', { repeated: true, message: METRIC }),
  f('schemaUrl', 3, 'string'),
];
const RESOURCE_METRICS = [
  f('resource', 1, 'resource'),
  f('scopeMetrics', 2, 'message', { repeated: true, message: SCOPE_METRICS }),
  f('schemaUrl', 3, 'string'),
];
const METRICS_REQUEST = [f('resourceMetrics', 1, 'message', { repeated: true, message: RESOURCE_METRICS })];

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;

/** Writes the JSON object `o` as the fields of a message of schema `spec`. */
function writeMessageJson(w: Writer, spec: readonly FieldSpec[], o: Obj): void {
  for (const fs of spec) {
    const v = get(o, fs.json, fs.snake);
    if (v === undefined) continue;
    const key = fs.json;
    const no = fs.no;
    switch (fs.kind) {
      case 'string': {
        const s = str(v, key);
        if (s || fs.presence) w.uint32(tag(no, LEN)).string(s);
        break;
      }
      case 'bool':
        if (typeof v !== 'boolean') fail(key, 'expected a boolean');
        if (v || fs.presence) w.uint32(tag(no, VARINT)).bool(v);
        break;
      case 'uint32': {
        const n = u32(v, key);
        if (n || fs.presence) w.uint32(tag(no, VARINT)).uint32(n);
        break;
      }
      case 'sint32': {
        const n = i32(v, key);
        if (n || fs.presence) w.uint32(tag(no, VARINT)).sint32(n);
        break;
      }
      case 'enum': {
        const n = enumValue(v, key, fs.enumNames ?? {});
        if (n || fs.presence) w.uint32(tag(no, VARINT)).int32(n);
        break;
      }
      case 'fixed64': {
        const s = u64(v, key);
        if (s !== '0' || fs.presence) {
          w.uint32(tag(no, I64));
          writeFixed64(w, s);
        }
        break;
      }
      case 'sfixed64': {
        const n = i64(v, key);
        if (n !== 0 || fs.presence) {
          w.uint32(tag(no, I64));
          writeSfixed64(w, n);
        }
        break;
      }
      case 'double': {
        const n = dbl(v, key);
        if (n !== 0 || Object.is(n, -0) || fs.presence) w.uint32(tag(no, I64)).double(n);
        break;
      }
      case 'traceId':
        writeId(w, no, hexId(v, key, 16), 16);
        break;
      case 'spanId':
        writeId(w, no, hexId(v, key, 8), 8);
        break;
      case 'attributes':
        writeKeyValues(w, no, keyValues(v, key, 1));
        break;
      case 'resource':
        writeResource(w, no, resource(v, key));
        break;
      case 'scope':
        writeScope(w, no, scope(v, key));
        break;
      case 'message':
        if (fs.repeated) {
          const list = asArray(v, key);
          path.push(key);
          for (let i = 0; i < list.length; i++) {
            path.push(i);
            const item = asObject(list[i], undefined);
            w.uint32(tag(no, LEN)).fork();
            writeMessageJson(w, fs.message!, item);
            w.ldelim();
            path.pop();
          }
          path.pop();
          if (fs.points) pointCount += list.length;
        } else {
          const item = asObject(v, key);
          path.push(key);
          w.uint32(tag(no, LEN)).fork();
          writeMessageJson(w, fs.message!, item);
          w.ldelim();
          path.pop();
        }
        break;
      case 'packedFixed64':
      case 'packedUint64':
      case 'packedDouble': {
        const list = asArray(v, key);
        if (list.length === 0) break;
        path.push(key);
        w.uint32(tag(no, LEN)).fork();
        for (let i = 0; i < list.length; i++) {
          path.push(i);
          if (fs.kind === 'packedDouble') w.double(dbl(list[i], ''));
          else if (fs.kind === 'packedFixed64') writeFixed64(w, u64(list[i], ''));
          else writeUint64(w, u64(list[i], ''));
          path.pop();
        }
        w.ldelim();
        path.pop();
        break;
      }
    }
  }
}

let pointCount = 0;

/**
 * Decodes an OTLP/JSON `ExportMetricsServiceRequest` and converts it to its protobuf encoding.
 *
 * Returns `{ body, dataPointCount }` like `decodeMetricsRequest`: `body` is the protobuf
 * `ExportMetricsServiceRequest` (fields at their proto3 default omitted; unknown JSON fields
 * dropped), `dataPointCount` the number of data points of every metric.
 *
 * @throws OtlpDecodeError for invalid JSON or a malformed value, naming its JSON path.
 */
export function decodeMetricsJson(text: string): MetricsData {
  return guard(() => {
    const root = parseRoot(text);
    pointCount = 0;
    const w = createWriter();
    writeMessageJson(w, METRICS_REQUEST, root);
    const body = w.finish();
    return { body, dataPointCount: pointCount };
  });
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

type JsonObj = { [key: string]: unknown };

function anyValueJson(value: AnyValue): JsonObj {
  const v = value as Partial<Record<string, unknown>> & JsonObj;
  if (v.stringValue !== undefined) return { stringValue: v.stringValue };
  if (v.intValue !== undefined) return { intValue: String(v.intValue) };
  if (v.boolValue !== undefined) return { boolValue: v.boolValue };
  if (v.doubleValue !== undefined) {
    const d = v.doubleValue as number;
    return { doubleValue: Number.isFinite(d) ? d : String(d) };
  }
  if (v.arrayValue !== undefined) {
    return { arrayValue: { values: (v.arrayValue as { values: AnyValue[] }).values.map(anyValueJson) } };
  }
  if (v.kvlistValue !== undefined) return { kvlistValue: { values: keyValuesJson((v.kvlistValue as { values: KeyValue[] }).values) } };
  if (v.bytesValue !== undefined) return { bytesValue: Buffer.from(v.bytesValue as Uint8Array).toString('base64') };
  return {};
}

function keyValuesJson(kvs: readonly KeyValue[]): JsonObj[] {
  const out: JsonObj[] = new Array(kvs.length);
  for (let i = 0; i < kvs.length; i++) out[i] = { key: kvs[i]!.key, value: anyValueJson(kvs[i]!.value) };
  return out;
}

/** Sets `o[key] = v` unless `v` is a proto3 default (`""`, `0`, `"0"`, `[]`). */
function put(o: JsonObj, key: string, v: unknown): void {
  if (v === '' || v === 0 || v === '0' || v === undefined) return;
  if (Array.isArray(v) && v.length === 0) return;
  o[key] = v;
}

function resourceJson(r: Resource): JsonObj {
  const o: JsonObj = {};
  put(o, 'attributes', keyValuesJson(r.attributes));
  put(o, 'droppedAttributesCount', r.droppedAttributesCount);
  return o;
}

function scopeJson(s: InstrumentationScope): JsonObj {
  const o: JsonObj = {};
  put(o, 'name', s.name);
  put(o, 'version', s.version);
  put(o, 'attributes', keyValuesJson(s.attributes));
  put(o, 'droppedAttributesCount', s.droppedAttributesCount);
  return o;
}

function spanJson(s: Span): JsonObj {
  const o: JsonObj = {};
  put(o, 'traceId', s.traceId);
  put(o, 'spanId', s.spanId);
  put(o, 'traceState', s.traceState);
  put(o, 'parentSpanId', s.parentSpanId);
  put(o, 'flags', s.flags);
  put(o, 'name', s.name);
  put(o, 'kind', s.kind);
  put(o, 'startTimeUnixNano', s.startTimeUnixNano);
  put(o, 'endTimeUnixNano', s.endTimeUnixNano);
  put(o, 'attributes', keyValuesJson(s.attributes));
  put(o, 'droppedAttributesCount', s.droppedAttributesCount);
  put(
    o,
    'events',
    s.events.map((e) => {
      const x: JsonObj = {};
      put(x, 'timeUnixNano', e.timeUnixNano);
      put(x, 'name', e.name);
      put(x, 'attributes', keyValuesJson(e.attributes));
      put(x, 'droppedAttributesCount', e.droppedAttributesCount);
      return x;
    }),
  );
  put(o, 'droppedEventsCount', s.droppedEventsCount);
  put(
    o,
    'links',
    s.links.map((l) => {
      const x: JsonObj = {};
      put(x, 'traceId', l.traceId);
      put(x, 'spanId', l.spanId);
      put(x, 'traceState', l.traceState);
      put(x, 'attributes', keyValuesJson(l.attributes));
      put(x, 'droppedAttributesCount', l.droppedAttributesCount);
      put(x, 'flags', l.flags);
      return x;
    }),
  );
  put(o, 'droppedLinksCount', s.droppedLinksCount);
  if (s.status.code || s.status.message) {
    const st: JsonObj = {};
    put(st, 'message', s.status.message);
    put(st, 'code', s.status.code);
    o.status = st;
  }
  return o;
}

/**
 * Encodes pdata `TracesData` as an OTLP/JSON `ExportTraceServiceRequest`: lowerCamelCase keys,
 * hex ids, integer enums, 64-bit integers (timestamps, `intValue`) as decimal strings, bytes as
 * base64, non-finite doubles as `"NaN"`/`"Infinity"`/`"-Infinity"`; proto3 defaults omitted.
 */
export function encodeTracesJson(data: TracesData): string {
  return JSON.stringify({
    resourceSpans: data.resourceSpans.map((rs) => {
      const o: JsonObj = { resource: resourceJson(rs.resource) };
      o.scopeSpans = rs.scopeSpans.map((ss) => {
        const x: JsonObj = { scope: scopeJson(ss.scope), spans: ss.spans.map(spanJson) };
        put(x, 'schemaUrl', ss.schemaUrl);
        return x;
      });
      put(o, 'schemaUrl', rs.schemaUrl);
      return o;
    }),
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
  return JSON.stringify({
    resourceLogs: data.resourceLogs.map((rl) => {
      const o: JsonObj = { resource: resourceJson(rl.resource) };
      o.scopeLogs = rl.scopeLogs.map((sl) => {
        const x: JsonObj = { scope: scopeJson(sl.scope), logRecords: sl.logRecords.map(logRecordJson) };
        put(x, 'schemaUrl', sl.schemaUrl);
        return x;
      });
      put(o, 'schemaUrl', rl.schemaUrl);
      return o;
    }),
  });
}

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
