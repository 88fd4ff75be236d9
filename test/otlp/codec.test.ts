/** OTLP codec: protobuf and JSON decode/encode of traces, logs and metrics, and malformed input. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { OtlpDecodeError } from '../../src/errors.js';
import { hexOf } from '../../src/otlp/wire.js';
import {
  decodeLogsJson,
  decodeMetricsJson,
  decodeTracesJson,
  encodeExportResponseJson,
  encodeLogsJson,
  encodeStatusJson,
  encodeTracesJson,
} from '../../src/otlp/json.js';
import {
  decodeLogsRequest,
  decodeMetricsRequest,
  decodeTracesRequest,
  encodeExportResponse,
  encodeLogsRequest,
  encodeStatus,
  encodeTracesRequest,
  uint64ToDecimal,
} from '../../src/otlp/proto.js';
import type { AnyValue, LogRecord, LogsData, Span, TracesData } from '../../src/pdata.js';
import { emptyResource, emptyScope, emptySpan, logRecordCount, spanCount } from '../../src/pdata.js';
import { fixtureManifest, readFixture, type FixtureFile } from '../helpers.js';
import { INVALID_UTF8, LOGS_STRING_FIELDS, TRACES_STRING_FIELDS, withBytes } from './string_fields.js';

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** The fixture's request body, gunzipped when it is stored compressed. */
function body(f: FixtureFile): Buffer {
  const raw = readFixture(f.path);
  return f.contentEncoding === 'gzip' ? zlib.gunzipSync(raw) : raw;
}

function decodeFixture(f: FixtureFile): TracesData | LogsData {
  const b = body(f);
  const json = f.contentType === 'application/json';
  if (f.signal === 'traces') return json ? decodeTracesJson(b.toString('utf8')) : decodeTracesRequest(b);
  return json ? decodeLogsJson(b.toString('utf8')) : decodeLogsRequest(b);
}

const allSpans = (d: TracesData): Span[] => d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const allLogs = (d: LogsData): LogRecord[] => d.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));

/** Runs `fn`; passes when it returns or throws an `OtlpDecodeError`, fails on any other throw. */
function onlyDecodeErrors(fn: () => unknown): 'ok' | 'error' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof OtlpDecodeError)) assert.fail(`expected OtlpDecodeError, got ${String(err)}`);
    return 'error';
  }
}

function expectDecodeError(fn: () => unknown, message?: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OtlpDecodeError, `expected OtlpDecodeError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  });
}

type W = protobuf.Writer;
/** Length-delimited field `no` holding what `fill` writes. */
function msg(w: W, no: number, fill: (w: W) => void): W {
  w.uint32((no << 3) | 2).fork();
  fill(w);
  return w.ldelim();
}
/** An ExportTraceServiceRequest with one resource, one scope and one span whose fields `fill` writes. */
function traceWithSpan(fill: (w: W) => void): Uint8Array {
  const w = protobuf.Writer.create();
  msg(w, 1, (w) => msg(w, 2, (w) => msg(w, 2, fill)));
  return w.finish();
}

function span(over: Partial<Span> = {}): Span {
  return {
    ...emptySpan(),
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'op',
    kind: 2,
    startTimeUnixNano: '1795288700006000000',
    endTimeUnixNano: '1795288700008320917',
    ...over,
  };
}
const traces = (spans: Span[]): TracesData => ({
  resourceSpans: [{ resource: emptyResource(), scopeSpans: [{ scope: emptyScope(), spans, schemaUrl: '' }], schemaUrl: '' }],
});

/** An AnyValue nested `levels` deep (level 1 is the value itself). */
function nested(levels: number): AnyValue {
  let v: AnyValue = { stringValue: 'leaf' };
  for (let i = 1; i < levels; i++) v = i % 2 ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: 'k', value: v }] } };
  return v;
}

const manifest = fixtureManifest();

// ---------------------------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------------------------

describe('fixtures', () => {
  for (const f of manifest) {
    test(`${f.path} decodes to the manifest's counts`, () => {
      const data = decodeFixture(f);
      if (f.signal === 'traces') {
        const d = data as TracesData;
        assert.equal(spanCount(d), f.spanCount);
        const spans = allSpans(d);
        for (const s of spans) {
          assert.match(s.traceId, /^[0-9a-f]{32}$/);
          assert.match(s.spanId, /^[0-9a-f]{16}$/);
          assert.match(s.startTimeUnixNano, /^[1-9]\d{18}$/);
          assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
        }
        assert.equal(d.resourceSpans.length, (f as { resourceCount?: number }).resourceCount);
        assert.equal(new Set(spans.map((s) => s.traceId)).size, (f as { traceIdCount?: number }).traceIdCount);
      } else {
        const d = data as LogsData;
        assert.equal(logRecordCount(d), f.logCount);
        const names = [...new Set(allLogs(d).map((r) => r.eventName).filter(Boolean))].sort();
        assert.deepEqual(names, f.eventNames);
        assert.equal(d.resourceLogs.length, (f as { resourceCount?: number }).resourceCount);
      }
      const services = (f as { services?: string[] }).services;
      const resources = 'resourceSpans' in data ? data.resourceSpans : data.resourceLogs;
      assert.deepEqual(
        resources.map((r) => r.resource.attributes.find((a) => a.key === 'service.name')?.value),
        services?.map((s) => ({ stringValue: s })),
      );
    });
  }

  const batches = new Map<string, FixtureFile[]>();
  for (const f of manifest) {
    const k = `${f.signal}-${f.batch}`;
    batches.set(k, [...(batches.get(k) ?? []), f]);
  }
  for (const [k, files] of batches) {
    test(`${k}: protobuf, JSON and gzipped bodies decode to the same data`, () => {
      const [first, ...rest] = files.map(decodeFixture);
      assert.ok(rest.length >= 3);
      for (const d of rest) assert.deepStrictEqual(d, first);
    });
  }

  test('protobuf encode → decode round-trips every fixture', () => {
    for (const f of manifest) {
      const d = decodeFixture(f);
      if (f.signal === 'traces') assert.deepStrictEqual(decodeTracesRequest(encodeTracesRequest(d as TracesData)), d);
      else assert.deepStrictEqual(decodeLogsRequest(encodeLogsRequest(d as LogsData)), d);
    }
  });

  test('JSON encode → decode round-trips every fixture', () => {
    for (const f of manifest) {
      const d = decodeFixture(f);
      if (f.signal === 'traces') assert.deepStrictEqual(decodeTracesJson(encodeTracesJson(d as TracesData)), d);
      else assert.deepStrictEqual(decodeLogsJson(encodeLogsJson(d as LogsData)), d);
    }
  });

  test('protobuf encoding is no larger than the SDK one (defaults omitted)', () => {
    for (const f of manifest.filter((x) => x.contentType === 'application/x-protobuf' && x.contentEncoding === 'identity')) {
      const d = decodeFixture(f);
      const out = f.signal === 'traces' ? encodeTracesRequest(d as TracesData) : encodeLogsRequest(d as LogsData);
      assert.ok(out.length <= body(f).length, `${f.path}: ${out.length} > ${body(f).length}`);
    }
  });

  test('log records keep LogRecord.event_name as sent; no fallback to the event.name attribute', () => {
    const f = manifest.find((x) => x.signal === 'logs' && x.contentType === 'application/x-protobuf')!;
    const d = decodeFixture(f) as LogsData;
    const rec = allLogs(d)[0]!;
    assert.ok(rec.eventName);
    // Same record without field 12 but with the older event.name attribute: eventName stays empty.
    const stripped = structuredClone(d);
    for (const r of allLogs(stripped)) {
      r.attributes.push({ key: 'event.name', value: { stringValue: r.eventName } });
      r.eventName = '';
    }
    const again = decodeLogsRequest(encodeLogsRequest(stripped));
    const r0 = allLogs(again)[0]!;
    assert.equal(r0.eventName, '');
    assert.ok(r0.attributes.some((a) => a.key === 'event.name'));
    // JSON likewise, and snake_case is accepted.
    const json = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ event_name: 'a.b' }, {}] }] }] });
    assert.deepEqual(allLogs(decodeLogsJson(json)).map((r) => r.eventName), ['a.b', '']);
  });
});

