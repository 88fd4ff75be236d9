/**
 * PII detection by value: a compiled scanner that finds and replaces e-mail addresses, IP
 * addresses, payment card numbers, IBANs, international phone numbers, bearer/basic credentials and
 * JWTs inside strings, URLs and query strings.
 *
 * Everything is compiled once by {@link compileValueScanner}. Per string, a pre-check (one small
 * regular expression: is there a digit, `@`, `:`, `%`, `eyJ` or an auth scheme at all?) rejects
 * most text; otherwise the scanner walks the characters once, and a detector runs only where its
 * match can start (a digit or letter at the start of a word, `+`, `:`, `@`), so ordinary text costs
 * one table lookup per character. A string without findings allocates nothing (`scan` returns
 * `null`). Candidates are validated (octet ranges, Luhn, mod-97, card-brand ranges, JWT header)
 * before anything is replaced.
 *
 * Detection rules and their sources:
 * - `email`: RFC 5322 addr-spec, "lite": local part of letters, digits and `. _ + -`, a domain of
 *   dot-separated labels (letters, digits, hyphens; internationalised letters allowed) ending in an
 *   alphabetic TLD (or `xn--`). Quoted local parts and IP-literal domains are not detected; nor are
 *   `name@2x.png`-style file names (a TLD that is a common file extension).
 * - `ipv4`: dotted quad (RFC 791 / inet_pton), each octet 0–255 without leading zeros, not part of
 *   a longer dotted number (`1.2.3.4.5`) and not preceded by a letter (`v1.2.3.4`).
 * - `ipv6`: RFC 4291 §2.2 text forms, including `::` compression and an embedded IPv4 tail.
 * - `card`: ISO/IEC 7812 primary account numbers of 13–19 digits, optionally grouped by single
 *   spaces or dashes (groups of at most six digits), not signed (`-5851…`) and not the fraction of
 *   a decimal (`0.4111…`). The Luhn check digit (ISO/IEC 7812-1 Annex B) must be valid AND the
 *   number must fall into a card brand's IIN range with that brand's length (Visa, Mastercard,
 *   American Express, Diners Club, Discover, JCB, UnionPay, Maestro, Mir, RuPay). No brand starts
 *   with 1 (UATP is left out on purpose), so 19-digit nanosecond and 13-digit millisecond
 *   timestamps never match.
 * - `iban`: ISO 13616: country code, 2 check digits, BBAN; the length must equal the country's
 *   length in the SWIFT IBAN registry, countries whose BBAN is all digits must have digits only,
 *   and the mod-97 check (ISO 7064 MOD 97-10) must give 1. Upper or lower case; unspaced or in
 *   groups of four separated by single spaces.
 * - `phone`: E.164 numbers written internationally: a leading `+` or `00`, then 8–15 digits
 *   (country code included) in groups separated by single spaces, dashes or dots, optionally with a
 *   `(0)` trunk prefix or a parenthesised area code (`+44 (0)20 7946 0958`, `+1 (415) 555-0199`);
 *   when grouped, the first group is the country code (at most 5 digits after `+`, 3 after `00`).
 *   The `00` form needs at least one separator (so zero-padded ids are left alone) and is not a
 *   group of a longer grouped number; an unseparated `+` form needs 10+ digits; and
 *   `+1.234.567.890` (dots with groups of three: a number with thousands separators) is left alone.
 *   National formats (`030 1234567`) are not detected.
 * - `bearer`: the credentials after the `Bearer` (RFC 6750 §2.1, b64token) or `Basic` (RFC 7617)
 *   authentication scheme. After `Authorization:` any Bearer token counts; elsewhere the token must
 *   be 16+ characters with a digit. A Basic credential must base64-decode to printable `user:pass`.
 *   Only the credential is replaced: `Authorization: Bearer [token]`.
 * - `jwt`: RFC 7519 JWTs in JWS (RFC 7515, three segments) or JWE (RFC 7516, five segments)
 *   compact serialisation: base64url segments whose first starts with `eyJ` and decodes to a JSON
 *   object with an `alg` member.
 *
 * Percent-encoded text (RFC 3986 §2.1, and `application/x-www-form-urlencoded` query strings where
 * `+` is a space) is decoded piecewise, so `jane.doe%40example.com` and `%2B49%20151%2023456789`
 * are found too; see {@link ValueScanner.scan}.
 *
 * Not detected by value (key rules or an allow list must cover these): names of people and postal
 * addresses in free text (`jane doe` in a search term stays), national phone formats, quoted e-mail
 * local parts, account numbers that are not IBANs, card numbers grouped other than by single spaces
 * or dashes, PII inside base64/hex or double percent-encoding. Conversely, a random numeric id that
 * falls into a card brand's range with a valid Luhn digit (about 1 in 10 of those) is masked.
 */
import type { KeyMatcher } from './keys.js';

/** Names of the value detectors. */
export type DetectorName = 'email' | 'ipv4' | 'ipv6' | 'card' | 'iban' | 'phone' | 'bearer' | 'jwt';

/** All detector names. */
export const DETECTOR_NAMES: readonly DetectorName[] = Object.freeze([
  'email',
  'ipv4',
  'ipv6',
  'card',
  'iban',
  'phone',
  'bearer',
  'jwt',
] as const);

/**
 * What happens to a value detector's match:
 * - `mask`: replaced by the detector's mask ({@link MASKS});
 * - `drop`: the match is masked and the result says `drop: true` (the caller drops the attribute;
 *   in a query string only the parameter is removed);
 * - `pseudonymize`: replaced by the pseudonym of its canonical form (see {@link canonicalForm});
 * - `truncate`: IPs only: the address with its host bits zeroed (`203.0.113.7` → `203.0.113.0`).
 */
export type ValueAction = 'mask' | 'drop' | 'pseudonymize' | 'truncate';

/** What happens to a query parameter whose name is blocked by the key rules. */
export type KeyAction = 'drop' | 'mask' | 'pseudonymize';

/** Per-detector settings. */
export interface DetectorOptions {
  action: ValueAction;
}

/** Replacement text of each detector for the `mask` and `drop` actions. */
export const MASKS: Readonly<Record<DetectorName, string>> = Object.freeze({
  email: '[email]',
  ipv4: '[ipv4]',
  ipv6: '[ipv6]',
  card: '[card]',
  iban: '[iban]',
  phone: '[phone]',
  bearer: '[token]',
  jwt: '[jwt]',
});

/** Replacement of a query parameter's value whose key is blocked and whose key action is `mask`. */
export const KEY_MASK = '[redacted]';

