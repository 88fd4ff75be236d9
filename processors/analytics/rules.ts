/**
 * Compiles analytics rules, once, into plain functions: a matcher per rule and a builder that
 * makes the event. The hot path does no parsing: globs and regular expressions are built here,
 * attribute keys are resolved to slots (an index into the record's attribute values, see
 * {@link AttributeSlots}), property sources to small closures.
 */
import { hash } from 'node:crypto';
import type { AnalyticsEvent, EventContext } from '../../src/event.js';
import type { AnyValue, JsonValue, LogRecord } from '../../src/pdata.js';
import { scalarString, toJsonValue } from '../../src/pdata.js';
import type { AnalyticsConfig, ConditionConfig, RuleConfig, SourceConfig, ValueSourceConfig } from './config.js';
import { SPAN_KINDS, STATUS_CODES } from './config.js';
import { globToRegExp } from '../../src/match.js';

/**
 * The attribute keys a rule set (and the event maker) reads, numbered: slot `i` of a record view
 * holds the value of key `i`. Keys are given slots as the rules are compiled.
 */
export class AttributeSlots {
  readonly index = new Map<string, number>();

  /** The slot of `key`, given one if it has none yet. */
  slot(key: string): number {
    let i = this.index.get(key);
    if (i === undefined) this.index.set(key, (i = this.index.size));
    return i;
  }

  get keys(): string[] {
    return [...this.index.keys()];
  }
}

/** What a rule may read of a span besides its attributes (a decoded span or a projected one). */
export interface SpanFields {
  /** `Span.kind` (0 unspecified … 5 consumer). */
  kind: number;
  /** `Status.code` (0 unset, 1 ok, 2 error). */
  statusCode: number;
  statusMessage(): string;
  /** Unix nanoseconds, decimal strings. */
  startTimeUnixNano(): string;
  endTimeUnixNano(): string;
  /** Lowercase hex, `""` when absent. */
  traceId(): string;
  spanId(): string;
}

/** A span or log record with what a rule may read around it. */
export interface RecordView {
  /** The record's attribute values by slot (undefined: absent; the first of a repeated key). */
  attrs: readonly (AnyValue | undefined)[];
  /** Its resource's attribute values by slot. */
  resource: readonly (AnyValue | undefined)[];
  /** Span name, or the log record's event name (`""` for spans when no rule reads names). */
  name: string;
  span: SpanFields | undefined;
  log: LogRecord | undefined;
}

export interface RuleError {
  /** Path below the processor's config, e.g. `rules::0::capture::url.path`. */
  path: string;
  message: string;
}

type Matcher = (v: RecordView) => boolean;
type Capture = (v: RecordView, into: { [k: string]: JsonValue }) => boolean;
/** A compiled source; `element` is the element of an items list's `each` being made into an item. */
type Source = (v: RecordView, captured: { [k: string]: JsonValue }, element?: JsonValue) => JsonValue | undefined;

export interface CompiledRule {
  id: string;
  source: 'span' | 'log';
  event: string | undefined;
  drop: boolean;
  match: Matcher;
  capture: Capture;
  properties: [string, Source][] | undefined;
  category: string | undefined;
  privacyLevel: string | undefined;
}

export { globToRegExp };

/** The attribute in `slot` on the record, else on its resource. */
function lookup(v: RecordView, slot: number): AnyValue | undefined {
  return v.attrs[slot] ?? v.resource[slot];
}

function compileRegExp(text: string, path: string, errors: RuleError[]): RegExp | undefined {
  try {
    return new RegExp(text);
  } catch (err) {
    errors.push({ path, message: `invalid regular expression: ${(err as Error).message}` });
    return undefined;
  }
}

