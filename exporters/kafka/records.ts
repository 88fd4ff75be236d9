/**
 * Payload → Kafka records for the `kafka` exporter: topic, key, value and headers of each record,
 * and the size check against `producer::max_message_bytes`.
 *
 * - Events: one record per event; value = the event model's fields as JSON (`json`), or an
 *   `ExportLogsServiceRequest` holding the event as an OTLP log record (`otlp_proto`/`otlp_json`).
 * - Traces and logs: one `Export*ServiceRequest` per record, as the collector's kafka exporter
 *   writes them; split per trace id when partitioning by trace id, per topic when the topic comes
 *   from a resource attribute, and in halves while a record is larger than `max_message_bytes`.
 * - Headers: `traceparent` (and `tracestate`) when the record holds one trace's data (W3C Trace
 *   Context), `content-type`, and `event.name` on events.
 */
import type { Payload } from '../../src/component.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { eventsToLogsData } from '../../src/event.js';
import { encodeLogsJson, encodeTracesJson } from '../../src/otlp/json.js';
import { encodeLogsRequest, encodeTracesRequest } from '../../src/otlp/proto.js';
import { bufferOf } from '../../src/otlp/wire.js';
import type { JsonValue, LogRecord, LogsData, ResourceLogs, ResourceSpans, Span, TracesData } from '../../src/pdata.js';
import { findAttribute, scalarString } from '../../src/pdata.js';
import { signalSettings, type KafkaExporterConfig } from './config.js';
import { CHECK_EVERY_MASK, LoopShare, slicing } from '../../src/kafka/slices.js';
import { formatTraceparent, w3cFlags } from '../../src/kafka/traceparent.js';

export const CONTENT_TYPE = { otlp_proto: 'application/x-protobuf', otlp_json: 'application/json', json: 'application/json' } as const;

export interface OutRecord {
  topic: string;
  key: string | null;
  /** The record's value; a string is written as UTF-8. */
  value: Buffer | string;
  headers: Record<string, string>;
  /** The data this record carries (for partial failures). */
  readonly payload: Payload;
}

/** An event's record: its payload is made only when a failure needs it. */
class EventRecord implements OutRecord {
  constructor(
    readonly topic: string,
    readonly key: string | null,
    readonly value: Buffer | string,
    readonly headers: Record<string, string>,
    private readonly event: AnalyticsEvent,
  ) {}

  get payload(): Payload {
    return { signal: 'events', data: [this.event] };
  }
}

export interface Encoded {
  records: OutRecord[];
  /** Data that can never be sent as it is (each too large even alone), with the reason. */
  rejected: { payload: Payload; reason: string }[];
}

/** Bytes of a record counted against `max_message_bytes`: value, key and headers, before compression. */
export function recordSize(r: Pick<OutRecord, 'key' | 'value' | 'headers'>): number {
  let n = (typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.length) + (r.key === null ? 0 : Buffer.byteLength(r.key));
  for (const k in r.headers) n += Buffer.byteLength(k) + Buffer.byteLength(r.headers[k]!);
  return n;
}

/** Compiles an event path (`user_id`, `properties.item_id`, `context.service.name`) into a getter of its string value. */
export function eventGetter(path: string): (e: AnalyticsEvent) => string | undefined {
  const dot = path.indexOf('.');
  const head = dot < 0 ? path : path.slice(0, dot);
  const rest = dot < 0 ? '' : path.slice(dot + 1);
  const str = (v: JsonValue | undefined): string | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  };
  switch (head) {
    case 'properties':
      return (e) => str(e.properties[rest]);
    case 'context':
      return (e) => str(e.context[rest]);
    case 'user_properties':
      return (e) => str(e.user_properties?.[rest]);
    default:
      return (e) => str((e as unknown as Record<string, JsonValue | undefined>)[head]);
  }
}

const buf = (u: Uint8Array | string): Buffer => (typeof u === 'string' ? Buffer.from(u) : bufferOf(u));

export class RecordEncoder {
  private readonly eventKey: ((e: AnalyticsEvent) => string | undefined)[];
  private readonly max: number;