// ---------------------------------------------------------------------------------------------
// protobuf details
// ---------------------------------------------------------------------------------------------

describe('protobuf', () => {
  test('absent fields get the pdata defaults', () => {
    const d = decodeTracesRequest(traceWithSpan(() => {}));
    assert.deepStrictEqual(d, traces([span({ traceId: '', spanId: '', name: '', kind: 0, startTimeUnixNano: '0', endTimeUnixNano: '0' })]));
    assert.deepStrictEqual(decodeTracesRequest(new Uint8Array(0)), { resourceSpans: [] });
    const w = protobuf.Writer.create();
    msg(w, 1, (w) => msg(w, 2, (w) => msg(w, 2, () => {})));
    assert.deepStrictEqual(decodeLogsRequest(w.finish()), {
      resourceLogs: [
        {
          resource: emptyResource(),
          schemaUrl: '',
          scopeLogs: [
            {
              scope: emptyScope(),
              schemaUrl: '',
              logRecords: [
                {
                  timeUnixNano: '0',
                  observedTimeUnixNano: '0',
                  severityNumber: 0,
                  severityText: '',
                  body: {},
                  attributes: [],
                  droppedAttributesCount: 0,
                  flags: 0,
                  traceId: '',
                  spanId: '',
                  eventName: '',
                },
              ],
            },
          ],
        },
      ],
    });
  });

  test('unknown fields of every wire type are skipped', () => {
    const bytes = traceWithSpan((w) => {
      w.uint32((99 << 3) | 0).uint64(123456789);
      w.uint32((98 << 3) | 1).fixed64(7);
      w.uint32((97 << 3) | 2).string('ignored');
      w.uint32((96 << 3) | 5).fixed32(7);
      w.uint32((95 << 3) | 3).uint32((1 << 3) | 0).uint32(1).uint32((95 << 3) | 4); // a group
      w.uint32((5 << 3) | 2).string('kept');
    });
    assert.equal(allSpans(decodeTracesRequest(bytes))[0]!.name, 'kept');
  });

  test('every AnyValue kind and 64-bit edge survives encode → decode, in protobuf and JSON', () => {
    const values: AnyValue[] = [
      {},
      { stringValue: '' },
      { stringValue: 'héllo ✓' },
      { boolValue: true },
      { boolValue: false },
      { intValue: 0 },
      { intValue: -1 },
      { intValue: 9007199254740991 },
      { intValue: -9007199254740991 },
      { intValue: '9007199254740992' },
      { intValue: '9223372036854775807' },
      { intValue: '-9223372036854775808' },
      { doubleValue: 0.5 },
      { doubleValue: 3 },
      { doubleValue: NaN },
      { doubleValue: Infinity },
      { bytesValue: new Uint8Array([0, 1, 255]) },
      { arrayValue: { values: [] } },
      { arrayValue: { values: [{ intValue: 1 }, { stringValue: 'x' }, {}] } },
      { kvlistValue: { values: [{ key: 'a', value: { boolValue: true } }, { key: '', value: {} }] } },
      nested(32),
    ];
    const d = traces([
      span({
        attributes: values.map((value, i) => ({ key: `k${i}`, value })),
        startTimeUnixNano: '18446744073709551615',
        endTimeUnixNano: '1',
        flags: 0xffffffff,
        kind: 5,
        traceState: 'a=b',
        parentSpanId: '00f067aa0ba902b7',
        droppedAttributesCount: 3,
        events: [{ timeUnixNano: '9007199254740993', name: 'e', attributes: [{ key: 'x', value: { intValue: 2 } }], droppedAttributesCount: 1 }],
        droppedEventsCount: 4,
        links: [{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceState: 's', attributes: [], droppedAttributesCount: 2, flags: 1 }],
        droppedLinksCount: 5,
        status: { code: 2, message: 'boom' },
      }),
    ]);
    assert.deepStrictEqual(decodeTracesRequest(encodeTracesRequest(d)), d);
    assert.deepStrictEqual(decodeTracesJson(encodeTracesJson(d)), d);
  });

  test('fixed64 timestamps convert to decimal exactly (compared with BigInt)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (n) => {
        const lo = Number(n & 0xffffffffn);
        const hi = Number(n >> 32n);
        assert.equal(uint64ToDecimal(lo, hi), n.toString());
      }),
      { numRuns: 2000 },
    );
    for (const n of [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 10n ** 19n, 2n ** 64n - 1n, 1795288700008320917n]) {
      assert.equal(uint64ToDecimal(Number(n & 0xffffffffn), Number(n >> 32n)), n.toString());
    }
  });

  test('hex ids read the same from a Buffer and from a plain Uint8Array', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = a % bytes.length;
        const n = b % (bytes.length - start + 1);
        const want = Array.from(bytes.subarray(start, start + n), (x) => x.toString(16).padStart(2, '0')).join('');
        const plain = new Uint8Array(bytes);
        assert.equal(hexOf(plain, start, n), want);
        assert.equal(hexOf(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength), start, n), want);
      }),
      { numRuns: 500 },
    );
  });

  test('metrics: framing is validated and data points are counted; the body is kept', () => {
    const w = protobuf.Writer.create();
    msg(w, 1, (w) => {
      msg(w, 1, (w) => msg(w, 1, (w) => w.uint32(10).string('service.name')));
      msg(w, 2, (w) => {
        msg(w, 2, (w) => {
          w.uint32(10).string('gauge.metric');
          msg(w, 5, (w) => {
            msg(w, 1, (w) => w.uint32((4 << 3) | 1).double(1));
            msg(w, 1, (w) => w.uint32((4 << 3) | 1).double(2));
          });
        });
        msg(w, 2, (w) => msg(w, 7, (w) => msg(w, 1, () => {})));
        msg(w, 2, (w) => msg(w, 9, (w) => msg(w, 1, () => {})));
        msg(w, 2, (w) => msg(w, 10, (w) => msg(w, 1, () => {})));
        msg(w, 2, (w) => msg(w, 11, (w) => msg(w, 1, () => {})));
      });
    });
    const buf = w.finish();
    const m = decodeMetricsRequest(buf);
    assert.equal(m.dataPointCount, 6);
    assert.equal(m.body, buf);
    for (let cut = 1; cut < buf.length; cut++) onlyDecodeErrors(() => decodeMetricsRequest(buf.subarray(0, cut)));
    expectDecodeError(() => decodeMetricsRequest(buf.subarray(0, buf.length - 3)), /^resource_metrics: length/);
    // A data point whose field overruns it is reported at its path.
    const bad = protobuf.Writer.create();
    msg(bad, 1, (w) => msg(w, 2, (w) => msg(w, 2, (w) => msg(w, 9, (w) => msg(w, 1, (w) => w.uint32((6 << 3) | 2).uint32(50))))));
    expectDecodeError(
      () => decodeMetricsRequest(bad.finish()),
      /^resource_metrics\[0\]\.scope_metrics\[0\]\.metrics\[0\]\.histogram\.data_points\[0\]\.field 6: truncated/,
    );
  });

  test('export responses and google.rpc.Status', () => {
    assert.equal(encodeExportResponse('traces').length, 0);
    // partial_success { rejected_spans: 3, error_message: "bad" }
    assert.deepEqual([...encodeExportResponse('traces', { rejected: 3, message: 'bad' })], [0x0a, 7, 0x08, 3, 0x12, 3, 98, 97, 100]);
    assert.deepEqual([...encodeExportResponse('logs', { rejected: 0, message: '' })], [0x0a, 0]);
    assert.deepEqual([...encodeExportResponse('metrics', { rejected: 300, message: '' })], [0x0a, 3, 0x08, 0xac, 0x02]);
    assert.deepEqual([...encodeStatus(3, 'no')], [0x08, 3, 0x12, 2, 110, 111]);
    assert.equal(encodeExportResponseJson('traces'), '{}');
    assert.deepEqual(JSON.parse(encodeExportResponseJson('logs', { rejected: 2, message: 'm' })), {
      partialSuccess: { rejectedLogRecords: '2', errorMessage: 'm' },
    });
    assert.deepEqual(JSON.parse(encodeExportResponseJson('metrics', { rejected: 1, message: '' })), {
      partialSuccess: { rejectedDataPoints: '1' },
    });
    assert.deepEqual(JSON.parse(encodeExportResponseJson('traces', { rejected: 1, message: '' })), { partialSuccess: { rejectedSpans: '1' } });
    assert.deepEqual(JSON.parse(encodeStatusJson(8, 'full')), { code: 8, message: 'full' });
  });
});

