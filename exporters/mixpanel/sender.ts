/**
 * Delivers one batch of events to Mixpanel's `/import` and classifies what happened, following the
 * documented handling of each answer (https://docs.mixpanel.com/reference/import-events,
 * https://docs.mixpanel.com/troubleshooting/errors/400-bad-request):
 *
 * - the batch is cut into requests of at most 2000 events and 10 MB of JSON (amplitude's `chunk`);
 *   an event of 1 MB or more, or without a valid time, is refused without being sent;
 * - 400 with `failed_records` (strict mode): those events are refused with Mixpanel's field and
 *   message; Mixpanel ingested the others of the request, which count as delivered;
 * - 413: the request is split in halves, each sent on its own; a single event answered 413 is refused;
 * - 400 without `failed_records`, 401, 403 and other 4xx: the request can never succeed; this
 *   request and the ones not yet sent are refused;
 * - 429, 408, 5xx, network errors, a request over `timeout`: the request and the ones not yet sent
 *   are to be retried with back-off (`Retry-After` honoured when given).
 *
 * Each request runs under the exporter's per-request `timeout` (`SendContext.request`); after each
 * request Mixpanel answered 200 or 400-with-`failed_records`, what is left is recorded
 * (`SendContext.progress`), so that a later failure, a timeout or a crash never sends the accepted
 * events again. Should a request be sent twice anyway (an answer lost to a timeout), Mixpanel
 * de-duplicates it on `$insert_id`.
 *
 * The outcome, as the exporter helper expects it: resolves when every event was delivered; else
 * throws `PermanentError` (nothing delivered, every event refused for one reason),
 * `RetryableError` (nothing delivered or refused, everything to send again) or `PartialFailure`
 * (`rejected`: refused events grouped by reason, for the dead-letter route; `retry`: events to send
 * again, after the server's `Retry-After` or, when absent, the helper's back-off).
 */
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { chunk, requestBody, sendInRequests, serializeEvents, settleUpload, type Refusal, type RequestAnswer, type UploadAgents, type UploadItem } from '../../src/http_upload.js';
import { importEvents, type FailedRecord, type ImportResult } from './client.js';
import type { MapResult } from './mapping.js';

/** The body is a JSON array of events. */
export const ENVELOPE = { head: '[', tail: ']' } as const;
const ENVELOPE_BYTES = 2;

export interface SendContext {
  url: string;
  authorization: string;
  agents: UploadAgents;
  gzip: boolean;
  maxEvents: number;
  /** Most bytes of uncompressed JSON per request. */
  maxBytes: number;
  /** An event of more bytes of JSON than this is refused before sending. */
  maxEventBytes: number;
  map(e: AnalyticsEvent): MapResult;
  /** Sends one request; `importEvents` by default (tests may replace it). */
  post?: (body: string, signal: AbortSignal) => Promise<ImportResult>;
}

interface MixpanelItem extends UploadItem {
  insertId: string;
}

/** The items a `failed_records` entry names: by `index` when it agrees with the `insert_id`, else by `insert_id`. */
function named(r: FailedRecord, current: readonly MixpanelItem[]): MixpanelItem | undefined {
  if (r.index !== undefined && r.index >= 0 && r.index < current.length) {
    const it = current[r.index]!;
    if (r.insertId === undefined || r.insertId === it.insertId) return it;
  }
  return r.insertId === undefined ? undefined : current.find((it) => it.insertId === r.insertId);
}

function failedReason(r: FailedRecord): string {
  return `mixpanel 400 (failed_records): ${r.field ? `${r.field}: ` : ''}${r.message}`;
}

/** Delivers `events`; see the module comment for the outcomes. */
export async function sendEvents(events: readonly AnalyticsEvent[], ctx: SendContext, delivery: DeliveryContext): Promise<void> {
  const upstream = ctx.post ?? ((body: string, s: AbortSignal) => importEvents({ url: ctx.url, authorization: ctx.authorization, body, gzip: ctx.gzip, signal: s, agents: ctx.agents }));
  const refused: Refusal[] = [];
  const items = serializeEvents(events, ctx.map, (m) => m.event, (source, json, bytes, m): MixpanelItem => ({ source, json, bytes, insertId: m.insertId }), refused, {
    maxEventBytes: ctx.maxEventBytes,
    reason: (bytes) => `the event alone (${bytes} bytes of JSON) exceeds Mixpanel's limit of ${ctx.maxEventBytes + 1} bytes per event`,
  });
  const { chunks, oversized } = chunk(items, ctx.maxEvents, ctx.maxBytes, ENVELOPE_BYTES);
  for (const it of oversized) refused.push({ event: it.source, reason: `the event alone (${it.bytes} bytes of JSON) exceeds the request size limit of ${ctx.maxBytes} bytes` });

  const { delivered, failure } = await sendInRequests({
    name: 'mixpanel',
    events,
    chunks,
    refused,
    delivery,
    post: (current: MixpanelItem[], s) => upstream(requestBody(ENVELOPE, current), s),
    answer: (res: ImportResult, current): RequestAnswer<MixpanelItem> => {
      switch (res.kind) {
        case 'partial': {
          const bad = new Map<MixpanelItem, string>();
          for (const r of res.failed) {
            const it = named(r, current);
            if (it && !bad.has(it)) bad.set(it, failedReason(r));
          }
          return { kind: 'sorted', refused: [...bad].map(([it, reason]) => ({ event: it.source, reason })), accepted: current.filter((it) => !bad.has(it)) };
        }
        case 'too_large':
          return { kind: 'split', alone: `${res.error}: the event alone is larger than the API accepts` };
        default:
          return res;
      }
    },
  });
  settleUpload('mixpanel', { delivered, refused, failure });
}
