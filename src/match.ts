/**
 * The match syntax shared by the `analytics` rules (value tests of attributes), the `filter`
 * processor (event matchers) and the routing connector's tables: a map of tests that must all
 * hold, compiled once into a predicate.
 *
 * | key | what it tests | applies to |
 * |---|---|---|
 * | `names` | globs (`*` any run, `?` one character) on the event name, the span name or the log record's event name; any may match | events, spans, log records |
 * | `categories` | the event's governance category is one of these | events |
 * | `privacy_levels` | the event's privacy level is one of these | events |
 * | `consent` | the event carries consent for these purposes (`analytics`; `[a, b]` = all; `{all, any}`); deny by default (src/consent.ts) | events |
 * | `properties` | property → value test | events |
 * | `context` | context key → value test; any key: `service.name`, `rule`, a tenant set by authentication | events |
 * | `attributes` | attribute of the span or log record → value test | spans, log records |
 * | `resource` | resource attribute → value test (events: their context, where `service.name` etc. are copied) | all |
 * | `kind`, `status` | span kinds (`server`, ...) and status codes (`unset`, `ok`, `error`), as the analytics rules | spans |
 *
 * A value test is the analytics rules' attribute condition: a bare scalar means "equals" (compared
 * as strings, so `200` matches the integer 200), or an object whose tests all hold: `equals`, `not`,
 * `in`, `glob`, `regex` (JavaScript syntax, unanchored), `exists`, `lt`, `lte`, `gt`, `gte`
 * (numbers). A missing value fails every test but `exists: false` and `not`.
 */
import type { AnalyticsEvent } from './event.js';
import type { AnyValue, JsonValue, KeyValue } from './pdata.js';
import { findAttribute, scalarString } from './pdata.js';
import { compileConsentRequirement, consentRequirementSchema } from './consent.js';
import { z } from './config/schema.js';
import type { LogItem, ResourceItem, SpanItem } from './ottl/contexts.js';

export const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
export const STATUS_CODES = ['unset', 'ok', 'error'] as const;

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.infer<T>[]);

/** A test of one value (see the module comment). */
export const valueTestSchema = z.union([
  scalar,
  z.strictObject({
    equals: scalar.optional().describe('Equal to this value (compared as strings).'),
    in: z.array(scalar).optional().describe('Equal to one of these values.'),
    glob: z.string().optional().describe('Matches this glob (`*` any run of characters, `?` one character).'),
    regex: z.string().optional().describe('Matches this regular expression (JavaScript syntax, unanchored).'),
    exists: z.boolean().optional().describe('true: the value is present; false: absent.'),
    lt: z.number().optional(),
    lte: z.number().optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    not: scalar.optional().describe('Not equal to this value.'),
  }),
]);

export type ValueTest = z.infer<typeof valueTestSchema>;

const tests = () => z.record(z.string(), valueTestSchema);

/** Every key of the match syntax; which apply depends on what is matched ({@link MATCH_KEYS}). */
export const matchSchema = z.strictObject({
  names: oneOrMany(z.string()).optional().describe('Globs on the event name (span name, log record event name); any may match.'),
  categories: z.array(z.string()).optional().describe('Governance categories (events); any may match.'),
  privacy_levels: z.array(z.string()).optional().describe('Governance privacy levels (events); any may match.'),
  consent: consentRequirementSchema.optional().describe('Consent the event must carry: a purpose, a list (all), or {all, any}. Missing consent is denied.'),
  properties: tests().optional().describe('Property name → value or test (events).'),
  context: tests().optional().describe('Context key (e.g. service.name, or a tenant key) → value or test (events).'),
  attributes: tests().optional().describe('Attribute of the span or log record → value or test.'),
  resource: tests().optional().describe('Resource attribute → value or test (events: their context).'),
  kind: oneOrMany(z.enum(SPAN_KINDS)).optional().describe('Span kinds, e.g. server (spans).'),
  status: oneOrMany(z.enum(STATUS_CODES)).optional().describe('Span status codes (spans).'),
});

export type MatchConfig = z.infer<typeof matchSchema>;

/** The event keys alone, for components that see only events (`filter`). */
export const eventMatchSchema = matchSchema.pick({ names: true, categories: true, privacy_levels: true, consent: true, properties: true, context: true, resource: true });

/** What is matched: an event, a span, a log record, or a resource alone. */
export type MatchTarget = 'event' | 'span' | 'log' | 'resource';

