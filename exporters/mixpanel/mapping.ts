/**
 * Event model → Mixpanel event, as the Import Events API defines it
 * (https://docs.mixpanel.com/reference/import-events): `{event, properties: {time, distinct_id,
 * $insert_id, ...}}`.
 *
 * | Mixpanel | from |
 * |---|---|
 * | `event` | `name` |
 * | `properties.time` | `time_unix_nano`, integer milliseconds since the epoch |
 * | `properties.$insert_id` | `insert_id`, made valid for Mixpanel ({@link mixpanelInsertId}) |
 * | `properties.$user_id` | `user_id` option (first field present) |
 * | `properties.$device_id` | `device_id` option (default: device_id, then session_id) |
 * | `properties.distinct_id` | `$user_id`, else `$device_id`, else `""` |
 * | `properties.session_id` | `session_id` option |
 * | other `properties` | `properties`, nested objects and arrays kept as JSON, numbers as numbers; plus `context_properties` |
 * | `properties.ip` | context `client.address`, only with `send_ip: true` |
 *
 * Identity follows Mixpanel's Simplified ID Merge
 * (https://docs.mixpanel.com/docs/tracking-methods/id-management/identifying-users-simplified):
 * `$user_id` and `$device_id` are sent, and `distinct_id` is the user id when there is one, else the
 * device id. An event with neither (e.g. anonymised by `privacy`) gets `distinct_id: ""`, as
 * Mixpanel asks for events that belong to no user
 * (https://docs.mixpanel.com/troubleshooting/errors/server-side-events-without-a-user): it is
 * ingested and counted, but left out of per-user analysis.
 */
import { createHash } from 'node:crypto';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import { firstOf, nanosToMillis } from '../amplitude/event_fields.js';
import type { MixpanelConfig } from './config.js';

export interface MixpanelEvent {
  event: string;
  properties: { [key: string]: JsonValue };
}

/** A mapped event, or why it cannot be sent. */
export type MapResult = { ok: true; event: MixpanelEvent; insertId: string } | { ok: false; reason: string };

/** Mixpanel's rule for `$insert_id`: at most 36 characters, alphanumerics and `-`. */
export const VALID_INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;

export const NO_TIME_REASON = 'no valid time: Mixpanel requires the event time (time_unix_nano is missing or zero)';

/**
 * The `$insert_id` of an event, deterministic: the event's `insert_id` itself when it already
 * follows Mixpanel's rule (the analytics processor's ids, 32 hex digits, do), else the first 36 hex
 * digits of the SHA-256 of the `insert_id`, as Mixpanel suggests for ids that do not fit
 * (https://docs.mixpanel.com/troubleshooting/errors/400-bad-request). An event without `insert_id`
 * gets the hash of its name, time, identity and properties, so that a resend is still de-duplicated.
 */
export function mixpanelInsertId(e: AnalyticsEvent, distinctId: string): string {
  if (e.insert_id && VALID_INSERT_ID.test(e.insert_id)) return e.insert_id;
  const basis = e.insert_id ? e.insert_id : ['event', e.name, e.time_unix_nano, distinctId, JSON.stringify(e.properties)].join('\u0000');
  return createHash('sha256').update(basis, 'utf8').digest('hex').slice(0, 36);
}

function asString(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Compiles the mapping options once; the returned function maps one event. */
export function compileMapping(cfg: Pick<MixpanelConfig, 'user_id' | 'device_id' | 'session_id' | 'context_properties' | 'send_ip'>): (e: AnalyticsEvent) => MapResult {
  const userId = firstOf(cfg.user_id);
  const deviceId = firstOf(cfg.device_id);
  const sessionId = firstOf(cfg.session_id);
  const contextKeys = cfg.context_properties;
  const sendIp = cfg.send_ip;

  return (e) => {
    const time = nanosToMillis(e.time_unix_nano);
    if (time === undefined) return { ok: false, reason: NO_TIME_REASON };
    const props: { [key: string]: JsonValue } = { ...e.properties };
    const sid = sessionId(e);
    if (sid !== undefined) props.session_id ??= sid;
    for (const key of contextKeys) {
      const v = e.context[key];
      if (v !== undefined && !(key in props)) props[key] = v;
    }
    if (sendIp) {
      const ip = e.context['client.address'];
      if (typeof ip === 'string' && ip !== '') props.ip = ip;
    }
    const uid = asString(userId(e));
    const did = asString(deviceId(e));
    const distinctId = uid ?? did ?? '';
    const insertId = mixpanelInsertId(e, distinctId);
    props.time = time;
    props.distinct_id = distinctId;
    props.$insert_id = insertId;
    if (uid !== undefined) props.$user_id = uid;
    else delete props.$user_id;
    if (did !== undefined) props.$device_id = did;
    else delete props.$device_id;
    return { ok: true, event: { event: e.name, properties: props }, insertId };
  };
}
