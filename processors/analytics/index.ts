/**
 * The `analytics` processor: spans and log records in, analytics events out.
 *
 * - Span rules match on kind, name, status and attributes, capture values with named groups and
 *   map attributes to properties, GA4 `items` lists included (zipped from list attributes, or one
 *   item per map of a list; rules.ts); every matching span rule makes one event.
 * - A log record with an event name (`event_name`, else the `event.name` attribute) becomes an
 *   event unless a log rule matches it first: a log rule can rename it, map its properties or
 *   drop it. Log records without an event name make no event unless a log rule names one.
 * - Identity (`user_id`, `session_id`, `device_id`), consent flags and context are read from the
 *   record's attributes, then its resource's.
 * - `insert_id` is derived from the source record (trace id, span id, rule id; for log records
 *   their content), so the same input always gives the same id.
 * Events given to it (from an events receiver) pass through unchanged.
 */
import type { ClientInfo, Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import type { AnalyticsEvent, EventContext } from '../../src/event.js';
import { consentGranted } from '../../src/consent.js';
import { logRecordTime } from '../../src/event.js';
import { EncodedTraces } from '../../src/otlp/encoded.js';
import { AttributeKeys, projectTraces, type ProjectedSpan } from '../../src/otlp/proto/project.js';
import type { AnyValue, JsonValue, KeyValue, LogRecord, LogsData, Span, TracesData } from '../../src/pdata.js';
import { findAttribute, scalarString, toJsonValue } from '../../src/pdata.js';
import type { Telemetry } from '../../src/telemetry.js';
import { analyticsSchema, type AnalyticsConfig } from './config.js';
import { AttributeSlots, compileRules, insertId, type CompiledRule, type RecordView, type SpanFields } from './rules.js';

const configSchema = analyticsSchema.superRefine((cfg, ctx) => {
  for (const e of compileRules(cfg).errors) ctx.addIssue({ code: 'custom', path: e.path.split('::'), message: e.message });
});

type Values = readonly (AnyValue | undefined)[];

/** What an event's context takes from the resource: `service.name`, `service.version`, `deployment.environment`. */
interface ResourceContext {
  service: string | undefined;
  version: string | undefined;
  environment: string | undefined;
}

/** A decoded pdata span as {@link SpanFields}; one object is pointed at each span in turn. */
class DecodedSpan implements SpanFields {
  kind = 0;
  statusCode = 0;
  span: Span | undefined;

  point(span: Span): void {
    this.span = span;
    this.kind = span.kind;
    this.statusCode = span.status.code;
  }

  statusMessage(): string {
    return this.span!.status.message;
  }
  startTimeUnixNano(): string {
    return this.span!.startTimeUnixNano;
  }
  endTimeUnixNano(): string {
    return this.span!.endTimeUnixNano;
  }
  traceId(): string {
    return this.span!.traceId;
  }
  spanId(): string {
    return this.span!.spanId;
  }
}

/**
 * Makes events from spans and log records. Every attribute it reads (rules, identity, consent,
 * context, the resource's service and environment) has a slot, so a record's attributes are read
 * in one pass: from pdata by key, or, for traces still in their protobuf bytes (`EncodedTraces`),
 * by projecting the request (src/otlp/proto/project.ts) without decoding it.
 */
export class EventMaker {
  private readonly spanRules: CompiledRule[];
  private readonly logRules: CompiledRule[];
  /** Attribute keys that are not copied into properties of log events (event name, identity, consent, context). */
  private readonly reserved: Set<string>;
  private readonly slots = new AttributeSlots();
  /** The same keys, for projecting protobuf requests. */
  private readonly keys: AttributeKeys;
  private readonly readsName: boolean;
  private readonly userId: number[];
  private readonly sessionId: number[];
  private readonly deviceId: number[];
  private readonly consent: [number, string][];
  private readonly context: [number, string][];
  private readonly service: { name: number; version: number; environmentName: number; environment: number };

  constructor(private readonly cfg: AnalyticsConfig) {
    const { rules, readsName } = compileRules(cfg, this.slots);
    this.spanRules = rules.filter((r) => r.source === 'span');
    this.logRules = rules.filter((r) => r.source === 'log');
    this.readsName = readsName;
    const slot = (key: string) => this.slots.slot(key);
    this.userId = cfg.identity.user_id.map(slot);
    this.sessionId = cfg.identity.session_id.map(slot);
    this.deviceId = cfg.identity.device_id.map(slot);
    this.consent = Object.entries(cfg.consent_attributes).map(([k, purpose]): [number, string] => [slot(k), purpose]);
    this.context = cfg.context_attributes.map((k): [number, string] => [slot(k), k]);
    this.reserved = new Set(['event.name', ...cfg.identity.user_id, ...cfg.identity.session_id, ...cfg.identity.device_id, ...Object.keys(cfg.consent_attributes), ...cfg.context_attributes]);
    this.service = { name: slot('service.name'), version: slot('service.version'), environmentName: slot('deployment.environment.name'), environment: slot('deployment.environment') };
    this.keys = new AttributeKeys(this.slots.keys);
  }

  fromTraces(data: TracesData, out: AnalyticsEvent[]): void {
    if (this.spanRules.length === 0) return;
    const bytes = data instanceof EncodedTraces ? data.bytes : undefined;
    if (bytes !== undefined) {
      this.fromEncodedTraces(bytes, out);
      return;
    }
    const span = new DecodedSpan();
    const view: RecordView = { attrs: [], resource: [], name: '', span, log: undefined };
    for (const rs of data.resourceSpans) {
      view.resource = this.values(rs.resource.attributes);
      const base = this.resourceContext(view.resource);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          span.point(s);
          view.attrs = this.values(s.attributes);
          view.name = s.name;
          this.spanEvents(view, span, base, out);
        }
      }
    }
  }

  /** Events of the spans of an `ExportTraceServiceRequest` that passed the validating scan. */
  private fromEncodedTraces(bytes: Uint8Array, out: AnalyticsEvent[]): void {
    const view: RecordView = { attrs: [], resource: [], name: '', span: undefined, log: undefined };
    let resource: Values | undefined;
    let base: ResourceContext = { service: undefined, version: undefined, environment: undefined };
    projectTraces(bytes, this.keys, (s: ProjectedSpan) => {
      if (s.resource !== resource) {
        resource = s.resource;
        base = this.resourceContext(resource);
      }
      view.attrs = s.attrs;
      view.resource = s.resource;
      view.span = s;
      view.name = this.readsName ? s.name() : '';
      this.spanEvents(view, s, base, out);
    });
  }

  /** One event per span rule that matches and captures. */
  private spanEvents(view: RecordView, span: SpanFields, base: ResourceContext, out: AnalyticsEvent[]): void {
    let traceId: string | undefined;
    let spanId = '';
    let start = '';
    for (const rule of this.spanRules) {
      if (!rule.match(view)) continue;
      const captured: { [k: string]: JsonValue } = {};
      if (!rule.capture(view, captured)) continue;
      if (traceId === undefined) {
        traceId = span.traceId();
        spanId = span.spanId();
        start = span.startTimeUnixNano();
      }
      const e = this.make(view, rule, rule.event!, base, 'span', start, traceId, spanId, captured);
      e.insert_id = insertId(['span', traceId, spanId, start, rule.id]);
      out.push(e);
    }
  }

  fromLogs(data: LogsData, out: AnalyticsEvent[]): void {
    // Receive time, for records with neither Timestamp nor ObservedTimestamp: read once a request.
    let received: string | undefined;
    const time = (log: LogRecord): string => logRecordTime(log) ?? (received ??= String(BigInt(Date.now()) * 1_000_000n));
    for (const rl of data.resourceLogs) {
      const resource = this.values(rl.resource.attributes);
      const base = this.resourceContext(resource);
      for (const sl of rl.scopeLogs) {
        for (const log of sl.logRecords) {
          const name = log.eventName || scalarString(findAttribute(log.attributes, 'event.name')) || '';
          const view: RecordView = { attrs: this.values(log.attributes), resource, name, span: undefined, log };
          let made: AnalyticsEvent | undefined;
          let decided = false;
          for (const rule of this.logRules) {
            if (!rule.match(view)) continue;
            const captured: { [k: string]: JsonValue } = {};
            if (!rule.capture(view, captured)) continue;
            decided = true;
            const eventName = rule.event ?? name;
            if (!rule.drop && eventName) made = this.make(view, rule, eventName, base, 'log', time(log), log.traceId, log.spanId, captured);
            break;
          }
          if (!decided && name && this.cfg.logs.events) {
            made = this.make(view, undefined, name, base, 'log', time(log), log.traceId, log.spanId, {});
          }
          if (made) {
            made.insert_id = logInsertId(log, made.context.rule);
            out.push(made);
          }
        }
      }
    }
  }

  /** One pass over `attrs`: the value of each slot's key, the first one when a key repeats. */
  private values(attrs: readonly KeyValue[]): Values {
    const values = new Array<AnyValue | undefined>(this.keys.keys.length).fill(undefined);
    const index = this.slots.index;
    for (let i = 0; i < attrs.length; i++) {
      const slot = index.get(attrs[i]!.key);
      if (slot !== undefined && values[slot] === undefined) values[slot] = attrs[i]!.value;
    }
    return values;
  }

  /** The part of an event's context that comes from the resource, computed once per resource. */
  private resourceContext(resource: Values): ResourceContext {
    return {
      service: scalarString(resource[this.service.name]),
      version: scalarString(resource[this.service.version]),
      environment: scalarString(resource[this.service.environmentName] ?? resource[this.service.environment]),
    };
  }

  private make(
    view: RecordView,
    rule: CompiledRule | undefined,
    name: string,
    base: ResourceContext,
    source: 'span' | 'log',
    time: string,
    traceId: string,
    spanId: string,
    captured: { [k: string]: JsonValue },
  ): AnalyticsEvent {
    const { attrs, resource } = view;
    // Built field by field: adding keys to an object made by a spread is slow.
    const context: EventContext = { source };
    if (base.service !== undefined) context['service.name'] = base.service;
    if (base.version !== undefined) context['service.version'] = base.version;
    if (base.environment !== undefined) context['deployment.environment'] = base.environment;
    if (traceId) context.trace_id = traceId;
    if (spanId) context.span_id = spanId;
    if (rule) context.rule = rule.id;
    for (let i = 0; i < this.context.length; i++) {
      const [slot, key] = this.context[i]!;
      const v = scalarString(attrs[slot]);
      if (v !== undefined) context[key] = v;
    }
    let properties: { [k: string]: JsonValue };
    if (rule?.properties) {
      properties = copyOf(captured);
      for (let i = 0; i < rule.properties.length; i++) {
        const [key, src] = rule.properties[i]!;
        const v = src(view, captured);
        if (v !== undefined) properties[key] = v;
      }
    } else if (source === 'log') {
      properties = copyOf(captured);
      for (const kv of view.log!.attributes) if (!this.reserved.has(kv.key)) properties[kv.key] = toJsonValue(kv.value);
      if (this.cfg.logs.include_body) {
        const body = toJsonValue(view.log!.body);
        if (body !== null) properties.message = body;
      }
    } else {
      properties = captured;
    }
    const e: AnalyticsEvent = { name, time_unix_nano: time, insert_id: '', properties, context };
    const user = firstOf(attrs, resource, this.userId);
    if (user !== undefined) e.user_id = user;
    const session = firstOf(attrs, resource, this.sessionId);
    if (session !== undefined) e.session_id = session;
    const device = firstOf(attrs, resource, this.deviceId);
    if (device !== undefined) e.device_id = device;
    for (let i = 0; i < this.consent.length; i++) {
      const [slot, purpose] = this.consent[i]!;
      const v = attrs[slot] ?? resource[slot];
      if (v) (e.consent ??= {})[purpose] = consentGranted(v);
    }
    if (rule?.category !== undefined) e.category = rule.category;
    if (rule?.privacyLevel !== undefined) e.privacy_level = rule.privacyLevel;
    return e;
  }
}

