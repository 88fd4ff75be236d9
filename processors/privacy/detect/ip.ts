/**
 * The `ipv4` and `ipv6` detectors, and IP truncation: dotted quads (RFC 791 / inet_pton) and
 * RFC 4291 §2.2 text forms; truncation zeroes host bits and prints RFC 5952 text.
 *
 * The parsers write into the module's {@link V4} / {@link V6} buffers (no allocation per match).
 */
import { DEFAULT_IPV4_PREFIX_BITS, DEFAULT_IPV6_PREFIX_BITS } from './types.js';
import { hexVal, isDigitCode, isWordCode, M } from './chars.js';

export const V4 = new Uint8Array(4);

/** Parses a dotted quad at `i` into {@link V4}; returns the end index or -1. No boundary checks. */
export function parseIPv4At(s: string, i: number, n: number): number {
  let j = i;
  for (let o = 0; o < 4; o++) {
    if (o > 0) {
      if (j >= n || s.charCodeAt(j) !== 46) return -1;
      j++;
    }
    const start = j;
    let v = 0;
    while (j < n && j - start < 3) {
      const c = s.charCodeAt(j);
      if (!isDigitCode(c)) break;
      v = v * 10 + (c - 48);
      j++;
    }
    const len = j - start;
    if (len === 0 || v > 255 || (len > 1 && s.charCodeAt(start) === 48)) return -1;
    if (j < n && isDigitCode(s.charCodeAt(j))) return -1;
    V4[o] = v;
  }
  return j;
}

export function matchIPv4(s: string, i: number, n: number): number {
  if (i > 0 && s.charCodeAt(i - 1) === 46) return -1; // part of a longer dotted number
  // Cheap pre-check: a dot within the first four characters.
  const c1 = i + 1 < n ? s.charCodeAt(i + 1) : 0;
  const c2 = i + 2 < n ? s.charCodeAt(i + 2) : 0;
  const c3 = i + 3 < n ? s.charCodeAt(i + 3) : 0;
  if (c1 !== 46 && c2 !== 46 && c3 !== 46) return -1;
  const end = parseIPv4At(s, i, n);
  if (end < 0) return -1;
  if (end < n) {
    const c = s.charCodeAt(end);
    if (c === 46 && end + 1 < n && isDigitCode(s.charCodeAt(end + 1))) return -1; // 1.2.3.4.5
    if (isWordCode(c)) return -1;
  }
  if (afterVersionWord(s, i)) return -1;
  M.start = i;
  return end;
}

/**
 * Whether a word ending in `version` or `build` (or the word `ver`) comes right before `i`, with
 * at most four of ` :="'` between: `version 2.14.0.7`, `app_version=2.14.0.7`,
 * `"buildVersion":"2.14.0.7"`. A dotted quad there is a version number, not an address.
 */
function afterVersionWord(s: string, i: number): boolean {
  let k = i;
  const stop = i > 4 ? i - 4 : 0;
  while (k > stop) {
    const c = s.charCodeAt(k - 1);
    if (c !== 32 && c !== 58 && c !== 61 && c !== 34 && c !== 39) break;
    k--;
  }
  if (k === i && i > 0 && s.charCodeAt(i - 1) !== 95) return false;
  if (k < 3) return false;
  const tail = s.slice(k > 7 ? k - 7 : 0, k).toLowerCase();
  if (tail.endsWith('version') || tail.endsWith('build')) return true;
  return tail.endsWith('ver') && (k === 3 || !isWordCode(s.charCodeAt(k - 4)));
}

// ---------------------------------------------------------------------------------------------
// IPv6 (RFC 4291 §2.2)

export const V6 = new Uint16Array(8);

/** Parses `s[a, b)` as an IPv6 address into {@link V6}. */
export function parseIPv6(s: string, a: number, b: number): boolean {
  let count = 0;
  let dc = -1; // group index where "::" stands
  let p = a;
  if (p < b && s.charCodeAt(p) === 58) {
    if (p + 1 >= b || s.charCodeAt(p + 1) !== 58) return false;
    dc = 0;
    p += 2;
  }
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  while (p < b) {
    const start = p;
    let v = 0;
    while (p < b && p - start < 4) {
      const h = hexVal(s.charCodeAt(p));
      if (h < 0) break;
      v = v * 16 + h;
      p++;
    }
    if (p < b && s.charCodeAt(p) === 46) {
      // Embedded IPv4 tail: the last 32 bits.
      if (count > 6 || parseIPv4At(s, start, b) !== b) return false;
      groups[count++] = (V4[0]! << 8) | V4[1]!;
      groups[count++] = (V4[2]! << 8) | V4[3]!;
      p = b;
      break;
    }
    if (p === start || count >= 8) return false;
    if (p < b && hexVal(s.charCodeAt(p)) >= 0) return false; // more than four hex digits
    groups[count++] = v;
    if (p === b) break;
    if (s.charCodeAt(p) !== 58) return false;
    p++;
    if (p < b && s.charCodeAt(p) === 58) {
      if (dc >= 0) return false;
      dc = count;
      p++;
    } else if (p === b) {
      return false; // trailing single ":"
    }
  }
  if (dc < 0 ? count !== 8 : count > 7) return false;
  V6.fill(0);
  if (dc < 0) {
    for (let k = 0; k < 8; k++) V6[k] = groups[k]!;
  } else {
    for (let k = 0; k < dc; k++) V6[k] = groups[k]!;
    const tail = count - dc;
    for (let k = 0; k < tail; k++) V6[8 - tail + k] = groups[dc + k]!;
  }
  return true;
}