// ---------------------------------------------------------------------------------------------
// malformed protobuf
// ---------------------------------------------------------------------------------------------

describe('malformed protobuf', () => {
  const tracesPb = body(manifest.find((f) => f.path === 'traces-shop-01.pb')!);
  const logsPb = body(manifest.find((f) => f.path === 'logs-shop-01.pb')!);

  test('truncation at every offset of real requests throws only OtlpDecodeError', () => {
    for (const [buf, decode] of [
      [tracesPb, decodeTracesRequest],
      [logsPb, decodeLogsRequest],
    ] as const) {
      let errors = 0;
      for (let cut = 1; cut < buf.length; cut++) if (onlyDecodeErrors(() => decode(buf.subarray(0, cut))) === 'error') errors++;
      // Only cuts at the end of the one top-level message could decode; there are none inside.
      assert.equal(errors, buf.length - 1);
    }
    // A cut is seen by the outermost length prefix that runs past the end.
    expectDecodeError(() => decodeTracesRequest(tracesPb.subarray(0, 200)), /^resource_spans: length \d+ runs past the end/);
  });

  test('random bytes and bit flips throw only OtlpDecodeError, and terminate', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyDecodeErrors(() => decodeTracesRequest(bytes));
        onlyDecodeErrors(() => decodeLogsRequest(bytes));
        onlyDecodeErrors(() => decodeMetricsRequest(bytes));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.nat(tracesPb.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const b = Buffer.from(tracesPb);
        b[at] = byte;
        onlyDecodeErrors(() => decodeTracesRequest(b));
        onlyDecodeErrors(() => decodeMetricsRequest(b));
      }),
      { numRuns: 1500 },
    );
  });

  test('wrong wire type for a known field', () => {
    const bytes = traceWithSpan((w) => w.uint32((5 << 3) | 0).uint32(7));
    expectDecodeError(() => decodeTracesRequest(bytes), 'resource_spans[0].scope_spans[0].spans[0].name: wrong wire type VARINT (expected LEN)');
    const t = traceWithSpan((w) => w.uint32((7 << 3) | 0).uint32(7));
    expectDecodeError(() => decodeTracesRequest(t), /spans\[0\]\.start_time_unix_nano: wrong wire type VARINT \(expected I64\)/);
    const top = protobuf.Writer.create().uint32((1 << 3) | 5).fixed32(1).finish();
    expectDecodeError(() => decodeTracesRequest(top), 'resource_spans: wrong wire type I32 (expected LEN)');
    expectDecodeError(() => decodeTracesRequest(Uint8Array.of((1 << 3) | 7)), 'resource_spans: wrong wire type 7 (expected LEN)');
    const unknownWt7 = protobuf.Writer.create().uint32(50 << 3).uint32(1).uint32((99 << 3) | 7).finish();
    expectDecodeError(() => decodeTracesRequest(unknownWt7), /^field 99: invalid wire type 7/);
    expectDecodeError(() => decodeTracesRequest(Uint8Array.of(0)), 'request: invalid tag (field number 0)');
  });

  test('trace and span ids of the wrong length', () => {
    const five = traceWithSpan((w) => w.uint32((1 << 3) | 2).bytes(new Uint8Array(5)));
    expectDecodeError(() => decodeTracesRequest(five), 'resource_spans[0].scope_spans[0].spans[0].trace_id: expected 16 bytes, got 5');
    const sid = traceWithSpan((w) => w.uint32((2 << 3) | 2).bytes(new Uint8Array(16)));
    expectDecodeError(() => decodeTracesRequest(sid), 'resource_spans[0].scope_spans[0].spans[0].span_id: expected 8 bytes, got 16');
    const link = traceWithSpan((w) => msg(w, 13, (w) => w.uint32((1 << 3) | 2).bytes(new Uint8Array(17))));
    expectDecodeError(() => decodeTracesRequest(link), 'resource_spans[0].scope_spans[0].spans[0].links[0].trace_id: expected 16 bytes, got 17');
    const logs = protobuf.Writer.create();
    msg(logs, 1, (w) => msg(w, 2, (w) => msg(w, 2, (w) => w.uint32((10 << 3) | 2).bytes(new Uint8Array(3)))));
    expectDecodeError(() => decodeLogsRequest(logs.finish()), 'resource_logs[0].scope_logs[0].log_records[0].span_id: expected 8 bytes, got 3');
    // Empty ids are allowed and decode to "".
    const empty = traceWithSpan((w) => w.uint32((1 << 3) | 2).bytes(new Uint8Array(0)));
    assert.equal(allSpans(decodeTracesRequest(empty))[0]!.traceId, '');
  });

  test('AnyValue nesting deeper than 32 levels', () => {
    const ok = traces([span({ attributes: [{ key: 'deep', value: nested(32) }] })]);
    assert.deepStrictEqual(decodeTracesRequest(encodeTracesRequest(ok)), ok);
    const deep = encodeTracesRequest(traces([span({ attributes: [{ key: 'deep', value: nested(33) }] })]));
    expectDecodeError(() => decodeTracesRequest(deep), /attributes\[0\]\.value\.kvlist_value\.values\[0\]\.value\.array_value.*: AnyValue nested deeper than 32 levels$/);
    // Very deep (beyond any stack) still ends in an OtlpDecodeError.
    const veryDeep = encodeTracesRequest(traces([span({ attributes: [{ key: 'deep', value: nested(3000) }] })]));
    expectDecodeError(() => decodeTracesRequest(veryDeep), /deeper than 32 levels/);
    // Nested groups in an unknown field.
    const groups = traceWithSpan((w) => {
      for (let i = 0; i < 5000; i++) w.uint32((90 << 3) | 3);
    });
    expectDecodeError(() => decodeTracesRequest(groups));
  });

  test('huge or inconsistent declared lengths', () => {
    // resource_spans with a 4 GiB length
    expectDecodeError(() => decodeTracesRequest(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2)), /^resource_spans(\[0\])?: /);
    // a span whose name claims more bytes than its span holds (but fewer than the buffer)
    const inner = protobuf.Writer.create();
    inner.uint32((5 << 3) | 2).uint32(10);
    const bytes = traceWithSpan((w) => w.raw(inner.finish()));
    const padded = Buffer.concat([bytes, Buffer.alloc(20)]);
    expectDecodeError(() => decodeTracesRequest(padded), 'resource_spans[0].scope_spans[0].spans[0].name: length 10 runs past the end of the enclosing message (0 bytes left)');
    // an over-long varint
    expectDecodeError(() => decodeTracesRequest(traceWithSpan((w) => w.raw(Uint8Array.of(6 << 3, ...new Array(11).fill(0xff), 1)))));
  });

  test('invalid UTF-8 in any string field, short or long, is refused naming the field; valid text is taken as sent', () => {
    const decoders = [
      [TRACES_STRING_FIELDS, encodeTracesRequest, decodeTracesRequest],
      [LOGS_STRING_FIELDS, encodeLogsRequest, decodeLogsRequest],
    ] as const;
    for (const [cases, encode, decode] of decoders) {
      for (const c of cases) {
        for (const [i, bad] of INVALID_UTF8.entries()) {
          // Short strings take the decoder's cached path, longer ones its slice-and-check path.
          const prefix = i % 2 ? '' : 'x'.repeat(i % 4 ? 40 : 300);
          const body = withBytes((encode as (d: unknown) => Uint8Array)(c.request(`${prefix}ZQ#1`)), 'ZQ#1', bad);
          expectDecodeError(() => decode(body), `${c.path}: invalid UTF-8`);
        }
        for (const text of ['u-2001', 'é', 'Grüße aus Köln — 東京 𝄞', '\uFFFD', `${'x'.repeat(40)}\uFFFD`, `${'x'.repeat(300)}\uFFFD`, 'ü'.repeat(100)]) {
          const data = c.request(text);
          assert.deepStrictEqual((decode as (b: Uint8Array) => unknown)((encode as (d: unknown) => Uint8Array)(data)), data, `${c.path} ${text}`);
        }
      }
    }
  });

  test('two different invalid user ids are refused, not both decoded to U+FFFD', () => {
    const attr = (id: number[]) => withBytes(encodeTracesRequest(traces([span({ attributes: [{ key: 'user.id', value: { stringValue: 'u-ZQ' } }] })])), 'u-ZQ', id);
    for (const id of [[0x75, 0x2d, 0xc3, 0x28], [0x75, 0x2d, 0xc3, 0x29]]) {
      expectDecodeError(() => decodeTracesRequest(attr(id)), 'resource_spans[0].scope_spans[0].spans[0].attributes[0].value.string_value: invalid UTF-8');
    }
  });

  test('bytes fields take any bytes: ids and bytes_value are not text', () => {
    const bytes = Uint8Array.of(0xc3, 0x28, 0xff, 0xed, 0xa0, 0x80);
    const data = traces([span({ traceId: 'c328ffeda080c328ffeda080c328ffed', spanId: 'ffffffffffffff80', attributes: [{ key: 'raw', value: { bytesValue: bytes } }] })]);
    assert.deepStrictEqual(decodeTracesRequest(encodeTracesRequest(data)), data);
  });

  test('a Uint8Array view on a larger buffer decodes only its own bytes', () => {
    const buf = encodeTracesRequest(traces([span()]));
    const big = new Uint8Array(buf.length + 10);
    big.set(buf, 5);
    assert.deepStrictEqual(decodeTracesRequest(big.subarray(5, 5 + buf.length)), traces([span()]));
  });
});

