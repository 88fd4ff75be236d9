/**
 * One import request to Mixpanel and the meaning of its answer, per the Import Events API
 * (https://docs.mixpanel.com/reference/import-events) and its documented errors
 * (https://docs.mixpanel.com/troubleshooting/errors/400-bad-request,
 * https://docs.mixpanel.com/troubleshooting/errors/413-payload-too-large,
 * https://docs.mixpanel.com/troubleshooting/errors/429-rate-limit-exceeded):
 *
 * | answer | meaning | {@link ImportResult} |
 * |---|---|---|
 * | 200 `{code: 200, num_records_imported, status: "OK"}` | every event ingested | `ok` |
 * | 400 with `failed_records` (`index`, `insert_id`, `field`, `message`) | a partial success: the listed events failed validation, Mixpanel ingested the others | `partial` |
 * | 400 without `failed_records` (body not JSON, not an array), 401, 403, other 4xx | the request can never succeed | `refused` |
 * | 413 | request larger than the limit: split and try again | `too_large` |
 * | 429 (rate limit: 2 GB of JSON per minute per project), 408, 5xx, network or TLS error | retry with exponential back-off; `Retry-After` honoured when given (the docs do not promise one) | `retryable` |
 *
 * Requests go through amplitude's HTTP plumbing (`post`: node:https with kept-alive agents carrying
 * the shared `tls` client settings).
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { clip } from '../../src/errors.js';
import { headerValue, postBody, retryAfterMillis, type Answer, type UploadAgents } from '../../src/http_upload.js';
import { connectionErrorText } from '../../src/tls/client.js';

const gzip = promisify(zlib.gzip);

/** One entry of `failed_records`. */
export interface FailedRecord {
  index?: number;
  insertId?: string;
  field?: string;
  message: string;
}

export type ImportResult =
  | { kind: 'ok' }
  | { kind: 'partial'; failed: FailedRecord[]; error: string }
  | { kind: 'refused'; status: number; error: string }
  | { kind: 'too_large'; error: string }
  | { kind: 'retryable'; error: string; retryAfterMillis?: number };

function failedRecords(v: unknown): FailedRecord[] {
  if (!Array.isArray(v)) return [];
  const out: FailedRecord[] = [];
  for (const r of v) {
    if (!r || typeof r !== 'object') continue;
    const o = r as Record<string, unknown>;
    const id = o.insert_id ?? o.$insert_id;
    out.push({
      index: Number.isInteger(o.index) ? (o.index as number) : undefined,
      insertId: typeof id === 'string' ? id : undefined,
      field: typeof o.field === 'string' ? o.field : undefined,
      message: typeof o.message === 'string' ? clip(o.message) : 'failed validation',
    });
  }
  return out;
}

/** Reads an answer (status, JSON body). */
export function classifyResponse(status: number, body: unknown, retryAfter?: number): ImportResult {
  const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const error = typeof b.error === 'string' ? clip(b.error) : '';
  const said = error ? `: ${error}` : '';
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 400) {
    const failed = failedRecords(b.failed_records);
    if (failed.length > 0) return { kind: 'partial', failed, error: `mixpanel 400${said}` };
    return { kind: 'refused', status, error: `mixpanel 400${said || ': bad request'}` };
  }
  if (status === 413) return { kind: 'too_large', error: `mixpanel 413${said || ': payload too large'}` };
  if (status === 429 || status === 408 || status >= 500) return { kind: 'retryable', error: `mixpanel ${status}${said}`, retryAfterMillis: retryAfter };
  const hint = status === 401 || status === 403 ? ' (check project_token, or service_account and project_id)' : '';
  return { kind: 'refused', status, error: `mixpanel ${status}${said || ' (request refused)'}${hint}` };
}

export interface ImportRequest {
  /** `.../import?strict=1[&project_id=...]`. */
  url: string;
  /** The `Authorization` header. */
  authorization: string;
  /** The JSON array of the events. */
  body: string;
  gzip: boolean;
  signal: AbortSignal;
  agents: UploadAgents;
}

/**
 * Sends one import request. Never throws for an HTTP, network or TLS failure: it returns
 * `retryable` (a TLS failure's error says which `tls` option to change). Rethrows the signal's
 * reason when aborted.
 */
export async function importEvents(req: ImportRequest): Promise<ImportResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', authorization: req.authorization };
  let payload: string | Buffer = req.body;
  if (req.gzip) {
    payload = await gzip(Buffer.from(req.body, 'utf8'));
    headers['content-encoding'] = 'gzip';
  }
  let answer: Answer;
  try {
    answer = await postBody({ url: req.url, signal: req.signal, agents: req.agents }, payload, headers);
  } catch (err) {
    if (req.signal.aborted) throw req.signal.reason;
    return { kind: 'retryable', error: `mixpanel: request to ${new URL(req.url).host} failed: ${connectionErrorText(err)}` };
  }
  let body: unknown;
  try {
    body = answer.text ? JSON.parse(answer.text) : undefined;
  } catch {
    body = { error: clip(answer.text.replace(/\s+/g, ' ').trim(), 200) };
  }
  return classifyResponse(answer.status, body, retryAfterMillis(headerValue(answer.headers, 'retry-after')));
}
