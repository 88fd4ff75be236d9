/**
 * Self-telemetry: Prometheus metrics with the collector's names (`otelcol_receiver_accepted_spans`,
 * `otelcol_exporter_sent_log_records`, ...) plus otelytics' event counters, served on
 * `service::telemetry::metrics::address` (default 127.0.0.1:8888) at `/metrics`.
 *
 * Events are log records by the event model, so `otelcol_*_log_records` metrics count them too.
 */
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { sameDigest, secretDigest } from './auth/server.js';
import type { Payload, Signal } from './component.js';
import { answerClientErrors } from './http_client_error.js';
import { createHttpServer, type ServerTlsSource } from './tls/server.js';

/** Buckets of the latency histograms, seconds: 5 ms to 1 h. */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** The collector's item noun per signal, used in metric names. */
export const SIGNAL_ITEM: Record<Signal, string> = {
  traces: 'spans',
  logs: 'log_records',
  metrics: 'metric_points',
  events: 'log_records',
};

export class Telemetry {
  readonly registry = new client.Registry();
  private readonly counters = new Map<string, client.Counter<string>>();
  private readonly gauges = new Map<string, client.Gauge<string>>();
  private readonly histograms = new Map<string, client.Histogram<string>>();
  private readonly startedAt = Date.now();

  constructor() {
    // Process metrics with the collector's names, read when scraped.
    const started = this.startedAt;
    new client.Gauge({ name: 'otelcol_process_memory_rss', help: 'Total physical memory (resident set size), bytes.', registers: [this.registry], collect() { this.set(process.memoryUsage.rss()); } });
    new client.Gauge({
      name: 'otelcol_process_runtime_heap_alloc_bytes',
      help: 'Bytes of JavaScript heap in use plus memory held by buffers (heapUsed + external).',
      registers: [this.registry],
      collect() {
        const m = process.memoryUsage();
        this.set(m.heapUsed + m.external);
      },
    });
    new client.Gauge({ name: 'otelcol_process_uptime', help: 'Uptime of the process, seconds.', registers: [this.registry], collect() { this.set((Date.now() - started) / 1000); } });
  }

