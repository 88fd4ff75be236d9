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
import type { Payload } from '../../src/component.js';
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { errorMessage, PartialFailure, PermanentError, RetryableError } from '../../src/errors.js';
import { requestBody, type Item } from '../amplitude/batching.js';
import { chunk } from '../../src/http_upload.js';
import type { UploadAgents } from '../../src/http_upload.js';
import { capture, type CaptureResult } from './client.js';
import type { MapResult } from './mapping.js';

export interface SendContext {
  url: string;
  agents: UploadAgents;
  envelope: { head: string; tail: string };
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

interface Refusal {
  event: AnalyticsEvent;
  reason: string;
}

function groupByReason(refused: readonly Refusal[]): { payload: Payload; reason: string }[] {
  const by = new Map<string, AnalyticsEvent[]>();
  for (const r of refused) {
    let list = by.get(r.reason);
    if (!list) by.set(r.reason, (list = []));
    list.push(r.event);
  }
  return [...by].map(([reason, data]) => ({ payload: { signal: 'events', data }, reason }));
}

/** Delivers `events`; see the module comment for the outcomes. */
export async function sendEvents(events: readonly AnalyticsEvent[], ctx: SendContext, delivery: DeliveryContext): Promise<void> {
  const upstream = ctx.post ?? ((body: string, _n: number, s: AbortSignal) => capture(ctx.url, body, ctx.agents, s));
  const post = async (body: string, n: number): Promise<CaptureResult> => {
    try {
      return await delivery.request((s) => upstream(body, n, s));
    } catch (err) {
      if (delivery.stopped.aborted) throw err;
      return { kind: 'retryable', error: `posthog: ${errorMessage(err)}` };
    }
  };
  const accepted = new Set<AnalyticsEvent>();
  const refused: Refusal[] = [];
  let delivered = 0;
  let failure: { items: Item[]; error: string; retryAfterMillis?: number } | undefined;
  let refusedRequest: string | undefined;

  const items: Item[] = [];
  for (const e of events) {
    const m = ctx.map(e);
    if (!m.ok) {
      refused.push({ event: e, reason: m.reason });
      continue;
    }
    const json = JSON.stringify(m.event);
    const bytes = Buffer.byteLength(json);
    if (bytes > ctx.maxEventBytes) refused.push({ event: e, reason: `the event alone (${bytes} bytes of JSON) exceeds PostHog's event size limit of ${ctx.maxEventBytes} bytes (1 MB)` });
    else items.push({ source: e, json, bytes });
  }
  const { chunks, oversized } = chunk(items, ctx.maxEvents, ctx.maxRequestBytes, ctx.envelopeBytes);
  for (const it of oversized) refused.push({ event: it.source, reason: `the event alone (${it.bytes} bytes of JSON) exceeds the request size limit of ${ctx.maxRequestBytes} bytes` });

  const split = (current: Item[], work: Item[][]) => {
    const mid = Math.ceil(current.length / 2);
    work.push(current.slice(mid), current.slice(0, mid));
  };
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
      case 'invalid':
        if (current.length === 1) refused.push({ event: current[0]!.source, reason: `${res.error} (this event, found by splitting the request)` });
        else split(current, work);
        break;
      case 'too_large':
        if (current.length === 1) refused.push({ event: current[0]!.source, reason: `${res.error}: the event alone is larger than PostHog accepts` });
        else split(current, work);
        break;
      case 'refused':
        refusedRequest = res.error;
        for (const it of current) refused.push({ event: it.source, reason: res.error });
        break;
      case 'retryable':
        failure = { items: [...current], error: res.error, retryAfterMillis: res.retryAfterMillis };
        break;
    }
  }

  const retry = failure?.items ?? [];
  if (refused.length === 0 && retry.length === 0) return;
  if (delivered === 0 && retry.length === 0 && refused.every((r) => r.reason === refused[0]!.reason)) {
    throw new PermanentError(`${refused[0]!.reason} (${refused.length} event${refused.length === 1 ? '' : 's'})`);
  }
  if (delivered === 0 && refused.length === 0) throw new RetryableError(failure!.error, failure!.retryAfterMillis);
  const parts = [`${delivered} delivered`];
  if (refused.length > 0) parts.push(`${refused.length} refused`);
  if (failure) parts.push(`${failure.items.length} to retry after: ${failure.error}`);
  throw new PartialFailure(`posthog: ${parts.join(', ')}`, {
    rejected: groupByReason(refused),
    retry: retry.length > 0 ? { signal: 'events', data: retry.map((it) => it.source) } : undefined,
    retryAfterMillis: failure?.retryAfterMillis,
  });
}
