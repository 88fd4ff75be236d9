/**
 * A local Amplitude ingestion server for tests and examples, following the documented contract of
 * the HTTP V2 API (https://amplitude.com/docs/apis/analytics/http-v2) and the Batch Event Upload
 * API (https://amplitude.com/docs/apis/analytics/batch-event-upload):
 *
 * - `POST /2/httpapi` (≤ 2000 events, body under 1 MB, 30 events/s per user or device) and
 *   `POST /batch` (≤ 20 MB, 1000 events/s), limits configurable; `Content-Type: application/json`;
 *   a gzip body only when `acceptGzip` (the docs do not list Content-Encoding);
 * - 413 `{code, error: "Payload too large"}` over the size or event limit;
 * - 400 `Invalid JSON request body`, `Request missing required field` + `missing_field`,
 *   `Invalid API key`, and per event `events_with_missing_fields` / `events_with_invalid_fields` /
 *   `events_with_invalid_id_lengths` (field → indexes), `silenced_devices` + `silenced_events`;
 *   nothing of such a request is ingested;
 * - 429 `{eps_threshold, throttled_users, throttled_devices, throttled_events,
 *   exceeded_daily_quota_users, exceeded_daily_quota_devices}` when a user or device goes over the
 *   rate (averaged over `rateWindowMillis`, 30 s as documented) or the daily quota; nothing ingested;
 * - 200 `{code, events_ingested, payload_size_bytes, server_upload_time}`; events are de-duplicated
 *   on `insert_id` (the docs: 7 days).
 *
 * HTTPS (and mutual TLS) with `tls`; plain HTTP otherwise.
 *
 * Faults can be injected for the next requests: an HTTP status (5xx, with `Retry-After`), a delay,
 * or a connection reset. Run it alone with `node dist/test/fakes/amplitude-server.js [--port N]
 * [--api-key K]`: it prints `AMPLITUDE_ENDPOINT=http://127.0.0.1:<port>`; `GET /_fake/events`
 * lists what was ingested, `GET /_fake/requests` the requests, `POST /_fake/faults` takes a fault
 * (`{"status":503,"times":2}`, `{"reset":true}`, `{"delayMillis":500}`).
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { pathOf, retryAfterHeaders, runAlone, StandIn, type Fault as AnyFault, type StandInOptions } from './stand-in.js';

export interface ApiLimits {
  maxEvents: number;
  maxBytes: number;
  /** Events per second per user or device, averaged over `rateWindowMillis`. */
  epsThreshold: number;
}

export interface AmplitudeServerOptions extends StandInOptions {
  /** Keys accepted; undefined accepts any non-empty key. */
  apiKeys?: string[];
  http_v2?: Partial<ApiLimits>;
  batch?: Partial<ApiLimits>;
  rateWindowMillis?: number;
  /** Events per user or device per rolling 24 hours. */
  dailyQuota?: number;
  silencedDevices?: string[];
  acceptGzip?: boolean;
}

export type Fault = AnyFault;

export interface RequestRecord {
  path: string;
  status: number;
  events: number;
  bytes: number;
  gzip: boolean;
  body?: unknown;
}

export interface IngestedEvent {
  path: string;
  event: Record<string, unknown>;
}

export const DEFAULT_LIMITS: Record<'http_v2' | 'batch', ApiLimits> = {
  http_v2: { maxEvents: 2000, maxBytes: 1_000_000 - 1, epsThreshold: 30 },
  batch: { maxEvents: Number.MAX_SAFE_INTEGER, maxBytes: 20_000_000, epsThreshold: 1000 },
};

