/**
 * A local Mixpanel ingestion server for tests and examples, following the documented contract of
 * the Import Events API (https://docs.mixpanel.com/reference/import-events) and its errors
 * (https://docs.mixpanel.com/troubleshooting/errors/400-bad-request, .../413-payload-too-large,
 * .../429-rate-limit-exceeded):
 *
 * - `POST /import`, `Content-Type: application/json` (a JSON array) or `application/x-ndjson`,
 *   `Content-Encoding: gzip` accepted; at most 2000 events and 10 MB of uncompressed JSON per
 *   request (413 `{code, error: "request exceeds max limit of N bytes", status}` over either),
 *   limits configurable;
 * - authentication by HTTP Basic: a project token as the user with an empty password, or, with the
 *   `project_id` query parameter, a service account's `username:secret`; 401 otherwise;
 * - `strict=1`: each event is validated (event name; properties an object of fewer than 255 keys,
 *   nested objects and lists of fewer than 255 keys or elements; `time` in seconds or milliseconds,
 *   not before 1971-01-01 nor more than an hour ahead; `distinct_id` a string, not a placeholder
 *   such as `null` or `anonymous`; `$insert_id` present, ≤ 36 characters of `[A-Za-z0-9-]`; the
 *   event under 1 MB of JSON); the events that pass are ingested, and if any failed the answer is
 *   400 `{code, error, status, num_records_imported, failed_records: [{index, insert_id, field,
 *   message}]}`; without `strict=1` failing events are dropped silently and the answer is 200;
 * - 200 `{code: 200, num_records_imported, status: "OK"}`;
 * - de-duplication on `$insert_id`: an event whose `$insert_id` was ingested before is counted in
 *   `duplicates` (and per id in `deliveries`), not stored again.
 *
 * HTTPS (and mutual TLS) with `tls`; plain HTTP otherwise.
 *
 * Faults can be injected for the next requests: an HTTP status (429, 5xx, with `Retry-After`), a
 * delay, or a connection reset; `answerDelayMillis` makes every answer slow (the events are ingested
 * at once). Run it alone with `node dist/test/fakes/mixpanel-server.js [--port N] [--token T]
 * [--service-account user:secret --project-id N]`: it prints
 * `MIXPANEL_ENDPOINT=http://127.0.0.1:<port>`; `GET /_fake/events` lists what was ingested,
 * `GET /_fake/requests` the requests, `GET /_fake/stats` unique and duplicate deliveries,
 * `POST /_fake/faults` takes a fault (`{"status":429,"times":2}`, `{"reset":true}`,
 * `{"delayMillis":500}`).
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { retryAfterHeaders, runAlone, StandIn, type Fault as AnyFault, type StandInOptions } from './stand-in.js';

export interface MixpanelServerOptions extends StandInOptions {
  /** Project tokens accepted; undefined accepts any non-empty token. */
  tokens?: string[];
  /** Service accounts accepted (`username` → `secret`), each for the project ids listed (none: any). */
  serviceAccounts?: { username: string; secret: string; projectIds?: string[] }[];
  maxEvents?: number;
  maxBytes?: number;
  /** Each event's JSON must be smaller than this (1 MB). */
  maxEventBytes?: number;
}

export type Fault = AnyFault;

export interface RequestRecord {
  status: number;
  events: number;
  /** Uncompressed bytes. */
  bytes: number;
  gzip: boolean;
  strict: boolean;
  contentType: string;
  body?: unknown;
}

export interface IngestedEvent {
  event: string;
  properties: Record<string, unknown>;
}

export const DEFAULT_MAX_EVENTS = 2000;
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/** distinct_id and $insert_id values Mixpanel rejects as placeholders (docs: "anon, anonymous, nil, none, null, n/a, 00000000-..."). */
export const INVALID_IDS = new Set(['00000000-0000-0000-0000-000000000000', 'anon', 'anonymous', 'nil', 'none', 'null', 'n/a', 'na', 'undefined', 'unknown', '<nil>', '0', '-1', 'true', 'false', '[]', '{}']);
const MIN_TIME_MS = Date.UTC(1971, 0, 1);
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The first property, nested object or list of 255 or more keys or elements (its path), if any. */
function tooWide(v: unknown, path: string): string | undefined {
  if (Array.isArray(v)) {
    if (v.length >= 255) return path;
    for (const x of v) {
      const bad = tooWide(x, path);
      if (bad) return bad;
    }
  } else if (isObject(v)) {
    if (Object.keys(v).length >= 255) return path;
    for (const [k, x] of Object.entries(v)) {
      const bad = tooWide(x, `${path}.${k}`);
      if (bad) return bad;
    }
  }
  return undefined;
}

