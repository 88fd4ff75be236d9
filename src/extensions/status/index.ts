/**
 * The `status` extension: a live status page served by the gateway itself, on `endpoint` (default
 * 127.0.0.1:55679, the collector's zpages port):
 * - the pipeline graph as a picture, each node with its live rates (items/s in and out, refused,
 *   dropped, dead-lettered), exporters with their queue and last error;
 * - a live tail of each events pipeline as its exporters get the events (after `privacy`),
 *   filterable by event name; also read by `otelytics tail`;
 * - the latest events that broke a tracking plan (`tracking_plan` processors), with their violations;
 * - a rule playground: an OTLP/JSON span or log record, an analytics rule and a privacy setting in
 *   YAML, and the events they make, with what privacy removed; nothing is applied to the gateway;
 * - the event catalogue of each `catalogue` processor (event names, sources, property types).
 * Routes and protection: ./server.ts. Options: ./config.ts and README.md.
 */
import fs from 'node:fs';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ExtensionFactory, Host } from '../../component.js';
import { itemCount } from '../../component.js';
import { parseEndpoint } from '../../config/schema.js';
import { errorMessage, listenError } from '../../errors.js';
import { ServerTlsSource } from '../../tls/server.js';
import { statusSchema, type StatusConfig } from './config.js';
import { buildGraph } from './graph.js';
import { PlaygroundRunner } from './runner.js';
import { buildStatusServer } from './server.js';
import { GraphStats } from './stats.js';
import { EventTail } from './tail.js';
import { cataloguesOf } from '../../../processors/catalogue/index.js';
import { violationLog } from '../../../processors/tracking_plan/recent.js';

export { DEFAULT_STATUS_ENDPOINT, statusSchema, type StatusConfig } from './config.js';

/** Where the built page lives: `assets/` beside the compiled extension. */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

function packageVersion(): string {
  for (const rel of ['../../../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version: string }).version;
    } catch {
      /* try the next */
    }
  }
  return 'unknown';
}

export const statusFactory: ExtensionFactory<StatusConfig> = {
  kind: 'extension',
  type: 'status',
  description: 'Status page: live pipeline graph with rates, event tail and rule playground (default 127.0.0.1:55679)',
  configSchema: statusSchema,
  create(settings, cfg) {
    let ready = false;
    let server: ReturnType<typeof buildStatusServer> | undefined;
    let tail: EventTail | undefined;
    let runner: PlaygroundRunner | undefined;
    let unobserve: (() => void) | undefined;
    let tls: ServerTlsSource | undefined;
    return {
      async start(host: Host) {
        if (!host.config || !host.telemetry || !host.observe) throw new Error('the status extension needs the gateway host (config, telemetry and observe)');
        const config = host.config;
        const graph = buildGraph(config);
        const stats = new GraphStats(host.telemetry.registry, graph.nodes);
        unobserve = host.observe({
          exported(pipeline, p) {
            stats.exported(pipeline, itemCount(p));
          },
          exportFailed(pipeline, exporter, err) {
            stats.exportFailed(pipeline, exporter, errorMessage(err));
          },
        });
        const events = new Map(graph.lanes.filter((l) => l.signal === 'events').map((l) => [l.pipeline, { privacy: l.privacy }]));
        tail = new EventTail({
          bufferSize: cfg.tail.buffer_size,
          maxEventsPerSecond: cfg.tail.max_events_per_second,
          pipelines: events,
          showValuesWithoutPrivacy: cfg.tail.show_values_without_privacy,
          observe: (o) => host.observe!(o),
        });
        // Reads and checks the certificate files: a SettingError names the option (`tls::cert_file`).
        tls = cfg.tls ? new ServerTlsSource(cfg.tls, 'tls', settings.logger) : undefined;
        runner = cfg.playground.enabled ? new PlaygroundRunner(cfg.playground.timeout) : undefined;
        const telemetry = host.telemetry;
        const catalogues = () => ({
          catalogues: [...cataloguesOf(telemetry).values()].map((c) => ({ id: c.id, pipelines: [...c.pipelines], catalogue: c.recorder.snapshot() })),
        });
        const planned = config.pipelines.some((p) => p.processors.some((id) => config.processors.get(id)?.factory.type === 'tracking_plan'));
        const violations = planned ? violationLog(telemetry) : undefined;
        server = buildStatusServer({ cfg, config, graph, stats, tail, runner, catalogues, ...(violations ? { violations } : {}), assetsDir: ASSETS_DIR, ready: () => ready, version: packageVersion(), ...(tls ? { tls } : {}) });
        const ep = parseEndpoint(cfg.endpoint)!;
        try {
          await server.app.listen({ host: ep.host, port: ep.port });
        } catch (err) {
          tls?.stop();
          throw listenError('endpoint', cfg.endpoint, err);
        }
        const address = server.app.server.address() as net.AddressInfo;
        if (!fs.existsSync(ASSETS_DIR)) settings.logger.warn({ directory: ASSETS_DIR }, 'status page assets are missing (run npm run build); the API still works');
        settings.logger.info({ url: `${tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/` }, 'status page listening');
      },
      onReadyChange(r: boolean) {
        ready = r;
      },
      async shutdown() {
        unobserve?.();
        tail?.close();
        server?.closeStreams();
        await server?.app.close();
        await runner?.close();
        tls?.stop();
      },
    };
  },
};
