// @ts-check
/** Tiny DOM helpers: elements from tag, attributes and children; text is always set as text. */

/**
 * @param {string} tag
 * @param {Record<string, string | number | boolean | undefined>} [attrs]
 * @param {...(Node | string | number | null | undefined)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== false) el.setAttribute(k, v === true ? '' : String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(typeof c === 'object' ? c : String(c));
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * @param {string} tag
 * @param {Record<string, string | number | undefined>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/**
 * A rate for display: "–" when unknown, else up to 3 significant digits with k/M.
 * @param {number | null | undefined} v
 */
export function rate(v) {
  if (v === null || v === undefined) return '–';
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 100 || v === 0) return v.toFixed(0);
  return v.toFixed(1);
}

/**
 * Nanoseconds since the epoch (decimal string) as local time with milliseconds.
 * @param {string} nanos
 */
export function clock(nanos) {
  const ms = Number(BigInt(nanos || '0') / 1000000n);
  const d = new Date(ms);
  const pad = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
