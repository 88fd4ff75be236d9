/**
 * Counters summed over the workers of a gateway (`service::workers` N > 1) do not go down when a
 * worker is forked again (src/carry_over.ts):
 * - per slot, what the previous worker counted (as last read) is carried over to the next; a late
 *   answer of the previous worker changes nothing; two answers out of order keep the higher;
 * - the metrics endpoint: counters and histograms (buckets, sum, count) carried, gauges not; a slot
 *   that does not answer counts as last read;
 * - the status page: node and route totals and violation totals carried, rates and queues not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import client from 'prom-client';
import { CarryOver, MetricsCarryOver, type Counted } from '../src/carry_over.js';
import type { StatusConfig } from '../src/extensions/status/config.js';
import type { GraphNode, PipelineGraph } from '../src/extensions/status/graph.js';
import type { StatsSnapshot } from '../src/extensions/status/stats.js';
import { MergedStatus, type StatusRequest } from '../src/extensions/status/workers.js';
import { aggregateWorkerMetrics } from '../src/supervisor.js';

const values = (m: ReadonlyMap<string, Counted>) => Object.fromEntries([...m].map(([k, v]) => [k, v.value]));
const counts = (o: Record<string, number>) => new Map(Object.entries(o).map(([k, value]) => [k, { value }]));

describe('carrying counters over from a worker to the next of its slot', () => {
  it('adds what the previous worker counted, ignores its late answers, keeps the higher of two answers out of order', () => {
    const c = new CarryOver<Counted>();
    assert.deepEqual(values(c.read(0, 1, counts({ a: 10, b: 2 }))), { a: 10, b: 2 });
    assert.deepEqual(values(c.read(1, 1, counts({ a: 7 }))), { a: 7 }, 'slots are apart');
    assert.deepEqual(values(c.read(0, 1, counts({ a: 15, b: 2 }))), { a: 15, b: 2 });
    // Slot 0's worker died and was forked again: the new one counts from 0.
    assert.deepEqual(values(c.last(0)), { a: 15, b: 2 }, 'not answering: as last read');
    assert.deepEqual(values(c.read(0, 2, counts({ a: 1 }))), { a: 16, b: 2 }, 'b, not counted yet by the new worker, stays');
    assert.deepEqual(values(c.read(0, 1, counts({ a: 18, b: 3 }))), { a: 16, b: 2 }, 'a late answer of the previous worker');
    assert.deepEqual(values(c.read(0, 2, counts({ a: 4, b: 1 }))), { a: 19, b: 3 });
    assert.deepEqual(values(c.read(0, 2, counts({ a: 3, b: 1 }))), { a: 19, b: 3 }, 'an older answer of the same worker');
    // Forked twice before it was read again: what the one in between counted is not known.
    assert.deepEqual(values(c.read(0, 4, counts({ a: 2 }))), { a: 21, b: 3 });
    assert.deepEqual(values(c.last(1)), { a: 7 });
    assert.deepEqual(values(c.last(5)), {}, 'a slot never read');
    assert.deepEqual(c.known().sort(), [0, 1]);
  });

  it('metrics: counters and histograms (buckets, sum, count) carried over after a restart, gauges not; a worker not answering counts as last read', async () => {
    const worker = () => {
      const r = new client.Registry();
      return {
        r,
        accepted: new client.Counter({ name: 'otelcol_receiver_accepted_spans', help: 'h', labelNames: ['receiver', 'transport'], registers: [r] }),
        incoming: new client.Counter({ name: 'otelcol_processor_incoming_items', help: 'h', labelNames: ['processor', 'pipeline'], registers: [r] }),
        failed: new client.Counter({ name: 'otelcol_exporter_send_failed_log_records', help: 'h', labelNames: ['exporter'], registers: [r] }),
        queue: new client.Gauge({ name: 'otelcol_exporter_queue_size', help: 'h', labelNames: ['exporter'], registers: [r] }),
        memory: new client.Gauge({ name: 'otelytics_memory_bytes', help: 'h', registers: [r] }),
        latency: new client.Histogram({ name: 'otelytics_export_seconds', help: 'h', labelNames: ['exporter'], buckets: [0.1, 1], registers: [r] }),
      };
    };
    const carry = new MetricsCarryOver();
    const scrape = async (a: ReturnType<typeof worker> | undefined, aInc: number, b: ReturnType<typeof worker>) =>
      aggregateWorkerMetrics([
        { index: 0, metrics: carry.metrics(0, aInc, a ? await a.r.getMetricsAsJSON() : undefined) },
        { index: 1, metrics: carry.metrics(1, 1, await b.r.getMetricsAsJSON()) },
      ]).metrics();
    const line = (text: string, series: string) => {
      const l = text.split('\n').find((x) => x.startsWith(`${series} `));
      return l === undefined ? undefined : Number(l.slice(series.length + 1));
    };
    const incoming = 'otelcol_processor_incoming_items{processor="analytics",pipeline="events"}';
    const accepted0 = 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http",worker="0"}';
    const failed = 'otelcol_exporter_send_failed_log_records{exporter="amplitude"}';
    const bucket = (le: string) => `otelytics_export_seconds_bucket{le="${le}",exporter="amplitude"}`;

    const a = worker();
    const b = worker();
    a.accepted.inc({ receiver: 'otlp', transport: 'http' }, 100);
    a.incoming.inc({ processor: 'analytics', pipeline: 'events' }, 100);
    a.failed.inc({ exporter: 'amplitude' }, 4);
    a.queue.set({ exporter: 'amplitude' }, 30);
    a.memory.set(1000);
    a.latency.observe({ exporter: 'amplitude' }, 0.05);
    a.latency.observe({ exporter: 'amplitude' }, 0.5);
    b.incoming.inc({ processor: 'analytics', pipeline: 'events' }, 50);
    b.queue.set({ exporter: 'amplitude' }, 5);
    b.memory.set(500);
    const before = await scrape(a, 1, b);
    assert.equal(line(before, incoming), 150);
    assert.equal(line(before, accepted0), 100);
    assert.equal(line(before, 'otelcol_exporter_queue_size{exporter="amplitude",worker="0"}'), 30);
    assert.equal(line(before, bucket('1')), 2);

    // Worker 0 killed: while it restarts its counters count as last read, its gauges are gone.
    const down = await scrape(undefined, 1, b);
    assert.equal(line(down, incoming), 150);
    assert.equal(line(down, accepted0), 100);
    assert.equal(line(down, failed), 4);
    assert.equal(line(down, bucket('+Inf')), 2);
    assert.equal(line(down, 'otelcol_exporter_queue_size{exporter="amplitude",worker="0"}'), undefined);
    assert.equal(line(down, 'otelytics_memory_bytes'), 500, 'the gauge of the worker that answered');

    // Its next worker (incarnation 2) counts from 0; the sums go on from where they were.
    const a2 = worker();
    a2.accepted.inc({ receiver: 'otlp', transport: 'http' }, 3);
    a2.incoming.inc({ processor: 'analytics', pipeline: 'events' }, 3);
    a2.queue.set({ exporter: 'amplitude' }, 1);
    a2.memory.set(200);
    a2.latency.observe({ exporter: 'amplitude' }, 2);
    b.incoming.inc({ processor: 'analytics', pipeline: 'events' }, 10);
    const after = await scrape(a2, 2, b);
    assert.equal(line(after, incoming), 100 + 3 + 60);
    assert.equal(line(after, accepted0), 103, 'the series kept by worker too');
    assert.equal(line(after, failed), 4, 'a series the new worker has not counted yet');
    assert.equal(line(after, 'otelcol_exporter_queue_size{exporter="amplitude",worker="0"}'), 1, 'a gauge is not carried over');
    assert.equal(line(after, 'otelytics_memory_bytes'), 700);
    assert.deepEqual(
      ['0.1', '1', '+Inf'].map((le) => line(after, bucket(le))),
      [1, 2, 3],
      'histogram buckets carried over',
    );
    assert.equal(line(after, 'otelytics_export_seconds_count{exporter="amplitude"}'), 3);
    assert.equal(line(after, 'otelytics_export_seconds_sum{exporter="amplitude"}'), 2.55);
  });

  it('status page: node, route and violation totals carried over after a restart, rates and queues not; a worker not answering counts with its totals', async () => {
    const node = (id: string, kind: GraphNode['kind'], component: string, routes?: GraphNode['routes']): GraphNode => ({ id, kind, component, type: component, pipelines: ['events'], ...(routes ? { routes } : {}), x: 0, y: 0, w: 0, h: 0 });
    const graph = { nodes: [node('n0', 'receiver', 'otlp'), node('n1', 'connector', 'routing', [{ route: '0', pipelines: ['a'] }])], edges: [], lanes: [], width: 0, height: 0 } as PipelineGraph;
    const zero = { in: 0, out: 0, refused: 0, dropped: 0, dead_lettered: 0, failed: 0, retries: 0 };
    const nulls = { in: null, out: null, refused: null, dropped: null, dead_lettered: null, failed: null, retries: null };
    const snapshot = (received: number, routed: number, rate: number | null, queue?: number): StatsSnapshot => ({
      time: '',
      window_seconds: 5,
      nodes: {
        n0: { rates: { ...nulls, in: rate, out: rate }, totals: { ...zero, in: received, out: received } },
        n1: { rates: { ...nulls }, totals: { ...zero, in: routed, out: routed }, routes: { '0': { rate, total: routed } }, ...(queue !== undefined ? { queue_size: queue } : {}) },
      },
    });
    const violations = (n: number) => ({ items: [], totals: { unplanned_event: n, required_missing: 0, datatype_mismatch: 0, additional_property: 0, value_out_of_range: 0 } });
    // What each worker answers, by index; absent: it does not answer.
    const answers = new Map<number, { stats: StatsSnapshot; violations: ReturnType<typeof violations> }>();
    const incarnations = [1, 1];
    const merged = new MergedStatus(graph, { tail: { max_events_per_second: 10 } } as StatusConfig, {
      answering: () => [...answers.keys()],
      incarnation: (w) => incarnations[w]!,
      ask: async (w, r: StatusRequest) => (r.kind === 'stats' ? answers.get(w)?.stats : r.kind === 'violations' ? answers.get(w)?.violations : undefined),
      send: () => undefined,
    });
    answers.set(0, { stats: snapshot(100, 40, 10, 7), violations: violations(5) });
    answers.set(1, { stats: snapshot(60, 20, 6), violations: violations(2) });
    let s = await merged.stats();
    assert.equal(s.nodes.n0!.totals.in, 160);
    assert.equal(s.nodes.n1!.routes!['0']!.total, 60);
    assert.equal((await merged.violations(10)).totals.unplanned_event, 7);

    // Worker 0 killed: not answering, its totals still count; its rates and queue do not.
    answers.delete(0);
    s = await merged.stats();
    assert.equal(s.nodes.n0!.totals.in, 160);
    assert.equal(s.nodes.n0!.rates.in, 6);
    assert.equal(s.nodes.n1!.routes!['0']!.total, 60);
    assert.equal(s.nodes.n1!.queue_size, undefined);
    assert.equal((await merged.violations(10)).totals.unplanned_event, 7);

    // Forked again: its new worker counts from 0.
    incarnations[0] = 2;
    answers.set(0, { stats: snapshot(3, 1, null, 2), violations: violations(1) });
    s = await merged.stats();
    assert.equal(s.nodes.n0!.totals.in, 163);
    assert.equal(s.nodes.n0!.totals.out, 163);
    assert.equal(s.nodes.n0!.rates.in, 6, 'a worker without a rate yet adds none');
    assert.equal(s.nodes.n1!.routes!['0']!.total, 61);
    assert.equal(s.nodes.n1!.queue_size, 2, 'the queue is the new worker\'s');
    assert.deepEqual(s.nodes.n1!.queue_sizes, { 0: 2 });
    assert.equal((await merged.violations(10)).totals.unplanned_event, 8);
  });
});