/** Default IPv4 truncation: keep the /24 network (`203.0.113.7` → `203.0.113.0`). */
export const DEFAULT_IPV4_PREFIX_BITS = 24;
/** Default IPv6 truncation: keep the /48 network (`2001:db8:85a3:8d3::7` → `2001:db8:85a3::`). */
export const DEFAULT_IPV6_PREFIX_BITS = 48;

/** All detectors on: IPs truncated, everything else masked. Needs no pseudonymiser. */
export const DEFAULT_DETECTORS: Readonly<Record<DetectorName, Readonly<DetectorOptions>>> = Object.freeze({
  email: Object.freeze({ action: 'mask' }),
  ipv4: Object.freeze({ action: 'truncate' }),
  ipv6: Object.freeze({ action: 'truncate' }),
  card: Object.freeze({ action: 'mask' }),
  iban: Object.freeze({ action: 'mask' }),
  phone: Object.freeze({ action: 'mask' }),
  bearer: Object.freeze({ action: 'mask' }),
  jwt: Object.freeze({ action: 'mask' }),
});

export interface ValueScannerOptions {
  /** Enabled detectors and their actions; absent detectors are off. Default {@link DEFAULT_DETECTORS}. */
  detectors?: Partial<Record<DetectorName, DetectorOptions>>;
  /** Maps a canonical match to its pseudonym. Required when any action is `pseudonymize`. */
  pseudonymize?: (value: string) => string;
  /** IPv4 `truncate` prefix length in bits, 0–32. Default {@link DEFAULT_IPV4_PREFIX_BITS}. */
  ipv4PrefixBits?: number;
  /** IPv6 `truncate` prefix length in bits, 0–128. Default {@link DEFAULT_IPV6_PREFIX_BITS}. */
  ipv6PrefixBits?: number;
  /** Called once per replaced match, e.g. to count matches per detector and action for metrics. */
  onHit?: (detector: DetectorName, action: ValueAction) => void;
  /**
   * Key rules for query parameter names in {@link ValueScanner.scrubUrl} / {@link ValueScanner.scrubQuery}:
   * a parameter whose decoded name is `blocked` is removed (`drop`, the default), gets the value
   * {@link KEY_MASK} (`mask`) or a pseudonym of its decoded value (`pseudonymize`); `onHit` is
   * called with the action (never with the key or value). Without it no key rules apply.
   */
  queryKeys?: {
    match: KeyMatcher;
    action?: KeyAction;
    onHit?: (action: KeyAction) => void;
  };
}

/** A string with its findings replaced. */
export interface ScanResult {
  /** The string with every match replaced (also when `drop` is set). */
  value: string;
  /** True when a match's action is `drop`: the caller should drop the whole attribute/value. */
  drop: boolean;
  /** Number of replaced matches and removed/masked query parameters (≥ 1). */
  hits: number;
}

export interface ValueScanner {
  /**
   * Scans free text (attribute values, span names, log bodies). Besides the raw text, each
   * whitespace-delimited run that contains percent-escapes is decoded component by component
   * (path segments, query values with `+` as space) and scanned again; changed components are
   * re-encoded. Key rules do not apply here.
   * @returns `null` when nothing was found (no allocation), else the replaced string.
   */
  scan(s: string): ScanResult | null;
  /**
   * Scrubs a URL or URL part (`url.full`, `http.target`, `url.path`; a string without `?` or `/`
   * that contains `=` is treated as a query string): authority (user-info password → bearer
   * detector; host scanned for IPs), every path segment (percent-decoded), query parameters (key
   * rules, then value detectors on the decoded value) and the fragment (like a query string when it
   * contains `=`, as in OAuth implicit-flow redirects). Unchanged parts keep their exact text;
   * changed values are re-encoded (`[`, `]` and `:` stay literal so masks and pseudonyms read well).
   * A `drop` match inside a query parameter removes that parameter; elsewhere it sets `drop`.
   * @returns `null` when nothing was found or removed.
   */
  scrubUrl(url: string): ScanResult | null;
  /** Like {@link scrubUrl} for a bare query string (`url.query`), with or without a leading `?`. */
  scrubQuery(query: string): ScanResult | null;
  /** The enabled detectors. */
  readonly detectors: readonly DetectorName[];
}

// ---------------------------------------------------------------------------------------------
// Character classes (ASCII)

const C_DIGIT = 1;
const C_LETTER = 2;
const C_HEX = 4; // 0-9 a-f A-F
const C_WORD = 8; // [A-Za-z0-9_]
const C_LOCAL = 16; // e-mail local part (lite): [A-Za-z0-9._+-]
const C_B64URL = 32; // [A-Za-z0-9_-]
const C_TOKEN = 64; // RFC 6750 b64token: [A-Za-z0-9-._~+/]
const C_B64 = 128; // RFC 4648 §4 base64: [A-Za-z0-9+/]

const CT = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  let k = 0;
  const digit = c >= 48 && c <= 57;
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (digit) k |= C_DIGIT;
  if (letter) k |= C_LETTER;
  if (digit || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)) k |= C_HEX;
  if (digit || letter || ch === '_') k |= C_WORD | C_B64URL;
  if (ch === '-') k |= C_B64URL;
  if (digit || letter || '._+-'.includes(ch)) k |= C_LOCAL;
  if (digit || letter || '-._~+/'.includes(ch)) k |= C_TOKEN;
  if (digit || letter || ch === '+' || ch === '/') k |= C_B64;
  CT[c] = k;
}

/** Letters and digits of any script count as word characters; punctuation, symbols, spaces do not. */
function isWordCode(c: number): boolean {
  if (c < 128) return (CT[c]! & C_WORD) !== 0;
  if (c < 0xc0 || c === 0xd7 || c === 0xf7) return false; // Latin-1 punctuation, NBSP, × ÷
  if (c >= 0x2000 && c <= 0x2bff) return false; // general punctuation, currency, arrows, math
  if ((c >= 0x3000 && c <= 0x303f) || c === 0xfeff) return false; // CJK punctuation, BOM
  if (c >= 0xd800 && c <= 0xdfff) return false; // surrogates (emoji)
  return true;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Index of the last character of the word that contains `i`. */
function skipWord(s: string, i: number, n: number): number {
  let j = i + 1;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c < 128 ? (CT[c]! & C_WORD) === 0 : !isWordCode(c)) break;
    j++;
  }
  return j - 1;
}

/** Whether a ":" follows within the next five characters (an IPv6 group has at most four digits). */
function colonWithin5(s: string, i: number, n: number): boolean {
  const e = i + 5 < n ? i + 5 : n;
  for (let k = i; k < e; k++) if (s.charCodeAt(k) === 58) return true;
  return false;
}

/** Start index of the last match (set by the matchers, which return the end index or -1). */
let mStart = 0;