/** Event names reserved for Amplitude (HTTP V2 docs, `event_type`). */
const RESERVED_EVENT_TYPES = new Set(['[Amplitude] Start Session', '[Amplitude] End Session', '[Amplitude] Revenue', '[Amplitude] Revenue (Verified)', '[Amplitude] Revenue (Unverified)', '[Amplitude] Merged User']);
/** Ids the docs list as invalid. */
const INVALID_IDS = new Set(['anonymous', 'nil', 'none', 'null', 'n/a', 'na', 'undefined', 'unknown', '""', '00000000-0000-0000-0000-000000000000', '{}', 'lmy47d', '0', '-1']);
const DAY_MILLIS = 24 * 3600 * 1000;
const DEDUP_MILLIS = 7 * DAY_MILLIS;

function depth(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  let d = 0;
  for (const x of Array.isArray(v) ? v : Object.values(v)) d = Math.max(d, depth(x));
  return d + 1;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v);

/** Sliding-window counts of events per id. */
class Window {
  private readonly times = new Map<string, number[]>();
  constructor(private readonly millis: number) {}
  count(id: string, now: number): number {
    const list = this.times.get(id);
    if (!list) return 0;
    while (list.length > 0 && list[0]! <= now - this.millis) list.shift();
    return list.length;
  }
  clear(): void {
    this.times.clear();
  }
  add(id: string, now: number, n = 1): void {
    let list = this.times.get(id);
    if (!list) this.times.set(id, (list = []));
    for (let i = 0; i < n; i++) list.push(now);
  }
}

export class FakeAmplitude extends StandIn<AmplitudeServerOptions, RequestRecord> {
  readonly ingested = new Map<string, IngestedEvent>();
  /** Events stored without an insert_id (never de-duplicated). */
  readonly withoutInsertId: IngestedEvent[] = [];
  duplicates = 0;
  private readonly seen = new Map<string, number>();
  private readonly rate: Window;
  private readonly daily = new Window(DAY_MILLIS);

  constructor(options: AmplitudeServerOptions = {}) {
    super(options);
    this.rate = new Window(options.rateWindowMillis ?? 30_000);
  }

  limits(api: 'http_v2' | 'batch'): ApiLimits {
    return { ...DEFAULT_LIMITS[api], ...this.options[api] };
  }

  /** Counts `n` events of a user or device toward its daily quota, as if it had sent them earlier today. */
  recordUsage(id: string, n: number): void {
    this.daily.add(id, Date.now(), n);
  }

  /** Forgets everything ingested and seen (de-duplication, rates, quotas) and every pending fault. */
  override reset(): void {
    super.reset();
    this.ingested.clear();
    this.withoutInsertId.length = 0;
    this.duplicates = 0;
    this.seen.clear();
    this.rate.clear();
    this.daily.clear();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse, received: Buffer): Promise<void> {
    const path = pathOf(req);
    let raw = received;

    const gzip = /gzip/i.test(String(req.headers['content-encoding'] ?? ''));
    const record: RequestRecord = { path, status: 0, events: 0, bytes: raw.length, gzip };
    this.requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      record.body = body;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };

    if (await this.faulted(req, record, (f) => reply(f.status, f.body ?? { code: f.status, error: http.STATUS_CODES[f.status] ?? 'error' }, retryAfterHeaders(f)))) return;

