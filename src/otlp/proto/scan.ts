/**
 * A validating scan of an OTLP/protobuf `ExportTraceServiceRequest` that builds nothing: no
 * objects, strings or arrays per field. It checks the request exactly as `decodeTracesRequest`
 * (`./traces.ts`, `./common.ts`, `./reader.ts`) does, so that a pipeline which only forwards the
 * request can keep the bytes it received and still refuse what the decoder would refuse.
 *
 * Messages and field numbers: opentelemetry-proto `collector/trace/v1/trace_service.proto`
 * (`ExportTraceServiceRequest`), `trace/v1/trace.proto` (`ResourceSpans`, `ScopeSpans`, `Span`,
 * `Span.Event`, `Span.Link`, `Status`), `resource/v1/resource.proto` (`Resource`) and
 * `common/v1/common.proto` (`InstrumentationScope`, `KeyValue`, `AnyValue`, `ArrayValue`,
 * `KeyValueList`). Wire format and varint limits: protobuf encoding guide, "Message Structure",
 * as read by protobufjs' `Reader` (`tag`, `size`, `uint32`, `bool`, `skipType`), which the
 * decoder uses.
 */
import protobuf from 'protobufjs/minimal.js';
import { OtlpDecodeError } from '../../errors.js';
import { I32, I64, LEN, MAX_ANY_VALUE_DEPTH, VARINT, WIRE_NAMES } from '../wire.js';
import { F_ANY_VALUE, F_KEY_VALUE, F_RESOURCE, F_SCOPE, F_VALUES } from './common.js';
import type { FieldNames } from './reader.js';
import { F_EVENT, F_LINK, F_RESOURCE_SPANS, F_SCOPE_SPANS, F_SPAN, F_STATUS, F_TRACES_REQ } from './traces.js';

/** What a validating scan of an ExportTraceServiceRequest found. */
export interface TracesScan {
  /** Number of spans (`ScopeSpans.spans` entries) in the request. */
  spans: number;
  /**
   * The largest encoded length, in bytes, of one `Resource`, one `InstrumentationScope` or one
   * `Span` message of the request (its body, without tag and length prefix). A `Resource` or
   * `InstrumentationScope` given more than once in its `ResourceSpans` / `ScopeSpans` is merged
   * by protobuf, so its length is the sum of its occurrences. A message of `n` bytes holds at most
   * `n / 2` attributes (each needs a tag and a length byte) and no string or bytes value longer
   * than `n`.
   */
  largest: number;
}

// State of the current scan (a scan never yields, so one set suffices).
let b: Uint8Array = new Uint8Array(0);
/** Position after the varint or message header read last by a helper. */
let nx = 0;
/** Largest Resource / Scope / Span body seen so far. */
let largest = 0;
/** Group nesting limit of the protobufjs reader, read at the start of each scan. */
let groupLimit = 100;

// The path of the current position, kept only for error messages: frame 0 is the request, frame
// i > 0 a message of kind `frameKind[i]` (its field name and field names), element `frameIndex[i]`
// of its repeated field (or -1).
const KIND_NAME = [
  '', 'resource_spans', 'resource', 'scope_spans', 'scope', 'spans', 'events', 'links', 'status', 'attributes', 'value',
  'array_value', 'kvlist_value', 'values', 'values',
];
const KIND_FIELDS: FieldNames[] = [
  F_TRACES_REQ, F_RESOURCE_SPANS, F_RESOURCE, F_SCOPE_SPANS, F_SCOPE, F_SPAN, F_EVENT, F_LINK, F_STATUS, F_KEY_VALUE, F_ANY_VALUE,
  F_VALUES, F_VALUES, F_ANY_VALUE, F_KEY_VALUE,
];
const K_RESOURCE_SPANS = 1;
const K_RESOURCE = 2;
const K_SCOPE_SPANS = 3;
const K_SCOPE = 4;
const K_SPAN = 5;
const K_EVENT = 6;
const K_LINK = 7;
const K_STATUS = 8;
const K_ATTRIBUTE = 9;
const K_VALUE = 10;
const K_ARRAY = 11;
const K_KVLIST = 12;
const K_ARRAY_ELEMENT = 13;
const K_KVLIST_ELEMENT = 14;
const MAX_FRAMES = 8 + 3 * (MAX_ANY_VALUE_DEPTH + 2);
const frameKind = new Int32Array(MAX_FRAMES);
const frameIndex = new Int32Array(MAX_FRAMES);
let depth = 1;

