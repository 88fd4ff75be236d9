/**
 * Event model → Amplitude event, as the HTTP V2 and Batch APIs define it
 * (https://amplitude.com/docs/apis/analytics/http-v2#keys-for-the-event-argument):
 *
 * | Amplitude | from |
 * |---|---|
 * | `event_type` | `name` |
 * | `user_id` | `user_id` option (first field present), with `user_id_prefix` |
 * | `device_id` | `device_id` option (default: device_id, then session_id) |
 * | `time` | `time_unix_nano`, integer milliseconds since the epoch |
 * | `insert_id` | `insert_id` (Amplitude de-duplicates on it for 7 days) |
 * | `session_id` | `session_id` option when it is an integer (session start in ms); else the event property `session_id` |
 * | `event_properties` | `properties`, nested objects and arrays kept as JSON (depth ≤ 40 per the docs), plus `context_properties` |
 * | `user_properties` | `user_properties` |
 * | `app_version`, `platform` | options (default: context `service.version`, context `platform`) |
 * | `ip` | context `client.address`, only with `send_ip: true` |
 * | `price`, `quantity`, `revenue`, `productId`, `revenueType` | `revenue` options, for `revenue.events` |
 *
 * An event that gets neither a user_id nor a device_id cannot be accepted by Amplitude ("one of
 * user_id or device_id is required"); it is refused before sending.
 */
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import type { AmplitudeConfig } from './config.js';
import { compileFieldPath, firstOf, nanosToMillis, type FieldGetter } from './event_fields.js';

/** The subset of Amplitude's event keys this exporter sends. */
export interface AmplitudeEvent {
  event_type: string;
  user_id?: string;
  device_id?: string;
  time?: number;
  insert_id?: string;
  session_id?: number;
  event_properties?: { [key: string]: JsonValue };
  user_properties?: { [key: string]: JsonValue };
  app_version?: string;
  platform?: string;
  ip?: string;
  price?: number;
  quantity?: number;
  revenue?: number;
  productId?: string;
  revenueType?: string;
}

/** A mapped event, or why it cannot be sent. */
export type MapResult = { ok: true; event: AmplitudeEvent } | { ok: false; reason: string };

export const NO_IDENTITY_REASON = 'no user_id or device_id: Amplitude requires one of them (map one with the user_id/device_id options, e.g. device_id: [device_id, session_id, insert_id])';

function asString(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function asNumber(v: JsonValue | undefined): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

function asInteger(v: JsonValue | undefined): number | undefined {
  const n = asNumber(v);
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

/** Compiles the mapping options once; the returned function maps one event. */
export function compileMapping(cfg: AmplitudeConfig): (e: AnalyticsEvent) => MapResult {
  const userId = firstOf(cfg.user_id);
  const deviceId = firstOf(cfg.device_id);
  const sessionId = firstOf(cfg.session_id);
  const appVersion = firstOf(cfg.app_version);
  const platform = firstOf(cfg.platform);
  const prefix = cfg.user_id_prefix;
  const contextKeys = cfg.context_properties;
  const rev = cfg.revenue;
  const revenueEvents = new Set(rev.events);
  const get = (p: string | undefined): FieldGetter | undefined => (p === undefined ? undefined : compileFieldPath(p));
  const revenue = get(rev.revenue);
  const price = get(rev.price);
  const quantity = get(rev.quantity);
  const productId = get(rev.product_id);
  const revenueType = get(rev.revenue_type);
  const sendIp = cfg.send_ip;

  return (e) => {
    const out: AmplitudeEvent = { event_type: e.name };
    const uid = asString(userId(e));
    if (uid !== undefined) out.user_id = prefix + uid;
    const did = asString(deviceId(e));
    if (did !== undefined) out.device_id = did;
    if (out.user_id === undefined && out.device_id === undefined) return { ok: false, reason: NO_IDENTITY_REASON };
    const time = nanosToMillis(e.time_unix_nano);
    if (time !== undefined) out.time = time;
    if (e.insert_id) out.insert_id = e.insert_id;

    let props: { [key: string]: JsonValue } | undefined = Object.keys(e.properties).length > 0 ? { ...e.properties } : undefined;
    const sid = sessionId(e);
    if (sid !== undefined) {
      const n = asInteger(sid);
      if (n !== undefined && n > 0) out.session_id = n;
      else (props ??= {}).session_id ??= sid;
    }
    for (const key of contextKeys) {
      const v = e.context[key];
      if (v !== undefined && (props === undefined || !(key in props))) (props ??= {})[key] = v;
    }
    if (props) out.event_properties = props;
    if (e.user_properties && Object.keys(e.user_properties).length > 0) out.user_properties = e.user_properties;

    const av = asString(appVersion(e));
    if (av !== undefined) out.app_version = av;
    const pf = asString(platform(e));
    if (pf !== undefined) out.platform = pf;
    if (sendIp) {
      const ip = e.context['client.address'];
      if (typeof ip === 'string' && ip !== '' && ip !== '$remote') out.ip = ip;
    }

    if (revenueEvents.has(e.name)) {
      const r = revenue && asNumber(revenue(e));
      const p = price && asNumber(price(e));
      if (r !== undefined || p !== undefined) {
        if (r !== undefined) out.revenue = r;
        if (p !== undefined) out.price = p;
        const q = quantity && asInteger(quantity(e));
        if (q !== undefined) out.quantity = q;
        const id = productId && asString(productId(e));
        if (id !== undefined) out.productId = id;
        const t = revenueType && asString(revenueType(e));
        if (t !== undefined) out.revenueType = t;
      }
    }
    return { ok: true, event: out };
  };
}
