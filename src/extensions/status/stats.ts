/**
 * Live numbers for the nodes of the pipeline graph, read from the gateway's Prometheus registry
 * (the collector's metric names, see `src/telemetry.ts`) plus what the status extension itself sees
 * at the exporter side of each pipeline (items handed to exporters, an exporter's or a connector's
 * last error). Connectors that report routes get a rate and a total per route
 * (`otelytics_connector_routed_items{connector,route}`).
 *
 * Rates are per second over a sliding window: each read takes a sample of every counter (at most
 * one sample per {@link MIN_SAMPLE_MILLIS}), and a rate is the increase since the oldest sample
 * still inside the window, divided by the time between them. The first read has no rates (null).
 */
import type { Registry } from 'prom-client';
import { clip } from '../../errors.js';
import type { GraphNode } from './graph.js';

/** Counters summed per node; each has a rate and a total. */
export const COUNTER_FIELDS = ['in', 'out', 'refused', 'dropped', 'dead_lettered', 'failed', 'retries'] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];

export interface NodeStats {
  /** Items per second over the window, null before there are two samples. */
  rates: Record<CounterField, number | null>;
  /** Totals since the gateway started. */
  totals: Record<CounterField, number>;
  /** Exporters: `otelcol_exporter_queue_size` / `_capacity`, in the queue's sizer unit (absent: no queue). */
  queue_size?: number;
  queue_capacity?: number;
  /** With several workers (`service::workers` > 1): each worker's queue size, by worker index (`queue_size` is their sum). */
  queue_sizes?: Record<string, number>;
  /** Exporters and connectors: the last error they gave a pipeline (what the pipeline's caller saw). */
  last_error?: { time: string; pipeline: string; message: string };
  /** Connectors with routes: items per second and in total by route label (`0`, `1`, …, `default`, `none`). */
  routes?: Record<string, { rate: number | null; total: number }>;
  /**
   * `kafka` receivers: the consumer group's lag per partition of their topics, as last read
   * (`otelytics_kafka_receiver_lag`, every `lag_interval`), and whether this member holds it.
   */
  kafka_lag?: KafkaLagRow[];
}

export interface KafkaLagRow {
  group: string;
  topic: string;
  partition: number;
  lag: number;
  held: boolean;
}

export interface StatsSnapshot {
  time: string;
  /** Seconds the rates span (0 on the first read). */
  window_seconds: number;
  nodes: Record<string, NodeStats>;
}

/** One metric family to sum into a field: name (a trailing `*` matches any item noun) and the labels a value must carry. */
interface Selector {
  field: CounterField | 'queue_size' | 'queue_capacity' | `route:${string}`;
  name: string;
  labels: Record<string, string>;
}

