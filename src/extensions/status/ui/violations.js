// @ts-check
/** The Violations view: the latest events that broke a tracking plan, polled while the view is shown. */
import { getJson } from './api.js';
import { h } from './dom.js';

const POLL_MILLIS = 2000;
/** @type {ReturnType<typeof setInterval> | undefined} */
let timer;

async function poll() {
  /** @type {{ items: { time: string, processor: string, pipeline: string, event_name: string, insert_id: string, outcome: string, violations: { kind: string, property: string, message: string }[] }[], totals: Record<string, number> }} */
  let r;
  try {
    r = await getJson('api/violations?limit=100');
  } catch {
    return;
  }
  const totals = /** @type {HTMLElement} */ (document.getElementById('violation-totals'));
  totals.textContent = `since start: ${Object.entries(r.totals).map(([k, n]) => `${k} ${n}`).join(' · ')}`;
  const body = /** @type {HTMLElement} */ (document.querySelector('#violation-table tbody'));
  body.replaceChildren(
    ...r.items.flatMap((i) =>
      i.violations.map((v, n) =>
        h(
          'tr',
          {},
          h('td', {}, n === 0 ? new Date(i.time).toLocaleTimeString() : ''),
          h('td', {}, n === 0 ? i.event_name : ''),
          h('td', {}, n === 0 ? i.outcome : ''),
          h('td', {}, v.kind),
          h('td', {}, h('code', {}, v.property || '–')),
          h('td', {}, v.message),
          h('td', { class: 'muted' }, n === 0 ? `${i.processor} (${i.pipeline})` : ''),
        ),
      ),
    ),
  );
  if (r.items.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'no violations yet')));
}

/**
 * Polls the violations while `on`.
 * @param {boolean} on
 */
export function watchViolations(on) {
  if (on && !timer) {
    void poll();
    timer = setInterval(poll, POLL_MILLIS);
  } else if (!on && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}