export class FakeMixpanel extends StandIn<MixpanelServerOptions, RequestRecord> {
  readonly ingested = new Map<string, IngestedEvent>();
  /** Accepted deliveries per $insert_id (1 = once; more = duplicates de-duplicated). */
  readonly deliveries = new Map<string, number>();
  duplicates = 0;

  constructor(options: MixpanelServerOptions = {}) {
    super(options);
  }

  override reset(): void {
    super.reset();
    this.ingested.clear();
    this.deliveries.clear();
    this.duplicates = 0;
  }

  /** Undefined when the request is authenticated, else why not. */
  private authError(header: string | undefined, projectId: string | null): string | undefined {
    const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
    if (!m) return 'Unable to authenticate request';
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const pass = colon < 0 ? '' : decoded.slice(colon + 1);
    if (projectId !== null) {
      const account = (this.options.serviceAccounts ?? []).find((a) => a.username === user && a.secret === pass);
      if (!account) return 'Invalid service account credentials';
      if (account.projectIds && !account.projectIds.includes(projectId)) return `service account has no access to project ${projectId}`;
      return undefined;
    }
    if (user === '') return 'Unable to authenticate request';
    if (this.options.tokens && !this.options.tokens.includes(user)) return 'Invalid project token';
    return undefined;
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse, received: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    let raw = received;

    const gzip = /gzip/i.test(String(req.headers['content-encoding'] ?? ''));
    const contentType = String(req.headers['content-type'] ?? '');
    const strict = url.searchParams.get('strict') === '1';
    const record: RequestRecord = { status: 0, events: 0, bytes: raw.length, gzip, strict, contentType };
    this.requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      record.body = body;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, message: string) => reply(status, { code: status, error: message, status: http.STATUS_CODES[status] ?? 'error' });

    const answer = (f: Extract<Fault, { status: number }>) =>
      reply(f.status, f.body ?? { code: f.status, error: f.status === 429 ? 'Project exceeded rate limits. Please retry the request with exponential backoff.' : (http.STATUS_CODES[f.status] ?? 'error'), status: http.STATUS_CODES[f.status] ?? 'error' }, retryAfterHeaders(f));
    if (await this.faulted(req, record, answer)) return;

    if (url.pathname !== '/import') return error(404, 'Not Found');
    if (req.method !== 'POST') return error(405, 'Method Not Allowed');
    const authError = this.authError(req.headers.authorization, url.searchParams.get('project_id'));
    if (authError) return error(401, authError);
    if (gzip) {
      try {
        raw = zlib.gunzipSync(raw);
      } catch {
        return error(400, 'unable to decompress request body');
      }
    }
    record.bytes = raw.length;
    const maxBytes = this.options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (raw.length > maxBytes) return error(413, `request exceeds max limit of ${maxBytes} bytes`);
    let events: unknown[];
    try {
      const text = raw.toString('utf8');
      if (/^application\/x-ndjson\b/i.test(contentType)) events = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
      else if (/^application\/json\b/i.test(contentType)) {
        const parsed = JSON.parse(text) as unknown;
        if (!Array.isArray(parsed)) return error(400, 'request body must be a JSON array of events');
        events = parsed;
      } else return error(400, 'Content-Type must be application/json or application/x-ndjson');
    } catch {
      return error(400, 'unable to parse request body as JSON');
    }
    if (events.length === 0) return error(400, 'no events in request body');
    record.events = events.length;
    const maxEvents = this.options.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (events.length > maxEvents) return error(413, `request exceeds max limit of ${maxEvents} events`);

