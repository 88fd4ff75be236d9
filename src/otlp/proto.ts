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
import protobuf from 'protobufjs/minimal.js';
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

type Reader = protobuf.Reader;
type Writer = protobuf.Writer;

/** The deepest `AnyValue` nesting accepted (an attribute's own value is level 1). */
export const MAX_ANY_VALUE_DEPTH = 32;

// Wire types (protobuf encoding guide, "Message Structure").
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const WIRE_NAMES = ['VARINT', 'I64', 'LEN', 'SGROUP', 'EGROUP', 'I32', '6', '7'];

// ---------------------------------------------------------------------------------------------
// Hex ids and 64-bit decimal strings
// ---------------------------------------------------------------------------------------------

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));

/** Lowercase hex of `n` bytes of `buf` from `start` (byte → hex table, no intermediate buffer). */
function hexOf(buf: Uint8Array, start: number, n: number): string {
  let s = '';
  for (let i = start, end = start + n; i < end; i++) s += HEX[buf[i]!]!;
  return s;
}

/** Nibble value of each ASCII code, or -1 (hex digits, either case). */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) NIBBLE[65 + i] = NIBBLE[97 + i] = 10 + i;

/**
 * Parses a hex id of `n` bytes (`2n` hex digits, either case) into `out`; returns false when `hex`
 * is not exactly that.
 */
function parseHexId(hex: string, n: number, out: Uint8Array): boolean {
  if (hex.length !== 2 * n) return false;
  for (let i = 0; i < n; i++) {
    const c1 = hex.charCodeAt(2 * i);
    const c2 = hex.charCodeAt(2 * i + 1);
    const hi = c1 < 128 ? NIBBLE[c1]! : -1;
    const lo = c2 < 128 ? NIBBLE[c2]! : -1;
    if (hi < 0 || lo < 0) return false;
    out[i] = (hi << 4) | lo;
  }
  return true;
}

const TWO32 = 4294967296;

function pad7(x: number): string {
  const s = String(x);
  return '0000000'.slice(s.length) + s;
}

/**
 * The decimal string of the unsigned 64-bit integer `hi·2^32 + lo` (`lo`, `hi` unsigned 32-bit),
 * computed in three base-10^7 limbs so that no intermediate exceeds 2^53 (no BigInt).
 */
export function uint64ToDecimal(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * TWO32 + lo);
  // Split into 24-bit parts: value = low + mid·2^24 + high·2^48, with
  // 2^24 = 1·10^7 + 6777216 and 2^48 = 2·10^14 + 8147497·10^7 + 6710656.
  const low = lo & 0xffffff;
  const mid = ((lo >>> 24) | (hi << 8)) & 0xffffff;
  const high = hi >>> 16;
  let a = low + mid * 6777216 + high * 6710656;
  let b = mid + high * 8147497;
  let c = high * 2;
  if (a >= 1e7) {
    const q = Math.floor(a / 1e7);
    b += q;
    a -= q * 1e7;
  }
  if (b >= 1e7) {
    const q = Math.floor(b / 1e7);
    c += q;
    b -= q * 1e7;
  }
  // high >= 32 here, so c > 0 and has no leading zeros.
  return String(c) + pad7(b) + pad7(a);
}

/** Scratch results of `decimalToUint64` and of the 64-bit varint reader. */
let r64lo = 0;
let r64hi = 0;

/**
 * Parses an unsigned decimal string of at most 2^64-1 into `r64lo`/`r64hi`; false when `s` is not
 * one (empty, non-digits, too large).
 */
function decimalToUint64(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  if (n <= 15) {
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return false;
    }
    const v = Number(s);
    r64hi = Math.floor(v / TWO32);
    r64lo = v - r64hi * TWO32;
    return true;
  }
  let lo = 0;
  let hi = 0;
  // Six digits at a time keeps lo·10^6 + chunk below 2^53.
  let i = 0;
  let step = n % 6 || 6;
  while (i < n) {
    let chunk = 0;
    let mul = 1;
    for (let j = 0; j < step; j++) {
      const c = s.charCodeAt(i + j) - 48;
      if (c < 0 || c > 9) return false;
      chunk = chunk * 10 + c;
      mul *= 10;
    }
    i += step;
    step = 6;
    const l = lo * mul + chunk;
    const carry = Math.floor(l / TWO32);
    lo = l - carry * TWO32;
    const h = hi * mul + carry;
    if (h >= TWO32) return false;
    hi = h;
  }
  r64lo = lo;
  r64hi = hi;
  return true;
}

/**
 * An `int64` (two's complement `lo`, `hi`) as pdata's `intValue`: a number when it is a safe
 * integer, else its signed decimal string.
 */
function int64Value(lo: number, hi: number): number | string {
  if (hi & 0x80000000) {
    let nlo = (~lo + 1) >>> 0;
    let nhi = ~hi >>> 0;
    if (nlo === 0) nhi = (nhi + 1) >>> 0;
    if (nhi < 0x200000) return -(nhi * TWO32 + nlo);
    return '-' + uint64ToDecimal(nlo, nhi);
  }
  if (hi < 0x200000) return hi * TWO32 + lo;
  return uint64ToDecimal(lo, hi);
}

// ---------------------------------------------------------------------------------------------
// Decoding: the path of the message being decoded, for error messages
// ---------------------------------------------------------------------------------------------

