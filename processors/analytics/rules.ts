/**
 * Compiles analytics rules, once, into plain functions: a matcher per rule and a builder that
 * makes the event. The hot path does no parsing: globs and regular expressions are built here,
 * attribute keys are resolved to slots (an index into the record's attribute values, see
 * {@link AttributeSlots}), property sources to small closures (./sources.ts).
 */
import { hash } from 'node:crypto';
import type { AnalyticsEvent, EventContext } from '../../src/event.js';
import type { AnyValue, JsonValue, LogRecord } from '../../src/pdata.js';
import { scalarString } from '../../src/pdata.js';
import type { AnalyticsConfig, ConditionConfig, RuleConfig, ValueSourceConfig } from './config.js';
import { SPAN_KINDS, STATUS_CODES } from './config.js';
import { globToRegExp } from '../../src/match.js';
import { compileSource, lookup, type Source } from './sources.js';

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
