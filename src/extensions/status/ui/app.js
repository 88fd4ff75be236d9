// @ts-check
/** The status page: views behind hash links (#graph, #tail, #violations, #playground, #catalogue). */
import { getJson } from './api.js';
import { loadCatalogue } from './catalogue.js';
import { pollStats, renderGraph } from './graph.js';
import { setupPlayground } from './playground.js';
import { setupTail, watchTail } from './tail.js';
import { watchViolations } from './violations.js';

let playgroundReady = false;
/** @type {any} */
let info;

function show() {
  const view = (location.hash || '#graph').slice(1);
  for (const v of ['graph', 'tail', 'violations', 'playground', 'catalogue']) {
    /** @type {HTMLElement} */ (document.getElementById(`view-${v}`)).hidden = v !== view;
    document.querySelector(`nav a[data-view="${v}"]`)?.classList.toggle('active', v === view);
  }
  pollStats(view === 'graph');
  watchTail(view === 'tail');
  if (view === 'catalogue') void loadCatalogue();
  watchViolations(view === 'violations' && info?.violations);
  if (view === 'playground' && !playgroundReady && info?.playground) {
    playgroundReady = true;
    void setupPlayground();
  }
}

async function main() {
  info = await getJson('api/graph');
  const state = /** @type {HTMLElement} */ (document.getElementById('gateway-state'));
  state.textContent = `v${info.version} · ${info.ready ? 'ready' : 'starting or draining'}`;
  state.classList.toggle('ok', info.ready);
  renderGraph(info);
  setupTail(info.tail.pipelines);
  if (!info.violations) document.querySelector('nav a[data-view="violations"]')?.remove();
  if (!info.playground) document.querySelector('nav a[data-view="playground"]')?.remove();
  document.getElementById('catalogue-refresh')?.addEventListener('click', () => void loadCatalogue());
  window.addEventListener('hashchange', show);
  show();
}

void main();