function push(kind: number, index: number): void {
  frameKind[depth] = kind;
  frameIndex[depth] = index;
  depth++;
}

/** The proto path of field `field` (0: none) of the current message, as the decoder writes it. */
function where(field: number): string {
  let s = '';
  for (let i = 1; i < depth; i++) {
    if (i > 1) s += '.';
    s += KIND_NAME[frameKind[i]!];
    if (frameIndex[i]! >= 0) s += `[${frameIndex[i]}]`;
  }
  if (field !== 0) {
    const f = KIND_FIELDS[frameKind[depth - 1]!]![field] ?? `field ${field}`;
    s += s ? `.${f}` : f;
  }
  return s || 'request';
}

function fail(field: number, message: string): never {
  throw new OtlpDecodeError(`${where(field)}: ${message}`);
}

function truncated(field: number, pos: number, n: number, end: number): never {
  fail(field, `truncated, or a length past the end of its message (index out of range: ${pos} + ${n} > ${end})`);
}

function wrongWireType(field: number, wt: number, expected: number): never {
  fail(field, `wrong wire type ${WIRE_NAMES[wt]} (expected ${WIRE_NAMES[expected]})`);
}

// ---------------------------------------------------------------------------------------------
// Varints, with the limits of protobufjs' Reader: a tag or a length has at most 5 bytes (the 5th
// at most 15 for a tag, at most 7 for a length); a 32- or 64-bit value, a bool or an enum at most
// 10; an unknown varint field any number. Fewer than 5 bytes before the end of the message, a
// multi-byte tag, length or 32-bit value must end within 4 bytes. All must end inside the message.
// ---------------------------------------------------------------------------------------------

/** A varint of at most 4 bytes ending before `end` (the reader's path near a message's end). */
function nearEnd(p: number, end: number, field: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    if (p >= end) truncated(field, p, 1, end);
    const c = b[p++]!;
    v = (v | ((c & 127) << (i * 7))) >>> 0;
    if (c < 128) {
      nx = p;
      return v;
    }
  }
  truncated(field, p, 1, end);
}

/** A field tag at `p` (< `end`) inside field `field` (0: none); sets `nx`. */
function tagAt(p: number, end: number, field: number): number {
  if (end - p < 5 && b[p]! >= 128) return nearEnd(p, end, field);
  let c = b[p++]!;
  let v = c & 127;
  if (c >= 128) {
    c = b[p++]!;
    v |= (c & 127) << 7;
    if (c >= 128) {
      c = b[p++]!;
      v |= (c & 127) << 14;
      if (c >= 128) {
        c = b[p++]!;
        v |= (c & 127) << 21;
        if (c >= 128) {
          c = b[p++]!;
          if (c >= 16) fail(field, 'invalid tag encoding');
          v |= c << 28;
        }
      }
    }
  }
  nx = p;
  return v >>> 0;
}

/** A length prefix at `p`, for field `field`; sets `nx`. */
function sizeAt(p: number, end: number, field: number): number {
  if (p >= end) truncated(field, p, 1, end);
  if (end - p < 5 && b[p]! >= 128) return nearEnd(p, end, field);
  let c = b[p++]!;
  let v = c & 127;
  if (c >= 128) {
    c = b[p++]!;
    v |= (c & 127) << 7;
    if (c >= 128) {
      c = b[p++]!;
      v |= (c & 127) << 14;
      if (c >= 128) {
        c = b[p++]!;
        v |= (c & 127) << 21;
        if (c >= 128) {
          c = b[p++]!;
          if (c > 7) fail(field, 'invalid length encoding');
          v |= c << 28;
        }
      }
    }
  }
  nx = p;
  return v >>> 0;
}