/** Proto field names by number, per message, for error messages. */
type FieldNames = readonly (string | undefined)[];
function names(m: Record<number, string>): FieldNames {
  const a: (string | undefined)[] = [];
  for (const k of Object.keys(m)) a[Number(k)] = m[Number(k)];
  return a;
}
const F_TRACES_REQ = names({ 1: 'resource_spans' });
const F_LOGS_REQ = names({ 1: 'resource_logs' });
const F_METRICS_REQ = names({ 1: 'resource_metrics' });
const F_RESOURCE = names({ 1: 'attributes', 2: 'dropped_attributes_count' });
const F_SCOPE = names({ 1: 'name', 2: 'version', 3: 'attributes', 4: 'dropped_attributes_count' });
const F_RESOURCE_SPANS = names({ 1: 'resource', 2: 'scope_spans', 3: 'schema_url' });
const F_SCOPE_SPANS = names({ 1: 'scope', 2: 'spans', 3: 'schema_url' });
const F_SPAN = names({
  1: 'trace_id', 2: 'span_id', 3: 'trace_state', 4: 'parent_span_id', 5: 'name', 6: 'kind',
  7: 'start_time_unix_nano', 8: 'end_time_unix_nano', 9: 'attributes', 10: 'dropped_attributes_count',
  11: 'events', 12: 'dropped_events_count', 13: 'links', 14: 'dropped_links_count', 15: 'status', 16: 'flags',
});
const F_EVENT = names({ 1: 'time_unix_nano', 2: 'name', 3: 'attributes', 4: 'dropped_attributes_count' });
const F_LINK = names({
  1: 'trace_id', 2: 'span_id', 3: 'trace_state', 4: 'attributes', 5: 'dropped_attributes_count', 6: 'flags',
});
const F_STATUS = names({ 2: 'message', 3: 'code' });
const F_RESOURCE_LOGS = names({ 1: 'resource', 2: 'scope_logs', 3: 'schema_url' });
const F_SCOPE_LOGS = names({ 1: 'scope', 2: 'log_records', 3: 'schema_url' });
const F_LOG = names({
  1: 'time_unix_nano', 2: 'severity_number', 3: 'severity_text', 5: 'body', 6: 'attributes',
  7: 'dropped_attributes_count', 8: 'flags', 9: 'trace_id', 10: 'span_id', 11: 'observed_time_unix_nano',
  12: 'event_name',
});
const F_KEY_VALUE = names({ 1: 'key', 2: 'value' });
const F_ANY_VALUE = names({
  1: 'string_value', 2: 'bool_value', 3: 'int_value', 4: 'double_value', 5: 'array_value', 6: 'kvlist_value',
  7: 'bytes_value',
});
const F_VALUES = names({ 1: 'values' });
const F_RESOURCE_METRICS = names({ 1: 'resource', 2: 'scope_metrics', 3: 'schema_url' });
const F_SCOPE_METRICS = names({ 1: 'scope', 2: 'metrics', 3: 'schema_url' });
const F_METRIC = names({
  1: 'name', 2: 'description', 3: 'unit', 5: 'gauge', 7: 'sum', 9: 'histogram', 10: 'exponential_histogram',
  11: 'summary', 12: 'metadata',
});
const F_POINTS = names({ 1: 'data_points', 2: 'aggregation_temporality', 3: 'is_monotonic' });
const F_DATA_POINT: FieldNames = [];

// The frames of the current decode: frame 0 is the request, frame i > 0 a nested message reached
// through field `frameName[i]` (element `frameIndex[i]` when repeated, else -1).
const frameName: string[] = [''];
const frameIndex: number[] = [-1];
const frameFields: FieldNames[] = [F_TRACES_REQ];
let depth = 1;
/** Number of the field being read in the innermost message; 0 between fields. */
let fieldNo = 0;

function startDecode(root: FieldNames): void {
  frameFields[0] = root;
  depth = 1;
  fieldNo = 0;
}

/** The proto path of the current position, e.g. `resource_spans[0].scope_spans[1].spans[3].trace_id`. */
function where(): string {
  let s = '';
  for (let i = 1; i < depth; i++) {
    if (i > 1) s += '.';
    s += frameName[i];
    if (frameIndex[i]! >= 0) s += `[${frameIndex[i]}]`;
  }
  if (fieldNo !== 0) {
    const f = frameFields[depth - 1]![fieldNo] ?? `field ${fieldNo}`;
    s += s ? `.${f}` : f;
  }
  return s || 'request';
}

function fail(message: string): never {
  throw new OtlpDecodeError(`${where()}: ${message}`);
}

function wrongWireType(wt: number, expected: number): never {
  fail(`wrong wire type ${WIRE_NAMES[wt]} (expected ${WIRE_NAMES[expected]})`);
}

/** Any failure inside a decode, as an `OtlpDecodeError` naming the current path. */
function toDecodeError(err: unknown): OtlpDecodeError {
  if (err instanceof OtlpDecodeError) return err;
  let detail: string;
  if (err instanceof RangeError && /^index out of range/.test(err.message)) {
    detail = `truncated, or a length past the end of its message (${err.message})`;
  } else if (err instanceof RangeError) {
    detail = `too deeply nested (${err.message})`;
  } else {
    detail = err instanceof Error ? err.message : String(err);
  }
  return new OtlpDecodeError(`${where()}: ${detail}`);
}

/**
 * Reads the length prefix of an embedded message and narrows the reader to it. Returns the
 * enclosing limit, which the caller restores with `leave()`; pushes a path frame.
 */
