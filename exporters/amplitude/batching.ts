/**
 * Upload requests within Amplitude's limits: at most `maxEvents` events and a JSON body of at most
 * `maxBytes` bytes (HTTP V2: under 1 MB and 2000 events; Batch: 20 MB). Each event is serialised
 * once; a request body is the concatenation of the serialised events, so its size is known exactly
 * before it is sent.
 */
import type { AnalyticsEvent } from '../../src/event.js';

/** An event ready to send: the source event and its Amplitude JSON. */
export interface Item {
  source: AnalyticsEvent;
  user_id?: string;
  device_id?: string;
  json: string;
  bytes: number;
}

/** The fixed part of a request body around the events. */
export function bodyEnvelope(apiKey: string, minIdLength: number | undefined): { head: string; tail: string } {
  const head = `{"api_key":${JSON.stringify(apiKey)},"events":[`;
  const tail = minIdLength === undefined ? ']}' : `],"options":{"min_id_length":${minIdLength}}}`;
  return { head, tail };
}

/** The JSON body of a request carrying `items`. */
export function requestBody(envelope: { head: string; tail: string }, items: readonly Item[]): string {
  let s = envelope.head;
  for (let i = 0; i < items.length; i++) s += (i > 0 ? ',' : '') + items[i]!.json;
  return s + envelope.tail;
}

/** Bytes of a body carrying `items`: envelope + events + commas. */
export function bodyBytes(envelopeBytes: number, items: readonly Item[]): number {
  let n = envelopeBytes + Math.max(0, items.length - 1);
  for (const it of items) n += it.bytes;
  return n;
}

/**
 * Splits items into requests of at most `maxEvents` events and `maxBytes` bytes, keeping order.
 * Items that alone exceed `maxBytes` are returned in `oversized` (they can never be sent).
 */
export { chunk } from '../../src/http_upload.js';
