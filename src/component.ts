/**
 * The component API: receivers, processors, exporters, connectors and extensions, each made by a
 * factory.
 *
 * Modelled on the OpenTelemetry Collector's `component`, `consumer` and `connector` packages: a
 * factory has a type name, a config schema with defaults and a `create` function; data moves
 * through a one-method {@link Consumer}; processors declare which signals they take and give, and
 * connectors the pairs of pipeline signals they join, so that a mis-wired pipeline is refused at
 * load time.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { GatewayConfig } from './config/resolve.js';
import type { QueueBatchConfig } from './delivery/batcher.js';
import type { AnalyticsEvent } from './event.js';
import type { LogsData, MetricsData, TracesData } from './pdata.js';
import { logRecordCount, spanCount } from './pdata.js';
import { EncodedTraces } from './otlp/encoded.js';
import type { Telemetry } from './telemetry.js';
import type { WorkerIdentity } from './workers.js';

/** A pipeline's signal. `events` pipelines take spans and log records in and carry analytics events. */
export type Signal = 'traces' | 'logs' | 'metrics' | 'events';
export const SIGNALS: readonly Signal[] = ['traces', 'logs', 'metrics', 'events'];

/**
 * Who sent a payload, as a receiver knows it (the collector's `client.Info`): set by the `otlp`
 * receiver on what it hands to its pipelines when a protocol has `auth`, mutual TLS or
 * `include_metadata`; read by `analytics`' `from_context`. A processor that makes new payloads
 * from several (`batch`) does not carry it.
 */
export interface ClientInfo {
  /**
   * The authenticated client's attributes (the collector's `client.Info.Auth`): `subject`, its
   * identity (the authenticator's: a bearer token's name, a basic-auth user name; else, with
   * mutual TLS, the client certificate's subject CN), and the authenticator's own (`username`).
   */
  readonly auth?: Readonly<Record<string, string>>;
  /** The request's headers (HTTP) or metadata (gRPC) by lower-case name, with `include_metadata: true`. */
  readonly metadata?: Readonly<Record<string, readonly string[]>>;
}

/** One unit of data moving through a pipeline, tagged with its signal; `client`: who sent it, when known. */
export type Payload = (
  | { signal: 'traces'; data: TracesData }
  | { signal: 'logs'; data: LogsData }
  | { signal: 'metrics'; data: MetricsData }
  | { signal: 'events'; data: AnalyticsEvent[] }
) & { client?: ClientInfo };

/**
 * Takes data. Resolves when the data was accepted (processed and handed on, or queued); rejects
 * with a `PermanentError` (never retry) or a `RetryableError` (refused for now, e.g. a full queue).
 */
export interface Consumer {
  consume(payload: Payload): Promise<void>;
  /**
   * True when every stage from here on takes traces as their protobuf bytes (forwarding them, or
   * reading them with a projection, src/otlp/proto/project.ts), so a receiver may hand them on as
   * an `EncodedTraces` (src/otlp/encoded.ts) after a validating scan instead of decoding them.
   * Set by the gateway on what it hands to receivers; absent means false.
   */
  readonly takesEncodedTraces?: boolean;
}

/** Services the running gateway offers to its components. */
export interface Host {
  /** The exporter with this id, for dead-letter routes and processors' routes; undefined when not configured. */
  getExporter(id: string): Exporter | undefined;
  /**
   * The running extension with this id (listed in `service::extensions`), e.g. a receiver's
   * authenticator; undefined when there is none. Set by the gateway; hosts made in tests may omit it.
   */
  getExtension?(id: string): Extension | undefined;
  /** The resolved config the gateway runs (read-only). Set by the gateway; hosts made in tests may omit it. */
  readonly config?: GatewayConfig;
  /** The gateway's metrics registry. Set by the gateway; hosts made in tests may omit it. */
  readonly telemetry?: Telemetry;
  /**
   * Lets an extension watch what pipelines hand to their exporters, until the returned function is
   * called. Set by the gateway; hosts made in tests may omit it.
   */
  observe?(observer: PipelineObserver): () => void;
  /** This process's place among the gateway's workers (`service::workers` > 1); undefined in a single-process gateway. */
  readonly worker?: WorkerIdentity | undefined;
}

/**
 * Watches the exporter side of every pipeline (after all of its processors; what a pipeline hands
 * to connectors included). Called synchronously
 * on the data path: it must return quickly, never throw, never change the payload, and copy
 * whatever it keeps (an exporter may change its data after taking it).
 */
export interface PipelineObserver {
  /** What `pipeline` hands to its exporters, before they take it. */
  exported?(pipeline: string, payload: Payload): void;
  /** `exporter` (an exporter or a connector id) refused data from `pipeline` (the error the pipeline's caller gets). */
  exportFailed?(pipeline: string, exporter: string, err: unknown): void;
}

