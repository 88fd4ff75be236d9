/**
 * The `filter` processor for events: keep or drop events by name globs (`code_references.*`),
 * by governance category and by property or context values.
 *
 * `include` (when given) keeps only events that match it; `exclude` then drops events that match
 * it. Within one matcher, every listed test must hold; a list of names or categories matches
 * when any entry does. Dropped events are counted in `otelytics_events_dropped{reason="filtered"}`.
 */
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import { z } from '../../src/config/schema.js';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import type { Telemetry } from '../../src/telemetry.js';
import { globToRegExp } from '../analytics/rules.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const valueTest = z.union([
  scalar,
  z.strictObject({
    in: z.array(scalar).optional().describe('Equal to one of these values.'),
    regex: z.string().optional().describe('Matches this regular expression.'),
    exists: z.boolean().optional().describe('Present (true) or absent (false).'),
  }),
]);

const matcherSchema = z.strictObject({
  names: z.array(z.string()).optional().describe('Event name globs, e.g. `code_references.*`.'),
  categories: z.array(z.string()).optional().describe('Governance categories.'),
  properties: z.record(z.string(), valueTest).optional().describe('Property name → value or test.'),
  context: z.record(z.string(), valueTest).optional().describe('Context key (e.g. `service.name`) → value or test.'),
});

export const filterSchema = z
  .strictObject({
    events: z
      .strictObject({
        include: matcherSchema.optional().describe('Keep only events matching this.'),
        exclude: matcherSchema.optional().describe('Drop events matching this.'),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    for (const side of ['include', 'exclude'] as const) {
      for (const group of ['properties', 'context'] as const) {
        for (const [key, t] of Object.entries(cfg.events[side]?.[group] ?? {})) {
          if (typeof t === 'object' && t.regex !== undefined) {
            try {
              new RegExp(t.regex);
            } catch (err) {
              ctx.addIssue({ code: 'custom', path: ['events', side, group, key, 'regex'], message: `invalid regular expression: ${(err as Error).message}` });
            }
          }
        }
      }
    }
  });

export type FilterConfig = z.infer<typeof filterSchema>;
type MatcherConfig = z.infer<typeof matcherSchema>;
type ValueTest = z.infer<typeof valueTest>;

function compileValueTest(t: ValueTest): (v: JsonValue | undefined) => boolean {
  if (typeof t !== 'object') {
    const want = String(t);
    return (v) => v !== undefined && v !== null && String(v) === want;
  }
  const parts: ((v: JsonValue | undefined) => boolean)[] = [];
  if (t.exists !== undefined) parts.push(t.exists ? (v) => v !== undefined : (v) => v === undefined);
  if (t.in) {
    const set = new Set(t.in.map(String));
    parts.push((v) => v !== undefined && v !== null && set.has(String(v)));
  }
  if (t.regex !== undefined) {
    const re = new RegExp(t.regex);
    parts.push((v) => typeof v === 'string' && re.test(v));
  }
  return (v) => all(parts, v);
}

/** Whether every test passes; a loop, so that testing an event allocates nothing. */
function all<T>(tests: readonly ((x: T) => boolean)[], x: T): boolean {
  for (let i = 0; i < tests.length; i++) if (!tests[i]!(x)) return false;
  return true;
}

/** Compiles a matcher into a predicate over events. */
export function compileEventMatcher(m: MatcherConfig): (e: AnalyticsEvent) => boolean {
  const tests: ((e: AnalyticsEvent) => boolean)[] = [];
  if (m.names) {
    // One alternation of the anchored globs; no glob matches no name.
    const name = m.names.length > 0 ? new RegExp(m.names.map((g) => globToRegExp(g).source).join('|')) : undefined;
    tests.push((e) => name !== undefined && name.test(e.name));
  }
  if (m.categories) {
    const set = new Set(m.categories);
    tests.push((e) => e.category !== undefined && set.has(e.category));
  }
  for (const [key, t] of Object.entries(m.properties ?? {})) {
    const test = compileValueTest(t);
    tests.push((e) => test(e.properties[key]));
  }
  for (const [key, t] of Object.entries(m.context ?? {})) {
    const test = compileValueTest(t);
    tests.push((e) => test(e.context[key]));
  }
  return (e) => all(tests, e);
}

class FilterProcessor {
  private readonly keep: (e: AnalyticsEvent) => boolean;

  constructor(
    private readonly id: string,
    cfg: FilterConfig,
    private readonly next: Consumer,
    private readonly telemetry: Telemetry,
  ) {
    const include = cfg.events.include ? compileEventMatcher(cfg.events.include) : undefined;
    const exclude = cfg.events.exclude ? compileEventMatcher(cfg.events.exclude) : undefined;
    this.keep = (e) => (!include || include(e)) && (!exclude || !exclude(e));
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(p: Payload): Promise<void> {
    if (p.signal !== 'events') return this.next.consume(p);
    const kept = p.data.filter(this.keep);
    const dropped = p.data.length - kept.length;
    if (dropped > 0) this.telemetry.eventsDropped(this.id, 'filtered', dropped);
    if (kept.length > 0) await this.next.consume({ signal: 'events', data: kept });
  }
}

export const filterProcessorFactory: ProcessorFactory<FilterConfig> = {
  kind: 'processor',
  type: 'filter',
  description: 'Keeps or drops events by name glob, category, properties and context',
  configSchema: filterSchema,
  accepts: ['events'],
  output: (s) => s,
  mutatesData: false,
  create: (settings, config, next) => new FilterProcessor(settings.id, config, next, settings.telemetry),
};
