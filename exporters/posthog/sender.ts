/**
 * Delivers one batch of events to PostHog's `/batch/` and classifies what happened
 * (https://posthog.com/docs/api/capture):
 *
 * - the batch is cut into requests of at most `max_events_per_request` events and under 20 MB
 *   (the amplitude exporter's batching by count and bytes); an event whose JSON is over 1 MB
 *   (PostHog discards it) or that has no distinct_id is refused without being sent;
 * - 400: PostHog does not say which event is invalid and takes nothing of the request, so the
 *   request is split in halves and each half sent again, down to the single events it refuses
 *   (at most 2n − 1 requests for n events, fewer the fewer events are bad);
 * - 413: the request is split in halves the same way; a single event answered 413 is refused;
 * - 401 (project API key) and other 4xx: this request and the ones not yet sent are refused;
 * - 408, 429, 5xx, network errors, a request over `timeout`: this request and the ones not yet
 *   sent are to be retried with back-off, after `Retry-After` when given.
 *
 * Each request runs under the exporter's per-request `timeout` (`SendContext.request`); after each
 * request PostHog took, what is left is recorded (`SendContext.progress`), so a later failure, a
 * timeout or a crash does not send the taken events again. What is sent again anyway (a request
 * that timed out after PostHog took it) carries the same `uuid`, `event`, `distinct_id` and
 * `timestamp`, which PostHog de-duplicates.
 *
 * Outcome, as the exporter helper expects it: resolves when every event was delivered; else throws
 * `PermanentError` (nothing delivered, every event refused for one reason), `RetryableError`
 * (nothing delivered or refused) or `PartialFailure` (`rejected` by reason, `retry`).
 */
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { chunk, requestBody, sendInRequests, serializeEvents, settleUpload, type Envelope, type Refusal, type RequestAnswer, type UploadAgents, type UploadItem as Item } from '../../src/http_upload.js';
import { capture, type CaptureResult } from './client.js';
import type { MapResult } from './mapping.js';

export interface SendContext {
  url: string;
  agents: UploadAgents;
  envelope: Envelope;
  envelopeBytes: number;
  maxEvents: number;
  maxRequestBytes: number;
  maxEventBytes: number;
  map(e: AnalyticsEvent): MapResult;
  /** Sends one request; `capture` by default (tests may replace it). */
  post?: (body: string, events: number, signal: AbortSignal) => Promise<CaptureResult>;
}

/** The fixed part of a request body around the events. */
export function bodyEnvelope(apiKey: string, historicalMigration: boolean): { head: string; tail: string } {
  return { head: `{"api_key":${JSON.stringify(apiKey)},"historical_migration":${historicalMigration},"batch":[`, tail: ']}' };
}

/** Delivers `events`; see the module comment for the outcomes. */
export async function sendEvents(events: readonly AnalyticsEvent[], ctx: SendContext, delivery: DeliveryContext): Promise<void> {
  const upstream = ctx.post ?? ((body: string, _n: number, s: AbortSignal) => capture(ctx.url, body, ctx.agents, s));
  const refused: Refusal[] = [];
  const items = serializeEvents(events, ctx.map, (m) => m.event, (source, json, bytes): Item => ({ source, json, bytes }), refused, {
    maxEventBytes: ctx.maxEventBytes,
    reason: (bytes) => `the event alone (${bytes} bytes of JSON) exceeds PostHog's event size limit of ${ctx.maxEventBytes} bytes (1 MB)`,
  });
  const { chunks, oversized } = chunk(items, ctx.maxEvents, ctx.maxRequestBytes, ctx.envelopeBytes);
  for (const it of oversized) refused.push({ event: it.source, reason: `the event alone (${it.bytes} bytes of JSON) exceeds the request size limit of ${ctx.maxRequestBytes} bytes` });

  const { delivered, failure } = await sendInRequests({
    name: 'posthog',
    events,
    chunks,
    refused,
    delivery,
    post: (current: Item[], s) => upstream(requestBody(ctx.envelope, current), current.length, s),
    answer: (res: CaptureResult): RequestAnswer<Item> => {
      switch (res.kind) {
        case 'invalid':
          return { kind: 'split', alone: `${res.error} (this event, found by splitting the request)` };
        case 'too_large':
          return { kind: 'split', alone: `${res.error}: the event alone is larger than PostHog accepts` };
        default:
          return res;
      }
    },
  });
  settleUpload('posthog', { delivered, refused, failure });
}
