/**
 * The OTTL contexts conditions are evaluated in: what a path means for a span, a log record, a
 * resource, or an otelytics event. Paths follow the collector's contexts (`pkg/ottl/contexts`:
 * ottlspan, ottllog, ottlresource) for the fields listed below; each context also takes its own
 * name as a prefix (`span.attributes["x"]` = `attributes["x"]` in the span context).
 *
 * | context | paths |
 * |---|---|
 * | `span` | `name`, `kind` (enums `SPAN_KIND_*`), `status.code` (`STATUS_CODE_UNSET`/`OK`/`ERROR`), `status.message`, `attributes["k"]`, `resource.attributes["k"]`, `instrumentation_scope.name`/`.version`/`.attributes["k"]`, `trace_id.string`, `span_id.string`, `parent_span_id.string`, `trace_state` |
 * | `log` | `body`, `attributes["k"]`, `severity_number` (enums `SEVERITY_NUMBER_*`), `severity_text`, `event_name`, `flags`, `resource.attributes["k"]`, `instrumentation_scope.*`, `trace_id.string`, `span_id.string` |
 * | `resource` | `attributes["k"]` (= `resource.attributes["k"]`), `dropped_attributes_count` |
 * | `event` (otelytics) | `name` (= `event_name`), `attributes["k"]` (= `properties["k"]`), `user_properties["k"]`, `context["k"]`, `resource.attributes["k"]` (the event context, where `service.name` etc. are), `consent["purpose"]` (true, false or nil), `category`, `privacy_level`, `user_id`, `device_id`, `session_id`, `insert_id`, `trace_id.string`, `span_id.string` |
 *
 * Map-valued paths take further keys (`attributes["a"]["b"]`, `body["items"][0]`). A missing key is
 * `nil`.
 */
import type { AnalyticsEvent } from '../event.js';
import type { InstrumentationScope, KeyValue, LogRecord, Resource, Span } from '../pdata.js';
import { findAttribute } from '../pdata.js';
import { OttlError, unknownPath, withKeys, type Getter, type OttlContext } from './compile.js';
import type { Key, PathField } from './parse.js';

/** A span with its scope and resource, as the routing connector hands it to span conditions (one object, reused). */
export interface SpanItem {
  span: Span;
  scope: InstrumentationScope;
  resource: Resource;
}

/** A log record with its scope and resource (one object, reused). */
export interface LogItem {
  log: LogRecord;
  scope: InstrumentationScope;
  resource: Resource;
}

/** What resource conditions read: any item that carries its resource. */
export interface ResourceItem {
  resource: Resource;
}

export const SPAN_ENUMS: Readonly<Record<string, number>> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

/** `SEVERITY_NUMBER_UNSPECIFIED` 0, `SEVERITY_NUMBER_TRACE` 1 … `SEVERITY_NUMBER_FATAL4` 24 (logs data model). */
export const SEVERITY_ENUMS: Readonly<Record<string, number>> = (() => {
  const out: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
  ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((name, i) => {
    out[`SEVERITY_NUMBER_${name}`] = 4 * i + 1;
    for (let k = 2; k <= 4; k++) out[`SEVERITY_NUMBER_${name}${k}`] = 4 * i + k;
  });
  return out;
})();

type Ctx = { name: string; known: readonly string[] };

function json<T>(get: (item: T) => unknown): Getter<T> {
  return { form: 'json', get };
}

/** Fields must be exactly `names` (no keys on any but the last, whose keys are returned). */
function shape(ctx: Ctx, fields: readonly PathField[], names: readonly string[], text: string, pos: number, keys: 'none' | 'required' | 'any'): Key[] | undefined {
  if (fields.length !== names.length || fields.some((f, i) => f.name !== names[i])) return undefined;
  for (let i = 0; i < fields.length - 1; i++) if (fields[i]!.keys.length > 0) throw unknownPath(ctx, text, pos);
  const k = fields[fields.length - 1]!.keys;
  if (keys === 'none' && k.length > 0) throw new OttlError(`${text}: ${names.join('.')} takes no key`, pos);
  if (keys === 'required') {
    if (k.length === 0) throw new OttlError(`${text} needs a key, e.g. ${names.join('.')}["http.route"]`, pos);
    if (typeof k[0] !== 'string') throw new OttlError(`${text}: the key of ${names.join('.')} is a string in double quotes`, pos);
  }
  return k;
}

