/**
 * The `analytics` processor: spans and log records in, analytics events out.
 *
 * - Span rules match on kind, name, status and attributes, capture values with named groups and
 *   map attributes to properties; every matching span rule makes one event.
 * - A log record with an event name (`event_name`, else the `event.name` attribute) becomes an
 *   event unless a log rule matches it first: a log rule can rename it, map its properties or
 *   drop it. Log records without an event name make no event unless a log rule names one.
 * - Identity (`user_id`, `session_id`, `device_id`), consent flags and context are read from the
 *   record's attributes, then its resource's.
 * - `insert_id` is derived from the source record (trace id, span id, rule id; for log records
 *   their content), so the same input always gives the same id.
 * Events given to it (from an events receiver) pass through unchanged.
 */
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import type { AnalyticsEvent, EventContext } from '../../src/event.js';
import type { AnyValue, JsonValue, KeyValue, LogRecord, LogsData, TracesData } from '../../src/pdata.js';
import { findAttribute, scalarString, toJsonValue } from '../../src/pdata.js';
import type { Telemetry } from '../../src/telemetry.js';
import { analyticsSchema, type AnalyticsConfig } from './config.js';
import { compileRules, insertId, type CompiledRule, type RecordView } from './rules.js';

const configSchema = analyticsSchema.superRefine((cfg, ctx) => {
  for (const e of compileRules(cfg).errors) ctx.addIssue({ code: 'custom', path: e.path.split('::'), message: e.message });
});

/** The part of an event's context that comes from the resource, computed once per resource. */
function resourceContext(resource: readonly KeyValue[]): EventContext {
  const ctx: EventContext = { source: 'span' };
  const svc = scalarString(findAttribute(resource, 'service.name'));
  if (svc !== undefined) ctx['service.name'] = svc;
  const ver = scalarString(findAttribute(resource, 'service.version'));
  if (ver !== undefined) ctx['service.version'] = ver;
  const env = scalarString(findAttribute(resource, 'deployment.environment.name') ?? findAttribute(resource, 'deployment.environment'));
  if (env !== undefined) ctx['deployment.environment'] = env;
  return ctx;
}

/**
 * Slots of the attributes the maker reads on every record (identity, consent, context), so that
 * one pass over a record's attributes (then its resource's) finds them all.
 */
interface Slots {
  /** Attribute key → slot index. */
  index: Map<string, number>;
  size: number;
  userId: number[];
  sessionId: number[];
  deviceId: number[];
  consent: [number, string][];
  context: [number, string][];
}

function slotsFor(cfg: AnalyticsConfig): Slots {
  const index = new Map<string, number>();
  const slot = (key: string) => {
    let i = index.get(key);
    if (i === undefined) index.set(key, (i = index.size));
    return i;
  };
  return {
    index,
    userId: cfg.identity.user_id.map(slot),
    sessionId: cfg.identity.session_id.map(slot),
    deviceId: cfg.identity.device_id.map(slot),
    consent: Object.entries(cfg.consent_attributes).map(([k, purpose]): [number, string] => [slot(k), purpose]),
    context: cfg.context_attributes.map((k): [number, string] => [slot(k), k]),
    get size() {
      return index.size;
    },
  };
}

export class EventMaker {
  private readonly spanRules: CompiledRule[];
  private readonly logRules: CompiledRule[];
  /** Attribute keys that are not copied into properties of log events. */
  private readonly reserved: Set<string>;
  private readonly slots: Slots;

  constructor(private readonly cfg: AnalyticsConfig) {
    const { rules } = compileRules(cfg);
    this.spanRules = rules.filter((r) => r.source === 'span');
    this.logRules = rules.filter((r) => r.source === 'log');
    this.slots = slotsFor(cfg);
    this.reserved = new Set(['event.name', ...this.slots.index.keys()]);
  }

