// @ts-check
/** The Playground view: input, analytics YAML and privacy YAML in; events and privacy changes out. */
import { api, getJson } from './api.js';
import { h } from './dom.js';

/** @type {any} */
let data;
let runId = 0;

const el = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

/** @param {string} id @param {any[]} messages */
function showErrors(id, messages) {
  el(id).replaceChildren(...messages.map((m) => h('li', {}, `${m.line ? `line ${m.line}: ` : ''}${m.path ? `${m.path}: ` : ''}${m.message}`)));
}

/** @param {unknown} v */
const json = (v) => JSON.stringify(v, null, 2);

/** @param {any} e one DryRunEvent */
function card(e) {
  const name = e.exported?.name ?? e.made.name;
  const badge = e.privacy ? h('span', { class: `badge ${e.privacy.outcome}` }, `${e.privacy.outcome} (${e.privacy.reason})`) : null;
  const changes = e.changes.length
    ? h(
        'ul',
        { class: 'changes' },
        ...e.changes.map((/** @type {any} */ c) =>
          h('li', { 'data-action': c.action }, h('code', {}, c.path), ` ${c.action}`, c.after !== undefined ? h('span', {}, ' → ', h('code', {}, JSON.stringify(c.after))) : null),
        ),
      )
    : h('p', { class: 'muted' }, e.exported ? 'privacy changed nothing' : '');
  return h(
    'article',
    { class: 'event', 'data-name': name },
    h('h3', {}, name, ' ', badge),
    e.exported ? h('details', { open: true }, h('summary', {}, 'as exporters get it'), h('pre', {}, json(e.exported))) : h('p', { class: 'dropped' }, 'dropped by privacy: no exporter gets it'),
    h('details', {}, h('summary', {}, 'as the rule made it (before privacy)'), h('pre', {}, json(e.made))),
    h('div', {}, h('strong', {}, 'what privacy did'), changes),
  );
}

async function run() {
  const id = ++runId;
  const body = { input: el('pg-input').value, analytics: el('pg-analytics').value, privacy: el('pg-privacy').value };
  el('pg-summary').textContent = 'running…';
  let res;
  try {
    const r = await api('api/playground', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    res = await r.json();
  } catch (err) {
    res = { ok: false, errors: { input: [{ path: '', message: String(err) }], analytics: [], privacy: [] } };
  }
  if (id !== runId) return;
  const errors = res.errors ?? { input: [{ path: '', message: res.error ?? 'failed' }], analytics: [], privacy: [] };
  showErrors('pg-input-errors', errors.input);
  showErrors('pg-analytics-errors', errors.analytics);
  showErrors('pg-privacy-errors', errors.privacy);
  el('pg-analytics').classList.toggle('invalid', errors.analytics.length > 0);
  el('pg-privacy').classList.toggle('invalid', errors.privacy.length > 0);
  el('pg-input').classList.toggle('invalid', errors.input.length > 0);
  if (!res.ok) {
    el('pg-summary').textContent = 'fix the errors to see events';
    el('pg-result').replaceChildren();
    return;
  }
  const r = res.result;
  const kept = r.events.filter((/** @type {any} */ e) => e.exported).length;
  el('pg-summary').textContent = `${r.items} ${r.signal === 'traces' ? 'span(s)' : 'log record(s)'} → ${r.events.length} event(s) made, ${kept} after privacy${res.privacy?.ran ? (res.privacy.playgroundKey ? ' (playground key)' : '') : ' (privacy not run)'}`;
  el('pg-result').replaceChildren(...r.events.map(card));
}

function loadPipeline() {
  const p = data.pipelines.find((/** @type {any} */ x) => x.pipeline === el('pg-pipeline').value);
  el('pg-analytics').value = p?.analytics ?? 'rules: []\n';
  el('pg-privacy').value = p?.privacy ?? '';
}

function loadSample() {
  const s = data.samples.find((/** @type {any} */ x) => x.id === el('pg-sample').value);
  if (s) el('pg-input').value = s.json;
}

export async function setupPlayground() {
  data = await getJson('api/playground');
  el('pg-sample').replaceChildren(...data.samples.map((/** @type {any} */ s) => h('option', { value: s.id }, s.title)), h('option', { value: '' }, 'your own (paste below)'));
  el('pg-pipeline').replaceChildren(
    ...data.pipelines.map((/** @type {any} */ p) => h('option', { value: p.pipeline }, `from pipeline ${p.pipeline} (${p.analytics_id}${p.privacy_id ? `, ${p.privacy_id}` : ''})`)),
    h('option', { value: '' }, 'empty'),
  );
  loadSample();
  loadPipeline();
  let debounce = 0;
  const later = () => {
    clearTimeout(debounce);
    debounce = window.setTimeout(run, 400);
  };
  el('pg-sample').addEventListener('change', () => {
    loadSample();
    void run();
  });
  el('pg-pipeline').addEventListener('change', () => {
    loadPipeline();
    void run();
  });
  for (const id of ['pg-input', 'pg-analytics', 'pg-privacy']) el(id).addEventListener('input', later);
  el('pg-run').addEventListener('click', () => void run());
  await run();
}
