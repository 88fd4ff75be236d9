/**
 * The pipeline graph of a resolved config, laid out for drawing: receivers in the first column,
 * each pipeline's processors in a row (a "lane"), exporters in the last column; edges receiver →
 * first processor → … → last processor → exporter, as the gateway wires them (`src/gateway.ts`).
 * Receivers and exporters are shared by the pipelines that list them, so each is placed near the
 * middle of its pipelines' lanes, pushed apart where they would overlap.
 *
 * Connectors join pipelines into stages: a pipeline fed by a connector sits one stage to the right
 * of the pipelines feeding that connector, and the connector in a column between the two stages,
 * so every edge still goes left to right (connectors never form cycles: refused at load). A
 * connector that reports routes (the routing connector) lists them in its box, one line each.
 *
 * Coordinates are SVG user units (pixels at 100 % zoom), origin top left.
 */
import type { Kind } from '../../component.js';
import type { GatewayConfig } from '../../config/resolve.js';

export const NODE_WIDTH = 176;
export const NODE_HEIGHT = 70;
const COLUMN_GAP = 64;
const LANE_HEIGHT = 104;
const LANE_PAD = 17;
const MARGIN = 24;
const MIN_GAP = 14;

/** Height of one route line in a connector's box. */
export const ROUTE_LINE_HEIGHT = 16;

export interface GraphNode {
  /** Stable id within one graph (`n0`, `n1`, …); stats use the same ids. */
  id: string;
  kind: Exclude<Kind, 'extension'>;
  /** Component id, `type[/name]`. */
  component: string;
  type: string;
  /** For processors: the pipeline whose instance this is. Receivers, exporters and connectors are shared. */
  pipeline?: string;
  /** Pipelines this node takes part in (for a connector: those exporting to it, then those it feeds). */
  pipelines: string[];
  /** For connectors that report routes: each route's label (`0`, `1`, …, `default`, `none`) and the pipelines it leads to. */
  routes?: { route: string; pipelines: string[] }[];
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  pipeline: string;
}

export interface GraphLane {
  pipeline: string;
  signal: string;
  /** Whether a `privacy` processor runs in this pipeline (what the tail shows depends on it). */
  privacy: boolean;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PipelineGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  lanes: GraphLane[];
  width: number;
  height: number;
}

/** Each pipeline's stage: 0 unless a connector feeds it, else one more than the pipelines feeding that connector. */
function pipelineStages(config: GatewayConfig): Map<string, number> {
  const feeders = new Map<string, string[]>();
  for (const use of config.connections.values()) {
    for (const [from, tos] of use.links) for (const to of tos) feeders.set(to, [...(feeders.get(to) ?? []), from]);
  }
  const stages = new Map<string, number>();
  const stageOf = (p: string, depth = 0): number => {
    const known = stages.get(p);
    if (known !== undefined) return known;
    const from = depth > config.pipelines.length ? [] : (feeders.get(p) ?? []);
    const s = from.length === 0 ? 0 : 1 + Math.max(...from.map((f) => stageOf(f, depth + 1)));
    stages.set(p, s);
    return s;
  };
  for (const p of config.pipelines) stageOf(p.id);
  return stages;
}