export const MATCH_KEYS: Record<MatchTarget, readonly (keyof MatchConfig)[]> = {
  event: ['names', 'categories', 'privacy_levels', 'consent', 'properties', 'context', 'resource'],
  span: ['names', 'kind', 'status', 'attributes', 'resource'],
  log: ['names', 'attributes', 'resource'],
  resource: ['resource'],
};

const PLURAL: Record<MatchTarget, string> = { event: 'events', span: 'spans', log: 'log records', resource: 'resources' };

export interface MatchIssue {
  /** Path below the match, e.g. `["properties", "currency", "regex"]`. */
  path: (string | number)[];
  message: string;
}

/**
 * What is wrong with a match for `target`: keys that do not apply, value tests without a test,
 * regular expressions that do not compile. Empty when it is fine.
 */
export function checkMatch(m: MatchConfig, target: MatchTarget): MatchIssue[] {
  const issues: MatchIssue[] = [];
  const allowed = MATCH_KEYS[target];
  for (const key of Object.keys(m) as (keyof MatchConfig)[]) {
    if (m[key] === undefined || allowed.includes(key)) continue;
    const applies = (Object.keys(MATCH_KEYS) as MatchTarget[]).filter((t) => MATCH_KEYS[t].includes(key));
    issues.push({ path: [key], message: `applies to ${applies.map((t) => PLURAL[t]).join(', ')}, not to ${PLURAL[target]} (here: ${allowed.join(', ')})` });
  }
  for (const group of ['properties', 'context', 'attributes', 'resource'] as const) {
    for (const [key, t] of Object.entries(m[group] ?? {})) {
      if (typeof t !== 'object') continue;
      if (Object.values(t).every((v) => v === undefined)) issues.push({ path: [group, key], message: 'a test object needs at least one test (equals, in, glob, regex, exists, lt, lte, gt, gte, not)' });
      if (t.regex !== undefined) {
        try {
          new RegExp(t.regex);
        } catch (err) {
          issues.push({ path: [group, key, 'regex'], message: `invalid regular expression: ${(err as Error).message}` });
        }
      }
    }
  }
  return issues;
}

/** Turns a glob into an anchored regular expression (`*` any run, `?` one character). */
export function globToRegExp(glob: string, flags = ''): RegExp {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$', flags);
}

/** A test of one value given as its scalar string form (undefined: none) and whether it is present. */
type Probe = (s: string | undefined, present: boolean) => boolean;

/** Compiles a value test (see the module comment); call {@link checkMatch} first for its errors. */
export function compileValueTest(t: ValueTest): Probe {
  if (typeof t !== 'object') {
    const want = String(t);
    return (s) => s === want;
  }
  const parts: Probe[] = [];
  if (t.exists !== undefined) parts.push(t.exists ? (_s, p) => p : (_s, p) => !p);
  if (t.equals !== undefined) {
    const want = String(t.equals);
    parts.push((s) => s === want);
  }
  if (t.not !== undefined) {
    const not = String(t.not);
    parts.push((s) => s !== not);
  }
  if (t.in !== undefined) {
    const set = new Set(t.in.map(String));
    parts.push((s) => s !== undefined && set.has(s));
  }
  if (t.glob !== undefined) {
    const re = globToRegExp(t.glob);
    parts.push((s) => s !== undefined && re.test(s));
  }
  if (t.regex !== undefined) {
    const re = new RegExp(t.regex);
    parts.push((s) => s !== undefined && re.test(s));
  }
  const bounds: [number | undefined, (a: number, b: number) => boolean][] = [
    [t.lt, (a, b) => a < b],
    [t.lte, (a, b) => a <= b],
    [t.gt, (a, b) => a > b],
    [t.gte, (a, b) => a >= b],
  ];
  for (const [bound, cmp] of bounds) {
    if (bound === undefined) continue;
    parts.push((s) => {
      if (s === undefined || s === '') return false;
      const n = Number(s);
      return !Number.isNaN(n) && cmp(n, bound);
    });
  }
  return (s, present) => {
    for (let i = 0; i < parts.length; i++) if (!parts[i]!(s, present)) return false;
    return true;
  };
}

/** The scalar string form of a JSON value: strings, numbers and booleans written out, a one-element list as its element. */
export function jsonScalarString(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
    case 'boolean':
      return String(v);
    default:
      return Array.isArray(v) && v.length === 1 ? jsonScalarString(v[0]) : undefined;
  }
}

type Test<T> = (x: T) => boolean;