  constructor(private readonly cfg: KafkaExporterConfig) {
    this.eventKey = cfg.events.key.map(eventGetter);
    this.max = cfg.producer.max_message_bytes;
  }

  encode(p: Payload): Encoded {
    const out: Encoded = { records: [], rejected: [] };
    switch (p.signal) {
      case 'events':
        this.encodeEvents(p.data, out);
        break;
      case 'traces':
        this.encodeTraces(p.data, out);
        break;
      case 'logs':
        this.encodeLogs(p.data, out);
        break;
      case 'metrics':
        throw new Error('the kafka exporter does not take metrics');
    }
    return out;
  }

  private tooLarge(size: number): string {
    return `record of ${size} bytes exceeds producer::max_message_bytes of ${this.max} bytes`;
  }

  /**
   * {@link encode} in slices: a batch of events is encoded a few events at a time, the event loop
   * getting a turn whenever `share`'s slice is used up (src/kafka/slices.ts). The same records as
   * {@link encode}. Traces and logs are encoded in one go (a record per request or trace).
   */
  async encodeSliced(p: Payload, share: LoopShare = new LoopShare(slicing.sliceMillis)): Promise<Encoded> {
    if (p.signal !== 'events') return this.encode(p);
    const out: Encoded = { records: [], rejected: [] };
    const { topic, encoding } = signalSettings(this.cfg, 'events');
    const events = p.data;
    for (let i = 0; i < events.length; i++) {
      if ((i & CHECK_EVERY_MASK) === CHECK_EVERY_MASK && share.due()) await share.turn();
      this.pushEvent(events[i]!, topic, encoding, out);
    }
    return out;
  }

  private encodeEvents(events: readonly AnalyticsEvent[], out: Encoded): void {
    const { topic, encoding } = signalSettings(this.cfg, 'events');
    for (const e of events) this.pushEvent(e, topic, encoding, out);
  }

  private pushEvent(e: AnalyticsEvent, topic: string, encoding: 'otlp_proto' | 'otlp_json' | 'json', out: Encoded): void {
    const attr = this.cfg.topic_from_attribute;
    // UTF-8 bytes at once rather than the JSON string: a batch's records wait for their Produce
    // request, and strings that wait are copied by every scavenge and then promoted; a Buffer's
    // bytes lie outside the heap (case B at 10,000 spans/s: half the promoted bytes).
    const value = buf(encoding === 'json' ? JSON.stringify(e) : encoding === 'otlp_proto' ? encodeLogsRequest(eventsToLogsData([e])) : encodeLogsJson(eventsToLogsData([e])));
    let key: string | null = null;
    for (const get of this.eventKey) {
      const k = get(e);
      if (k !== undefined) {
        key = k;
        break;
      }
    }
    const headers: Record<string, string> = { 'content-type': CONTENT_TYPE[encoding], 'event.name': e.name };
    const tp = e.context.trace_id && e.context.span_id ? formatTraceparent(e.context.trace_id, e.context.span_id, typeof e.context.trace_flags === 'number' ? e.context.trace_flags : 1) : undefined;
    if (tp) headers.traceparent = tp;
    if (tp && typeof e.context.trace_state === 'string' && e.context.trace_state) headers.tracestate = e.context.trace_state;
    let recordTopic = topic;
    if (attr) {
      const t = e.context[attr] ?? e.properties[attr];
      if (typeof t === 'string' && t) recordTopic = t;
    }
    const r = new EventRecord(recordTopic, key, value, headers, e);
    const size = recordSize(r);
    if (size > this.max) out.rejected.push({ payload: r.payload, reason: `event ${e.insert_id || e.name}: ${this.tooLarge(size)}` });
    else out.records.push(r);
  }

  private encodeTraces(data: TracesData, out: Encoded): void {
    const { topic, encoding } = signalSettings(this.cfg, 'traces');
    for (const [t, part] of this.byTopic(data.resourceSpans, topic)) {
      const groups = this.cfg.partition_traces_by_id ? regroupSpans(part, (s) => s.traceId || null) : new Map([[null, part]]);
      for (const [key, rs] of groups) this.pushTraces(t, key, rs, encoding, out);
    }
  }

