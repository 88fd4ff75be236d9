/**
 * Delivers one batch of events to Amplitude and classifies what happened, following the
 * documented handling of each answer (https://amplitude.com/docs/apis/analytics/http-v2#response-format,
 * https://amplitude.com/docs/apis/analytics/http-api-batching-retries):
 *
 * - the batch is cut into requests within the API's limits; an event that alone exceeds the size
 *   limit, or that has neither user_id nor device_id, is refused without being sent;
 * - 413: the request is split in halves, each sent on its own; a single event answered 413 is refused;
 * - 400 listing events (`events_with_invalid_fields`, `events_with_missing_fields`,
 *   `events_with_invalid_id_lengths`, `silenced_events`): those are refused with the reason, the
 *   rest is sent again at once (Amplitude ingests nothing of a request answered 400);
 * - 400 without such a list (invalid API key, `missing_field`) and other 4xx: the request can never
 *   succeed; this request and the ones not yet sent are refused;
 * - 429: events of users/devices over the daily quota (`exceeded_daily_quota_*`) are refused; the
 *   `throttled_events` and events of `throttled_users`/`throttled_devices` are held back for
 *   `throttle_backoff` (the docs: pause that user/device for 30 s); the rest is sent again at once;
 * - 408, 5xx, network errors, a request over `timeout`: the request and the ones not yet sent are
 *   to be retried with back-off.
 *
 * Each request runs under the exporter's per-request `timeout` (`SendContext.request`); after each
 * request Amplitude accepted, what is left is recorded (`SendContext.progress`), so that a later
 * failure, a timeout or a crash never sends the accepted events again.
 *
 * The outcome, as the exporter helper expects it: resolves when every event was delivered; else
 * throws `PermanentError` (nothing delivered, every event refused for one reason),
 * `RetryableError` (nothing delivered or refused, everything to send again) or `PartialFailure`
 * (`rejected`: refused events grouped by reason, for the dead-letter route; `retry`: events to send
 * again, after `retryAfterMillis`: the throttle back-off when events were held, else the server's
 * `Retry-After` or, when absent, the helper's back-off).
 */
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { chunk, requestBody, sendInRequests, serializeEvents, settleUpload, type Envelope, type Refusal, type RequestAnswer } from '../../src/http_upload.js';
import type { Item } from './batching.js';
import { upload, type UploadAgents, type UploadResult } from './client.js';
import type { MapResult } from './mapping.js';

export interface SendContext {
  url: string;
  /** The connections' pools; the https one carries the `tls` settings. */
  agents: UploadAgents;
  gzip: boolean;
  envelope: Envelope;
  envelopeBytes: number;
  maxEvents: number;
  maxBytes: number;
  throttleBackoffMillis: number;
  map(e: AnalyticsEvent): MapResult;
  /** Sends one request; `upload` by default (tests may replace it). */
  post?: (body: string, events: number, signal: AbortSignal) => Promise<UploadResult>;
}

/** Delivers `events`; see the module comment for the outcomes. */
export async function sendEvents(events: readonly AnalyticsEvent[], ctx: SendContext, delivery: DeliveryContext): Promise<void> {
  const upstream = ctx.post ?? ((body: string, n: number, s: AbortSignal) => upload({ url: ctx.url, body, gzip: ctx.gzip, signal: s, events: n, agents: ctx.agents }));
  const refused: Refusal[] = [];
  const items = serializeEvents(
    events,
    ctx.map,
    (m) => m.event,
    (source, json, bytes, m): Item => ({ source, user_id: m.event.user_id, device_id: m.event.device_id, json, bytes }),
    refused,
  );
  const { chunks, oversized } = chunk(items, ctx.maxEvents, ctx.maxBytes, ctx.envelopeBytes);
  for (const it of oversized) refused.push({ event: it.source, reason: `the event alone (${it.bytes} bytes of JSON) exceeds the request size limit of ${ctx.maxBytes} bytes` });

  const { delivered, failure, held } = await sendInRequests({
    name: 'amplitude',
    events,
    chunks,
    refused,
    delivery,
    post: (current: Item[], s) => upstream(requestBody(ctx.envelope, current), current.length, s),
    answer: (res: UploadResult, current): RequestAnswer<Item> => {
      switch (res.kind) {
        case 'too_large':
          return { kind: 'split', alone: `${res.error}: the event alone is larger than the API accepts` };
        case 'invalid': {
          const bad: Refusal[] = [];
          const held: Item[] = [];
          const rest: Item[] = [];
          current.forEach((it, i) => {
            const reason = res.reasons.get(i);
            if (reason !== undefined) bad.push({ event: it.source, reason });
            else if (res.throttled.has(i)) held.push(it);
            else rest.push(it);
          });
          return { kind: 'sorted', refused: bad, held, again: rest };
        }
        case 'throttled': {
          const bad: Refusal[] = [];
          const held: Item[] = [];
          const rest: Item[] = [];
          current.forEach((it, i) => {
            if (it.user_id !== undefined && res.quotaUsers.has(it.user_id)) {
              bad.push({ event: it.source, reason: `${res.error} (exceeded_daily_quota_users): the user is over Amplitude's daily event quota` });
            } else if (it.device_id !== undefined && res.quotaDevices.has(it.device_id)) {
              bad.push({ event: it.source, reason: `${res.error} (exceeded_daily_quota_devices): the device is over Amplitude's daily event quota` });
            } else if (res.events.has(i) || (it.user_id !== undefined && res.users.has(it.user_id)) || (it.device_id !== undefined && res.devices.has(it.device_id))) {
              held.push(it);
            } else {
              rest.push(it);
            }
          });
          // A 429 that names no event, user or device: hold the whole request back.
          if (rest.length === current.length) return { kind: 'sorted', held: rest };
          return { kind: 'sorted', refused: bad, held, again: rest };
        }
        default:
          return res;
      }
    },
  });
  settleUpload('amplitude', { delivered, refused, failure, held: { items: held, backoffMillis: ctx.throttleBackoffMillis } });
}
