/**
 * UTF-8 validity of byte ranges. OTLP/protobuf `string` fields must hold valid UTF-8 (proto3:
 * protobuf language guide, "Scalar Value Types": "A string must always contain UTF-8 encoded or
 * 7-bit ASCII text"), and so must an OTLP/JSON body (RFC 8259, §8.1). Decoding invalid bytes with
 * a replacement character would turn two different bad values (two user ids, say) into the same
 * string, so the codecs refuse them instead.
 *
 * Well-formed means the byte sequences of the Unicode Standard's Table 3-7 ("Well-Formed UTF-8
 * Byte Sequences", §3.9): no overlong forms, no encoded surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, no sequence cut short. Node's `buffer.isUtf8` checks the same.
 */
import { isUtf8 } from 'node:buffer';

/**
 * Ranges at least this long, bytes, are checked by Node's native validator: far faster per byte,
 * but each call needs a view of the range (an allocation; about as long as a JavaScript loop over
 * a few hundred bytes).
 */
export const NATIVE_UTF8_FROM = 256;

/**
 * The index of the first byte in [start, end) of `b` that does not begin a well-formed UTF-8
 * sequence lying wholly within the range, or -1 when the range is valid UTF-8.
 */
export function invalidUtf8At(b: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    // Lead byte: the number of continuation bytes, and the range the first of them must be in.
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0xc2) return i; // a continuation byte, or an overlong two-byte lead
    if (c < 0xe0) n = 1;
    else if (c < 0xf0) {
      n = 2;
      if (c === 0xe0) lo = 0xa0; // overlong below U+0800
      else if (c === 0xed) hi = 0x9f; // surrogates U+D800..U+DFFF
    } else if (c < 0xf5) {
      n = 3;
      if (c === 0xf0) lo = 0x90; // overlong below U+10000
      else if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + n >= end) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= n; k++) {
      const ck = b[i + k]!;
      if (ck < 0x80 || ck > 0xbf) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** Whether bytes [start, end) of `b` are valid UTF-8. Allocates only for long ranges. */
export function isUtf8Range(b: Uint8Array, start: number, end: number): boolean {
  if (end - start >= NATIVE_UTF8_FROM) return isUtf8(new Uint8Array(b.buffer, b.byteOffset + start, end - start));
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return invalidUtf8At(b, i, end) < 0;
  return true;
}
