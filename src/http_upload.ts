/**
 * What the exporters that upload JSON batches over HTTP(S) share (`amplitude`, `segment`): one POST
 * over kept-alive connection pools (the https one carries the `tls` settings), `Retry-After` read
 * as RFC 9110 §10.2.3 defines it, requests cut within a destination's count and byte limits, and
 * refused events grouped by reason as `PartialFailure.rejected` carries them.
 */
import http from 'node:http';
import https from 'node:https';
import type { Payload } from './component.js';
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

/** Keep error texts short in logs and reasons. */
export function clip(s: string, max = 300): string {
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
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
