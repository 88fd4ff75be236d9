/**
 * Character classes shared by the value detectors: one table lookup per ASCII character, plus the
 * "word character" rule for the rest of Unicode, and the start index of the last match.
 */

export const C_DIGIT = 1;
export const C_LETTER = 2;
export const C_HEX = 4; // 0-9 a-f A-F
export const C_WORD = 8; // [A-Za-z0-9_]
export const C_LOCAL = 16; // e-mail local part (lite): [A-Za-z0-9._+-]
export const C_B64URL = 32; // [A-Za-z0-9_-]
export const C_TOKEN = 64; // RFC 6750 b64token: [A-Za-z0-9-._~+/]
export const C_B64 = 128; // RFC 4648 §4 base64: [A-Za-z0-9+/]

export const CT = new Uint8Array(128);
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
export function isWordCode(c: number): boolean {
  if (c < 128) return (CT[c]! & C_WORD) !== 0;
  if (c < 0xc0 || c === 0xd7 || c === 0xf7) return false; // Latin-1 punctuation, NBSP, × ÷
  if (c >= 0x2000 && c <= 0x2bff) return false; // general punctuation, currency, arrows, math
  if ((c >= 0x3000 && c <= 0x303f) || c === 0xfeff) return false; // CJK punctuation, BOM
  if (c >= 0xd800 && c <= 0xdfff) return false; // surrogates (emoji)
  return true;
}

export function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Index of the last character of the word that contains `i`. */
export function skipWord(s: string, i: number, n: number): number {
  let j = i + 1;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c < 128 ? (CT[c]! & C_WORD) === 0 : !isWordCode(c)) break;
    j++;
  }
  return j - 1;
}

/** Whether a ":" follows within the next five characters (an IPv6 group has at most four digits). */
export function colonWithin5(s: string, i: number, n: number): boolean {
  const e = i + 5 < n ? i + 5 : n;
  for (let k = i; k < e; k++) if (s.charCodeAt(k) === 58) return true;
  return false;
}


/**
 * Start index of the last match. The matchers return the end index (or -1) and set `M.start`, so a
 * match allocates nothing.
 */
export const M = { start: 0 };
