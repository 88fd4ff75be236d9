// @ts-check
/** The Catalogue view: the event names the `catalogue` processors saw, their sources and property types (GET /api/catalogue). */
import { getJson } from './api.js';
import { h } from './dom.js';

/** A tally `{ key: count }` as text. @param {Record<string, number>} t @param {(k: string) => string} [f] */
function tally(t, f = (k) => k) {
  const parts = Object.entries(t ?? {}).map(([k, n]) => `${f(k)} (${n.toLocaleString('en-US')})`);
  return parts.length ? parts.join(', ') : '–';
}

/** @param {string} s */
const sourceName = (s) => (s.startsWith('rule:') ? `rule ${s.slice(5)}` : s.startsWith('log:') ? `log event ${s.slice(4)}` : s);

/** The types seen of a property, integer folded into number when both were. @param {Record<string, number>} types */
function typeText(types) {
  const seen = Object.keys(types ?? {});
  const list = seen.includes('number') ? seen.filter((t) => t !== 'integer') : seen;
  return list.join(' | ') || 'null';
}

/** @param {number} n @param {number} of */
const percent = (n, of) => (of ? `${Math.round((1000 * n) / of) / 10}%` : '–');

/** One event name: a row, and a row of its properties. @param {any} e */
function eventRows(e) {
  const props = Object.entries(e.properties ?? {}).map(([k, /** @type {any} */ p]) =>
    h('span', { class: 'prop' }, h('span', { class: 'key' }, k), `: ${typeText(p.types)} `, h('span', { class: 'muted' }, percent(p.count, e.count)), p.samples?.length ? h('span', { class: 'muted' }, ` e.g. ${p.samples.map((/** @type {unknown} */ v) => JSON.stringify(v)).join(', ')}`) : null),
  );
  return [
    h(
      'tr',
      { 'data-name': e.name },
      h('td', { class: 'name' }, e.name),
      h('td', { class: 'num' }, e.count.toLocaleString('en-US')),
      h('td', {}, tally(e.sources, sourceName)),
      h('td', {}, tally(e.services)),
      h('td', {}, [tally(e.categories), Object.keys(e.privacy_levels ?? {}).join(', ')].filter((x) => x && x !== '–').join(' · ') || '–'),
      h('td', {}, e.last_seen?.wall ?? '–'),
      h('td', { class: 'props' }, ...(props.length ? props : ['none']), e.properties_overflow ? h('span', { class: 'muted' }, ` +${e.properties_overflow} not recorded`) : null),
    ),
  ];
}

export async function loadCatalogue() {
  const root = /** @type {HTMLElement} */ (document.getElementById('catalogue'));
  let answer;
  try {
    answer = await getJson('api/catalogue');
  } catch (err) {
    root.replaceChildren(h('p', { class: 'errors' }, String(err)));
    return;
  }
  if (!answer.catalogues.length) {
    root.replaceChildren(h('p', { class: 'muted' }, 'No catalogue processor runs: add catalogue to an events pipeline, after privacy.'));
    return;
  }
  root.replaceChildren(
    ...answer.catalogues.map((/** @type {any} */ c) => {
      const cat = c.catalogue;
      const total = cat.events.reduce((/** @type {number} */ n, /** @type {any} */ e) => n + e.count, 0);
      return h(
        'div',
        { class: 'catalogue', 'data-processor': c.id },
        h(
          'h3',
          {},
          `${c.id} `,
          h('span', { class: 'muted' }, `pipelines ${c.pipelines.join(', ')} · ${cat.events.length} event names · ${total.toLocaleString('en-US')} events${cat.since ? ` since ${cat.since}` : ''}${cat.overflow.events ? ` · ${cat.overflow.events} events beyond ${cat.limits.max_event_names} names not recorded` : ''}`),
        ),
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', {}, 'event'), h('th', {}, 'count'), h('th', {}, 'sources'), h('th', {}, 'services'), h('th', {}, 'category · level'), h('th', {}, 'last received'), h('th', {}, 'properties: type, present in'))),
          h('tbody', {}, ...cat.events.flatMap(eventRows)),
        ),
      );
    }),
  );
}
