/** The `bearer` (RFC 6750 / RFC 7617 credentials) and `jwt` (RFC 7519) detectors. */
import { CT, C_B64, C_B64URL, C_TOKEN, isDigitCode, isWordCode, M } from './chars.js';

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

export function matchBearer(s: string, i: number, n: number): number {
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
  M.start = tok;
  return j;
}

// ---------------------------------------------------------------------------------------------
// JWT (RFC 7519; JWS RFC 7515, JWE RFC 7516 compact serialisation)

export function matchJwt(s: string, i: number, n: number): number {
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
  M.start = i;
  return end;
}
