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
import { errorMessage, PartialFailure, PermanentError, RetryableError } from '../../src/errors.js';
import { groupByReason, type Refusal } from '../../src/http_upload.js';
import { chunk, requestBody, type Item } from './batching.js';
import { upload, type UploadAgents, type UploadResult } from './client.js';
import type { MapResult } from './mapping.js';

export interface SendContext {
  url: string;
  /** The connections' pools; the https one carries the `tls` settings. */
  agents: UploadAgents;
  gzip: boolean;
  envelope: { head: string; tail: string };
  envelopeBytes: number;
  maxEvents: number;
  maxBytes: number;
  throttleBackoffMillis: number;
  map(e: AnalyticsEvent): MapResult;
  /** Sends one request; `upload` by default (tests may replace it). */
  post?: (body: string, events: number, signal: AbortSignal) => Promise<UploadResult>;
}

/** Serialises mapped events; the ones that cannot be mapped are refused. */
function prepare(events: readonly AnalyticsEvent[], ctx: SendContext, refused: Refusal[]): Item[] {
  const items: Item[] = [];
  for (const e of events) {
    const m = ctx.map(e);
    if (!m.ok) {
      refused.push({ event: e, reason: m.reason });
      continue;
    }
    const json = JSON.stringify(m.event);
    items.push({ source: e, user_id: m.event.user_id, device_id: m.event.device_id, json, bytes: Buffer.byteLength(json) });
  }
  return items;
}

/** Delivers `events`; see the module comment for the outcomes. */
export async function sendEvents(events: readonly AnalyticsEvent[], ctx: SendContext, delivery: DeliveryContext): Promise<void> {
  const upstream = ctx.post ?? ((body: string, n: number, s: AbortSignal) => upload({ url: ctx.url, body, gzip: ctx.gzip, signal: s, events: n, agents: ctx.agents }));
  const post = async (body: string, n: number): Promise<UploadResult> => {
    try {
      return await delivery.request((s) => upstream(body, n, s));
    } catch (err) {
      if (delivery.stopped.aborted) throw err;
      return { kind: 'retryable', error: `amplitude: ${errorMessage(err)}` };
    }
  };
  const accepted = new Set<AnalyticsEvent>();
  const refused: Refusal[] = [];
  const held: Item[] = [];
  let delivered = 0;
  let failure: { items: Item[]; error: string; retryAfterMillis?: number } | undefined;
  let refusedRequest: string | undefined;

  const items = prepare(events, ctx, refused);
  const { chunks, oversized } = chunk(items, ctx.maxEvents, ctx.maxBytes, ctx.envelopeBytes);
  for (const it of oversized) refused.push({ event: it.source, reason: `the event alone (${it.bytes} bytes of JSON) exceeds the request size limit of ${ctx.maxBytes} bytes` });

  // A stack of requests still to send, the next one on top.
  const work: Item[][] = chunks.reverse();
  while (work.length > 0) {
    const current = work.pop()!;
    if (refusedRequest !== undefined) {
      for (const it of current) refused.push({ event: it.source, reason: refusedRequest });
      continue;
    }
    if (failure) {
      failure.items.push(...current);
      continue;
    }
    const res = await post(requestBody(ctx.envelope, current), current.length);
    switch (res.kind) {
      case 'ok':
        delivered += current.length;
        for (const it of current) accepted.add(it.source);
        if (work.length > 0) await delivery.progress({ signal: 'events', data: events.filter((e) => !accepted.has(e)) });
        break;
      case 'too_large':
        if (current.length === 1) refused.push({ event: current[0]!.source, reason: `${res.error}: the event alone is larger than the API accepts` });
        else {
          const mid = Math.ceil(current.length / 2);
          work.push(current.slice(mid), current.slice(0, mid));
        }
        break;
      case 'invalid': {
        const rest: Item[] = [];
        current.forEach((it, i) => {
          const reason = res.reasons.get(i);
          if (reason !== undefined) refused.push({ event: it.source, reason });
          else if (res.throttled.has(i)) held.push(it);
          else rest.push(it);
        });
        if (rest.length > 0) work.push(rest);
        break;
      }
      case 'throttled': {
        const rest: Item[] = [];
        current.forEach((it, i) => {
          if (it.user_id !== undefined && res.quotaUsers.has(it.user_id)) {
            refused.push({ event: it.source, reason: `${res.error} (exceeded_daily_quota_users): the user is over Amplitude's daily event quota` });
          } else if (it.device_id !== undefined && res.quotaDevices.has(it.device_id)) {
            refused.push({ event: it.source, reason: `${res.error} (exceeded_daily_quota_devices): the device is over Amplitude's daily event quota` });
          } else if (res.events.has(i) || (it.user_id !== undefined && res.users.has(it.user_id)) || (it.device_id !== undefined && res.devices.has(it.device_id))) {
            held.push(it);
          } else {
            rest.push(it);
          }
        });
        // A 429 that names no event, user or device: hold the whole request back.
        if (rest.length === current.length) held.push(...rest);
        else if (rest.length > 0) work.push(rest);
        break;
      }
      case 'refused':
        refusedRequest = res.error;
        for (const it of current) refused.push({ event: it.source, reason: res.error });
        break;
      case 'retryable':
        failure = { items: [...current], error: res.error, retryAfterMillis: res.retryAfterMillis };
        break;
    }
  }

  const retry = [...(failure?.items ?? []), ...held];
  if (refused.length === 0 && retry.length === 0) return;
  if (delivered === 0 && retry.length === 0 && refused.every((r) => r.reason === refused[0]!.reason)) {
    throw new PermanentError(`${refused[0]!.reason} (${refused.length} event${refused.length === 1 ? '' : 's'})`);
  }
  const throttleWait = held.length > 0 ? Math.max(ctx.throttleBackoffMillis, failure?.retryAfterMillis ?? 0) : undefined;
  if (delivered === 0 && refused.length === 0) {
    if (held.length === 0) throw new RetryableError(failure!.error, failure!.retryAfterMillis);
    if (!failure) throw new RetryableError(`amplitude 429: all ${held.length} events throttled; holding them back for ${throttleWait}ms`, throttleWait);
  }
  const parts = [`${delivered} delivered`];
  if (refused.length > 0) parts.push(`${refused.length} refused`);
  if (held.length > 0) parts.push(`${held.length} throttled (held back ${throttleWait}ms)`);
  if (failure) parts.push(`${failure.items.length} to retry after: ${failure.error}`);
  throw new PartialFailure(`amplitude: ${parts.join(', ')}`, {
    rejected: groupByReason(refused),
    retry: retry.length > 0 ? { signal: 'events', data: retry.map((it) => it.source) } : undefined,
    retryAfterMillis: throttleWait ?? failure?.retryAfterMillis,
  });
}
