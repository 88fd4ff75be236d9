/**
 * What the exporters that upload JSON batches over HTTP(S) share (`amplitude`, `segment`,
 * `mixpanel`, `posthog`; `bigquery` the outcome): one POST over kept-alive connection pools (the
 * https one carries the `tls` settings), `Retry-After` read as RFC 9110 §10.2.3 defines it,
 * requests cut within a destination's count and byte limits, the loop that sends a batch's
 * requests one after the other (split in halves, refused, retried, answered event by event), and
 * the outcome: refused events grouped by reason as `PartialFailure.rejected` carries them.
 */
import http from 'node:http';
import https from 'node:https';
import type { Payload } from './component.js';
import type { SendContext as DeliveryContext } from './delivery/sender.js';
import { errorMessage, PartialFailure, PermanentError, RetryableError } from './errors.js';
import type { AnalyticsEvent } from './event.js';

/** The connection pools of the upload requests: `https` carries the `tls` settings. */
export interface UploadAgents {
  http: http.Agent;
  https: https.Agent;
}

/** Where one request goes and how it is cut short. */
export interface UploadTarget {
  url: string;
  signal: AbortSignal;
  /** Where the connections come from (kept alive, with the `tls` settings for https://). */
  agents: UploadAgents;
}

/** An answer: its status, headers and (at most {@link MAX_ANSWER_BYTES} of) its body. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Most bytes of an answer read (answers are small; a larger one is cut). */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * POSTs `body` to the target through its agents; rejects on a network or TLS failure, or with the
 * signal's reason. `content-length` is set here.
 */