function enter(r: Reader, wt: number, name: string, index: number, fields: FieldNames): number {
  if (wt !== LEN) wrongWireType(wt, LEN);
  const len = r.size();
  const end = r.pos + len;
  if (end > r.len) fail(`length ${len} runs past the end of the enclosing message (${r.len - r.pos} bytes left)`);
  const saved = r.len;
  r.len = end;
  frameName[depth] = name;
  frameIndex[depth] = index;
  frameFields[depth] = fields;
  depth++;
  fieldNo = 0;
  return saved;
}

function leave(r: Reader, saved: number): void {
  r.len = saved;
  depth--;
  fieldNo = 0;
}

/** Reads a field tag; sets `fieldNo`; returns the wire type. */
function readTag(r: Reader): number {
  fieldNo = 0;
  const tag = r.tag();
  fieldNo = tag >>> 3;
  if (fieldNo === 0) fail('invalid tag (field number 0)');
  return tag & 7;
}

function skip(r: Reader, wt: number): void {
  r.skipType(wt, 0, fieldNo);
}

/** Node's `Buffer` slicing decoders (the reader's buffer is always a `Buffer`). */
interface NodeBufferSlices {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

// Short ASCII strings (attribute keys, names, enum-like values) repeat across a request and
// across requests: they are looked up in a small cache by hash, so a repeat costs a comparison
// instead of an allocation.
const STRING_CACHE_SIZE = 4096;
const STRING_CACHE_MAX_LEN = 32;
const stringCache: string[] = new Array<string>(STRING_CACHE_SIZE).fill('');

/** A `string` field (UTF-8; invalid sequences decode to U+FFFD). */
function readString(r: Reader, wt: number): string {
  if (wt !== LEN) wrongWireType(wt, LEN);
  const len = r.size();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) fail(`length ${len} runs past the end of the enclosing message (${r.len - start} bytes left)`);
  r.pos = end;
  const b = r.buf;
  if (len > STRING_CACHE_MAX_LEN) return (b as unknown as NodeBufferSlices).utf8Slice(start, end);
  let h = len;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 128) return (b as unknown as NodeBufferSlices).utf8Slice(start, end);
    h = (Math.imul(h, 31) + c) | 0;
  }
  const slot = h & (STRING_CACHE_SIZE - 1);
  const hit = stringCache[slot]!;
  if (hit.length === len) {
    let k = 0;
    while (k < len && hit.charCodeAt(k) === b[start + k]) k++;
    if (k === len) return hit;
  }
  const s = (b as unknown as NodeBufferSlices).latin1Slice(start, end);
  stringCache[slot] = s;
  return s;
}

function readUint32(r: Reader, wt: number): number {
  if (wt !== VARINT) wrongWireType(wt, VARINT);
  return r.uint32();
}

function readEnum(r: Reader, wt: number): number {
  if (wt !== VARINT) wrongWireType(wt, VARINT);
  return r.int32();
}

function readFixed32(r: Reader, wt: number): number {
  if (wt !== I32) wrongWireType(wt, I32);
  return r.fixed32();
}

/** A `fixed64` nanosecond timestamp as its decimal string. */
function readTimestamp(r: Reader, wt: number): string {
  if (wt !== I64) wrongWireType(wt, I64);
  const pos = r.pos;
  if (pos + 8 > r.len) fail(`truncated: 8 bytes needed, ${r.len - pos} left`);
  const b = r.buf;
  const lo = (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16) | (b[pos + 3]! << 24)) >>> 0;
  const hi = (b[pos + 4]! | (b[pos + 5]! << 8) | (b[pos + 6]! << 16) | (b[pos + 7]! << 24)) >>> 0;
  r.pos = pos + 8;
  if (hi === 0 && lo === 0) return '0';
  return uint64ToDecimal(lo, hi);
}

/** A trace id (`n` = 16) or span id (`n` = 8) as lowercase hex; `""` when empty. */
function readId(r: Reader, wt: number, n: number): string {
  if (wt !== LEN) wrongWireType(wt, LEN);
  const len = r.size();
  const start = r.pos;
  if (start + len > r.len) fail(`length ${len} runs past the end of the enclosing message (${r.len - start} bytes left)`);
  if (len !== n) {
    if (len === 0) return '';
    fail(`expected ${n} bytes, got ${len}`);
  }
  r.pos = start + n;
  return hexOf(r.buf, start, n);
}

/** A varint `int64` into `r64lo`/`r64hi`. */
function readVarint64(r: Reader): void {
  const b = r.buf;
  const end = r.len;
  let pos = r.pos;
  let lo = 0;
  let hi = 0;
  let x = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) fail('truncated varint');
    x = b[pos++]!;
    lo |= (x & 127) << shift;
    if (x < 128) {
      r.pos = pos;
      r64lo = lo >>> 0;
      r64hi = 0;
      return;
    }
  }
  if (pos >= end) fail('truncated varint');
  x = b[pos++]!;
  lo |= (x & 127) << 28;
  hi = (x & 127) >>> 4;
  if (x >= 128) {
    for (let shift = 3; ; shift += 7) {
      if (shift > 31) fail('invalid varint (more than 10 bytes)');
      if (pos >= end) fail('truncated varint');
      x = b[pos++]!;
      hi |= (x & 127) << shift;
      if (x < 128) break;
    }
  }
  r.pos = pos;
  r64lo = lo >>> 0;
  r64hi = hi >>> 0;
}

