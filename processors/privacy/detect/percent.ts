/** Percent-encoding helpers (RFC 3986 §2.1; WHATWG application/x-www-form-urlencoded). */
import { hexVal } from './chars.js';

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

export function encodeQueryValue(s: string): string {
  return encodeComponent(s).replace(QUERY_KEEP_RE, (m) => QUERY_KEEP[m]!);
}

export function encodeSegment(s: string): string {
  return encodeComponent(s).replace(SEGMENT_KEEP_RE, (m) => SEGMENT_KEEP[m]!);
}

export function hasEscape(s: string): boolean {
  for (let k = s.indexOf('%'); k >= 0 && k + 2 < s.length; k = s.indexOf('%', k + 1)) {
    if (hexVal(s.charCodeAt(k + 1)) >= 0 && hexVal(s.charCodeAt(k + 2)) >= 0) return true;
  }
  return false;
}

export const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Characters that end a URL-like run inside free text. */
export function isRunStop(c: number): boolean {
  return c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96 || c === 0x00a0;
}
