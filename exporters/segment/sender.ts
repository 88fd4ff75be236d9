/**
 * Delivers one batch of events to Segment's `POST /v1/batch` and classifies what happened,
 * following the documented answers (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#errors):
 *
 * - the batch is cut into requests within the limits (2500 calls and `max_request_bytes`, 500 KB
 *   by default); a call over 32 KB of JSON, or an event with neither userId nor anonymousId, is
 *   refused without being sent;
 * - 400 (a malformed batch; Segment's answer does not say which call): the request is split in
 *   halves and each half sent, down to single calls; a call answered 400 alone is refused with
 *   the answer's words. Segment ingests nothing of a 400 request, so the good calls of it are
 *   delivered by the halves; a bad call costs about 2·log2(n) extra requests;
 * - 400 naming the write key or the Authorization header, 401, 403 and other 4xx: the request can
 *   never succeed; it and the requests not yet sent are refused;
 * - 413: split in halves like a 400; a single call answered 413 is refused;
 * - 429, 408, 5xx, network errors, a request over `timeout`: the request and the ones not yet sent
 *   are to be retried, after `Retry-After` (or `X-RateLimit-Reset`) when given, else after the
 *   helper's back-off.
 *
 * Each request runs under the exporter's per-request `timeout` (`SendContext.request`); after each
 * request Segment accepted, what is left is recorded (`SendContext.progress`), so that a later
 * failure, a timeout or a crash never sends the accepted calls again. A call sent again anyway
 * (its request timed out after Segment took it) keeps its messageId, on which Segment
 * de-duplicates.
 *
 * The outcome, as the exporter helper expects it: resolves when every event was delivered; else
 * throws `PermanentError` (nothing delivered, every event refused for one reason),
 * `RetryableError` (nothing delivered or refused) or `PartialFailure` (`rejected` by reason for
 * the dead-letter route, `retry` the events to send again).
 */
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { chunk, requestBody as envelopedBody, sendInRequests, serializeEvents, settleUpload, type Refusal, type RequestAnswer, type UploadAgents, type UploadItem as Item } from '../../src/http_upload.js';
import { upload, type UploadResult } from './client.js';
import { MAX_EVENT_BYTES } from './config.js';
import type { MapResult } from './mapping.js';

export interface SendContext {
  url: string;
  /** The connections' pools; the https one carries the `tls` settings. */
  agents: UploadAgents;
  authorization: string;
  userAgent: string;
  maxEvents: number;
  maxBytes: number;
  map(e: AnalyticsEvent): MapResult;
  /** Sends one request; `upload` by default (tests may replace it). */
  post?: (body: string, signal: AbortSignal) => Promise<UploadResult>;
}

/** A batch body around its calls. */
const ENVELOPE = { head: '{"batch":[', tail: ']}' } as const;
const ENVELOPE_BYTES = ENVELOPE.head.length + ENVELOPE.tail.length;

/** The JSON body of a request carrying `items`. */
export function requestBody(items: readonly { json: string }[]): string {
  return envelopedBody(ENVELOPE, items);
}

/** The reason a call over the per-call limit is refused with. */
export function oversizedReason(bytes: number): string {
  return `the call alone (${bytes} bytes of JSON) exceeds Segment's per-call limit of 32 KB (${MAX_EVENT_BYTES} bytes)`;
}

/** Delivers `events`; see the module comment for the outcomes. */
export async function sendEvents(events: readonly AnalyticsEvent[], ctx: SendContext, delivery: DeliveryContext): Promise<void> {
  const upstream = ctx.post ?? ((body: string, s: AbortSignal) => upload({ url: ctx.url, body, authorization: ctx.authorization, userAgent: ctx.userAgent, signal: s, agents: ctx.agents }));
  const refused: Refusal[] = [];
  const items = serializeEvents(events, ctx.map, (m) => m.call, (source, json, bytes): Item => ({ source, json, bytes }), refused, { maxEventBytes: MAX_EVENT_BYTES, reason: oversizedReason });
  const { chunks, oversized } = chunk(items, ctx.maxEvents, ctx.maxBytes, ENVELOPE_BYTES);
  for (const it of oversized) refused.push({ event: it.source, reason: `the call alone (${it.bytes} bytes of JSON) exceeds the request size limit of ${ctx.maxBytes} bytes` });

  const { delivered, failure } = await sendInRequests({
    name: 'segment',
    events,
    chunks,
    refused,
    delivery,
    post: (current: Item[], s) => upstream(requestBody(current), s),
    answer: (res: UploadResult): RequestAnswer<Item> => {
      switch (res.kind) {
        case 'bad_request':
        case 'too_large':
          return { kind: 'split', alone: `${res.error} (the call was sent alone)` };
        default:
          return res;
      }
    },
  });
  settleUpload('segment', { delivered, refused, failure });
}