/** A copy made key by key: objects made by spreading get slow to add keys to. */
function copyOf(o: { [k: string]: JsonValue }): { [k: string]: JsonValue } {
  const copy: { [k: string]: JsonValue } = {};
  for (const k in o) copy[k] = o[k]!;
  return copy;
}

/** The first non-empty string among `slots`, each looked up on the record, then its resource. */
function firstOf(attrs: Values, resource: Values, slots: readonly number[]): string | undefined {
  for (let i = 0; i < slots.length; i++) {
    const v = scalarString(attrs[slots[i]!] ?? resource[slots[i]!]);
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

/**
 * `from_context`: each event context key with the reader of its value in a payload's client (the
 * collector's `from_context` paths: `auth.<attribute>`, `metadata.<key>`, several values joined
 * with `;`).
 */
function clientContext(fromContext: Record<string, string>): [string, (c: ClientInfo) => string | undefined][] {
  return Object.entries(fromContext).map(([key, path]) => {
    const dot = path.indexOf('.');
    const name = path.slice(dot + 1);
    if (path.startsWith('auth.')) return [key, (c) => c.auth?.[name]];
    const header = name.toLowerCase();
    return [key, (c) => c.metadata?.[header]?.join(';')];
  });
}

class AnalyticsProcessor {
  private readonly maker: EventMaker;
  private readonly fromContext: [string, (c: ClientInfo) => string | undefined][];
  constructor(
    cfg: AnalyticsConfig,
    private readonly next: Consumer,
    private readonly telemetry: Telemetry,
    private readonly pipeline: string,
  ) {
    this.maker = new EventMaker(cfg);
    this.fromContext = clientContext(cfg.from_context);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Sets the `from_context` keys of every event made from one request, from who sent it. */
  private addClientContext(client: ClientInfo, events: AnalyticsEvent[]): void {
    for (const [key, read] of this.fromContext) {
      const v = read(client);
      if (v === undefined) continue;
      for (let i = 0; i < events.length; i++) events[i]!.context[key] = v;
    }
  }

  async consume(p: Payload): Promise<void> {
    if (p.signal === 'events') return this.next.consume(p);
    const events: AnalyticsEvent[] = [];
    if (p.signal === 'traces') this.maker.fromTraces(p.data, events);
    else if (p.signal === 'logs') this.maker.fromLogs(p.data, events);
    if (events.length === 0) return;
    if (p.client !== undefined && this.fromContext.length > 0) this.addClientContext(p.client, events);
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
  // Protobuf traces are projected, not decoded (see EventMaker).
  takesEncodedTraces: true,
  create: (settings, config, next) => new AnalyticsProcessor(config, next, settings.telemetry, settings.pipeline),
};