export type Kind = 'receiver' | 'processor' | 'exporter' | 'connector' | 'extension';

/** What a component's `create` receives besides its config. */
export interface CreateSettings {
  /** Component id, `type[/name]`. */
  id: string;
  logger: Logger;
  telemetry: Telemetry;
}

export interface Lifecycle {
  /** Called once, exporters first, then connectors, processors, receivers last. A rejection stops the gateway's start-up. */
  start(host: Host): Promise<void>;
  /** Stop taking data, drain what is in flight, release resources. Called in reverse start order. */
  shutdown(): Promise<void>;
}

export interface Receiver extends Lifecycle {}
export interface Processor extends Lifecycle, Consumer {}
export interface Exporter extends Lifecycle, Consumer {}
export interface Extension extends Lifecycle {
  /** Told when the gateway becomes ready (all pipelines started) or starts draining. */
  onReadyChange?(ready: boolean): void;
}

/** A problem a factory finds in a config beyond its schema; `path` is below the component's config. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

interface FactoryBase<C> {
  type: string;
  /** One line for `otelytics components`. */
  description: string;
  /** zod schema of the config, with defaults; unknown keys rejected. */
  configSchema: z.ZodType<C, unknown>;
  /**
   * Checks across every configured component of this type (e.g. two `count` connectors defining
   * one metric with different attributes); each issue is keyed by the component id it concerns.
   */
  checkAll?(instances: readonly { id: string; config: C }[]): (ConfigIssue & { id: string })[];
  /**
   * The authenticator extensions a config names (`auth::authenticator`), each with its key in the
   * component's config (`['protocols', 'http', 'auth', 'authenticator']`). The config is refused
   * when one is not configured, not an authenticator, or not in `service::extensions`.
   */
  authenticators?(config: C): { key: readonly string[]; id: string }[];
}

export interface ReceiverFactory<C = unknown> extends FactoryBase<C> {
  kind: 'receiver';
  /** Pipeline signals this receiver can feed. */
  pipelineSignals: readonly Signal[];
  /** The signals it emits into a pipeline of the given signal (e.g. an `events` pipeline gets traces and logs). */
  outputs(pipelineSignal: Signal, config: C): readonly Signal[];
  /** `consumers` has one entry per signal the receiver emits, fanning out to every pipeline using it. */
  create(settings: CreateSettings, config: C, consumers: ReceiverConsumers): Receiver;
}

export type ReceiverConsumers = Partial<Record<Signal, Consumer>>;

export interface ProcessorFactory<C = unknown> extends FactoryBase<C> {
  kind: 'processor';
  /** Signals it takes in. */
  accepts: readonly Signal[];
  /** The signal it gives for a signal it takes (most processors give what they take). */
  output(input: Signal): Signal;
  /** Whether it changes the data it is given (a fan-out then hands it a copy). */
  mutatesData: boolean;
  /**
   * Whether it takes traces as an `EncodedTraces` without decoding them: it hands them on reading
   * no more than their span count, or reads them from the bytes (see
   * {@link Consumer.takesEncodedTraces}). Default false.
   */
  takesEncodedTraces?: boolean;
  /**
   * For a processor that asks for batching (`batch`): the batches the exporters after it should
   * send, built in their sending queues once the queue holds the data (so that a request is
   * acknowledged only once it is held where the config says, never while it waits in a batch in
   * memory). The processor itself then hands data on as it comes.
   */
  exporterBatching?(config: C): QueueBatchConfig;
  /**
   * The exporters its config names to hand data to besides its pipeline (`tracking_plan`'s
   * `route_to`), each with its path below the processor's config. Each must be configured under
   * `exporters` and take events; the gateway builds and starts it even when no pipeline lists it,
   * as it does a `dead_letter` exporter, and the processor finds it with {@link Host.getExporter}.
   */
  exporterReferences?(config: C): { path: (string | number)[]; exporter: string }[];
  create(settings: CreateSettings & { pipeline: string }, config: C, next: Consumer): Processor;
}

/** What an exporter's `create` receives besides its config. */
export interface ExporterCreateSettings extends CreateSettings {
  /**
   * The batching the pipelines feeding this exporter ask for (a processor with
   * {@link ProcessorFactory.exporterBatching}, e.g. `batch`), done in the exporter's sending queue
   * unless its own `sending_queue::batch` says otherwise. Undefined: none asked.
   */
  batching?: QueueBatchConfig;
}

