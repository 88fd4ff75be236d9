/**
 * Tracking plans: which events exist and what their properties look like, as analytics teams keep
 * them (Segment Protocols, RudderStack tracking plans, Amplitude Data). A plan is YAML or JSON:
 *
 * ```yaml
 * events:
 *   view_item:
 *     description: A product page was viewed   # optional
 *     category: commerce                       # optional: set on the event when it has none
 *     privacy_level: public                    # optional: likewise
 *     properties:                              # JSON Schema (draft 2020-12) of the properties object
 *       type: object
 *       required: [item_id]
 *       properties: { item_id: { type: string } }
 * ```
 *
 * Each event's schema is compiled once, when the plan is read (ajv, draft 2020-12, with the
 * formats of ajv-formats); checking an event is a Map lookup and a call of its compiled validator.
 * Failures are named as Segment and RudderStack name them ({@link ViolationKind}).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import YAML from 'yaml';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';

export const VIOLATION_KINDS = ['unplanned_event', 'required_missing', 'datatype_mismatch', 'additional_property', 'value_out_of_range'] as const;
/**
 * - `unplanned_event`: the event's name is not in the plan;
 * - `required_missing`: a `required` property is missing;
 * - `datatype_mismatch`: a value has another `type`;
 * - `additional_property`: a property the schema does not allow (`additionalProperties`, `unevaluatedProperties`);
 * - `value_out_of_range`: any other failed keyword (enum, const, minimum, maximum, exclusive*,
 *   minLength, maxLength, pattern, format, multipleOf, ...).
 */
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

/** One way an event breaks the plan. `property`: a JSON pointer into the event's properties (`/item_id`, `/items/0/price`); `""` for the event itself. */
export interface Violation {
  kind: ViolationKind;
  property: string;
  message: string;
}

export interface PlannedEvent {
  description?: string;
  category?: string;
  privacy_level?: string;
  /** The compiled schema of the properties; undefined: any properties. */
  validate?: ValidateFunction;
}

export interface TrackingPlan {
  events: ReadonlyMap<string, PlannedEvent>;
}

/** A problem in a plan, at `path` below the plan's root (`events::view_item::properties`). */
export interface PlanIssue {
  path: (string | number)[];
  message: string;
}

const EVENT_KEYS = new Set(['description', 'category', 'privacy_level', 'properties']);
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const require = createRequire(import.meta.url);

/** ajv with its 2020-12 dialect and formats, loaded with the first plan compiled (a gateway without plans does not load it). */
function newAjv(): Ajv2020 {
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const addFormats = require('ajv-formats') as (a: Ajv2020) => void;
  // strict: an unknown keyword (`requried`) is an error rather than a check that silently never runs.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  // An annotation, no check: the property is safe to keep sample values of (processors/catalogue).
  ajv.addKeyword({ keyword: 'x-sample', schemaType: 'boolean' });
  return ajv;
}

/** The first line of an error, without ajv's "strict mode: " prefix. */
const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/^strict mode: /, '');

/**
 * Checks and compiles a plan (the parsed YAML or JSON). Every problem is reported with its path;
 * the plan is returned only when there is none.
 */
export function compilePlan(raw: unknown): { plan?: TrackingPlan; issues: PlanIssue[] } {
  const issues: PlanIssue[] = [];
  if (!isMap(raw)) return { issues: [{ path: [], message: 'a tracking plan is a map with an events key' }] };
  for (const k of Object.keys(raw)) if (k !== 'events') issues.push({ path: [k], message: 'unknown key (a tracking plan has only events)' });
  const events = raw.events;
  if (events === undefined || events === null) return { issues: [...issues, { path: ['events'], message: 'is required: a map of event name to its description, category, privacy_level and properties' }] };
  if (!isMap(events)) return { issues: [...issues, { path: ['events'], message: 'must be a map of event name to its definition' }] };
  const ajv = newAjv();
  const out = new Map<string, PlannedEvent>();
  for (const [name, def] of Object.entries(events)) {
    const at = ['events', name];
    if (name === '') issues.push({ path: at, message: 'an event name must not be empty' });
    if (def === null || def === undefined) {
      out.set(name, {});
      continue;
    }
    if (!isMap(def)) {
      issues.push({ path: at, message: 'must be a map (description, category, privacy_level, properties)' });
      continue;
    }
    const planned: PlannedEvent = {};
    for (const k of Object.keys(def)) if (!EVENT_KEYS.has(k)) issues.push({ path: [...at, k], message: `unknown key (known: ${[...EVENT_KEYS].join(', ')})` });
    for (const k of ['description', 'category', 'privacy_level'] as const) {
      const v = def[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' || v === '') issues.push({ path: [...at, k], message: 'must be a non-empty string' });
      else planned[k] = v;
    }
    const schema = def.properties;
    if (schema !== undefined && schema !== null) {
      if (!isMap(schema) && typeof schema !== 'boolean') issues.push({ path: [...at, 'properties'], message: 'must be a JSON Schema (an object, or true/false)' });
      else if (!ajv.validateSchema(schema)) {
        for (const e of ajv.errors ?? []) issues.push({ path: [...at, 'properties', ...pointerKeys(e.instancePath)], message: e.message ?? 'invalid JSON Schema' });
      } else {
        try {
          planned.validate = ajv.compile(schema);
        } catch (err) {
          issues.push({ path: [...at, 'properties'], message: firstLine(err) });
        }
      }
    }
    out.set(name, planned);
  }
  return issues.length > 0 ? { issues } : { plan: { events: out }, issues };
}

/** Reads a plan file (YAML, or JSON, which YAML reads too) and compiles it. @throws Error naming the file and each problem's path. */
export function readPlanFile(file: string): TrackingPlan {
  const text = fs.readFileSync(file, 'utf8');
  return parsePlan(text, file);
}

/** Parses and compiles a plan's text. @throws Error naming `source` and each problem's path. */
export function parsePlan(text: string, source: string): TrackingPlan {
  const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`${source}: not YAML or JSON: ${doc.errors[0]!.message.split('\n')[0]}`);
  const { plan, issues } = compilePlan(doc.toJS({ maxAliasCount: 100 }));
  if (!plan) throw new Error(`${source}: ${issues.map((i) => `${i.path.length ? `${i.path.join('::')}: ` : ''}${i.message}`).join('; ')}`);
  return plan;
}

