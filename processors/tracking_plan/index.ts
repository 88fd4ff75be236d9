/**
 * The `tracking_plan` processor: checks each event against a tracking plan (./plan.ts: the planned
 * event names, each with a JSON Schema of its properties) and does what `actions` says with each
 * kind of violation: `allow` (keep the event, the violations attached as `context.violations`),
 * `drop_property` (remove the offending properties, then as allow), `drop_event`, or `route` (hand
 * the event, its violations attached, to the exporter `route_to` instead of the pipeline's own, as
 * an exporter hands what it cannot deliver to its `dead_letter` exporter). A plan file is read
 * again when it changes; a plan that does not compile leaves the last good one in use.
 *
 * Metrics: `otelytics_tracking_plan_violations{processor,event_name,kind}` (event names of the plan,
 * or `(unplanned)`), `otelytics_tracking_plan_events_checked`, `_routed`, `_dropped`
 * `{processor,pipeline}`, `otelytics_tracking_plan_reloads{processor,result}`, the gauge
 * `otelytics_tracking_plan_planned_events{processor}`; dropped events are also counted in
 * `otelytics_events_dropped{component,reason="tracking_plan"}`. Recent violations are shown on the
 * status page (./recent.ts).
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { watchContents } from '../../src/file_watch.js';
import type { Consumer, Exporter, Host, Payload, ProcessorFactory } from '../../src/component.js';
import { duration, nonEmptyString, z } from '../../src/config/schema.js';
import { SettingError } from '../../src/errors.js';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import type { Telemetry } from '../../src/telemetry.js';
import { checkEvent, compilePlan, parsePlan, removeAt, VIOLATION_KINDS, type TrackingPlan, type Violation, type ViolationKind } from './plan.js';
import { violationLog, type Outcome, type ViolationLog } from './recent.js';

export const ACTIONS = ['allow', 'drop_property', 'drop_event', 'route'] as const;
export type Action = (typeof ACTIONS)[number];

/** The `event_name` label of violations of events the plan does not list (bounded cardinality). */
export const UNPLANNED_LABEL = '(unplanned)';

const action = (what: string) =>
  z
    .enum(ACTIONS)
    .default('allow')
    .describe(`What to do with an event that has ${what}: allow (keep it, the violations in context.violations), drop_property, drop_event, or route (to route_to). Default allow.`);

export const trackingPlanSchema = z
  .strictObject({
    plan: z
      .strictObject({
        file: nonEmptyString().optional().describe('The plan file (YAML or JSON), read again when it changes.'),
        events: z.record(z.string(), z.unknown()).optional().describe('The plan inline: event name → { description, category, privacy_level, properties (a JSON Schema) }.'),
        poll_interval: duration('2s').describe('How often the plan file is checked for changes. Default 2s.'),
      })
      .describe('The tracking plan: file, or events inline. Required.'),
    actions: z
      .strictObject({
        unplanned_event: action('a name the plan does not list (drop_property: as allow)'),
        required_missing: action('a required property missing (drop_property: as allow)'),
        datatype_mismatch: action('a property of another type'),
        additional_property: action('a property the plan does not allow'),
        value_out_of_range: action('a value the plan does not allow (enum, const, minimum, maximum, pattern, format, lengths, ...)'),
      })
      .prefault({})
      .describe('What to do per kind of violation; the strongest action of an event\'s violations wins: drop_event, then route, then drop_property and allow.'),
    route_to: nonEmptyString().optional().describe('Exporter (events) that gets the events of a route action, violations attached. It runs even when no pipeline lists it.'),
  })
  .superRefine((cfg, ctx) => {
    const { file, events, poll_interval } = cfg.plan;
    if ((file === undefined) === (events === undefined)) ctx.addIssue({ code: 'custom', path: ['plan'], message: 'give exactly one of file, events' });
    if (poll_interval <= 0) ctx.addIssue({ code: 'custom', path: ['plan', 'poll_interval'], message: 'must be a positive duration' });
    if (events !== undefined) for (const issue of compilePlan({ events }).issues) ctx.addIssue({ code: 'custom', path: ['plan', ...issue.path], message: issue.message });
    const routed = VIOLATION_KINDS.filter((k) => cfg.actions[k] === 'route');
    if (routed.length > 0 && cfg.route_to === undefined) for (const k of routed) ctx.addIssue({ code: 'custom', path: ['actions', k], message: 'route needs route_to: the exporter that gets these events' });
  });