export function postBody(target: UploadTarget, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  const url = new URL(target.url);
  const secure = url.protocol === 'https:';
  const send = secure ? https.request : http.request;
  return new Promise<Answer>((resolve, reject) => {
    const r = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: secure ? target.agents.https : target.agents.http, signal: target.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_ANSWER_BYTES) chunks.push(c);
        size += c.length;
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** The first value of a header, or null. */
export function headerValue(headers: http.IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/** `Retry-After` as milliseconds (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMillis(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const t = header.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** An event serialised for a request body: the event, its JSON and the JSON's UTF-8 byte length. */
export interface UploadItem {
  source: AnalyticsEvent;
  json: string;
  bytes: number;
}

/** The fixed parts of a request body around its comma-separated items (e.g. `{"batch":[` and `]}`). */
export interface Envelope {
  head: string;
  tail: string;
}

/** The JSON body of a request carrying `items` in `envelope`. */
export function requestBody(envelope: Envelope, items: readonly { json: string }[]): string {
  let s = envelope.head;
  for (let i = 0; i < items.length; i++) s += (i > 0 ? ',' : '') + items[i]!.json;
  return s + envelope.tail;
}

/** An event a destination's mapping refused, and why. */
interface Unmapped {
  ok: false;
  reason: string;
}

/**
 * Maps and serialises `events` for request bodies, in order. An event that `map` refuses goes to
 * `refused` with the mapping's reason, and so does one whose JSON (of `body(mapped)`) is longer
 * than `limit.maxEventBytes`, with `limit.reason(bytes)`; each other event becomes
 * `item(event, json, bytes, mapped)`.
 */
export function serializeEvents<M extends { ok: true }, I>(
  events: readonly AnalyticsEvent[],
  map: (e: AnalyticsEvent) => M | Unmapped,
  body: (mapped: M) => unknown,
  item: (source: AnalyticsEvent, json: string, bytes: number, mapped: M) => I,
  refused: Refusal[],
  limit?: { maxEventBytes: number; reason(bytes: number): string },
): I[] {
  const items: I[] = [];
  for (const e of events) {
    const m = map(e);
    if (!m.ok) {
      refused.push({ event: e, reason: m.reason });
      continue;
    }
    const json = JSON.stringify(body(m));
    const bytes = Buffer.byteLength(json);
    if (limit && bytes > limit.maxEventBytes) refused.push({ event: e, reason: limit.reason(bytes) });
    else items.push(item(e, json, bytes, m));
  }
  return items;
}

/**
 * Splits items into requests of at most `maxEvents` items and `maxBytes` bytes, keeping order. A
 * request body is `envelopeBytes` plus the items' bytes and a comma between two items. Items that
 * alone exceed `maxBytes` are returned in `oversized` (they can never be sent).
 */
export function chunk<T extends { bytes: number }>(items: readonly T[], maxEvents: number, maxBytes: number, envelopeBytes: number): { chunks: T[][]; oversized: T[] } {
  const chunks: T[][] = [];
  const oversized: T[] = [];
  let current: T[] = [];
  let size = envelopeBytes;
  for (const it of items) {
    if (envelopeBytes + it.bytes > maxBytes) {
      oversized.push(it);
      continue;
    }
    const added = it.bytes + (current.length > 0 ? 1 : 0);
    if (current.length >= maxEvents || size + added > maxBytes) {
      chunks.push(current);
      current = [];
      size = envelopeBytes;
    }
    size += it.bytes + (current.length > 0 ? 1 : 0);
    current.push(it);
  }
  if (current.length > 0) chunks.push(current);
  return { chunks, oversized };
}

/** An event refused for good, and why. */
export interface Refusal {
  event: AnalyticsEvent;
  reason: string;
}

/** Events grouped by reason, as `PartialFailure.rejected` carries them. */
export function groupByReason(refused: readonly Refusal[]): { payload: Payload; reason: string }[] {
  const by = new Map<string, AnalyticsEvent[]>();
  for (const r of refused) {
    let list = by.get(r.reason);
    if (!list) by.set(r.reason, (list = []));
    list.push(r.event);
  }
  return [...by].map(([reason, data]) => ({ payload: { signal: 'events', data }, reason }));
}

/** A request that failed for now: its items and the ones not sent after it, to send again. */
export interface UploadFailure<T> {
  items: T[];
  error: string;
  retryAfterMillis?: number;
}

/**
 * What to do with the items of one request, as an exporter reads its destination's answer:
 * - `ok`: all delivered;
 * - `split`: sent again in halves, down to one item, which is then refused with `alone`;
 * - `refused`: this request and the ones not sent yet are refused with `error`;
 * - `retryable`: this request and the ones not sent yet are to be sent again later;
 * - `sorted`: the destination answered item by item: `refused` for good, `held` to be sent again
 *   after a throttling back-off, `failure` (with the requests not sent yet) to be sent again
 *   later, `again` sent again at once, `accepted` delivered.
 */
export type RequestAnswer<T> =
  | { kind: 'ok' }
  | { kind: 'split'; alone: string }
  | { kind: 'refused'; error: string }
  | { kind: 'retryable'; error: string; retryAfterMillis?: number }
  | { kind: 'sorted'; refused?: Refusal[]; held?: T[]; failure?: UploadFailure<T>; again?: T[]; accepted?: T[] };

/** The requests of one batch and how each is sent and read. */
export interface RequestLoop<T extends { source: AnalyticsEvent }, R> {
  /** The exporter's name, which starts the error of a request that failed without an answer. */
  name: string;
  /** The whole batch (what is left of it is recorded after each request that delivered). */
  events: readonly AnalyticsEvent[];
  /** The requests, in order. */
  chunks: T[][];
  /** Refused events; the loop adds to it. */
  refused: Refusal[];
  delivery: DeliveryContext;
  /** Sends one request (run under `delivery.request`); its failures count as retryable. */
  post(items: T[], signal: AbortSignal): Promise<R>;
  /** What the answer means for the request's items. */
  answer(res: R, items: T[]): RequestAnswer<T>;
}

/**
 * Sends `chunks` one request after the other under the per-request timeout, and records what is
 * left after each request that delivered. Once a request is refused, the ones after it are
 * refused for the same reason; once one fails for now, it and the ones after it are to be retried.
 */
export async function sendInRequests<T extends { source: AnalyticsEvent }, R>(loop: RequestLoop<T, R>): Promise<{ delivered: number; failure?: UploadFailure<T>; held: T[] }> {
  const { events, refused, delivery } = loop;
  const send = async (items: T[]): Promise<RequestAnswer<T>> => {
    try {
      const res = await delivery.request((s) => loop.post(items, s));
      return loop.answer(res, items);
    } catch (err) {
      if (delivery.stopped.aborted) throw err;
      return { kind: 'retryable', error: `${loop.name}: ${errorMessage(err)}` };
    }
  };
  const accepted = new Set<AnalyticsEvent>();
  const held: T[] = [];
  let delivered = 0;
  let failure: UploadFailure<T> | undefined;
  let refusedRequest: string | undefined;

  // A stack of requests still to send, the next one on top.
  const work: T[][] = [...loop.chunks].reverse();
  const accept = async (list: readonly T[]) => {
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
    const res = await send(current);
    switch (res.kind) {
      case 'ok':
        await accept(current);
        break;
      case 'split':
        if (current.length === 1) refused.push({ event: current[0]!.source, reason: res.alone });
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
      case 'sorted':
        if (res.refused) refused.push(...res.refused);
        if (res.held) held.push(...res.held);
        if (res.failure) failure = res.failure;
        if (res.again && res.again.length > 0) work.push(res.again);
        if (res.accepted) await accept(res.accepted);
        break;
    }
  }
  return { delivered, failure, held };
}

/** What the requests of one batch came to. */
export interface UploadOutcome<T extends { source: AnalyticsEvent }> {
  delivered: number;
  refused: readonly Refusal[];
  failure?: UploadFailure<T>;
  /** Throttled items, sent again after `backoffMillis` (or the failure's wait, when longer). */
  held?: { items: readonly T[]; backoffMillis: number };
}

/**
 * The outcome as the exporter helper expects it: returns when every event was delivered; else
 * throws `PermanentError` (nothing delivered, every event refused for one reason),
 * `RetryableError` (nothing delivered or refused) or `PartialFailure` (`rejected` by reason for
 * the dead-letter route, `retry` the events to send again). `deliveredWord` names the delivered
 * events in the message.
 */
export function settleUpload<T extends { source: AnalyticsEvent }>(name: string, outcome: UploadOutcome<T>, deliveredWord = 'delivered'): void {
  const { delivered, refused, failure } = outcome;
  const held = outcome.held?.items ?? [];
  const retry = [...(failure?.items ?? []), ...held];
  if (refused.length === 0 && retry.length === 0) return;
  if (delivered === 0 && retry.length === 0 && refused.every((r) => r.reason === refused[0]!.reason)) {
    throw new PermanentError(`${refused[0]!.reason} (${refused.length} event${refused.length === 1 ? '' : 's'})`);
  }
  const throttleWait = held.length > 0 ? Math.max(outcome.held!.backoffMillis, failure?.retryAfterMillis ?? 0) : undefined;
  if (delivered === 0 && refused.length === 0) {
    if (held.length === 0) throw new RetryableError(failure!.error, failure!.retryAfterMillis);
    if (!failure) throw new RetryableError(`${name} 429: all ${held.length} events throttled; holding them back for ${throttleWait}ms`, throttleWait);
  }
  const parts = [`${delivered} ${deliveredWord}`];
  if (refused.length > 0) parts.push(`${refused.length} refused`);
  if (held.length > 0) parts.push(`${held.length} throttled (held back ${throttleWait}ms)`);
  if (failure) parts.push(`${failure.items.length} to retry after: ${failure.error}`);
  throw new PartialFailure(`${name}: ${parts.join(', ')}`, {
    rejected: groupByReason(refused),
    retry: retry.length > 0 ? { signal: 'events', data: retry.map((it) => it.source) } : undefined,
    retryAfterMillis: throttleWait ?? failure?.retryAfterMillis,
  });
}
