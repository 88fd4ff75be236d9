/**
 * Generated OTLP/protobuf trace requests for the property tests, built field by field: fields in
 * any order, repeated fields and attribute keys, resources given twice or after the spans, unknown
 * fields and groups, every AnyValue type. Every request of `tracesRequest` is valid; those of
 * `tracesRequestAnyBytes` are framed alike but have arbitrary bytes in some `string` fields, often
 * not UTF-8.
 */
import fc from 'fast-check';
import { varint } from './mutate.js';

/** Attribute keys the generated attributes use (besides `other`), shop keys among them. */
export const GENERATED_KEYS = ['http.route', 'url.path', 'url.query', 'user.id', 'a', ''];

/** A field with its tag: wire type 2 gets a length prefix before `payload`. */
export function field(no: number, wt: number, payload: Uint8Array | number[] = []): Buffer {
  const p = Buffer.from(payload);
  return Buffer.concat([Buffer.from(varint(no * 8 + wt)), wt === 2 ? Buffer.from(varint(p.length)) : Buffer.alloc(0), p]);
}
/** A length-delimited field (a message, string or bytes) made of `parts`. */
export const len = (no: number, ...parts: (Buffer | number[])[]) => field(no, 2, Buffer.concat(parts.map((x) => Buffer.from(x))));
const fixed = (no: number, n: number, bytes: Uint8Array) => field(no, n === 8 ? 1 : 5, bytes.subarray(0, n));
/** A varint of 1 to 10 bytes for a 32-bit value (negative: the 10-byte two's complement form). */
const int32 = fc.integer({ min: -3, max: 300 }).map((n) => (n < 0 ? [...Array(9).fill(0xff).map((x, i) => (i === 0 ? (n & 0x7f) | 0x80 : x)), 0x01] : varint(n)));

const unknownField = fc.oneof(
  fc.tuple(fc.integer({ min: 17, max: 40 }), fc.nat(1000)).map(([no, v]) => field(no, 0, varint(v))),
  fc.tuple(fc.integer({ min: 17, max: 40 }), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([no, b]) => fixed(no, 8, b)),
  fc.tuple(fc.integer({ min: 17, max: 40 }), fc.uint8Array({ maxLength: 6 })).map(([no, b]) => field(no, 2, b)),
  fc.tuple(fc.integer({ min: 17, max: 40 }), fc.nat(1000)).map(([no, v]) => Buffer.concat([Buffer.from(varint(no * 8 + 3)), field(1, 0, varint(v)), Buffer.from(varint(no * 8 + 4))])),
);

/** Text in UTF-8: ASCII, and two-, three- and four-byte characters (U+FFFD, valid when sent as such, among them). */
const utf8Text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constantFrom('é', '€', '𝄞', '\uFFFD', `ü${'x'.repeat(60)}€`).map((s) => Buffer.from(s)) },
);
/** Bytes for a `string` field: mostly text, sometimes anything (a truncated or overlong sequence, an encoded surrogate, random bytes). */
const anyText = fc.oneof(
  { weight: 4, arbitrary: utf8Text },
  { weight: 1, arbitrary: fc.constantFrom([0xc3, 0x28], [0xe2, 0x82], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)) },
);

/** ExportTraceServiceRequests whose `string` fields hold bytes from `text`. */
function tracesRequestOf(text: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  const anyValue: fc.Arbitrary<Buffer> = fc.letrec((tie) => ({
    value: fc.oneof(
      text.map((b) => len(1, b)),
      fc.boolean().map((v) => field(2, 0, [v ? 1 : 0])),
      fc.integer().map((v) => field(3, 0, v < 0 ? [...Array(9).fill(0xff), 1] : varint(v))),
      fc.double({ noNaN: true }).map((v) => {
        const b = Buffer.alloc(8);
        b.writeDoubleLE(v);
        return fixed(4, 8, b);
      }),
      fc.array(tie('value') as fc.Arbitrary<Buffer>, { maxLength: 2 }).map((vs) => len(5, ...vs.map((v) => len(1, v)))),
      fc.uint8Array({ maxLength: 4 }).map((b) => len(7, Buffer.from(b))),
      fc.constant(Buffer.alloc(0)),
    ),
  })).value;

  /** A KeyValue: usually key then value; sometimes value first, a key given twice, or no value. */
  const keyValue = fc
    .tuple(fc.constantFrom(...GENERATED_KEYS, 'other'), fc.option(anyValue, { nil: undefined }), fc.nat(3), fc.constantFrom(...GENERATED_KEYS))
    .map(([key, value, shape, second]) => {
      const k = len(1, Buffer.from(key));
      const v = value === undefined ? Buffer.alloc(0) : len(2, value);
      if (shape === 1) return Buffer.concat([v, k]);
      if (shape === 2) return Buffer.concat([len(1, Buffer.from(second)), k, v]);
      return Buffer.concat([k, v]);
    });

  const spanField = fc.oneof(
    fc.constantFrom(16, 0).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((b) => len(1, Buffer.from(b))),
    fc.constantFrom(8, 0).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((b) => len(2, Buffer.from(b))),
    text.map((b) => len(5, b)),
    int32.map((v) => field(6, 0, v)),
    fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => fixed(7, 8, b)),
    fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => fixed(8, 8, b)),
    keyValue.map((kv) => len(9, kv)),
    keyValue.map((kv) => len(9, kv)),
    fc.tuple(fc.option(text), fc.option(int32)).map(([m, c]) => len(15, m === null ? Buffer.alloc(0) : len(2, m), c === null ? Buffer.alloc(0) : field(3, 0, c))),
    unknownField,
  );

  const span = fc.array(spanField, { maxLength: 12 }).map((fs) => Buffer.concat(fs));
  const resource = fc.array(keyValue, { maxLength: 4 }).map((kvs) => len(1, ...kvs.map((kv) => len(1, kv))));
  const scopeSpans = fc.array(span, { maxLength: 3 }).map((spans) => len(2, len(1, len(1, Buffer.from('scope'))), ...spans.map((s) => len(2, s))));
  /** A ResourceSpans: resources (none, one or two, merged) before, between or after its scope spans. */
  const resourceSpans = fc.tuple(fc.array(resource, { maxLength: 2 }), fc.array(scopeSpans, { maxLength: 2 }), fc.nat(2)).map(([resources, scopes, at]) => {
    const parts = [...scopes];
    parts.splice(Math.min(at, parts.length), 0, ...resources);
    return len(1, ...parts);
  });
  return fc.array(fc.oneof({ weight: 5, arbitrary: resourceSpans }, { weight: 1, arbitrary: unknownField }), { maxLength: 3 }).map((parts) => Buffer.concat(parts));
}

/** A whole, valid ExportTraceServiceRequest. */
export const tracesRequest = tracesRequestOf(utf8Text);
/** The same, with arbitrary bytes in some span names, string values and status messages. */
export const tracesRequestAnyBytes = tracesRequestOf(anyText);