// ---------------------------------------------------------------------------------------------
// e-mail (RFC 5322 addr-spec, lite)

const DOMAIN_RE =
  /(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})(?![\p{L}\p{N}_-])/iuy;
/** Common file extensions that are not top-level domains (`logo@2x.png`). */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'avif', 'ico', 'bmp', 'tif', 'tiff', 'heic',
  'js', 'mjs', 'cjs', 'ts', 'css', 'map', 'html', 'htm', 'json', 'xml', 'txt', 'pdf', 'csv',
  'yaml', 'yml', 'woff', 'woff2', 'ttf', 'eot', 'mp3', 'mp4', 'webm', 'wasm', 'gz',
]);
const NON_ASCII_WORD_RE = /[\p{L}\p{N}]/u;

/** `at` is the index of `@`; the local part is searched back to `floor`. */
function matchEmail(s: string, at: number, n: number, floor: number): number {
  let a = at;
  while (a > floor) {
    const c = s.charCodeAt(a - 1);
    if (c < 128 ? (CT[c]! & C_LOCAL) === 0 : !NON_ASCII_WORD_RE.test(s[a - 1]!)) break;
    a--;
  }
  while (a < at && s.charCodeAt(a) === 46) a++; // a local part does not start with "."
  if (a === at || at + 1 >= n) return -1;
  DOMAIN_RE.lastIndex = at + 1;
  if (!DOMAIN_RE.test(s)) return -1;
  const end = DOMAIN_RE.lastIndex;
  const tld = s.slice(s.lastIndexOf('.', end - 1) + 1, end).toLowerCase();
  if (FILE_EXTENSIONS.has(tld)) return -1;
  mStart = a;
  return end;
}

// ---------------------------------------------------------------------------------------------
// IPv4 (dotted quad)

const V4 = new Uint8Array(4);

