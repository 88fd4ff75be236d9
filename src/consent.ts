/**
 * Reading a consent value as consent tools send it: a boolean; the strings `granted` / `denied`
 * (Google Consent Mode's `ad_storage`, `analytics_storage`, ... values), `true` / `false`, `yes` /
 * `no`, `1` / `0` (case and surrounding spaces ignored); the integers 1 and 0. Anything else reads
 * as denied: a value no one can read is no consent (GDPR Art. 7: consent must be unambiguous).
 *
 * And consent requirements: the purposes an event must carry consent for, with and/or logic, as
 * an exporter's `consent` option (a destination's requirement) and the `consent` key of the match
 * syntax (src/match.ts) take them.
 */
import { z } from './config/schema.js';
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

/**
 * A consent requirement: the purposes an event must carry consent for (`event.consent`, filled by
 * the `analytics` processor from `consent_attributes`). Written as
 * - one purpose: `analytics`;
 * - a list, all of them (and): `[analytics, marketing]`;
 * - `{ all: [...], any: [...] }`: every purpose of `all` and at least one of `any` (or); either
 *   may be left out, not both.
 *
 * Deny by default, as the `privacy` processor: a purpose that is missing or false is not granted.
 */
export const consentRequirementSchema = z.union([
  z.string().min(1, { message: 'must be a consent purpose, e.g. analytics' }),
  z.array(z.string().min(1)).min(1, { message: 'at least one consent purpose is required' }),
  z
    .strictObject({
      all: z.array(z.string().min(1)).min(1, { message: 'at least one consent purpose is required' }).optional().describe('Purposes that must all be granted (and).'),
      any: z.array(z.string().min(1)).min(1, { message: 'at least one consent purpose is required' }).optional().describe('Purposes of which at least one must be granted (or).'),
    })
    .refine((r) => r.all !== undefined || r.any !== undefined, { message: 'needs all or any (or both)' }),
]);

export type ConsentRequirement = z.infer<typeof consentRequirementSchema>;

/** An event's consent flags (`AnalyticsEvent.consent`). */
export type ConsentFlags = { readonly [purpose: string]: boolean } | undefined;

/** Compiles a requirement into a test of an event's consent flags (true: the event may pass). */
export function compileConsentRequirement(req: ConsentRequirement): (consent: ConsentFlags) => boolean {
  const all = typeof req === 'string' ? [req] : Array.isArray(req) ? req : (req.all ?? []);
  const any = typeof req === 'object' && !Array.isArray(req) ? (req.any ?? []) : [];
  return (consent) => {
    if (consent === undefined) return false;
    for (let i = 0; i < all.length; i++) if (consent[all[i]!] !== true) return false;
    if (any.length === 0) return true;
    for (let i = 0; i < any.length; i++) if (consent[any[i]!] === true) return true;
    return false;
  };
}

/** The requirement in words, for documentation and logs: `analytics and marketing`, `(ads or marketing)`. */
export function describeConsentRequirement(req: ConsentRequirement): string {
  const all = typeof req === 'string' ? [req] : Array.isArray(req) ? req : (req.all ?? []);
  const any = typeof req === 'object' && !Array.isArray(req) ? (req.any ?? []) : [];
  const parts = [...all];
  if (any.length > 0) parts.push(any.length === 1 ? any[0]! : `(${any.join(' or ')})`);
  return parts.join(' and ');
}
