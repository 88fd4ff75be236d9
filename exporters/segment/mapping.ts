/**
 * Event model → Segment `track` call, as the HTTP Tracking API and the Segment Spec define it
 * (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#track,
 * https://segment.com/docs/connections/spec/common/, https://segment.com/docs/connections/spec/track/):
 *
 * | Segment | from |
 * |---|---|
 * | `type` | `"track"` |
 * | `event` | `name` |
 * | `userId` | `user_id` option (first field present) |
 * | `anonymousId` | `anonymous_id` option (default: device_id, then session_id) |
 * | `timestamp` | `time_unix_nano`, ISO 8601 UTC with milliseconds (`2026-11-21T10:05:00.123Z`) |
 * | `messageId` | `insert_id`; one of 100 characters or more (Segment wants fewer): `sha256:` + its SHA-256 in hex |
 * | `properties` | `properties` (nested objects and arrays kept as JSON, numbers as numbers), plus `session_id` and `context_properties` |
 * | `context.traits` | `user_properties` |
 * | `context.library` | `{name: "otelytics", version}` |
 * | `context.app` | `{name, version}` from the context's `service.name`, `service.version` |
 * | `context.ip` | context `client.address`, only with `send_ip: true` |
 * | `context.userAgent` | context `user_agent.original`, unless `send_user_agent: false` |
 * | `integrations` | the `integrations` option |
 *
 * An event that gets neither a userId nor an anonymousId cannot be accepted ("The HTTP API requires
 * that each payload has a userId and/or anonymousId"); it is refused before sending.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import { firstOf, nanosToMillis } from '../amplitude/event_fields.js';
import { MAX_MESSAGE_ID_LENGTH, type SegmentConfig } from './config.js';

type JsonObject = { [key: string]: JsonValue };

/** The `track` call this exporter sends. */
export interface SegmentTrack {
  type: 'track';
  event: string;
  userId?: string;
  anonymousId?: string;
  timestamp?: string;
  messageId: string;
  properties: JsonObject;
  context: {
    library: { name: string; version: string };
    app?: { name?: string; version?: string };
    ip?: string;
    userAgent?: string;
    traits?: JsonObject;
  };
  integrations?: { [name: string]: unknown };
}

/** A mapped call, or why it cannot be sent. */
export type MapResult = { ok: true; call: SegmentTrack } | { ok: false; reason: string };

export const NO_IDENTITY_REASON = 'no userId or anonymousId: Segment requires one of them (map one with the user_id/anonymous_id options, e.g. anonymous_id: [device_id, session_id, insert_id])';

/** `context.library` of every call. */
export const LIBRARY = { name: 'otelytics', version: packageVersion() };

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function asString(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * The `messageId` of an event: its `insert_id` as it is, or, when that has 100 characters or
 * more, `sha256:` and the SHA-256 of it in hex (71 characters). Deterministic: a retry, a replay
 * from the dead-letter file or a restart sends the same messageId, which Segment de-duplicates.
 */
export function messageId(insertId: string): string {
  return insertId.length <= MAX_MESSAGE_ID_LENGTH ? insertId : `sha256:${createHash('sha256').update(insertId).digest('hex')}`;
}

/** `time_unix_nano` as ISO 8601 UTC with milliseconds; undefined when absent or not a time. */
export function isoTimestamp(nanos: string | undefined): string | undefined {
  const ms = nanosToMillis(nanos);
  if (ms === undefined) return undefined;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Compiles the mapping options once; the returned function maps one event. */
export function compileMapping(cfg: SegmentConfig): (e: AnalyticsEvent) => MapResult {
  const userId = firstOf(cfg.user_id);
  const anonymousId = firstOf(cfg.anonymous_id);
  const sessionId = firstOf(cfg.session_id);
  const contextKeys = cfg.context_properties;
  const sendIp = cfg.send_ip;
  const sendUserAgent = cfg.send_user_agent;
  const integrations = cfg.integrations;

  return (e) => {
    const uid = asString(userId(e));
    const aid = asString(anonymousId(e));
    if (uid === undefined && aid === undefined) return { ok: false, reason: NO_IDENTITY_REASON };
    const properties: JsonObject = { ...e.properties };
    const sid = sessionId(e);
    if (sid !== undefined && !('session_id' in properties)) properties.session_id = sid;
    for (const key of contextKeys) {
      const v = e.context[key];
      if (v !== undefined && !(key in properties)) properties[key] = v;
    }
    const call: SegmentTrack = { type: 'track', event: e.name, messageId: messageId(e.insert_id), properties, context: { library: LIBRARY } };
    if (uid !== undefined) call.userId = uid;
    if (aid !== undefined) call.anonymousId = aid;
    const ts = isoTimestamp(e.time_unix_nano);
    if (ts !== undefined) call.timestamp = ts;

    const service = asString(e.context['service.name']);
    const version = asString(e.context['service.version']);
    if (service !== undefined || version !== undefined) call.context.app = { ...(service !== undefined && { name: service }), ...(version !== undefined && { version }) };
    if (sendIp) {
      const ip = asString(e.context['client.address']);
      if (ip !== undefined) call.context.ip = ip;
    }
    if (sendUserAgent) {
      const ua = asString(e.context['user_agent.original']);
      if (ua !== undefined) call.context.userAgent = ua;
    }
    if (e.user_properties && Object.keys(e.user_properties).length > 0) call.context.traits = e.user_properties;
    if (integrations) call.integrations = integrations;
    return { ok: true, call };
  };
}