/** Parses a dotted quad at `i` into {@link V4}; returns the end index or -1. No boundary checks. */
function parseIPv4At(s: string, i: number, n: number): number {
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

function matchIPv4(s: string, i: number, n: number): number {
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
  mStart = i;
  return end;
}

// ---------------------------------------------------------------------------------------------
// IPv6 (RFC 4291 §2.2)

const V6 = new Uint16Array(8);

/** Parses `s[a, b)` as an IPv6 address into {@link V6}. */
function parseIPv6(s: string, a: number, b: number): boolean {
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

function matchIPv6(s: string, i: number, n: number): number {
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
  mStart = i;
  return j;
}

// ---------------------------------------------------------------------------------------------
// Payment cards (ISO/IEC 7812)

const DIG = new Uint8Array(32);
const BND_DIGITS = new Int32Array(32);
const BND_END = new Int32Array(32);
const BND_MAXG = new Int32Array(32);

/** Luhn (ISO/IEC 7812-1 Annex B) over `DIG[0, len)`. */
function luhnDigits(len: number): boolean {
  let sum = 0;
  let dbl = false;
  for (let k = len - 1; k >= 0; k--) {
    let d = DIG[k]!;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** Whether `DIG[0, len)` falls into a card brand's IIN range with that brand's lengths. */
function cardBrandDigits(len: number): boolean {
  const p1 = DIG[0]!;
  const p2 = p1 * 10 + DIG[1]!;
  const p3 = p2 * 10 + DIG[2]!;
  const p4 = p3 * 10 + DIG[3]!;
  switch (p1) {
    case 2: // Mastercard 2-series (16), Mir 2200–2204 (16–19)
      return (p4 >= 2221 && p4 <= 2720 && len === 16) || (p4 >= 2200 && p4 <= 2204 && len >= 16 && len <= 19);
    case 3:
      if (p2 === 34 || p2 === 37) return len === 15; // American Express
      if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14 && len <= 19; // Diners Club
      if (p4 >= 3528 && p4 <= 3589) return len >= 16 && len <= 19; // JCB
      if (p3 === 353 || p3 === 356) return len === 16; // RuPay
      return false;
    case 4: // Visa
      return len === 13 || len === 16 || len === 19;
    case 5: // Mastercard 51–55 (16); Maestro 50, 56–58 (13–19)
      if (p2 >= 51 && p2 <= 55) return len === 16;
      return (p2 === 50 || (p2 >= 56 && p2 <= 58)) && len >= 13 && len <= 19;
    case 6: // Discover 60/64/65, UnionPay 62, Maestro 63/67, RuPay 60/65, Troy 65: 13–19
      return len >= 13 && len <= 19 && (p2 === 60 || p2 === 62 || p2 === 63 || p2 === 65 || p2 === 67 || (p3 >= 644 && p3 <= 649));
    case 8: // RuPay 81, 82
      return (p2 === 81 || p2 === 82) && len === 16;
    default:
      return false;
  }
}

function matchCard(s: string, i: number, n: number): number {
  if (i >= 1) {
    const p = s.charCodeAt(i - 1);
    if ((p === 46 || p === 44) && i >= 2 && isDigitCode(s.charCodeAt(i - 2))) return -1; // 0.4111… (a decimal)
    if ((p === 45 || p === 43) && (i === 1 || !isWordCode(s.charCodeAt(i - 2)))) return -1; // -5851…: a signed number
  }
  let j = i;
  let nd = 0;
  let nb = 0;
  let maxGroup = 0;
  for (;;) {
    const gs = j;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (!isDigitCode(c)) break;
      if (nd < 32) DIG[nd] = c - 48;
      nd++;
      j++;
    }
    if (j - gs > maxGroup) maxGroup = j - gs;
    if (nb < 32) {
      BND_DIGITS[nb] = nd;
      BND_END[nb] = j;
      BND_MAXG[nb] = maxGroup;
      nb++;
    }
    if (nd >= 24 || j + 1 >= n) break;
    const sep = s.charCodeAt(j);
    if ((sep === 32 || sep === 45) && isDigitCode(s.charCodeAt(j + 1))) {
      j++;
      continue;
    }
    break;
  }
  if (nd < 13) return -1;
  // The full extent must end at a boundary; shorter candidates end at a group separator.
  let lastOk = true;
  if (j < n) {
    const c = s.charCodeAt(j);
    if (isWordCode(c) || ((c === 46 || c === 44) && j + 1 < n && isDigitCode(s.charCodeAt(j + 1)))) lastOk = false;
  }
  for (let b = nb - 1; b >= 0; b--) {
    const len = BND_DIGITS[b]!;
    if (len < 13) break;
    if (len > 19 || (b === nb - 1 && !lastOk)) continue;
    // Grouped numbers use groups of at most six digits (4-4-4-4, 4-6-5); a UUID's 8-4-4-4-12 is not a card.
    if (b > 0 && BND_MAXG[b]! > 6) continue;
    if (cardBrandDigits(len) && luhnDigits(len)) {
      mStart = i;
      return BND_END[b]!;
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// IBAN (ISO 13616, SWIFT IBAN registry)

/** IBAN length per country (SWIFT IBAN registry); `*` marks countries whose BBAN is all digits. */
const IBAN_REGISTRY =
  'AD24 AE23* AL28 AT20* AZ28 BA20* BE16* BG22 BH22 BI27* BR29 BY28 CH21 CR22* CY28 CZ24* DE22* ' +
  'DJ27* DK18* DO28 EE20* EG29* ES24* FI18* FK18 FO18* FR27 GB22 GE22 GI23 GL18* GR27 GT28 HR21* ' +
  'HU28* IE22 IL23* IQ23 IS26* IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20* LU20 LV21 LY25* MC27 MD24 ' +
  'ME22* MK19 MN20* MR27* MT31 MU30 NI28 NL18 NO15* OM23 PK24 PL28* PS29 PT25* QA29 RO24 RS22* ' +
  'RU33 SA24 SC31 SD18* SE24* SI19* SK24* SM27 SO23* ST25* SV28 TL23* TN24* TR26 UA29 VA22* VG24 ' +
  'XK20* YE30';
const IBAN_LEN = new Uint8Array(26 * 26);
const IBAN_NUMERIC = new Uint8Array(26 * 26);
for (const e of IBAN_REGISTRY.split(' ')) {
  const idx = (e.charCodeAt(0) - 65) * 26 + (e.charCodeAt(1) - 65);
  IBAN_LEN[idx] = Number.parseInt(e.slice(2), 10);
  IBAN_NUMERIC[idx] = e.endsWith('*') ? 1 : 0;
}
const IBAN_VALS = new Uint8Array(40);

function alnumVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 90) return c - 55;
  if (c >= 97 && c <= 122) return c - 87;
  return -1;
}

function matchIban(s: string, i: number, n: number): number {
  if (i + 15 > n) return -1;
  if (!isDigitCode(s.charCodeAt(i + 2)) || !isDigitCode(s.charCodeAt(i + 3))) return -1;
  const l0 = (s.charCodeAt(i) | 32) - 97;
  const l1 = s.charCodeAt(i + 1);
  if (l1 >= 128 || (CT[l1]! & C_LETTER) === 0) return -1;
  const idx = l0 * 26 + ((l1 | 32) - 97);
  const len = IBAN_LEN[idx]!;
  if (len === 0) return -1;
  let j = i;
  let cnt = 0;
  while (cnt < len && j < n) {
    let c = s.charCodeAt(j);
    if (c === 32 && cnt > 0 && cnt % 4 === 0 && j + 1 < n) {
      j++;
      c = s.charCodeAt(j);
    }
    const v = alnumVal(c);
    if (v < 0) return -1;
    if (cnt >= 4 && v >= 10 && IBAN_NUMERIC[idx] === 1) return -1;
    IBAN_VALS[cnt++] = v;
    j++;
  }
  if (cnt < len || (j < n && isWordCode(s.charCodeAt(j)))) return -1;
  // ISO 7064 MOD 97-10 over BBAN + country code + check digits.
  let rem = 0;
  for (let k = 4; k < len + 4; k++) {
    const v = IBAN_VALS[k < len ? k : k - len]!;
    rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  if (rem !== 1) return -1;
  mStart = i;
  return j;
}

// ---------------------------------------------------------------------------------------------
// Phone numbers (E.164, international format)

const PH_DIGITS = new Int32Array(32);
const PH_END = new Int32Array(32);
const PH_SEPS = new Int32Array(32);

/** `i` is at `+` or at `00`. */
function matchPhone(s: string, i: number, n: number): number {
  if (i > 0) {
    const p = s.charCodeAt(i - 1);
    if (p === 43 || isWordCode(p)) return -1;
  }
  const plus = s.charCodeAt(i) === 43;
  if (!plus && i >= 2) {
    // A group inside a longer grouped number ("3704 0044 0532") or a hyphenated/dotted token
    // ("a77b138a-0010-1000-8000"), not a 00-prefixed phone number.
    const p = s.charCodeAt(i - 1);
    const pp = s.charCodeAt(i - 2);
    if (p === 32 && isDigitCode(pp)) return -1;
    if ((p === 45 || p === 46) && isWordCode(pp)) return -1;
  }
  let j = i + (plus ? 1 : 2);
  if (j >= n) return -1;
  const f = s.charCodeAt(j);
  if (f < 49 || f > 57) return -1; // country codes start with 1-9
  let nd = 0;
  let nb = 0;
  let nsep = 0;
  let dotsOnly = true;
  let groupsOf3 = true;
  for (;;) {
    const gs = j;
    while (j < n && isDigitCode(s.charCodeAt(j))) {
      nd++;
      j++;
    }
    if (nb > 0 && j - gs !== 3) groupsOf3 = false;
    if (nb === 1) {
      // A separated first group holds the country code (1-3 digits; "+49151 2345678" is tolerated),
      // and the national number after a 00-prefixed country code does not start with 0.
      if (PH_DIGITS[0]! > (plus ? 5 : 3)) return -1;
      if (!plus && s.charCodeAt(gs) === 48) return -1;
    }
    PH_DIGITS[nb] = nd;
    PH_END[nb] = j;
    PH_SEPS[nb] = nsep;
    nb++;
    if (nd > 17 || nb >= 31 || j >= n) break;
    // Separator: one of " -.", or a parenthesised "(0)" trunk prefix / area code with optional
    // single separators around it.
    let k = j;
    let c = s.charCodeAt(k);
    if ((c === 32 || c === 45 || c === 46) && k + 1 < n) {
      const d = s.charCodeAt(k + 1);
      if (isDigitCode(d)) {
        if (c !== 46) dotsOnly = false;
        nsep++;
        j = k + 1;
        continue;
      }
      if (d !== 40) break;
      k++;
      c = d;
    }
    if (c !== 40) break;
    let m = k + 1;
    let inner = 0;
    let innerVal = 0;
    while (m < n && isDigitCode(s.charCodeAt(m)) && inner < 5) {
      innerVal = innerVal * 10 + (s.charCodeAt(m) - 48);
      inner++;
      m++;
    }
    if (inner === 0 || inner > 4 || m >= n || s.charCodeAt(m) !== 41) break;
    m++;
    if (m < n && (s.charCodeAt(m) === 32 || s.charCodeAt(m) === 45 || s.charCodeAt(m) === 46)) m++;
    if (m >= n || !isDigitCode(s.charCodeAt(m))) break;
    if (!(inner === 1 && innerVal === 0)) nd += inner; // "(0)" is the trunk prefix, not part of E.164
    dotsOnly = false;
    nsep++;
    j = m;
  }
  if (dotsOnly && nsep > 0 && groupsOf3) return -1; // +1.234.567.890: a number, not a phone
  for (let b = nb - 1; b >= 0; b--) {
    const d = PH_DIGITS[b]!;
    if (d < 8) break;
    if (d > 15) continue;
    const end = PH_END[b]!;
    if (b === nb - 1 && end < n && isWordCode(s.charCodeAt(end))) continue;
    if (PH_SEPS[b] === 0 && (!plus || d < 10)) continue; // unseparated: "+" and 10+ digits
    mStart = i;
    return end;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Bearer / Basic credentials (RFC 6750, RFC 7617)

function startsWithCI(s: string, i: number, lower: string): boolean {
  if (i + lower.length > s.length) return false;
  for (let k = 0; k < lower.length; k++) {
    if ((s.charCodeAt(i + k) | 32) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** Whether an `Authorization` header name precedes index `i` (skipping `: = " '` and spaces). */
function afterAuthorizationHeader(s: string, i: number): boolean {
  let k = i;
  let skipped = 0;
  while (k > 0 && skipped < 8) {
    const c = s.charCodeAt(k - 1);
    if (c !== 32 && c !== 9 && c !== 58 && c !== 61 && c !== 34 && c !== 39) break;
    k--;
    skipped++;
  }
  return k >= 13 && startsWithCI(s, k - 13, 'authorization');
}

function matchBearer(s: string, i: number, n: number): number {
  let j: number;
  let basic: boolean;
  if (startsWithCI(s, i, 'bearer')) {
    j = i + 6;
    basic = false;
  } else if (startsWithCI(s, i, 'basic')) {
    j = i + 5;
    basic = true;
  } else {
    return -1;
  }
  const ws = j;
  while (j < n && (s.charCodeAt(j) === 32 || s.charCodeAt(j) === 9)) j++;
  if (j === ws) return -1;
  const tok = j;
  let digit = false;
  let b64 = true;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c >= 128 || (CT[c]! & C_TOKEN) === 0) break;
    if (isDigitCode(c)) digit = true;
    if ((CT[c]! & C_B64) === 0) b64 = false;
    j++;
  }
  while (j < n && s.charCodeAt(j) === 61) j++; // "=" padding
  const len = j - tok;
  if (len === 0 || (j < n && isWordCode(s.charCodeAt(j)))) return -1;
  if (basic) {
    if (!b64 || len < 4) return -1;
    const raw = Buffer.from(s.slice(tok, j), 'base64');
    let colon = false;
    for (const b of raw) {
      if (b < 32 || b === 127) return -1;
      if (b === 58) colon = true;
    }
    if (!colon) return -1;
  } else if (!afterAuthorizationHeader(s, i) && (len < 16 || !digit)) {
    return -1;
  }
  mStart = tok;
  return j;
}

// ---------------------------------------------------------------------------------------------
// JWT (RFC 7519; JWS RFC 7515, JWE RFC 7516 compact serialisation)

function matchJwt(s: string, i: number, n: number): number {
  if (i + 3 >= n || s.charCodeAt(i + 1) !== 121 /* y */ || s.charCodeAt(i + 2) !== 74 /* J */) return -1;
  if (i > 0) {
    const p = s.charCodeAt(i - 1);
    if (p === 46 || (p < 128 && (CT[p]! & C_B64URL) !== 0)) return -1;
  }
  let j = i;
  let segs = 0;
  let end3 = -1;
  let end5 = -1;
  let headerEnd = -1;
  let payloadLen = 0;
  for (;;) {
    const st = j;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c >= 128 || (CT[c]! & C_B64URL) === 0) break;
      j++;
    }
    segs++;
    if (segs === 1) headerEnd = j;
    if (segs === 2) payloadLen = j - st;
    if (segs === 3) end3 = j;
    if (segs === 5) {
      end5 = j;
      break;
    }
    if (j >= n || s.charCodeAt(j) !== 46) break;
    j++;
  }
  const end = end5 >= 0 && s.charCodeAt(end5 - 1) !== 46 ? end5 : end3;
  if (end < 0 || headerEnd - i < 8 || payloadLen < 2) return -1;
  if (end < n && isWordCode(s.charCodeAt(end))) return -1;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(s.slice(i, headerEnd), 'base64url').toString('utf8'));
  } catch {
    return -1;
  }
  if (header === null || typeof header !== 'object' || typeof (header as { alg?: unknown }).alg !== 'string') return -1;
  mStart = i;
  return end;
}

// ---------------------------------------------------------------------------------------------
// Canonical forms, truncation, validators (exported for callers and tests)

/** RFC 5952 text of {@link V6} (lowercase, longest run of two or more zero groups as `::`). */
function formatV6(g: Uint16Array): string {
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

function maskV4(bits: number): string {
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

function truncateV6(bits: number, v4bits: number): string {
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

/** Luhn check (ISO/IEC 7812-1 Annex B) of a string of digits; spaces and dashes are ignored. */
export function luhnValid(digits: string): boolean {
  const d = digits.replace(/[ -]/g, '');
  if (!/^\d{2,32}$/.test(d)) return false;
  for (let k = 0; k < d.length; k++) DIG[k] = d.charCodeAt(k) - 48;
  return luhnDigits(d.length);
}

/**
 * Full IBAN check (ISO 13616): registry length, numeric BBAN where the registry says so, and
 * mod-97. Accepts upper/lower case and groups of four separated by single spaces.
 */
export function ibanValid(iban: string): boolean {
  const c = iban.charCodeAt(0);
  if (!(c < 128 && (CT[c]! & C_LETTER) !== 0)) return false;
  return matchIban(iban, 0, iban.length) === iban.length;
}

/**
 * The form of a match that is pseudonymised, so that spelling variants of one identifier share a
 * pseudonym: e-mail lowercased; IPv6 in RFC 5952 text; card digits only; IBAN uppercase without
 * spaces; phone as E.164 (`+` and digits, `(0)` trunk prefix removed); tokens as they are.
 */
export function canonicalForm(detector: DetectorName, match: string): string {
  switch (detector) {
    case 'email':
      return match.toLowerCase();
    case 'ipv6':
      return parseIPv6(match, 0, match.length) ? formatV6(V6) : match.toLowerCase();
    case 'card':
      return match.replace(/\D/g, '');
    case 'iban':
      return match.replace(/ /g, '').toUpperCase();
    case 'phone': {
      const digits = match.replace(/\(0\)/g, '').replace(/\D/g, '');
      return '+' + (match.startsWith('00') ? digits.slice(2) : digits);
    }
    default:
      return match;
  }
}

// ---------------------------------------------------------------------------------------------
// Percent-encoding helpers (RFC 3986 §2.1; WHATWG application/x-www-form-urlencoded)

const PCT_RUN_RE = /(?:%[0-9A-Fa-f]{2})+/g;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const QUERY_KEEP_RE = /%(?:20|5B|5D|3A)/g;
const SEGMENT_KEEP_RE = /%(?:5B|5D|3A|40)/g;
const QUERY_KEEP: Record<string, string> = { '%20': '+', '%5B': '[', '%5D': ']', '%3A': ':' };
const SEGMENT_KEEP: Record<string, string> = { '%5B': '[', '%5D': ']', '%3A': ':', '%40': '@' };

/** Percent-decodes; malformed escapes stay as they are and invalid UTF-8 becomes U+FFFD. */
export function percentDecode(s: string, plusIsSpace: boolean): string {
  const t = plusIsSpace && s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!t.includes('%')) return t;
  try {
    return decodeURIComponent(t);
  } catch {
    return t.replace(PCT_RUN_RE, (m) => Buffer.from(m.replace(/%/g, ''), 'hex').toString('utf8'));
  }
}

function encodeComponent(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(LONE_SURROGATE_RE, '\uFFFD'));
  }
}

function encodeQueryValue(s: string): string {
  return encodeComponent(s).replace(QUERY_KEEP_RE, (m) => QUERY_KEEP[m]!);
}

function encodeSegment(s: string): string {
  return encodeComponent(s).replace(SEGMENT_KEEP_RE, (m) => SEGMENT_KEEP[m]!);
}

function hasEscape(s: string): boolean {
  for (let k = s.indexOf('%'); k >= 0 && k + 2 < s.length; k = s.indexOf('%', k + 1)) {
    if (hexVal(s.charCodeAt(k + 1)) >= 0 && hexVal(s.charCodeAt(k + 2)) >= 0) return true;
  }
  return false;
}

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Characters that end a URL-like run inside free text. */
function isRunStop(c: number): boolean {
  return c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96 || c === 0x00a0;
}

// ---------------------------------------------------------------------------------------------
// The scanner

const EMAIL = 0;
const IPV4 = 1;
const IPV6 = 2;
const CARD = 3;
const IBAN = 4;
const PHONE = 5;
const BEARER = 6;
const JWT = 7;

/** Strings longer than this are pre-checked with {@link PRECHECK_RE} before the character loop. */
const PRECHECK_MIN_LENGTH = 24;
const PRECHECK_RE = /[0-9@:%]|eyJ|[Bb](?:[Ee][Aa][Rr][Ee][Rr]|[Aa][Ss][Ii][Cc])[ \t]/;
const PRECHECK_NO_BEARER_RE = /[0-9@:%]|eyJ/;

const ACTIONS: readonly ValueAction[] = ['mask', 'drop', 'pseudonymize', 'truncate'];
const KEY_ACTIONS: readonly KeyAction[] = ['drop', 'mask', 'pseudonymize'];

/** Mutable accumulator of one URL scrub. */
interface Acc {
  hits: number;
  drop: boolean;
}

/**
 * Compiles the enabled detectors and their actions into a {@link ValueScanner}.
 *
 * @throws Error when a detector name or action is unknown, `truncate` is set for a detector other
 *   than `ipv4`/`ipv6`, `pseudonymize` is used without a `pseudonymize` function, or a prefix
 *   length is out of range (IPv4 0–32, IPv6 0–128, integers).
 */
export function compileValueScanner(opts: ValueScannerOptions = {}): ValueScanner {
  const detectors = opts.detectors ?? DEFAULT_DETECTORS;
  if (detectors === null || typeof detectors !== 'object') throw new Error('privacy: detectors must be a map of detector name to options');
  const act: (ValueAction | null)[] = DETECTOR_NAMES.map(() => null);
  for (const [name, o] of Object.entries(detectors)) {
    const idx = (DETECTOR_NAMES as readonly string[]).indexOf(name);
    if (idx < 0) throw new Error(`privacy: detectors::${name}: unknown detector (one of ${DETECTOR_NAMES.join(', ')})`);
    if (o === undefined) continue;
    const action = (o as DetectorOptions | null)?.action;
    if (!ACTIONS.includes(action as ValueAction)) {
      throw new Error(`privacy: detectors::${name}::action: must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
    }
    if (action === 'truncate' && name !== 'ipv4' && name !== 'ipv6') {
      throw new Error(`privacy: detectors::${name}::action: truncate applies to ipv4 and ipv6 only`);
    }
    if (action === 'pseudonymize' && typeof opts.pseudonymize !== 'function') {
      throw new Error(`privacy: detectors::${name}::action: pseudonymize needs a pseudonymisation key`);
    }
    act[idx] = action as ValueAction;
  }
  const v4bits = opts.ipv4PrefixBits ?? DEFAULT_IPV4_PREFIX_BITS;
  if (!Number.isInteger(v4bits) || v4bits < 0 || v4bits > 32) {
    throw new Error(`privacy: ipv4 prefix length must be an integer from 0 to 32, got ${String(v4bits)}`);
  }
  const v6bits = opts.ipv6PrefixBits ?? DEFAULT_IPV6_PREFIX_BITS;
  if (!Number.isInteger(v6bits) || v6bits < 0 || v6bits > 128) {
    throw new Error(`privacy: ipv6 prefix length must be an integer from 0 to 128, got ${String(v6bits)}`);
  }
  const qk = opts.queryKeys;
  if (qk !== undefined) {
    if (typeof qk.match !== 'function') throw new Error('privacy: queryKeys.match must be a key matcher function');
    if (qk.action !== undefined && !KEY_ACTIONS.includes(qk.action)) {
      throw new Error(`privacy: queryKeys.action must be one of ${KEY_ACTIONS.join(', ')}, got ${JSON.stringify(qk.action)}`);
    }
    if (qk.action === 'pseudonymize' && typeof opts.pseudonymize !== 'function') {
      throw new Error('privacy: queryKeys.action: pseudonymize needs a pseudonymisation key');
    }
  }
  const keyMatch = qk?.match ?? null;
  const keyAction: KeyAction = qk?.action ?? 'drop';
  const onKeyHit = qk?.onHit ?? null;
  const pseudo = opts.pseudonymize ?? ((v: string) => v);
  const onHit = opts.onHit ?? null;

  const emailOn = act[EMAIL] !== null;
  const ipv4On = act[IPV4] !== null;
  const ipv6On = act[IPV6] !== null;
  const cardOn = act[CARD] !== null;
  const ibanOn = act[IBAN] !== null;
  const phoneOn = act[PHONE] !== null;
  const bearerOn = act[BEARER] !== null;
  const jwtOn = act[JWT] !== null;
  const letterOn = ibanOn || bearerOn || jwtOn || ipv6On;
  const precheck = bearerOn ? PRECHECK_RE : PRECHECK_NO_BEARER_RE;
  const digitOn = ipv4On || ipv6On || cardOn || phoneOn;

  const replacement = (det: number, raw: string): string => {
    const action = act[det]!;
    const name = DETECTOR_NAMES[det]!;
    if (onHit !== null) onHit(name, action);
    switch (action) {
      case 'pseudonymize':
        return pseudo(canonicalForm(name, raw));
      case 'truncate':
        if (det === IPV4) {
          parseIPv4At(raw, 0, raw.length);
          return maskV4(v4bits);
        }
        parseIPv6(raw, 0, raw.length);
        return truncateV6(v6bits, v4bits);
      default:
        return MASKS[name];
    }
  };

  /** One pass over `s`; `pct` enables the percent-encoded second pass. */
  const scanText = (s: string, pct: boolean): ScanResult | null => {
    const n = s.length;
    if (n < 3) return null;
    // Cheap pre-check: every match needs a digit, "@", ":", "eyJ", or a Bearer/Basic scheme, and
    // percent-encoded text needs "%". Irregexp finds those faster than the character loop below.
    if (n > PRECHECK_MIN_LENGTH && !precheck.test(s)) return null;
    let out = '';
    let copied = 0;
    let hits = 0;
    let drop = false;
    let sawPct = false;
    // Invariant: a word character at the top of the loop starts a word (the rest of each word is
    // skipped), so detectors that start at a word boundary run once per word.
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      let end = -1;
      let det = -1;
      if (c < 128) {
        const k = CT[c]!;
        if ((k & C_WORD) !== 0) {
          if ((k & C_DIGIT) !== 0) {
            if (digitOn) {
              if (phoneOn && c === 48 && i + 1 < n && s.charCodeAt(i + 1) === 48) {
                end = matchPhone(s, i, n);
                det = PHONE;
              }
              if (end < 0 && ipv4On) {
                end = matchIPv4(s, i, n);
                det = IPV4;
              }
              if (end < 0 && ipv6On && colonWithin5(s, i, n)) {
                end = matchIPv6(s, i, n);
                det = IPV6;
              }
              if (end < 0 && cardOn && i + 12 < n) {
                end = matchCard(s, i, n);
                det = CARD;
              }
            }
          } else if ((k & C_LETTER) !== 0 && letterOn) {
            if (bearerOn && (c === 66 || c === 98)) {
              end = matchBearer(s, i, n);
              det = BEARER;
            }
            if (end < 0 && jwtOn && c === 101) {
              end = matchJwt(s, i, n);
              det = JWT;
            }
            if (end < 0 && ibanOn && i + 14 < n && isDigitCode(s.charCodeAt(i + 2)) && isDigitCode(s.charCodeAt(i + 3))) {
              end = matchIban(s, i, n);
              det = IBAN;
            }
            if (end < 0 && ipv6On && (k & C_HEX) !== 0 && colonWithin5(s, i, n)) {
              end = matchIPv6(s, i, n);
              det = IPV6;
            }
          }
          if (end < 0) {
            i = skipWord(s, i, n);
            continue;
          }
        } else if (c === 64) {
          if (emailOn && i > copied) {
            end = matchEmail(s, i, n, copied);
            det = EMAIL;
          }
        } else if (c === 43) {
          if (phoneOn) {
            end = matchPhone(s, i, n);
            det = PHONE;
          }
        } else if (c === 58) {
          if (ipv6On && i + 1 < n && s.charCodeAt(i + 1) === 58) {
            end = matchIPv6(s, i, n);
            det = IPV6;
          }
        } else if (c === 37) {
          if (pct && !sawPct && i + 2 < n && hexVal(s.charCodeAt(i + 1)) >= 0 && hexVal(s.charCodeAt(i + 2)) >= 0) sawPct = true;
        }
      } else if (isWordCode(c)) {
        i = skipWord(s, i, n);
        continue;
      }
      if (end >= 0) {
        const start = mStart;
        out += s.slice(copied, start) + replacement(det, s.slice(start, end));
        if (act[det] === 'drop') drop = true;
        hits++;
        copied = end;
        // Keep the invariant should a match end inside a word.
        i = end < n && isWordCode(s.charCodeAt(end - 1)) && isWordCode(s.charCodeAt(end)) ? skipWord(s, end, n) : end - 1;
      }
    }
    if (hits === 0 && !sawPct) return null;
    const value = hits === 0 ? s : out + s.slice(copied);
    if (sawPct) {
      const r = scanEncodedRuns(value);
      if (r !== null) return { value: r.value, drop: drop || r.drop, hits: hits + r.hits };
    }
    return hits === 0 ? null : { value, drop, hits };
  };

  /** Second pass of `scan`: percent-encoded runs inside free text. */
  const scanEncodedRuns = (t: string): ScanResult | null => {
    const n = t.length;
    let out = '';
    let copied = 0;
    const acc: Acc = { hits: 0, drop: false };
    let i = 0;
    while (i < n) {
      const k = t.indexOf('%', i);
      if (k < 0 || k + 2 >= n) break;
      if (hexVal(t.charCodeAt(k + 1)) < 0 || hexVal(t.charCodeAt(k + 2)) < 0) {
        i = k + 1;
        continue;
      }
      let a = k;
      while (a > copied && !isRunStop(t.charCodeAt(a - 1))) a--;
      let b = k;
      while (b < n && !isRunStop(t.charCodeAt(b))) b++;
      const before = acc.hits;
      const v = scrubUrlLike(t.slice(a, b), false, true, false, acc);
      if (acc.hits > before) {
        out += t.slice(copied, a) + v;
        copied = b;
      }
      i = b;
    }
    if (acc.hits === 0) return null;
    return { value: out + t.slice(copied), drop: acc.drop, hits: acc.hits };
  };

  /** Scans one decoded component; returns its new raw text, or null when unchanged. */
  const scrubPiece = (raw: string, onlyEncoded: boolean, plusIsSpace: boolean, encode: (v: string) => string, acc: Acc): string | null => {
    const enc = hasEscape(raw) || (plusIsSpace && raw.includes('+'));
    if (onlyEncoded && !enc) return null;
    const r = scanText(enc ? percentDecode(raw, plusIsSpace) : raw, false);
    if (r === null) return null;
    acc.hits += r.hits;
    if (r.drop) acc.drop = true;
    return enc ? encode(r.value) : r.value;
  };

  /** Scrubs `a=b&c=d`; returns the new text. A `drop` match removes the parameter. */
  const scrubPairs = (q: string, keyRules: boolean, onlyEncoded: boolean, acc: Acc): string => {
    const pairs = q.split('&');
    let changed = false;
    const kept: string[] = [];
    for (const pair of pairs) {
      if (pair === '') {
        kept.push(pair);
        continue;
      }
      const eq = pair.indexOf('=');
      const rk = eq < 0 ? pair : pair.slice(0, eq);
      const rv = eq < 0 ? '' : pair.slice(eq + 1);
      if (keyRules && keyMatch !== null && keyMatch(percentDecode(rk, true)) === 'blocked') {
        acc.hits++;
        changed = true;
        if (onKeyHit !== null) onKeyHit(keyAction);
        if (keyAction === 'mask') kept.push(rk + '=' + KEY_MASK);
        else if (keyAction === 'pseudonymize') kept.push(rk + '=' + encodeQueryValue(pseudo(percentDecode(rv, true))));
        continue;
      }
      if (rv === '') {
        kept.push(pair);
        continue;
      }
      const sub: Acc = { hits: 0, drop: false };
      const v = scrubPiece(rv, onlyEncoded, true, encodeQueryValue, sub);
      if (v === null) {
        kept.push(pair);
        continue;
      }
      acc.hits += sub.hits;
      changed = true;
      if (!sub.drop) kept.push(rk + '=' + v);
    }
    return changed ? kept.join('&') : q;
  };

  /** Scrubs a URL, URL part or bare query string; returns the new text (unchanged when acc is). */
  const scrubUrlLike = (u: string, keyRules: boolean, onlyEncoded: boolean, forceQuery: boolean, acc: Acc): string => {
    const n = u.length;
    if (forceQuery) {
      const lead = u.startsWith('?') ? 1 : 0;
      return u.slice(0, lead) + scrubPairs(u.slice(lead), keyRules, onlyEncoded, acc);
    }
    let hash = u.indexOf('#');
    if (hash < 0) hash = n;
    let q = u.indexOf('?');
    if (q > hash) q = -1;
    if (q < 0 && hash === n && u.includes('=') && !u.includes('/')) {
      return scrubPairs(u, keyRules, onlyEncoded, acc);
    }
    let out = '';
    let p = 0;
    const m = SCHEME_RE.exec(u);
    if (m !== null) {
      p = m[0].length;
      let ae = p;
      while (ae < n) {
        const c = u.charCodeAt(ae);
        if (c === 47 || c === 63 || c === 35) break;
        ae++;
      }
      out += u.slice(0, p) + scrubAuthority(u.slice(p, ae), onlyEncoded, acc);
      p = ae;
    }
    const pathEnd = q >= 0 ? q : hash;
    if (p < pathEnd) {
      const segs = u.slice(p, pathEnd).split('/');
      for (let k = 0; k < segs.length; k++) {
        if (k > 0) out += '/';
        const seg = segs[k]!;
        out += seg === '' ? '' : (scrubPiece(seg, onlyEncoded, false, encodeSegment, acc) ?? seg);
      }
    }
    if (q >= 0) out += '?' + scrubPairs(u.slice(q + 1, hash), keyRules, onlyEncoded, acc);
    if (hash < n) {
      const frag = u.slice(hash + 1);
      out += '#' + (frag.includes('=') ? scrubPairs(frag, keyRules, onlyEncoded, acc) : (scrubPiece(frag, onlyEncoded, false, encodeSegment, acc) ?? frag));
    }
    return out;
  };

  /** `userinfo@host:port`: a password is a credential (bearer detector); the host is scanned for IPs. */
  const scrubAuthority = (auth: string, onlyEncoded: boolean, acc: Acc): string => {
    const at = auth.lastIndexOf('@');
    let out = '';
    let host = auth;
    if (at >= 0) {
      const userinfo = auth.slice(0, at);
      host = auth.slice(at + 1);
      const colon = userinfo.indexOf(':');
      const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
      out += user === '' ? '' : (scrubPiece(user, onlyEncoded, false, encodeSegment, acc) ?? user);
      if (colon >= 0) {
        const pass = userinfo.slice(colon + 1);
        if (bearerOn && pass !== '') {
          acc.hits++;
          if (act[BEARER] === 'drop') acc.drop = true;
          out += ':' + encodeSegment(replacement(BEARER, percentDecode(pass, false)));
        } else {
          out += ':' + pass;
        }
      }
      out += '@';
    }
    if (onlyEncoded) return out + host;
    const r = scanText(host, false);
    if (r === null) return out + host;
    acc.hits += r.hits;
    if (r.drop) acc.drop = true;
    return out + r.value;
  };

  const scrub = (u: string, forceQuery: boolean): ScanResult | null => {
    if (typeof u !== 'string' || u.length === 0) return null;
    const acc: Acc = { hits: 0, drop: false };
    const value = scrubUrlLike(u, true, false, forceQuery, acc);
    return acc.hits === 0 ? null : { value, drop: acc.drop, hits: acc.hits };
  };

  const enabled = Object.freeze(DETECTOR_NAMES.filter((_, k) => act[k] !== null));
  return {
    scan: (s: string) => scanText(s, true),
    scrubUrl: (url: string) => scrub(url, false),
    scrubQuery: (query: string) => scrub(query, true),
    detectors: enabled,
  };
}

/** Counts of replaced matches per detector and action, for the metrics endpoint. */
export interface HitCounter {
  /** Pass as {@link ValueScannerOptions.onHit}. */
  readonly onHit: (detector: DetectorName, action: ValueAction) => void;
  /** Count for one detector and action since creation. */
  get(detector: DetectorName, action: ValueAction): number;
  /** Non-zero counts. */
  entries(): { detector: DetectorName; action: ValueAction; count: number }[];
}

/** Creates a {@link HitCounter} (plain array of counters; no allocation per hit). */
export function createHitCounter(): HitCounter {
  const counts = new Float64Array(DETECTOR_NAMES.length * ACTIONS.length);
  const slot = (d: DetectorName, a: ValueAction): number => DETECTOR_NAMES.indexOf(d) * ACTIONS.length + ACTIONS.indexOf(a);
  return {
    onHit: (d, a) => {
      counts[slot(d, a)] += 1;
    },
    get: (d, a) => counts[slot(d, a)]!,
    entries: () => {
      const out: { detector: DetectorName; action: ValueAction; count: number }[] = [];
      for (let k = 0; k < counts.length; k++) {
        if (counts[k]! > 0) {
          out.push({ detector: DETECTOR_NAMES[Math.floor(k / ACTIONS.length)]!, action: ACTIONS[k % ACTIONS.length]!, count: counts[k]! });
        }
      }
      return out;
    },
  };
}