  private pushTraces(topic: string, key: string | null, rs: ResourceSpans[], encoding: 'otlp_proto' | 'otlp_json' | 'json', out: Encoded): void {
    const data: TracesData = { resourceSpans: rs };
    const value = encoding === 'otlp_json' ? buf(encodeTracesJson(data)) : buf(encodeTracesRequest(data));
    const headers: Record<string, string> = { 'content-type': CONTENT_TYPE[encoding === 'json' ? 'otlp_proto' : encoding] };
    const root = singleTraceRoot(rs);
    if (root) {
      const tp = formatTraceparent(root.traceId, root.spanId, w3cFlags(root.flags));
      if (tp) headers.traceparent = tp;
      if (tp && root.traceState) headers.tracestate = root.traceState;
    }
    const r: OutRecord = { topic, key, value, headers, payload: { signal: 'traces', data } };
    const size = recordSize(r);
    if (size <= this.max) return void out.records.push(r);
    let i = 0;
    const n = countSpans(rs);
    if (n <= 1) return void out.rejected.push({ payload: r.payload, reason: `span ${root?.spanId ?? ''}: ${this.tooLarge(size)}` });
    const halves = regroupSpans(rs, () => (i++ < n / 2 ? 'a' : 'b'));
    for (const half of halves.values()) this.pushTraces(topic, key, half, encoding, out);
  }

  private encodeLogs(data: LogsData, out: Encoded): void {
    const { topic, encoding } = signalSettings(this.cfg, 'logs');
    for (const [t, part] of this.byTopic(data.resourceLogs, topic)) {
      const groups = this.cfg.partition_logs_by_trace_id ? regroupLogs(part, (r) => r.traceId || null) : new Map([[null, part]]);
      for (const [key, rl] of groups) this.pushLogs(t, key, rl, encoding, out);
    }
  }

  private pushLogs(topic: string, key: string | null, rl: ResourceLogs[], encoding: 'otlp_proto' | 'otlp_json' | 'json', out: Encoded): void {
    const data: LogsData = { resourceLogs: rl };
    const value = encoding === 'otlp_json' ? buf(encodeLogsJson(data)) : buf(encodeLogsRequest(data));
    const headers: Record<string, string> = { 'content-type': CONTENT_TYPE[encoding === 'json' ? 'otlp_proto' : encoding] };
    const first = singleTraceLog(rl);
    if (first) {
      const tp = formatTraceparent(first.traceId, first.spanId, w3cFlags(first.flags));
      if (tp) headers.traceparent = tp;
    }
    const r: OutRecord = { topic, key, value, headers, payload: { signal: 'logs', data } };
    const size = recordSize(r);
    if (size <= this.max) return void out.records.push(r);
    let i = 0;
    const n = countLogs(rl);
    if (n <= 1) return void out.rejected.push({ payload: r.payload, reason: `log record: ${this.tooLarge(size)}` });
    const halves = regroupLogs(rl, () => (i++ < n / 2 ? 'a' : 'b'));
    for (const half of halves.values()) this.pushLogs(topic, key, half, encoding, out);
  }

  /** Resources grouped by the topic their `topic_from_attribute` names (the default topic otherwise), in order. */
  private byTopic<R extends { resource: { attributes: ResourceSpans['resource']['attributes'] } }>(resources: R[], fallback: string): Map<string, R[]> {
    const attr = this.cfg.topic_from_attribute;
    if (!attr) return new Map([[fallback, resources]]);
    const m = new Map<string, R[]>();
    for (const r of resources) {
      const t = scalarString(findAttribute(r.resource.attributes, attr)) || fallback;
      let list = m.get(t);
      if (!list) m.set(t, (list = []));
      list.push(r);
    }
    return m;
  }
}

function countSpans(rs: readonly ResourceSpans[]): number {
  let n = 0;
  for (const r of rs) for (const s of r.scopeSpans) n += s.spans.length;
  return n;
}

function countLogs(rl: readonly ResourceLogs[]): number {
  let n = 0;
  for (const r of rl) for (const s of r.scopeLogs) n += s.logRecords.length;
  return n;
}

