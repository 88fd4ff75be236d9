/**
 * Tracking plans and the catalogue: a starting plan inferred from a catalogue (`otelytics catalogue
 * --write-plan`), and the properties a plan marks safe to sample (`"x-sample": true`).
 *
 * The plan format (read by the `tracking_plan` processor):
 *
 *     events:
 *       <event name>:
 *         description: ...        # optional
 *         category: commerce      # optional
 *         privacy_level: public   # optional
 *         properties:             # a JSON Schema (draft 2020-12) of the event's properties object
 *           type: object
 *           required: [...]
 *           properties: { <name>: { type: ... } }
 *           additionalProperties: false
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { JSON_TYPES, type CatalogueSnapshot, type EventSnapshot, type JsonType, type PropertySnapshot } from './recorder.js';

export interface PropertySchema {
  type: JsonType | JsonType[];
  'x-sample'?: true;
  [keyword: string]: unknown;
}

export interface PlanEvent {
  description?: string;
  category?: string;
  privacy_level?: string;
  properties: {
    type: 'object';
    required?: string[];
    properties: Record<string, PropertySchema>;
    additionalProperties: false;
  };
}

export interface TrackingPlan {
  events: Record<string, PlanEvent>;
}

/** The JSON Schema type of a property from the types seen: `integer` only when nothing else numeric was; a list when several. */
export function schemaType(p: PropertySnapshot): JsonType | JsonType[] {
  const seen = new Set(JSON_TYPES.filter((t) => (p.types[t] ?? 0) > 0));
  if (seen.has('number')) seen.delete('integer');
  const list = JSON_TYPES.filter((t) => seen.has(t));
  if (list.length === 0) return 'null';
  return list.length === 1 ? list[0]! : list;
}

const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

/** "seen 1,234 times from rule pdp-view in shop-web". */
export function describeEvent(e: EventSnapshot): string {
  const sources = Object.keys(e.sources).map((s) => (s.startsWith('rule:') ? `rule ${s.slice(5)}` : s.startsWith('log:') ? `log event ${s.slice(4)}` : s));
  const services = Object.keys(e.services);
  return `seen ${plural(e.count, 'time')}${sources.length ? ` from ${sources.join(', ')}` : ''}${services.length ? ` in ${services.join(', ')}` : ''}`;
}

/** The one value of a tally when every event had it (e.g. the category all events of a name carried). */
function only(t: Record<string, number>, count: number): string | undefined {
  const keys = Object.keys(t);
  return keys.length === 1 && t[keys[0]!] === count ? keys[0] : undefined;
}

/**
 * A starting plan from what was observed: every event name with its properties, typed as seen,
 * `required` the properties every event of the name carried, `additionalProperties: false`.
 * Properties that kept samples (marked safe) keep `"x-sample": true`. An event name whose
 * properties overflowed the catalogue's limit gets no `additionalProperties: false` (its list is
 * incomplete).
 */
export function inferPlan(c: CatalogueSnapshot): TrackingPlan {
  const events: Record<string, PlanEvent> = {};
  for (const e of c.events) {
    const properties: Record<string, PropertySchema> = {};
    const required: string[] = [];
    for (const [key, p] of Object.entries(e.properties).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      properties[key] = { type: schemaType(p), ...(p.samples !== undefined ? { 'x-sample': true as const } : {}) };
      if (p.count === e.count) required.push(key);
    }
    const category = only(e.categories, e.count);
    const level = only(e.privacy_levels, e.count);
    const schema: PlanEvent['properties'] = { type: 'object', ...(required.length ? { required } : {}), properties, additionalProperties: false };
    if (e.properties_overflow > 0) delete (schema as Partial<PlanEvent['properties']>).additionalProperties;
    events[e.name] = {
      description: describeEvent(e),
      ...(category !== undefined ? { category } : {}),
      ...(level !== undefined ? { privacy_level: level } : {}),
      properties: schema,
    };
  }
  return { events };
}

/** The plan as YAML, property schemas on one line each (`item_id: { type: string }`). */
export function planYaml(plan: TrackingPlan, header?: string): string {
  const doc = new YAML.Document(plan);
  YAML.visit(doc, {
    Pair(_, pair) {
      const key = (pair.key as YAML.Scalar | undefined)?.value;
      if (key === 'required' && YAML.isSeq(pair.value)) pair.value.flow = true;
    },
    Map(_, map) {
      // The schema of one property (a type, no properties of its own): on one line.
      if (map.has('type') && !map.has('properties')) map.flow = true;
    },
  });
  if (header) doc.commentBefore = header;
  return doc.toString({ lineWidth: 0 });
}

/**
 * The properties a plan marks safe to sample: `{ event name: [property, ...] }` for each property
 * schema with `"x-sample": true`.
 * @throws Error when the file cannot be read or is not a plan.
 */
export function planSampleProperties(file: string): Record<string, string[]> {
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { events?: Record<string, { properties?: { properties?: Record<string, { 'x-sample'?: unknown }> } }> } | null;
  if (!doc || typeof doc !== 'object' || typeof doc.events !== 'object' || doc.events === null) throw new Error(`${file}: not a tracking plan (no events: map)`);
  const out: Record<string, string[]> = {};
  for (const [name, ev] of Object.entries(doc.events)) {
    const props = ev?.properties?.properties ?? {};
    const safe = Object.entries(props).filter(([, s]) => s && typeof s === 'object' && s['x-sample'] === true).map(([k]) => k);
    if (safe.length) out[name] = safe;
  }
  return out;
}
