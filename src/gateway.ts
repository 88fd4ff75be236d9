/**
 * The pipeline graph: builds components from a validated config, wires receivers → processors →
 * exporters and connectors with fan-out, starts them in dependency order and shuts them down in
 * reverse.
 *
 * As in the collector's `service/internal/graph`: one exporter instance per id (shared by every
 * pipeline that lists it), one processor instance per pipeline, one receiver instance per id
 * feeding every pipeline that lists it, one connector instance per id joining the pipelines that
 * export to it with those it feeds. Pipelines are built downstream first (a pipeline's connectors
 * need the pipelines they feed; cycles are refused when the config is loaded), so the graph is
 * built in topological order. A fan-out hands read-only consumers the same data and mutating
 * consumers their own copy (the last mutating one takes the original when no read-only consumer
 * shares it); a connector counts as mutating when any pipeline it feeds starts with a mutating
 * stage. Start: extensions, exporters, connectors (downstream first), processors (downstream
 * first, last to first), receivers; shutdown in the reverse order, so receivers stop taking data
 * before processors and connectors hand on what they have and exporters drain.
 *
 * The engine knows components only through the factories in the config (src/component.ts); which
 * types exist is the registry's business (src/registry.ts, src/components.ts).
 */
import type { Logger } from 'pino';
import type { Connector, ConnectorRouter, Consumer, Exporter, Extension, Host, Payload, PipelineObserver, Processor, Receiver, ReceiverConsumers, Signal } from './component.js';
import { itemCount } from './component.js';
import { fanOut, tracesStayEncoded, type Target } from './fan_out.js';
import type { GatewayConfig } from './config/resolve.js';
import { errorMessage, listenError, SettingError } from './errors.js';
import { ReceiptClock, Telemetry } from './telemetry.js';
import { parseEndpoint } from './config/schema.js';
import { ServerTlsSource } from './tls/server.js';
import { inSpan, payloadLinks, selfTracingEnabled, SpanKind } from './selftrace.js';
import { workerIdentity, type WorkerIdentity } from './workers.js';

/**
 * Extensions a worker of a multi-process gateway leaves to others (src/supervisor.ts): the
 * supervisor answers health checks for all workers. (The status extension runs in every worker
 * without a server of its own: the supervisor serves the page and asks each worker.)
 */
function servedByWorker(type: string, worker: WorkerIdentity | undefined): boolean {
  if (!worker) return true;
  if (type === 'health_check') return false;
  return true;
}

type Carrier = ReturnType<ReceiptClock['carrier']>;

/** The `dead_letter` exporter id an exporter's config names, if any. */
function deadLetterOf(config: unknown): string | undefined {
  const dl = (config as { dead_letter?: unknown } | undefined)?.dead_letter;
  return typeof dl === 'string' ? dl : undefined;
}

export class Gateway implements Host {
  readonly telemetry = new Telemetry();
  private readonly exporters = new Map<string, Exporter>();
  /** Processor instances, upstream pipelines first, each pipeline's first to last. */
  private processors: { id: string; pipeline: string; processor: Processor }[] = [];
  private readonly receivers = new Map<string, Receiver>();
  /** Connector instances, downstream first (the order they were made in). */
  private readonly connectors = new Map<string, { connector: Connector; target: Target & { encoded: boolean } }>();
  private readonly extensions = new Map<string, Extension>();
  private metricsServer: { port: number; close(): Promise<void> } | undefined;
  private started: { kind: string; id: string; c: Receiver | Processor | Exporter | Connector | Extension }[] = [];
  private stopping: Promise<void> | undefined;
  /** Extensions watching the exporter side of the pipelines (see {@link Gateway.observe}). */
  private readonly observers = new Set<PipelineObserver>();
  /** Receipt times for `otelytics_pipeline_latency_seconds`. */
  private readonly receipts = new ReceiptClock();

