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
import http from 'node:http';
import type { Logger } from 'pino';
import type { ExporterFactory, Host, Payload } from '../../src/component.js';
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import { PermanentError } from '../../src/errors.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { ClientTls, ClientTlsAgent, warnIfInsecureIgnored } from '../../src/tls/client.js';
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
  const tls = ClientTls.load(cfg.tls, at, url.startsWith('https:') ? logger : undefined);
  if (logger) warnIfInsecureIgnored(cfg.tls, at, url, logger);
  return {
    url,
    agents: { http: new http.Agent({ keepAlive: true }), https: new ClientTlsAgent(tls) },
    authorization: basicAuthorization(cfg.write_key),
    userAgent: `${LIBRARY.name}/${LIBRARY.version}`,
    maxEvents: cfg.max_events_per_request,
    maxBytes: cfg.max_request_bytes,
    map: compileMapping(cfg),
  };
}

class SegmentExporter extends BaseExporter {
  /** Made at start, when the `tls` files are read. */
  private ctx: SendContext | undefined;

  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: SegmentConfig,
  ) {
    super(settings, cfg);
  }

  override async start(_host: Host): Promise<void> {
    this.ctx = segmentSendContext(this.cfg, `exporters::${this.id}`, this.logger);
    this.logger.info({ url: this.ctx.url }, 'sending events to Segment');
  }

  protected async send(p: Payload, delivery: DeliveryContext): Promise<void> {
    if (p.signal !== 'events') throw new PermanentError(`the segment exporter takes events, not ${p.signal}`);
    if (!this.ctx) throw new Error(`exporter ${this.id} is not started`);
    await sendEvents(p.data, this.ctx, delivery);
  }

  override async shutdown(): Promise<void> {
    this.ctx?.agents.http.destroy();
    this.ctx?.agents.https.destroy();
  }
}

export const segmentExporterFactory: ExporterFactory<SegmentConfig> = {
  kind: 'exporter',
  type: 'segment',
  description: 'Sends events as track calls to Segment\'s HTTP Tracking API (/v1/batch) or a Segment-compatible data plane, de-duplicated by messageId',
  configSchema: segmentSchema,
  accepts: ['events'],
  mutatesData: false,
  create: (settings, config) => new SegmentExporter(settings, config),
};
