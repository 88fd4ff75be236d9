import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGraph } from '../../../src/extensions/status/graph.js';
import { GraphStats } from '../../../src/extensions/status/stats.js';
import { Telemetry } from '../../../src/telemetry.js';
import { configFrom, exampleConfig } from './helpers.js';

test('rates and totals per node from the collector metrics, over a sliding window', async () => {
  const cfg = exampleConfig();
  const g = buildGraph(cfg);
  const t = new Telemetry();
  let now = 1_000_000;
  const stats = new GraphStats(t.registry, g.nodes, 5000, () => now);
  const node = (kind: string, component: string) => g.nodes.find((n) => n.kind === kind && n.component === component)!.id;
  const first = await stats.snapshot();
  assert.equal(first.nodes[node('receiver', 'otlp')]!.rates.in, null, 'no rate before a second sample');

  t.receiverAccepted('otlp', 'http', 'traces', 30);
  t.receiverRefused('otlp', 'http', 'logs', 4);
  t.processorItems('analytics', 'events', 'incoming', 30);
  t.processorItems('analytics', 'events', 'outgoing', 12);
  t.processorItems('analytics', 'other', 'incoming', 999); // another pipeline: not this node
  t.eventsDropped('filter', 'filtered', 3);
  t.exporterSent('file', 'events', 10);
  t.exporterSendFailed('file', 'events', 2);
  t.deadLettered('file', 'file/dead', 'events', 2);
  t.exporterQueueSize('file', 7);
  t.exporterQueueCapacity('file', 100);
  stats.exported('events', 12);
  stats.exportFailed('events', 'file', 'exporter file: sending queue is full');
  now += 2000;
  const s = await stats.snapshot();
  assert.equal(s.window_seconds, 2);
  const otlp = s.nodes[node('receiver', 'otlp')]!;
  assert.equal(otlp.totals.in, 34);
  assert.equal(otlp.totals.out, 30);
  assert.equal(otlp.rates.refused, 2);
  const analytics = s.nodes[node('processor', 'analytics')]!;
  assert.deepEqual([analytics.totals.in, analytics.totals.out, analytics.rates.in, analytics.rates.out], [30, 12, 15, 6]);
  assert.equal(s.nodes[node('processor', 'filter')]!.totals.dropped, 3);
  const file = s.nodes[node('exporter', 'file')]!;
  assert.deepEqual([file.totals.in, file.totals.out, file.totals.failed, file.totals.dead_lettered, file.queue_size, file.queue_capacity], [12, 10, 2, 2, 7, 100]);
  assert.equal(file.last_error?.message, 'exporter file: sending queue is full');
  assert.equal(s.nodes[node('exporter', 'debug')]!.last_error, undefined);

  // Beyond the window, the base moves forward: nothing new means a rate of 0.
  now += 6000;
  await stats.snapshot();
  now += 1000;
  const later = await stats.snapshot();
  assert.equal(later.nodes[node('receiver', 'otlp')]!.rates.in, 0);
  assert.equal(later.nodes[node('receiver', 'otlp')]!.totals.in, 34);
});

test('connectors: in and out, dropped, and a rate per route', async () => {
  const g = buildGraph(
    configFrom(`
receivers: { otlp: {} }
processors: { analytics: {} }
exporters: { file: { path: /tmp/x.jsonl } }
connectors: { routing: { table: [{ condition: 'name == "a"', pipelines: [events/a] }] } }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [routing] }
    events/a: { receivers: [routing], exporters: [file] }
`),
  );
  const t = new Telemetry();
  let now = 1_000_000;
  const stats = new GraphStats(t.registry, g.nodes, 5000, () => now);
  const id = g.nodes.find((n) => n.kind === 'connector')!.id;
  await stats.snapshot();
  t.connectorItems('routing', 'events', 'incoming', 10);
  t.connectorItems('routing', 'events/a', 'outgoing', 6);
  t.connectorRouted('routing', '0', 6);
  t.connectorRouted('routing', 'none', 4);
  t.eventsDropped('routing', 'unrouted', 4);
  stats.exportFailed('events', 'routing', 'exporter file: sending queue is full');
  now += 2000;
  const s = (await stats.snapshot()).nodes[id]!;
  assert.deepEqual([s.totals.in, s.totals.out, s.totals.dropped], [10, 6, 4]);
  assert.deepEqual(s.routes, { '0': { total: 6, rate: 3 }, none: { total: 4, rate: 2 } });
  assert.equal(s.last_error?.message, 'exporter file: sending queue is full');
});

test("a kafka receiver: the group's lag per partition and which ones this member holds", async () => {
  const g = buildGraph(
    configFrom(`
receivers: { kafka/raw: { logs: { topics: [otel.raw] } } }
processors: { analytics: {} }
exporters: { file: { path: /tmp/x.jsonl } }
service: { pipelines: { events: { receivers: [kafka/raw], processors: [analytics], exporters: [file] } } }
`),
  );
  const t = new Telemetry();
  const stats = new GraphStats(t.registry, g.nodes);
  const id = g.nodes.find((n) => n.kind === 'receiver')!.id;
  assert.equal((await stats.snapshot()).nodes[id]!.kafka_lag, undefined, 'none before the first read');
  t.kafkaReceiverLag('kafka/raw', 'otelytics-events', 'otel.raw', 1, 40);
  t.kafkaReceiverLag('kafka/raw', 'otelytics-events', 'otel.raw', 0, 0);
  t.kafkaReceiverAssigned('kafka/raw', 'otel.raw', 0, true);
  t.kafkaReceiverAssigned('kafka/raw', 'otel.raw', 1, false);
  t.kafkaReceiverLag('kafka/other', 'g', 'x', 0, 5);
  assert.deepEqual((await stats.snapshot()).nodes[id]!.kafka_lag, [
    { group: 'otelytics-events', topic: 'otel.raw', partition: 0, lag: 0, held: true },
    { group: 'otelytics-events', topic: 'otel.raw', partition: 1, lag: 40, held: false },
  ]);
});
