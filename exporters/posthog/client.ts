/**
 * One `/batch/` request to PostHog and the meaning of its answer. PostHog's capture endpoint
 * (https://posthog.com/docs/api/capture) parses and validates the whole request before it takes
 * any of it: an answer other than 2xx means nothing of the request was ingested, and the answer
 * does not say which event was wrong.
 *
 * | answer | meaning | {@link CaptureResult} |
 * |---|---|---|
 * | 2xx (`{"status": 1}`) | taken | `ok` |
 * | 400 | the request or one of its events is invalid (no event name or distinct_id, a uuid that is not one, bad JSON) | `invalid` |
 * | 401 | no or unknown project API key | `refused` |
 * | 413 | the body is over the 20 MB limit, or an event over 1 MB | `too_large` |
 * | 408, 429, 5xx, network or TLS errors | retry with back-off; `Retry-After` honoured | `retryable` |
 * | other 4xx | the request can never succeed | `refused` |
 *
 * The HTTPS plumbing (kept-alive agents with the `tls` settings, `Retry-After`) is the amplitude
 * exporter's.
 */
import { clip } from '../../src/errors.js';
import { connectionErrorText } from '../../src/tls/client.js';
import { headerValue, postBody, retryAfterMillis, type UploadAgents } from '../../src/http_upload.js';

export type CaptureResult =
  | { kind: 'ok' }
  | { kind: 'invalid'; error: string }
  | { kind: 'refused'; status: number; error: string }
  | { kind: 'too_large'; error: string }
  | { kind: 'retryable'; error: string; retryAfterMillis?: number };

/** What an answer's body says, as short text: a JSON body's `detail`/`error`/`message`, else the text itself. */
export function answerText(text: string): string {
  const t = text.trim();
  if (!t) return '';
  try {
    const b = JSON.parse(t) as unknown;
    if (b && typeof b === 'object') {
      const o = b as Record<string, unknown>;
      for (const k of ['detail', 'error', 'message']) if (typeof o[k] === 'string') return clip(o[k] as string);
    }
  } catch {
    // not JSON: the text itself
  }
  return clip(t.replace(/\s+/g, ' '), 200);
}

/** Reads an answer. */
export function classifyAnswer(status: number, text: string, retryAfter?: number): CaptureResult {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const said = answerText(text);
  const error = `posthog ${status}${said ? `: ${said}` : ''}`;
  if (status === 400) return { kind: 'invalid', error };
  if (status === 413) return { kind: 'too_large', error };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retryable', error, retryAfterMillis: retryAfter };
  return { kind: 'refused', status, error: status === 401 ? `${error} (check api_key: the project API key)` : error };
}

/** Sends one request. Never throws for an HTTP, network or TLS failure (`retryable`); rethrows the signal's reason when aborted. */
export async function capture(url: string, body: string, agents: UploadAgents, signal: AbortSignal): Promise<CaptureResult> {
  try {
    const a = await postBody({ url, signal, agents }, body, { 'content-type': 'application/json', accept: '*/*' });
    return classifyAnswer(a.status, a.text, retryAfterMillis(headerValue(a.headers, 'retry-after')));
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    return { kind: 'retryable', error: `posthog: request to ${new URL(url).host} failed: ${connectionErrorText(err)}` };
  }
}
