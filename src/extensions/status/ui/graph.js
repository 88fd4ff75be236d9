// @ts-check
/** The Pipelines view: the graph as SVG (layout comes from the server), rates polled every second. */
import { getJson } from './api.js';
import { h, rate, svg } from './dom.js';

const POLL_MILLIS = 1000;
const KIND_LABEL = { receiver: 'receiver', processor: 'processor', exporter: 'exporter', connector: 'connector' };
const ROUTE_LINE_HEIGHT = 16;

/** @type {any} */
let graph;
/** @type {Map<string, { line2: SVGElement, line3: SVGElement, box: SVGElement, tip: SVGElement, routes: Map<string, SVGElement> }>} */
const shapes = new Map();

/**
 * A route of a connector in words: `0 → events/amplitude`, `default → events/warehouse`, `none (dropped)`.
 * @param {{ route: string, pipelines: string[] }} r
 */
function routeText(r) {
  if (r.route === 'none') return 'no route: dropped';
  return `${r.route} → ${r.pipelines.join(', ')}`;
}
/** @type {ReturnType<typeof setInterval> | undefined} */
let timer;

/** @param {any} info the /api/graph answer */
export function renderGraph(info) {
  graph = info.graph;
  const host = /** @type {HTMLElement} */ (document.getElementById('graph'));
  const byId = new Map(graph.nodes.map((/** @type {any} */ n) => [n.id, n]));
  const root = svg('svg', { viewBox: `0 0 ${graph.width} ${graph.height}`, width: graph.width, height: graph.height, role: 'img', 'aria-label': 'pipeline graph' });
  root.append(
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }))),
  );
  for (const lane of graph.lanes) {
    root.append(
      svg('rect', { x: lane.x, y: lane.y, width: lane.w, height: lane.h, rx: 10, class: 'lane' }),
      svg('text', { x: lane.x + 10, y: lane.y + 13, class: 'lane-label' }, `pipeline ${lane.pipeline}${lane.privacy ? '' : ' (no privacy processor)'}`),
    );
  }
  for (const e of graph.edges) {
    const a = /** @type {any} */ (byId.get(e.from));
    const b = /** @type {any} */ (byId.get(e.to));
    const x1 = a.x + a.w;
    const y1 = a.y + a.h / 2;
    const x2 = b.x - 2;
    const y2 = b.y + b.h / 2;
    const mx = (x1 + x2) / 2;
    root.append(svg('path', { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, class: 'edge', 'marker-end': 'url(#arrow)', 'data-pipeline': e.pipeline }));
  }
  shapes.clear();
  for (const n of graph.nodes) {
    const tip = svg('title', {}, `${KIND_LABEL[/** @type {'receiver'} */ (n.kind)]} ${n.component}`);
    const box = svg('rect', { x: n.x, y: n.y, width: n.w, height: n.h, rx: 8, class: `node ${n.kind}` });
    const line2 = svg('text', { x: n.x + 10, y: n.y + 42, class: 'rates' }, '');
    const line3 = svg('text', { x: n.x + 10, y: n.y + 60, class: 'rates minor' }, '');
    /** @type {Map<string, SVGElement>} */
    const routes = new Map();
    (n.routes ?? []).forEach((/** @type {{ route: string, pipelines: string[] }} */ r, /** @type {number} */ i) => {
      const line = svg('text', { x: n.x + 10, y: n.y + 60 + (i + 1) * ROUTE_LINE_HEIGHT, class: 'rates route', 'data-route': r.route }, routeText(r));
      routes.set(r.route, line);
    });
    const g = svg(
      'g',
      { 'data-node': `${n.kind}:${n.component}${n.pipeline ? `@${n.pipeline}` : ''}`, 'data-id': n.id },
      tip,
      box,
      svg('text', { x: n.x + 10, y: n.y + 20, class: 'title' }, n.component),
      svg('text', { x: n.x + n.w - 8, y: n.y + 20, class: 'kind', 'text-anchor': 'end' }, n.kind),
      line2,
      line3,
      ...routes.values(),
    );
    root.append(g);
    shapes.set(n.id, { line2, line3, box, tip, routes });
  }
  host.replaceChildren(root);
}