/** Whether every test holds; a loop, so that testing allocates nothing. */
function all<T>(tests: readonly Test<T>[]): Test<T> {
  if (tests.length === 1) return tests[0]!;
  return (x) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(x)) return false;
    return true;
  };
}

function namesTest<T>(globs: readonly string[], nameOf: (x: T) => string): Test<T> {
  // One alternation of the anchored globs; no glob matches no name.
  const re = globs.length > 0 ? new RegExp(globs.map((g) => globToRegExp(g).source).join('|')) : undefined;
  return (x) => re !== undefined && re.test(nameOf(x));
}

function jsonTests<T>(group: Record<string, ValueTest> | undefined, of: (x: T) => { readonly [key: string]: JsonValue | undefined } | undefined): Test<T>[] {
  return Object.entries(group ?? {}).map(([key, t]) => {
    const probe = compileValueTest(t);
    return (x: T) => {
      const o = of(x);
      const v = o !== undefined && Object.hasOwn(o, key) ? o[key] : undefined;
      return probe(jsonScalarString(v), v !== undefined);
    };
  });
}

function attributeTests<T>(group: Record<string, ValueTest> | undefined, of: (x: T) => readonly KeyValue[]): Test<T>[] {
  return Object.entries(group ?? {}).map(([key, t]) => {
    const probe = compileValueTest(t);
    return (x: T) => {
      const v: AnyValue | undefined = findAttribute(of(x), key);
      return probe(scalarString(v), v !== undefined);
    };
  });
}

const always = () => true;

/** Compiles the event keys of a match into a predicate over events. */
export function compileEventMatch(m: MatchConfig): Test<AnalyticsEvent> {
  const parts: Test<AnalyticsEvent>[] = [];
  if (m.names) parts.push(namesTest(m.names, (e) => e.name));
  if (m.categories) {
    const set = new Set(m.categories);
    parts.push((e) => e.category !== undefined && set.has(e.category));
  }
  if (m.privacy_levels) {
    const set = new Set(m.privacy_levels);
    parts.push((e) => e.privacy_level !== undefined && set.has(e.privacy_level));
  }
  if (m.consent !== undefined) {
    const granted = compileConsentRequirement(m.consent);
    parts.push((e) => granted(e.consent));
  }
  parts.push(...jsonTests<AnalyticsEvent>(m.properties, (e) => e.properties));
  parts.push(...jsonTests<AnalyticsEvent>(m.context, (e) => e.context));
  parts.push(...jsonTests<AnalyticsEvent>(m.resource, (e) => e.context));
  return parts.length === 0 ? always : all(parts);
}

/** Compiles a match over spans (names, kind, status, attributes, resource). */
export function compileSpanMatch(m: MatchConfig): Test<SpanItem> {
  const parts: Test<SpanItem>[] = [];
  if (m.names) parts.push(namesTest<SpanItem>(m.names, (i) => i.span.name));
  if (m.kind) {
    const kinds = new Set(m.kind.map((k) => SPAN_KINDS.indexOf(k)));
    parts.push((i) => kinds.has(i.span.kind));
  }
  if (m.status) {
    const codes = new Set(m.status.map((s) => STATUS_CODES.indexOf(s)));
    parts.push((i) => codes.has(i.span.status.code));
  }
  parts.push(...attributeTests<SpanItem>(m.attributes, (i) => i.span.attributes));
  parts.push(...attributeTests<SpanItem>(m.resource, (i) => i.resource.attributes));
  return parts.length === 0 ? always : all(parts);
}

/** The event name of a log record: `event_name`, else its `event.name` attribute, else "". */
function logEventName(i: LogItem): string {
  return i.log.eventName || scalarString(findAttribute(i.log.attributes, 'event.name')) || '';
}

/** Compiles a match over log records (names, attributes, resource). */
export function compileLogMatch(m: MatchConfig): Test<LogItem> {
  const parts: Test<LogItem>[] = [];
  if (m.names) parts.push(namesTest(m.names, logEventName));
  parts.push(...attributeTests<LogItem>(m.attributes, (i) => i.log.attributes));
  parts.push(...attributeTests<LogItem>(m.resource, (i) => i.resource.attributes));
  return parts.length === 0 ? always : all(parts);
}

/** Compiles a match over a resource alone. */
export function compileResourceMatch(m: MatchConfig): Test<ResourceItem> {
  const parts = attributeTests<ResourceItem>(m.resource, (i) => i.resource.attributes);
  return parts.length === 0 ? always : all(parts);
}