  constructor(
    readonly config: GatewayConfig,
    private readonly logger: Logger,
    /** This process's place among the gateway's workers (`service::workers` > 1); its metrics are then served by the supervisor. */
    readonly worker: WorkerIdentity | undefined = workerIdentity(),
  ) {
    this.build();
  }

  getExporter(id: string): Exporter | undefined {
    return this.exporters.get(id);
  }

  getExtension(id: string): Extension | undefined {
    return this.extensions.get(id);
  }

  /** Calls `observer` with what every pipeline hands to its exporters, until the returned function is called. */
  observe(observer: PipelineObserver): () => void {
    this.observers.add(observer);
    return () => void this.observers.delete(observer);
  }

  /** Port the metrics endpoint is bound to (after start), for tests and logs. */
  get metricsPort(): number | undefined {
    return this.metricsServer?.port;
  }

  private settings(id: string) {
    return { id, logger: this.logger.child({ component: id }), telemetry: this.telemetry };
  }

  private build(): void {
    const cfg = this.config;
    for (const id of cfg.service.extensions) {
      const e = cfg.extensions.get(id)!;
      if (!servedByWorker(e.factory.type, this.worker)) continue;
      this.extensions.set(id, e.factory.create(this.settings(id), e.config));
    }
    // Exporters in pipelines, the dead-letter routes they name (targets first, so a route exists
    // before anything is sent to it) and the exporters processors route to.
    const used = new Set<string>();
    const visiting = new Set<string>(); // a cycle of routes is reported by the exporter helper at start-up
    const use = (id: string) => {
      if (used.has(id) || visiting.has(id)) return;
      visiting.add(id);
      const dl = deadLetterOf(cfg.exporters.get(id)!.config);
      if (dl && cfg.exporters.has(dl)) use(dl);
      used.add(id);
    };
    for (const p of cfg.pipelines) for (const id of p.exporters) if (cfg.exporters.has(id)) use(id);
    // Exporters a processor of a pipeline hands data to besides its pipeline (tracking_plan's route_to).
    for (const p of cfg.pipelines) {
      for (const pid of p.processors) {
        const pc = cfg.processors.get(pid)!;
        for (const ref of pc.factory.exporterReferences?.(pc.config) ?? []) if (cfg.exporters.has(ref.exporter)) use(ref.exporter);
      }
    }
    for (const id of used) {
      const e = cfg.exporters.get(id)!;
      this.exporters.set(id, e.factory.create({ ...this.settings(id), batching: cfg.exporterBatching.get(id) }, e.config));
    }
    // Entry consumer of each pipeline, with whether its first stage mutates data. Pipelines are
    // built on demand, downstream first: a connector needs the entries of the pipelines it feeds.
    const entries = new Map<string, Target & { encoded: boolean }>();
    const byPipeline = new Map<string, { id: string; pipeline: string; processor: Processor }[]>();
    const builtOrder: string[] = [];
    const entryOf = (pipelineId: string): Target & { encoded: boolean } => {
      const done = entries.get(pipelineId);
      if (done) return done;
      const p = cfg.pipelines.find((x) => x.id === pipelineId)!;
      const exporterTargets = p.exporters.map((id) => {
        if (cfg.exporters.has(id)) return { consumer: this.observedExporter(p.id, id), mutates: cfg.exporters.get(id)!.factory.mutatesData, encoded: cfg.exporters.get(id)!.factory.takesEncodedTraces === true };
        const c = this.connectorOf(id, entryOf);
        return { consumer: this.connectorInput(p.id, id), mutates: c.target.mutates, encoded: c.target.encoded };
      });
      let next: Consumer = this.observedPipeline(p.id, fanOut(exporterTargets));
      let mutates = exporterTargets.length === 1 && exporterTargets[0]!.mutates;
      const encoded = tracesStayEncoded(
        p.processors.map((id) => cfg.processors.get(id)!.factory),
        exporterTargets.map((t) => ({ takesEncodedTraces: t.encoded })),
      );
      const chain: { id: string; pipeline: string; processor: Processor }[] = [];
      for (let i = p.processors.length - 1; i >= 0; i--) {
        const id = p.processors[i]!;
        const pc = cfg.processors.get(id)!;
        const carrier = this.receipts.carrier();
        const processor = pc.factory.create({ ...this.settings(id), pipeline: p.id }, pc.config, this.countOutgoing(id, p.id, next, carrier));
        chain.unshift({ id, pipeline: p.id, processor });
        next = this.countIncoming(id, p.id, processor, carrier);
        mutates = pc.factory.mutatesData;
      }
      byPipeline.set(p.id, chain);
      builtOrder.push(p.id);
      const entry = { consumer: this.received(next, encoded), mutates, encoded };
      entries.set(p.id, entry);
      return entry;
    };
    for (const p of cfg.pipelines) entryOf(p.id);
    // Upstream pipelines first: the reverse of the order they were finished in.
    this.processors = [...builtOrder].reverse().flatMap((id) => byPipeline.get(id)!);
    for (const [id, rc] of cfg.receivers) {
      const bySignal = new Map<Signal, Target[]>();
      for (const p of cfg.pipelines) {
        if (!p.receivers.includes(id)) continue;
        for (const s of rc.factory.outputs(p.signal, rc.config)) {
          let list = bySignal.get(s);
          if (!list) bySignal.set(s, (list = []));
          list.push(entries.get(p.id)!);
        }
      }
      if (bySignal.size === 0) continue; // configured but in no pipeline: not started, like the collector
      const consumers: ReceiverConsumers = {};
      for (const [s, targets] of bySignal) consumers[s] = fanOut(targets);
      this.receivers.set(id, rc.factory.create(this.settings(id), rc.config, consumers));
    }
  }