function compileCondition(slot: number, c: ConditionConfig, path: string, errors: RuleError[]): Matcher {
  if (typeof c !== 'object') {
    const want = String(c);
    return (v) => scalarString(lookup(v, slot)) === want;
  }
  const tests: ((value: AnyValue | undefined) => boolean)[] = [];
  if (c.exists !== undefined) tests.push(c.exists ? (x) => x !== undefined : (x) => x === undefined);
  if (c.equals !== undefined) {
    const want = String(c.equals);
    tests.push((x) => scalarString(x) === want);
  }
  if (c.not !== undefined) {
    const not = String(c.not);
    tests.push((x) => scalarString(x) !== not);
  }
  if (c.in !== undefined) {
    const set = new Set(c.in.map(String));
    tests.push((x) => {
      const s = scalarString(x);
      return s !== undefined && set.has(s);
    });
  }
  if (c.glob !== undefined) {
    const re = globToRegExp(c.glob);
    tests.push((x) => {
      const s = scalarString(x);
      return s !== undefined && re.test(s);
    });
  }
  if (c.regex !== undefined) {
    const re = compileRegExp(c.regex, `${path}::regex`, errors);
    if (re) {
      tests.push((x) => {
        const s = scalarString(x);
        return s !== undefined && re.test(s);
      });
    }
  }
  const bounds: [number | undefined, (a: number, b: number) => boolean][] = [
    [c.lt, (a, b) => a < b],
    [c.lte, (a, b) => a <= b],
    [c.gt, (a, b) => a > b],
    [c.gte, (a, b) => a >= b],
  ];
  for (const [bound, cmp] of bounds) {
    if (bound === undefined) continue;
    tests.push((x) => {
      const s = scalarString(x);
      if (s === undefined || s === '') return false;
      const n = Number(s);
      return !Number.isNaN(n) && cmp(n, bound);
    });
  }
  if (tests.length === 0) errors.push({ path, message: 'a condition object needs at least one test (equals, in, glob, regex, exists, lt, lte, gt, gte, not)' });
  return (v) => {
    const x = lookup(v, slot);
    for (const t of tests) if (!t(x)) return false;
    return true;
  };
}

function compileMatch(rule: RuleConfig, path: string, errors: RuleError[], slots: AttributeSlots): Matcher {
  const parts: Matcher[] = [];
  const m = rule.match;
  if (rule.source === 'log' && (m.kind || m.status)) errors.push({ path: `${path}::match`, message: 'kind and status apply to span rules only' });
  if (m.kind) {
    const kinds = new Set(m.kind.map((k) => SPAN_KINDS.indexOf(k)));
    parts.push((v) => v.span !== undefined && kinds.has(v.span.kind));
  }
  if (m.status) {
    const codes = new Set(m.status.map((s) => STATUS_CODES.indexOf(s)));
    parts.push((v) => v.span !== undefined && codes.has(v.span.statusCode));
  }
  if (m.name) {
    const res = m.name.map((g) => globToRegExp(g));
    parts.push((v) => res.some((re) => re.test(v.name)));
  }
  for (const [key, cond] of Object.entries(m.attributes)) parts.push(compileCondition(slots.slot(key), cond, `${path}::match::attributes::${key}`, errors));
  return (v) => {
    for (const p of parts) if (!p(v)) return false;
    return true;
  };
}

