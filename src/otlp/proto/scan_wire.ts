/**
 * The wire level of the validating trace scan (`./scan.ts`): the bytes being scanned, varint, tag
 * and length readers with protobufjs' `Reader` limits, field readers that check wire types, the
 * skipping of unknown fields and groups as `Reader.skipType` does, and the proto path of the
 * current position for error messages (the same text as the decoder's, `./reader.ts`). State is
 * module-wide: a scan never yields, so one set suffices.
 */
import protobuf from 'protobufjs/minimal.js';
import { OtlpDecodeError } from '../../errors.js';
import { isUtf8Range, NATIVE_UTF8_FROM } from '../utf8.js';
import { I32, I64, LEN, MAX_ANY_VALUE_DEPTH, VARINT, WIRE_NAMES } from '../wire.js';
import { F_ANY_VALUE, F_KEY_VALUE, F_RESOURCE, F_SCOPE, F_VALUES } from './common.js';
import type { FieldNames } from './reader.js';
import { F_EVENT, F_LINK, F_RESOURCE_SPANS, F_SCOPE_SPANS, F_SPAN, F_STATUS, F_TRACES_REQ } from './traces.js';

// State of the current scan (a scan never yields, so one set suffices).
export let b: Uint8Array = new Uint8Array(0);
/** The same bytes, for reading four at a time. */
let view = new DataView(b.buffer);
/** Position after the varint or message header read last by a helper. */
export let nx = 0;
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
export const K_RESOURCE_SPANS = 1;
export const K_RESOURCE = 2;
export const K_SCOPE_SPANS = 3;
export const K_SCOPE = 4;
export const K_SPAN = 5;
export const K_EVENT = 6;
export const K_LINK = 7;
export const K_STATUS = 8;
export const K_ATTRIBUTE = 9;
export const K_VALUE = 10;
export const K_ARRAY = 11;
export const K_KVLIST = 12;
export const K_ARRAY_ELEMENT = 13;
export const K_KVLIST_ELEMENT = 14;
const MAX_FRAMES = 8 + 3 * (MAX_ANY_VALUE_DEPTH + 2);
const frameKind = new Int32Array(MAX_FRAMES);
const frameIndex = new Int32Array(MAX_FRAMES);
let depth = 1;

export function push(kind: number, index: number): void {
  frameKind[depth] = kind;
  frameIndex[depth] = index;
  depth++;
}

/** Leaves the message entered by the last {@link push}. */
export function pop(): void {
  depth--;
}

/** Starts a scan of `buf`. */
export function begin(buf: Uint8Array): void {
  b = buf;
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  depth = 1;
  groupLimit = protobuf.Reader.recursionLimit;
}

/** Ends a scan: the buffer is not kept. */
export function finish(): void {
  b = EMPTY;
  view = EMPTY_VIEW;
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);

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

export function fail(field: number, message: string): never {
  throw new OtlpDecodeError(`${where(field)}: ${message}`);
}

export function truncated(field: number, pos: number, n: number, end: number): never {
  fail(field, `truncated, or a length past the end of its message (index out of range: ${pos} + ${n} > ${end})`);
}

export function wrongWireType(field: number, wt: number, expected: number): never {
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

/**
 * A varint of at most 32 bits at `p` (< `end`) inside field `field`, its fifth byte at most `top`
 * (15 for a tag: 32 bits; 7 for a length: below 2^31); sets `nx`. Unrolled: every field starts
 * with one.
 */
function uint32At(p: number, end: number, field: number, top: number, what: string): number {
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
          if (c > top) fail(field, `invalid ${what} encoding`);
          v |= c << 28;
        }
      }
    }
  }
  nx = p;
  return v >>> 0;
}

/** A field tag at `p` (< `end`) inside field `field` (0: none); sets `nx`. */
export function tagAt(p: number, end: number, field: number): number {
  return uint32At(p, end, field, 15, 'tag');
}