  fromTraces(data: TracesData, out: AnalyticsEvent[]): void {
    if (this.spanRules.length === 0) return;
    for (const rs of data.resourceSpans) {
      const resource = rs.resource.attributes;
      const base = resourceContext(resource);
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          const view: RecordView = { attrs: span.attributes, resource, name: span.name, span };
          for (const rule of this.spanRules) {
            if (!rule.match(view)) continue;
            const captured: { [k: string]: JsonValue } = {};
            if (!rule.capture(view, captured)) continue;
            const e = this.make(view, rule, rule.event!, base, 'span', span.startTimeUnixNano, span.traceId, span.spanId, captured);
            e.insert_id = insertId(['span', span.traceId, span.spanId, span.startTimeUnixNano, rule.id]);
            out.push(e);
          }
        }
      }
    }
  }

  fromLogs(data: LogsData, out: AnalyticsEvent[]): void {
    for (const rl of data.resourceLogs) {
      const resource = rl.resource.attributes;
      const base = resourceContext(resource);
      for (const sl of rl.scopeLogs) {
        for (const log of sl.logRecords) {
          const name = log.eventName || scalarString(findAttribute(log.attributes, 'event.name')) || '';
          const view: RecordView = { attrs: log.attributes, resource, name, log };
          let made: AnalyticsEvent | undefined;
          let decided = false;
          for (const rule of this.logRules) {
            if (!rule.match(view)) continue;
            const captured: { [k: string]: JsonValue } = {};
            if (!rule.capture(view, captured)) continue;
            decided = true;
            const eventName = rule.event ?? name;
            if (!rule.drop && eventName) made = this.make(view, rule, eventName, base, 'log', log.timeUnixNano || log.observedTimeUnixNano, log.traceId, log.spanId, captured);
            break;
          }
          if (!decided && name && this.cfg.logs.events) {
            made = this.make(view, undefined, name, base, 'log', log.timeUnixNano || log.observedTimeUnixNano, log.traceId, log.spanId, {});
          }
          if (made) {
            made.insert_id = logInsertId(log, made.context.rule);
            out.push(made);
          }
        }
      }
    }
  }

  /** One pass over the record's attributes, then its resource's: the slot values, first one wins. */
  private readSlots(view: RecordView): (AnyValue | undefined)[] {
    const values = new Array<AnyValue | undefined>(this.slots.size);
    const index = this.slots.index;
    for (const attrs of [view.attrs, view.resource]) {
      for (let i = 0; i < attrs.length; i++) {
        const slot = index.get(attrs[i]!.key);
        if (slot !== undefined && values[slot] === undefined) values[slot] = attrs[i]!.value;
      }
    }
    return values;
  }

  private make(
    view: RecordView,
    rule: CompiledRule | undefined,
    name: string,
    base: EventContext,
    source: 'span' | 'log',
    time: string,
    traceId: string,
    spanId: string,
    captured: { [k: string]: JsonValue },
  ): AnalyticsEvent {
    const slots = this.readSlots(view);
    const context: EventContext = { ...base, source };
    if (traceId) context.trace_id = traceId;
    if (spanId) context.span_id = spanId;
    if (rule) context.rule = rule.id;
    for (const [slot, key] of this.slots.context) {
      const v = scalarString(slots[slot]);
      if (v !== undefined && findAttribute(view.attrs, key) !== undefined) context[key] = v;
    }
    let properties: { [k: string]: JsonValue };
    if (rule?.properties) {
      properties = { ...captured };
      for (const [key, src] of rule.properties) {
        const v = src(view, captured);
        if (v !== undefined) properties[key] = v;
      }
    } else if (source === 'log') {
      properties = { ...captured };
      for (const kv of view.attrs) if (!this.reserved.has(kv.key)) properties[kv.key] = toJsonValue(kv.value);
      if (this.cfg.logs.include_body && view.log) {
        const body = toJsonValue(view.log.body);
        if (body !== null) properties.message = body;
      }
    } else {
      properties = { ...captured };
    }
    const e: AnalyticsEvent = { name, time_unix_nano: time, insert_id: '', properties, context };
    const user = firstOf(slots, this.slots.userId);
    if (user !== undefined) e.user_id = user;
    const session = firstOf(slots, this.slots.sessionId);
    if (session !== undefined) e.session_id = session;
    const device = firstOf(slots, this.slots.deviceId);
    if (device !== undefined) e.device_id = device;
    for (const [slot, purpose] of this.slots.consent) {
      const v = slots[slot];
      if (v && 'boolValue' in v) (e.consent ??= {})[purpose] = v.boolValue;
      else if (v && 'stringValue' in v && (v.stringValue === 'true' || v.stringValue === 'false')) (e.consent ??= {})[purpose] = v.stringValue === 'true';
    }
    if (rule?.category !== undefined) e.category = rule.category;
    if (rule?.privacyLevel !== undefined) e.privacy_level = rule.privacyLevel;
    return e;
  }
}

function firstOf(values: readonly (AnyValue | undefined)[], slots: readonly number[]): string | undefined {
  for (const slot of slots) {
    const v = scalarString(values[slot]);
    if (v) return v;
  }
  return undefined;
}

/** insert_id of a log-derived event: the record's identity and content, so equal input gives equal ids. */
function logInsertId(log: LogRecord, rule: string | undefined): string {
  return insertId([
    'log',
    log.traceId,
    log.spanId,
    log.timeUnixNano,
    log.observedTimeUnixNano,
    log.eventName,
    String(log.severityNumber),
    JSON.stringify(toJsonValue(log.body)),
    JSON.stringify(log.attributes.map((kv) => [kv.key, toJsonValue(kv.value)])),
    rule ?? '',
  ]);
}

class AnalyticsProcessor {
  private readonly maker: EventMaker;
  constructor(
    cfg: AnalyticsConfig,
    private readonly next: Consumer,
    private readonly telemetry: Telemetry,
    private readonly pipeline: string,
  ) {
    this.maker = new EventMaker(cfg);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(p: Payload): Promise<void> {
    if (p.signal === 'events') return this.next.consume(p);
    const events: AnalyticsEvent[] = [];
    if (p.signal === 'traces') this.maker.fromTraces(p.data, events);
    else if (p.signal === 'logs') this.maker.fromLogs(p.data, events);
    if (events.length === 0) return;
    this.telemetry.eventsCreated(this.pipeline, events.length);
    await this.next.consume({ signal: 'events', data: events });
  }
}

export const analyticsProcessorFactory: ProcessorFactory<AnalyticsConfig> = {
  kind: 'processor',
  type: 'analytics',
  description: 'Turns spans (by rules) and log records with an event name into analytics events',
  configSchema,
  accepts: ['traces', 'logs', 'events'],
  output: () => 'events',
  mutatesData: false,
  create: (settings, config, next) => new AnalyticsProcessor(config, next, settings.telemetry, settings.pipeline),
};
