/**
 * A projection of OTLP/protobuf trace requests: each span is read for what its reader asked for
 * and nothing else. A rule engine that looks at a span's kind, status and a handful of attributes
 * does not need the span decoded into pdata: here the kind and status code are read, the values
 * of the attributes whose keys were asked for are decoded (their keys are compared as bytes, so
 * the other attributes cost no string), and ids, times, the name and the status message are kept
 * as positions and decoded only when asked for.
 *
 * The request must have passed the validating scan (`./scan.ts`, `scanTracesRequest`): the walk
 * does not check framing or wire types again. What it reads is what `decodeTracesRequest` would
 * give for the same bytes, field by field:
 * - a field given more than once: the last one counts (ids, name, kind, times); `Resource` and
 *   `Status` given more than once are merged, as protobuf merges messages;
 * - an attribute key given more than once: the first `KeyValue` counts (as `findAttribute`);
 * - defaults: ids and strings `""`, times `"0"`, kind and status code 0, a `KeyValue` without a
 *   value has the empty AnyValue `{}`;
 * - strings are valid UTF-8 (the scan refuses any other), never decoded with replacement
 *   characters: on bytes the scan did not check, a string that is not valid UTF-8 throws an
 *   `OtlpDecodeError` when it is read.
 * Messages and field numbers: opentelemetry-proto `trace/v1/trace.proto`, `common/v1/common.proto`,
 * `resource/v1/resource.proto`.
 */
import { OtlpDecodeError } from '../../errors.js';
import type { AnyValue } from '../../pdata.js';
import { I32, I64, LEN, VARINT, bufferOf, hexOf, uint64ToDecimal } from '../wire.js';
import { F_ANY_VALUE, readAnyValue } from './common.js';
import { readerOf, startDecode, stringAt, type Reader } from './reader.js';

/**
 * The attribute keys a projection looks for. Slot `i` is `keys[i]`; keys are matched on their
 * UTF-8 bytes, which for valid UTF-8 is the same as comparing the decoded strings.
 */
export class AttributeKeys {
  readonly keys: readonly string[];
  /** Keys by UTF-8 length: their bytes, and their slots in the same order. */
  readonly #bytes: (Uint8Array[] | undefined)[] = [];
  readonly #slots: (number[] | undefined)[] = [];