/** Position after a varint of at most 10 bytes (uint32, int32 enum, int64, bool). */
function skipVarint10(p: number, end: number, field: number): number {
  for (let i = 0; i < 10; i++) {
    if (p >= end) truncated(field, p, 1, end);
    if (b[p++]! < 128) return p;
  }
  fail(field, 'invalid varint encoding');
}

/** Position after an `int64` varint of at most 10 bytes (the decoder's own messages). */
function skipInt64(p: number, end: number, field: number): number {
  for (let i = 0; i < 10; i++) {
    if (p >= end) fail(field, 'truncated varint');
    if (b[p++]! < 128) return p;
  }
  fail(field, 'invalid varint (more than 10 bytes)');
}

// ---------------------------------------------------------------------------------------------
// Fields. Each returns the position after the field; `p` is just after the tag.
// ---------------------------------------------------------------------------------------------

/** A `string` or `bytes` field. */
function lenField(p: number, end: number, wt: number, field: number): number {
  if (wt !== LEN) wrongWireType(field, wt, LEN);
  let n = p < end ? b[p]! : 128;
  if (n < 128) p++;
  else {
    n = sizeAt(p, end, field);
    p = nx;
  }
  if (n > end - p) fail(field, `length ${n} runs past the end of the enclosing message (${end - p} bytes left)`);
  return p + n;
}

/** A trace id (`n` = 16) or span id (`n` = 8): `n` bytes or none. */
function idField(p: number, end: number, wt: number, field: number, n: number): number {
  if (wt !== LEN) wrongWireType(field, wt, LEN);
  const len = sizeAt(p, end, field);
  p = nx;
  if (len > end - p) fail(field, `length ${len} runs past the end of the enclosing message (${end - p} bytes left)`);
  if (len !== n && len !== 0) fail(field, `expected ${n} bytes, got ${len}`);
  return p + len;
}

/** A `uint32`, enum, `int64` or `bool` field. */
function varintField(p: number, end: number, wt: number, field: number): number {
  if (wt !== VARINT) wrongWireType(field, wt, VARINT);
  if (p < end && b[p]! < 128) return p + 1;
  return skipVarint10(p, end, field);
}

/** A `fixed32` (`n` = 4, wire type I32) or `fixed64` / `double` (`n` = 8, I64) field. */
function fixedField(p: number, end: number, wt: number, field: number, expected: number, n: number): number {
  if (wt !== expected) wrongWireType(field, wt, expected);
  if (p + n > end) truncated(field, p, n, end);
  return p + n;
}

/**
 * The header of an embedded message (field `field`, wire type `wt`): returns the end of its body
 * and sets `nx` to its start.
 */
function message(p: number, end: number, wt: number, field: number): number {
  if (wt !== LEN) wrongWireType(field, wt, LEN);
  let n = p < end ? b[p]! : 128;
  if (n < 128) p++;
  else {
    n = sizeAt(p, end, field);
    p = nx;
  }
  if (n > end - p) fail(field, `length ${n} runs past the end of the enclosing message (${end - p} bytes left)`);
  nx = p;
  return p + n;
}

/** Skips an unknown field as the reader's `skipType` does (groups matched and depth-limited). */
function skipUnknown(p: number, end: number, wt: number, field: number): number {
  if (groupLimit < 0) fail(field, 'max depth exceeded');
  return skipElement(p, end, wt, field, field);
}

function skipElement(p: number, end: number, wt: number, num: number, field: number): number {
  switch (wt) {
    case VARINT:
      do {
        if (p >= end) truncated(field, p, 1, end);
      } while (b[p++]! >= 128);
      return p;
    case I64:
      if (p + 8 > end) truncated(field, p, 8, end);
      return p + 8;
    case LEN: {
      const n = sizeAt(p, end, field);
      p = nx;
      if (p + n > end) truncated(field, p, n, end);
      return p + n;
    }
    case 3:
      return skipGroup(p, end, num, 0, field);
    case I32:
      if (p + 4 > end) truncated(field, p, 4, end);
      return p + 4;
    default:
      fail(field, `invalid wire type ${wt} at offset ${p}`);
  }
}