/** An attribute list read by key, then nested keys. */
function attributes<T>(of: (item: T) => readonly KeyValue[], keys: readonly Key[], text: string): Getter<T> {
  const first = keys[0] as string;
  return withKeys({ form: 'any', get: (item: T) => findAttribute(of(item), first) }, keys.slice(1), text);
}

/** Paths shared by spans and log records: resource and scope. */
function commonPath<T extends { scope: InstrumentationScope; resource: Resource }>(ctx: Ctx, fields: readonly PathField[], text: string, pos: number): Getter<T> | undefined {
  let k: Key[] | undefined;
  if ((k = shape(ctx, fields, ['resource', 'attributes'], text, pos, 'required'))) return attributes((i: T) => i.resource.attributes, k, text);
  if ((k = shape(ctx, fields, ['instrumentation_scope', 'attributes'], text, pos, 'required'))) return attributes((i: T) => i.scope.attributes, k, text);
  if (shape(ctx, fields, ['instrumentation_scope', 'name'], text, pos, 'none')) return json((i: T) => i.scope.name);
  if (shape(ctx, fields, ['instrumentation_scope', 'version'], text, pos, 'none')) return json((i: T) => i.scope.version);
  return undefined;
}

const hexOrNil = (hex: string) => (hex === '' ? undefined : hex);

const SPAN: Ctx = {
  name: 'span',
  known: ['name', 'kind', 'status.code', 'status.message', 'attributes["k"]', 'resource.attributes["k"]', 'instrumentation_scope.name', 'instrumentation_scope.version', 'instrumentation_scope.attributes["k"]', 'trace_id.string', 'span_id.string', 'parent_span_id.string', 'trace_state'],
};

/** The span context (traces pipelines, `context: span`). */
export const spanContext: OttlContext<SpanItem> = {
  ...SPAN,
  enums: SPAN_ENUMS,
  path(fields, text, pos) {
    let k: Key[] | undefined;
    if (shape(SPAN, fields, ['name'], text, pos, 'none')) return json((i) => i.span.name);
    if (shape(SPAN, fields, ['kind'], text, pos, 'none')) return json((i) => i.span.kind);
    if (shape(SPAN, fields, ['status', 'code'], text, pos, 'none')) return json((i) => i.span.status.code);
    if (shape(SPAN, fields, ['status', 'message'], text, pos, 'none')) return json((i) => i.span.status.message);
    if (shape(SPAN, fields, ['trace_state'], text, pos, 'none')) return json((i) => i.span.traceState);
    if (shape(SPAN, fields, ['trace_id', 'string'], text, pos, 'none')) return json((i) => hexOrNil(i.span.traceId));
    if (shape(SPAN, fields, ['span_id', 'string'], text, pos, 'none')) return json((i) => hexOrNil(i.span.spanId));
    if (shape(SPAN, fields, ['parent_span_id', 'string'], text, pos, 'none')) return json((i) => hexOrNil(i.span.parentSpanId));
    if ((k = shape(SPAN, fields, ['attributes'], text, pos, 'required'))) return attributes((i) => i.span.attributes, k, text);
    const common = commonPath<SpanItem>(SPAN, fields, text, pos);
    if (common) return common;
    throw unknownPath(SPAN, text, pos);
  },
};

const LOG: Ctx = {
  name: 'log',
  known: ['body', 'attributes["k"]', 'severity_number', 'severity_text', 'event_name', 'flags', 'resource.attributes["k"]', 'instrumentation_scope.name', 'instrumentation_scope.version', 'instrumentation_scope.attributes["k"]', 'trace_id.string', 'span_id.string'],
};

