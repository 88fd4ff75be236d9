/**
 * A local PostHog capture server for tests and examples, following the documented contract of
 * `POST /batch/` (https://posthog.com/docs/api/capture):
 *
 * - body `{api_key, historical_migration?, batch: [{event, distinct_id, properties?, timestamp?,
 *   uuid?}]}`, `Content-Type: application/json`; `distinct_id` may also be in `properties`;
 * - 401 without an `api_key` or with one that is not a project's (`apiKeys`);
 * - 400 for a body that is not JSON, an empty `batch`, an event without `event` name or
 *   `distinct_id`, or a `uuid` that is not a UUID; the whole request is refused and the answer does
 *   not say which event (as PostHog's capture service answers);
 * - 413 over the request body limit (under 20 MB) or for an event over 1 MB;
 * - 200 `{"status": 1}`; each event stored once per de-duplication key: PostHog's events table is
 *   a ReplacingMergeTree ordered by (team, day of `timestamp`, `event`, `distinct_id`, `uuid`), so
 *   a resend with the same `uuid`, `event`, `distinct_id` and day is a duplicate (counted in
 *   `duplicates`); the same `uuid` with other fields would be a second row (`conflicts`).
 *
 * HTTPS (and mutual TLS) with `tls`; plain HTTP otherwise.
 *
 * Faults for the next requests: an HTTP status (429, 5xx, with `Retry-After`), a delay, or a
 * connection reset; `answerDelayMillis` makes every answer slow (the events are taken at once).
 * Run it alone with `node dist/test/fakes/posthog-server.js [--port N] [--api-key K]`: it prints
 * `POSTHOG_ENDPOINT=http://127.0.0.1:<port>`; `GET /_fake/events` lists the events stored,
 * `GET /_fake/requests` the requests, `GET /_fake/stats` the counts, `POST /_fake/faults` takes a
 * fault (`{"status":503,"times":2}`, `{"status":429,"retryAfter":"1"}`, `{"reset":true}`,
 * `{"delayMillis":500}`).
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { pathOf, retryAfterHeaders, runAlone, StandIn, type Fault as AnyFault, type StandInOptions } from './stand-in.js';

export interface PosthogServerOptions extends StandInOptions {
  /** Project API keys accepted; undefined accepts any non-empty key. */
  apiKeys?: string[];
  /** Request body limit, bytes (default 20,000,000 − 1). */
  maxBytes?: number;
  /** Event limit, bytes of its JSON (default 1,000,000). */
  maxEventBytes?: number;
}

export type Fault = AnyFault<string>;

export interface RequestRecord {
  path: string;
  status: number;
  events: number;
  bytes: number;
  historical_migration?: boolean;
  body?: string;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function distinctIdOf(e: Record<string, unknown>): string | undefined {
  const d = e.distinct_id ?? (isObject(e.properties) ? e.properties.distinct_id : undefined);
  if (typeof d === 'number') return String(d);
  return typeof d === 'string' && d.trim() !== '' ? d : undefined;
}

export class FakePosthog extends StandIn<PosthogServerOptions, RequestRecord, string> {
  /** uuid → the event stored. */
  readonly ingested = new Map<string, Record<string, unknown>>();
  readonly withoutUuid: Record<string, unknown>[] = [];
  /** Events resent with a de-duplication key already stored. */
  duplicates = 0;
  /** Events resent with a stored uuid but another event, distinct_id or day: PostHog would keep both. */
  conflicts = 0;
  private readonly keys = new Set<string>();

  constructor(options: PosthogServerOptions = {}) {
    super(options);
  }

  override reset(): void {
    super.reset();
    this.ingested.clear();
    this.withoutUuid.length = 0;
    this.duplicates = 0;
    this.conflicts = 0;
    this.keys.clear();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const path = pathOf(req);
    const record: RequestRecord = { path, status: 0, events: 0, bytes: raw.length };
    this.requests.push(record);
    // PostHog's capture service answers errors as text.
    const reply = (status: number, body: string, headers: Record<string, string> = {}) => {
      record.status = status;
      record.body = body;
      res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain; charset=utf-8', ...headers });
      res.end(body);
    };

    if (await this.faulted(req, record, (f) => reply(f.status, f.body ?? (http.STATUS_CODES[f.status] ?? 'error').toLowerCase(), retryAfterHeaders(f)))) return;

    if (path !== '/batch/' && path !== '/batch') return reply(404, 'not found');
    if (req.method !== 'POST') return reply(405, 'method not allowed');
    if (raw.length > (this.options.maxBytes ?? 20_000_000 - 1)) return reply(413, 'request payload is too large');
    if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) return reply(400, 'failed to decode request: unsupported content type');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return reply(400, `failed to parse request: ${(err as Error).message}`);
    }
    if (!isObject(body)) return reply(400, 'failed to parse request: not an object');
    const key = body.api_key ?? body.token;
    if (typeof key !== 'string' || key === '') return reply(401, 'no api_key in request');
    if (this.options.apiKeys && !this.options.apiKeys.includes(key)) return reply(401, 'api_key is not valid');
    if (!Array.isArray(body.batch) || body.batch.length === 0) return reply(400, 'request holds no events');
    const events = body.batch as unknown[];
    record.events = events.length;
    record.historical_migration = body.historical_migration === true;
    const maxEvent = this.options.maxEventBytes ?? 1_000_000;
    for (const e of events) {
      if (!isObject(e)) return reply(400, 'failed to parse request: event is not an object');
      if (typeof e.event !== 'string' || e.event === '') return reply(400, 'event submitted without an event name');
      if (distinctIdOf(e) === undefined) return reply(400, 'event submitted without a distinct_id');
      if (e.uuid !== undefined && (typeof e.uuid !== 'string' || !UUID_RE.test(e.uuid))) return reply(400, 'event submitted with an invalid uuid');
      if (e.properties !== undefined && !isObject(e.properties)) return reply(400, 'failed to parse request: properties is not an object');
      if (Buffer.byteLength(JSON.stringify(e)) > maxEvent) return reply(413, 'event submitted is too big');
    }
    for (const e of events as Record<string, unknown>[]) {
      if (typeof e.uuid !== 'string') {
        this.withoutUuid.push(e);
        continue;
      }
      const uuid = e.uuid.toLowerCase();
      const day = typeof e.timestamp === 'string' ? e.timestamp.slice(0, 10) : '';
      const dedupKey = JSON.stringify([day, e.event, distinctIdOf(e), uuid]);
      if (this.keys.has(dedupKey)) this.duplicates++;
      else if (this.ingested.has(uuid)) this.conflicts++;
      else {
        this.keys.add(dedupKey);
        this.ingested.set(uuid, e);
      }
    }
    await this.answerLater();
    reply(200, JSON.stringify({ status: 1 }));
  }

  protected views() {
    return {
      events: () => [...this.ingested.values()],
      requests: () => this.requests,
      stats: () => ({ unique: this.ingested.size, duplicates: this.duplicates, conflicts: this.conflicts, without_uuid: this.withoutUuid.length }),
    };
  }
}

/** Starts a local PostHog capture server on 127.0.0.1. */
export function startPosthogServer(options: PosthogServerOptions = {}): Promise<FakePosthog> {
  return new FakePosthog(options).start();
}

await runAlone(import.meta.url, 'POSTHOG_ENDPOINT', () => {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, 'api-key': { type: 'string', multiple: true } } });
  return startPosthogServer({ port: Number(values.port), apiKeys: values['api-key'] });
});
