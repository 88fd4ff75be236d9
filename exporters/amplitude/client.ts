/**
 * One upload request to Amplitude and the meaning of its answer, per the "Response format" of the
 * HTTP V2 API (https://amplitude.com/docs/apis/analytics/http-v2#response-format) and the
 * Batch Event Upload API (https://amplitude.com/docs/apis/analytics/batch-event-upload#responses):
 *
 * | answer | meaning | {@link UploadResult} |
 * |---|---|---|
 * | 200 | ingested | `ok` |
 * | 400 with `events_with_invalid_fields` / `events_with_missing_fields` / `events_with_invalid_id_lengths` (field → indexes) or `silenced_events` (indexes) | nothing ingested; the listed events are bad | `invalid` (also carries `throttled_events` when present) |
 * | 400 otherwise (`Invalid API key`, `missing_field`, bad JSON) | the whole request is bad | `refused` |
 * | 413 | payload too large: split and try again | `too_large` |
 * | 429 with `throttled_events`, `throttled_users`/`throttled_devices` (id → events/s), `exceeded_daily_quota_users`/`_devices` (id → events today) | nothing ingested | `throttled` |
 * | 408, 5xx (500, 502, 504: may or may not have been ingested; 503: not ingested), network error | retry with back-off; `Retry-After` honoured | `retryable` |
 * | other 4xx | the request can never succeed | `refused` |
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { clip } from '../../src/errors.js';
import { headerValue, postBody, retryAfterMillis, type Answer, type UploadAgents } from '../../src/http_upload.js';
import { connectionErrorText } from '../../src/tls/client.js';

export { retryAfterMillis, type UploadAgents } from '../../src/http_upload.js';

const gzip = promisify(zlib.gzip);

export type UploadResult =
  | { kind: 'ok' }
  | { kind: 'invalid'; status: number; reasons: Map<number, string>; throttled: Set<number>; error: string }
  | { kind: 'refused'; status: number; error: string }
  | { kind: 'too_large'; error: string }
  | {
      kind: 'throttled';
      error: string;
      events: Set<number>;
      users: Set<string>;
      devices: Set<string>;
      quotaUsers: Set<string>;
      quotaDevices: Set<string>;
      retryAfterMillis?: number;
    }
  | { kind: 'retryable'; error: string; retryAfterMillis?: number };

/** The 400 fields that list bad events, with the words used in a dead-letter reason. */
const INDEX_MAPS = [
  ['events_with_invalid_fields', 'invalid value of'],
  ['events_with_missing_fields', 'missing'],
  ['events_with_invalid_id_lengths', 'id shorter than min_id_length:'],
] as const;

function indexes(v: unknown, n: number): number[] {
  if (!Array.isArray(v)) return [];
  return v.filter((i): i is number => Number.isInteger(i) && i >= 0 && i < n);
}

function keys(v: unknown): Set<string> {
  return new Set(v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : []);
}

/** Reads an answer (status, JSON body) for a request of `n` events. */
export function classifyResponse(status: number, body: unknown, n: number, retryAfter?: number): UploadResult {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const error = typeof b.error === 'string' ? b.error : '';
  const said = error ? `: ${clip(error)}` : '';
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 400) {
    const reasons = new Map<number, string>();
    for (const [field, words] of INDEX_MAPS) {
      const map = b[field];
      if (!map || typeof map !== 'object' || Array.isArray(map)) continue;
      for (const [name, list] of Object.entries(map as Record<string, unknown>)) {
        for (const i of indexes(list, n)) if (!reasons.has(i)) reasons.set(i, `amplitude 400 (${field}): ${words} ${name}`);
      }
    }
    for (const i of indexes(b.silenced_events, n)) if (!reasons.has(i)) reasons.set(i, 'amplitude 400 (silenced_events): the device is silenced by Amplitude');
    const throttled = new Set(indexes(b.throttled_events, n).filter((i) => !reasons.has(i)));
    if (reasons.size > 0 || throttled.size > 0) return { kind: 'invalid', status, reasons, throttled, error };
    const missing = typeof b.missing_field === 'string' ? ` (missing_field: ${b.missing_field})` : '';
    return { kind: 'refused', status, error: `amplitude 400${said || ': bad request'}${missing}` };
  }
  if (status === 413) return { kind: 'too_large', error: `amplitude 413${said || ': payload too large'}` };
  if (status === 429) {
    return {
      kind: 'throttled',
      error: `amplitude 429${said || ': too many requests'}`,
      events: new Set(indexes(b.throttled_events, n)),
      users: keys(b.throttled_users),
      devices: keys(b.throttled_devices),
      quotaUsers: keys(b.exceeded_daily_quota_users),
      quotaDevices: keys(b.exceeded_daily_quota_devices),
      retryAfterMillis: retryAfter,
    };
  }
  if (status === 408 || status >= 500) return { kind: 'retryable', error: `amplitude ${status}${said}`, retryAfterMillis: retryAfter };
  return { kind: 'refused', status, error: `amplitude ${status}${said || ' (request refused)'}` };
}

export interface UploadRequest {
  url: string;
  /** The JSON body. */
  body: string;
  gzip: boolean;
  signal: AbortSignal;
  /** Number of events in the body (to check indexes in the answer). */
  events: number;
  /** Where the connections come from (kept alive, with the `tls` settings for https://). */
  agents: UploadAgents;
}

/**
 * Sends one upload request. Never throws for an HTTP, network or TLS failure: it returns
 * `retryable` (a TLS failure's error says which `tls` option to change, and the events stay
 * queued until it is fixed). Rethrows the signal's reason when aborted.
 */
export async function upload(req: UploadRequest): Promise<UploadResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: '*/*' };
  let payload: string | Buffer = req.body;
  if (req.gzip) {
    payload = await gzip(Buffer.from(req.body, 'utf8'));
    headers['content-encoding'] = 'gzip';
  }
  let answer: Answer;
  try {
    answer = await postBody(req, payload, headers);
  } catch (err) {
    if (req.signal.aborted) throw req.signal.reason;
    return { kind: 'retryable', error: `amplitude: request to ${new URL(req.url).host} failed: ${connectionErrorText(err)}` };
  }
  const text = answer.text;
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = { error: clip(text.replace(/\s+/g, ' ').trim(), 200) };
  }
  return classifyResponse(answer.status, body, req.events, retryAfterMillis(headerValue(answer.headers, 'retry-after')));
}
