/**
 * Protobuf encoding helpers for the OTLP codec: field writers that omit proto3 defaults, 64-bit
 * integers from numbers or decimal strings, the shared messages (`AnyValue`, `KeyValue`,
 * `Resource`, `InstrumentationScope`), and the request → resource → scope nesting of
 * `Export{Trace,Logs}ServiceRequest`.
 */
import protobuf from 'protobufjs/minimal.js';
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from '../../pdata.js';
import { I32, I64, LEN, VARINT, decimalToUint64, int64Bits, parseHexId, r64hi, r64lo } from '../wire.js';

export type Writer = protobuf.Writer;

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
export function writeTimestamp(w: Writer, no: number, s: string | number): void {
  if (s === '0' || s === 0 || s === '') return;
  if (!decimalToUint64(String(s))) throw new TypeError(`invalid timestamp ${JSON.stringify(s)}: expected decimal nanoseconds below 2^64`);
  if (r64lo === 0 && r64hi === 0) return;
  w.uint32(tag(no, I64)).fixed32(r64lo).fixed32(r64hi);
}

export function writeString(w: Writer, no: number, s: string): void {
  if (s) w.uint32(tag(no, LEN)).string(s);
}

export function writeUint32(w: Writer, no: number, v: number): void {
  if (v) w.uint32(tag(no, VARINT)).uint32(v);
}

export function writeEnum(w: Writer, no: number, v: number): void {
  if (v) w.uint32(tag(no, VARINT)).int32(v);
}

export function writeFixed32(w: Writer, no: number, v: number): void {
  if (v) w.uint32(tag(no, I32)).fixed32(v);
}

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
export function writeInt64(w: Writer, v: number | string): void {
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
export function writeAnyValueFields(w: Writer, value: AnyValue): void {
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

/**
 * A fresh protobuf writer (protobufjs `Writer`), for composing other OTLP messages with `tag`,
 * `writeKeyValues`, `writeResource`, `writeScope`, `writeId` and the 64-bit writers
 * (`writeUint64`, `writeFixed64`, `writeSfixed64`); `finish()` returns the bytes.
 */
export function createWriter(): Writer {
  return protobuf.Writer.create();
}

/**
 * Encodes an `Export{Trace,Logs}ServiceRequest`: each of `groups` as field 1 (`resource` = 1, the
 * scope groups `scopesOf(group)` = 2, `schema_url` = 3), each scope group as `scope` = 1, its items
 * `itemsOf(scope group)` = 2 (written by `writeItem`), `schema_url` = 3. Returns the bytes.
 */
export function encodeRequest<R extends { resource: Resource; schemaUrl: string }, S extends { scope: InstrumentationScope; schemaUrl: string }, T>(
  groups: readonly R[],
  scopesOf: (group: R) => readonly S[],
  itemsOf: (scopeGroup: S) => readonly T[],
  writeItem: (w: Writer, item: T) => void,
): Uint8Array {
  const w = protobuf.Writer.create();
  for (const rg of groups) {
    w.uint32(tag(1, LEN)).fork();
    writeResource(w, 1, rg.resource);
    for (const sg of scopesOf(rg)) {
      w.uint32(tag(2, LEN)).fork();
      writeScope(w, 1, sg.scope);
      for (const item of itemsOf(sg)) {
        w.uint32(tag(2, LEN)).fork();
        writeItem(w, item);
        w.ldelim();
      }
      writeString(w, 3, sg.schemaUrl);
      w.ldelim();
    }
    writeString(w, 3, rg.schemaUrl);
    w.ldelim();
  }
  return w.finish();
}