/** Builds and lays out the graph of `config`'s pipelines. */
export function buildGraph(config: GatewayConfig): PipelineGraph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const lanes: GraphLane[] = [];
  const stages = pipelineStages(config);
  const lastStage = Math.max(0, ...stages.values());
  // Columns: receivers; per stage its processor columns, then a column for the connectors after it; exporters.
  const stageStart: number[] = [];
  const stageWidth: number[] = [];
  const connectorColumn: number[] = [];
  const connectorStage = new Map<string, number>();
  for (const [id, use] of config.connections) connectorStage.set(id, Math.max(0, ...use.from.map((p) => stages.get(p) ?? 0)));
  let column = 1;
  for (let s = 0; s <= lastStage; s++) {
    const inStage = config.pipelines.filter((p) => stages.get(p.id) === s);
    stageStart[s] = column;
    stageWidth[s] = Math.max(1, ...inStage.map((p) => p.processors.length));
    column += stageWidth[s]!;
    if ([...connectorStage.values()].includes(s) && s < lastStage) connectorColumn[s] = column++;
  }
  const exporterColumn = column;
  const colX = (c: number) => MARGIN + c * (NODE_WIDTH + COLUMN_GAP);
  const laneY = (i: number) => MARGIN + i * LANE_HEIGHT;
  const add = (n: Omit<GraphNode, 'id' | 'w' | 'h'>, h = NODE_HEIGHT): GraphNode => {
    const node = { id: `n${nodes.length}`, w: NODE_WIDTH, h, ...n };
    nodes.push(node);
    return node;
  };
  const typeOf = (id: string) => id.split('/')[0]!;

  const receivers = new Map<string, GraphNode>();
  const exporters = new Map<string, GraphNode>();
  const connectors = new Map<string, GraphNode>();
  for (const p of config.pipelines) {
    for (const r of p.receivers) if (config.receivers.has(r) && !receivers.has(r)) receivers.set(r, add({ kind: 'receiver', component: r, type: typeOf(r), pipelines: [], x: colX(0), y: 0 }));
  }
  for (const [id, use] of config.connections) {
    const c = config.connectors.get(id)!;
    const routes = c.factory.routes?.(c.config).map((r) => ({ route: r.route, pipelines: [...r.pipelines] }));
    const stage = connectorStage.get(id)!;
    connectors.set(
      id,
      add(
        { kind: 'connector', component: id, type: typeOf(id), pipelines: [...use.from, ...use.to.filter((t) => !use.from.includes(t))], ...(routes ? { routes } : {}), x: colX(connectorColumn[stage] ?? exporterColumn), y: 0 },
        NODE_HEIGHT + (routes?.length ?? 0) * ROUTE_LINE_HEIGHT,
      ),
    );
  }
  config.pipelines.forEach((p, i) => {
    const y = laneY(i) + LANE_PAD;
    const stage = stages.get(p.id) ?? 0;
    const privacy = p.processors.some((id) => config.processors.get(id)?.factory.type === 'privacy');
    lanes.push({ pipeline: p.id, signal: p.signal, privacy, x: colX(stageStart[stage]!) - LANE_PAD, y: laneY(i), w: stageWidth[stage]! * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP + 2 * LANE_PAD, h: LANE_HEIGHT - 8 });
    const chain = p.processors.map((id, c) => add({ kind: 'processor', component: id, type: typeOf(id), pipeline: p.id, pipelines: [p.id], x: colX(stageStart[stage]! + c), y }));
    for (const r of p.receivers) receivers.get(r)?.pipelines.push(p.id);
    for (let c = 1; c < chain.length; c++) edges.push({ from: chain[c - 1]!.id, to: chain[c]!.id, pipeline: p.id });
    const firstTargets = chain.length > 0 ? [chain[0]!] : [];
    for (const e of p.exporters) {
      let en = connectors.get(e) ?? exporters.get(e);
      if (!en) exporters.set(e, (en = add({ kind: 'exporter', component: e, type: typeOf(e), pipelines: [], x: colX(exporterColumn), y: 0 })));
      if (en.kind === 'exporter') en.pipelines.push(p.id);
      if (chain.length === 0) firstTargets.push(en);
      else edges.push({ from: chain[chain.length - 1]!.id, to: en.id, pipeline: p.id });
    }
    for (const r of p.receivers) {
      const from = receivers.get(r) ?? connectors.get(r);
      if (from) for (const t of firstTargets) edges.push({ from: from.id, to: t.id, pipeline: p.id });
    }
  });

  const laneIndex = new Map(config.pipelines.map((p, i) => [p.id, i]));
  const place = (column: GraphNode[]) => {
    const wanted = (n: GraphNode) => {
      const ys = n.pipelines.map((p) => laneY(laneIndex.get(p)!) + LANE_PAD);
      return ys.reduce((a, b) => a + b, 0) / Math.max(ys.length, 1);
    };
    const sorted = column.map((n) => ({ n, y: wanted(n) })).sort((a, b) => a.y - b.y);
    let next = MARGIN;
    for (const s of sorted) {
      s.n.y = Math.max(s.y, next);
      next = s.n.y + s.n.h + MIN_GAP;
    }
  };
  place([...receivers.values()]);
  for (const x of new Set([...connectors.values()].map((n) => n.x))) place([...connectors.values()].filter((n) => n.x === x && n.x !== colX(exporterColumn)));
  place([...exporters.values(), ...[...connectors.values()].filter((n) => n.x === colX(exporterColumn))]);

  const width = colX(exporterColumn + 1) - COLUMN_GAP + MARGIN;
  const height = Math.max(MARGIN + config.pipelines.length * LANE_HEIGHT, ...nodes.map((n) => n.y + n.h)) + MARGIN;
  return { nodes, edges, lanes, width, height };
}
