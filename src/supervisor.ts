/**
 * The supervisor of a gateway of several workers (`service::workers` N > 1): the process that was
 * started forks N workers with node:cluster and serves what must see all of them.
 *
 * - Each worker is a whole gateway (src/gateway.ts): receivers, processors, exporters, their
 *   sending queues (persistent ones in a directory of its own, src/delivery/persistent_queue.ts)
 *   and connections. The OTLP ports (HTTP and gRPC) are listened on by every worker; the cluster
 *   module holds one listening socket in the supervisor and hands each new connection to the next
 *   worker in turn (round-robin, Node's default on Linux). A connection stays with the worker that
 *   got it: HTTP keep-alive connections and gRPC's HTTP/2 connections carry all their requests to
 *   one worker, so a few clients spread over the workers only as their connections do.
 * - The status page (when the `status` extension is in `service::extensions`) is served by the
 *   supervisor on the configured endpoint, tls and auth; workers bind no status port. Each API
 *   asks every worker over IPC and merges the answers: rates, totals and queues summed per node,
 *   the tail of every worker as one stream (each item tagged with its `worker`, capped by
 *   `tail::max_events_per_second`), catalogues and violations merged; the playground runs in the
 *   supervisor. See src/extensions/status/workers.ts.
 * - The supervisor serves the health check (ready only when every worker is; 503 `starting` while
 *   any worker starts or restarts, `draining` from SIGTERM on) and the metrics endpoint, which asks
 *   each worker for its metrics over the cluster's IPC channel at every scrape and sums them; the
 *   series of {@link PER_WORKER_METRICS} keep a `worker` label instead (sum them for the gateway).
 *   Its own: `otelytics_workers`, `otelytics_workers_ready`, `otelytics_worker_restarts{worker}`.
 * - Counters (and histograms) do not go down when a worker is forked again: what a worker slot's
 *   previous worker had counted, as last read, is carried over to the next (src/carry_over.ts),
 *   the summed series and the `worker`-labelled ones alike; a worker that does not answer a scrape
 *   (dead, restarting) counts as last read. Gauges are the current workers' only. Counts a worker
 *   made after the last scrape and before it died are not counted.
 * - A worker that dies is forked again (same index, so it resumes its persistent queues) after a
 *   back-off of 250 ms doubling up to 30 s for repeated failures (reset once a worker has been
 *   ready for 30 s), logged and counted; the other workers keep serving meanwhile.
 * - SIGTERM or SIGINT: the health check turns 503, every worker gets SIGTERM and drains as a single
 *   gateway does; the supervisor exits 0 once all exited 0. A second signal more than 1 s after the
 *   first kills the workers and exits 1.
 * - A worker that fails to start before the gateway was ever ready (a port taken, a bad file)
 *   stops the whole gateway with exit 1 and its one line of error.
 */
import cluster, { type Worker } from 'node:cluster';
import client from 'prom-client';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/resolve.js';
import { parseEndpoint } from './config/schema.js';
import { errorMessage, listenError, SettingError } from './errors.js';
import { createHealthCheck, type HealthCheckConfig, type HealthState } from './extensions/health_check.js';
import { serveMergedStatus, type StatusConfig } from './extensions/status/index.js';
import { ASK_TIMEOUT_MILLIS, type StatusFromWorker, type StatusRequest, type StatusToWorker } from './extensions/status/workers.js';
import { MetricsCarryOver } from './carry_over.js';
import { Telemetry } from './telemetry.js';
import { ServerTlsSource } from './tls/server.js';
import { WORKER_COUNT_ENV, WORKER_INDEX_ENV, workerExecArgv } from './workers.js';

/** Messages between the supervisor and its workers carry this key. */
export const MESSAGE_KEY = 'otelytics';

export type WorkerMessage =
  | { otelytics: 'state'; state: 'ready' | 'draining' }
  | { otelytics: 'failed'; message: string }
  | { otelytics: 'metrics'; id: number; metrics: client.MetricObjectWithValues<client.MetricValue<string>>[] }
  | StatusFromWorker;

export type SupervisorMessage = { otelytics: 'metrics'; id: number } | StatusToWorker;

/**
 * Metrics whose series keep a `worker` label in the supervisor's endpoint instead of being summed:
 * what each worker receives (how the load spreads), its queue, and its process.
 */
export const PER_WORKER_METRICS = /^(otelcol_receiver_(accepted|refused)_|otelcol_exporter_queue_size$|otelcol_process_)/;

/** Back-off before a worker that died is forked again: 250 ms, doubling per failure in a row, at most 30 s. */
export function restartDelayMillis(failuresInARow: number): number {
  return Math.min(30_000, 250 * 2 ** Math.max(0, failuresInARow - 1));
}

