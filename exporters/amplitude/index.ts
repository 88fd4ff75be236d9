/**
 * The `amplitude` exporter: sends events to Amplitude's HTTP V2 API (`/2/httpapi`) or Batch Event
 * Upload API (`/batch`), https://amplitude.com/docs/apis/analytics/http-v2 and
 * https://amplitude.com/docs/apis/analytics/batch-event-upload.
 *
 * Mapping: `mapping.ts`. Requests within the limits: `batching.ts`. The meaning of each answer and
 * what becomes of each event (delivered, refused with its reason for the dead-letter route, or sent
 * again, throttled ones after `throttle_backoff`): `client.ts`, `sender.ts`. Queueing, retries with
 * back-off and the dead-letter route itself are the exporter helper's (`src/exporterhelper.ts`).
 */
import type { Logger } from 'pino';
import type { ExporterFactory } from '../../src/component.js';
import { uploadAgents, uploadExporterFactory } from '../../src/upload_exporter.js';
import { bodyEnvelope } from './batching.js';
import { amplitudeSchema, MAX_REQUEST_BYTES, uploadUrl, type AmplitudeConfig } from './config.js';
import { compileMapping } from './mapping.js';
import { sendEvents, type SendContext } from './sender.js';

export { amplitudeSchema, type AmplitudeConfig } from './config.js';

/**
 * Everything a send needs, compiled once from the config, with kept-alive connection pools; the
 * https one has the `tls` settings, whose files are read here.
 *
 * @param at the exporter's path in the config (`exporters::amplitude/eu`), for the errors of the
 *   `tls` files; with `logger`, warns about `tls::insecure_skip_verify` and an ignored `tls::insecure`.
 * @throws Error `<at>::tls::<option>: ...` when a `tls` file cannot be read or used.
 */
export function amplitudeSendContext(cfg: AmplitudeConfig, at = 'exporters::amplitude', logger?: Logger): SendContext {
  const envelope = bodyEnvelope(cfg.api_key, cfg.min_id_length);
  const url = uploadUrl(cfg);
  const agents = uploadAgents(cfg.tls, at, url, logger);
  return {
    url,
    agents,
    gzip: cfg.compression === 'gzip',
    envelope,
    envelopeBytes: Buffer.byteLength(envelope.head) + Buffer.byteLength(envelope.tail),
    maxEvents: cfg.max_events_per_request,
    maxBytes: MAX_REQUEST_BYTES[cfg.api],
    throttleBackoffMillis: cfg.throttle_backoff,
    map: compileMapping(cfg),
  };
}

export const amplitudeExporterFactory: ExporterFactory<AmplitudeConfig> = uploadExporterFactory({
  type: 'amplitude',
  name: 'Amplitude',
  description: 'Sends events to Amplitude (HTTP V2 or Batch Event Upload API), dead-lettering what Amplitude refuses',
  configSchema: amplitudeSchema,
  sendContext: amplitudeSendContext,
  sendEvents,
});