// ---------------------------------------------------------------------------------------------
// JSON details
// ---------------------------------------------------------------------------------------------

describe('JSON', () => {
  /** The JSON path of a proto path: each field name in lowerCamelCase. */
  const jsonPath = (protoPath: string) => protoPath.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

  test('a body that is not UTF-8 is refused, naming the string that holds the bad bytes, not decoded with U+FFFD', () => {
    const codecs = [
      [TRACES_STRING_FIELDS, encodeTracesJson, decodeTracesJson],
      [LOGS_STRING_FIELDS, encodeLogsJson, decodeLogsJson],
    ] as const;
    for (const [cases, encode, decode] of codecs) {
      for (const c of cases) {
        for (const bad of INVALID_UTF8) {
          const body = withBytes(Buffer.from((encode as (d: unknown) => string)(c.request('ZQ#1'))), 'ZQ#1', bad);
          expectDecodeError(() => (decode as (b: Uint8Array) => unknown)(body), `${jsonPath(c.path)}: invalid UTF-8`);
        }
        const data = c.request('Grüße 東京 𝄞 \uFFFD');
        assert.deepStrictEqual((decode as (b: Uint8Array) => unknown)(Buffer.from((encode as (d: unknown) => string)(data))), data, c.path);
      }
    }
    // Bad bytes outside any string the decoder reads: a field name, between values, at the end.
    expectDecodeError(() => decodeLogsJson(Buffer.from('{"resourceLogs":[],"x\xff":1}', 'latin1')), 'request: invalid UTF-8 at byte 21');
    expectDecodeError(() => decodeTracesJson(Buffer.from('{"resourceSpans":[] \xc3}', 'latin1')), 'request: invalid UTF-8 at byte 20');
    expectDecodeError(() => decodeMetricsJson(Buffer.from('{"resourceMetrics":[]}\xe2\x82', 'latin1')), 'request: invalid UTF-8 at byte 22');
    // The same metrics body with a bad scope name is named.
    const metrics = Buffer.from('{"resourceMetrics":[{"scopeMetrics":[{"scope":{"name":"m\xc0\xafx"}}]}]}', 'latin1');
    expectDecodeError(() => decodeMetricsJson(metrics), 'resourceMetrics[0].scopeMetrics[0].scope.name: invalid UTF-8');
  });

  test('a lone UTF-16 surrogate escape is refused: it has no UTF-8 encoding; a pair is one character', () => {
    const logs = (eventName: string) => `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"${eventName}"}]}]}]}`;
    for (const lone of ['\\ud83d', 'a\\ude00', '\\ude00\\ud83d']) {
      expectDecodeError(() => decodeLogsJson(logs(lone)), /^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.eventName: lone UTF-16 surrogate/);
    }
    assert.equal(allLogs(decodeLogsJson(logs('\\ud83d\\ude00')))[0]!.eventName, '😀');
    expectDecodeError(() => decodeTracesJson('{"resourceSpans":[{"resource":{"attributes":[{"key":"\\udbff","value":{}}]}}]}'), /^resourceSpans\[0\]\.resource\.attributes\[0\]\.key: lone UTF-16 surrogate/);
  });

  test('lenient forms: snake_case keys, enum names, numeric strings, uppercase hex, nulls', () => {
    const json = JSON.stringify({
      resource_spans: [
        {
          resource: null,
          scope_spans: [
            {
              spans: [
                {
                  trace_id: '0AF7651916CD43DD8448EB211C80319C',
                  span_id: 'B7AD6B7169203331',
                  parent_span_id: '',
                  name: 'op',
                  kind: 'SPAN_KIND_SERVER',
                  start_time_unix_nano: 1795288700006000000,
                  end_time_unix_nano: '01795288700008320917',
                  attributes: [
                    { key: 'i', value: { int_value: '42' } },
                    { key: 'b', value: { bytesValue: 'AAH/' } },
                    { key: 'd', value: { doubleValue: 'Infinity' } },
                    { key: 'n', value: null },
                  ],
                  status: { code: 'STATUS_CODE_ERROR', message: 'x' },
                  flags: '1',
                  unknownField: { anything: [1, 2] },
                },
              ],
            },
          ],
        },
      ],
    });
    const s = allSpans(decodeTracesJson(json))[0]!;
    assert.equal(s.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(s.spanId, 'b7ad6b7169203331');
    assert.equal(s.kind, 2);
    assert.equal(s.startTimeUnixNano, '1795288700006000000');
    assert.equal(s.endTimeUnixNano, '1795288700008320917');
    assert.deepStrictEqual(s.attributes, [
      { key: 'i', value: { intValue: 42 } },
      { key: 'b', value: { bytesValue: new Uint8Array([0, 1, 255]) } },
      { key: 'd', value: { doubleValue: Infinity } },
      { key: 'n', value: {} },
    ]);
    assert.deepStrictEqual(s.status, { code: 2, message: 'x' });
    assert.equal(s.flags, 1);
    const logs = decodeLogsJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN2","body":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":-7}}]}}}]}]}]}');
    const r = allLogs(logs)[0]!;
    assert.equal(r.severityNumber, 14);
    assert.deepStrictEqual(r.body, { kvlistValue: { values: [{ key: 'a', value: { intValue: -7 } }] } });
    assert.deepStrictEqual(decodeTracesJson('{}'), { resourceSpans: [] });
  });

  test('errors name the JSON path', () => {
    const cases: [string, string][] = [
      ['{"resourceSpans":{}}', 'resourceSpans: expected an array'],
      ['[1]', '(root): expected an object'],
      [
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{"attributes":[{"key":"a","value":{}},{"key":"b","value":"x"}]}]}]}]}',
        'resourceSpans[0].scopeSpans[0].spans[2].attributes[1].value: expected an object',
      ],
      [
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319"}]}]}]}',
        'resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits, got "0af7651916cd43dd8448eb211c80319"',
      ],
      [
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"zzzzzzzzzzzzzzzz"}]}]}]}',
        'resourceSpans[0].scopeSpans[0].spans[0].spanId: expected 16 hex digits, got "zzzzzzzzzzzzzzzz"',
      ],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]}', 'resourceSpans[0].scopeSpans[0].spans[0].kind: unknown enum value "SERVER"'],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}', 'resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected an unsigned 64-bit integer, got "-1"'],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":"18446744073709551616"}]}]}]}', 'resourceSpans[0].scopeSpans[0].spans[0].endTimeUnixNano: expected an unsigned 64-bit integer, got "18446744073709551616"'],
      ['{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"intValue":1.5}}]}}]}', 'resourceSpans[0].resource.attributes[0].value.intValue: expected a 64-bit integer, got 1.5'],
      ['{"resourceSpans":[{"scopeSpans":[{"scope":{"name":5}}]}]}', 'resourceSpans[0].scopeSpans[0].scope.name: expected a string'],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"events":[{"attributes":[{"key":"k","value":{"arrayValue":{"values":[{"boolValue":"yes"}]}}}]}]}]}]}]}', 'resourceSpans[0].scopeSpans[0].spans[0].events[0].attributes[0].value.arrayValue.values[0].boolValue: expected a boolean'],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"droppedAttributesCount":-1}]}]}]}', 'resourceSpans[0].scopeSpans[0].spans[0].droppedAttributesCount: expected an unsigned 32-bit integer, got -1'],
      ['{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"not base64!"}}]}]}]}', 'resourceLogs[0].scopeLogs[0].logRecords[0].body.bytesValue: expected a base64 string'],
    ];
    for (const [json, message] of cases) {
      const decode = json.includes('resourceLogs') ? decodeLogsJson : decodeTracesJson;
      expectDecodeError(() => decode(json), message);
    }
    expectDecodeError(() => decodeTracesJson('{"resourceSpans":['), /^invalid JSON: /);
    expectDecodeError(() => decodeLogsJson(''), /^invalid JSON: /);
    expectDecodeError(() => decodeMetricsJson('nope'), /^invalid JSON: /);
  });

  test('AnyValue nesting deeper than 32 levels, and very deep JSON', () => {
    const ok = traces([span({ attributes: [{ key: 'deep', value: nested(32) }] })]);
    assert.deepStrictEqual(decodeTracesJson(encodeTracesJson(ok)), ok);
    const deep = encodeTracesJson(traces([span({ attributes: [{ key: 'deep', value: nested(33) }] })]));
    expectDecodeError(() => decodeTracesJson(deep), /attributes\[0\]\.value\.kvlistValue\.values\[0\]\.value\.arrayValue.*: AnyValue nested deeper than 32 levels$/);
    const veryDeep = '{"resourceSpans":' + '['.repeat(100000) + ']'.repeat(100000) + '}';
    onlyDecodeErrors(() => decodeTracesJson(veryDeep));
  });

  test('random JSON values throw only OtlpDecodeError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const text = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [v, { attributes: [v, { key: 'k', value: v }] }] }] }] });
        onlyDecodeErrors(() => decodeTracesJson(text));
        onlyDecodeErrors(() => decodeLogsJson(text.replaceAll('Spans', 'Logs').replaceAll('spans', 'logRecords')));
        onlyDecodeErrors(() => decodeMetricsJson(JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [v, { sum: { dataPoints: [v] } }] }] }] })));
      }),
      { numRuns: 1500 },
    );
  });

  test('metrics JSON converts to protobuf and counts data points', () => {
    const json = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeMetrics: [
            {
              scope: { name: 'lib' },
              metrics: [
                { name: 'g', gauge: { dataPoints: [{ asDouble: 1.5 }, { asInt: '3' }] } },
                { name: 's', sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE', isMonotonic: true, dataPoints: [{ asInt: 0 }] } },
                { name: 'h', histogram: { dataPoints: [{ count: '2', bucketCounts: ['1', 1], explicitBounds: [0.5] }] } },
                { name: 'e', exponentialHistogram: { dataPoints: [{ scale: -1, positive: { offset: -2, bucketCounts: [1] } }] } },
                { name: 'q', summary: { dataPoints: [{ quantileValues: [{ quantile: 0.5, value: 1 }] }, {}] } },
              ],
            },
          ],
        },
      ],
    });
    const m = decodeMetricsJson(json);
    assert.equal(m.dataPointCount, 7);
    assert.equal(decodeMetricsRequest(m.body).dataPointCount, 7);
    expectDecodeError(
      () => decodeMetricsJson('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"asInt":"x"}]}}]}]}]}'),
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt: expected a 64-bit integer, got "x"',
    );
    expectDecodeError(
      () => decodeMetricsJson('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":[1,-2]}]}}]}]}]}'),
      'resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: expected an unsigned 64-bit integer, got -2',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// bodies produced by the OpenTelemetry JS SDK's serializers
// ---------------------------------------------------------------------------------------------

describe('@opentelemetry/otlp-transformer bodies', () => {
  const resource = { attributes: { 'service.name': 'svc', 'host.cpus': 8, ratio: 0.25, on: true, tags: ['a', 'b'] } };
  const scope = { name: 'lib', version: '1.2.3' };
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const ctx = (spanId: string) => ({ traceId, spanId, traceFlags: 1, isRemote: false });

  test('traces from ProtobufTraceSerializer and JsonTraceSerializer', () => {
    const sdkSpan = {
      name: 'GET /cart',
      kind: 1, // SERVER in the API enum, 2 in OTLP
      spanContext: () => ctx('00f067aa0ba902b7'),
      parentSpanContext: ctx('b7ad6b7169203331'),
      startTime: [1795288700, 6000000],
      endTime: [1795288700, 8320917],
      status: { code: 2, message: 'oops' },
      attributes: { 'http.route': '/cart', 'http.status_code': 500, big: 2 ** 40, nested: { a: [1, 'x'] } },
      links: [{ context: ctx('1111111111111111'), attributes: { l: 1 } }],
      events: [{ name: 'exception', time: [1795288700, 7000000], attributes: { 'exception.type': 'Error' } }],
      duration: [0, 2320917],
      ended: true,
      resource,
      instrumentationScope: scope,
      droppedAttributesCount: 1,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
    // The serializers take SDK ReadableSpans; these plain objects carry what they read.
    const spans = [sdkSpan, { ...sdkSpan, spanContext: () => ctx('2222222222222222'), parentSpanContext: undefined }] as never;
    const pb = ProtobufTraceSerializer.serializeRequest(spans)!;
    const js = Buffer.from(JsonTraceSerializer.serializeRequest(spans)!).toString('utf8');
    const fromPb = decodeTracesRequest(pb);
    assert.deepStrictEqual(decodeTracesJson(js), fromPb);
    const s = allSpans(fromPb);
    assert.equal(s.length, 2);
    assert.deepStrictEqual(
      { ...s[0]!, attributes: undefined },
      {
        ...span({
          traceId,
          spanId: '00f067aa0ba902b7',
          parentSpanId: 'b7ad6b7169203331',
          name: 'GET /cart',
          kind: 2,
          flags: 0x101,
          startTimeUnixNano: '1795288700006000000',
          endTimeUnixNano: '1795288700008320917',
          droppedAttributesCount: 1,
          status: { code: 2, message: 'oops' },
          events: [{ timeUnixNano: '1795288700007000000', name: 'exception', attributes: [{ key: 'exception.type', value: { stringValue: 'Error' } }], droppedAttributesCount: 0 }],
          links: [{ traceId, spanId: '1111111111111111', traceState: '', attributes: [{ key: 'l', value: { intValue: 1 } }], droppedAttributesCount: 0, flags: 0x101 }],
        }),
        attributes: undefined,
      },
    );
    assert.deepStrictEqual(s[0]!.attributes, [
      { key: 'http.route', value: { stringValue: '/cart' } },
      { key: 'http.status_code', value: { intValue: 500 } },
      { key: 'big', value: { intValue: 2 ** 40 } },
      { key: 'nested', value: { kvlistValue: { values: [{ key: 'a', value: { arrayValue: { values: [{ intValue: 1 }, { stringValue: 'x' }] } } }] } } },
    ]);
    assert.equal(s[1]!.parentSpanId, '');
    assert.deepStrictEqual(fromPb.resourceSpans[0]!.resource.attributes, [
      { key: 'service.name', value: { stringValue: 'svc' } },
      { key: 'host.cpus', value: { intValue: 8 } },
      { key: 'ratio', value: { doubleValue: 0.25 } },
      { key: 'on', value: { boolValue: true } },
      { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
    ]);
    assert.deepStrictEqual(fromPb.resourceSpans[0]!.scopeSpans[0]!.scope, { ...emptyScope(), name: 'lib', version: '1.2.3' });
  });

  test('logs from ProtobufLogsSerializer and JsonLogsSerializer', () => {
    const record = {
      hrTime: [1795288699, 439000000],
      hrTimeObserved: [1795288699, 440000000],
      severityNumber: 9,
      severityText: 'INFO',
      body: { msg: 'hi', n: -3 },
      eventName: 'product.viewed',
      attributes: { 'event.name': 'product.viewed', sku: 'X1' },
      droppedAttributesCount: 0,
      spanContext: ctx('00f067aa0ba902b7'),
      resource,
      instrumentationScope: scope,
    };
    const records = [record, { ...record, eventName: undefined, spanContext: undefined, body: 'plain' }] as never;
    const pb = ProtobufLogsSerializer.serializeRequest(records)!;
    const js = Buffer.from(JsonLogsSerializer.serializeRequest(records)!).toString('utf8');
    const fromPb = decodeLogsRequest(pb);
    assert.deepStrictEqual(decodeLogsJson(js), fromPb);
    const [a, b] = allLogs(fromPb);
    assert.deepStrictEqual(a, {
      timeUnixNano: '1795288699439000000',
      observedTimeUnixNano: '1795288699440000000',
      severityNumber: 9,
      severityText: 'INFO',
      body: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'hi' } }, { key: 'n', value: { intValue: -3 } }] } },
      attributes: [
        { key: 'event.name', value: { stringValue: 'product.viewed' } },
        { key: 'sku', value: { stringValue: 'X1' } },
      ],
      droppedAttributesCount: 0,
      flags: 1,
      traceId,
      spanId: '00f067aa0ba902b7',
      eventName: 'product.viewed',
    });
    assert.equal(b!.eventName, '');
    assert.equal(b!.traceId, '');
    assert.deepStrictEqual(b!.body, { stringValue: 'plain' });
  });

  test('metrics from JsonMetricsSerializer convert to the ProtobufMetricsSerializer body', () => {
    const t = (s: number): [number, number] => [1795288700 + s, 5];
    const rm = {
      resource,
      scopeMetrics: [
        {
          scope,
          metrics: [
            {
              descriptor: { name: 'requests', description: 'd', unit: '1', valueType: 0 },
              dataPointType: 3, // SUM
              aggregationTemporality: 1,
              isMonotonic: true,
              dataPoints: [
                { attributes: { route: '/a' }, startTime: t(0), endTime: t(1), value: 7 },
                { attributes: {}, startTime: t(0), endTime: t(1), value: 0 },
              ],
            },
            {
              descriptor: { name: 'temp', description: '', unit: 'C', valueType: 1 },
              dataPointType: 2, // GAUGE
              aggregationTemporality: 1,
              dataPoints: [{ attributes: {}, startTime: t(0), endTime: t(1), value: -2.5 }],
            },
            {
              descriptor: { name: 'latency', description: '', unit: 'ms', valueType: 1 },
              dataPointType: 0, // HISTOGRAM
              aggregationTemporality: 0,
              dataPoints: [
                { attributes: {}, startTime: t(0), endTime: t(1), value: { count: 3, sum: 6, min: 1, max: 3, buckets: { boundaries: [1, 2], counts: [1, 1, 1] } } },
              ],
            },
            {
              descriptor: { name: 'size', description: '', unit: 'By', valueType: 1 },
              dataPointType: 1, // EXPONENTIAL_HISTOGRAM
              aggregationTemporality: 0,
              dataPoints: [
                {
                  attributes: {},
                  startTime: t(0),
                  endTime: t(1),
                  value: { count: 3, sum: 6, min: 1, max: 3, scale: -2, zeroCount: 1, positive: { offset: -3, bucketCounts: [1, 1] }, negative: { offset: 0, bucketCounts: [] } },
                },
              ],
            },
          ],
        },
      ],
    } as never;
    const pb = ProtobufMetricsSerializer.serializeRequest(rm)!;
    const js = Buffer.from(JsonMetricsSerializer.serializeRequest(rm)!).toString('utf8');
    const fromJson = decodeMetricsJson(js);
    assert.equal(fromJson.dataPointCount, 5);
    assert.equal(decodeMetricsRequest(pb).dataPointCount, 5);
    // The SDK writes the resource's dropped_attributes_count = 0 explicitly (field 2, `10 00`),
    // which proto3 encoders omit; otherwise the encodings are identical.
    const sdk = Buffer.from(pb);
    const r = protobuf.Reader.create(sdk);
    assert.equal(r.uint32(), 0x0a); // resource_metrics
    const rmLen = r.uint32();
    const rmStart = r.pos;
    assert.equal(r.uint32(), 0x0a); // resource
    const resLen = r.uint32();
    const resStart = r.pos;
    assert.equal(rmStart + rmLen, sdk.length);
    assert.deepEqual([...sdk.subarray(resStart + resLen - 2, resStart + resLen)], [0x10, 0x00]);
    const expected = protobuf.Writer.create();
    msg(expected, 1, (w) => {
      msg(w, 1, (w) => w.raw(sdk.subarray(resStart, resStart + resLen - 2)));
      w.raw(sdk.subarray(resStart + resLen, rmStart + rmLen));
    });
    assert.deepEqual(Buffer.from(fromJson.body), Buffer.from(expected.finish()));
  });
});