/** The rest of a group started by field `num` at group depth `level`, through its end tag. */
function skipGroup(p: number, end: number, num: number, level: number, field: number): number {
  for (;;) {
    if (p >= end) truncated(field, p, 1, end);
    const t = tagAt(p, end, field);
    p = nx;
    const inner = t >>> 3;
    const wt = t & 7;
    if (inner === 0) fail(field, 'illegal tag: field number 0');
    if (wt === 4) {
      if (inner !== num) fail(field, 'invalid end group tag');
      return p;
    }
    if (level + 1 > groupLimit) fail(field, 'max depth exceeded');
    p = wt === 3 ? skipGroup(p, end, inner, level + 1, field) : skipElement(p, end, wt, inner, field);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages. Each scans the body [p, end) of one message; the loop reads a tag (field number 0 is
// refused), then the field by its number, checking the wire type of every known field.
// ---------------------------------------------------------------------------------------------

/** Reads the tag at `p` (< `end`): returns it and sets `nx`; refuses field number 0. */
function readTag(p: number, end: number): number {
  let t = b[p]!;
  if (t < 128) nx = p + 1;
  else t = tagAt(p, end, 0);
  if (t < 8) fail(0, 'invalid tag (field number 0)');
  return t;
}

/** `AnyValue` at nesting `level` (common.proto: 1 string, 2 bool, 3 int64, 4 double, 5 array, 6 kvlist, 7 bytes). */
function scanAnyValue(p: number, end: number, level: number): void {
  if (level > MAX_ANY_VALUE_DEPTH) fail(0, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
      case 7:
        p = lenField(p, end, wt, f);
        break;
      case 2:
        p = varintField(p, end, wt, f);
        break;
      case 3:
        if (wt !== VARINT) wrongWireType(f, wt, VARINT);
        p = skipInt64(p, end, f);
        break;
      case 4:
        p = fixedField(p, end, wt, f, I64, 8);
        break;
      case 5: {
        const e = message(p, end, wt, f);
        push(K_ARRAY, -1);
        scanValues(nx, e, level, K_ARRAY_ELEMENT, scanAnyValue);
        depth--;
        p = e;
        break;
      }
      case 6: {
        const e = message(p, end, wt, f);
        push(K_KVLIST, -1);
        scanValues(nx, e, level, K_KVLIST_ELEMENT, scanKeyValue);
        depth--;
        p = e;
        break;
      }
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/**
 * `ArrayValue` or `KeyValueList` (common.proto: 1 repeated AnyValue / KeyValue values) of an
 * AnyValue at `level`: each element (path kind `kind`) is checked by `item`.
 */
function scanValues(p: number, end: number, level: number, kind: number, item: (p: number, end: number, level: number) => void): void {
  let count = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1) {
      const e = message(p, end, wt, f);
      push(kind, count++);
      item(nx, e, level + 1);
      depth--;
      p = e;
    } else p = skipUnknown(p, end, wt, f);
  }
}

/** `KeyValue` (common.proto: 1 string key, 2 AnyValue value) whose value is at `level`. */
function scanKeyValue(p: number, end: number, level: number): void {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1) p = lenField(p, end, wt, f);
    else if (f === 2) {
      const e = message(p, end, wt, f);
      push(K_VALUE, -1);
      scanAnyValue(nx, e, level);
      depth--;
      p = e;
    } else p = skipUnknown(p, end, wt, f);
  }
}

/** One `attributes` entry (a KeyValue, element `index`); returns the position after it. */
function attribute(p: number, end: number, wt: number, field: number, index: number): number {
  const e = message(p, end, wt, field);
  push(K_ATTRIBUTE, index);
  scanKeyValue(nx, e, 1);
  depth--;
  return e;
}

/**
 * `Resource` (resource.proto: 1 repeated KeyValue attributes, 2 uint32 dropped_attributes_count);
 * attributes are numbered from `attrs` (a repeated Resource merges). Returns the attribute count.
 */
function scanResource(p: number, end: number, attrs: number): number {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1) p = attribute(p, end, wt, f, attrs++);
    else if (f === 2) p = varintField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return attrs;
}

