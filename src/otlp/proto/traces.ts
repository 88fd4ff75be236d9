/**
 * OTLP/protobuf traces: `ExportTraceServiceRequest` (`collector/trace/v1/trace_service.proto`,
 * `trace/v1/trace.proto`) decoded into and encoded from pdata `TracesData`.
 */
import { emptyResource, emptyScope, emptySpan, type ResourceSpans, type ScopeSpans, type Span, type SpanEvent, type SpanLink, type TracesData } from '../../pdata.js';
import { F_RESOURCE, F_SCOPE, readAttribute, readGroup, readRequest, readResource, readScope } from './common.js';
import { enter, fieldNo, leave, names, readEnum, readFixed32, readId, readString, readTag, readTimestamp, readUint32, skip, type Reader } from './reader.js';
import {
  encodeRequest,
  tag,
  writeEnum,
  writeFixed32,
  writeId,
  writeKeyValues,
  writeString,
  writeTimestamp,
  writeUint32,
  type Writer,
} from './writer.js';
import { LEN } from '../wire.js';

export const F_TRACES_REQ = names({ 1: 'resource_spans' });
export const F_RESOURCE_SPANS = names({ 1: 'resource', 2: 'scope_spans', 3: 'schema_url' });
export const F_SCOPE_SPANS = names({ 1: 'scope', 2: 'spans', 3: 'schema_url' });
export const F_SPAN = names({
  1: 'trace_id', 2: 'span_id', 3: 'trace_state', 4: 'parent_span_id', 5: 'name', 6: 'kind',
  7: 'start_time_unix_nano', 8: 'end_time_unix_nano', 9: 'attributes', 10: 'dropped_attributes_count',
  11: 'events', 12: 'dropped_events_count', 13: 'links', 14: 'dropped_links_count', 15: 'status', 16: 'flags',
});
export const F_EVENT = names({ 1: 'time_unix_nano', 2: 'name', 3: 'attributes', 4: 'dropped_attributes_count' });
export const F_LINK = names({
  1: 'trace_id', 2: 'span_id', 3: 'trace_state', 4: 'attributes', 5: 'dropped_attributes_count', 6: 'flags',
});
export const F_STATUS = names({ 2: 'message', 3: 'code' });

function readEvent(r: Reader): SpanEvent {
  const ev: SpanEvent = { timeUnixNano: '0', name: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        ev.timeUnixNano = readTimestamp(r, wt);
        break;
      case 2:
        ev.name = readString(r, wt);
        break;
      case 3:
        readAttribute(r, wt, 'attributes', ev.attributes);
        break;
      case 4:
        ev.droppedAttributesCount = readUint32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return ev;
}

function readLink(r: Reader): SpanLink {
  const link: SpanLink = { traceId: '', spanId: '', traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 };
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        link.traceId = readId(r, wt, 16);
        break;
      case 2:
        link.spanId = readId(r, wt, 8);
        break;
      case 3:
        link.traceState = readString(r, wt);
        break;
      case 4:
        readAttribute(r, wt, 'attributes', link.attributes);
        break;
      case 5:
        link.droppedAttributesCount = readUint32(r, wt);
        break;
      case 6:
        link.flags = readFixed32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return link;
}

function readStatus(r: Reader, status: { code: number; message: string }): void {
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 2) status.message = readString(r, wt);
    else if (fieldNo === 3) status.code = readEnum(r, wt);
    else skip(r, wt);
  }
}

function readSpan(r: Reader): Span {
  const span = emptySpan();
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        span.traceId = readId(r, wt, 16);
        break;
      case 2:
        span.spanId = readId(r, wt, 8);
        break;
      case 3:
        span.traceState = readString(r, wt);
        break;
      case 4:
        span.parentSpanId = readId(r, wt, 8);
        break;
      case 5:
        span.name = readString(r, wt);
        break;
      case 6:
        span.kind = readEnum(r, wt);
        break;
      case 7:
        span.startTimeUnixNano = readTimestamp(r, wt);
        break;
      case 8:
        span.endTimeUnixNano = readTimestamp(r, wt);
        break;
      case 9:
        readAttribute(r, wt, 'attributes', span.attributes);
        break;
      case 10:
        span.droppedAttributesCount = readUint32(r, wt);
        break;
      case 11: {
        const saved = enter(r, wt, 'events', span.events.length, F_EVENT);
        span.events.push(readEvent(r));
        leave(r, saved);
        break;
      }
      case 12:
        span.droppedEventsCount = readUint32(r, wt);
        break;
      case 13: {
        const saved = enter(r, wt, 'links', span.links.length, F_LINK);
        span.links.push(readLink(r));
        leave(r, saved);
        break;
      }
      case 14:
        span.droppedLinksCount = readUint32(r, wt);
        break;
      case 15: {
        const saved = enter(r, wt, 'status', -1, F_STATUS);
        readStatus(r, span.status);
        leave(r, saved);
        break;
      }
      case 16:
        span.flags = readFixed32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return span;
}