/** @param {any} stats the /api/stats answer */
export function updateStats(stats) {
  if (!graph) return;
  const rows = [];
  for (const n of graph.nodes) {
    const s = stats.nodes[n.id];
    const shape = shapes.get(n.id);
    if (!s || !shape) continue;
    const r = s.rates;
    const queue = s.queue_capacity !== undefined ? `${s.queue_size ?? 0}/${s.queue_capacity}` : '';
    if (n.kind === 'exporter') {
      shape.line2.textContent = `in ${rate(r.in)}/s · sent ${rate(r.out)}/s`;
      shape.line3.textContent = `${queue ? `queue ${queue} · ` : ''}fail ${rate(r.failed)} · dl ${rate(r.dead_lettered)}`;
    } else if (n.kind === 'connector') {
      shape.line2.textContent = `in ${rate(r.in)}/s · out ${rate(r.out)}/s`;
      shape.line3.textContent = `dropped ${rate(r.dropped)}/s`;
      for (const route of n.routes ?? []) {
        const line = shape.routes.get(route.route);
        const rs = s.routes?.[route.route];
        if (line) line.textContent = `${routeText(route)}: ${rate(rs?.rate)}/s`;
      }
    } else if (n.kind === 'receiver') {
      shape.line2.textContent = `in ${rate(r.in)}/s · out ${rate(r.out)}/s`;
      const lag = s.kafka_lag ? ` · lag ${s.kafka_lag.reduce((/** @type {number} */ sum, /** @type {{ lag: number }} */ x) => sum + x.lag, 0)}` : '';
      shape.line3.textContent = `refused ${rate(r.refused)}/s${lag}`;
    } else {
      shape.line2.textContent = `in ${rate(r.in)}/s · out ${rate(r.out)}/s`;
      shape.line3.textContent = `refused ${rate(r.refused)} · dropped ${rate(r.dropped)}`;
    }
    const trouble = (r.refused ?? 0) + (r.failed ?? 0) + (r.dead_lettered ?? 0) > 0 || !!s.last_error;
    shape.box.classList.toggle('trouble', trouble);
    shape.tip.textContent = `${n.kind} ${n.component}${s.last_error ? `\nlast error (${s.last_error.time}): ${s.last_error.message}` : ''}`;
    rows.push(
      h(
        'tr',
        { 'data-node': `${n.kind}:${n.component}${n.pipeline ? `@${n.pipeline}` : ''}` },
        h('td', {}, `${n.kind} ${n.component}`),
        h('td', {}, n.pipeline ?? n.pipelines.join(', ')),
        h('td', { class: 'num', title: `total ${s.totals.in}` }, rate(r.in)),
        h('td', { class: 'num', title: `total ${s.totals.out}` }, rate(r.out)),
        h('td', { class: 'num', title: `total ${s.totals.refused}` }, rate(r.refused)),
        h('td', { class: 'num', title: `total ${s.totals.dropped}` }, rate(r.dropped)),
        h('td', { class: 'num', title: `total ${s.totals.dead_lettered}` }, rate(r.dead_lettered)),
        h('td', { class: 'num', title: `total ${s.totals.failed}` }, rate(r.failed)),
        h('td', { class: 'num' }, queue),
        h('td', { class: 'error' }, s.last_error ? `${s.last_error.time.slice(11, 19)} ${s.last_error.message}` : ''),
      ),
    );
    // A kafka receiver: the consumer group's lag per partition, and which ones this member holds.
    for (const p of s.kafka_lag ?? []) {
      rows.push(
        h(
          'tr',
          { 'data-node': `${n.kind}:${n.component}`, 'data-partition': `${p.topic}/${p.partition}`, class: 'route' },
          h('td', {}, `partition ${p.topic}/${p.partition}`),
          h('td', {}, `group ${p.group}`),
          h('td', { colspan: 8 }, `lag ${p.lag} · ${p.held ? 'held by this gateway' : 'held by another member'}`),
        ),
      );
    }
    for (const route of n.routes ?? []) {
      const rs = s.routes?.[route.route];
      rows.push(
        h(
          'tr',
          { 'data-node': `${n.kind}:${n.component}`, 'data-route': route.route, class: 'route' },
          h('td', {}, `route ${routeText(route)}`),
          h('td', {}, route.pipelines.join(', ')),
          h('td', { class: 'num', title: `total ${rs?.total ?? 0}` }, rate(rs?.rate)),
          h('td', { colspan: 7 }, ''),
        ),
      );
    }
  }
  const tbody = /** @type {HTMLElement} */ (document.querySelector('#node-table tbody'));
  tbody.replaceChildren(...rows);
}

async function poll() {
  try {
    updateStats(await getJson('api/stats'));
  } catch {
    // the next poll tries again; the header shows the gateway state
  }
}

/** Starts or stops polling (only while the view is shown). @param {boolean} on */
export function pollStats(on) {
  if (on && !timer) {
    void poll();
    timer = setInterval(poll, POLL_MILLIS);
  } else if (!on && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}
