/**
 * OTLP/JSON traces: `ExportTraceServiceRequest` decoded into and encoded from pdata `TracesData`.
 */
import type { ResourceSpans, ScopeSpans, Span, SpanEvent, SpanLink, TracesData } from '../../pdata.js';
import {
  eachObject,
  encodeRequestJson,
  guard,
  keyValues,
  keyValuesJson,
  parseRoot,
  put,
  resource,
  schemaUrlOf,
  scope,
  type JsonObj,
} from './common.js';
import { asObject, enumValue, get, hexId, path, str, u32, u64, type Obj } from './values.js';

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function spanEvent(o: Obj): SpanEvent {
  return {
    timeUnixNano: u64(get(o, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
    name: str(o.name, 'name'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
}

function spanLink(o: Obj): SpanLink {
  return {
    traceId: hexId(get(o, 'traceId', 'trace_id'), 'traceId', 16),
    spanId: hexId(get(o, 'spanId', 'span_id'), 'spanId', 8),
    traceState: str(get(o, 'traceState', 'trace_state'), 'traceState'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    flags: u32(o.flags, 'flags'),
  };
}

function status(v: unknown): { code: number; message: string } {
  if (v === undefined || v === null) return { code: 0, message: '' };
  const o = asObject(v, 'status');
  path.push('status');
  const s = { code: enumValue(o.code, 'code', STATUS_CODES), message: str(o.message, 'message') };
  path.pop();
  return s;
}

function span(o: Obj): Span {
  return {
    traceId: hexId(get(o, 'traceId', 'trace_id'), 'traceId', 16),
    spanId: hexId(get(o, 'spanId', 'span_id'), 'spanId', 8),
    traceState: str(get(o, 'traceState', 'trace_state'), 'traceState'),
    parentSpanId: hexId(get(o, 'parentSpanId', 'parent_span_id'), 'parentSpanId', 8),
    flags: u32(o.flags, 'flags'),
    name: str(o.name, 'name'),
    kind: enumValue(o.kind, 'kind', SPAN_KINDS),
    startTimeUnixNano: u64(get(o, 'startTimeUnixNano', 'start_time_unix_nano'), 'startTimeUnixNano'),
    endTimeUnixNano: u64(get(o, 'endTimeUnixNano', 'end_time_unix_nano'), 'endTimeUnixNano'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    events: eachObject(o, 'events', 'events', spanEvent),
    droppedEventsCount: u32(get(o, 'droppedEventsCount', 'dropped_events_count'), 'droppedEventsCount'),
    links: eachObject(o, 'links', 'links', spanLink),
    droppedLinksCount: u32(get(o, 'droppedLinksCount', 'dropped_links_count'), 'droppedLinksCount'),
    status: status(o.status),
  };
}


function scopeSpans(o: Obj): ScopeSpans {
  return { scope: scope(get(o, 'scope', 'scope'), 'scope'), spans: eachObject(o, 'spans', 'spans', span), schemaUrl: schemaUrlOf(o) };
}

function resourceSpans(o: Obj): ResourceSpans {
  return {
    resource: resource(get(o, 'resource', 'resource'), 'resource'),
    scopeSpans: eachObject(o, 'scopeSpans', 'scope_spans', scopeSpans),
    schemaUrl: schemaUrlOf(o),
  };
}

/**
 * Decodes an OTLP/JSON `ExportTraceServiceRequest` into pdata `TracesData`, equal to what
 * `decodeTracesRequest` gives for the protobuf encoding of the same request. Ids are normalised to
 * lowercase hex; timestamps to canonical decimal strings; absent fields get pdata's defaults.
 *
 * `text` is the document, or the body's bytes, which must be UTF-8 (RFC 8259, §8.1).
 *
 * @throws OtlpDecodeError for invalid JSON, or a value of the wrong type or form, naming its JSON
 *   path (ids must be 32/16 hex digits or empty; AnyValue nesting is limited to 32 levels); for a
 *   body that is not UTF-8 (`<path>: invalid UTF-8` naming the first string read that holds a bad
 *   sequence, else `request: invalid UTF-8 at byte <offset>`), and for a string with a lone UTF-16
 *   surrogate (an unpaired `\ud800`-style escape), which has no UTF-8 encoding.
 */
export function decodeTracesJson(text: string | Uint8Array): TracesData {
  return guard(() => {
    const root = parseRoot(text);
    return { resourceSpans: eachObject(root, 'resourceSpans', 'resource_spans', resourceSpans) };
  });
}

function spanJson(s: Span): JsonObj {
  const o: JsonObj = {};
  put(o, 'traceId', s.traceId);
  put(o, 'spanId', s.spanId);
  put(o, 'traceState', s.traceState);
  put(o, 'parentSpanId', s.parentSpanId);
  put(o, 'flags', s.flags);
  put(o, 'name', s.name);
  put(o, 'kind', s.kind);
  put(o, 'startTimeUnixNano', s.startTimeUnixNano);
  put(o, 'endTimeUnixNano', s.endTimeUnixNano);
  put(o, 'attributes', keyValuesJson(s.attributes));
  put(o, 'droppedAttributesCount', s.droppedAttributesCount);
  put(
    o,
    'events',
    s.events.map((e) => {
      const x: JsonObj = {};
      put(x, 'timeUnixNano', e.timeUnixNano);
      put(x, 'name', e.name);
      put(x, 'attributes', keyValuesJson(e.attributes));
      put(x, 'droppedAttributesCount', e.droppedAttributesCount);
      return x;
    }),
  );
  put(o, 'droppedEventsCount', s.droppedEventsCount);
  put(
    o,
    'links',
    s.links.map((l) => {
      const x: JsonObj = {};
      put(x, 'traceId', l.traceId);
      put(x, 'spanId', l.spanId);
      put(x, 'traceState', l.traceState);
      put(x, 'attributes', keyValuesJson(l.attributes));
      put(x, 'droppedAttributesCount', l.droppedAttributesCount);
      put(x, 'flags', l.flags);
      return x;
    }),
  );
  put(o, 'droppedLinksCount', s.droppedLinksCount);
  if (s.status.code || s.status.message) {
    const st: JsonObj = {};
    put(st, 'message', s.status.message);
    put(st, 'code', s.status.code);
    o.status = st;
  }
  return o;
}

/**
 * Encodes pdata `TracesData` as an OTLP/JSON `ExportTraceServiceRequest`: lowerCamelCase keys,
 * hex ids, integer enums, 64-bit integers (timestamps, `intValue`) as decimal strings, bytes as
 * base64, non-finite doubles as `"NaN"`/`"Infinity"`/`"-Infinity"`; proto3 defaults omitted.
 */
export function encodeTracesJson(data: TracesData): string {
  return encodeRequestJson('resourceSpans', data.resourceSpans, 'scopeSpans', (rs) => rs.scopeSpans, 'spans', (ss) => ss.spans, spanJson);
}
