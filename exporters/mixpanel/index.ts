/**
 * The `mixpanel` exporter: sends events to Mixpanel's Import Events API (`POST /import?strict=1`),
 * https://docs.mixpanel.com/reference/import-events.
 *
 * Mapping and the `$insert_id`: `mapping.ts`. The meaning of each answer and what becomes of each
 * event (delivered, refused with Mixpanel's reason for the dead-letter route, or sent again):
 * `client.ts`, `sender.ts`. Requests within the limits and the HTTPS connections are amplitude's
 * (`../amplitude/batching.ts`, `../amplitude/client.ts`). Queueing, retries with back-off and the
 * dead-letter route itself are the exporter helper's (`src/exporterhelper.ts`).
 */
import type { Logger } from 'pino';
import type { ExporterFactory } from '../../src/component.js';
import { uploadAgents, uploadExporterFactory } from '../../src/upload_exporter.js';
import { authorization, importUrl, MAX_EVENT_BYTES, MAX_REQUEST_BYTES, mixpanelSchema, type MixpanelConfig } from './config.js';
import { compileMapping } from './mapping.js';
import { sendEvents, type SendContext } from './sender.js';

export { mixpanelSchema, type MixpanelConfig } from './config.js';

/**
 * Everything a send needs, compiled once from the config, with kept-alive connection pools; the
 * https one has the `tls` settings, whose files are read here.
 *
 * @param at the exporter's path in the config (`exporters::mixpanel/eu`), for the errors of the `tls` files.
 * @throws Error `<at>::tls::<option>: ...` when a `tls` file cannot be read or used.
 */
export function mixpanelSendContext(cfg: MixpanelConfig, at = 'exporters::mixpanel', logger?: Logger): SendContext {
  const url = importUrl(cfg);
  const agents = uploadAgents(cfg.tls, at, url, logger);
  return {
    url,
    authorization: authorization(cfg),
    agents,
    gzip: cfg.compression === 'gzip',
    maxEvents: cfg.max_events_per_request,
    maxBytes: MAX_REQUEST_BYTES,
    maxEventBytes: MAX_EVENT_BYTES,
    map: compileMapping(cfg),
  };
}

export const mixpanelExporterFactory: ExporterFactory<MixpanelConfig> = uploadExporterFactory({
  type: 'mixpanel',
  name: 'Mixpanel',
  description: 'Sends events to Mixpanel (Import Events API, strict mode), de-duplicated by $insert_id, dead-lettering what Mixpanel refuses',
  configSchema: mixpanelSchema,
  sendContext: mixpanelSendContext,
  sendEvents,
});