/** The metrics summed into each field of a node. */
export function selectorsFor(n: GraphNode): Selector[] {
  const c = n.component;
  switch (n.kind) {
    case 'receiver':
      return [
        // in: everything received (accepted or refused); out: what went into the pipelines.
        { field: 'in', name: 'otelcol_receiver_accepted_*', labels: { receiver: c } },
        { field: 'in', name: 'otelcol_receiver_refused_*', labels: { receiver: c } },
        { field: 'out', name: 'otelcol_receiver_accepted_*', labels: { receiver: c } },
        { field: 'refused', name: 'otelcol_receiver_refused_*', labels: { receiver: c } },
      ];
    case 'processor': {
      const labels = { processor: c, pipeline: n.pipeline! };
      return [
        { field: 'in', name: 'otelcol_processor_incoming_items', labels },
        { field: 'out', name: 'otelcol_processor_outgoing_items', labels },
        { field: 'refused', name: 'otelcol_processor_refused_*', labels },
        // Dropped events are counted per component id (a processor id listed in two pipelines shares it).
        { field: 'dropped', name: 'otelytics_events_dropped', labels: { component: c } },
      ];
    }
    case 'exporter':
      return [
        { field: 'out', name: 'otelcol_exporter_sent_*', labels: { exporter: c } },
        { field: 'failed', name: 'otelcol_exporter_send_failed_*', labels: { exporter: c } },
        { field: 'refused', name: 'otelcol_exporter_enqueue_failed_*', labels: { exporter: c } },
        { field: 'dead_lettered', name: 'otelytics_events_dead_lettered', labels: { exporter: c } },
        { field: 'dead_lettered', name: 'otelytics_exporter_dead_lettered_*', labels: { exporter: c } },
        { field: 'dropped', name: 'otelytics_events_dropped', labels: { component: c } },
        { field: 'retries', name: 'otelytics_exporter_send_retries', labels: { exporter: c } },
        { field: 'queue_size', name: 'otelcol_exporter_queue_size', labels: { exporter: c } },
        { field: 'queue_capacity', name: 'otelcol_exporter_queue_capacity', labels: { exporter: c } },
      ];
    case 'connector':
      return [
        { field: 'in', name: 'otelytics_connector_incoming_items', labels: { connector: c } },
        { field: 'out', name: 'otelytics_connector_outgoing_items', labels: { connector: c } },
        // Events no route takes (no default pipelines) are dropped by the connector.
        { field: 'dropped', name: 'otelytics_events_dropped', labels: { component: c } },
        ...(n.routes ?? []).map((r): Selector => ({ field: `route:${r.route}`, name: 'otelytics_connector_routed_items', labels: { connector: c, route: r.route } })),
      ];
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
}

/** Sums the values of metrics matching `s` (name, or prefix for `…_*`; labels all equal). Undefined when none matched. */
export function sumSelector(metrics: ReadonlyMap<string, MetricValue[]>, s: Selector): number | undefined {
  const names = s.name.endsWith('*') ? [...metrics.keys()].filter((k) => k.startsWith(s.name.slice(0, -1))) : [s.name];
  let sum: number | undefined;
  for (const name of names) {
    for (const v of metrics.get(name) ?? []) {
      let ok = true;
      for (const [k, want] of Object.entries(s.labels)) {
        if (String(v.labels[k]) !== want) {
          ok = false;
          break;
        }
      }
      if (ok) sum = (sum ?? 0) + v.value;
    }
  }
  return sum;
}

/** Rows of `otelytics_kafka_receiver_lag` by receiver id, sorted by topic and partition, with `otelytics_kafka_receiver_partition_assigned`. */
export function kafkaLagByReceiver(metrics: ReadonlyMap<string, MetricValue[]>): Map<string, KafkaLagRow[]> {
  const held = new Set((metrics.get('otelytics_kafka_receiver_partition_assigned') ?? []).filter((v) => v.value === 1).map((v) => `${v.labels.receiver}\0${v.labels.topic}\0${v.labels.partition}`));
  const out = new Map<string, KafkaLagRow[]>();
  for (const v of metrics.get('otelytics_kafka_receiver_lag') ?? []) {
    const receiver = String(v.labels.receiver);
    let rows = out.get(receiver);
    if (!rows) out.set(receiver, (rows = []));
    rows.push({ group: String(v.labels.group), topic: String(v.labels.topic), partition: Number(v.labels.partition), lag: v.value, held: held.has(`${receiver}\0${v.labels.topic}\0${v.labels.partition}`) });
  }
  for (const rows of out.values()) rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return out;
}

export const MIN_SAMPLE_MILLIS = 250;
export const DEFAULT_WINDOW_MILLIS = 5_000;

interface Sample {
  t: number;
  totals: Map<string, Record<CounterField, number>>;
  routes: Map<string, Record<string, number>>;
}

export class GraphStats {
  private samples: Sample[] = [];
  private readonly selectors: Map<string, Selector[]>;
  /** Items each pipeline handed to its exporters, counted by the extension's observer. */
  private readonly exportedByPipeline = new Map<string, number>();
  private readonly lastErrors = new Map<string, NonNullable<NodeStats['last_error']>>();

  constructor(
    private readonly registry: Registry,
    private readonly nodes: readonly GraphNode[],
    private readonly windowMillis = DEFAULT_WINDOW_MILLIS,
    private readonly now: () => number = Date.now,
  ) {
    this.selectors = new Map(nodes.map((n) => [n.id, selectorsFor(n)]));
  }

  /** Counts items `pipeline` handed to its exporters. */
  exported(pipeline: string, items: number): void {
    this.exportedByPipeline.set(pipeline, (this.exportedByPipeline.get(pipeline) ?? 0) + items);
  }

  /** Remembers the last error `exporter` (or a connector) gave (message cut to 300 characters). */
  exportFailed(pipeline: string, exporter: string, message: string): void {
    this.lastErrors.set(exporter, { time: new Date(this.now()).toISOString(), pipeline, message: clip(message) });
  }

  /** Reads the registry and returns rates, totals, queues and last errors of every node. */
  async snapshot(): Promise<StatsSnapshot> {
    const now = this.now();
    const metrics = new Map<string, MetricValue[]>();
    for (const m of await this.registry.getMetricsAsJSON()) metrics.set(m.name, (m.values ?? []) as MetricValue[]);
    const gauges = new Map<string, { queue_size?: number; queue_capacity?: number }>();
    const totals = new Map<string, Record<CounterField, number>>();
    const routes = new Map<string, Record<string, number>>();
    for (const n of this.nodes) {
      const t = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, 0])) as Record<CounterField, number>;
      const g: { queue_size?: number; queue_capacity?: number } = {};
      const r: Record<string, number> = Object.fromEntries((n.routes ?? []).map((x) => [x.route, 0]));
      for (const s of this.selectors.get(n.id)!) {
        const v = sumSelector(metrics, s);
        if (v === undefined) continue;
        if (s.field === 'queue_size' || s.field === 'queue_capacity') g[s.field] = v;
        else if (s.field.startsWith('route:')) r[s.field.slice(6)] = v;
        else t[s.field as CounterField] += v;
      }
      if (n.kind === 'exporter') t.in = n.pipelines.reduce((sum, p) => sum + (this.exportedByPipeline.get(p) ?? 0), 0);
      totals.set(n.id, t);
      gauges.set(n.id, g);
      if (n.routes) routes.set(n.id, r);
    }
    const kafkaLag = kafkaLagByReceiver(metrics);
    const last = this.samples[this.samples.length - 1];
    if (!last || now - last.t >= MIN_SAMPLE_MILLIS) this.samples.push({ t: now, totals, routes });
    // Keep the newest sample that is at least a window old, as the base of the rates.
    while (this.samples.length > 2 && now - this.samples[1]!.t >= this.windowMillis) this.samples.shift();
    const base = this.samples[0]!;
    const dt = (now - base.t) / 1000;
    const nodes: Record<string, NodeStats> = {};
    for (const n of this.nodes) {
      const t = totals.get(n.id)!;
      const b = base.totals.get(n.id)!;
      const rates = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, dt > 0 ? Math.max(0, t[f] - b[f]) / dt : null])) as Record<CounterField, number | null>;
      const s: NodeStats = { rates, totals: t, ...gauges.get(n.id) };
      const err = n.kind === 'exporter' || n.kind === 'connector' ? this.lastErrors.get(n.component) : undefined;
      if (err) s.last_error = err;
      const lag = n.kind === 'receiver' ? kafkaLag.get(n.component) : undefined;
      if (lag) s.kafka_lag = lag;
      const r = routes.get(n.id);
      if (r) {
        const rb = base.routes.get(n.id) ?? {};
        s.routes = Object.fromEntries(Object.entries(r).map(([route, total]) => [route, { total, rate: dt > 0 ? Math.max(0, total - (rb[route] ?? 0)) / dt : null }]));
      }
      nodes[n.id] = s;
    }
    return { time: new Date(now).toISOString(), window_seconds: dt, nodes };
  }
}
