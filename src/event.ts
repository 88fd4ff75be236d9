/**
 * The analytics event model.
 *
 * An event is, on the wire, an OTLP log record whose `event_name` is set (the OpenTelemetry way
 * of saying "event"; see the logs data model, `LogRecord.event_name`). Inside the gateway it is a
 * plain object for speed, with the fields below; `toLogRecord`/`fromLogRecord` convert losslessly
 * so events can travel over OTLP and Kafka and stay readable by any OpenTelemetry tool.
 */
import type { JsonValue, KeyValue, LogRecord, LogsData } from './pdata.js';
import { attributesToObject, emptyScope, findAttribute, fromJsonValue, scalarString, toJsonValue } from './pdata.js';

export type EventSource = 'span' | 'log';

/** Where an event came from and which rule made it; keys use OpenTelemetry attribute names. */
export interface EventContext {
  'service.name'?: string;
  'service.version'?: string;
  'deployment.environment'?: string;
  trace_id?: string;
  span_id?: string;
  source: EventSource;
  /** Id of the analytics rule that produced the event (absent for log records taken as they are). */
  rule?: string;
  [key: string]: JsonValue | undefined;
}

export interface AnalyticsEvent {
  /** Event type, e.g. `view_item` (GA4 names for commerce) or `user.signed_up`. */
  name: string;
  /** When it happened: span start or log record timestamp, nanoseconds since the epoch, decimal string. */
  time_unix_nano: string;
  /** Deterministic de-duplication id: the same input gives the same id; two events of one span differ. */
  insert_id: string;
  user_id?: string;
  device_id?: string;
  session_id?: string;
  properties: { [key: string]: JsonValue };
  user_properties?: { [key: string]: JsonValue };
  context: EventContext;
  /** Consent flags read from the source (e.g. `{ analytics: true }`), used by `privacy`. */
  consent?: { [purpose: string]: boolean };
  /** Governance: e.g. `public`, `internal`, `sensitive`. */
  privacy_level?: string;
  /** Governance: routing category, e.g. `commerce`, `technical`. */
  category?: string;
  /** Set on events written to a dead-letter route: which exporter rejected it, why, and when (ISO 8601). */
  dead_letter?: { exporter: string; reason: string; time: string };
}

/** Attribute keys used when an event is carried as an OTLP log record. */
export const EventAttr = {
  insertId: 'event.insert_id',
  userId: 'user.id',
  deviceId: 'device.id',
  sessionId: 'session.id',
  userProperties: 'event.user_properties',
  context: 'event.context',
  consent: 'event.consent',
  privacyLevel: 'event.privacy_level',
  category: 'event.category',
} as const;

const RESERVED = new Set<string>(Object.values(EventAttr));

/**
 * The event as an OTLP log record: `event_name` = name, time = `time_unix_nano`, trace/span ids
 * from the context, properties as attributes, the other fields under the `event.*` / identity keys
 * in {@link EventAttr}. Properties whose key collides with those keys are nested under
 * `event.properties` instead so nothing is lost.
 */
export function toLogRecord(e: AnalyticsEvent): LogRecord {
  const attributes: KeyValue[] = [];
  let clashes: { [key: string]: JsonValue } | undefined;
  for (const key in e.properties) {
    if (RESERVED.has(key) || key === 'event.properties') (clashes ??= {})[key] = e.properties[key]!;
    else attributes.push({ key, value: fromJsonValue(e.properties[key]) });
  }
  if (clashes) attributes.push({ key: 'event.properties', value: fromJsonValue(clashes) });
  attributes.push({ key: EventAttr.insertId, value: { stringValue: e.insert_id } });
  if (e.user_id !== undefined) attributes.push({ key: EventAttr.userId, value: { stringValue: e.user_id } });
  if (e.device_id !== undefined) attributes.push({ key: EventAttr.deviceId, value: { stringValue: e.device_id } });
  if (e.session_id !== undefined) attributes.push({ key: EventAttr.sessionId, value: { stringValue: e.session_id } });
  if (e.user_properties) attributes.push({ key: EventAttr.userProperties, value: fromJsonValue(e.user_properties) });
  const { trace_id, span_id, ...rest } = e.context;
  attributes.push({ key: EventAttr.context, value: fromJsonValue(stripUndefined(rest)) });
  if (e.consent) attributes.push({ key: EventAttr.consent, value: fromJsonValue(e.consent) });
  if (e.privacy_level !== undefined) attributes.push({ key: EventAttr.privacyLevel, value: { stringValue: e.privacy_level } });
  if (e.category !== undefined) attributes.push({ key: EventAttr.category, value: { stringValue: e.category } });
  return {
    timeUnixNano: e.time_unix_nano,
    observedTimeUnixNano: e.time_unix_nano,
    severityNumber: 9,
    severityText: 'INFO',
    body: {},
    attributes,
    droppedAttributesCount: 0,
    flags: trace_id ? 1 : 0,
    traceId: trace_id ?? '',
    spanId: span_id ?? '',
    eventName: e.name,
  };
}

