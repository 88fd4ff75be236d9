/**
 * One batch request to Segment's HTTP Tracking API and the meaning of its answer
 * (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#errors and
 * #rate-limits):
 *
 * | answer | meaning | {@link UploadResult} |
 * |---|---|---|
 * | 2xx | accepted ("Segment returns a 200 response for all API requests except ...") | `ok` |
 * | 400 naming the write key or the Authorization header (RudderStack: "Invalid Authorization Header") | the request can never succeed | `refused` |
 * | 400 otherwise | a malformed batch: a call over 32 KB, the body over its limit, invalid JSON, a call without `event` or an identity; the answer does not say which call | `bad_request` |
 * | 413 | the body is too large for something on the way (a proxy, a data plane): split and try again | `too_large` |
 * | 429 | rate limited; `Retry-After` (or `X-RateLimit-Reset`) says when to try again | `retryable` |
 * | 408, 5xx, a network or TLS failure | retry with back-off; `Retry-After` honoured | `retryable` |
 * | 401, 403, other 4xx | the request can never succeed | `refused` |
 */
import { clip } from '../../src/errors.js';
import { headerValue, postBody, retryAfterMillis, type Answer, type UploadAgents } from '../../src/http_upload.js';
import { connectionErrorText } from '../../src/tls/client.js';

export type UploadResult =
  | { kind: 'ok' }
  | { kind: 'bad_request'; error: string }
  | { kind: 'refused'; status: number; error: string }
  | { kind: 'too_large'; error: string }
  | { kind: 'retryable'; error: string; retryAfterMillis?: number };

/** A 400 about the credentials rather than the batch: splitting the batch would not help. */
const AUTH_WORDS = /write ?key|authori[sz]ation|unauthori[sz]ed|credential/i;

/** The words of an answer's body: its `message`, `error` or `code`, else its text. */
export function answerText(body: unknown): string {
  if (typeof body === 'string') return clip(body.replace(/\s+/g, ' ').trim(), 200);
  if (!body || typeof body !== 'object') return '';
  const b = body as Record<string, unknown>;
  const parts = [b.code, b.message ?? b.error].filter((x): x is string => typeof x === 'string' && x !== '');
  return clip(parts.join(': '));
}

/**
 * When to try again after a 429 or a 5xx: `Retry-After` (seconds or an HTTP date), else
 * `X-RateLimit-Reset` (seconds to wait; a Unix time in seconds is read as such).
 */
export function waitMillis(retryAfter: string | null, rateLimitReset: string | null, now = Date.now()): number | undefined {
  const r = retryAfterMillis(retryAfter, now);
  if (r !== undefined) return r;
  if (!rateLimitReset || !/^\d+$/.test(rateLimitReset.trim())) return undefined;
  const n = Number(rateLimitReset.trim());
  return n > 1_000_000_000 ? Math.max(0, n * 1000 - now) : n * 1000;
}

/** Reads an answer (status, body as JSON or text). */
export function classifyResponse(status: number, body: unknown, wait?: number): UploadResult {
  const said = answerText(body);
  const with_ = said ? `: ${said}` : '';
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 400) {
    if (AUTH_WORDS.test(said)) return { kind: 'refused', status, error: `segment 400${with_}` };
    return { kind: 'bad_request', error: `segment 400${with_ || ': bad request'}` };
  }
  if (status === 413) return { kind: 'too_large', error: `segment 413${with_ || ': payload too large'}` };
  if (status === 429) return { kind: 'retryable', error: `segment 429${with_ || ': too many requests'}`, retryAfterMillis: wait };
  if (status === 408 || status >= 500) return { kind: 'retryable', error: `segment ${status}${with_}`, retryAfterMillis: wait };
  if (status === 401 || status === 403) return { kind: 'refused', status, error: `segment ${status}${with_ || ''}: check write_key` };
  return { kind: 'refused', status, error: `segment ${status}${with_ || ' (request refused)'}` };
}

export interface UploadRequest {
  url: string;
  /** The JSON body. */
  body: string;
  /** `Basic base64(write_key + ":")`. */
  authorization: string;
  userAgent: string;
  signal: AbortSignal;
  agents: UploadAgents;
}

/** `Authorization` for a write key: HTTP basic authentication, the write key as the user, the password empty. */
export function basicAuthorization(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`, 'utf8').toString('base64')}`;
}

/**
 * Sends one batch request. Never throws for an HTTP, network or TLS failure: it returns
 * `retryable` (a TLS failure's error says which `tls` option to change). Rethrows the signal's
 * reason when aborted.
 */
export async function upload(req: UploadRequest): Promise<UploadResult> {
  const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: req.authorization, 'user-agent': req.userAgent };
  let answer: Answer;
  try {
    answer = await postBody(req, req.body, headers);
  } catch (err) {
    if (req.signal.aborted) throw req.signal.reason;
    return { kind: 'retryable', error: `segment: request to ${new URL(req.url).host} failed: ${connectionErrorText(err)}` };
  }
  let body: unknown = answer.text;
  try {
    body = answer.text ? JSON.parse(answer.text) : undefined;
  } catch {
    // A text answer (a proxy's page): read as text.
  }
  return classifyResponse(answer.status, body, waitMillis(headerValue(answer.headers, 'retry-after'), headerValue(answer.headers, 'x-ratelimit-reset')));
}