/** A worker that stayed ready this long has its failure count reset. */
const STABLE_MILLIS = 30_000;
/** A second signal within this many ms of the first is the same stop request. */
const REPEATED_SIGNAL_MS = 1000;

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** How many times the slot's worker was forked: numbers the answers of each of its workers. */
  incarnation: number;
  state: 'starting' | 'ready' | 'draining' | 'down';
  failuresInARow: number;
  readySince: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/** Sums workers' metrics (`getMetricsAsJSON` of each), keeping a `worker` label on {@link PER_WORKER_METRICS}. */
export function aggregateWorkerMetrics(byWorker: { index: number; metrics: client.MetricObjectWithValues<client.MetricValue<string>>[] }[]): client.Registry {
  const labelled = byWorker.map(({ index, metrics }) =>
    metrics.map((m) => (PER_WORKER_METRICS.test(m.name) ? { ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker: String(index) } })) } : m)),
  );
  return client.AggregatorRegistry.aggregate(labelled as Parameters<typeof client.AggregatorRegistry.aggregate>[0]);
}

export class Supervisor {
  private readonly slots: Slot[];
  private readonly own = new client.Registry();
  private readonly restarts: client.Counter<'worker'>;
  private readonly carried = new MetricsCarryOver();
  private health: ReturnType<typeof createHealthCheck> | undefined;
  private metricsServer: { port: number; close(): Promise<void> } | undefined;
  private status: Awaited<ReturnType<typeof serveMergedStatus>> | undefined;
  private stopping = false;
  private everReady = false;
  private nextRequest = 1;
  private readonly pending = new Map<number, { index: number; resolve: (answer: unknown) => void }>();
  private onAllExited: (() => void) | undefined;
  private failure: ((message: string) => void) | undefined;
  private exitCodes: (number | null)[] = [];

  constructor(
    readonly config: GatewayConfig,
    readonly count: number,
    private readonly logger: Logger,
  ) {
    this.slots = Array.from({ length: count }, (_, index) => ({ index, worker: undefined, incarnation: 0, state: 'down', failuresInARow: 0, readySince: 0, restartTimer: undefined }));
    new client.Gauge({ name: 'otelytics_workers', help: 'Worker processes the gateway runs (service::workers).', registers: [this.own] }).set(count);
    const slots = this.slots;
    new client.Gauge({
      name: 'otelytics_workers_ready',
      help: 'Worker processes ready to take data.',
      registers: [this.own],
      collect() {
        this.set(slots.filter((s) => s.state === 'ready').length);
      },
    });
    this.restarts = new client.Counter({ name: 'otelytics_worker_restarts', help: 'Workers forked again after they died, by worker index.', labelNames: ['worker'], registers: [this.own] });
  }

  /** Serves health and metrics, forks the workers and resolves once all are ready; throws (one line) when one fails to start. */
  async start(): Promise<void> {
    const cfg = this.config;
    const healthId = cfg.service.extensions.find((id) => cfg.extensions.get(id)?.factory.type === 'health_check');
    if (healthId) {
      const hc = createHealthCheck({ id: healthId, logger: this.logger.child({ component: healthId }), telemetry: new Telemetry() }, cfg.extensions.get(healthId)!.config as HealthCheckConfig);
      try {
        await hc.start({ getExporter: () => undefined });
      } catch (err) {
        if (err instanceof SettingError) throw new Error(`extensions::${healthId}::${err.key}: ${err.detail}`, { cause: err });
        throw new Error(`failed to start extension "${healthId}": ${errorMessage(err)}`, { cause: err });
      }
      this.health = hc;
    }
    const metrics = cfg.service.telemetry.metrics;
    if (metrics.level !== 'none') {
      const ep = parseEndpoint(metrics.address)!;
      let tls: ServerTlsSource | undefined;
      try {
        tls = metrics.tls ? new ServerTlsSource(metrics.tls, 'tls', this.logger) : undefined;
      } catch (err) {
        await this.closeServers();
        throw new Error(`service::telemetry::metrics::${errorMessage(err)}`, { cause: err });
      }
      try {
        this.metricsServer = await new Telemetry().serve(ep.host, ep.port, {
          ...(tls ? { tls } : {}),
          ...(metrics.auth ? { bearerToken: metrics.auth.bearer_token } : {}),
          exposition: () => this.exposition(),
        });
      } catch (err) {
        tls?.stop();
        await this.closeServers();
        throw new Error(listenError('service::telemetry::metrics::address', metrics.address, err).message);
      }
    }
    const statusId = cfg.service.extensions.find((id) => cfg.extensions.get(id)?.factory.type === 'status');
    if (statusId) {
      const link = {
        answering: () => this.slots.filter((s) => s.state === 'ready' || s.state === 'draining').map((s) => s.index),
        incarnation: (index: number) => this.slots[index]!.incarnation,
        ask: (index: number, request: StatusRequest) => this.request(this.slots[index]!, (id) => ({ otelytics: 'status', id, request })),
        send: (index: number, m: StatusToWorker) => this.send(this.slots[index]!, m),
      };
      const ready = () => !this.stopping && this.slots.every((s) => s.state === 'ready');
      try {
        this.status = await serveMergedStatus(this.logger.child({ component: statusId }), cfg, cfg.extensions.get(statusId)!.config as StatusConfig, link, ready);
      } catch (err) {
        await this.closeServers();
        if (err instanceof SettingError) throw new Error(`extensions::${statusId}::${err.key}: ${err.detail}`, { cause: err });
        throw new Error(`failed to start extension "${statusId}": ${errorMessage(err)}`, { cause: err });
      }
    }
    cluster.on('message', (worker, m: WorkerMessage) => this.message(worker, m));
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
    const ready = new Promise<void>((resolve, reject) => {
      this.failure = (message) => reject(new Error(message));
      this.onReady = resolve;
    });
    cluster.setupPrimary({ execArgv: workerExecArgv() });
    for (const slot of this.slots) this.fork(slot);
    try {
      await ready;
    } catch (err) {
      await this.stopWorkers();
      await this.closeServers();
      throw err;
    }
    this.failure = undefined;
    this.logger.info({ workers: this.count, pids: this.slots.map((s) => s.worker?.process.pid), metrics: this.metricsServer ? `${parseEndpoint(metrics.address)!.host}:${this.metricsServer.port}` : 'off' }, 'otelytics is ready');
  }