  counter(name: string, help: string, labelNames: readonly string[]): client.Counter<string> {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = new client.Counter({ name, help, labelNames, registers: [this.registry] })));
    return c;
  }

  gauge(name: string, help: string, labelNames: readonly string[]): client.Gauge<string> {
    let g = this.gauges.get(name);
    if (!g) this.gauges.set(name, (g = new client.Gauge({ name, help, labelNames, registers: [this.registry] })));
    return g;
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: number[]): client.Histogram<string> {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = new client.Histogram({ name, help, labelNames, buckets, registers: [this.registry] })));
    return h;
  }

  /** Receiver counters: `otelcol_receiver_{accepted,refused}_<items>{receiver,transport}`. */
  receiverAccepted(receiver: string, transport: string, signal: Signal, n: number): void {
    this.counter(`otelcol_receiver_accepted_${SIGNAL_ITEM[signal]}`, `Items successfully pushed into the pipeline.`, ['receiver', 'transport']).inc({ receiver, transport }, n);
  }

  receiverRefused(receiver: string, transport: string, signal: Signal, n: number): void {
    this.counter(`otelcol_receiver_refused_${SIGNAL_ITEM[signal]}`, `Items that could not be pushed into the pipeline.`, ['receiver', 'transport']).inc({ receiver, transport }, n);
  }

  processorItems(processor: string, pipeline: string, direction: 'incoming' | 'outgoing', n: number): void {
    this.counter(`otelcol_processor_${direction}_items`, `Items ${direction === 'incoming' ? 'passed to' : 'emitted by'} the processor.`, ['processor', 'pipeline']).inc({ processor, pipeline }, n);
  }

  exporterSent(exporter: string, signal: Signal, n: number): void {
    this.counter(`otelcol_exporter_sent_${SIGNAL_ITEM[signal]}`, 'Items successfully sent to the destination.', ['exporter']).inc({ exporter }, n);
  }

  exporterSendFailed(exporter: string, signal: Signal, n: number): void {
    this.counter(`otelcol_exporter_send_failed_${SIGNAL_ITEM[signal]}`, 'Items that failed to be sent to the destination.', ['exporter']).inc({ exporter }, n);
  }

  /** Refusals before a request was read (admission gate, e.g. memory_limiter): `otelytics_receiver_refused_requests{receiver,transport,reason}`. */
  receiverRefusedRequest(receiver: string, transport: string, reason: string): void {
    this.counter('otelytics_receiver_refused_requests', 'Requests refused before their body was read or decoded, by reason.', ['receiver', 'transport', 'reason']).inc({ receiver, transport, reason });
  }

  /**
   * A request a receiver refused because it did not authenticate, or whose TLS handshake failed:
   * `otelytics_receiver_auth_failures{receiver,transport,reason}`, `reason` one of `missing`,
   * `malformed`, `invalid`, `busy`, `tls` (src/auth/server.ts).
   */
  receiverAuthFailure(receiver: string, transport: string, reason: string): void {
    this.counter('otelytics_receiver_auth_failures', 'Requests refused for failed authentication (missing, malformed or invalid credentials, verifications busy) or a failed TLS handshake, by reason.', ['receiver', 'transport', 'reason']).inc({
      receiver,
      transport,
      reason,
    });
  }

  /** Items a processor refused (e.g. memory_limiter above its soft limit): `otelcol_processor_refused_<items>{processor,pipeline}`. */
  processorRefused(processor: string, pipeline: string, signal: Signal, n: number): void {
    this.counter(`otelcol_processor_refused_${SIGNAL_ITEM[signal]}`, 'Items the processor refused with a retryable error.', ['processor', 'pipeline']).inc({ processor, pipeline }, n);
  }

  /** `otelcol_exporter_queue_size{exporter}`: what the sending queue holds, in the unit of its sizer. */
  exporterQueueSize(exporter: string, size: number): void {
    this.gauge('otelcol_exporter_queue_size', 'Current size of the sending queue (unit: sending_queue::sizer).', ['exporter']).set({ exporter }, size);
  }

  /** `otelcol_exporter_queue_capacity{exporter}`: `sending_queue::queue_size`. */
  exporterQueueCapacity(exporter: string, capacity: number): void {
    this.gauge('otelcol_exporter_queue_capacity', 'Capacity of the sending queue (unit: sending_queue::sizer).', ['exporter']).set({ exporter }, capacity);
  }

  /** Items refused because the sending queue was full or closed: `otelcol_exporter_enqueue_failed_<items>{exporter}`. */
  exporterEnqueueFailed(exporter: string, signal: Signal, n: number): void {
    this.counter(`otelcol_exporter_enqueue_failed_${SIGNAL_ITEM[signal]}`, 'Items that could not be added to the sending queue.', ['exporter']).inc({ exporter }, n);
  }

  /** A failed attempt that will be retried: `otelytics_exporter_send_retries{exporter}`. */
  exporterRetry(exporter: string): void {
    this.counter('otelytics_exporter_send_retries', 'Failed send attempts that were retried.', ['exporter']).inc({ exporter });
  }

  /**
   * Items handed to a dead-letter exporter: `otelytics_events_dead_lettered{exporter,dead_letter}`
   * for events, `otelytics_exporter_dead_lettered_<items>{exporter,dead_letter}` for OTLP signals.
   */
  deadLettered(exporter: string, deadLetter: string, signal: Signal, n: number): void {
    const name = signal === 'events' ? 'otelytics_events_dead_lettered' : `otelytics_exporter_dead_lettered_${SIGNAL_ITEM[signal]}`;
    this.counter(name, 'Items an exporter handed to its dead-letter exporter.', ['exporter', 'dead_letter']).inc({ exporter, dead_letter: deadLetter }, n);
  }

  /**
   * Items through a connector: `otelytics_connector_incoming_items{connector,pipeline}` (from the
   * pipeline that exports to it) and `otelytics_connector_outgoing_items{connector,pipeline}` (into
   * the pipeline it feeds).
   */
  connectorItems(connector: string, pipeline: string, direction: 'incoming' | 'outgoing', n: number): void {
    this.counter(`otelytics_connector_${direction}_items`, `Items ${direction === 'incoming' ? 'a pipeline handed to' : 'handed into a pipeline by'} the connector.`, ['connector', 'pipeline']).inc({ connector, pipeline }, n);
  }

  /**
   * Items a routing connector sent by a route: `otelytics_connector_routed_items{connector,route}`,
   * `route` the index of the table entry (`0`, `1`, ...), `default`, or `none` (matched no route
   * and there are no default pipelines: dropped).
   */
  connectorRouted(connector: string, route: string, n: number): void {
    this.counter('otelytics_connector_routed_items', 'Items a routing connector sent by each route (table index, default, or none).', ['connector', 'route']).inc({ connector, route }, n);
  }

  eventsCreated(pipeline: string, n: number): void {
    this.counter('otelytics_events_created', 'Analytics events made from spans and log records.', ['pipeline']).inc({ pipeline }, n);
  }

  /** Events removed on purpose or lost to a permanent error; `reason` says which. */
  eventsDropped(component: string, reason: string, n: number): void {
    this.counter('otelytics_events_dropped', 'Analytics events dropped, by reason.', ['component', 'reason']).inc({ component, reason }, n);
  }

  /**
   * `otelytics_event_delivery_latency_seconds{exporter}`: time from an event's source time
   * (`time_unix_nano`: span start or log record timestamp) to the destination's acknowledgement,
   * observed once per delivered event. Returns the exporter's series, to keep off the hot path.
   */
  eventDeliveryLatency(exporter: string): client.Histogram.Internal<string> {
    return this.histogram(
      'otelytics_event_delivery_latency_seconds',
      "Time from an event's source time (time_unix_nano) to the destination's acknowledgement, seconds.",
      ['exporter'],
      LATENCY_BUCKETS_SECONDS,
    ).labels({ exporter });
  }

  /** `otelytics_pipeline_latency_seconds{pipeline}`: time from receipt to hand-off to the exporters. Returns the pipeline's series. */
  pipelineLatency(pipeline: string): client.Histogram.Internal<string> {
    return this.histogram(
      'otelytics_pipeline_latency_seconds',
      "Time from a receiver handing data to the pipeline to the pipeline handing it to its exporters (batching included), seconds.",
      ['pipeline'],
      LATENCY_BUCKETS_SECONDS,
    ).labels({ pipeline });
  }

  /** `otelytics_kafka_consumer_lag{receiver,topic,partition}`: records in a partition not yet processed (high watermark − next offset to process). */
  kafkaConsumerLag(receiver: string, topic: string, partition: number, lag: number): void {
    this.gauge('otelytics_kafka_consumer_lag', 'Records of a partition not yet processed by the kafka receiver: high watermark minus the next offset to process.', ['receiver', 'topic', 'partition']).set(
      { receiver, topic, partition: String(partition) },
      lag,
    );
  }

  /**
   * `otelytics_kafka_receiver_lag{receiver,group,topic,partition}`: records of a partition the
   * consumer group has not committed yet (high watermark − committed offset), read from the brokers
   * every `lag_interval`, for every partition of the topics, whichever member holds it.
   */
  kafkaReceiverLag(receiver: string, group: string, topic: string, partition: number, lag: number): void {
    this.gauge('otelytics_kafka_receiver_lag', "Records of a partition the kafka receiver's consumer group has not committed yet: high watermark minus the group's committed offset, read every lag_interval.", ['receiver', 'group', 'topic', 'partition']).set(
      { receiver, group, topic, partition: String(partition) },
      lag,
    );
  }

  /** `otelytics_kafka_receiver_partition_assigned{receiver,topic,partition}`: 1 while this member holds the partition, else 0. */
  kafkaReceiverAssigned(receiver: string, topic: string, partition: number, held: boolean): void {
    this.gauge('otelytics_kafka_receiver_partition_assigned', 'Whether this kafka receiver holds the partition in its consumer group (1) or another member does (0).', ['receiver', 'topic', 'partition']).set(
      { receiver, topic, partition: String(partition) },
      held ? 1 : 0,
    );
  }

  /**
   * Serves `/metrics` on `host:port`, over https with `o.tls`, to scrapes with `Authorization:
   * Bearer <o.bearerToken>` only when it is given (401 with `WWW-Authenticate: Bearer` otherwise;
   * compared in constant time); resolves with the bound port.
   */
  async serve(host: string, port: number, o: { tls?: ServerTlsSource; bearerToken?: string; exposition?: () => Promise<string> } = {}): Promise<{ port: number; close(): Promise<void> }> {
    const exposition = o.exposition ?? (() => this.registry.metrics());
    const expected = o.bearerToken === undefined ? undefined : secretDigest(o.bearerToken);
    const server = createHttpServer(o.tls, {}, (req, res) => {
      if (expected !== undefined) {
        const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
        if (!m || !sameDigest(secretDigest(m[1]!), expected)) {
          res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="otelytics metrics"' });
          res.end('a bearer token is required (service::telemetry::metrics::auth::bearer_token)\n');
          return;
        }
      }
      if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
        exposition().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(String(err));
          },
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found; metrics are at /metrics\n');
    });
    answerClientErrors(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          o.tls?.stop();
          server.close(() => resolve());
        }),
    };
  }
}

