/**
 * Upload requests within Amplitude's limits: at most `maxEvents` events and a JSON body of at most
 * `maxBytes` bytes (HTTP V2: under 1 MB and 2000 events; Batch: 20 MB). Each event is serialised
 * once; a request body is the concatenation of the serialised events, so its size is known exactly
 * before it is sent.
 */
import type { Envelope, UploadItem } from '../../src/http_upload.js';

/** An event ready to send: the source event, its Amplitude JSON and the ids the throttling answers are matched by. */
export interface Item extends UploadItem {
  user_id?: string;
  device_id?: string;
}

/** The fixed part of a request body around the events. */
export function bodyEnvelope(apiKey: string, minIdLength: number | undefined): Envelope {
  const head = `{"api_key":${JSON.stringify(apiKey)},"events":[`;
  const tail = minIdLength === undefined ? ']}' : `],"options":{"min_id_length":${minIdLength}}}`;
  return { head, tail };
}