    const api = path === '/2/httpapi' ? 'http_v2' : path === '/batch' ? 'batch' : undefined;
    if (!api) return reply(400, { code: 400, error: 'Invalid request path' });
    if (req.method !== 'POST') return reply(405, { code: 405, error: 'Method not allowed' });
    const limits = this.limits(api);
    if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) return reply(400, { code: 400, error: 'Invalid Content-Type header: must be application/json' });
    if (gzip && this.options.acceptGzip) {
      try {
        raw = zlib.gunzipSync(raw);
      } catch {
        return reply(400, { code: 400, error: 'Invalid JSON request body' });
      }
    }
    record.bytes = raw.length;
    if (raw.length > limits.maxBytes) return reply(413, { code: 413, error: 'Payload too large' });
    if (raw.length === 0) return reply(400, { code: 400, error: 'Missing request body' });
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return reply(400, { code: 400, error: 'Invalid JSON request body' });
    }
    if (!isObject(body)) return reply(400, { code: 400, error: 'Invalid JSON request body' });
    if (typeof body.api_key !== 'string' || body.api_key === '') return reply(400, { code: 400, error: 'Request missing required field', missing_field: 'api_key' });
    if (!Array.isArray(body.events) || body.events.length === 0) return reply(400, { code: 400, error: 'Request missing required field', missing_field: 'events' });
    if (this.options.apiKeys && !this.options.apiKeys.includes(body.api_key)) return reply(400, { code: 400, error: 'Invalid API key' });
    const events = body.events as unknown[];
    record.events = events.length;
    if (events.length > limits.maxEvents) return reply(413, { code: 413, error: 'Payload too large' });
    const options = isObject(body.options) ? body.options : {};
    const minIdLength = isInt(options.min_id_length) && (options.min_id_length as number) > 0 ? (options.min_id_length as number) : 5;

    const problems = this.validate(events, minIdLength);
    if (problems) return reply(400, problems);
    const now = Date.now();
    const throttled = this.throttle(events as Record<string, unknown>[], limits, now);
    if (throttled) return reply(429, throttled);

    for (const e of events as Record<string, unknown>[]) {
      for (const id of [e.user_id, e.device_id]) if (typeof id === 'string') {
        this.rate.add(id, now);
        this.daily.add(id, now);
      }
      const insertId = e.insert_id;
      if (typeof insertId !== 'string') {
        this.withoutInsertId.push({ path, event: e });
        continue;
      }
      const at = this.seen.get(insertId);
      if (at !== undefined && now - at < DEDUP_MILLIS) {
        this.duplicates++;
        continue;
      }
      this.seen.set(insertId, now);
      this.ingested.set(insertId, { path, event: e });
    }
    await this.answerLater();
    reply(200, { code: 200, events_ingested: events.length, payload_size_bytes: raw.length, server_upload_time: now });
  }

  /** The 400 body for events that fail validation, or undefined when all pass. */
  private validate(events: unknown[], minIdLength: number): Record<string, unknown> | undefined {
    const invalid: Record<string, number[]> = {};
    const missing: Record<string, number[]> = {};
    const lengths: Record<string, number[]> = {};
    const silencedEvents: number[] = [];
    const silencedDevices = new Set<string>();
    const add = (m: Record<string, number[]>, field: string, i: number) => (m[field] ??= []).push(i);
    const silenced = new Set(this.options.silencedDevices ?? []);
    events.forEach((e, i) => {
      if (!isObject(e)) return add(invalid, 'event', i);
      if (e.event_type === undefined || e.event_type === '') add(missing, 'event_type', i);
      else if (typeof e.event_type !== 'string' || RESERVED_EVENT_TYPES.has(e.event_type)) add(invalid, 'event_type', i);
      let ids = 0;
      for (const field of ['user_id', 'device_id'] as const) {
        const v = e[field];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string' || INVALID_IDS.has(v.toLowerCase())) add(invalid, field, i);
        else if (v.length < minIdLength) add(lengths, field, i);
        else ids++;
      }
      if (ids === 0 && e.user_id === undefined && e.device_id === undefined) add(missing, 'device_id', i);
      if (e.time !== undefined && !(isInt(e.time) && (e.time as number) >= 0)) add(invalid, 'time', i);
      if (e.session_id !== undefined && !isInt(e.session_id)) add(invalid, 'session_id', i);
      if (e.insert_id !== undefined && typeof e.insert_id !== 'string') add(invalid, 'insert_id', i);
      for (const f of ['event_properties', 'user_properties'] as const) {
        if (e[f] !== undefined && (!isObject(e[f]) || depth(e[f]) > 40)) add(invalid, f, i);
      }
      for (const f of ['price', 'revenue', 'location_lat', 'location_lng'] as const) if (e[f] !== undefined && typeof e[f] !== 'number') add(invalid, f, i);
      if (e.quantity !== undefined && !isInt(e.quantity)) add(invalid, 'quantity', i);
      for (const f of ['app_version', 'platform', 'ip', 'productId', 'revenueType'] as const) if (e[f] !== undefined && typeof e[f] !== 'string') add(invalid, f, i);
      if (typeof e.device_id === 'string' && silenced.has(e.device_id)) {
        silencedEvents.push(i);
        silencedDevices.add(e.device_id);
      }
    });
    const fieldProblems = Object.keys(invalid).length + Object.keys(missing).length + Object.keys(lengths).length > 0;
    if (!fieldProblems && silencedEvents.length === 0) return undefined;
    const body: Record<string, unknown> = { code: 400, error: fieldProblems ? 'Invalid field values on some events' : 'Events silenced for device_id' };
    if (Object.keys(invalid).length) body.events_with_invalid_fields = invalid;
    if (Object.keys(missing).length) body.events_with_missing_fields = missing;
    if (Object.keys(lengths).length) body.events_with_invalid_id_lengths = lengths;
    if (silencedEvents.length) {
      body.silenced_devices = [...silencedDevices];
      body.silenced_events = silencedEvents;
    }
    return body;
  }

  /** The 429 body when a user or device of the request goes over the rate or the daily quota. */
  private throttle(events: Record<string, unknown>[], limits: ApiLimits, now: number): Record<string, unknown> | undefined {
    const windowSeconds = (this.options.rateWindowMillis ?? 30_000) / 1000;
    const allowed = limits.epsThreshold * windowSeconds;
    const quota = this.options.dailyQuota ?? 500_000;
    const inRequest = new Map<string, number>();
    for (const e of events) for (const id of [e.user_id, e.device_id]) if (typeof id === 'string') inRequest.set(id, (inRequest.get(id) ?? 0) + 1);
    const throttledUsers: Record<string, number> = {};
    const throttledDevices: Record<string, number> = {};
    const quotaUsers: Record<string, number> = {};
    const quotaDevices: Record<string, number> = {};
    const throttledEvents: number[] = [];
    events.forEach((e, i) => {
      let hit = false;
      for (const [field, over, overQuota] of [
        ['user_id', throttledUsers, quotaUsers],
        ['device_id', throttledDevices, quotaDevices],
      ] as const) {
        const id = e[field];
        if (typeof id !== 'string') continue;
        const total = this.rate.count(id, now) + inRequest.get(id)!;
        const today = this.daily.count(id, now) + inRequest.get(id)!;
        if (today > quota) overQuota[id] = today;
        else if (total > allowed) {
          over[id] = Math.round((total / windowSeconds) * 10) / 10;
          hit = true;
        }
      }
      if (hit) throttledEvents.push(i);
    });
    if (throttledEvents.length === 0 && Object.keys(quotaUsers).length === 0 && Object.keys(quotaDevices).length === 0) return undefined;
    return {
      code: 429,
      error: 'Too many requests for some devices and users',
      eps_threshold: limits.epsThreshold,
      throttled_devices: throttledDevices,
      throttled_users: throttledUsers,
      throttled_events: throttledEvents,
      exceeded_daily_quota_users: quotaUsers,
      exceeded_daily_quota_devices: quotaDevices,
    };
  }

  protected views() {
    return {
      events: () => [...this.ingested.values()].map((x) => x.event),
      requests: () => this.requests,
    };
  }
}

/** Starts a fake Amplitude server on 127.0.0.1. */
export function startAmplitudeServer(options: AmplitudeServerOptions = {}): Promise<FakeAmplitude> {
  return new FakeAmplitude(options).start();
}

await runAlone(import.meta.url, 'AMPLITUDE_ENDPOINT', () => {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, 'api-key': { type: 'string', multiple: true }, gzip: { type: 'boolean', default: false } } });
  return startAmplitudeServer({ port: Number(values.port), apiKeys: values['api-key'], acceptGzip: values.gzip });
});