/** A length prefix at `p`, for field `field`; sets `nx`. */
function sizeAt(p: number, end: number, field: number): number {
  if (p >= end) truncated(field, p, 1, end);
  return uint32At(p, end, field, 7, 'length');
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
export function skipInt64(p: number, end: number, field: number): number {
  for (let i = 0; i < 10; i++) {
    if (p >= end) fail(field, 'truncated varint');
    if (b[p++]! < 128) return p;
  }
  fail(field, 'invalid varint (more than 10 bytes)');
}

// ---------------------------------------------------------------------------------------------
// Fields. Each returns the position after the field; `p` is just after the tag.
// ---------------------------------------------------------------------------------------------

/** A `bytes` field: checked as an embedded message's header is. */
export function lenField(p: number, end: number, wt: number, field: number): number {
  return message(p, end, wt, field);
}

/**
 * A `string` field: its header as a `bytes` field's, and its bytes valid UTF-8 (as the decoder's
 * `readString`); returns the end of its bytes and leaves `nx` at their start. Long strings go to
 * Node's validator at once; in shorter ones, most of them, ASCII is told apart four bytes at a
 * time (a last read overlapping the others covers the tail), and only other strings are validated.
 */
export function stringField(p: number, end: number, wt: number, field: number): number {
  const e = message(p, end, wt, field);
  const s = nx;
  if (e - s >= NATIVE_UTF8_FROM) {
    if (!isUtf8Range(b, s, e)) fail(field, 'invalid UTF-8');
    return e;
  }
  let high: number;
  if (e - s >= 4) {
    const v = view;
    high = v.getInt32(e - 4, true);
    for (let i = s; i < e - 4; i += 4) high |= v.getInt32(i, true);
    high &= 0x80808080;
  } else {
    high = 0;
    for (let i = s; i < e; i++) high |= b[i]!;
    high &= 0x80;
  }
  if (high !== 0 && !isUtf8Range(b, s, e)) fail(field, 'invalid UTF-8');
  return e;
}

/** A trace id (`n` = 16) or span id (`n` = 8): `n` bytes or none. */
export function idField(p: number, end: number, wt: number, field: number, n: number): number {
  if (wt !== LEN) wrongWireType(field, wt, LEN);
  const len = sizeAt(p, end, field);
  p = nx;
  if (len > end - p) fail(field, `length ${len} runs past the end of the enclosing message (${end - p} bytes left)`);
  if (len !== n && len !== 0) fail(field, `expected ${n} bytes, got ${len}`);
  return p + len;
}

/** A `uint32`, enum, `int64` or `bool` field. */
export function varintField(p: number, end: number, wt: number, field: number): number {
  if (wt !== VARINT) wrongWireType(field, wt, VARINT);
  if (p < end && b[p]! < 128) return p + 1;
  return skipVarint10(p, end, field);
}

/** A `fixed32` (`n` = 4, wire type I32) or `fixed64` / `double` (`n` = 8, I64) field. */
export function fixedField(p: number, end: number, wt: number, field: number, expected: number, n: number): number {
  if (wt !== expected) wrongWireType(field, wt, expected);
  if (p + n > end) truncated(field, p, n, end);
  return p + n;
}

/**
 * The header of an embedded message (field `field`, wire type `wt`): returns the end of its body
 * and sets `nx` to its start.
 */
export function message(p: number, end: number, wt: number, field: number): number {
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
export function skipUnknown(p: number, end: number, wt: number, field: number): number {
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

/** A `fixed64` nanosecond timestamp (the decoder's own truncation message). */
export function timestamp(p: number, end: number, wt: number, field: number): number {
  if (wt !== I64) wrongWireType(field, wt, I64);
  if (p + 8 > end) fail(field, `truncated: 8 bytes needed, ${end - p} left`);
  return p + 8;
}

/** Reads the tag at `p` (< `end`): returns it and sets `nx`; refuses field number 0. */
export function readTag(p: number, end: number): number {
  let t = b[p]!;
  if (t < 128) nx = p + 1;
  else t = tagAt(p, end, 0);
  if (t < 8) fail(0, 'invalid tag (field number 0)');
  return t;
}

