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
import http from 'node:http';
import type { Logger } from 'pino';
import type { ExporterFactory, Host, Payload } from '../../src/component.js';
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import { PermanentError } from '../../src/errors.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { ClientTls, ClientTlsAgent, warnIfInsecureIgnored } from '../../src/tls/client.js';
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
  const tls = ClientTls.load(cfg.tls, at, url.startsWith('https:') ? logger : undefined);
  if (logger) warnIfInsecureIgnored(cfg.tls, at, url, logger);
  return {
    url,
    authorization: authorization(cfg),
    agents: { http: new http.Agent({ keepAlive: true }), https: new ClientTlsAgent(tls) },
    gzip: cfg.compression === 'gzip',
    maxEvents: cfg.max_events_per_request,
    maxBytes: MAX_REQUEST_BYTES,
    maxEventBytes: MAX_EVENT_BYTES,
    map: compileMapping(cfg),
  };
}

class MixpanelExporter extends BaseExporter {
  /** Made at start, when the `tls` files are read. */
  private ctx: SendContext | undefined;

  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: MixpanelConfig,
  ) {
    super(settings, cfg);
  }

  override async start(_host: Host): Promise<void> {
    this.ctx = mixpanelSendContext(this.cfg, `exporters::${this.id}`, this.logger);
    this.logger.info({ url: this.ctx.url }, 'sending events to Mixpanel');
  }

  protected async send(p: Payload, delivery: DeliveryContext): Promise<void> {
    if (p.signal !== 'events') throw new PermanentError(`the mixpanel exporter takes events, not ${p.signal}`);
    if (!this.ctx) throw new Error(`exporter ${this.id} is not started`);
    await sendEvents(p.data, this.ctx, delivery);
  }

  override async shutdown(): Promise<void> {
    this.ctx?.agents.http.destroy();
    this.ctx?.agents.https.destroy();
  }
}

export const mixpanelExporterFactory: ExporterFactory<MixpanelConfig> = {
  kind: 'exporter',
  type: 'mixpanel',
  description: 'Sends events to Mixpanel (Import Events API, strict mode), de-duplicated by $insert_id, dead-lettering what Mixpanel refuses',
  configSchema: mixpanelSchema,
  accepts: ['events'],
  mutatesData: false,
  create: (settings, config) => new MixpanelExporter(settings, config),
};