/**
 * Milliseconds since the epoch of a decimal nanoseconds string (`time_unix_nano`), read from its
 * leading digits without BigInt; undefined when it is not a positive decimal number.
 */
export function nanosStringToMillis(nanos: string): number | undefined {
  const end = nanos.length - 6;
  if (end <= 0) return undefined; // under 1 ms after the epoch: 0 means "unknown" in OTLP
  let ms = 0;
  for (let i = 0; i < nanos.length; i++) {
    const d = nanos.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    if (i < end) ms = ms * 10 + d;
  }
  return ms > 0 ? ms : undefined;
}

/**
 * Receipt times of payloads, for `otelytics_pipeline_latency_seconds`. The gateway stamps what a
 * receiver hands to a pipeline and carries the stamp across each processor: a payload a processor
 * hands on keeps its stamp; a new payload it makes while consuming (analytics, filter) gets the
 * stamp of the payload it was consuming; a buffering processor (batch) gives each payload it emits
 * the oldest stamp among the items in it, counting items first in, first out. A payload made
 * outside of this (e.g. after an awaited lookup) carries no stamp and is not observed.
 */
export class ReceiptClock {
  readonly #at = new WeakMap<Payload, number>();

  /** Stamps `p` as received now, unless it already carries a stamp. */
  received(p: Payload): void {
    if (!this.#at.has(p)) this.#at.set(p, Date.now());
  }

  /** When `p` was received (ms since the epoch), if known. */
  receivedAt(p: Payload): number | undefined {
    return this.#at.get(p);
  }

  /**
   * Carries stamps across one processor: call `input` around its `consume`, `output` for what it
   * hands on during that call (processors hand data on while they take it; none holds data).
   */
  carrier(): { input(p: Payload, consume: () => Promise<void>): Promise<void>; output(p: Payload): void } {
    const at = this.#at;
    let current: number | undefined;
    return {
      input(p, consume) {
        const prev = current;
        current = at.get(p);
        try {
          return consume();
        } finally {
          current = prev;
        }
      },
      output(p) {
        if (current !== undefined && !at.has(p)) at.set(p, current);
      },
    };
  }
}
