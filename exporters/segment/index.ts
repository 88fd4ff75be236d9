/**
 * The `segment` exporter: sends events as `track` calls to Segment's HTTP Tracking API
 * (`POST /v1/batch`, https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/),
 * or, with `endpoint`, to a Segment-compatible data plane (RudderStack, Jitsu).
 *
 * Mapping: `mapping.ts` (messageId = the event's insert_id, on which Segment de-duplicates). The
 * meaning of each answer and what becomes of each event (delivered, refused with its reason for
 * the dead-letter route, or sent again): `client.ts`, `sender.ts`. Queueing, retries with back-off
 * and the dead-letter route itself are the exporter helper's (`src/exporterhelper.ts`).
 */
import type { Logger } from 'pino';
import type { ExporterFactory } from '../../src/component.js';
import { uploadAgents, uploadExporterFactory } from '../../src/upload_exporter.js';
import { basicAuthorization } from './client.js';
import { batchUrl, segmentSchema, type SegmentConfig } from './config.js';
import { compileMapping, LIBRARY } from './mapping.js';
import { sendEvents, type SendContext } from './sender.js';

export { segmentSchema, type SegmentConfig } from './config.js';

/**
 * Everything a send needs, compiled once from the config, with kept-alive connection pools; the
 * https one has the `tls` settings, whose files are read here.
 *
 * @param at the exporter's path in the config (`exporters::segment/eu`), for the errors of the
 *   `tls` files; with `logger`, warns about `tls::insecure_skip_verify` and an ignored `tls::insecure`.
 * @throws Error `<at>::tls::<option>: ...` when a `tls` file cannot be read or used.
 */
export function segmentSendContext(cfg: SegmentConfig, at = 'exporters::segment', logger?: Logger): SendContext {
  const url = batchUrl(cfg);
  const agents = uploadAgents(cfg.tls, at, url, logger);
  return {
    url,
    agents,
    authorization: basicAuthorization(cfg.write_key),
    userAgent: `${LIBRARY.name}/${LIBRARY.version}`,
    maxEvents: cfg.max_events_per_request,
    maxBytes: cfg.max_request_bytes,
    map: compileMapping(cfg),
  };
}

export const segmentExporterFactory: ExporterFactory<SegmentConfig> = uploadExporterFactory({
  type: 'segment',
  name: 'Segment',
  description: 'Sends events as track calls to Segment\'s HTTP Tracking API (/v1/batch) or a Segment-compatible data plane, de-duplicated by messageId',
  configSchema: segmentSchema,
  sendContext: segmentSendContext,
  sendEvents,
});