export type TrackingPlanConfig = z.infer<typeof trackingPlanSchema>;

/** Order of strength: the strongest action among an event's violations decides its fate. */
const STRENGTH: Record<Action, number> = { allow: 0, drop_property: 0, route: 1, drop_event: 2 };
/** Kinds whose drop_property removes something; for the others it means allow. */
const DROPPABLE = new Set<ViolationKind>(['datatype_mismatch', 'additional_property', 'value_out_of_range']);

/** What the actions do to one event's violations: its fate, and the properties to remove when it is kept. */
export function decide(actions: Readonly<Record<ViolationKind, Action>>, violations: readonly Violation[]): { outcome: Outcome; remove: string[] } {
  let strongest: Action = 'allow';
  const remove: string[] = [];
  for (const v of violations) {
    const a = actions[v.kind];
    if (STRENGTH[a] > STRENGTH[strongest]) strongest = a;
    if (a === 'drop_property' && DROPPABLE.has(v.kind) && v.property !== '') remove.push(v.property);
  }
  if (strongest === 'drop_event') return { outcome: 'dropped', remove: [] };
  if (strongest === 'route') return { outcome: 'routed', remove: [] };
  return { outcome: 'kept', remove };
}

export class TrackingPlanProcessor {
  private plan: TrackingPlan;
  private route: Exporter | undefined;
  private unwatch: (() => void) | undefined;
  private readonly violations: Counter<string>;
  private readonly byLabel = new Map<string, Counter.Internal>();
  private readonly checked;
  private readonly routed;
  private readonly dropped;
  private readonly reloads: Counter<string>;
  private readonly planned;
  private readonly log: ViolationLog;

  constructor(
    private readonly id: string,
    private readonly pipeline: string,
    private readonly cfg: TrackingPlanConfig,
    private readonly next: Consumer,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry,
  ) {
    this.plan = cfg.plan.events !== undefined ? compilePlan({ events: cfg.plan.events }).plan! : { events: new Map() };
    const labels = { processor: id, pipeline };
    this.violations = telemetry.counter('otelytics_tracking_plan_violations', `Violations of the tracking plan, by event name (${UNPLANNED_LABEL} for names the plan does not list) and kind.`, ['processor', 'event_name', 'kind']);
    this.checked = telemetry.counter('otelytics_tracking_plan_events_checked', 'Events checked against the tracking plan.', ['processor', 'pipeline']).labels(labels);
    this.routed = telemetry.counter('otelytics_tracking_plan_events_routed', 'Events that broke the tracking plan handed to the route_to exporter.', ['processor', 'pipeline']).labels(labels);
    this.dropped = telemetry.counter('otelytics_tracking_plan_events_dropped', 'Events that broke the tracking plan dropped (drop_event).', ['processor', 'pipeline']).labels(labels);
    this.reloads = telemetry.counter('otelytics_tracking_plan_reloads', 'Plan file reads after start, by result (ok, failed: the last good plan stays in use).', ['processor', 'result']);
    this.planned = telemetry.gauge('otelytics_tracking_plan_planned_events', 'Events the tracking plan in use lists.', ['processor']).labels({ processor: id });
    this.planned.set(this.plan.events.size);
    this.log = violationLog(telemetry);
  }

  /** The plan in use (for tests). */
  get current(): TrackingPlan {
    return this.plan;
  }

