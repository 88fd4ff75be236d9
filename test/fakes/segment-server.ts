/**
 * A local Segment Tracking API for tests and examples, following the documented contract of
 * `POST /v1/batch` (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/):
 *
 * - HTTP basic authentication, the write key as the user and an empty password; a missing or
 *   unknown key is answered 400 `Invalid Authorization Header` (as RudderStack documents it;
 *   https://www.rudderstack.com/docs/api/http-api/);
 * - `Content-Type: application/json`, else 400;
 * - 400 for a malformed batch, nothing of it ingested: invalid JSON, a body over `maxBytes`
 *   (500 KB), a call over `maxEventBytes` (32 KB), a call without a valid `type`, a `track`
 *   without `event`, a call without `userId` and `anonymousId` (`no_user_anon_id`), a
 *   `timestamp` that is not ISO 8601, a `messageId` of 100 characters or more. The answer does
 *   not say which call;
 * - more than `maxEvents` (2500) calls: 200, the calls past the limit dropped ("Segment returns a
 *   200 response but rejects the event");
 * - 429 with `Retry-After` and `X-RateLimit-Reset` past `rateLimit` requests per window;
 * - 200 `{"success":true}`; calls are de-duplicated on `messageId` (Segment: about 24 hours,
 *   https://segment.com/docs/guides/duplicate-data/): `ingested` holds each messageId once,
 *   `duplicates` counts the calls taken again.
 *
 * HTTPS (and mutual TLS) with `tls`; plain HTTP otherwise.
 *
 * Faults can be injected for the next requests: an HTTP status (413, 429, 5xx, with
 * `Retry-After`), a delay, or a connection reset; `answerDelayMillis` makes every answer slow
 * (the calls are ingested first). Run it alone with `node dist/test/fakes/segment-server.js
 * [--port N] [--write-key K]`: it prints `SEGMENT_ENDPOINT=http://127.0.0.1:<port>`;
 * `GET /_fake/events` lists what was ingested, `GET /_fake/requests` the requests,
 * `GET /_fake/stats` the unique and duplicate counts, `POST /_fake/faults` takes a fault
 * (`{"status":503,"times":2}`, `{"reset":true}`, `{"delayMillis":500}`).
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { pathOf, retryAfterHeaders, runAlone, StandIn, type Fault as AnyFault, type StandInOptions } from './stand-in.js';

export interface SegmentServerOptions extends StandInOptions {
  /** Write keys accepted; undefined accepts any non-empty key. */
  writeKeys?: string[];
  /** Bytes of a request body; default 500 000. */
  maxBytes?: number;
  /** Bytes of one call's JSON; default 32 000. */
  maxEventBytes?: number;
  /** Calls per batch taken; default 2500. */
  maxEvents?: number;
  /** At most `requests` batch requests per `windowMillis`; more are answered 429. */
  rateLimit?: { requests: number; windowMillis: number };
}

export type Fault = AnyFault;

export interface RequestRecord {
  status: number;
  events: number;
  bytes: number;
  authorization?: string;
  body?: unknown;
}

export const DEFAULT_SEGMENT_LIMITS = { maxBytes: 500_000, maxEventBytes: 32_000, maxEvents: 2500 } as const;