/** The keys of a JSON pointer (`/a~1b/0` → `['a/b', '0']`). */
export function pointerKeys(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const escapeKey = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

function violationOf(e: ErrorObject): Violation | undefined {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'if':
      return undefined; // the failed `then`/`else` keywords are reported themselves
    case 'required':
    case 'dependentRequired':
      return { kind: 'required_missing', property: `${e.instancePath}/${escapeKey(String(p.missingProperty))}`, message: e.message ?? 'required property missing' };
    case 'type':
      return { kind: 'datatype_mismatch', property: e.instancePath, message: e.message ?? 'wrong type' };
    case 'additionalProperties':
      return { kind: 'additional_property', property: `${e.instancePath}/${escapeKey(String(p.additionalProperty))}`, message: 'must NOT have additional properties' };
    case 'unevaluatedProperties':
      return { kind: 'additional_property', property: `${e.instancePath}/${escapeKey(String(p.unevaluatedProperty))}`, message: 'must NOT have unevaluated properties' };
    default: {
      let message = e.message ?? `fails ${e.keyword}`;
      if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) message = `must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      return { kind: 'value_out_of_range', property: e.instancePath, message };
    }
  }
}

/** `event "x" is not in the tracking plan`, the one violation of an unplanned event. */
export function unplanned(name: string): Violation {
  return { kind: 'unplanned_event', property: '', message: `event "${name}" is not in the tracking plan` };
}

/**
 * How `e` breaks `plan`: empty when it is planned and its properties pass the event's schema.
 * `planned` is set to the event's entry when there is one.
 */
export function checkEvent(plan: TrackingPlan, e: AnalyticsEvent): { planned?: PlannedEvent; violations: Violation[] } {
  const planned = plan.events.get(e.name);
  if (!planned) return { violations: [unplanned(e.name)] };
  const validate = planned.validate;
  if (!validate || validate(e.properties)) return { planned, violations: [] };
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const err of validate.errors ?? []) {
    const v = violationOf(err);
    if (!v) continue;
    const key = `${v.kind}\0${v.property}\0${v.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return { planned, violations: out };
}

/**
 * Removes the values at `pointers` from `properties` (keys of maps; elements of lists, the last
 * first so that indices stay right). Returns how many were removed; a pointer to the properties
 * themselves (`""`) or to a value that is not there removes nothing.
 */
export function removeAt(properties: { [k: string]: JsonValue }, pointers: readonly string[]): number {
  const paths = pointers.map(pointerKeys).filter((k) => k.length > 0);
  // Deeper first, then higher list indices first.
  paths.sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] === b[i]) continue;
      const na = Number(a[i]);
      const nb = Number(b[i]);
      if (Number.isInteger(na) && Number.isInteger(nb)) return nb - na;
      return a[i]! < b[i]! ? -1 : 1;
    }
    return b.length - a.length;
  });
  let removed = 0;
  for (const keys of paths) {
    let at: JsonValue = properties;
    for (let i = 0; i < keys.length - 1 && at !== null && typeof at === 'object'; i++) at = Array.isArray(at) ? at[Number(keys[i])]! : (at as { [k: string]: JsonValue })[keys[i]!]!;
    const last = keys[keys.length - 1]!;
    if (Array.isArray(at)) {
      const i = Number(last);
      if (Number.isInteger(i) && i >= 0 && i < at.length) {
        at.splice(i, 1);
        removed++;
      }
    } else if (at !== null && typeof at === 'object' && Object.prototype.hasOwnProperty.call(at, last)) {
      delete (at as { [k: string]: JsonValue })[last];
      removed++;
    }
  }
  return removed;
}
