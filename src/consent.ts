/**
 * Reading a consent value as consent tools send it: a boolean; the strings `granted` / `denied`
 * (Google Consent Mode's `ad_storage`, `analytics_storage`, ... values), `true` / `false`, `yes` /
 * `no`, `1` / `0` (case and surrounding spaces ignored); the integers 1 and 0. Anything else reads
 * as denied: a value no one can read is no consent (GDPR Art. 7: consent must be unambiguous).
 */
import type { AnyValue } from './pdata.js';

const GRANTED = new Set(['granted', 'true', 'yes', '1']);

/** true when `v` grants consent, false otherwise (denied, or not a value a consent tool sends). */
export function consentGranted(v: AnyValue): boolean {
  if ('boolValue' in v) return v.boolValue;
  if ('stringValue' in v) {
    const s = v.stringValue.trim().toLowerCase();
    return GRANTED.has(s);
  }
  if ('intValue' in v) return String(v.intValue) === '1';
  return false;
}
