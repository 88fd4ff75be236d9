/**
 * The `filter` processor for events: keep or drop events by name globs (`code_references.*`),
 * governance category and privacy level, consent, and property or context values: the event keys
 * of the shared match syntax (src/match.ts), as the routing connector's `match` routes.
 *
 * `include` (when given) keeps only events that match it; `exclude` then drops events that match
 * it. Within one matcher, every listed test must hold; a list of names or categories matches
 * when any entry does. Dropped events are counted in `otelytics_events_dropped{reason="filtered"}`.
 */
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import { z } from '../../src/config/schema.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { checkMatch, compileEventMatch, eventMatchSchema, type MatchConfig } from '../../src/match.js';
import type { Telemetry } from '../../src/telemetry.js';

export const filterSchema = z
  .strictObject({
    events: z
      .strictObject({
        include: eventMatchSchema.optional().describe('Keep only events matching this.'),
        exclude: eventMatchSchema.optional().describe('Drop events matching this.'),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    for (const side of ['include', 'exclude'] as const) {
      const m = cfg.events[side];
      if (m) for (const issue of checkMatch(m, 'event')) ctx.addIssue({ code: 'custom', path: ['events', side, ...issue.path], message: issue.message });
    }
  });

export type FilterConfig = z.infer<typeof filterSchema>;

/** Compiles a matcher into a predicate over events (src/match.ts). */
export function compileEventMatcher(m: MatchConfig): (e: AnalyticsEvent) => boolean {
  return compileEventMatch(m);
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
  description: 'Keeps or drops events by name glob, category, privacy level, consent, properties and context',
  configSchema: filterSchema,
  accepts: ['events'],
  output: (s) => s,
  mutatesData: false,
  create: (settings, config, next) => new FilterProcessor(settings.id, config, next, settings.telemetry),
};