  /**
   * The connector `id`, made on first use with a router over the entries of the pipelines it feeds
   * (`entryOf` builds them). Its target (what an upstream fan-out sees) mutates when the connector
   * does or any pipeline it feeds starts with a mutating stage, and takes encoded traces when the
   * connector passes them on and every pipeline it feeds with traces takes them.
   */
  private connectorOf(id: string, entryOf: (pipeline: string) => Target & { encoded: boolean }): { connector: Connector; target: Target & { encoded: boolean } } {
    const made = this.connectors.get(id);
    if (made) return made;
    const cfg = this.config;
    const cc = cfg.connectors.get(id)!;
    const use = cfg.connections.get(id)!;
    const signalOf = (pipeline: string) => cfg.pipelines.find((p) => p.id === pipeline)!.signal;
    const byInput = new Map<Signal, string[]>();
    for (const from of use.from) {
      const list = byInput.get(signalOf(from)) ?? [];
      for (const to of use.links.get(from) ?? []) if (!list.includes(to)) list.push(to);
      byInput.set(signalOf(from), list);
    }
    const fed = use.to.filter((to) => [...byInput.values()].some((l) => l.includes(to)));
    const targets = new Map(fed.map((to) => [to, entryOf(to)]));
    const carrier = this.receipts.carrier();
    const telemetry = this.telemetry;
    const outgoing = (pipeline: string, entry: Target): Target => ({
      mutates: entry.mutates,
      consumer: {
        takesEncodedTraces: entry.consumer.takesEncodedTraces,
        consume(p: Payload) {
          telemetry.connectorItems(id, pipeline, 'outgoing', itemCount(p));
          carrier.output(p);
          return entry.consumer.consume(p);
        },
      },
    });
    const router: ConnectorRouter = {
      pipelines: (input) => byInput.get(input) ?? [],
      consumer: (pipelines) => {
        const unknown = pipelines.filter((p) => !targets.has(p));
        if (unknown.length > 0) throw new Error(`connector "${id}" does not feed pipeline(s) ${unknown.join(', ')}`);
        return fanOut(pipelines.map((p) => outgoing(p, targets.get(p)!)));
      },
    };
    const connector = cc.factory.create({ ...this.settings(id), inputs: [...byInput.keys()] }, cc.config, router);
    const tracesTargets = byInput.get('traces') ?? [];
    const target = {
      consumer: {
        consume: (p: Payload) => carrier.input(p, () => connector.consume(p)),
      },
      mutates: cc.factory.mutatesData || [...targets.values()].some((t) => t.mutates),
      encoded: cc.factory.passesEncodedTraces === true && tracesTargets.every((t) => targets.get(t)!.encoded),
    };
    const entry = { connector, target };
    this.connectors.set(id, entry);
    return entry;
  }

