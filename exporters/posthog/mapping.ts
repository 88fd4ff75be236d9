/**
 * Event model → PostHog event, as the capture API's `/batch/` takes it
 * (https://posthog.com/docs/api/capture):
 *
 * | PostHog | from |
 * |---|---|
 * | `event` | `name` |
 * | `distinct_id` | the `distinct_id` option: user id, else device id, else session id |
 * | `timestamp` | `time_unix_nano` as ISO 8601 UTC with microseconds (PostHog stores `DateTime64(6)`) |
 * | `uuid` | a UUID version 5 (RFC 9562 §5.5) of the event's `insert_id`, see {@link insertIdUuid} |
 * | `properties` | `properties` (nested objects and arrays kept as JSON, numbers as numbers), plus `$session_id` from the session id, `$set` from `user_properties` for identified events, and `$process_person_profile: false` for the others |
 *
 * An event whose distinct_id is not taken from one of the `identified` fields (by default: it has no
 * user id) is sent as an anonymous event, `$process_person_profile: false`, as the docs' "Anonymous
 * event capture" describes: PostHog then creates no person profile for a device or session id.
 *
 * An event that gets no distinct_id cannot be accepted ("Every event request must contain an
 * api_key, distinct_id, and event field"); it is refused before sending.
 */
import crypto from 'node:crypto';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import { compileFieldPath, firstOf, nanosToMillis, nanosToTimestamp, type FieldGetter } from '../amplitude/event_fields.js';
import type { PosthogConfig } from './config.js';

/** The subset of PostHog's event keys this exporter sends. */
export interface PosthogEvent {
  event: string;
  distinct_id: string;
  properties: { [key: string]: JsonValue };
  timestamp?: string;
  uuid: string;
}

export type MapResult = { ok: true; event: PosthogEvent } | { ok: false; reason: string };

export const NO_DISTINCT_ID_REASON = 'no distinct_id: PostHog requires one on every event (map one with the distinct_id option, e.g. distinct_id: [user_id, device_id, session_id, insert_id])';

/** RFC 9562's name space for URLs (Appendix A), `6ba7b811-9dad-11d1-80b4-00c04fd430c8`. */
export const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** A name-based UUID version 5 (RFC 9562 §5.5): SHA-1 of the name space's 16 bytes and the name's UTF-8, version 5, variant 10. */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`not a UUID: ${namespace}`);
  const h = crypto.createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The name space of insert_id UUIDs: the version 5 UUID of the URL `urn:otelytics:insert_id` in the URL name space. */
export const INSERT_ID_NAMESPACE = uuidV5(NAMESPACE_URL, 'urn:otelytics:insert_id');

/**
 * The `uuid` PostHog gets for an event: `uuidV5(INSERT_ID_NAMESPACE, insert_id)`. Deterministic (a
 * retry, a replay from the dead-letter file or from the persistent queue sends the same uuid), and
 * different insert_ids give different uuids (122 bits of SHA-1). Version 5 rather than version 8:
 * it is the RFC's name-based UUID, so any UUID validator on the way (PostHog drops events whose uuid
 * it cannot parse) accepts it; version 8's layout is left to each implementation.
 */
export function insertIdUuid(insertId: string): string {
  return uuidV5(INSERT_ID_NAMESPACE, insertId);
}

function asString(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v.trim() === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Compiles the mapping options once; the returned function maps one event. */
export function compileMapping(cfg: Pick<PosthogConfig, 'distinct_id' | 'identified' | 'session_id'>): (e: AnalyticsEvent) => MapResult {
  const identified = new Set(cfg.identified);
  const distinct = cfg.distinct_id.map((p) => ({ get: compileFieldPath(p) as FieldGetter, identified: identified.has(p) }));
  const sessionId = firstOf(cfg.session_id);

  return (e) => {
    let distinctId: string | undefined;
    let person = false;
    for (const d of distinct) {
      const v = asString(d.get(e));
      if (v !== undefined) {
        distinctId = v;
        person = d.identified;
        break;
      }
    }
    if (distinctId === undefined) return { ok: false, reason: NO_DISTINCT_ID_REASON };
    const properties: { [key: string]: JsonValue } = { ...e.properties };
    const sid = asString(sessionId(e));
    if (sid !== undefined) properties.$session_id = sid;
    if (person) {
      if (e.user_properties && Object.keys(e.user_properties).length > 0) properties.$set = e.user_properties;
    } else {
      properties.$process_person_profile = false;
    }
    const out: PosthogEvent = { event: e.name, distinct_id: distinctId, properties, uuid: insertIdUuid(e.insert_id) };
    // No time (0 or absent): no timestamp, PostHog then uses the time it receives the event.
    const ts = nanosToMillis(e.time_unix_nano) === undefined ? undefined : nanosToTimestamp(e.time_unix_nano);
    if (ts !== undefined) out.timestamp = ts;
    return { ok: true, event: out };
  };
}