/** The log context (logs pipelines, `context: log`). */
export const logContext: OttlContext<LogItem> = {
  ...LOG,
  enums: SEVERITY_ENUMS,
  path(fields, text, pos) {
    let k: Key[] | undefined;
    if ((k = shape(LOG, fields, ['body'], text, pos, 'any'))) return withKeys({ form: 'any', get: (i: LogItem) => i.log.body }, k, text);
    if (shape(LOG, fields, ['severity_number'], text, pos, 'none')) return json((i) => i.log.severityNumber);
    if (shape(LOG, fields, ['severity_text'], text, pos, 'none')) return json((i) => i.log.severityText);
    if (shape(LOG, fields, ['event_name'], text, pos, 'none')) return json((i) => i.log.eventName);
    if (shape(LOG, fields, ['flags'], text, pos, 'none')) return json((i) => i.log.flags);
    if (shape(LOG, fields, ['trace_id', 'string'], text, pos, 'none')) return json((i) => hexOrNil(i.log.traceId));
    if (shape(LOG, fields, ['span_id', 'string'], text, pos, 'none')) return json((i) => hexOrNil(i.log.spanId));
    if ((k = shape(LOG, fields, ['attributes'], text, pos, 'required'))) return attributes((i) => i.log.attributes, k, text);
    const common = commonPath<LogItem>(LOG, fields, text, pos);
    if (common) return common;
    throw unknownPath(LOG, text, pos);
  },
};

const RESOURCE: Ctx = { name: 'resource', known: ['attributes["k"]', 'dropped_attributes_count'] };

/** The resource context (the collector's default `context` of a routing table). */
export const resourceContext: OttlContext<ResourceItem> = {
  ...RESOURCE,
  enums: {},
  path(fields, text, pos) {
    let k: Key[] | undefined;
    if ((k = shape(RESOURCE, fields, ['attributes'], text, pos, 'required'))) return attributes((i) => i.resource.attributes, k, text);
    if (shape(RESOURCE, fields, ['dropped_attributes_count'], text, pos, 'none')) return json((i) => i.resource.droppedAttributesCount);
    throw unknownPath(RESOURCE, text, pos);
  },
};

const EVENT: Ctx = {
  name: 'event',
  known: ['name', 'event_name', 'attributes["k"]', 'properties["k"]', 'user_properties["k"]', 'context["k"]', 'resource.attributes["k"]', 'consent["purpose"]', 'category', 'privacy_level', 'user_id', 'device_id', 'session_id', 'insert_id', 'trace_id.string', 'span_id.string'],
};

/** A plain object's entry, then nested keys. */
function entry<T>(of: (item: T) => { readonly [key: string]: unknown } | undefined, keys: readonly Key[], text: string): Getter<T> {
  const first = keys[0] as string;
  return withKeys(
    {
      form: 'json',
      get: (item: T) => {
        const o = of(item);
        return o !== undefined && Object.hasOwn(o, first) ? o[first] : undefined;
      },
    },
    keys.slice(1),
    text,
  );
}

/**
 * The event context (events pipelines): an otelytics event, read as the OTLP log record it is on
 * the wire where that makes sense (its properties are its attributes; `service.name` and the other
 * resource attributes the `analytics` processor copies are in its context).
 */
export const eventContext: OttlContext<AnalyticsEvent> = {
  ...EVENT,
  enums: {},
  path(fields, text, pos) {
    let k: Key[] | undefined;
    if (shape(EVENT, fields, ['name'], text, pos, 'none') || shape(EVENT, fields, ['event_name'], text, pos, 'none')) return json((e) => e.name);
    for (const f of ['category', 'privacy_level', 'user_id', 'device_id', 'session_id', 'insert_id'] as const) {
      if (shape(EVENT, fields, [f], text, pos, 'none')) return json((e) => e[f]);
    }
    if (shape(EVENT, fields, ['trace_id', 'string'], text, pos, 'none')) return json((e) => e.context.trace_id);
    if (shape(EVENT, fields, ['span_id', 'string'], text, pos, 'none')) return json((e) => e.context.span_id);
    if ((k = shape(EVENT, fields, ['attributes'], text, pos, 'required')) || (k = shape(EVENT, fields, ['properties'], text, pos, 'required'))) return entry((e) => e.properties, k, text);
    if ((k = shape(EVENT, fields, ['user_properties'], text, pos, 'required'))) return entry((e) => e.user_properties, k, text);
    if ((k = shape(EVENT, fields, ['context'], text, pos, 'required')) || (k = shape(EVENT, fields, ['resource', 'attributes'], text, pos, 'required'))) return entry((e) => e.context, k, text);
    if ((k = shape(EVENT, fields, ['consent'], text, pos, 'required'))) {
      if (k.length > 1) throw new OttlError(`${text}: consent takes one key, the purpose`, pos);
      return entry((e) => e.consent, k, text);
    }
    throw unknownPath(EVENT, text, pos);
  },
};