  /** What pipeline `pipeline` hands connector `id`: counted, and its refusals told to observers. */
  private connectorInput(pipeline: string, id: string): Consumer {
    const made = this.connectors.get(id)!;
    const observers = this.observers;
    const telemetry = this.telemetry;
    return {
      takesEncodedTraces: made.target.encoded,
      consume(p: Payload) {
        telemetry.connectorItems(id, pipeline, 'incoming', itemCount(p));
        const done = made.target.consumer.consume(p);
        if (observers.size === 0) return done;
        return done.catch((err: unknown) => {
          for (const o of observers) o.exportFailed?.(pipeline, id, err);
          throw err;
        });
      },
    };
  }

  /** Stamps what a receiver hands to a pipeline with its receipt time; `encoded`: the pipeline takes encoded traces. */
  private received(next: Consumer, encoded: boolean): Consumer {
    const receipts = this.receipts;
    return {
      takesEncodedTraces: encoded,
      consume(p: Payload) {
        receipts.received(p);
        return next.consume(p);
      },
    };
  }

  /**
   * Shows observers what `pipeline` hands to its exporters (one size check while nobody watches)
   * and observes `otelytics_pipeline_latency_seconds` for payloads with a known receipt time.
   */
  private observedPipeline(pipeline: string, next: Consumer): Consumer {
    const observers = this.observers;
    const receipts = this.receipts;
    const latency = this.telemetry.pipelineLatency(pipeline);
    return {
      consume(p: Payload) {
        const t = receipts.receivedAt(p);
        if (t !== undefined) latency.observe(Math.max(0, Date.now() - t) / 1000);
        if (observers.size > 0) for (const o of observers) o.exported?.(pipeline, p);
        return next.consume(p);
      },
    };
  }

  /** Tells observers when an exporter refuses data from `pipeline`. */
  private observedExporter(pipeline: string, id: string): Consumer {
    const exporter = this.exporters.get(id)!;
    const observers = this.observers;
    return {
      consume(p: Payload) {
        if (observers.size === 0) return exporter.consume(p);
        return exporter.consume(p).catch((err: unknown) => {
          for (const o of observers) o.exportFailed?.(pipeline, id, err);
          throw err;
        });
      },
    };
  }

  /**
   * Counts what processor `id` of `pipeline` takes in and, when own traces are on, wraps each
   * `consume` call in one INTERNAL span `process {id}` (attributes and links taken before the
   * processor may change the payload; error status when it rejects). Off: one boolean check.
   */
  private countIncoming(id: string, pipeline: string, processor: Processor, carrier: Carrier): Consumer {
    const t = this.telemetry;
    const name = `process ${id}`;
    return {
      consume(p: Payload) {
        const items = itemCount(p);
        t.processorItems(id, pipeline, 'incoming', items);
        if (!selfTracingEnabled()) return carrier.input(p, () => processor.consume(p));
        return carrier.input(p, () =>
          inSpan(
            name,
            SpanKind.INTERNAL,
            () => ({ 'otelytics.processor': id, 'otelytics.pipeline': pipeline, 'otelytics.signal': p.signal, 'otelytics.items': items }),
            () => payloadLinks(p),
            () => processor.consume(p),
          ),
        );
      },
    };
  }