function readScopeSpans(r: Reader): ScopeSpans {
  const ss: ScopeSpans = { scope: emptyScope(), spans: [], schemaUrl: '' };
  ss.schemaUrl = readGroup(r, 'scope', F_SCOPE, readScope, ss.scope, 'spans', F_SPAN, readSpan, ss.spans);
  return ss;
}

function readResourceSpans(r: Reader): ResourceSpans {
  const rs: ResourceSpans = { resource: emptyResource(), scopeSpans: [], schemaUrl: '' };
  rs.schemaUrl = readGroup(r, 'resource', F_RESOURCE, readResource, rs.resource, 'scope_spans', F_SCOPE_SPANS, readScopeSpans, rs.scopeSpans);
  return rs;
}

/**
 * Decodes an `ExportTraceServiceRequest` (`opentelemetry.proto.collector.trace.v1`).
 *
 * Returns pdata `TracesData`: ids as lowercase hex (`""` when absent), timestamps as decimal strings
 * of Unix nanoseconds (`"0"` when absent), absent messages as their empty defaults. Unknown fields
 * are skipped; a repeated singular message is merged, as protobuf does.
 *
 * @throws OtlpDecodeError naming the proto path, for any malformed input: truncation, a length
 *   past its message, a wrong wire type for a known field, a trace id that is not 16 bytes or a
 *   span id that is not 8 (when non-empty), AnyValue nesting deeper than 32 levels, a `string`
 *   field that is not valid UTF-8 (`…value.string_value: invalid UTF-8`; proto3 requires it, and
 *   decoding with replacement characters would make different values equal). `bytes` fields (ids,
 *   `bytes_value`) take any bytes.
 */
export function decodeTracesRequest(buf: Uint8Array): TracesData {
  const data: TracesData = { resourceSpans: [] };
  readRequest(buf, F_TRACES_REQ, 'resource_spans', F_RESOURCE_SPANS, readResourceSpans, data.resourceSpans);
  return data;
}

function writeSpan(w: Writer, s: Span): void {
  writeId(w, 1, s.traceId, 16);
  writeId(w, 2, s.spanId, 8);
  writeString(w, 3, s.traceState);
  writeId(w, 4, s.parentSpanId, 8);
  writeString(w, 5, s.name);
  writeEnum(w, 6, s.kind);
  writeTimestamp(w, 7, s.startTimeUnixNano);
  writeTimestamp(w, 8, s.endTimeUnixNano);
  writeKeyValues(w, 9, s.attributes);
  writeUint32(w, 10, s.droppedAttributesCount);
  for (const ev of s.events) {
    w.uint32(tag(11, LEN)).fork();
    writeTimestamp(w, 1, ev.timeUnixNano);
    writeString(w, 2, ev.name);
    writeKeyValues(w, 3, ev.attributes);
    writeUint32(w, 4, ev.droppedAttributesCount);
    w.ldelim();
  }
  writeUint32(w, 12, s.droppedEventsCount);
  for (const l of s.links) {
    w.uint32(tag(13, LEN)).fork();
    writeId(w, 1, l.traceId, 16);
    writeId(w, 2, l.spanId, 8);
    writeString(w, 3, l.traceState);
    writeKeyValues(w, 4, l.attributes);
    writeUint32(w, 5, l.droppedAttributesCount);
    writeFixed32(w, 6, l.flags);
    w.ldelim();
  }
  writeUint32(w, 14, s.droppedLinksCount);
  if (s.status.code || s.status.message) {
    w.uint32(tag(15, LEN)).fork();
    writeString(w, 2, s.status.message);
    writeEnum(w, 3, s.status.code);
    w.ldelim();
  }
  writeFixed32(w, 16, s.flags);
}


/**
 * Encodes pdata `TracesData` as an `ExportTraceServiceRequest`. Fields at their proto3 default
 * (`""`, `0`, `"0"`, empty lists, empty resource/scope/status) are omitted.
 *
 * @throws TypeError when an id is not hex of the right length or a timestamp or `intValue` is not a
 *   decimal integer in range (data that no decoder of this module produces).
 */
export function encodeTracesRequest(data: TracesData): Uint8Array {
  return encodeRequest(data.resourceSpans, (rs) => rs.scopeSpans, (ss) => ss.spans, writeSpan);
}