export function matchIPv6(s: string, i: number, n: number): number {
  if (i > 0) {
    const p = s.charCodeAt(i - 1);
    if (p === 58 || p === 46 || isWordCode(p)) return -1;
  }
  // Cheap pre-check: "::" at i, or a ":" after at most four hex digits.
  let k = i;
  while (k < n && k - i < 4 && hexVal(s.charCodeAt(k)) >= 0) k++;
  if (k >= n || s.charCodeAt(k) !== 58) return -1;
  if (k === i && (k + 1 >= n || s.charCodeAt(k + 1) !== 58)) return -1;
  let j = k;
  let hex = k > i;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c === 58 || c === 46) {
      j++;
      continue;
    }
    if (hexVal(c) < 0) break;
    hex = true;
    j++;
  }
  if (!hex) return -1; // "::" alone (the unspecified address) is not personal data
  // Glued to a word ("fe80::1g") is not an address.
  if (j < n && isWordCode(s.charCodeAt(j))) return -1;
  // A trailing "." ends a sentence; a trailing single ":" separates a label.
  while (j > i && s.charCodeAt(j - 1) === 46) j--;
  if (s.charCodeAt(j - 1) === 58 && s.charCodeAt(j - 2) !== 58) j--;
  if (!parseIPv6(s, i, j)) return -1;
  M.start = i;
  return j;
}

// ---------------------------------------------------------------------------------------------
// Truncation and RFC 5952 text

/** RFC 5952 text of {@link V6} (lowercase, longest run of two or more zero groups as `::`). */
export function formatV6(g: Uint16Array): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestAt = k;
      bestLen = e - k;
    }
    k = e;
  }
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestAt) {
      out += '::';
      k += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(':')) out += ':';
    out += g[k]!.toString(16);
  }
  return out;
}

function isV4Mapped(g: Uint16Array): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

export function maskV4(bits: number): string {
  const v = ((V4[0]! << 24) | (V4[1]! << 16) | (V4[2]! << 8) | V4[3]!) >>> 0;
  const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const t = (v & m) >>> 0;
  return `${t >>> 24}.${(t >>> 16) & 255}.${(t >>> 8) & 255}.${t & 255}`;
}

/**
 * Zeroes the host bits of an IPv4 address: `truncateIPv4('203.0.113.7')` → `'203.0.113.0'`.
 * @param prefixBits 0–32, default {@link DEFAULT_IPV4_PREFIX_BITS}.
 * @throws Error when `address` is not a dotted-quad IPv4 address.
 */
export function truncateIPv4(address: string, prefixBits = DEFAULT_IPV4_PREFIX_BITS): string {
  if (parseIPv4At(address, 0, address.length) !== address.length) throw new Error(`not an IPv4 address: ${JSON.stringify(address)}`);
  return maskV4(prefixBits);
}

/**
 * Zeroes the bits of an IPv6 address after `prefixBits` and returns RFC 5952 text:
 * `truncateIPv6('2001:db8:85a3:8d3:1319:8a2e:370:7348')` → `'2001:db8:85a3::'`.
 * An IPv4-mapped address (`::ffff:203.0.113.7`) keeps its mapping and has its IPv4 part
 * truncated to `ipv4PrefixBits` instead (`::ffff:203.0.113.0`).
 * @throws Error when `address` is not an IPv6 address.
 */
export function truncateIPv6(
  address: string,
  prefixBits = DEFAULT_IPV6_PREFIX_BITS,
  ipv4PrefixBits = DEFAULT_IPV4_PREFIX_BITS,
): string {
  if (!parseIPv6(address, 0, address.length)) throw new Error(`not an IPv6 address: ${JSON.stringify(address)}`);
  return truncateV6(prefixBits, ipv4PrefixBits);
}

export function truncateV6(bits: number, v4bits: number): string {
  if (isV4Mapped(V6)) {
    V4[0] = V6[6]! >>> 8;
    V4[1] = V6[6]! & 255;
    V4[2] = V6[7]! >>> 8;
    V4[3] = V6[7]! & 255;
    return '::ffff:' + maskV4(v4bits);
  }
  for (let k = 0; k < 8; k++) {
    const lo = k * 16;
    if (bits >= lo + 16) continue;
    V6[k] = bits <= lo ? 0 : V6[k]! & ((0xffff << (16 - (bits - lo))) & 0xffff);
  }
  return formatV6(V6);
}