/** Splits spans into groups by `keyOf` (called once per span, in order), keeping resource and scope. */
export function regroupSpans(rs: readonly ResourceSpans[], keyOf: (s: Span) => string | null): Map<string | null, ResourceSpans[]> {
  const out = new Map<string | null, ResourceSpans[]>();
  for (const r of rs) {
    const perKey = new Map<string | null, ResourceSpans>();
    for (const ss of r.scopeSpans) {
      const scoped = new Map<string | null, Span[]>();
      for (const span of ss.spans) {
        const k = keyOf(span);
        let list = scoped.get(k);
        if (!list) scoped.set(k, (list = []));
        list.push(span);
      }
      for (const [k, spans] of scoped) {
        let target = perKey.get(k);
        if (!target) {
          target = { resource: r.resource, scopeSpans: [], schemaUrl: r.schemaUrl };
          perKey.set(k, target);
          let list = out.get(k);
          if (!list) out.set(k, (list = []));
          list.push(target);
        }
        target.scopeSpans.push({ scope: ss.scope, spans, schemaUrl: ss.schemaUrl });
      }
    }
  }
  return out;
}

/** Splits log records into groups by `keyOf` (called once per record, in order), keeping resource and scope. */
export function regroupLogs(rl: readonly ResourceLogs[], keyOf: (r: LogRecord) => string | null): Map<string | null, ResourceLogs[]> {
  const out = new Map<string | null, ResourceLogs[]>();
  for (const r of rl) {
    const perKey = new Map<string | null, ResourceLogs>();
    for (const sl of r.scopeLogs) {
      const scoped = new Map<string | null, LogRecord[]>();
      for (const rec of sl.logRecords) {
        const k = keyOf(rec);
        let list = scoped.get(k);
        if (!list) scoped.set(k, (list = []));
        list.push(rec);
      }
      for (const [k, logRecords] of scoped) {
        let target = perKey.get(k);
        if (!target) {
          target = { resource: r.resource, scopeLogs: [], schemaUrl: r.schemaUrl };
          perKey.set(k, target);
          let list = out.get(k);
          if (!list) out.set(k, (list = []));
          list.push(target);
        }
        target.scopeLogs.push({ scope: sl.scope, logRecords, schemaUrl: sl.schemaUrl });
      }
    }
  }
  return out;
}

/**
 * The span that stands for the record in `traceparent` when every span belongs to one trace: its
 * local root (the span whose parent is not in the record), else the first span. Undefined when
 * the record holds several traces or none.
 */
function singleTraceRoot(rs: readonly ResourceSpans[]): Span | undefined {
  let traceId: string | undefined;
  const ids = new Set<string>();
  const spans: Span[] = [];
  for (const r of rs) {
    for (const ss of r.scopeSpans) {
      for (const s of ss.spans) {
        if (traceId === undefined) traceId = s.traceId;
        else if (s.traceId !== traceId) return undefined;
        ids.add(s.spanId);
        spans.push(s);
      }
    }
  }
  if (!traceId) return undefined;
  return spans.find((s) => !s.parentSpanId || !ids.has(s.parentSpanId)) ?? spans[0];
}

/** The first log record when every record carries the same trace id; undefined otherwise. */
function singleTraceLog(rl: readonly ResourceLogs[]): LogRecord | undefined {
  let first: LogRecord | undefined;
  for (const r of rl) {
    for (const sl of r.scopeLogs) {
      for (const rec of sl.logRecords) {
        if (!rec.traceId) return undefined;
        if (!first) first = rec;
        else if (rec.traceId !== first.traceId) return undefined;
      }
    }
  }
  return first && first.spanId ? first : undefined;
}

/** Several payloads of one signal as one (for the part of a batch left to retry). */
export function mergePayloads(parts: readonly Payload[]): Payload | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  const signal = parts[0]!.signal;
  switch (signal) {
    case 'events':
      return { signal, data: parts.flatMap((p) => p.data as AnalyticsEvent[]) };
    case 'traces':
      return { signal, data: { resourceSpans: parts.flatMap((p) => (p.data as TracesData).resourceSpans) } };
    case 'logs':
      return { signal, data: { resourceLogs: parts.flatMap((p) => (p.data as LogsData).resourceLogs) } };
    default:
      return parts[0];
  }
}