  private countOutgoing(id: string, pipeline: string, next: Consumer, carrier: Carrier): Consumer {
    const t = this.telemetry;
    return {
      consume(p: Payload) {
        t.processorItems(id, pipeline, 'outgoing', itemCount(p));
        carrier.output(p);
        return next.consume(p);
      },
    };
  }

  /**
   * Starts everything. On a failure it stops what was started and throws, without logging (the
   * caller reports it once): a setting that failed by its full key
   * (`receivers::otlp::protocols::http::endpoint: 127.0.0.1:4318 is already in use`), anything else
   * as `failed to start <kind> "<id>": <why>`.
   */
  async start(): Promise<void> {
    const metrics = this.config.service.telemetry.metrics;
    if (metrics.level !== 'none' && !this.worker) {
      const ep = parseEndpoint(metrics.address)!;
      let tls: ServerTlsSource | undefined;
      try {
        tls = metrics.tls ? new ServerTlsSource(metrics.tls, 'tls', this.logger) : undefined;
      } catch (err) {
        throw new Error(`service::telemetry::metrics::${errorMessage(err)}`, { cause: err });
      }
      try {
        this.metricsServer = await this.telemetry.serve(ep.host, ep.port, { ...(tls ? { tls } : {}), ...(metrics.auth ? { bearerToken: metrics.auth.bearer_token } : {}) });
      } catch (err) {
        tls?.stop();
        throw new Error(listenError('service::telemetry::metrics::address', metrics.address, err).message);
      }
    }
    const order: { kind: string; id: string; section: string; configId: string; c: Receiver | Processor | Exporter | Connector | Extension }[] = [
      ...[...this.extensions].map(([id, c]) => ({ kind: 'extension', id, section: 'extensions', configId: id, c })),
      ...[...this.exporters].map(([id, c]) => ({ kind: 'exporter', id, section: 'exporters', configId: id, c })),
      ...[...this.connectors].map(([id, c]) => ({ kind: 'connector', id, section: 'connectors', configId: id, c: c.connector })),
      ...[...this.processors].reverse().map(({ id, pipeline, processor }) => ({ kind: 'processor', id: `${id} in pipeline ${pipeline}`, section: 'processors', configId: id, c: processor })),
      ...[...this.receivers].map(([id, c]) => ({ kind: 'receiver', id, section: 'receivers', configId: id, c })),
    ];
    for (const item of order) {
      try {
        await item.c.start(this);
      } catch (err) {
        await this.shutdown();
        // Reported once, by whoever started the gateway (the CLI prints it): a setting by its full key.
        if (err instanceof SettingError) throw new Error(`${item.section}::${item.configId}::${err.key}: ${err.detail}`, { cause: err });
        throw new Error(`failed to start ${item.kind} "${item.id}": ${errorMessage(err)}`, { cause: err });
      }
      this.started.push(item);
    }
    for (const e of this.extensions.values()) e.onReadyChange?.(true);
    this.logger.info(
      { pipelines: this.config.pipelines.map((p) => p.id), metrics: this.metricsServer ? `${parseEndpoint(metrics.address)!.host}:${this.metricsServer.port}` : 'off' },
      this.worker ? 'worker ready' : 'otelytics is ready',
    );
  }

  /** Stops taking data, drains and stops everything, in reverse start order. Idempotent. */
  shutdown(): Promise<void> {
    this.stopping ??= this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    for (const e of this.extensions.values()) e.onReadyChange?.(false);
    for (const item of [...this.started].reverse()) {
      try {
        await item.c.shutdown();
      } catch (err) {
        this.logger.error({ component: item.id }, `error while stopping ${item.kind} ${item.id}: ${errorMessage(err)}`);
      }
    }
    this.started = [];
    await this.metricsServer?.close();
  }
}
