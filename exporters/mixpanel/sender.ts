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
import type { Payload } from '../../src/component.js';
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { errorMessage, PartialFailure, PermanentError, RetryableError } from '../../src/errors.js';
import { requestBody, type Item } from '../amplitude/batching.js';
import { chunk } from '../../src/http_upload.js';
import type { UploadAgents } from '../../src/http_upload.js';
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

interface MixpanelItem extends Item {
  insertId: string;
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
  const post = async (body: string): Promise<ImportResult> => {
    try {
      return await delivery.request((s) => upstream(body, s));
    } catch (err) {
      if (delivery.stopped.aborted) throw err;
      return { kind: 'retryable', error: `mixpanel: ${errorMessage(err)}` };
    }
  };
  const accepted = new Set<AnalyticsEvent>();
  const refused: Refusal[] = [];
  let delivered = 0;
  let failure: { items: MixpanelItem[]; error: string; retryAfterMillis?: number } | undefined;
  let refusedRequest: string | undefined;

  const items: MixpanelItem[] = [];
  for (const e of events) {
    const m = ctx.map(e);
    if (!m.ok) {
      refused.push({ event: e, reason: m.reason });
      continue;
    }
    const json = JSON.stringify(m.event);
    const bytes = Buffer.byteLength(json);
    if (bytes > ctx.maxEventBytes) {
      refused.push({ event: e, reason: `the event alone (${bytes} bytes of JSON) exceeds Mixpanel's limit of ${ctx.maxEventBytes + 1} bytes per event` });
      continue;
    }
    items.push({ source: e, json, bytes, insertId: m.insertId });
  }
  const { chunks, oversized } = chunk(items, ctx.maxEvents, ctx.maxBytes, ENVELOPE_BYTES);
  for (const it of oversized) refused.push({ event: it.source, reason: `the event alone (${it.bytes} bytes of JSON) exceeds the request size limit of ${ctx.maxBytes} bytes` });

  const work = (chunks as MixpanelItem[][]).reverse();
  const accept = async (list: readonly MixpanelItem[]) => {
    delivered += list.length;
    for (const it of list) accepted.add(it.source);
    if (work.length > 0) await delivery.progress({ signal: 'events', data: events.filter((e) => !accepted.has(e)) });
  };
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
    const res = await post(requestBody(ENVELOPE, current));
    switch (res.kind) {
      case 'ok':
        await accept(current);
        break;
      case 'partial': {
        const bad = new Map<MixpanelItem, string>();
        for (const r of res.failed) {
          const it = named(r, current);
          if (it && !bad.has(it)) bad.set(it, failedReason(r));
        }
        for (const [it, reason] of bad) refused.push({ event: it.source, reason });
        await accept(current.filter((it) => !bad.has(it)));
        break;
      }
      case 'too_large':
        if (current.length === 1) refused.push({ event: current[0]!.source, reason: `${res.error}: the event alone is larger than the API accepts` });
        else {
          const mid = Math.ceil(current.length / 2);
          work.push(current.slice(mid), current.slice(0, mid));
        }
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
  if (failure) parts.push(`${retry.length} to retry after: ${failure.error}`);
  throw new PartialFailure(`mixpanel: ${parts.join(', ')}`, {
    rejected: groupByReason(refused),
    retry: retry.length > 0 ? { signal: 'events', data: retry.map((it) => it.source) } : undefined,
    retryAfterMillis: failure?.retryAfterMillis,
  });
}
