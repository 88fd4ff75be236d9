/**
 * The `posthog` exporter: sends events to PostHog's capture API, `POST /batch/`
 * (https://posthog.com/docs/api/capture), on PostHog Cloud (US, EU) or a self-hosted instance.
 *
 * Mapping and the uuid of each event: `mapping.ts`. The meaning of each answer: `client.ts`. What
 * becomes of each event (delivered, refused with its reason for the dead-letter route, or sent
 * again): `sender.ts`. Requests within the limits and the HTTPS client are the amplitude
 * exporter's (`../amplitude/batching.ts`, `../amplitude/client.ts`); queueing, retries with
 * back-off and the dead-letter route are the exporter helper's (`src/exporterhelper.ts`).
 */
import type { Logger } from 'pino';
import type { ExporterFactory } from '../../src/component.js';
import { uploadAgents, uploadExporterFactory } from '../../src/upload_exporter.js';
import { batchUrl, MAX_EVENT_BYTES, MAX_REQUEST_BYTES, posthogSchema, type PosthogConfig } from './config.js';
import { compileMapping } from './mapping.js';
import { bodyEnvelope, sendEvents, type SendContext } from './sender.js';

export { posthogSchema, type PosthogConfig } from './config.js';

/**
 * Everything a send needs, compiled once from the config, with kept-alive connection pools; the
 * https one has the `tls` settings, whose files are read here.
 *
 * @throws Error `<at>::tls::<option>: ...` when a `tls` file cannot be read or used.
 */
export function posthogSendContext(cfg: PosthogConfig, at = 'exporters::posthog', logger?: Logger): SendContext {
  const envelope = bodyEnvelope(cfg.api_key, cfg.historical_migration);
  const url = batchUrl(cfg);
  const agents = uploadAgents(cfg.tls, at, url, logger);
  return {
    url,
    agents,
    envelope,
    envelopeBytes: Buffer.byteLength(envelope.head) + Buffer.byteLength(envelope.tail),
    maxEvents: cfg.max_events_per_request,
    maxRequestBytes: MAX_REQUEST_BYTES,
    maxEventBytes: MAX_EVENT_BYTES,
    map: compileMapping(cfg),
  };
}

export const posthogExporterFactory: ExporterFactory<PosthogConfig> = uploadExporterFactory({
  type: 'posthog',
  name: 'PostHog',
  description: 'Sends events to PostHog (capture API /batch/), each with a uuid derived from its insert_id; dead-letters what PostHog refuses',
  configSchema: posthogSchema,
  sendContext: posthogSendContext,
  sendEvents,
});