function readBytesCopy(r: Reader, wt: number): Uint8Array {
  if (wt !== LEN) wrongWireType(wt, LEN);
  const len = r.size();
  const start = r.pos;
  if (start + len > r.len) fail(`length ${len} runs past the end of the enclosing message (${r.len - start} bytes left)`);
  r.pos = start + len;
  const out = new Uint8Array(len);
  out.set(new Uint8Array(r.buf.buffer, r.buf.byteOffset + start, len));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding: common messages
// ---------------------------------------------------------------------------------------------

function readAnyValue(r: Reader, level: number): AnyValue {
  if (level > MAX_ANY_VALUE_DEPTH) fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  let v: AnyValue | undefined;
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        v = { stringValue: readString(r, wt) };
        break;
      case 2:
        if (wt !== VARINT) wrongWireType(wt, VARINT);
        v = { boolValue: r.bool() };
        break;
      case 3:
        if (wt !== VARINT) wrongWireType(wt, VARINT);
        readVarint64(r);
        v = { intValue: int64Value(r64lo, r64hi) };
        break;
      case 4:
        if (wt !== I64) wrongWireType(wt, I64);
        v = { doubleValue: r.double() };
        break;
      case 5: {
        const saved = enter(r, wt, 'array_value', -1, F_VALUES);
        v = { arrayValue: { values: readArrayValues(r, level) } };
        leave(r, saved);
        break;
      }
      case 6: {
        const saved = enter(r, wt, 'kvlist_value', -1, F_VALUES);
        v = { kvlistValue: { values: readKvListValues(r, level) } };
        leave(r, saved);
        break;
      }
      case 7:
        v = { bytesValue: readBytesCopy(r, wt) };
        break;
      default:
        skip(r, wt);
    }
  }
  return v ?? {};
}

/** `ArrayValue.values` of an AnyValue at nesting `level`. */
function readArrayValues(r: Reader, level: number): AnyValue[] {
  const values: AnyValue[] = [];
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) {
      const saved = enter(r, wt, 'values', values.length, F_ANY_VALUE);
      values.push(readAnyValue(r, level + 1));
      leave(r, saved);
    } else skip(r, wt);
  }
  return values;
}

/** `KeyValueList.values` of an AnyValue at nesting `level`. */
function readKvListValues(r: Reader, level: number): KeyValue[] {
  const values: KeyValue[] = [];
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) {
      const saved = enter(r, wt, 'values', values.length, F_KEY_VALUE);
      values.push(readKeyValue(r, level + 1));
      leave(r, saved);
    } else skip(r, wt);
  }
  return values;
}

/** `KeyValue` whose value is an AnyValue at nesting `level`. */
function readKeyValue(r: Reader, level: number): KeyValue {
  const kv: KeyValue = { key: '', value: {} };
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) kv.key = readString(r, wt);
    else if (fieldNo === 2) {
      const saved = enter(r, wt, 'value', -1, F_ANY_VALUE);
      kv.value = readAnyValue(r, level);
      leave(r, saved);
    } else skip(r, wt);
  }
  return kv;
}

/** Appends one `KeyValue` (field `name`, wire type `wt`) to `attrs`. */
function readAttribute(r: Reader, wt: number, name: string, attrs: KeyValue[]): void {
  const saved = enter(r, wt, name, attrs.length, F_KEY_VALUE);
  attrs.push(readKeyValue(r, 1));
  leave(r, saved);
}

function readResource(r: Reader, res: Resource): void {
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) readAttribute(r, wt, 'attributes', res.attributes);
    else if (fieldNo === 2) res.droppedAttributesCount = readUint32(r, wt);
    else skip(r, wt);
  }
}