    const now = Date.now();
    const failed: { index: number; insert_id: string; field: string; message: string }[] = [];
    let imported = 0;
    events.forEach((e, index) => {
      const problem = this.validate(e, now);
      const insertId = isObject(e) && isObject(e.properties) && typeof e.properties.$insert_id === 'string' ? e.properties.$insert_id : '';
      if (problem) {
        failed.push({ index, insert_id: insertId, ...problem });
        return;
      }
      imported++;
      const ev = e as unknown as IngestedEvent;
      this.deliveries.set(insertId, (this.deliveries.get(insertId) ?? 0) + 1);
      if (this.ingested.has(insertId)) this.duplicates++;
      else this.ingested.set(insertId, { event: ev.event, properties: ev.properties });
    });
    await this.answerLater();
    if (failed.length > 0 && strict) return reply(400, { code: 400, error: 'some data points in the request failed validation', status: 'Bad Request', num_records_imported: imported, failed_records: failed });
    reply(200, { code: 200, num_records_imported: imported, status: 'OK' });
  }

  /** Why Mixpanel would refuse one event (the field and message of its failed_records entry), or undefined. */
  private validate(e: unknown, now: number): { field: string; message: string } | undefined {
    if (!isObject(e)) return { field: 'event', message: 'event must be a JSON object' };
    if (Buffer.byteLength(JSON.stringify(e)) >= (this.options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES)) return { field: 'event', message: 'event exceeds max size of 1MB' };
    if (typeof e.event !== 'string' || e.event === '') return { field: 'event', message: "'event' must be a non-empty string" };
    const p = e.properties;
    if (!isObject(p)) return { field: 'properties', message: "'properties' must be an object" };
    if (Object.keys(p).length >= 255) return { field: 'properties', message: 'event must have fewer than 255 properties' };
    const wide = Object.entries(p).map(([k, v]) => tooWide(v, `properties.${k}`)).find((x) => x);
    if (wide) return { field: wide, message: `'${wide}' must have fewer than 255 keys or elements` };
    const t = p.time;
    if (typeof t !== 'number' || !Number.isFinite(t)) return { field: 'properties.time', message: "'properties.time' is invalid: must be specified as seconds or milliseconds since epoch" };
    const ms = t < 1e11 ? t * 1000 : t;
    if (ms < MIN_TIME_MS) return { field: 'properties.time', message: "'properties.time' is invalid: events before 1971-01-01 are not accepted" };
    if (ms > now + 3600_000) return { field: 'properties.time', message: "'properties.time' is invalid: more than one hour in the future" };
    if (typeof p.distinct_id !== 'string') return { field: 'properties.distinct_id', message: "'properties.distinct_id' must be a string" };
    if (INVALID_IDS.has(p.distinct_id.toLowerCase())) return { field: 'properties.distinct_id', message: `'properties.distinct_id' is invalid: ${JSON.stringify(p.distinct_id)} is not an acceptable value` };
    const id = p.$insert_id;
    if (typeof id !== 'string' || id === '') return { field: 'properties.$insert_id', message: "'properties.$insert_id' is required" };
    if (!INSERT_ID.test(id) || INVALID_IDS.has(id.toLowerCase())) return { field: 'properties.$insert_id', message: "'properties.$insert_id' is invalid: must be at most 36 alphanumeric characters or '-'" };
    return undefined;
  }

  protected views() {
    return {
      events: () => [...this.ingested.values()],
      requests: () => this.requests,
      stats: () => ({ unique: this.ingested.size, duplicates: this.duplicates, requests: this.requests.length }),
    };
  }
}

/** Starts a fake Mixpanel server on 127.0.0.1. */
export function startMixpanelServer(options: MixpanelServerOptions = {}): Promise<FakeMixpanel> {
  return new FakeMixpanel(options).start();
}

await runAlone(import.meta.url, 'MIXPANEL_ENDPOINT', () => {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, token: { type: 'string', multiple: true }, 'service-account': { type: 'string', multiple: true }, 'project-id': { type: 'string', multiple: true } },
  });
  const serviceAccounts = (values['service-account'] ?? []).map((s) => {
    const i = s.indexOf(':');
    return { username: s.slice(0, i), secret: s.slice(i + 1), projectIds: values['project-id'] };
  });
  return startMixpanelServer({ port: Number(values.port), tokens: values.token, serviceAccounts });
});
