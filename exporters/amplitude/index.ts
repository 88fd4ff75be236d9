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
import http from 'node:http';
import type { Logger } from 'pino';
import type { ExporterFactory, Host, Payload } from '../../src/component.js';
import type { SendContext as DeliveryContext } from '../../src/delivery/sender.js';
import { PermanentError } from '../../src/errors.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { ClientTls, ClientTlsAgent, warnIfInsecureIgnored } from '../../src/tls/client.js';
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
  const tls = ClientTls.load(cfg.tls, at, url.startsWith('https:') ? logger : undefined);
  if (logger) warnIfInsecureIgnored(cfg.tls, at, url, logger);
  return {
    url,
    agents: { http: new http.Agent({ keepAlive: true }), https: new ClientTlsAgent(tls) },
    gzip: cfg.compression === 'gzip',
    envelope,
    envelopeBytes: Buffer.byteLength(envelope.head) + Buffer.byteLength(envelope.tail),
    maxEvents: cfg.max_events_per_request,
    maxBytes: MAX_REQUEST_BYTES[cfg.api],
    throttleBackoffMillis: cfg.throttle_backoff,
    map: compileMapping(cfg),
  };
}

class AmplitudeExporter extends BaseExporter {
  /** Made at start, when the `tls` files are read. */
  private ctx: SendContext | undefined;

  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: AmplitudeConfig,
  ) {
    super(settings, cfg);
  }

  override async start(_host: Host): Promise<void> {
    this.ctx = amplitudeSendContext(this.cfg, `exporters::${this.id}`, this.logger);
    this.logger.info({ url: this.ctx.url }, 'sending events to Amplitude');
  }

  protected async send(p: Payload, delivery: DeliveryContext): Promise<void> {
    if (p.signal !== 'events') throw new PermanentError(`the amplitude exporter takes events, not ${p.signal}`);
    if (!this.ctx) throw new Error(`exporter ${this.id} is not started`);
    await sendEvents(p.data, this.ctx, delivery);
  }

  override async shutdown(): Promise<void> {
    this.ctx?.agents.http.destroy();
    this.ctx?.agents.https.destroy();
  }
}

export const amplitudeExporterFactory: ExporterFactory<AmplitudeConfig> = {
  kind: 'exporter',
  type: 'amplitude',
  description: 'Sends events to Amplitude (HTTP V2 or Batch Event Upload API), dead-lettering what Amplitude refuses',
  configSchema: amplitudeSchema,
  accepts: ['events'],
  mutatesData: false,
  create: (settings, config) => new AmplitudeExporter(settings, config),
};