export interface ExporterFactory<C = unknown> extends FactoryBase<C> {
  kind: 'exporter';
  accepts: readonly Signal[];
  mutatesData: boolean;
  /** Whether it sends traces as their protobuf bytes without reading spans (see {@link Consumer.takesEncodedTraces}). Default false. */
  takesEncodedTraces?: boolean;
  create(settings: ExporterCreateSettings, config: C): Exporter;
}

export interface ExtensionFactory<C = unknown> extends FactoryBase<C> {
  kind: 'extension';
  /** Whether its extensions authenticate incoming requests (`ServerAuthenticator`, src/auth/server.ts), so receivers may name them in `auth::authenticator`. */
  serverAuthenticator?: boolean;
  create(settings: CreateSettings, config: C): Extension;
}

/**
 * What a connector sends into the pipelines it feeds (the collector's `connector.*RouterAndConsumer`):
 * the consumer of a set of those pipelines. Made once per set, at start-up; the consumer hands a
 * payload to each pipeline of the set (a copy to those that change data, as every fan-out does).
 */
export interface ConnectorRouter {
  /** The pipelines this connector feeds with what it takes from a pipeline of signal `input`, in config order. */
  pipelines(input: Signal): readonly string[];
  /**
   * The consumer of `pipelines` (each one of {@link pipelines} for some input). An empty list gives
   * a consumer that discards.
   * @throws Error for a pipeline this connector does not feed (the config check makes that impossible).
   */
  consumer(pipelines: readonly string[]): Consumer;
}

/** What a connector's `create` receives besides its config. */
export interface ConnectorCreateSettings extends CreateSettings {
  /** The signals of the pipelines that export to this connector. */
  inputs: readonly Signal[];
}

/** A connector takes data as the exporter of some pipelines and hands it on as the receiver of others. */
export interface Connector extends Lifecycle, Consumer {}

/**
 * A connector type: an exporter of one pipeline and a receiver of others (the collector's
 * connector/README.md). It supports pairs of an exporter pipeline signal and a receiver pipeline
 * signal; at load every pipeline that exports to it must reach a pipeline it feeds by a supported
 * pair, and every pipeline it feeds must be reached from one; the pipelines it joins must not form
 * a cycle.
 */
export interface ConnectorFactory<C = unknown> extends FactoryBase<C> {
  kind: 'connector';
  /** `[exporter pipeline signal, receiver pipeline signal]` pairs it joins. */
  pairs: readonly (readonly [Signal, Signal])[];
  /** Whether it changes the data it takes (an upstream fan-out then hands it a copy). */
  mutatesData: boolean;
  /**
   * Whether it hands traces on as it takes them, so that they may stay an `EncodedTraces` when every
   * pipeline it feeds takes them so (see {@link Consumer.takesEncodedTraces}). Default false.
   */
  passesEncodedTraces?: boolean;
  /**
   * The pipelines its config names, each with its path below the connector's config (a routing
   * table's `pipelines`); each must be a pipeline this connector feeds.
   */
  pipelineReferences?(config: C): { path: (string | number)[]; pipeline: string }[];
  /** Checks the config against the signals of the pipelines that export to it (e.g. a routing context per signal). */
  checkInputs?(config: C, inputs: readonly Signal[]): ConfigIssue[];
  /**
   * Routes a connector reports items for (`otelytics_connector_routed_items{connector,route}`), for
   * the status page: `route` is the label value, `pipelines` where that route leads.
   */
  routes?(config: C): { route: string; pipelines: readonly string[] }[];
  create(settings: ConnectorCreateSettings, config: C, router: ConnectorRouter): Connector;
}

export type Factory = ReceiverFactory<any> | ProcessorFactory<any> | ExporterFactory<any> | ConnectorFactory<any> | ExtensionFactory<any>;

/** Splits a component id `type[/name]`. */
export function parseComponentId(id: string): { type: string; name: string } {
  const slash = id.indexOf('/');
  return slash < 0 ? { type: id, name: '' } : { type: id.slice(0, slash), name: id.slice(slash + 1) };
}

/** Number of items (spans, log records, data points or events) in a payload. */
export function itemCount(p: Payload): number {
  switch (p.signal) {
    case 'traces':
      return spanCount(p.data);
    case 'logs':
      return logRecordCount(p.data);
    case 'metrics':
      return p.data.dataPointCount;
    case 'events':
      return p.data.length;
  }
}

/** A deep copy of a payload, for a component that mutates data in a fan-out. */
export function clonePayload(p: Payload): Payload {
  if (p.signal === 'metrics') return p;
  const copy = (p.data instanceof EncodedTraces ? { signal: 'traces', data: p.data.clone() } : { signal: p.signal, data: structuredClone(p.data) }) as Payload;
  if (p.client !== undefined) copy.client = p.client;
  return copy;
}