function compileCapture(rule: RuleConfig, path: string, errors: RuleError[], slots: AttributeSlots): Capture {
  const caps: [number, RegExp][] = [];
  for (const [key, text] of Object.entries(rule.capture)) {
    const re = compileRegExp(text, `${path}::capture::${key}`, errors);
    if (!re) continue;
    if (!/\(\?<[A-Za-z_][A-Za-z0-9_]*>/.test(text)) errors.push({ path: `${path}::capture::${key}`, message: 'needs at least one named group, e.g. (?<item_id>...)' });
    caps.push([slots.slot(key), re]);
  }
  if (caps.length === 0) return () => true;
  return (v, into) => {
    for (const [slot, re] of caps) {
      const s = scalarString(lookup(v, slot));
      if (s === undefined) return false;
      const m = re.exec(s);
      if (!m) return false;
      if (m.groups) for (const g in m.groups) if (m.groups[g] !== undefined) into[g] = m.groups[g]!;
    }
    return true;
  };
}

/** Query parameter `param` from `url.query`, or the query part of `url.full` / `http.target` (slots `from`). */
function queryParam(v: RecordView, param: string, from: readonly [number, number, number]): string | undefined {
  let q = scalarString(lookup(v, from[0]));
  if (q === undefined) {
    const full = scalarString(lookup(v, from[1])) ?? scalarString(lookup(v, from[2]));
    const i = full?.indexOf('?') ?? -1;
    if (full === undefined || i < 0) return undefined;
    q = full.slice(i + 1);
  }
  const value = new URLSearchParams(q).get(param);
  return value ?? undefined;
}

/** Where `item` / `item.<key>` sources may appear: in the fields of an items list with `each`. */
type Scope = 'property' | 'item' | 'each-item';

const SOURCE_HELP = 'attributes.<key>, resource.<key>, capture.<group>, query.<param>, name, body, body.<key>, status.message or duration_ms';

function compileFrom(expr: string, path: string, errors: RuleError[], slots: AttributeSlots, scope: Scope = 'property'): Source {
  const dot = expr.indexOf('.');
  const head = dot < 0 ? expr : expr.slice(0, dot);
  const rest = dot < 0 ? '' : expr.slice(dot + 1);
  switch (head) {
    case 'attributes':
      if (rest) {
        const slot = slots.slot(rest);
        return (v) => jsonOf(lookup(v, slot));
      }
      break;
    case 'resource':
      if (rest) {
        const slot = slots.slot(rest);
        return (v) => jsonOf(v.resource[slot]);
      }
      break;
    case 'capture':
      if (rest) return (_v, captured) => captured[rest];
      break;
    case 'query':
      if (rest) {
        const from = [slots.slot('url.query'), slots.slot('url.full'), slots.slot('http.target')] as const;
        return (v) => queryParam(v, rest, from);
      }
      break;
    case 'name':
      if (!rest) return (v) => v.name;
      break;
    case 'body':
      if (!rest) return (v) => (v.log ? jsonOf(v.log.body) : undefined);
      return keyOfBody(rest);
    case 'item':
      if (scope !== 'each-item') {
        errors.push({ path, message: `"${expr}" reads an element of an items list's \`each\`; it is only a source in that list's fields` });
        return () => undefined;
      }
      if (!rest) return (_v, _c, element) => element;
      return keyOf(rest);
    case 'status':
      if (rest === 'message') return (v) => v.span?.statusMessage() || undefined;
      break;
    case 'duration_ms':
      if (!rest) return (v) => (v.span ? durationMillis(v.span) : undefined);
      break;
  }
  errors.push({
    path,
    message: `unknown source "${expr}"; use ${SOURCE_HELP}${scope === 'each-item' ? ', item or item.<key>' : ''}`,
  });
  return () => undefined;
}

/**
 * A key of a map: the entry named `key` as written, else, for a dotted key, the nested value
 * along its parts (`a.b`: entry `b` of the map under `a`), as field paths read properties.
 */
function entryOf(map: JsonValue | undefined, key: string, parts: readonly string[]): JsonValue | undefined {
  if (map === undefined || map === null || typeof map !== 'object' || Array.isArray(map)) return undefined;
  const direct = map[key];
  if (direct !== undefined || parts.length === 1) return direct ?? undefined;
  let x: JsonValue | undefined = map;
  for (const p of parts) {
    if (x === undefined || x === null || typeof x !== 'object' || Array.isArray(x)) return undefined;
    x = x[p];
  }
  return x;
}

/** `item.<key>`: the key of the element being made into an item. */
function keyOf(key: string): Source {
  const parts = key.split('.');
  return (_v, _c, element) => {
    const x = entryOf(element, key, parts);
    return x === null ? undefined : x;
  };
}

/** `body.<key>`: a key of a log record's map body (a kvlist); only that entry is converted. */
function keyOfBody(key: string): Source {
  const parts = key.split('.');
  return (v) => {
    const body = v.log?.body;
    if (body === undefined || !('kvlistValue' in body)) return undefined;
    const values = body.kvlistValue.values;
    for (let i = 0; i < values.length; i++) if (values[i]!.key === key) return jsonOf(values[i]!.value);
    if (parts.length === 1) return undefined;
    const head = values.find((kv) => kv.key === parts[0]);
    if (head === undefined) return undefined;
    const x = entryOf({ [parts[0]!]: toJsonValue(head.value) }, key, parts);
    return x === null ? undefined : x;
  };
}

function jsonOf(v: AnyValue | undefined): JsonValue | undefined {
  if (v === undefined) return undefined;
  const j = toJsonValue(v);
  return j === null ? undefined : j;
}

function durationMillis(span: SpanFields): number {
  const ns = BigInt(span.endTimeUnixNano()) - BigInt(span.startTimeUnixNano());
  return Number(ns) / 1e6;
}

/** A value source split in two: reading the raw value, and finishing it (transform, default). */
interface ValueSource {
  read: Source;
  finish: (x: JsonValue | undefined) => JsonValue | undefined;
}

function compileValueSource(src: ValueSourceConfig, path: string, errors: RuleError[], slots: AttributeSlots, scope: Scope): ValueSource {
  if (typeof src === 'string') return { read: compileFrom(src, path, errors, slots, scope), finish: (x) => (x === null ? undefined : x) };
  if (src.from === undefined && src.value === undefined) errors.push({ path, message: 'needs `from` or `value`' });
  const constant = src.value as JsonValue;
  const read: Source = src.from !== undefined ? compileFrom(src.from, `${path}::from`, errors, slots, scope) : () => constant;
  const dflt = src.default as JsonValue | undefined;
  const t = src.transform;
  const finish = (x: JsonValue | undefined): JsonValue | undefined => {
    if (x === undefined || x === null) return dflt;
    switch (t) {
      case 'lowercase': return typeof x === 'string' ? x.toLowerCase() : x;
      case 'uppercase': return typeof x === 'string' ? x.toUpperCase() : x;
      case 'number': {
        const n = Number(x);
        return Number.isFinite(n) ? n : dflt;
      }
      case 'string': return typeof x === 'string' ? x : JSON.stringify(x);
      default: return x;
    }
  };
  return { read, finish };
}

type Item = { [field: string]: JsonValue };

/**
 * An items list (GA4's `items`: an array of maps, one per product). Without `each`, the fields'
 * values are zipped: a list gives item i its element i (transform and default apply per element;
 * a list shorter than the longest leaves its field to the default), any other value goes to every
 * item; the longest list sets the number of items (empty lists: none), one item when no value is a
 * list. With `each`,
 * one item per element of that list (a value that is not a list counts as a list of one), its
 * fields reading the element with `item` / `item.<key>` and other sources giving every item the
 * same value; without fields, each element that is a map is copied as it is. An item with no
 * field set is left out; no item at all leaves the property unset.
 */
function compileItems(src: Exclude<SourceConfig, string>, path: string, errors: RuleError[], slots: AttributeSlots): Source {
  const misplaced = (['from', 'value', 'transform', 'default'] as const).filter((k) => src[k] !== undefined);
  if (misplaced.length > 0) errors.push({ path, message: `an items list takes \`each\` and \`fields\`; ${misplaced.join(', ')} go${misplaced.length === 1 ? 'es' : ''} in its fields` });
  const scope: Scope = src.each !== undefined ? 'each-item' : 'item';
  const fields = Object.entries(src.fields ?? {}).map(([k, s]): [string, ValueSource] => [k, compileValueSource(s, `${path}::fields::${k}`, errors, slots, scope)]);
  if (src.each === undefined && fields.length === 0) errors.push({ path: `${path}::fields`, message: 'an items list needs at least one field, or `each` to copy the maps of a list' });
  if (src.each !== undefined) {
    const each = compileFrom(src.each, `${path}::each`, errors, slots);
    return (v, captured) => {
      let list = each(v, captured);
      if (list === undefined || list === null) return undefined;
      if (!Array.isArray(list)) list = [list];
      const items: Item[] = [];
      for (const element of list) {
        let item: Item | undefined;
        if (fields.length === 0) {
          if (element !== null && typeof element === 'object' && !Array.isArray(element)) item = { ...element };
        } else {
          for (let j = 0; j < fields.length; j++) {
            const [key, f] = fields[j]!;
            const x = f.finish(f.read(v, captured, element));
            if (x !== undefined && x !== null) (item ??= {})[key] = x;
          }
        }
        if (item) items.push(item);
      }
      return items.length > 0 ? items : undefined;
    };
  }
  return (v, captured) => {
    const raw = new Array<JsonValue | undefined>(fields.length);
    let n = 0;
    let list = false;
    let scalar = false;
    for (let j = 0; j < fields.length; j++) {
      const x = fields[j]![1].read(v, captured);
      raw[j] = x;
      if (Array.isArray(x)) {
        list = true;
        n = Math.max(n, x.length);
      } else if (x !== undefined && x !== null) scalar = true;
    }
    if (!list && scalar) n = 1;
    const items: Item[] = [];
    for (let i = 0; i < n; i++) {
      let item: Item | undefined;
      for (let j = 0; j < fields.length; j++) {
        const [key, f] = fields[j]!;
        const r = raw[j];
        const x = f.finish(Array.isArray(r) ? r[i] : r);
        if (x !== undefined && x !== null) (item ??= {})[key] = x;
      }
      if (item) items.push(item);
    }
    return items.length > 0 ? items : undefined;
  };
}

function compileSource(src: SourceConfig, path: string, errors: RuleError[], slots: AttributeSlots): Source {
  if (typeof src !== 'string' && (src.each !== undefined || src.fields !== undefined)) return compileItems(src, path, errors, slots);
  const { read, finish } = compileValueSource(src as ValueSourceConfig, path, errors, slots, 'property');
  return (v, captured) => finish(read(v, captured));
}

/** Whether a rule reads the span name or the log record's event name (a `name` glob or source). */
function readsName(r: RuleConfig): boolean {
  if (r.match.name) return true;
  const from = (s: ValueSourceConfig) => (typeof s === 'string' ? s : s.from) === 'name';
  return Object.values(r.properties ?? {}).some((s) => from(s) || (typeof s !== 'string' && (s.each === 'name' || Object.values(s.fields ?? {}).some(from))));
}

/**
 * Compiles every rule; returns the rules, every error found (with paths), and whether any rule
 * reads names. Attribute keys the rules read are given slots in `slots`.
 */
export function compileRules(config: AnalyticsConfig, slots = new AttributeSlots()): { rules: CompiledRule[]; errors: RuleError[]; readsName: boolean } {
  const errors: RuleError[] = [];
  const ids = new Set<string>();
  const rules = config.rules.map((r, i) => {
    const path = `rules::${i}`;
    if (ids.has(r.id)) errors.push({ path: `${path}::id`, message: `duplicate rule id "${r.id}"` });
    ids.add(r.id);
    if (r.source === 'span' && !r.event) errors.push({ path: `${path}::event`, message: 'span rules need the name of the event they make' });
    if (r.source === 'span' && r.drop) errors.push({ path: `${path}::drop`, message: 'drop applies to log rules (a span that matches no rule makes no event)' });
    return {
      id: r.id,
      source: r.source,
      event: r.event,
      drop: r.drop,
      match: compileMatch(r, path, errors, slots),
      capture: compileCapture(r, path, errors, slots),
      properties: r.properties ? Object.entries(r.properties).map(([k, s]): [string, Source] => [k, compileSource(s, `${path}::properties::${k}`, errors, slots)]) : undefined,
      category: r.category,
      privacyLevel: r.privacy_level,
    };
  });
  return { rules, errors, readsName: config.rules.some(readsName) };
}

/**
 * Deterministic insert_id: 32 hex characters of SHA-256 over the parts that identify the source
 * record and the rule (the same input always gives the same id; two rules on one span differ).
 */
export function insertId(parts: readonly string[]): string {
  // The digest's first 16 bytes, copied into a buffer and written out as hex: one flat string.
  // Slicing the 64-digit hex instead would keep all of it alive as long as the event.
  ID_BYTES.write(hash('sha256', parts.join('\u0000'), 'latin1'), 0, 16, 'latin1');
  return ID_BYTES.toString('hex', 0, 16);
}
const ID_BYTES = Buffer.alloc(16);

export type { EventContext, AnalyticsEvent };
