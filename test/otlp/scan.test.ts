/**
 * The validating scan of an ExportTraceServiceRequest (`scanTracesRequest`): on SDK fixtures it
 * counts the spans the decoder decodes and measures the largest Resource / Scope / Span encoding;
 * on mutated, random and hand-made bodies it refuses exactly what `decodeTracesRequest` refuses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import { OtlpDecodeError } from '../../src/errors.js';
import { decodeTracesRequest, encodeTracesRequest } from '../../src/otlp/proto/traces.js';
import { scanTracesRequest, type TracesScan } from '../../src/otlp/proto/scan.js';
import { MAX_ANY_VALUE_DEPTH } from '../../src/otlp/wire.js';
import { spanCount, type AnyValue, type KeyValue, type TracesData } from '../../src/pdata.js';
import { fixtureBodyPlain, fixtureManifest } from '../helpers.js';
import { mutate, mutation, varint } from '../fuzz/mutate.js';
import { field, len, tracesRequest, tracesRequestAnyBytes } from '../fuzz/traces.js';
import { INVALID_UTF8, TRACES_STRING_FIELDS, withBytes } from './string_fields.js';

const SEED = Number(process.env.OTELYTICS_FUZZ_SEED ?? 20240611);
const runs = (n: number) => ({ numRuns: n, seed: SEED });

const manifest = fixtureManifest();
const tracesFixtures = manifest.filter((f) => f.signal === 'traces' && f.path.endsWith('.pb'));
const protoBodies = manifest.filter((f) => f.path.endsWith('.pb')).map((f) => fixtureBodyPlain(f));
const tracesBodies = tracesFixtures.map((f) => fixtureBodyPlain(f));

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------


/** A request with one resource, one scope and the given span bodies. */
function request(...spans: Buffer[]): Buffer {
  return len(1, len(2, ...spans.map((s) => len(2, s))));
}
const traceId = Buffer.alloc(16, 1);
const spanId = Buffer.alloc(8, 2);
const goodSpan = () => Buffer.concat([len(1, traceId), len(2, spanId), len(5, Buffer.from('op'))]);

