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
import http from 'node:http';
import type { Logger } from 'pino';
import type { ExporterFactory, Host, Payload } from '../../src/component.js';
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import { PermanentError } from '../../src/errors.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { ClientTls, ClientTlsAgent, warnIfInsecureIgnored } from '../../src/tls/client.js';
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
  const tls = ClientTls.load(cfg.tls, at, url.startsWith('https:') ? logger : undefined);
  if (logger) warnIfInsecureIgnored(cfg.tls, at, url, logger);
  return {
    url,
    agents: { http: new http.Agent({ keepAlive: true }), https: new ClientTlsAgent(tls) },
    envelope,
    envelopeBytes: Buffer.byteLength(envelope.head) + Buffer.byteLength(envelope.tail),
    maxEvents: cfg.max_events_per_request,
    maxRequestBytes: MAX_REQUEST_BYTES,
    maxEventBytes: MAX_EVENT_BYTES,
    map: compileMapping(cfg),
  };
}

class PosthogExporter extends BaseExporter {
  private ctx: SendContext | undefined;

  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: PosthogConfig,
  ) {
    super(settings, cfg);
  }

  override async start(_host: Host): Promise<void> {
    this.ctx = posthogSendContext(this.cfg, `exporters::${this.id}`, this.logger);
    this.logger.info({ url: this.ctx.url }, 'sending events to PostHog');
  }

  protected async send(p: Payload, delivery: DeliveryContext): Promise<void> {
    if (p.signal !== 'events') throw new PermanentError(`the posthog exporter takes events, not ${p.signal}`);
    if (!this.ctx) throw new Error(`exporter ${this.id} is not started`);
    await sendEvents(p.data, this.ctx, delivery);
  }

  override async shutdown(): Promise<void> {
    this.ctx?.agents.http.destroy();
    this.ctx?.agents.https.destroy();
  }
}

export const posthogExporterFactory: ExporterFactory<PosthogConfig> = {
  kind: 'exporter',
  type: 'posthog',
  description: 'Sends events to PostHog (capture API /batch/), each with a uuid derived from its insert_id; dead-letters what PostHog refuses',
  configSchema: posthogSchema,
  accepts: ['events'],
  mutatesData: false,
  create: (settings, config) => new PosthogExporter(settings, config),
};