  constructor(keys: readonly string[]) {
    this.keys = keys;
    keys.forEach((key, slot) => {
      const bytes = Buffer.from(key, 'utf8');
      (this.#bytes[bytes.length] ??= []).push(bytes);
      (this.#slots[bytes.length] ??= []).push(slot);
    });
  }

  /** Slot of the key in bytes [start, end) of `b`, or -1 when it is not looked for. */
  slotOf(b: Uint8Array, start: number, end: number): number {
    const n = end - start;
    const candidates = this.#bytes[n];
    if (candidates === undefined) return -1;
    for (let c = 0; c < candidates.length; c++) {
      const key = candidates[c]!;
      // Keys often share a prefix (`http.`, `url.`): compare from the end.
      let i = n - 1;
      while (i >= 0 && key[i] === b[start + i]) i--;
      if (i < 0) return this.#slots[n]![c]!;
    }
    return -1;
  }
}

/**
 * One span as the projection sees it. The same object is handed over for every span of a request:
 * read it inside the callback, never keep it.
 */
export class ProjectedSpan {
  /** Attribute values by slot (undefined: the span has no such attribute). */
  readonly attrs: (AnyValue | undefined)[];
  /** Attribute values of the span's resource by slot; a new array for each `ResourceSpans`. */
  resource: (AnyValue | undefined)[];
  /** `Span.kind` (0 unspecified … 5 consumer). */
  kind = 0;
  /** `Status.code` (0 unset, 1 ok, 2 error). */
  statusCode = 0;
  /** @internal positions in `buf` of the lazily decoded fields (-1: absent). */
  buf: Uint8Array = EMPTY;
  traceIdAt = -1;
  spanIdAt = -1;
  nameAt = -1;
  nameEnd = -1;
  startAt = -1;
  endAt = -1;
  messageAt = -1;
  messageEnd = -1;

  constructor(slots: number) {
    this.attrs = new Array<AnyValue | undefined>(slots).fill(undefined);
    this.resource = this.attrs;
  }

  /** Trace id as lowercase hex, `""` when absent. */
  traceId(): string {
    return this.traceIdAt < 0 ? '' : hexOf(this.buf, this.traceIdAt, 16);
  }

  /** Span id as lowercase hex, `""` when absent. */
  spanId(): string {
    return this.spanIdAt < 0 ? '' : hexOf(this.buf, this.spanIdAt, 8);
  }

  /** @throws OtlpDecodeError when the name is not valid UTF-8 (a request the scan did not check). */
  name(): string {
    return this.nameAt < 0 ? '' : textAt(this.buf, this.nameAt, this.nameEnd, 'span name');
  }

  /** @throws OtlpDecodeError when the message is not valid UTF-8 (a request the scan did not check). */
  statusMessage(): string {
    return this.messageAt < 0 ? '' : textAt(this.buf, this.messageAt, this.messageEnd, 'span status message');
  }

  /** Start time, Unix nanoseconds as a decimal string (`"0"` when absent). */
  startTimeUnixNano(): string {
    return timestampAt(this.buf, this.startAt);
  }

  /** End time, Unix nanoseconds as a decimal string (`"0"` when absent). */
  endTimeUnixNano(): string {
    return timestampAt(this.buf, this.endAt);
  }
}

const EMPTY: Uint8Array = Buffer.alloc(0);

/**
 * The string in bytes [start, end) of `b`. The scan has refused invalid UTF-8 in every `string`
 * field already; a projection of bytes it did not check refuses it here rather than decode it
 * with replacement characters.
 */
function textAt(b: Uint8Array, start: number, end: number, what: string): string {
  const s = stringAt(b, start, end);
  if (s === undefined) throw new OtlpDecodeError(`${what}: invalid UTF-8`);
  return s;
}

function timestampAt(b: Uint8Array, p: number): string {
  if (p < 0) return '0';
  const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  const hi = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
  return hi === 0 && lo === 0 ? '0' : uint64ToDecimal(lo, hi);
}

// The walk's state: a projection never yields, so one set suffices.
let b: Uint8Array = EMPTY;
/** Position after the varint read last. */
let nx = 0;
let reader: Reader | undefined;

/** The varint at `p` (its low 32 bits, unsigned); sets `nx`. */
function varint(p: number): number {
  let c = b[p++]!;
  if (c < 128) {
    nx = p;
    return c;
  }
  let v = c & 127;
  for (let shift = 7; ; shift += 7) {
    c = b[p++]!;
    if (shift < 32) v |= (c & 127) << shift;
    if (c < 128) break;
  }
  nx = p;
  return v >>> 0;
}

/** Position after the field of wire type `wt` (field number `num`) whose value starts at `p`. */
function skipField(p: number, wt: number, num: number): number {
  switch (wt) {
    case VARINT:
      while (b[p++]! >= 128);
      return p;
    case I64:
      return p + 8;
    case LEN: {
      const n = varint(p);
      return nx + n;
    }
    case I32:
      return p + 4;
    default: {
      // A group (wire type 3): fields up to the end-group tag of the same number.
      for (;;) {
        const t = varint(p);
        p = nx;
        if ((t & 7) === 4 && t >>> 3 === num) return p;
        p = skipField(p, t & 7, t >>> 3);
      }
    }
  }
}

/** The AnyValue in bytes [start, end), decoded as `readAnyValue` does (a lone string without a Reader). */
function valueAt(start: number, end: number): AnyValue {
  if (b[start] === 0x0a) {
    const n = varint(start + 1);
    if (nx + n === end) return { stringValue: textAt(b, nx, end, 'attribute value') };
  }
  const r = (reader ??= readerOf(b));
  r.pos = start;
  r.len = end;
  startDecode(F_ANY_VALUE);
  return readAnyValue(r, 1);
}

/** `KeyValue` in [p, end): when its key has a slot not yet filled in `into`, fills it. */
function attribute(p: number, end: number, keys: AttributeKeys, into: (AnyValue | undefined)[]): void {
  // No key field: the key is "" (an empty range).
  let keyAt = 0;
  let keyEnd = 0;
  let valueStart = -1;
  let valueEnd = -1;
  while (p < end) {
    const t = varint(p);
    p = nx;
    const f = t >>> 3;
    if (f === 1 || f === 2) {
      const n = varint(p);
      if (f === 1) {
        keyAt = nx;
        keyEnd = nx + n;
      } else {
        valueStart = nx;
        valueEnd = nx + n;
      }
      p = nx + n;
    } else p = skipField(p, t & 7, f);
  }
  const slot = keys.slotOf(b, keyAt, keyEnd);
  if (slot < 0 || into[slot] !== undefined) return;
  into[slot] = valueStart < 0 ? {} : valueAt(valueStart, valueEnd);
}

/** The attributes (field `field`) of the message in [p, end), into `into`. */
function attributes(p: number, end: number, field: number, keys: AttributeKeys, into: (AnyValue | undefined)[]): void {
  while (p < end) {
    const t = varint(p);
    p = nx;
    if (t >>> 3 === field) {
      const n = varint(p);
      const e = nx + n;
      attribute(nx, e, keys, into);
      p = e;
    } else p = skipField(p, t & 7, t >>> 3);
  }
}

function status(p: number, end: number, span: ProjectedSpan): void {
  while (p < end) {
    const t = varint(p);
    p = nx;
    const f = t >>> 3;
    if (f === 2) {
      const n = varint(p);
      span.messageAt = nx;
      span.messageEnd = nx + n;
      p = nx + n;
    } else if (f === 3) {
      span.statusCode = varint(p) | 0;
      p = nx;
    } else p = skipField(p, t & 7, f);
  }
}

function span(p: number, end: number, keys: AttributeKeys, s: ProjectedSpan): void {
  s.attrs.fill(undefined);
  s.kind = 0;
  s.statusCode = 0;
  s.traceIdAt = s.spanIdAt = s.nameAt = s.nameEnd = s.startAt = s.endAt = s.messageAt = s.messageEnd = -1;
  while (p < end) {
    const t = varint(p);
    p = nx;
    const f = t >>> 3;
    switch (f) {
      case 1:
      case 2:
      case 5: {
        const n = varint(p);
        p = nx + n;
        if (f === 5) {
          s.nameAt = nx;
          s.nameEnd = p;
        } else if (f === 1) s.traceIdAt = n === 0 ? -1 : nx;
        else s.spanIdAt = n === 0 ? -1 : nx;
        break;
      }
      case 6:
        s.kind = varint(p) | 0;
        p = nx;
        break;
      case 7:
        s.startAt = p;
        p += 8;
        break;
      case 8:
        s.endAt = p;
        p += 8;
        break;
      case 9: {
        const n = varint(p);
        const e = nx + n;
        attribute(nx, e, keys, s.attrs);
        p = e;
        break;
      }
      case 15: {
        const n = varint(p);
        const e = nx + n;
        status(nx, e, s);
        p = e;
        break;
      }
      default:
        p = skipField(p, t & 7, f);
    }
  }
}

function resourceSpans(p: number, end: number, keys: AttributeKeys, s: ProjectedSpan, onSpan: (span: ProjectedSpan) => void): void {
  // The resource may come after the spans, and may be given more than once (merged): read it first.
  const resource = new Array<AnyValue | undefined>(keys.keys.length).fill(undefined);
  for (let q = p; q < end; ) {
    const t = varint(q);
    q = nx;
    if (t >>> 3 === 1) {
      const n = varint(q);
      const e = nx + n;
      attributes(nx, e, 1, keys, resource);
      q = e;
    } else q = skipField(q, t & 7, t >>> 3);
  }
  s.resource = resource;
  while (p < end) {
    const t = varint(p);
    p = nx;
    if (t >>> 3 !== 2) {
      p = skipField(p, t & 7, t >>> 3);
      continue;
    }
    // ScopeSpans: 2 = spans.
    const size = varint(p);
    p = nx;
    const scopeEnd = p + size;
    while (p < scopeEnd) {
      const st = varint(p);
      p = nx;
      if (st >>> 3 !== 2) {
        p = skipField(p, st & 7, st >>> 3);
        continue;
      }
      const n = varint(p);
      const e = nx + n;
      span(nx, e, keys, s);
      p = e;
      onSpan(s);
    }
  }
}

/**
 * Walks the spans of an `ExportTraceServiceRequest` that passed `scanTracesRequest`, calling
 * `onSpan` once per span, in request order, with the same {@link ProjectedSpan} filled for it.
 * Attributes are looked for under `keys` on the span and on its resource.
 */
export function projectTraces(buf: Uint8Array, keys: AttributeKeys, onSpan: (span: ProjectedSpan) => void): void {
  // Strings are sliced with Buffer's decoders.
  b = bufferOf(buf);
  const s = new ProjectedSpan(keys.keys.length);
  s.buf = b;
  try {
    for (let p = 0; p < b.length; ) {
      const t = varint(p);
      p = nx;
      if (t >>> 3 === 1) {
        const n = varint(p);
        const e = nx + n;
        resourceSpans(nx, e, keys, s, onSpan);
        p = e;
      } else p = skipField(p, t & 7, t >>> 3);
    }
  } finally {
    b = EMPTY;
    reader = undefined;
  }
}
