/**
 * A validating scan of an OTLP/protobuf `ExportTraceServiceRequest` that builds nothing: no
 * objects, strings or arrays per field. It checks the request exactly as `decodeTracesRequest`
 * (`./traces.ts`, `./common.ts`, `./reader.ts`) does, so that a pipeline which only forwards the
 * request can keep the bytes it received and still refuse what the decoder would refuse.
 *
 * Messages and field numbers: opentelemetry-proto `collector/trace/v1/trace_service.proto`
 * (`ExportTraceServiceRequest`), `trace/v1/trace.proto` (`ResourceSpans`, `ScopeSpans`, `Span`,
 * `Span.Event`, `Span.Link`, `Status`), `resource/v1/resource.proto` (`Resource`) and
 * `common/v1/common.proto` (`InstrumentationScope`, `KeyValue`, `AnyValue`, `ArrayValue`,
 * `KeyValueList`). Wire format and varint limits: protobuf encoding guide, "Message Structure",
 * as read by protobufjs' `Reader` (`tag`, `size`, `uint32`, `bool`, `skipType`), which the
 * decoder uses. This file walks the trace messages; those of common.proto and resource.proto are
 * in `./scan_common.ts`, the wire level (varints, field readers, skipping, error paths) in
 * `./scan_wire.ts`.
 */
import { OtlpDecodeError } from '../../errors.js';
import { I32 } from '../wire.js';
import { attribute, longestKey, longestName, nameField, resetLengths, scanResource, scanScope } from './scan_common.js';
import { b, begin, fail, finish, fixedField, idField, message, nx, pop, push, readTag, skipUnknown, stringField, tagAt, timestamp, varintField } from './scan_wire.js';
import { K_EVENT, K_LINK, K_RESOURCE, K_RESOURCE_SPANS, K_SCOPE, K_SCOPE_SPANS, K_SPAN, K_STATUS } from './scan_wire.js';

/** What a validating scan of an ExportTraceServiceRequest found. */
export interface TracesScan {
  /** Number of spans (`ScopeSpans.spans` entries) in the request. */
  spans: number;
  /**
   * The largest encoded length, in bytes, of one `Resource`, one `InstrumentationScope` or one
   * `Span` message of the request (its body, without tag and length prefix). A `Resource` or
   * `InstrumentationScope` given more than once in its `ResourceSpans` / `ScopeSpans` is merged
   * by protobuf, so its length is the sum of its occurrences. A message of `n` bytes holds at most
   * `n / 2` attributes (each needs a tag and a length byte) and no string or bytes value longer
   * than `n`.
   */
  largest: number;
  /**
   * The longest `KeyValue.key` of the request, at any depth, in bytes. Every occurrence counts,
   * also one that a later occurrence of the same field replaces when decoded.
   */
  longestKey: number;
  /**
   * The longest name-like string of the request, in bytes, counted as `longestKey`: span name,
   * span event name, span and link `trace_state`, scope name and version, resource and scope
   * `schema_url`.
   */
  longestName: number;
}

/** Largest Resource / Scope / Span body seen so far in the current scan. */
let largest = 0;

// ---------------------------------------------------------------------------------------------
// Messages. Each scans the body [p, end) of one message; the loop reads a tag (field number 0 is
// refused), then the field by its number, checking the wire type of every known field.
// ---------------------------------------------------------------------------------------------

