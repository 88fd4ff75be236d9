/**
 * Protobuf decoding primitives for the OTLP codec: a reader over the request bytes, the proto path
 * of the current position (for error messages such as
 * `resource_spans[0].scope_spans[1].spans[3].trace_id: expected 16 bytes, got 5`), and readers of
 * the scalar field types OTLP uses, each checking the wire type.
 */
import protobuf from 'protobufjs/minimal.js';
import { OtlpDecodeError } from '../../errors.js';
import { invalidUtf8At, isUtf8Range } from '../utf8.js';
import { I32, I64, LEN, VARINT, WIRE_NAMES, bufferOf, hexOf, int64Value, uint64ToDecimal } from '../wire.js';

export type Reader = protobuf.Reader;


/** Proto field names by number, per message, for error messages. */
export type FieldNames = readonly (string | undefined)[];
export function names(m: Record<number, string>): FieldNames {
  const a: (string | undefined)[] = [];
  for (const k of Object.keys(m)) a[Number(k)] = m[Number(k)];
  return a;
}

// The frames of the current decode: frame 0 is the request, frame i > 0 a nested message reached
// through field `frameName[i]` (element `frameIndex[i]` when repeated, else -1).
const frameName: string[] = [''];
const frameIndex: number[] = [-1];
const frameFields: FieldNames[] = [[]];
let depth = 1;
/** Number of the field being read in the innermost message; 0 between fields. */
export let fieldNo = 0;

export function startDecode(root: FieldNames): void {
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

export function fail(message: string): never {
  throw new OtlpDecodeError(`${where()}: ${message}`);
}

export function wrongWireType(wt: number, expected: number): never {
  fail(`wrong wire type ${WIRE_NAMES[wt]} (expected ${WIRE_NAMES[expected]})`);
}

/** Any failure inside a decode, as an `OtlpDecodeError` naming the current path. */
export function toDecodeError(err: unknown): OtlpDecodeError {
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
export function enter(r: Reader, wt: number, name: string, index: number, fields: FieldNames): number {
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

export function leave(r: Reader, saved: number): void {
  r.len = saved;
  depth--;
  fieldNo = 0;
}

/** Reads a field tag; sets `fieldNo`; returns the wire type. */
export function readTag(r: Reader): number {
  fieldNo = 0;
  const tag = r.tag();
  fieldNo = tag >>> 3;
  if (fieldNo === 0) fail('invalid tag (field number 0)');
  return tag & 7;
}

export function skip(r: Reader, wt: number): void {
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

/**
 * A `string` field.
 *
 * @throws OtlpDecodeError `<path>: invalid UTF-8` when its bytes are not valid UTF-8 (proto3
 *   `string` fields must be; see `../utf8.ts`).
 */
export function readString(r: Reader, wt: number): string {
  if (wt !== LEN) wrongWireType(wt, LEN);
  const len = r.size();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) fail(`length ${len} runs past the end of the enclosing message (${r.len - start} bytes left)`);
  r.pos = end;
  return stringAt(r.buf, start, end) ?? fail('invalid UTF-8');
}

/**
 * The UTF-8 string in bytes [start, end) of `b`, a Node `Buffer`; undefined when the bytes are
 * not valid UTF-8.
 *
 * ASCII needs no check. Other bytes are decoded first: Node's decoder turns every invalid sequence
 * into U+FFFD, so a string without U+FFFD came from valid bytes, and only one with it (sent as
 * such, or replaced) has its bytes checked. Short non-ASCII strings are checked from their first
 * non-ASCII byte instead.
 */
export function stringAt(b: Uint8Array, start: number, end: number): string | undefined {
  const len = end - start;
  if (len > STRING_CACHE_MAX_LEN) {
    const s = (b as unknown as NodeBufferSlices).utf8Slice(start, end);
    return s.indexOf('\uFFFD') < 0 || isUtf8Range(b, start, end) ? s : undefined;
  }
  let h = len;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 128) return invalidUtf8At(b, i, end) < 0 ? (b as unknown as NodeBufferSlices).utf8Slice(start, end) : undefined;
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

export function readUint32(r: Reader, wt: number): number {
  if (wt !== VARINT) wrongWireType(wt, VARINT);
  return r.uint32();
}

export function readEnum(r: Reader, wt: number): number {
  if (wt !== VARINT) wrongWireType(wt, VARINT);
  return r.int32();
}

export function readFixed32(r: Reader, wt: number): number {
  if (wt !== I32) wrongWireType(wt, I32);
  return r.fixed32();
}

/** A `fixed64` nanosecond timestamp as its decimal string. */
export function readTimestamp(r: Reader, wt: number): string {
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
export function readId(r: Reader, wt: number, n: number): string {
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

/** A varint `int64` as pdata's `intValue` (a number when safe, else its signed decimal string). */
export function readInt64(r: Reader): number | string {
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
      return int64Value(lo >>> 0, 0);
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
  return int64Value(lo >>> 0, hi >>> 0);
}

export function readBytesCopy(r: Reader, wt: number): Uint8Array {
  if (wt !== LEN) wrongWireType(wt, LEN);
  const len = r.size();
  const start = r.pos;
  if (start + len > r.len) fail(`length ${len} runs past the end of the enclosing message (${r.len - start} bytes left)`);
  r.pos = start + len;
  const out = new Uint8Array(len);
  out.set(new Uint8Array(r.buf.buffer, r.buf.byteOffset + start, len));
  return out;
}

/** A reader over `buf` (a Node `Buffer` view, so strings decode natively; no copy). */
export function readerOf(buf: Uint8Array): Reader {
  if (!(buf instanceof Uint8Array)) throw new OtlpDecodeError('request: body is not a byte array');
  return protobuf.Reader.create(bufferOf(buf));
}

/** Skips every field of the current message, checking its framing. */
export function skipMessage(r: Reader): void {
  while (r.pos < r.len) skip(r, readTag(r));
}

