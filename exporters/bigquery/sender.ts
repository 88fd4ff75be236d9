/**
 * Delivers one batch of events with `tabledata.insertAll` and classifies what happened
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll,
 * https://cloud.google.com/bigquery/docs/error-messages, streaming limits
 * https://cloud.google.com/bigquery/quotas#streaming_inserts):
 *
 * - rows are sent `max_rows_per_request` at a time within `max_request_bytes`; a row that alone
 *   exceeds the limit is refused without being sent; `insertId` is the event's insert_id, which
 *   BigQuery uses for best-effort de-duplication;
 * - per-row `insertErrors`: rows with reason `stopped` (not inserted because another row of the
 *   request was invalid) are sent again at once; rows with a transient reason (`backendError`,
 *   `internalError`, `timeout`, `rateLimitExceeded`) are retried with back-off; any other reason
 *   (`invalid`, ...) refuses the row for good, with BigQuery's message and location;
 * - a request refused as too large (413, or 400 "request payload size exceeds the limit") is split;
 * - HTTP 429, 5xx, 408, 403 `rateLimitExceeded`/`quotaExceeded`, network errors: retried with back-off;
 * - 404 (dataset or table missing): retried after creating them again when `create_if_missing`,
 *   else refused; other 4xx (400 invalid, 401, 403 accessDenied): the request and the ones not yet
 *   sent are refused.
 *
 * Each request runs under the exporter's per-request `timeout` (`SendContext.request`; a request
 * over it is retried like a network error); after each request that inserted rows, what is left is
 * recorded (`SendContext.progress`), so a later failure, timeout or crash never sends them again.
 *
 * Outcome, as the exporter helper expects it: resolves when every row was inserted; else throws
 * `PermanentError` (nothing inserted, every event refused for one reason), `RetryableError`
 * (nothing inserted or refused) or `PartialFailure` (refused rows grouped by reason, the rest to retry).
 */
import type { SendContext } from '../../src/delivery/sender.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { clip } from '../../src/errors.js';
import { sendInRequests, settleUpload, type Refusal, type RequestAnswer } from '../../src/http_upload.js';
import { connectionErrorText } from '../../src/tls/client.js';
import type { Row } from './rows.js';

/** One error of one row, as in `TableDataInsertAllResponse.insertErrors[].errors[]` (ErrorProto). */
export interface RowError {
  reason?: string;
  message?: string;
  location?: string;
}

export type InsertResult =
  | { kind: 'ok' }
  | { kind: 'row_errors'; errors: Map<number, RowError[]> }
  | { kind: 'too_large'; error: string }
  | { kind: 'not_found'; error: string }
  | { kind: 'retryable'; error: string; retryAfterMillis?: number }
  | { kind: 'refused'; error: string };

/** Per-row reasons worth retrying later. */
const TRANSIENT_REASONS = new Set(['backendError', 'internalError', 'timeout', 'rateLimitExceeded', 'quotaExceeded']);

/** Reads `insertErrors` of an insertAll response. */
export function classifyInsertResponse(body: unknown, rows: number): InsertResult {
  const list = (body as { insertErrors?: unknown } | undefined)?.insertErrors;
  if (!Array.isArray(list) || list.length === 0) return { kind: 'ok' };
  const errors = new Map<number, RowError[]>();
  for (const item of list as { index?: unknown; errors?: unknown }[]) {
    const i = Number(item?.index);
    if (!Number.isInteger(i) || i < 0 || i >= rows) continue;
    const errs = Array.isArray(item.errors) ? (item.errors as RowError[]) : [];
    errors.set(i, [...(errors.get(i) ?? []), ...errs]);
  }
  return errors.size === 0 ? { kind: 'ok' } : { kind: 'row_errors', errors };
}

/** Reads an error thrown by the client library (`ApiError` with `code`, `errors[]`, `response`) or by the network. */
export function classifyInsertError(err: unknown): InsertResult {
  const e = err as { code?: unknown; errors?: RowError[]; message?: string; response?: { headers?: Record<string, string | string[] | undefined> } };
  const message = clip(e?.message || String(err));
  const reasons = new Set((Array.isArray(e?.errors) ? e.errors : []).map((x) => x?.reason).filter(Boolean));
  const status = typeof e?.code === 'number' ? e.code : undefined;
  if (status === undefined) {
    // No answer: the network, or a TLS failure, which says which `tls` option to change.
    return { kind: 'retryable', error: `bigquery: ${clip(connectionErrorText(err), 600)}` };
  }
  const said = `bigquery ${status}: ${message}`;
  if (status === 413 || (status === 400 && /payload size|too large|exceeds the (maximum|limit)/i.test(message))) return { kind: 'too_large', error: said };
  if (status === 404) return { kind: 'not_found', error: said };
  const ra = e.response?.headers?.['retry-after'];
  const retryAfterMillis = typeof ra === 'string' && /^\d+$/.test(ra.trim()) ? Number(ra) * 1000 : undefined;
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retryable', error: said, retryAfterMillis };
  if (status === 403 && [...reasons].some((r) => TRANSIENT_REASONS.has(r!))) return { kind: 'retryable', error: said, retryAfterMillis };
  return { kind: 'refused', error: said };
}

