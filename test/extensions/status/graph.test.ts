import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGraph, type GraphNode } from '../../../src/extensions/status/graph.js';
import { configFrom, exampleConfig } from './helpers.js';

const overlaps = (a: GraphNode, b: GraphNode) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test('graph of config.example.yaml: one node per receiver, per processor of the pipeline and per exporter, wired in order', () => {
  const cfg = exampleConfig();
  const g = buildGraph(cfg);
  const p = cfg.pipelines[0]!;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const label = (id: string) => `${byId.get(id)!.kind}:${byId.get(id)!.component}`;
  const edges = g.edges.map((e) => `${label(e.from)}>${label(e.to)}`).sort();
  const chain = [...p.receivers.map((r) => `receiver:${r}`), ...p.processors.map((x) => `processor:${x}`)];
  const expected = [
    ...chain.slice(1).map((to, i) => `${chain[i]}>${to}`),
    ...p.exporters.map((e) => `processor:${p.processors.at(-1)}>exporter:${e}`),
  ].sort();
  assert.deepEqual(edges, expected);
  assert.equal(g.nodes.length, p.receivers.length + p.processors.length + p.exporters.length);
  assert.deepEqual(g.lanes.map((l) => [l.pipeline, l.privacy]), [[p.id, true]]);
  for (const n of g.nodes) assert.ok(n.x + n.w <= g.width && n.y + n.h <= g.height, `${n.component} inside the picture`);
});

test('shared receivers and exporters, a pipeline without processors: one node each, no overlaps, left to right', () => {
  const g = buildGraph(
    configFrom(`
receivers: { otlp: {} }
processors: { analytics: {}, batch: {}, batch/2: {} }
exporters: { file: { path: /tmp/x.jsonl }, debug: {}, nop: {} }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics, batch], exporters: [file, debug] }
    events/raw: { receivers: [otlp], processors: [analytics, batch/2], exporters: [debug] }
    traces: { receivers: [otlp], exporters: [nop, debug] }
`),
  );
  const find = (kind: string, component: string, pipeline?: string) => g.nodes.filter((n) => n.kind === kind && n.component === component && (pipeline === undefined || n.pipeline === pipeline));
  assert.equal(find('receiver', 'otlp').length, 1);
  assert.equal(find('exporter', 'debug').length, 1);
  assert.deepEqual(find('exporter', 'debug')[0]!.pipelines, ['events', 'events/raw', 'traces']);
  assert.equal(find('processor', 'analytics').length, 2, 'a processor instance per pipeline');
  const otlp = find('receiver', 'otlp')[0]!;
  const nop = find('exporter', 'nop')[0]!;
  assert.ok(g.edges.some((e) => e.from === otlp.id && e.to === nop.id && e.pipeline === 'traces'), 'receiver straight to exporter');
  for (const e of g.edges) {
    const a = g.nodes.find((n) => n.id === e.from)!;
    const b = g.nodes.find((n) => n.id === e.to)!;
    assert.ok(a.x < b.x, `edge ${a.component} → ${b.component} goes right`);
  }
  for (let i = 0; i < g.nodes.length; i++) for (let j = i + 1; j < g.nodes.length; j++) assert.ok(!overlaps(g.nodes[i]!, g.nodes[j]!), `${g.nodes[i]!.component} and ${g.nodes[j]!.component} overlap`);
  assert.deepEqual(g.lanes.map((l) => l.privacy), [false, false, false]);
});

test('connectors: a node between the stages they join, routes listed, every edge left to right, no overlaps', () => {
  const g = buildGraph(
    configFrom(`
receivers: { otlp: {} }
processors: { analytics: {}, batch: {}, privacy: { pseudonymization: { key: test-key-0123456789abcdef } } }
exporters: { file: { path: /tmp/x.jsonl }, debug: {}, nop: {} }
connectors:
  routing:
    default_pipelines: [events/warehouse]
    table:
      - match: { categories: [commerce] }
        pipelines: [events/saas]
  count: {}
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics, batch], exporters: [routing, count] }
    events/saas: { receivers: [routing], processors: [privacy], exporters: [debug] }
    events/warehouse: { receivers: [routing], exporters: [file] }
    metrics: { receivers: [count], exporters: [nop] }
`),
  );
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const find = (kind: string, component: string) => g.nodes.find((n) => n.kind === kind && n.component === component)!;
  const routing = find('connector', 'routing');
  assert.deepEqual(routing.routes, [
    { route: '0', pipelines: ['events/saas'] },
    { route: 'default', pipelines: ['events/warehouse'] },
  ]);
  assert.deepEqual(routing.pipelines, ['events', 'events/saas', 'events/warehouse']);
  assert.ok(routing.h > find('connector', 'count').h, 'room for the route lines');
  const label = (id: string) => `${byId.get(id)!.kind}:${byId.get(id)!.component}`;
  const edges = g.edges.map((e) => `${label(e.from)}>${label(e.to)}@${e.pipeline}`).sort();
  assert.deepEqual(edges, [
    'connector:count>exporter:nop@metrics',
    'connector:routing>exporter:file@events/warehouse',
    'connector:routing>processor:privacy@events/saas',
    'processor:analytics>processor:batch@events',
    'processor:batch>connector:count@events',
    'processor:batch>connector:routing@events',
    'processor:privacy>exporter:debug@events/saas',
    'receiver:otlp>processor:analytics@events',
  ]);
  for (const e of g.edges) assert.ok(byId.get(e.from)!.x < byId.get(e.to)!.x, `edge ${label(e.from)} → ${label(e.to)} goes right`);
  for (let i = 0; i < g.nodes.length; i++) for (let j = i + 1; j < g.nodes.length; j++) assert.ok(!overlaps(g.nodes[i]!, g.nodes[j]!), `${g.nodes[i]!.component} and ${g.nodes[j]!.component} overlap`);
  const saas = g.lanes.find((l) => l.pipeline === 'events/saas')!;
  assert.ok(saas.x > routing.x + routing.w, 'a fed pipeline\'s lane is right of its connector');
  for (const n of g.nodes) assert.ok(n.x + n.w <= g.width && n.y + n.h <= g.height, `${n.component} inside the picture`);
});
