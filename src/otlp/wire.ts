/**
 * Wire-level helpers shared by the OTLP codecs: protobuf wire types, hex ids, and conversions
 * between 64-bit integers (as two unsigned 32-bit halves) and decimal strings, without BigInt.
 *
 * Wire types: protobuf encoding guide, "Message Structure".
 */

/** The deepest `AnyValue` nesting accepted (an attribute's own value is level 1). */
export const MAX_ANY_VALUE_DEPTH = 32;

// Wire types (protobuf encoding guide, "Message Structure").
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;
export const WIRE_NAMES = ['VARINT', 'I64', 'LEN', 'SGROUP', 'EGROUP', 'I32', '6', '7'];

// ---------------------------------------------------------------------------------------------
// Hex ids and 64-bit decimal strings
// ---------------------------------------------------------------------------------------------

/** A Buffer over the same bytes as `u` (`u` itself when it is one; never a copy). */
export function bufferOf(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * Lowercase hex of `n` bytes of `buf` from `start`, as one flat string (Node's hex decoder);
 * joining two-digit pieces would make a chain of V8 cons strings, a dozen heap objects for a trace
 * id, kept as long as the event holding it.
 */
export function hexOf(buf: Uint8Array, start: number, n: number): string {
  return bufferOf(buf).toString('hex', start, start + n);
}

/** Nibble value of each ASCII code, or -1 (hex digits, either case). */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) NIBBLE[65 + i] = NIBBLE[97 + i] = 10 + i;

/**
 * Parses a hex id of `n` bytes (`2n` hex digits, either case) into `out`; returns false when `hex`
 * is not exactly that.
 */
export function parseHexId(hex: string, n: number, out: Uint8Array): boolean {
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
/** Digits of `uint64ToDecimal`, written from the end. */
const DIGITS = Buffer.alloc(20);

/**
 * The decimal string of the unsigned 64-bit integer `hi·2^32 + lo` (`lo`, `hi` unsigned 32-bit),
 * computed in three base-10^7 limbs so that no intermediate exceeds 2^53 (no BigInt). The digits
 * are written into a buffer and read as one flat string: joining the limbs' strings would make V8
 * cons strings, five heap objects for a timestamp that an event keeps.
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
  // The upper limbs as one number (under 2^53), then the lowest limb's 7 digits.
  let upper = c * 1e7 + b;
  let p = 20;
  for (let k = 0; k < 7; k++) {
    const q = Math.floor(a / 10);
    DIGITS[--p] = 48 + a - q * 10;
    a = q;
  }
  // high >= 32 here, so upper > 0 and has no leading zeros.
  while (upper > 0) {
    const q = Math.floor(upper / 10);
    DIGITS[--p] = 48 + upper - q * 10;
    upper = q;
  }
  return DIGITS.toString('latin1', p, 20);
}

/** Scratch results of `decimalToUint64` and `int64Bits` (read-only outside this module). */
export let r64lo = 0;
export let r64hi = 0;

/**
 * Parses an unsigned decimal string of at most 2^64-1 into `r64lo`/`r64hi`; false when `s` is not
 * one (empty, non-digits, too large).
 */
export function decimalToUint64(s: string): boolean {
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
export function int64Value(lo: number, hi: number): number | string {
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

/**
 * Parses a signed 64-bit integer (a number, or a decimal string with optional sign) into
 * `r64lo`/`r64hi` as two's complement.
 * @throws TypeError when it is not an integer in the int64 range.
 */
export function int64Bits(v: number | string): void {
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

