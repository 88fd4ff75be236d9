// @ts-check
/** The Tail view: events as exporters get them, streamed from /api/tail, filtered by pipeline and name. */
import { readEvents } from './api.js';
import { clock, h } from './dom.js';

const MAX_LINES = 500;

/** @type {AbortController | undefined} */
let current;
let paused = false;
let skipped = 0;
let shown = 0;

const list = () => /** @type {HTMLOListElement} */ (document.getElementById('tail-list'));
const state = () => /** @type {HTMLElement} */ (document.getElementById('tail-state'));

/** A short text of a JSON value. @param {unknown} v */
function short(v) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 48 ? `${s.slice(0, 47)}…` : s;
}

/** One line per event; a click shows every field. @param {any} item */
function line(item) {
  const e = item.event;
  const who = e.user_id ?? e.device_id;
  const props = Object.entries(e.properties ?? {}).map(([k, v]) => h('span', { class: 'prop' }, h('span', { class: 'key' }, `${k}=`), short(v)));
  const li = h(
    'li',
    { 'data-name': e.name, 'data-pipeline': item.pipeline },
    h('span', { class: 'time' }, clock(e.time_unix_nano)),
    h('span', { class: 'pipeline' }, item.pipeline),
    // With several workers, the worker whose pipeline the event passed.
    item.worker === undefined ? null : h('span', { class: 'worker', title: `worker ${item.worker}` }, `w${item.worker}`),
    h('span', { class: 'name' }, e.name),
    h('span', { class: who ? 'user' : 'user anon' }, who ? short(who) : 'anonymous'),
    ...props,
  );
  li.addEventListener('click', () => {
    const open = li.querySelector('pre');
    if (open) open.remove();
    else li.append(h('pre', {}, JSON.stringify(e, null, 2)));
  });
  return li;
}

function showState(/** @type {string} */ text) {
  state().textContent = `${text} · ${shown} shown${skipped ? ` · ${skipped} not shown (rate limit or buffer)` : ''}`;
}

/** (Re)connects with the current filter. */
function connect() {
  current?.abort();
  if (paused) return;
  const pipeline = /** @type {HTMLSelectElement} */ (document.getElementById('tail-pipeline')).value;
  const name = /** @type {HTMLInputElement} */ (document.getElementById('tail-name')).value.trim();
  const q = new URLSearchParams();
  if (pipeline) q.set('pipeline', pipeline);
  if (name) q.set('name', name);
  const ctl = new AbortController();
  current = ctl;
  list().replaceChildren();
  shown = 0;
  skipped = 0;
  showState('connecting');
  readEvents(
    `api/tail?${q}`,
    (type, data) => {
      if (type === 'hello') return showState('live');
      if (type === 'skipped') {
        skipped += data.count;
        return showState('live');
      }
      const ol = list();
      for (const item of data.items) {
        ol.prepend(line(item));
        shown++;
      }
      while (ol.childElementCount > MAX_LINES) ol.lastElementChild?.remove();
      showState('live');
    },
    ctl.signal,
  ).then(
    () => current === ctl && showState('disconnected'),
    (err) => current === ctl && !ctl.signal.aborted && showState(`disconnected: ${err.message}`),
  );
}

/** @param {string[]} pipelines */
export function setupTail(pipelines) {
  const select = /** @type {HTMLSelectElement} */ (document.getElementById('tail-pipeline'));
  select.replaceChildren(h('option', { value: '' }, 'all events pipelines'), ...pipelines.map((p) => h('option', { value: p }, p)));
  select.addEventListener('change', connect);
  let debounce = 0;
  document.getElementById('tail-name')?.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = window.setTimeout(connect, 300);
  });
  document.getElementById('tail-controls')?.addEventListener('submit', (e) => e.preventDefault());
  const pause = /** @type {HTMLButtonElement} */ (document.getElementById('tail-pause'));
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (paused) {
      current?.abort();
      showState('paused');
    } else connect();
  });
  document.getElementById('tail-clear')?.addEventListener('click', () => list().replaceChildren());
}

/** Watches only while the view is shown (the gateway copies events only while someone watches). @param {boolean} on */
export function watchTail(on) {
  if (on) connect();
  else {
    current?.abort();
    current = undefined;
  }
}