/**
 * When a log record happened, per the OTel logs data model ("Field: Timestamp"; "Field:
 * ObservedTimestamp": use Timestamp when present, else ObservedTimestamp): nanoseconds since the
 * epoch as a decimal string; undefined when both are unset (0). Java and Go SDKs send only
 * ObservedTimestamp when the caller gave no time.
 */
export function logRecordTime(r: Pick<LogRecord, 'timeUnixNano' | 'observedTimeUnixNano'>): string | undefined {
  if (r.timeUnixNano && r.timeUnixNano !== '0') return r.timeUnixNano;
  if (r.observedTimeUnixNano && r.observedTimeUnixNano !== '0') return r.observedTimeUnixNano;
  return undefined;
}

/** Inverse of {@link toLogRecord}. Returns undefined when the record has no event name. */
export function fromLogRecord(r: LogRecord): AnalyticsEvent | undefined {
  const name = r.eventName || scalarString(findAttribute(r.attributes, 'event.name'));
  if (!name) return undefined;
  const properties: { [key: string]: JsonValue } = {};
  const e: AnalyticsEvent = { name, time_unix_nano: logRecordTime(r) ?? '0', insert_id: '', properties, context: { source: 'log' } };
  for (const { key, value } of r.attributes) {
    switch (key) {
      case EventAttr.insertId: e.insert_id = scalarString(value) ?? ''; break;
      case EventAttr.userId: e.user_id = scalarString(value); break;
      case EventAttr.deviceId: e.device_id = scalarString(value); break;
      case EventAttr.sessionId: e.session_id = scalarString(value); break;
      case EventAttr.userProperties: e.user_properties = toJsonValue(value) as { [key: string]: JsonValue }; break;
      case EventAttr.context: Object.assign(e.context, toJsonValue(value)); break;
      case EventAttr.consent: e.consent = toJsonValue(value) as { [purpose: string]: boolean }; break;
      case EventAttr.privacyLevel: e.privacy_level = scalarString(value); break;
      case EventAttr.category: e.category = scalarString(value); break;
      case 'event.properties': Object.assign(properties, toJsonValue(value)); break;
      case 'event.name': break;
      default: properties[key] = toJsonValue(value);
    }
  }
  if (r.traceId) e.context.trace_id = r.traceId;
  if (r.spanId) e.context.span_id = r.spanId;
  return e;
}

/** Events as an `ExportLogsServiceRequest`, one resource per service name. */
export function eventsToLogsData(events: readonly AnalyticsEvent[]): LogsData {
  const byService = new Map<string, LogRecord[]>();
  for (const e of events) {
    const svc = e.context['service.name'] ?? '';
    let list = byService.get(svc);
    if (!list) byService.set(svc, (list = []));
    list.push(toLogRecord(e));
  }
  return {
    resourceLogs: [...byService].map(([svc, logRecords]) => ({
      resource: { attributes: svc ? [{ key: 'service.name', value: { stringValue: svc } }] : [], droppedAttributesCount: 0 },
      scopeLogs: [{ scope: { ...emptyScope(), name: 'otelytics' }, logRecords, schemaUrl: '' }],
      schemaUrl: '',
    })),
  };
}

/** Events carried in an `ExportLogsServiceRequest` (records without an event name are skipped). */
export function logsDataToEvents(data: LogsData): AnalyticsEvent[] {
  const out: AnalyticsEvent[] = [];
  for (const rl of data.resourceLogs) {
    const res = attributesToObject(rl.resource.attributes);
    for (const sl of rl.scopeLogs) {
      for (const r of sl.logRecords) {
        const e = fromLogRecord(r);
        if (!e) continue;
        if (e.context['service.name'] === undefined && typeof res['service.name'] === 'string') e.context['service.name'] = res['service.name'];
        out.push(e);
      }
    }
  }
  return out;
}

function stripUndefined(o: { [key: string]: JsonValue | undefined }): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k]!;
  return out;
}