  async start(host: Host): Promise<void> {
    const to = this.cfg.route_to;
    if (to !== undefined) {
      this.route = host.getExporter(to);
      if (!this.route) throw new SettingError('route_to', `exporter "${to}" is not configured`);
    }
    const file = this.cfg.plan.file;
    if (file === undefined) return;
    let contents: Buffer;
    try {
      contents = fs.readFileSync(file);
      this.use(parsePlan(contents.toString('utf8'), file));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new SettingError('plan::file', e.code ? `cannot read ${file}: ${e.code}` : e.message, { cause: err });
    }
    this.logger.info({ file, events: this.plan.events.size }, 'tracking plan loaded');
    // Compared with the contents read at start; a broken plan is reported once, not on every look.
    this.unwatch = watchContents(file, contents, (now) => {
      if (!Buffer.isBuffer(now)) {
        this.reloads.inc({ processor: this.id, result: 'failed' });
        this.logger.warn({ file, err: now.code ?? now.message }, 'tracking plan cannot be read; keeping the plan read before');
        return;
      }
      try {
        this.use(parsePlan(now.toString('utf8'), file));
      } catch (err) {
        this.reloads.inc({ processor: this.id, result: 'failed' });
        this.logger.error({ file, err: (err as Error).message }, 'tracking plan cannot be used; keeping the plan read before');
        return;
      }
      this.reloads.inc({ processor: this.id, result: 'ok' });
      this.logger.info({ file, events: this.plan.events.size }, 'tracking plan read again');
    }, this.cfg.plan.poll_interval);
  }

  private use(plan: TrackingPlan): void {
    this.plan = plan;
    this.planned.set(plan.events.size);
  }

  async shutdown(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private count(name: string, kind: ViolationKind, planned: boolean): void {
    const label = planned ? name : UNPLANNED_LABEL;
    const key = `${label}\0${kind}`;
    let c = this.byLabel.get(key);
    if (!c) this.byLabel.set(key, (c = this.violations.labels({ processor: this.id, event_name: label, kind })));
    c.inc();
  }

  async consume(p: Payload): Promise<void> {
    if (p.signal !== 'events') return this.next.consume(p);
    const plan = this.plan;
    const events = p.data;
    const actions = this.cfg.actions;
    // Copies of the list are made only once an event leaves it.
    let kept: AnalyticsEvent[] | undefined;
    let routed: AnalyticsEvent[] | undefined;
    let dropped = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const { planned, violations } = checkEvent(plan, e);
      if (planned) {
        if (planned.category !== undefined && e.category === undefined) e.category = planned.category;
        if (planned.privacy_level !== undefined && e.privacy_level === undefined) e.privacy_level = planned.privacy_level;
      }
      if (violations.length === 0) {
        kept?.push(e);
        continue;
      }
      for (const v of violations) this.count(e.name, v.kind, planned !== undefined);
      const { outcome, remove } = decide(actions, violations);
      this.log.add({ time: new Date().toISOString(), processor: this.id, pipeline: this.pipeline, event_name: planned ? e.name : e.name.slice(0, 200), insert_id: e.insert_id, outcome, violations: violations.map((v) => ({ ...v })) });
      if (outcome === 'kept') {
        if (remove.length > 0) removeAt(e.properties, remove);
        e.context.violations = violations as unknown as JsonValue;
        kept?.push(e);
        continue;
      }
      kept ??= events.slice(0, i);
      if (outcome === 'dropped') dropped++;
      else {
        e.context.violations = violations as unknown as JsonValue;
        (routed ??= []).push(e);
      }
    }
    this.checked.inc(events.length);
    if (dropped > 0) {
      this.dropped.inc(dropped);
      this.telemetry.eventsDropped(this.id, 'tracking_plan', dropped);
    }
    const out = kept ?? events;
    if (!routed) {
      if (out.length > 0 || !kept) await this.next.consume(kept ? { ...p, data: out } : p);
      return;
    }
    this.routed.inc(routed.length);
    const sends: Promise<void>[] = [this.route!.consume({ signal: 'events', data: routed })];
    if (out.length > 0) sends.push(this.next.consume({ ...p, data: out }));
    await Promise.all(sends);
  }
}

export const trackingPlanProcessorFactory: ProcessorFactory<TrackingPlanConfig> = {
  kind: 'processor',
  type: 'tracking_plan',
  description: 'Checks events against a tracking plan (JSON Schema per event); allows, fixes, drops or routes violations',
  configSchema: trackingPlanSchema,
  accepts: ['events'],
  output: (s) => s,
  mutatesData: true,
  exporterReferences: (cfg) => (cfg.route_to === undefined ? [] : [{ path: ['route_to'], exporter: cfg.route_to }]),
  create: (settings, config, next) => new TrackingPlanProcessor(settings.id, settings.pipeline, config, next, settings.logger, settings.telemetry),
};