/** `Span.Event` (trace.proto: 1 fixed64 time_unix_nano, 2 string name, 3 attributes, 4 uint32). */
function scanEvent(p: number, end: number): void {
  let attrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
        p = timestamp(p, end, wt, f);
        break;
      case 2:
        p = nameField(p, end, wt, f);
        break;
      case 3:
        p = attribute(p, end, wt, f, attrs++);
        break;
      case 4:
        p = varintField(p, end, wt, f);
        break;
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/**
 * `Span.Link` (trace.proto: 1 bytes trace_id (16), 2 bytes span_id (8), 3 string trace_state,
 * 4 attributes, 5 uint32 dropped_attributes_count, 6 fixed32 flags).
 */
function scanLink(p: number, end: number): void {
  let attrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
        p = idField(p, end, wt, f, 16);
        break;
      case 2:
        p = idField(p, end, wt, f, 8);
        break;
      case 3:
        p = nameField(p, end, wt, f);
        break;
      case 4:
        p = attribute(p, end, wt, f, attrs++);
        break;
      case 5:
        p = varintField(p, end, wt, f);
        break;
      case 6:
        p = fixedField(p, end, wt, f, I32, 4);
        break;
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/** `Status` (trace.proto: 2 string message, 3 enum code). */
function scanStatus(p: number, end: number): void {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 2) p = stringField(p, end, wt, f);
    else if (f === 3) p = varintField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
}

/**
 * `Span` (trace.proto: 1 trace_id (16 bytes), 2 span_id (8), 3 trace_state, 4 parent_span_id (8),
 * 5 name, 6 kind (enum), 7/8 start/end_time_unix_nano (fixed64), 9 attributes, 10
 * dropped_attributes_count, 11 events, 12 dropped_events_count, 13 links, 14 dropped_links_count,
 * 15 status, 16 flags (fixed32)).
 */
function scanSpan(p: number, end: number): void {
  let attrs = 0;
  let events = 0;
  let links = 0;
  while (p < end) {
    let t = b[p]!;
    if (t < 128) p++;
    else {
      t = tagAt(p, end, 0);
      p = nx;
    }
    if (t < 8) fail(0, 'invalid tag (field number 0)');
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
        p = idField(p, end, wt, f, 16);
        break;
      case 2:
      case 4:
        p = idField(p, end, wt, f, 8);
        break;
      case 3:
      case 5:
        p = nameField(p, end, wt, f);
        break;
      case 6:
      case 10:
      case 12:
      case 14:
        p = varintField(p, end, wt, f);
        break;
      case 7:
      case 8:
        p = timestamp(p, end, wt, f);
        break;
      case 9:
        p = attribute(p, end, wt, f, attrs++);
        break;
      case 11: {
        const e = message(p, end, wt, f);
        push(K_EVENT, events++);
        scanEvent(nx, e);
        pop();
        p = e;
        break;
      }
      case 13: {
        const e = message(p, end, wt, f);
        push(K_LINK, links++);
        scanLink(nx, e);
        pop();
        p = e;
        break;
      }
      case 15: {
        const e = message(p, end, wt, f);
        push(K_STATUS, -1);
        scanStatus(nx, e);
        pop();
        p = e;
        break;
      }
      case 16:
        p = fixedField(p, end, wt, f, I32, 4);
        break;
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/** `ScopeSpans` (trace.proto: 1 InstrumentationScope scope, 2 repeated Span spans, 3 schema_url). Returns its span count. */
function scanScopeSpans(p: number, end: number): number {
  let spans = 0;
  let scopeBytes = 0;
  let scopeAttrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 2) {
      const e = message(p, end, wt, f);
      const s = nx;
      if (e - s > largest) largest = e - s;
      push(K_SPAN, spans++);
      scanSpan(s, e);
      pop();
      p = e;
    } else if (f === 1) {
      const e = message(p, end, wt, f);
      const s = nx;
      scopeBytes += e - s;
      if (scopeBytes > largest) largest = scopeBytes;
      push(K_SCOPE, -1);
      scopeAttrs = scanScope(s, e, scopeAttrs);
      pop();
      p = e;
    } else if (f === 3) p = nameField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return spans;
}

/** `ResourceSpans` (trace.proto: 1 Resource resource, 2 repeated ScopeSpans scope_spans, 3 schema_url). Returns its span count. */
function scanResourceSpans(p: number, end: number): number {
  let spans = 0;
  let groups = 0;
  let resourceBytes = 0;
  let resourceAttrs = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 2) {
      const e = message(p, end, wt, f);
      push(K_SCOPE_SPANS, groups++);
      spans += scanScopeSpans(nx, e);
      pop();
      p = e;
    } else if (f === 1) {
      const e = message(p, end, wt, f);
      const s = nx;
      resourceBytes += e - s;
      if (resourceBytes > largest) largest = resourceBytes;
      push(K_RESOURCE, -1);
      resourceAttrs = scanResource(s, e, resourceAttrs);
      pop();
      p = e;
    } else if (f === 3) p = nameField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return spans;
}

/**
 * Checks an OTLP/protobuf `ExportTraceServiceRequest` (trace_service.proto: 1 repeated
 * ResourceSpans resource_spans) without decoding it, and counts its spans.
 *
 * Accepts exactly the inputs `decodeTracesRequest` accepts: the same framing (tags, lengths and
 * varints within their message), the same wire type for every known field at every level, trace
 * ids of 16 bytes and span ids of 8 (or empty), AnyValue nesting up to `MAX_ANY_VALUE_DEPTH`
 * levels, unknown fields skipped as protobuf skips them (groups matched, nested at most
 * `protobuf.Reader.recursionLimit` deep), every `string` field valid UTF-8 (`bytes` fields, ids
 * and `bytes_value`, are not checked). Allocates nothing per field but a view of a long non-ASCII
 * string for Node's UTF-8 check.
 *
 * @returns the span count, the largest Resource / InstrumentationScope / Span encoding, and the
 *   longest attribute key and name-like string.
 * @throws OtlpDecodeError naming the proto path, e.g.
 *   `resource_spans[0].scope_spans[0].spans[3].trace_id: expected 16 bytes, got 5`, for exactly
 *   the inputs on which `decodeTracesRequest` throws.
 */
export function scanTracesRequest(buf: Uint8Array): TracesScan {
  if (!(buf instanceof Uint8Array)) throw new OtlpDecodeError('request: body is not a byte array');
  begin(buf);
  largest = 0;
  resetLengths();
  let spans = 0;
  let groups = 0;
  let p = 0;
  const end = buf.length;
  try {
    while (p < end) {
      const t = readTag(p, end);
      p = nx;
      const f = t >>> 3;
      const wt = t & 7;
      if (f === 1) {
        const e = message(p, end, wt, f);
        push(K_RESOURCE_SPANS, groups++);
        spans += scanResourceSpans(nx, e);
        pop();
        p = e;
      } else p = skipUnknown(p, end, wt, f);
    }
    return { spans, largest, longestKey, longestName };
  } finally {
    finish();
  }
}

