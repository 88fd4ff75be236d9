/**
 * The exporter around an HTTP upload destination (`amplitude`, `segment`, `mixpanel`, `posthog`):
 * its send context made at start, when the `tls` files are read (kept-alive connection pools, the
 * https one with the `tls` settings), events sent with the destination's `sendEvents`, the pools
 * closed at shutdown; queueing, retries and the dead-letter route are the exporter helper's.
 */
import http from 'node:http';
import type { Logger } from 'pino';
import type { ExporterFactory, Host, Payload } from './component.js';
import type { SendContext as DeliveryContext } from './delivery/sender.js';
import { PermanentError } from './errors.js';
import type { AnalyticsEvent } from './event.js';
import { BaseExporter } from './exporterhelper.js';
import type { ExporterHelperConfig } from './exporterhelper_config.js';
import type { UploadAgents } from './http_upload.js';
import { ClientTls, ClientTlsAgent, warnIfInsecureIgnored, type ClientTlsConfig } from './tls/client.js';

/**
 * The connection pools of the requests to `url`: http kept alive, https with the `tls` settings,
 * whose files are read here. With `logger`, warns about `tls::insecure_skip_verify` (for an https
 * URL) and an ignored `tls::insecure`.
 *
 * @param at the exporter's path in the config (`exporters::segment/eu`), for the errors of the `tls` files.
 * @throws Error `<at>::tls::<option>: ...` when a `tls` file cannot be read or used.
 */
export function uploadAgents(tls: ClientTlsConfig, at: string, url: string, logger?: Logger): UploadAgents {
  const loaded = ClientTls.load(tls, at, url.startsWith('https:') ? logger : undefined);
  if (logger) warnIfInsecureIgnored(tls, at, url, logger);
  return { http: new http.Agent({ keepAlive: true }), https: new ClientTlsAgent(loaded) };
}

/** An upload destination: its factory's fields, its send context and how a batch is sent. */
export interface UploadDestination<C extends ExporterHelperConfig, Ctx extends { url: string; agents: UploadAgents }> {
  type: string;
  /** The destination as the start line names it (`sending events to Segment`). */
  name: string;
  description: string;
  configSchema: ExporterFactory<C>['configSchema'];
  sendContext(cfg: C, at: string, logger: Logger): Ctx;
  sendEvents(events: readonly AnalyticsEvent[], ctx: Ctx, delivery: DeliveryContext): Promise<void>;
}

class UploadExporter<C extends ExporterHelperConfig, Ctx extends { url: string; agents: UploadAgents }> extends BaseExporter {
  /** Made at start, when the `tls` files are read. */
  private ctx: Ctx | undefined;

  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: C,
    private readonly destination: UploadDestination<C, Ctx>,
  ) {
    super(settings, cfg);
  }

  override async start(_host: Host): Promise<void> {
    this.ctx = this.destination.sendContext(this.cfg, `exporters::${this.id}`, this.logger);
    this.logger.info({ url: this.ctx.url }, `sending events to ${this.destination.name}`);
  }

  protected async send(p: Payload, delivery: DeliveryContext): Promise<void> {
    if (p.signal !== 'events') throw new PermanentError(`the ${this.destination.type} exporter takes events, not ${p.signal}`);
    if (!this.ctx) throw new Error(`exporter ${this.id} is not started`);
    await this.destination.sendEvents(p.data, this.ctx, delivery);
  }

  override async shutdown(): Promise<void> {
    this.ctx?.agents.http.destroy();
    this.ctx?.agents.https.destroy();
  }
}

/** The factory of an upload destination's exporter: it takes events and leaves them unchanged. */
export function uploadExporterFactory<C extends ExporterHelperConfig, Ctx extends { url: string; agents: UploadAgents }>(destination: UploadDestination<C, Ctx>): ExporterFactory<C> {
  return {
    kind: 'exporter',
    type: destination.type,
    description: destination.description,
    configSchema: destination.configSchema,
    accepts: ['events'],
    mutatesData: false,
    create: (settings, config) => new UploadExporter(settings, config, destination),
  };
}