export interface InsertContext {
  maxRows: number;
  maxBytes: number;
  skipInvalidRows: boolean;
  /** Whether a missing dataset/table is created again (404 is then retryable). */
  recreates: boolean;
  toRow(e: AnalyticsEvent): Row;
  /** One insertAll request; resolves with what happened (never throws for an API failure). */
  insert(rows: Row[], signal: AbortSignal): Promise<InsertResult>;
}

interface Pending {
  source: AnalyticsEvent;
  row: Row;
  bytes: number;
}

function rowReason(errs: RowError[]): string {
  const e = errs.find((x) => x.reason && x.reason !== 'stopped') ?? errs[0] ?? {};
  const where = e.location ? ` (at ${e.location})` : '';
  return `bigquery insertAll: row ${e.reason ?? 'error'}${where}: ${clip(e.message ?? 'no message')}`;
}

/** The JSON bytes of a request around its rows. */
const ENVELOPE_BYTES = 100;

/** Delivers `events`; see the module comment for the outcomes. */
export async function insertEvents(events: readonly AnalyticsEvent[], ctx: InsertContext, delivery: SendContext): Promise<void> {
  const refused: Refusal[] = [];
  const chunks: Pending[][] = [];
  let current: Pending[] = [];
  let size = ENVELOPE_BYTES;
  for (const event of events) {
    const row = ctx.toRow(event);
    const bytes = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (ENVELOPE_BYTES + bytes > ctx.maxBytes) {
      refused.push({ event, reason: `the row alone (${bytes} bytes of JSON) exceeds the insertAll request limit of ${ctx.maxBytes} bytes` });
      continue;
    }
    if (current.length >= ctx.maxRows || size + bytes > ctx.maxBytes) {
      chunks.push(current);
      current = [];
      size = ENVELOPE_BYTES;
    }
    current.push({ source: event, row, bytes });
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);

  const { delivered, failure } = await sendInRequests({
    name: 'bigquery insertAll',
    events,
    chunks,
    refused,
    delivery,
    post: (batch: Pending[], signal) => ctx.insert(batch.map((p) => p.row), signal),
    answer: (res: InsertResult, batch): RequestAnswer<Pending> => {
      switch (res.kind) {
        case 'row_errors': {
          const bad: Refusal[] = [];
          const again: Pending[] = [];
          const later: Pending[] = [];
          const taken: Pending[] = [];
          batch.forEach((p, i) => {
            const errs = res.errors.get(i);
            if (!errs || errs.length === 0) {
              // Not listed: inserted, unless BigQuery refused the whole request for an invalid row.
              if (ctx.skipInvalidRows) taken.push(p);
              else again.push(p);
              return;
            }
            const reasons = errs.map((x) => x.reason ?? '');
            if (reasons.every((r) => r === 'stopped')) again.push(p);
            else if (reasons.every((r) => r === 'stopped' || TRANSIENT_REASONS.has(r))) later.push(p);
            else bad.push({ event: p.source, reason: rowReason(errs) });
          });
          // Rows stopped without any row refused would loop: retry them with back-off instead.
          if (bad.length === 0 && later.length === 0) later.push(...again.splice(0));
          const accepted = taken.length > 0 ? taken : undefined;
          if (later.length > 0) {
            const failure = { items: [...later, ...again], error: `bigquery insertAll: ${later.length} rows not inserted (${rowReason(res.errors.get(batch.indexOf(later[0]!)) ?? [])})` };
            return { kind: 'sorted', refused: bad, failure, accepted };
          }
          return { kind: 'sorted', refused: bad, again, accepted };
        }
        case 'too_large':
          return { kind: 'split', alone: `${res.error}: the row alone is larger than the API accepts` };
        case 'not_found':
          if (ctx.recreates) return { kind: 'retryable', error: `${res.error} (the dataset or table is created again before the next attempt)` };
          return { kind: 'refused', error: `${res.error} (create_if_missing is false)` };
        default:
          return res;
      }
    },
  });
  settleUpload('bigquery', { delivered, refused, failure }, 'inserted');
}