  private onReady: (() => void) | undefined;

  private fork(slot: Slot): void {
    slot.restartTimer = undefined;
    slot.state = 'starting';
    slot.incarnation++;
    this.updateHealth();
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(slot.index), [WORKER_COUNT_ENV]: String(this.count) });
    // E.g. a message the cluster module writes to a worker that just died: logged, and the
    // worker's exit is handled when it comes.
    worker.on('error', (err: Error) => this.logger.warn({ worker: slot.index, err: errorMessage(err) }, 'worker process error'));
    slot.worker = worker;
    this.logger.debug({ worker: slot.index, pid: worker.process.pid }, 'worker forked');
  }

  private slotOf(worker: Worker): Slot | undefined {
    return this.slots.find((s) => s.worker === worker);
  }

  private message(worker: Worker, m: WorkerMessage): void {
    if (!m || typeof m !== 'object' || !(MESSAGE_KEY in m)) return;
    const slot = this.slotOf(worker);
    if (!slot) return;
    switch (m.otelytics) {
      case 'state':
        slot.state = m.state;
        if (m.state === 'ready') {
          slot.readySince = Date.now();
          if (this.everReady) this.logger.info({ worker: slot.index, pid: worker.process.pid }, 'worker ready again');
          this.status?.workerReady(slot.index);
        }
        this.updateHealth();
        break;
      case 'failed':
        // Before the gateway was ever ready: the whole start fails with the worker's reason.
        if (!this.everReady && this.failure) this.failure(m.message);
        else this.logger.error({ worker: slot.index, err: m.message }, 'worker failed to start');
        break;
      case 'metrics':
      case 'status': {
        const p = this.pending.get(m.id);
        if (p) {
          this.pending.delete(m.id);
          p.resolve(m.otelytics === 'metrics' ? m.metrics : m.answer);
        }
        break;
      }
      case 'tail':
        this.status?.fromWorker(slot.index, m);
        break;
    }
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.worker = undefined;
    const wasReady = slot.state === 'ready' || slot.state === 'draining';
    slot.state = 'down';
    for (const [id, p] of this.pending) if (p.index === slot.index) (this.pending.delete(id), p.resolve(undefined));
    if (this.stopping) {
      this.exitCodes.push(code);
      if (code !== 0) this.logger.warn({ worker: slot.index, code, signal }, 'worker exited with an error while draining');
      if (this.slots.every((s) => s.worker === undefined)) this.onAllExited?.();
      return;
    }
    if (!this.everReady) {
      this.failure?.(`worker ${slot.index} exited while starting (code ${code}${signal ? `, signal ${signal}` : ''})`);
      return;
    }
    if (wasReady && Date.now() - slot.readySince >= STABLE_MILLIS) slot.failuresInARow = 0;
    slot.failuresInARow++;
    const delay = restartDelayMillis(slot.failuresInARow);
    this.restarts.inc({ worker: String(slot.index) });
    this.logger.error({ worker: slot.index, pid: worker.process.pid, code, signal, restart_in_ms: delay }, 'worker died; forking it again');
    this.updateHealth();
    slot.restartTimer = setTimeout(() => this.fork(slot), delay);
  }

  private updateHealth(): void {
    const all = this.slots.every((s) => s.state === 'ready');
    if (all && !this.everReady && !this.stopping) {
      this.everReady = true;
      this.onReady?.();
    }
    const state: HealthState = this.stopping ? 'draining' : all && this.everReady ? 'ready' : 'starting';
    this.health?.setState(state);
  }

  /**
   * Sends `m` to a worker if it is there; `failed` is called when the message could not be written
   * (a worker that just died: its exit is handled as it comes, the failure is not an error event).
   */
  private send(slot: Slot, m: SupervisorMessage, failed?: () => void): boolean {
    const worker = slot.worker;
    if (!worker || !worker.isConnected()) return false;
    try {
      worker.send(m, (err) => {
        if (err) failed?.();
      });
      return true;
    } catch {
      return false;
    }
  }

  /** A worker's answer to the request `message(id)`, or undefined when it does not answer in time. */
  private request(slot: Slot, message: (id: number) => SupervisorMessage): Promise<unknown> {
    const worker = slot.worker;
    if (!worker || !worker.isConnected()) return Promise.resolve(undefined);
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, ASK_TIMEOUT_MILLIS);
      this.pending.set(id, {
        index: slot.index,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
      const unanswered = () => {
        this.pending.get(id)?.resolve(undefined);
        this.pending.delete(id);
      };
      if (!this.send(slot, message(id), unanswered)) unanswered();
    });
  }

  /** One worker's metrics, or undefined when it does not answer in time. */
  private ask(slot: Slot): Promise<client.MetricObjectWithValues<client.MetricValue<string>>[] | undefined> {
    return this.request(slot, (id) => ({ otelytics: 'metrics', id })) as Promise<client.MetricObjectWithValues<client.MetricValue<string>>[] | undefined>;
  }

  /**
   * The Prometheus text of all workers' metrics plus the supervisor's own; counters carried over
   * from a slot's previous workers, and as last read for a worker that does not answer.
   */
  private async exposition(): Promise<string> {
    const replies = await Promise.all(
      this.slots.map(async (s) => {
        // The incarnation asked: read as the request is sent, before the answer comes.
        const incarnation = s.incarnation;
        return { index: s.index, metrics: this.carried.metrics(s.index, incarnation, await this.ask(s)) };
      }),
    );
    const merged = client.Registry.merge([aggregateWorkerMetrics(replies.filter((r) => r.metrics.length > 0)), this.own]);
    return merged.metrics();
  }

  /** Drains every worker (SIGTERM each) and resolves with true when all exited 0. */
  async shutdown(): Promise<boolean> {
    this.stopping = true;
    this.updateHealth();
    await this.stopWorkers();
    await this.closeServers();
    return this.exitCodes.every((c) => c === 0);
  }

  private async stopWorkers(): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
    }
    const live = this.slots.filter((s) => s.worker !== undefined);
    if (live.length === 0) return;
    const allExited = new Promise<void>((resolve) => (this.onAllExited = resolve));
    for (const s of live) s.worker!.process.kill('SIGTERM');
    await allExited;
  }

  /** Kills every worker at once (a second stop request). */
  killWorkers(): void {
    for (const s of this.slots) s.worker?.process.kill('SIGKILL');
  }

  private async closeServers(): Promise<void> {
    await this.status?.close().catch(() => undefined);
    this.status = undefined;
    await this.health?.shutdown().catch(() => undefined);
    this.health = undefined;
    await this.metricsServer?.close();
    this.metricsServer = undefined;
  }
}

/** Runs the supervisor until SIGTERM/SIGINT; the process's exit code says how it ended. */
export async function runSupervisor(config: GatewayConfig, count: number, logger: Logger): Promise<void> {
  const supervisor = new Supervisor(config, count, logger);
  try {
    await supervisor.start();
  } catch (err) {
    logger.flush();
    process.stderr.write(`otelytics: ${errorMessage(err)}\n`);
    process.exitCode = 1;
    return;
  }
  let firstSignalAt = 0;
  const stop = (signal: string) => {
    if (firstSignalAt > 0) {
      if (Date.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
      logger.warn(`second ${signal}: exiting without draining`);
      supervisor.killWorkers();
      logger.flush();
      process.exit(1);
    }
    firstSignalAt = Date.now();
    logger.info({ workers: count, signal }, 'shutting down: no new data taken, draining what was accepted');
    supervisor.shutdown().then(
      (clean) => {
        logger.info(clean ? 'stopped' : 'stopped; a worker did not drain cleanly');
        logger.flush();
        process.exit(clean ? 0 : 1);
      },
      (err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