function readScope(r: Reader, scope: InstrumentationScope): void {
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        scope.name = readString(r, wt);
        break;
      case 2:
        scope.version = readString(r, wt);
        break;
      case 3:
        readAttribute(r, wt, 'attributes', scope.attributes);
        break;
      case 4:
        scope.droppedAttributesCount = readUint32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding: traces
// ---------------------------------------------------------------------------------------------

function readEvent(r: Reader): SpanEvent {
  const ev: SpanEvent = { timeUnixNano: '0', name: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        ev.timeUnixNano = readTimestamp(r, wt);
        break;
      case 2:
        ev.name = readString(r, wt);
        break;
      case 3:
        readAttribute(r, wt, 'attributes', ev.attributes);
        break;
      case 4:
        ev.droppedAttributesCount = readUint32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return ev;
}

function readLink(r: Reader): SpanLink {
  const link: SpanLink = { traceId: '', spanId: '', traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        link.traceId = readId(r, wt, 16);
        break;
      case 2:
        link.spanId = readId(r, wt, 8);
        break;
      case 3:
        link.traceState = readString(r, wt);
        break;
      case 4:
        readAttribute(r, wt, 'attributes', link.attributes);
        break;
      case 5:
        link.droppedAttributesCount = readUint32(r, wt);
        break;
      case 6:
        link.flags = readFixed32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return link;
}

function readStatus(r: Reader, status: { code: number; message: string }): void {
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 2) status.message = readString(r, wt);
    else if (fieldNo === 3) status.code = readEnum(r, wt);
    else skip(r, wt);
  }
}

function readSpan(r: Reader): Span {
  const span: Span = {
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
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        span.traceId = readId(r, wt, 16);
        break;
      case 2:
        span.spanId = readId(r, wt, 8);
        break;
      case 3:
        span.traceState = readString(r, wt);
        break;
      case 4:
        span.parentSpanId = readId(r, wt, 8);
        break;
      case 5:
        span.name = readString(r, wt);
        break;
      case 6:
        span.kind = readEnum(r, wt);
        break;
      case 7:
        span.startTimeUnixNano = readTimestamp(r, wt);
        break;
      case 8:
        span.endTimeUnixNano = readTimestamp(r, wt);
        break;
      case 9:
        readAttribute(r, wt, 'attributes', span.attributes);
        break;
      case 10:
        span.droppedAttributesCount = readUint32(r, wt);
        break;
      case 11: {
        const saved = enter(r, wt, 'events', span.events.length, F_EVENT);
        span.events.push(readEvent(r));
        leave(r, saved);
        break;
      }
      case 12:
        span.droppedEventsCount = readUint32(r, wt);
        break;
      case 13: {
        const saved = enter(r, wt, 'links', span.links.length, F_LINK);
        span.links.push(readLink(r));
        leave(r, saved);
        break;
      }
      case 14:
        span.droppedLinksCount = readUint32(r, wt);
        break;
      case 15: {
        const saved = enter(r, wt, 'status', -1, F_STATUS);
        readStatus(r, span.status);
        leave(r, saved);
        break;
      }
      case 16:
        span.flags = readFixed32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return span;
}

function readScopeSpans(r: Reader): ScopeSpans {
  const ss: ScopeSpans = {
    scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
    spans: [],
    schemaUrl: '',
  };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1: {
        const saved = enter(r, wt, 'scope', -1, F_SCOPE);
        readScope(r, ss.scope);
        leave(r, saved);
        break;
      }
      case 2: {
        const saved = enter(r, wt, 'spans', ss.spans.length, F_SPAN);
        ss.spans.push(readSpan(r));
        leave(r, saved);
        break;
      }
      case 3:
        ss.schemaUrl = readString(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return ss;
}

function readResourceSpans(r: Reader): ResourceSpans {
  const rs: ResourceSpans = { resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [], schemaUrl: '' };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1: {
        const saved = enter(r, wt, 'resource', -1, F_RESOURCE);
        readResource(r, rs.resource);
        leave(r, saved);
        break;
      }
      case 2: {
        const saved = enter(r, wt, 'scope_spans', rs.scopeSpans.length, F_SCOPE_SPANS);
        rs.scopeSpans.push(readScopeSpans(r));
        leave(r, saved);
        break;
      }
      case 3:
        rs.schemaUrl = readString(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return rs;
}

/** A reader over `buf` (a Node `Buffer` view, so strings decode natively; no copy). */
function readerOf(buf: Uint8Array): Reader {
  if (!(buf instanceof Uint8Array)) throw new OtlpDecodeError('request: body is not a byte array');
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return protobuf.Reader.create(b);
}

/**
 * Decodes an `ExportTraceServiceRequest` (`opentelemetry.proto.collector.trace.v1`).
 *
 * Returns pdata `TracesData`: ids as lowercase hex (`""` when absent), timestamps as decimal strings
 * of Unix nanoseconds (`"0"` when absent), absent messages as their empty defaults. Unknown fields
 * are skipped; a repeated singular message is merged, as protobuf does.
 *
 * @throws OtlpDecodeError naming the proto path, for any malformed input: truncation, a length
 *   past its message, a wrong wire type for a known field, a trace id that is not 16 bytes or a
 *   span id that is not 8 (when non-empty), AnyValue nesting deeper than 32 levels.
 */
export function decodeTracesRequest(buf: Uint8Array): TracesData {
  const r = readerOf(buf);
  startDecode(F_TRACES_REQ);
  const data: TracesData = { resourceSpans: [] };
  try {
    while (r.pos < r.len) {
      const wt = readTag(r);
      if (fieldNo === 1) {
        const saved = enter(r, wt, 'resource_spans', data.resourceSpans.length, F_RESOURCE_SPANS);
        data.resourceSpans.push(readResourceSpans(r));
        leave(r, saved);
      } else skip(r, wt);
    }
  } catch (err) {
    throw toDecodeError(err);
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Decoding: logs
// ---------------------------------------------------------------------------------------------

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
  const sl: ScopeLogs = {
    scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
    logRecords: [],
    schemaUrl: '',
  };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1: {
        const saved = enter(r, wt, 'scope', -1, F_SCOPE);
        readScope(r, sl.scope);
        leave(r, saved);
        break;
      }
      case 2: {
        const saved = enter(r, wt, 'log_records', sl.logRecords.length, F_LOG);
        sl.logRecords.push(readLogRecord(r));
        leave(r, saved);
        break;
      }
      case 3:
        sl.schemaUrl = readString(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return sl;
}

function readResourceLogs(r: Reader): ResourceLogs {
  const rl: ResourceLogs = { resource: { attributes: [], droppedAttributesCount: 0 }, scopeLogs: [], schemaUrl: '' };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1: {
        const saved = enter(r, wt, 'resource', -1, F_RESOURCE);
        readResource(r, rl.resource);
        leave(r, saved);
        break;
      }
      case 2: {
        const saved = enter(r, wt, 'scope_logs', rl.scopeLogs.length, F_SCOPE_LOGS);
        rl.scopeLogs.push(readScopeLogs(r));
        leave(r, saved);
        break;
      }
      case 3:
        rl.schemaUrl = readString(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
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
  const r = readerOf(buf);
  startDecode(F_LOGS_REQ);
  const data: LogsData = { resourceLogs: [] };
  try {
    while (r.pos < r.len) {
      const wt = readTag(r);
      if (fieldNo === 1) {
        const saved = enter(r, wt, 'resource_logs', data.resourceLogs.length, F_RESOURCE_LOGS);
        data.resourceLogs.push(readResourceLogs(r));
        leave(r, saved);
      } else skip(r, wt);
    }
  } catch (err) {
    throw toDecodeError(err);
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Decoding: metrics (validated and counted, kept opaque)
// ---------------------------------------------------------------------------------------------

/** Skips every field of the current message, checking its framing. */
function skipMessage(r: Reader): void {
  while (r.pos < r.len) skip(r, readTag(r));
}

/** Walks one `Gauge`/`Sum`/`Histogram`/`ExponentialHistogram`/`Summary`; returns its data points. */
function countPoints(r: Reader): number {
  let n = 0;
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) {
      const saved = enter(r, wt, 'data_points', n, F_DATA_POINT);
      skipMessage(r);
      leave(r, saved);
      n++;
    } else skip(r, wt);
  }
  return n;
}

const METRIC_KINDS: Record<number, string> = {
  5: 'gauge',
  7: 'sum',
  9: 'histogram',
  10: 'exponential_histogram',
  11: 'summary',
};

function countMetric(r: Reader): number {
  let n = 0;
  while (r.pos < r.len) {
    const wt = readTag(r);
    const kind = METRIC_KINDS[fieldNo];
    if (kind !== undefined) {
      const saved = enter(r, wt, kind, -1, F_POINTS);
      n += countPoints(r);
      leave(r, saved);
    } else skip(r, wt);
  }
  return n;
}

function countScopeMetrics(r: Reader): number {
  let n = 0;
  let i = 0;
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 2) {
      const saved = enter(r, wt, 'metrics', i++, F_METRIC);
      n += countMetric(r);
      leave(r, saved);
    } else if (fieldNo === 1) {
      const saved = enter(r, wt, 'scope', -1, F_SCOPE);
      skipMessage(r);
      leave(r, saved);
    } else skip(r, wt);
  }
  return n;
}

function countResourceMetrics(r: Reader): number {
  let n = 0;
  let i = 0;
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 2) {
      const saved = enter(r, wt, 'scope_metrics', i++, F_SCOPE_METRICS);
      n += countScopeMetrics(r);
      leave(r, saved);
    } else if (fieldNo === 1) {
      const saved = enter(r, wt, 'resource', -1, F_RESOURCE);
      skipMessage(r);
      leave(r, saved);
    } else skip(r, wt);
  }
  return n;
}

/**
 * Validates an `ExportMetricsServiceRequest` (`opentelemetry.proto.collector.metrics.v1`) and
 * counts its data points (`ResourceMetrics.scope_metrics` → `ScopeMetrics.metrics` → the
 * `gauge`/`sum`/`histogram`/`exponential_histogram`/`summary` of each `Metric` → `data_points`).
 *
 * Returns `{ body: buf, dataPointCount }`; `body` is the input itself, not a copy. The framing of
 * every message down to the data points' own fields is checked; field contents are not.
 *
 * @throws OtlpDecodeError naming the proto path, for malformed framing.
 */
export function decodeMetricsRequest(buf: Uint8Array): MetricsData {
  const r = readerOf(buf);
  startDecode(F_METRICS_REQ);
  let n = 0;
  try {
    let i = 0;
    while (r.pos < r.len) {
      const wt = readTag(r);
      if (fieldNo === 1) {
        const saved = enter(r, wt, 'resource_metrics', i++, F_RESOURCE_METRICS);
        n += countResourceMetrics(r);
        leave(r, saved);
      } else skip(r, wt);
    }
  } catch (err) {
    throw toDecodeError(err);
  }
  return { body: buf, dataPointCount: n };
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** The tag of field `no` with wire type `wt` (0 varint, 1 i64, 2 len, 5 i32), to write as a varint. */
export const tag = (no: number, wt: number): number => (no << 3) | wt;

const idScratch16 = new Uint8Array(16);
const idScratch8 = new Uint8Array(8);
const varintScratch = new Uint8Array(10);

/**
 * Writes a hex id as `bytes` field `no`; omitted when `""`.
 * @throws TypeError when `hex` is not `2n` hex digits.
 */
export function writeId(w: Writer, no: number, hex: string, n: 16 | 8): void {
  if (hex === '') return;
  const out = n === 16 ? idScratch16 : idScratch8;
  if (!parseHexId(hex, n, out)) throw new TypeError(`invalid ${n === 16 ? 'trace' : 'span'} id ${JSON.stringify(hex)}: expected ${2 * n} hex digits`);
  w.uint32(tag(no, LEN)).bytes(out);
}

/**
 * Writes a decimal-string nanosecond timestamp as `fixed64` field `no`; omitted when `"0"`.
 * @throws TypeError when `s` is not an unsigned decimal integer below 2^64.
 */
function writeTimestamp(w: Writer, no: number, s: string | number): void {
  if (s === '0' || s === 0 || s === '') return;
  if (!decimalToUint64(String(s))) throw new TypeError(`invalid timestamp ${JSON.stringify(s)}: expected decimal nanoseconds below 2^64`);
  if (r64lo === 0 && r64hi === 0) return;
  w.uint32(tag(no, I64)).fixed32(r64lo).fixed32(r64hi);
}

function writeString(w: Writer, no: number, s: string): void {
  if (s) w.uint32(tag(no, LEN)).string(s);
}

function writeUint32(w: Writer, no: number, v: number): void {
  if (v) w.uint32(tag(no, VARINT)).uint32(v);
}

function writeEnum(w: Writer, no: number, v: number): void {
  if (v) w.uint32(tag(no, VARINT)).int32(v);
}

function writeFixed32(w: Writer, no: number, v: number): void {
  if (v) w.uint32(tag(no, I32)).fixed32(v);
}

/**
 * Parses a signed 64-bit integer (a number, or a decimal string with optional sign) into
 * `r64lo`/`r64hi` as two's complement.
 * @throws TypeError when it is not an integer in the int64 range.
 */
function int64Bits(v: number | string): void {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`invalid int64 ${v}`);
    if (Number.isSafeInteger(v)) {
      const neg = v < 0;
      const m = neg ? -v : v;
      let hi = Math.floor(m / TWO32);
      let lo = m - hi * TWO32;
      if (neg) {
        lo = (~lo + 1) >>> 0;
        hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
      }
      r64lo = lo;
      r64hi = hi;
      return;
    }
    v = v.toFixed(0);
  }
  const neg = v.charCodeAt(0) === 45;
  const digits = neg || v.charCodeAt(0) === 43 ? v.slice(1) : v;
  if (!decimalToUint64(digits)) throw new TypeError(`invalid int64 ${JSON.stringify(v)}`);
  let lo = r64lo;
  let hi = r64hi;
  if (neg ? hi > 0x80000000 || (hi === 0x80000000 && lo !== 0) : hi >= 0x80000000) {
    throw new TypeError(`int64 out of range: ${v}`);
  }
  if (neg && (lo !== 0 || hi !== 0)) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  r64lo = lo;
  r64hi = hi;
}

/** Writes `r64lo`/`r64hi` as a varint (no tag). */
function writeVarintBits(w: Writer): void {
  let lo = r64lo;
  let hi = r64hi;
  let n = 0;
  while (hi !== 0 || lo > 127) {
    varintScratch[n++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  varintScratch[n++] = lo;
  w.raw(varintScratch.subarray(0, n));
}

/**
 * Writes a signed 64-bit integer (a number, or a decimal string) as a varint, no tag (`int64`).
 * @throws TypeError when it is not an integer in the int64 range.
 */
function writeInt64(w: Writer, v: number | string): void {
  if (typeof v === 'number' && v >= 0 && v <= 0xffffffff && Number.isInteger(v)) {
    w.uint32(v);
    return;
  }
  int64Bits(v);
  writeVarintBits(w);
}

/**
 * Writes an unsigned 64-bit integer (a number, or a decimal string) as a varint, no tag (`uint64`).
 * @throws TypeError when it is not an integer in 0..2^64-1.
 */
export function writeUint64(w: Writer, v: number | string): void {
  if (!decimalToUint64(typeof v === 'number' ? v.toFixed(0) : v)) throw new TypeError(`invalid uint64 ${JSON.stringify(v)}`);
  writeVarintBits(w);
}

/**
 * Writes an unsigned 64-bit integer (a number, or a decimal string) as 8 little-endian bytes, no
 * tag (`fixed64`).
 * @throws TypeError when it is not an integer in 0..2^64-1.
 */
export function writeFixed64(w: Writer, v: number | string): void {
  if (!decimalToUint64(typeof v === 'number' ? v.toFixed(0) : v)) throw new TypeError(`invalid fixed64 ${JSON.stringify(v)}`);
  w.fixed32(r64lo).fixed32(r64hi);
}

/**
 * Writes a signed 64-bit integer (a number, or a decimal string) as 8 little-endian bytes of two's
 * complement, no tag (`sfixed64`).
 * @throws TypeError when it is not an integer in the int64 range.
 */
export function writeSfixed64(w: Writer, v: number | string): void {
  int64Bits(v);
  w.fixed32(r64lo).fixed32(r64hi);
}

type AnyValueFields = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  bytesValue?: Uint8Array;
  arrayValue?: { values: AnyValue[] };
  kvlistValue?: { values: KeyValue[] };
};

/** Writes the fields of an `AnyValue` (the empty value writes nothing). */
function writeAnyValueFields(w: Writer, value: AnyValue): void {
  const v = value as AnyValueFields;
  if (v.stringValue !== undefined) w.uint32(tag(1, LEN)).string(v.stringValue);
  else if (v.intValue !== undefined) {
    w.uint32(tag(3, VARINT));
    writeInt64(w, v.intValue);
  } else if (v.boolValue !== undefined) w.uint32(tag(2, VARINT)).bool(v.boolValue);
  else if (v.doubleValue !== undefined) w.uint32(tag(4, I64)).double(v.doubleValue);
  else if (v.arrayValue !== undefined) {
    w.uint32(tag(5, LEN)).fork();
    for (const x of v.arrayValue.values) {
      w.uint32(tag(1, LEN)).fork();
      writeAnyValueFields(w, x);
      w.ldelim();
    }
    w.ldelim();
  } else if (v.kvlistValue !== undefined) {
    w.uint32(tag(6, LEN)).fork();
    writeKeyValues(w, 1, v.kvlistValue.values);
    w.ldelim();
  } else if (v.bytesValue !== undefined) w.uint32(tag(7, LEN)).bytes(v.bytesValue);
}

/** Writes each `KeyValue` of `kvs` as repeated message field `no`. */
export function writeKeyValues(w: Writer, no: number, kvs: readonly KeyValue[]): void {
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!;
    w.uint32(tag(no, LEN)).fork();
    writeString(w, 1, kv.key);
    w.uint32(tag(2, LEN)).fork();
    writeAnyValueFields(w, kv.value);
    w.ldelim();
    w.ldelim();
  }
}

/** Writes `Resource` as message field `no`; omitted when empty. */
export function writeResource(w: Writer, no: number, res: Resource): void {
  if (res.attributes.length === 0 && !res.droppedAttributesCount) return;
  w.uint32(tag(no, LEN)).fork();
  writeKeyValues(w, 1, res.attributes);
  writeUint32(w, 2, res.droppedAttributesCount);
  w.ldelim();
}

/** Writes `InstrumentationScope` as message field `no`; omitted when empty. */
export function writeScope(w: Writer, no: number, s: InstrumentationScope): void {
  if (!s.name && !s.version && s.attributes.length === 0 && !s.droppedAttributesCount) return;
  w.uint32(tag(no, LEN)).fork();
  writeString(w, 1, s.name);
  writeString(w, 2, s.version);
  writeKeyValues(w, 3, s.attributes);
  writeUint32(w, 4, s.droppedAttributesCount);
  w.ldelim();
}

function writeSpan(w: Writer, s: Span): void {
  writeId(w, 1, s.traceId, 16);
  writeId(w, 2, s.spanId, 8);
  writeString(w, 3, s.traceState);
  writeId(w, 4, s.parentSpanId, 8);
  writeString(w, 5, s.name);
  writeEnum(w, 6, s.kind);
  writeTimestamp(w, 7, s.startTimeUnixNano);
  writeTimestamp(w, 8, s.endTimeUnixNano);
  writeKeyValues(w, 9, s.attributes);
  writeUint32(w, 10, s.droppedAttributesCount);
  for (const ev of s.events) {
    w.uint32(tag(11, LEN)).fork();
    writeTimestamp(w, 1, ev.timeUnixNano);
    writeString(w, 2, ev.name);
    writeKeyValues(w, 3, ev.attributes);
    writeUint32(w, 4, ev.droppedAttributesCount);
    w.ldelim();
  }
  writeUint32(w, 12, s.droppedEventsCount);
  for (const l of s.links) {
    w.uint32(tag(13, LEN)).fork();
    writeId(w, 1, l.traceId, 16);
    writeId(w, 2, l.spanId, 8);
    writeString(w, 3, l.traceState);
    writeKeyValues(w, 4, l.attributes);
    writeUint32(w, 5, l.droppedAttributesCount);
    writeFixed32(w, 6, l.flags);
    w.ldelim();
  }
  writeUint32(w, 14, s.droppedLinksCount);
  if (s.status.code || s.status.message) {
    w.uint32(tag(15, LEN)).fork();
    writeString(w, 2, s.status.message);
    writeEnum(w, 3, s.status.code);
    w.ldelim();
  }
  writeFixed32(w, 16, s.flags);
}

/** Bytes of a finished writer, as a fresh `Uint8Array` (a Node `Buffer`). */
function finish(w: Writer): Uint8Array {
  return w.finish();
}

/**
 * Encodes pdata `TracesData` as an `ExportTraceServiceRequest`. Fields at their proto3 default
 * (`""`, `0`, `"0"`, empty lists, empty resource/scope/status) are omitted.
 *
 * @throws TypeError when an id is not hex of the right length or a timestamp or `intValue` is not a
 *   decimal integer in range (data that no decoder of this module produces).
 */
export function encodeTracesRequest(data: TracesData): Uint8Array {
  const w = protobuf.Writer.create();
  for (const rs of data.resourceSpans) {
    w.uint32(tag(1, LEN)).fork();
    writeResource(w, 1, rs.resource);
    for (const ss of rs.scopeSpans) {
      w.uint32(tag(2, LEN)).fork();
      writeScope(w, 1, ss.scope);
      for (const s of ss.spans) {
        w.uint32(tag(2, LEN)).fork();
        writeSpan(w, s);
        w.ldelim();
      }
      writeString(w, 3, ss.schemaUrl);
      w.ldelim();
    }
    writeString(w, 3, rs.schemaUrl);
    w.ldelim();
  }
  return finish(w);
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
  const w = protobuf.Writer.create();
  for (const rl of data.resourceLogs) {
    w.uint32(tag(1, LEN)).fork();
    writeResource(w, 1, rl.resource);
    for (const sl of rl.scopeLogs) {
      w.uint32(tag(2, LEN)).fork();
      writeScope(w, 1, sl.scope);
      for (const lr of sl.logRecords) {
        w.uint32(tag(2, LEN)).fork();
        writeLogRecord(w, lr);
        w.ldelim();
      }
      writeString(w, 3, sl.schemaUrl);
      w.ldelim();
    }
    writeString(w, 3, rl.schemaUrl);
    w.ldelim();
  }
  return finish(w);
}

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
  const w = protobuf.Writer.create();
  w.uint32(tag(1, LEN)).fork();
  if (partial.rejected) {
    w.uint32(tag(1, VARINT));
    writeInt64(w, Math.max(0, Math.trunc(partial.rejected)));
  }
  writeString(w, 2, partial.message);
  w.ldelim();
  return finish(w);
}

/**
 * Encodes a `google.rpc.Status` (`code` = 1, int32 gRPC status code; `message` = 2; `details`
 * omitted), the body of OTLP/HTTP error responses (OTLP specification, "Failures").
 */
export function encodeStatus(code: number, message: string): Uint8Array {
  const w = protobuf.Writer.create();
  writeEnum(w, 1, code);
  writeString(w, 2, message);
  return finish(w);
}

/**
 * A fresh protobuf writer (protobufjs `Writer`), for composing other OTLP messages with `tag`,
 * `writeKeyValues`, `writeResource`, `writeScope`, `writeId` and the 64-bit writers
 * (`writeUint64`, `writeFixed64`, `writeSfixed64`); `finish()` returns the bytes.
 */
export function createWriter(): Writer {
  return protobuf.Writer.create();
}
