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
 * Routes and protection: ./server.ts. Options: ./config.ts and README.md. With several workers
 * (`service::workers` > 1) the supervisor serves the page from what every worker has: ./workers.ts.
 */
import fs from 'node:fs';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { ExtensionFactory, Host } from '../../component.js';
import type { GatewayConfig } from '../../config/resolve.js';
import { itemCount } from '../../component.js';
import { parseEndpoint } from '../../config/schema.js';
import { errorMessage, listenError } from '../../errors.js';
import { ServerTlsSource } from '../../tls/server.js';
import { statusSchema, type StatusConfig } from './config.js';
import { buildGraph } from './graph.js';
import { PlaygroundRunner } from './runner.js';
import { buildStatusServer, type StatusServerDeps } from './server.js';
import { GraphStats } from './stats.js';
import { EventTail } from './tail.js';
import { answerSupervisor, MergedStatus, runsProcessor, type StatusFromWorker, type WorkerLink } from './workers.js';
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

/** A status page listening: {@link serveStatus}. */
export interface ServedStatus {
  /** Ends the tail streams and closes the server. */
  close(): Promise<void>;
}

/**
 * Serves the status page on `cfg.endpoint` (with its tls and auth) from `deps`: the single
 * gateway's extension and the supervisor of several workers both serve it this way.
 * @throws SettingError naming the option (`tls::cert_file`, `endpoint`) when it cannot.
 */
export async function serveStatus(logger: Logger, cfg: StatusConfig, deps: Omit<StatusServerDeps, 'cfg' | 'assetsDir' | 'version' | 'tls'>): Promise<ServedStatus> {
  // Reads and checks the certificate files: a SettingError names the option (`tls::cert_file`).
  const tls = cfg.tls ? new ServerTlsSource(cfg.tls, 'tls', logger) : undefined;
  const server = buildStatusServer({ ...deps, cfg, assetsDir: ASSETS_DIR, version: packageVersion(), ...(tls ? { tls } : {}) });
  const ep = parseEndpoint(cfg.endpoint)!;
  try {
    await server.app.listen({ host: ep.host, port: ep.port });
  } catch (err) {
    tls?.stop();
    throw listenError('endpoint', cfg.endpoint, err);
  }
  const address = server.app.server.address() as net.AddressInfo;
  if (!fs.existsSync(ASSETS_DIR)) logger.warn({ directory: ASSETS_DIR }, 'status page assets are missing (run npm run build); the API still works');
  logger.info({ url: `${tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/` }, 'status page listening');
  return {
    async close() {
      server.closeStreams();
      await server.app.close();
      tls?.stop();
    },
  };
}

/**
 * The status page of a gateway of several workers, served by the supervisor: `link` reaches the
 * workers (./workers.ts). Call `fromWorker` with their tail messages and `workerReady` when one
 * becomes ready.
 */
export async function serveMergedStatus(
  logger: Logger,
  config: GatewayConfig,
  cfg: StatusConfig,
  link: WorkerLink,
  ready: () => boolean,
): Promise<{ fromWorker(worker: number, m: StatusFromWorker): void; workerReady(worker: number): void; close(): Promise<void> }> {
  const graph = buildGraph(config);
  const merged = new MergedStatus(graph, cfg, link);
  const runner = cfg.playground.enabled ? new PlaygroundRunner(cfg.playground.timeout) : undefined;
  let served: ServedStatus;
  try {
    served = await serveStatus(logger, cfg, {
      config,
      graph,
      stats: { snapshot: () => merged.stats() },
      tail: merged.tail,
      runner,
      ...(runsProcessor(config, 'catalogue') ? { catalogues: () => merged.catalogues() } : {}),
      ...(runsProcessor(config, 'tracking_plan') ? { violations: (limit: number) => merged.violations(limit) } : {}),
      ready,
    });
  } catch (err) {
    await runner?.close();
    throw err;
  }
  return {
    fromWorker(worker, m) {
      if (m.otelytics === 'tail') merged.tail.take(worker, m);
    },
    workerReady(worker) {
      merged.tail.workerReady(worker);
    },
    async close() {
      merged.tail.close();
      await served.close();
      await runner?.close();
    },
  };
}

export const statusFactory: ExtensionFactory<StatusConfig> = {
  kind: 'extension',
  type: 'status',
  description: 'Status page: live pipeline graph with rates, event tail and rule playground (default 127.0.0.1:55679)',
  configSchema: statusSchema,
  create(settings, cfg) {
    let ready = false;
    let served: ServedStatus | undefined;
    let tail: EventTail | undefined;
    let runner: PlaygroundRunner | undefined;
    let unobserve: (() => void) | undefined;
    let detach: (() => void) | undefined;
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
        const telemetry = host.telemetry;
        const catalogues = () => ({
          catalogues: [...cataloguesOf(telemetry).values()].map((c) => ({ id: c.id, pipelines: [...c.pipelines], catalogue: c.recorder.snapshot() })),
        });
        const log = runsProcessor(config, 'tracking_plan') ? violationLog(telemetry) : undefined;
        const violations = log ? (limit: number) => ({ items: log.recent(limit), totals: log.totals }) : undefined;
        if (host.worker) {
          // One of several workers: the supervisor serves the page and asks each worker for its part.
          detach = answerSupervisor({ stats, tail, catalogues, ...(violations ? { violations } : {}) });
          return;
        }
        runner = cfg.playground.enabled ? new PlaygroundRunner(cfg.playground.timeout) : undefined;
        served = await serveStatus(settings.logger, cfg, { config, graph, stats, tail, runner, ...(runsProcessor(config, 'catalogue') ? { catalogues } : {}), ...(violations ? { violations } : {}), ready: () => ready });
      },
      onReadyChange(r: boolean) {
        ready = r;
      },
      async shutdown() {
        detach?.();
        unobserve?.();
        tail?.close();
        await served?.close();
        await runner?.close();
      },
    };
  },
};