/** Outcome of a decoder on `body`: the span count, or the OtlpDecodeError it threw. */
function outcome(f: () => number): number | OtlpDecodeError {
  try {
    return f();
  } catch (err) {
    if (err instanceof OtlpDecodeError) return err;
    throw new Error(`threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  }
}

/** Scan and decode agree: both refuse, or both accept with the same span count. */
function assertAgree(body: Uint8Array): 'accepted' | 'refused' {
  const decoded = outcome(() => spanCount(decodeTracesRequest(body)));
  const scanned = outcome(() => scanTracesRequest(body).spans);
  const hex = Buffer.from(body).toString('hex').slice(0, 400);
  if (decoded instanceof OtlpDecodeError) {
    assert.ok(scanned instanceof OtlpDecodeError, `decoder refused (${decoded.message}) but scan accepted: ${hex}`);
    // Both name the same place (the text after it may word a truncation differently).
    assert.equal(scanned.message.split(': ')[0], decoded.message.split(': ')[0], hex);
    return 'refused';
  }
  assert.ok(!(scanned instanceof OtlpDecodeError), `scan refused (${(scanned as Error).message}) but decoder accepted: ${hex}`);
  assert.equal(scanned, decoded, hex);
  return 'accepted';
}

interface Field {
  no: number;
  wt: number;
  start: number;
  end: number;
}

/** The fields of a message, read with protobufjs' reader; LEN fields give their payload range. */
function fieldsOf(buf: Uint8Array): Field[] {
  const r = protobuf.Reader.create(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  const out: Field[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const wt = tag & 7;
    if (wt === 2) {
      const n = r.uint32();
      out.push({ no: tag >>> 3, wt, start: r.pos, end: r.pos + n });
      r.skip(n);
    } else {
      out.push({ no: tag >>> 3, wt, start: r.pos, end: r.pos });
      r.skipType(wt, 0, tag >>> 3);
    }
  }
  return out;
}

/**
 * The largest Resource / InstrumentationScope (occurrences in one group summed, as protobuf merges
 * them) / Span body of a valid request, found by walking its fields.
 */
function largestPart(body: Uint8Array): number {
  let largest = 0;
  const sub = (b: Uint8Array, f: Field) => b.subarray(f.start, f.end);
  for (const rs of fieldsOf(body).filter((f) => f.no === 1)) {
    const rsBody = sub(body, rs);
    const rsFields = fieldsOf(rsBody);
    largest = Math.max(largest, rsFields.filter((f) => f.no === 1).reduce((n, f) => n + f.end - f.start, 0));
    for (const ss of rsFields.filter((f) => f.no === 2)) {
      const ssFields = fieldsOf(sub(rsBody, ss));
      largest = Math.max(largest, ssFields.filter((f) => f.no === 1).reduce((n, f) => n + f.end - f.start, 0));
      for (const span of ssFields.filter((f) => f.no === 2)) largest = Math.max(largest, span.end - span.start);
    }
  }
  return largest;
}


/**
 * Random protobuf-shaped messages: fields with small numbers (so known fields at every level are
 * hit) and any wire type, LEN fields holding either random bytes or a nested message, so that the
 * generated bodies reach deep into the request structure and are often well-framed.
 */
function wireMessage(depth: number): fc.Arbitrary<Buffer> {
  const leaf = fc.tuple(fc.integer({ min: 1, max: 17 }), fc.constantFrom(0, 0, 1, 2, 3, 4, 5, 6, 7), fc.uint8Array({ maxLength: 17 })).map(([no, wt, bytes]) => {
    if (wt === 2) return field(no, 2, bytes);
    if (wt === 3) return Buffer.concat([Buffer.from(varint(no * 8 + 3)), Buffer.from(bytes), Buffer.from(varint(no * 8 + 4))]);
    const n = wt === 1 ? 8 : wt === 5 ? 4 : wt === 0 ? 1 + (bytes.length % 11) : bytes.length % 3;
    const payload = Buffer.alloc(n);
    for (let i = 0; i < n; i++) payload[i] = (bytes[i] ?? 0) | (wt === 0 && i < n - 1 ? 0x80 : 0);
    if (wt === 0) payload[n - 1]! &= 0x7f;
    return Buffer.concat([Buffer.from(varint(no * 8 + wt)), payload]);
  });
  const one =
    depth === 0
      ? leaf
      : fc.oneof(leaf, fc.tuple(fc.integer({ min: 1, max: 17 }), wireMessage(depth - 1)).map(([no, m]) => field(no, 2, m)));
  return fc.array(one, { maxLength: 4 }).map((fs) => Buffer.concat(fs));
}
const wireBody = wireMessage(7);

/** An AnyValue nested `depth` levels through alternating array_value / kvlist_value. */
function nestedAnyValue(depth: number): Buffer {
  let value = len(1, Buffer.from('x')); // AnyValue{string_value="x"}, at level `depth`
  for (let level = depth - 1; level >= 1; level--) {
    value = level % 2 ? len(5, len(1, value)) : len(6, len(1, len(1, Buffer.from('k')), len(2, value)));
  }
  return value;
}
const withAttribute = (value: Buffer) => request(Buffer.concat([goodSpan(), len(9, len(1, Buffer.from('a')), len(2, value))]));

function refusedWith(body: Uint8Array, pattern: RegExp): void {
  assert.equal(assertAgree(body), 'refused');
  assert.throws(() => scanTracesRequest(body), (err: unknown) => err instanceof OtlpDecodeError && pattern.test(err.message));
}

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

describe('scanTracesRequest', () => {
  it('counts the spans of every protobuf traces fixture and measures its largest Resource / Scope / Span', () => {
    assert.ok(tracesFixtures.length > 0, 'no traces fixtures');
    for (const f of tracesFixtures) {
      const body = fixtureBodyPlain(f);
      const data = decodeTracesRequest(body);
      const scan = scanTracesRequest(body);
      assert.equal(scan.spans, spanCount(data), f.path);
      if (f.spanCount !== undefined) assert.equal(scan.spans, f.spanCount, f.path);
      assert.equal(scan.largest, largestPart(body), f.path);
      assert.ok(scan.largest > 0 && scan.largest < body.length, f.path);
      // The SDK writes canonical protobuf: each decoded span re-encodes to the same length.
      let longestSpan = 0;
      for (const rs of data.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) {
            const one = encodeTracesRequest({ resourceSpans: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans: [span] }] }] });
            longestSpan = Math.max(longestSpan, largestPart(one));
          }
        }
      }
      assert.ok(longestSpan <= scan.largest, f.path);
    }
  });

  it('measures the longest attribute key (at any depth) and name-like string in bytes, at least as long as the decoder reads them', () => {
    const bytes = (s: string) => Buffer.byteLength(s);
    const measured = (data: TracesData) => {
      let key = 0;
      let name = 0;
      const value = (v: AnyValue): void => {
        if ('arrayValue' in v) v.arrayValue.values.forEach(value);
        if ('kvlistValue' in v) attrs(v.kvlistValue.values);
      };
      const attrs = (kvs: KeyValue[]) => kvs.forEach((kv) => ((key = Math.max(key, bytes(kv.key))), value(kv.value)));
      for (const rs of data.resourceSpans) {
        attrs(rs.resource.attributes);
        name = Math.max(name, bytes(rs.schemaUrl));
        for (const ss of rs.scopeSpans) {
          attrs(ss.scope.attributes);
          name = Math.max(name, bytes(ss.schemaUrl), bytes(ss.scope.name), bytes(ss.scope.version));
          for (const sp of ss.spans) {
            attrs(sp.attributes);
            name = Math.max(name, bytes(sp.name), bytes(sp.traceState));
            for (const e of sp.events) (attrs(e.attributes), (name = Math.max(name, bytes(e.name))));
            for (const l of sp.links) (attrs(l.attributes), (name = Math.max(name, bytes(l.traceState))));
          }
        }
      }
      return { longestKey: key, longestName: name };
    };
    const pick = ({ longestKey, longestName }: TracesScan) => ({ longestKey, longestName });
    for (const body of tracesBodies) assert.deepEqual(pick(scanTracesRequest(body)), measured(decodeTracesRequest(body)));
    for (const c of TRACES_STRING_FIELDS) {
      const body = encodeTracesRequest(c.request('ü'.repeat(300)));
      assert.deepEqual(pick(scanTracesRequest(body)), measured(decodeTracesRequest(body)), c.path);
    }
    // A field given twice counts twice in the scan, once (the last) in the decoded request.
    fc.assert(
      fc.property(tracesRequest, (body) => {
        const scan = scanTracesRequest(body);
        const decoded = measured(decodeTracesRequest(body));
        assert.ok(scan.longestKey >= decoded.longestKey && scan.longestName >= decoded.longestName, `${JSON.stringify(pick(scan))} ${JSON.stringify(decoded)}`);
      }),
      runs(500),
    );
  });

  it('counts repeated resources and scopes as the merged message', () => {
    const resource = len(1, len(1, Buffer.from('k')), len(2, len(1, Buffer.alloc(40, 0x76)))); // Resource{attributes: [k="vvv…"]}
    const body = len(1, len(1, resource), len(1, resource), len(2, len(2, goodSpan())));
    assert.equal(scanTracesRequest(body).largest, 2 * resource.length);
    assert.equal(largestPart(body), 2 * resource.length);
    assert.equal(assertAgree(body), 'accepted');
    assert.deepEqual(scanTracesRequest(Buffer.alloc(0)), { spans: 0, largest: 0, longestKey: 0, longestName: 0 });
  });

  it('refuses a wrong wire type on a span field, as the decoder does', () => {
    refusedWith(request(Buffer.concat([goodSpan(), field(5, 0, [1])])), /^resource_spans\[0\]\.scope_spans\[0\]\.spans\[0\]\.name: wrong wire type VARINT \(expected LEN\)$/);
    refusedWith(request(Buffer.concat([goodSpan(), field(7, 5, [0, 0, 0, 0])])), /start_time_unix_nano: wrong wire type I32 \(expected I64\)/);
    refusedWith(request(Buffer.concat([goodSpan(), field(16, 1, Buffer.alloc(8))])), /spans\[0\]\.flags: wrong wire type/);
    refusedWith(request(goodSpan(), Buffer.concat([goodSpan(), field(15, 0, [1])])), /spans\[1\]\.status: wrong wire type/);
    refusedWith(request(Buffer.concat([goodSpan(), len(15, field(3, 2, [0]))])), /spans\[0\]\.status\.code: wrong wire type LEN/);
    refusedWith(request(Buffer.concat([goodSpan(), len(11, field(1, 0, [5]))])), /spans\[0\]\.events\[0\]\.time_unix_nano: wrong wire type/);
    refusedWith(request(Buffer.concat([goodSpan(), len(13, field(6, 0, [5]))])), /spans\[0\]\.links\[0\]\.flags: wrong wire type/);
    refusedWith(len(1, len(1, field(2, 2, [1]))), /^resource_spans\[0\]\.resource\.dropped_attributes_count: wrong wire type/);
    refusedWith(len(1, len(2, len(1, field(1, 0, [1])))), /^resource_spans\[0\]\.scope_spans\[0\]\.scope\.name: wrong wire type/);
    refusedWith(withAttribute(field(4, 5, [0, 0, 0, 0])), /attributes\[0\]\.value\.double_value: wrong wire type I32/);
    refusedWith(field(1, 0, [1]), /^resource_spans: wrong wire type VARINT/);
  });

  it('refuses a trace id of 5 bytes and a span id of 7, and takes empty ids', () => {
    refusedWith(request(goodSpan(), goodSpan(), goodSpan(), Buffer.concat([len(1, Buffer.alloc(5)), len(2, spanId)])), /^resource_spans\[0\]\.scope_spans\[0\]\.spans\[3\]\.trace_id: expected 16 bytes, got 5$/);
    refusedWith(request(Buffer.concat([len(1, traceId), len(4, Buffer.alloc(7))])), /parent_span_id: expected 8 bytes, got 7/);
    refusedWith(request(Buffer.concat([goodSpan(), len(13, len(2, Buffer.alloc(9)))])), /links\[0\]\.span_id: expected 8 bytes, got 9/);
    assert.equal(assertAgree(request(Buffer.concat([len(1, []), len(2, []), len(4, [])]))), 'accepted');
  });

  it('refuses truncated messages and lengths past their message', () => {
    const body = request(goodSpan(), goodSpan());
    for (let cut = 1; cut < body.length; cut++) assert.equal(assertAgree(body.subarray(0, cut)), 'refused', `cut at ${cut}`);
    refusedWith(body.subarray(0, body.length - 3), /length \d+ runs past the end of the enclosing message|truncated/);
    refusedWith(request(Buffer.concat([goodSpan(), field(7, 1, Buffer.alloc(8)).subarray(0, 5)])), /truncated/);
    refusedWith(Buffer.from([0x0a, ...varint(2 ** 31 - 1), 0]), /^resource_spans: length 2147483647 runs past/);
    refusedWith(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]), /invalid length encoding/);
    const tenBytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert.equal(assertAgree(request(Buffer.concat([goodSpan(), field(10, 0, tenBytes)]))), 'accepted');
    refusedWith(request(Buffer.concat([goodSpan(), field(10, 0, [0xff, ...tenBytes])])), /dropped_attributes_count: invalid varint encoding/);
    refusedWith(Buffer.from([0x00, 0x00]), /invalid tag \(field number 0\)/);
    refusedWith(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10, 0x00]), /invalid tag encoding/);
  });

  it('reads tags, lengths and varints with the reader\'s limits, at and away from the end of a message', () => {
    const tails = [
      [0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00], // 5-byte tag (field 2^29 - 1), 5th byte ≤ 15
      [0xf8, 0xff, 0xff, 0xff, 0x1f, 0x00], // 5th tag byte > 15
      [0xf8, 0xff, 0xff, 0x7f, 0x00], // 4-byte tag, then a varint, at the end
      [0xf8, 0xff, 0xff, 0xff], // tag cut short
      [0x9a, 0x07, 0x80, 0x80, 0x80, 0x80, 0x00], // unknown LEN field, 5-byte length 0
      [0x9a, 0x07, 0x80, 0x80, 0x80, 0x80, 0x08], // 5th length byte > 7
      [0x9a, 0x07, 0x80, 0x80, 0x00], // 3-byte length 0 near the end
      [0x50, ...Array(10).fill(0x80), 0x00], // dropped_attributes_count: an 11-byte varint
      [0x50, ...Array(9).fill(0x80), 0x00], // 10 bytes
      [0x50, 0x80, 0x80, 0x80], // cut short
      [0x35, 0x00, 0x00, 0x00, 0x00], // kind (an enum) as I32
      [0x85, 0x01, 0x00, 0x00, 0x00, 0x00], // flags
      [0x85, 0x01, 0x00, 0x00, 0x00], // flags cut short
      [0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // start_time_unix_nano
      [0x39, 0x00, 0x00, 0x00, 0x00], // cut short
    ];
    const results = tails.map((t) => assertAgree(request(Buffer.concat([goodSpan(), Buffer.from(t)]))));
    assert.deepEqual(results, ['accepted', 'refused', 'accepted', 'refused', 'accepted', 'refused', 'accepted', 'refused', 'accepted', 'refused', 'refused', 'accepted', 'refused', 'accepted', 'refused']);
  });

  it('refuses AnyValue nested past the decoder limit and takes it at the limit', () => {
    assert.equal(assertAgree(withAttribute(nestedAnyValue(MAX_ANY_VALUE_DEPTH))), 'accepted');
    refusedWith(withAttribute(nestedAnyValue(MAX_ANY_VALUE_DEPTH + 1)), /AnyValue nested deeper than 32 levels/);
    refusedWith(withAttribute(nestedAnyValue(500)), /AnyValue nested deeper than/);
    refusedWith(withAttribute(len(6, len(1, len(2, field(3, 2, []))))), /attributes\[0\]\.value\.kvlist_value\.values\[0\]\.value\.int_value: wrong wire type LEN/);
  });

  it('skips unknown fields of every wire type at every level, as the decoder does', () => {
    const unknown = Buffer.concat([
      field(99, 0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 12-byte varint: fine when unknown
      field(98, 1, Buffer.alloc(8)),
      field(97, 2, Buffer.from('zzz')),
      field(96, 5, Buffer.alloc(4)),
      Buffer.from([...varint(95 * 8 + 3), ...field(1, 0, [1]), ...varint(3 * 8 + 3), ...varint(3 * 8 + 4), ...varint(95 * 8 + 4)]), // group with a nested group
    ]);
    const attr = len(9, len(1, Buffer.from('a')), unknown, len(2, len(5, unknown, len(1, unknown, len(1, Buffer.from('v'))), unknown), unknown));
    const span = Buffer.concat([goodSpan(), unknown, attr, len(11, unknown), len(13, unknown), len(15, unknown)]);
    const body = Buffer.concat([unknown, len(1, unknown, len(1, unknown), len(2, unknown, len(1, unknown), len(2, span), unknown)), unknown]);
    assert.equal(assertAgree(body), 'accepted');
    assert.equal(scanTracesRequest(body).spans, 1);
    // Badly formed unknown fields are refused by both.
    refusedWith(request(Buffer.concat([goodSpan(), Buffer.from([...varint(95 * 8 + 3), ...varint(94 * 8 + 4)])])), /invalid end group tag/);
    refusedWith(request(Buffer.concat([goodSpan(), Buffer.from([...varint(95 * 8 + 6), 0])])), /invalid wire type 6/);
    refusedWith(request(Buffer.concat([goodSpan(), Buffer.from(varint(95 * 8 + 4))])), /invalid wire type 4/);
    // `n` groups of field 127 nested in one another: the reader takes groups nested `recursionLimit` deep.
    const groups = (n: number) => request(Buffer.concat([goodSpan(), Buffer.from([...Array(n).fill([0xfb, 0x07]).flat(), ...Array(n).fill([0xfc, 0x07]).flat()])]));
    assert.equal(assertAgree(groups(protobuf.Reader.recursionLimit + 1)), 'accepted');
    refusedWith(groups(protobuf.Reader.recursionLimit + 2), /max depth exceeded/);
  });

  it('refuses invalid UTF-8 in every string field with the decoder\'s message, and takes any bytes in bytes fields', () => {
    for (const c of TRACES_STRING_FIELDS) {
      for (const [i, bad] of INVALID_UTF8.entries()) {
        // Long non-ASCII strings take Node's validator, short ones the scan's own.
        const prefix = i % 2 ? '' : 'x'.repeat(i % 4 ? 60 : 300);
        refusedWith(withBytes(encodeTracesRequest(c.request(`${prefix}ZQ#1`)), 'ZQ#1', bad), new RegExp(`^${c.path.replace(/[.[\]]/g, '\\$&')}: invalid UTF-8$`));
      }
      for (const text of ['é', 'Grüße 東京 𝄞', '\uFFFD', 'ü'.repeat(100), 'ü'.repeat(200)]) assert.equal(assertAgree(encodeTracesRequest(c.request(text))), 'accepted', c.path);
    }
    const raw = Buffer.from([0xc3, 0x28, 0xff, 0xed, 0xa0, 0x80]);
    assert.equal(assertAgree(withAttribute(len(7, raw))), 'accepted', 'bytes_value');
    assert.equal(assertAgree(request(Buffer.concat([len(1, Buffer.alloc(16, 0xff)), len(2, Buffer.from([0xc3, 0x28, 0xc3, 0x28, 0xff, 0xfe, 0x80, 0x80]))]))), 'accepted', 'ids');
  });

  it('refuses exactly what the decoder refuses, on generated requests with arbitrary bytes in their strings', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(tracesRequestAnyBytes, (body) => {
        seen[assertAgree(body)]++;
      }),
      runs(2000),
    );
    assert.ok(seen.accepted > 50 && seen.refused > 50, JSON.stringify(seen));
  });

  it('refuses exactly what the decoder refuses, on mutated fixture bodies', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.nat({ max: protoBodies.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, ms) => {
        seen[assertAgree(mutate(protoBodies[i]!, ms))]++;
      }),
      runs(1000),
    );
    assert.ok(seen.accepted > 5 && seen.refused > 5, JSON.stringify(seen));
  });

  it('refuses exactly what the decoder refuses, on random bytes and random protobuf-shaped bodies', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => void assertAgree(bytes)), runs(1000));
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(wireBody, fc.array(mutation, { maxLength: 1 }), (body, ms) => {
        seen[assertAgree(mutate(body, ms))]++;
      }),
      runs(3000),
    );
    assert.ok(seen.accepted > 50 && seen.refused > 50, JSON.stringify(seen));
  });

  it('scans a Buffer and a plain Uint8Array alike, and refuses a body that is not bytes', () => {
    for (const body of tracesBodies) assert.deepEqual(scanTracesRequest(body), scanTracesRequest(Uint8Array.from(body)));
    assert.throws(() => scanTracesRequest('x' as unknown as Uint8Array), OtlpDecodeError);
  });
});