/**
 * `InstrumentationScope` (common.proto: 1 string name, 2 string version, 3 repeated KeyValue
 * attributes, 4 uint32 dropped_attributes_count); attributes numbered from `attrs`. Returns the
 * attribute count.
 */
function scanScope(p: number, end: number, attrs: number): number {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1 || f === 2) p = lenField(p, end, wt, f);
    else if (f === 3) p = attribute(p, end, wt, f, attrs++);
    else if (f === 4) p = varintField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return attrs;
}

/** `Span.Event` (trace.proto: 1 fixed64 time_unix_nano, 2 string name, 3 attributes, 4 uint32). */
function scanEvent(p: number, end: number): void {
  let attrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
        p = timestamp(p, end, wt, f);
        break;
      case 2:
        p = lenField(p, end, wt, f);
        break;
      case 3:
        p = attribute(p, end, wt, f, attrs++);
        break;
      case 4:
        p = varintField(p, end, wt, f);
        break;
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/**
 * `Span.Link` (trace.proto: 1 bytes trace_id (16), 2 bytes span_id (8), 3 string trace_state,
 * 4 attributes, 5 uint32 dropped_attributes_count, 6 fixed32 flags).
 */
function scanLink(p: number, end: number): void {
  let attrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
        p = idField(p, end, wt, f, 16);
        break;
      case 2:
        p = idField(p, end, wt, f, 8);
        break;
      case 3:
        p = lenField(p, end, wt, f);
        break;
      case 4:
        p = attribute(p, end, wt, f, attrs++);
        break;
      case 5:
        p = varintField(p, end, wt, f);
        break;
      case 6:
        p = fixedField(p, end, wt, f, I32, 4);
        break;
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/** `Status` (trace.proto: 2 string message, 3 enum code). */
function scanStatus(p: number, end: number): void {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 2) p = lenField(p, end, wt, f);
    else if (f === 3) p = varintField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
}

/** A `fixed64` nanosecond timestamp (the decoder's own truncation message). */
function timestamp(p: number, end: number, wt: number, field: number): number {
  if (wt !== I64) wrongWireType(field, wt, I64);
  if (p + 8 > end) fail(field, `truncated: 8 bytes needed, ${end - p} left`);
  return p + 8;
}

/**
 * `Span` (trace.proto: 1 trace_id (16 bytes), 2 span_id (8), 3 trace_state, 4 parent_span_id (8),
 * 5 name, 6 kind (enum), 7/8 start/end_time_unix_nano (fixed64), 9 attributes, 10
 * dropped_attributes_count, 11 events, 12 dropped_events_count, 13 links, 14 dropped_links_count,
 * 15 status, 16 flags (fixed32)).
 */
function scanSpan(p: number, end: number): void {
  let attrs = 0;
  let events = 0;
  let links = 0;
  while (p < end) {
    let t = b[p]!;
    if (t < 128) p++;
    else {
      t = tagAt(p, end, 0);
      p = nx;
    }
    if (t < 8) fail(0, 'invalid tag (field number 0)');
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
        p = idField(p, end, wt, f, 16);
        break;
      case 2:
      case 4:
        p = idField(p, end, wt, f, 8);
        break;
      case 3:
      case 5:
        p = lenField(p, end, wt, f);
        break;
      case 6:
      case 10:
      case 12:
      case 14:
        p = varintField(p, end, wt, f);
        break;
      case 7:
      case 8:
        p = timestamp(p, end, wt, f);
        break;
      case 9:
        p = attribute(p, end, wt, f, attrs++);
        break;
      case 11: {
        const e = message(p, end, wt, f);
        push(K_EVENT, events++);
        scanEvent(nx, e);
        depth--;
        p = e;
        break;
      }
      case 13: {
        const e = message(p, end, wt, f);
        push(K_LINK, links++);
        scanLink(nx, e);
        depth--;
        p = e;
        break;
      }
      case 15: {
        const e = message(p, end, wt, f);
        push(K_STATUS, -1);
        scanStatus(nx, e);
        depth--;
        p = e;
        break;
      }
      case 16:
        p = fixedField(p, end, wt, f, I32, 4);
        break;
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/** `ScopeSpans` (trace.proto: 1 InstrumentationScope scope, 2 repeated Span spans, 3 schema_url). Returns its span count. */
function scanScopeSpans(p: number, end: number): number {
  let spans = 0;
  let scopeBytes = 0;
  let scopeAttrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 2) {
      const e = message(p, end, wt, f);
      const s = nx;
      if (e - s > largest) largest = e - s;
      push(K_SPAN, spans++);
      scanSpan(s, e);
      depth--;
      p = e;
    } else if (f === 1) {
      const e = message(p, end, wt, f);
      const s = nx;
      scopeBytes += e - s;
      if (scopeBytes > largest) largest = scopeBytes;
      push(K_SCOPE, -1);
      scopeAttrs = scanScope(s, e, scopeAttrs);
      depth--;
      p = e;
    } else if (f === 3) p = lenField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return spans;
}

/** `ResourceSpans` (trace.proto: 1 Resource resource, 2 repeated ScopeSpans scope_spans, 3 schema_url). Returns its span count. */
function scanResourceSpans(p: number, end: number): number {
  let spans = 0;
  let groups = 0;
  let resourceBytes = 0;
  let resourceAttrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 2) {
      const e = message(p, end, wt, f);
      push(K_SCOPE_SPANS, groups++);
      spans += scanScopeSpans(nx, e);
      depth--;
      p = e;
    } else if (f === 1) {
      const e = message(p, end, wt, f);
      const s = nx;
      resourceBytes += e - s;
      if (resourceBytes > largest) largest = resourceBytes;
      push(K_RESOURCE, -1);
      resourceAttrs = scanResource(s, e, resourceAttrs);
      depth--;
      p = e;
    } else if (f === 3) p = lenField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return spans;
}

/**
 * Checks an OTLP/protobuf `ExportTraceServiceRequest` (trace_service.proto: 1 repeated
 * ResourceSpans resource_spans) without decoding it, and counts its spans.
 *
 * Accepts exactly the inputs `decodeTracesRequest` accepts: the same framing (tags, lengths and
 * varints within their message), the same wire type for every known field at every level, trace
 * ids of 16 bytes and span ids of 8 (or empty), AnyValue nesting up to `MAX_ANY_VALUE_DEPTH`
 * levels, unknown fields skipped as protobuf skips them (groups matched, nested at most
 * `protobuf.Reader.recursionLimit` deep). String contents are not checked (invalid UTF-8 is
 * accepted, as the decoder accepts it). Allocates nothing per field.
 *
 * @returns the span count and the largest Resource / InstrumentationScope / Span encoding.
 * @throws OtlpDecodeError naming the proto path, e.g.
 *   `resource_spans[0].scope_spans[0].spans[3].trace_id: expected 16 bytes, got 5`, for exactly
 *   the inputs on which `decodeTracesRequest` throws.
 */
export function scanTracesRequest(buf: Uint8Array): TracesScan {
  if (!(buf instanceof Uint8Array)) throw new OtlpDecodeError('request: body is not a byte array');
  b = buf;
  depth = 1;
  largest = 0;
  groupLimit = protobuf.Reader.recursionLimit;
  let spans = 0;
  let groups = 0;
  let p = 0;
  const end = buf.length;
  try {
    while (p < end) {
      const t = readTag(p, end);
      p = nx;
      const f = t >>> 3;
      const wt = t & 7;
      if (f === 1) {
        const e = message(p, end, wt, f);
        push(K_RESOURCE_SPANS, groups++);
        spans += scanResourceSpans(nx, e);
        depth--;
        p = e;
      } else p = skipUnknown(p, end, wt, f);
    }
    return { spans, largest };
  } finally {
    b = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);
