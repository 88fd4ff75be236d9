/**
 * A rule's property sources (`attributes.<key>`, `capture.<group>`, `query.<param>`, `body.<key>`,
 * items lists, with `transform` and `default`), compiled into closures that read a record view:
 * the analytics processor's README (`rules[]::properties`, "Items lists") says what each reads.
 */
import type { AnyValue, JsonValue } from '../../src/pdata.js';
import { scalarString, toJsonValue } from '../../src/pdata.js';
import type { SourceConfig, ValueSourceConfig } from './config.js';
import type { AttributeSlots, RecordView, RuleError, SpanFields } from './rules.js';

/** A compiled source; `element` is the element of an items list's `each` being made into an item. */
export type Source = (v: RecordView, captured: { [k: string]: JsonValue }, element?: JsonValue) => JsonValue | undefined;

/** The attribute in `slot` on the record, else on its resource. */
export function lookup(v: RecordView, slot: number): AnyValue | undefined {
  return v.attrs[slot] ?? v.resource[slot];
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

/** Compiles a property's source (a value source, or an items list); problems go to `errors` with `path`. */
export function compileSource(src: SourceConfig, path: string, errors: RuleError[], slots: AttributeSlots): Source {
  if (typeof src !== 'string' && (src.each !== undefined || src.fields !== undefined)) return compileItems(src, path, errors, slots);
  const { read, finish } = compileValueSource(src as ValueSourceConfig, path, errors, slots, 'property');
  return (v, captured) => finish(read(v, captured));
}
