/**
 * The pipeline graph of a resolved config, laid out for drawing: receivers in the first column,
 * each pipeline's processors in a row (a "lane") in the middle columns, exporters in the last
 * column; edges receiver → first processor → … → last processor → exporter, as the gateway wires
 * them (`src/gateway.ts`). Receivers and exporters are shared by the pipelines that list them, so
 * each is placed near the middle of its pipelines' lanes, pushed apart where they would overlap.
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

export interface GraphNode {
  /** Stable id within one graph (`n0`, `n1`, …); stats use the same ids. */
  id: string;
  kind: Exclude<Kind, 'extension'>;
  /** Component id, `type[/name]`. */
  component: string;
  type: string;
  /** For processors: the pipeline whose instance this is. Receivers and exporters are shared. */
  pipeline?: string;
  /** Pipelines this node takes part in. */
  pipelines: string[];
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

/** Builds and lays out the graph of `config`'s pipelines. */
export function buildGraph(config: GatewayConfig): PipelineGraph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const lanes: GraphLane[] = [];
  const columns = Math.max(0, ...config.pipelines.map((p) => p.processors.length));
  const colX = (c: number) => MARGIN + c * (NODE_WIDTH + COLUMN_GAP);
  const laneY = (i: number) => MARGIN + i * LANE_HEIGHT;
  const add = (n: Omit<GraphNode, 'id' | 'w' | 'h'>): GraphNode => {
    const node = { id: `n${nodes.length}`, w: NODE_WIDTH, h: NODE_HEIGHT, ...n };
    nodes.push(node);
    return node;
  };
  const typeOf = (id: string) => id.split('/')[0]!;

  const receivers = new Map<string, GraphNode>();
  const exporters = new Map<string, GraphNode>();
  for (const p of config.pipelines) {
    for (const r of p.receivers) if (!receivers.has(r)) receivers.set(r, add({ kind: 'receiver', component: r, type: typeOf(r), pipelines: [], x: colX(0), y: 0 }));
  }
  config.pipelines.forEach((p, i) => {
    const y = laneY(i) + LANE_PAD;
    const privacy = p.processors.some((id) => config.processors.get(id)?.factory.type === 'privacy');
    lanes.push({ pipeline: p.id, signal: p.signal, privacy, x: colX(1) - LANE_PAD, y: laneY(i), w: Math.max(columns, 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP + 2 * LANE_PAD, h: LANE_HEIGHT - 8 });
    const chain = p.processors.map((id, c) => add({ kind: 'processor', component: id, type: typeOf(id), pipeline: p.id, pipelines: [p.id], x: colX(c + 1), y }));
    for (const r of p.receivers) {
      const rn = receivers.get(r)!;
      rn.pipelines.push(p.id);
    }
    for (let c = 1; c < chain.length; c++) edges.push({ from: chain[c - 1]!.id, to: chain[c]!.id, pipeline: p.id });
    const firstTargets = chain.length > 0 ? [chain[0]!] : [];
    for (const e of p.exporters) {
      let en = exporters.get(e);
      if (!en) exporters.set(e, (en = add({ kind: 'exporter', component: e, type: typeOf(e), pipelines: [], x: colX(columns + 1), y: 0 })));
      en.pipelines.push(p.id);
      if (chain.length === 0) firstTargets.push(en);
      else edges.push({ from: chain[chain.length - 1]!.id, to: en.id, pipeline: p.id });
    }
    for (const r of p.receivers) for (const t of firstTargets) edges.push({ from: receivers.get(r)!.id, to: t.id, pipeline: p.id });
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
      next = s.n.y + NODE_HEIGHT + MIN_GAP;
    }
  };
  place([...receivers.values()]);
  place([...exporters.values()]);

  const width = colX(columns + 2) - COLUMN_GAP + MARGIN;
  const height = Math.max(MARGIN + config.pipelines.length * LANE_HEIGHT, ...nodes.map((n) => n.y + n.h)) + MARGIN;
  return { nodes, edges, lanes, width, height };
}
