/**
 * OTLP/JSON decoding primitives: the JSON path of the value being decoded (for error messages such
 * as `resourceSpans[0].scopeSpans[0].spans[2].attributes[1].value: expected an object`), field
 * lookup under the lowerCamelCase or the proto (snake_case) name, and the scalar types of the proto3
 * JSON mapping with OTLP's exceptions (hex ids, integer or named enums, 64-bit integers as strings
 * or numbers).
 */
import { OtlpDecodeError } from '../../errors.js';

export type Obj = Record<string, unknown>;

/** Keys and array indexes from the document root to the object being decoded. */
export const path: (string | number)[] = [];

/** The JSON path of the current value, plus `key` when given and non-empty (`(root)` for the document). */
export function at(key?: string): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  if (key) s += s ? `.${key}` : key;
  return s || '(root)';
}

/** `name` under `key` (`key` empty: the current value itself). */
export function child(key: string, name: string): string {
  return key ? `${key}.${name}` : name;
}

export function fail(key: string | undefined, message: string): never {
  throw new OtlpDecodeError(`${at(key)}: ${message}`);
}

/** The value of `camel`, else of its proto name `snake`; `undefined` for absent or `null`. */
export function get(o: Obj, camel: string, snake: string): unknown {
  const v = o[camel];
  if (v !== undefined && v !== null) return v;
  const s = o[snake];
  return s === null ? undefined : s;
}

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asObject(v: unknown, key: string | undefined): Obj {
  if (!isObject(v)) fail(key, 'expected an object');
  return v;
}

/** `v` as an array; `[]` when absent. */
export function asArray(v: unknown, key: string): readonly unknown[] {
  if (v === undefined || v === null) return EMPTY;
  if (!Array.isArray(v)) fail(key, 'expected an array');
  return v;
}
const EMPTY: readonly unknown[] = [];

/**
 * Byte offset of the first invalid UTF-8 sequence in the body being decoded, -1 when it has none
 * (set by `parseRoot`, which then parses the body with each invalid sequence as a lone surrogate,
 * so that the string holding it is found and named).
 */
export let invalidUtf8Offset = -1;
/** Whether a string holding an invalid sequence was read, and named in the error. */
export let invalidUtf8Named = false;

/** Starts (or, with -1, ends) the decoding of a body whose first invalid UTF-8 sequence is at byte `offset`. */
export function setInvalidUtf8Offset(offset: number): void {
  invalidUtf8Offset = offset;
  invalidUtf8Named = false;
}

/** `String.prototype.isWellFormed` (ES2024; Node 20 has it). */
interface WellFormed {
  isWellFormed(): boolean;
}

/**
 * A `string` field; `""` when absent. Its text must be Unicode: a lone UTF-16 surrogate, which only
 * a `\ud800`-style escape can produce in a valid body, has no UTF-8 encoding and would leave the
 * gateway as U+FFFD or as bytes that are not UTF-8.
 */
export function str(v: unknown, key: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(key, 'expected a string');
  if (!(v as unknown as WellFormed).isWellFormed()) {
    if (invalidUtf8Offset >= 0) {
      invalidUtf8Named = true;
      fail(key, 'invalid UTF-8');
    }
    fail(key, 'lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair); strings must be Unicode text');
  }
  return v;
}

const UINT_RE = /^\d+$/;
const INT_RE = /^[-+]?\d+$/;

/** A `uint32`/`fixed32`: a number or decimal string in 0..2^32-1; 0 when absent. */
export function u32(v: unknown, key: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && UINT_RE.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    fail(key, `expected an unsigned 32-bit integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** An `int32`: a number or decimal string; 0 when absent. */
export function i32(v: unknown, key: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && INT_RE.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) {
    fail(key, `expected a 32-bit integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** An enum: its integer value (number or decimal string) or its name in `names`; 0 when absent. */
export function enumValue(v: unknown, key: string, names: Readonly<Record<string, number>>): number {
  if (typeof v === 'number') return i32(v, key);
  if (typeof v === 'string' && !INT_RE.test(v)) {
    const n = names[v];
    if (n === undefined) fail(key, `unknown enum value ${JSON.stringify(v)}`);
    return n;
  }
  return i32(v, key);
}


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
export function u64(v: unknown, key: string): string {
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
export function i64(v: unknown, key: string): number | string {
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
export function dbl(v: unknown, key: string): number {
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
export function hexId(v: unknown, key: string, n: number): string {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') fail(key, `expected a hex string, got ${JSON.stringify(v)}`);
  if (v.length !== 2 * n || !(HEX_LOWER_RE.test(v) || HEX_RE.test(v))) {
    fail(key, `expected ${2 * n} hex digits, got ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`);
  }
  return v.toLowerCase();
}

const BASE64_RE = /^[A-Za-z0-9+/\-_]*={0,2}$/;

export function bytes(v: unknown, key: string): Uint8Array {
  if (typeof v !== 'string' || !BASE64_RE.test(v)) fail(key, 'expected a base64 string');
  const b = Buffer.from(v, 'base64');
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}