const METHODS = new Set(['identify', 'track', 'page', 'screen', 'group', 'alias']);
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export class FakeSegment extends StandIn<SegmentServerOptions, RequestRecord> {
  /** messageId → the call, each once. */
  readonly ingested = new Map<string, Record<string, unknown>>();
  /** Calls taken without a messageId (never de-duplicated). */
  readonly withoutMessageId: Record<string, unknown>[] = [];
  /** Calls past `maxEvents` in a batch, dropped with a 200. */
  readonly dropped: Record<string, unknown>[] = [];
  duplicates = 0;
  private readonly recent: number[] = [];

  constructor(options: SegmentServerOptions = {}) {
    super(options);
  }

  /** Forgets everything ingested and seen, and every pending fault. */
  override reset(): void {
    super.reset();
    this.ingested.clear();
    this.withoutMessageId.length = 0;
    this.dropped.length = 0;
    this.duplicates = 0;
    this.recent.length = 0;
  }

  /** The write key of a basic `Authorization` header (the user; the password must be empty), or undefined. */
  static writeKeyOf(authorization: string | undefined): string | undefined {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0 || colon !== decoded.length - 1) return undefined;
    return decoded.slice(0, colon);
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const path = pathOf(req);
    const record: RequestRecord = { status: 0, events: 0, bytes: raw.length, authorization: req.headers.authorization };
    this.requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      record.body = body;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const bad = (message: string, code = 'invalid_request') => reply(400, { success: false, code, message });

    if (await this.faulted(req, record, (f) => reply(f.status, f.body ?? { success: false, message: http.STATUS_CODES[f.status] ?? 'error' }, retryAfterHeaders(f)))) return;

    if (path !== '/v1/batch') return reply(404, { success: false, message: 'Not Found' });
    if (req.method !== 'POST') return reply(405, { success: false, message: 'Method Not Allowed' });
    const key = FakeSegment.writeKeyOf(req.headers.authorization);
    if (key === undefined || (this.options.writeKeys && !this.options.writeKeys.includes(key))) return bad('Invalid Authorization Header', 'invalid_write_key');
    if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) return bad('Content-Type must be application/json');
    if (this.options.rateLimit) {
      const now = Date.now();
      const { requests, windowMillis } = this.options.rateLimit;
      while (this.recent.length > 0 && this.recent[0]! <= now - windowMillis) this.recent.shift();
      if (this.recent.length >= requests) {
        const wait = Math.max(1, Math.ceil((this.recent[0]! + windowMillis - now) / 1000));
        return reply(429, { success: false, message: 'Too Many Requests' }, { 'retry-after': String(wait), 'x-ratelimit-reset': String(wait) });
      }
      this.recent.push(now);
    }
    const maxBytes = this.options.maxBytes ?? DEFAULT_SEGMENT_LIMITS.maxBytes;
    if (raw.length > maxBytes) return bad(`Request body exceeds ${maxBytes} bytes`, 'payload_too_large');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return bad('Invalid JSON', 'invalid_json');
    }
    if (!isObject(body) || !Array.isArray(body.batch)) return bad('batch must be an array of calls');
    const calls = body.batch as unknown[];
    record.events = calls.length;
    const problem = this.validate(calls);
    if (problem) return bad(problem.message, problem.code);

    const maxEvents = this.options.maxEvents ?? DEFAULT_SEGMENT_LIMITS.maxEvents;
    for (const [i, c] of (calls as Record<string, unknown>[]).entries()) {
      if (i >= maxEvents) {
        this.dropped.push(c);
        continue;
      }
      const id = c.messageId;
      if (typeof id !== 'string') {
        this.withoutMessageId.push(c);
        continue;
      }
      if (this.ingested.has(id)) {
        this.duplicates++;
        continue;
      }
      this.ingested.set(id, c);
    }
    await this.answerLater();
    reply(200, { success: true });
  }

  /** Why the batch is malformed (the first call at fault), or undefined. */
  private validate(calls: unknown[]): { message: string; code: string } | undefined {
    const maxEventBytes = this.options.maxEventBytes ?? DEFAULT_SEGMENT_LIMITS.maxEventBytes;
    for (const c of calls) {
      if (!isObject(c)) return { message: 'each call must be an object', code: 'invalid_request' };
      if (Buffer.byteLength(JSON.stringify(c)) > maxEventBytes) return { message: `a call exceeds ${maxEventBytes} bytes`, code: 'payload_too_large' };
      if (typeof c.type !== 'string' || !METHODS.has(c.type)) return { message: 'each call must have a type property with a valid method name', code: 'invalid_request' };
      if (c.type === 'track' && (typeof c.event !== 'string' || c.event === '')) return { message: 'track call is missing event', code: 'missing_event' };
      const ids = [c.userId, c.anonymousId].filter((v) => (typeof v === 'string' && v !== '') || typeof v === 'number');
      if (ids.length === 0) return { message: 'userId or anonymousId is required', code: 'no_user_anon_id' };
      if (c.timestamp !== undefined && (typeof c.timestamp !== 'string' || !ISO_8601.test(c.timestamp) || Number.isNaN(Date.parse(c.timestamp)))) return { message: 'timestamp must be an ISO 8601 date', code: 'invalid_timestamp' };
      if (c.messageId !== undefined && (typeof c.messageId !== 'string' || c.messageId.length >= 100)) return { message: 'messageId must be a string of fewer than 100 characters', code: 'invalid_message_id' };
      for (const f of ['properties', 'context', 'integrations'] as const) if (c[f] !== undefined && !isObject(c[f])) return { message: `${f} must be an object`, code: 'invalid_request' };
    }
    return undefined;
  }

  protected views() {
    return {
      events: () => [...this.ingested.values()],
      requests: () => this.requests.map(({ authorization: _, ...r }) => r),
      stats: () => ({ unique: this.ingested.size, duplicates: this.duplicates, dropped: this.dropped.length, requests: this.requests.length }),
    };
  }
}

/** Starts a fake Segment server on 127.0.0.1. */
export function startSegmentServer(options: SegmentServerOptions = {}): Promise<FakeSegment> {
  return new FakeSegment(options).start();
}

await runAlone(import.meta.url, 'SEGMENT_ENDPOINT', () => {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, 'write-key': { type: 'string', multiple: true } } });
  return startSegmentServer({ port: Number(values.port), writeKeys: values['write-key'] });
});
