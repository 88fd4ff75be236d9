/**
 * Property-based fuzzing (fast-check) of the OTLP decoders and of the OTLP/HTTP and OTLP/gRPC
 * receivers with hostile input: random and mutated bodies, truncated messages, wrong wire types,
 * huge lengths, deep nesting, invalid UTF-8, enormous attribute values, keys and names, gzip
 * bombs, slow bodies, over-long request lines and headers, and gRPC messages with any
 * Compressed-Flag and encoding. Every input is either decoded into data that encodes back to
 * itself, or refused with an OtlpDecodeError / a 4xx / the gRPC status the spec gives it; nothing
 * crashes or resets a connection, and memory stays bounded. Run counts are kept small so this
 * takes seconds.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { pino } from 'pino';
import type { Payload, ReceiverConsumers } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { emptySpan } from '../../src/pdata.js';
import { OtlpDecodeError } from '../../src/errors.js';
import { decodeLogsJson, decodeMetricsJson, decodeTracesJson, encodeLogsJson, encodeTracesJson } from '../../src/otlp/json.js';
import { decodeLogsRequest, decodeMetricsRequest, decodeTracesRequest, encodeLogsRequest, encodeTracesRequest } from '../../src/otlp/proto.js';
import { Telemetry } from '../../src/telemetry.js';
import { grpcSchema, httpSchema, limitsSchema } from '../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../receivers/otlp/grpc.js';
import { decodeRequest, ExportHandler } from '../../receivers/otlp/handler.js';
import { OtlpHttpServer } from '../../receivers/otlp/http.js';
import { fixtureBodyPlain, fixtureManifest, gcFunction, grpcRawCall, sendRaw } from '../helpers.js';
import { mutate, mutation, varint } from './mutate.js';

const SEED = Number(process.env.OTELYTICS_FUZZ_SEED ?? 20240611);
const runs = (n: number) => ({ numRuns: n, seed: SEED });

const manifest = fixtureManifest();
const protoFixtures = manifest.filter((f) => f.path.endsWith('.pb')).map((f) => ({ signal: f.signal, body: fixtureBodyPlain(f) }));
const jsonFixtures = manifest.filter((f) => f.path.endsWith('.json')).map((f) => ({ signal: f.signal, text: fixtureBodyPlain(f).toString('utf8') }));

/** Runs `f`; passes when it returns or throws an OtlpDecodeError, fails on any other exception. */
function decodesOrRefuses<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof OtlpDecodeError) return undefined;
    throw new Error(`decoder threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  }
}

const protoDecoders = [decodeTracesRequest, decodeLogsRequest, decodeMetricsRequest];



/** A KeyValue nested `depth` times through kvlist values: resource_logs{scope_logs{log_records{attributes}}}. */
function deeplyNestedLogs(depth: number): Uint8Array {
  // AnyValue{kvlist_value=6: KeyValueList{values=1: KeyValue{key=1, value=2: AnyValue}}}
  let value = Buffer.from([0x0a, 0x01, 0x78]); // AnyValue{string_value="x"}
  for (let i = 0; i < depth; i++) {
    const kv = Buffer.concat([Buffer.from([0x0a, 0x01, 0x6b, 0x12, ...varint(value.length)]), value]);
    const list = Buffer.concat([Buffer.from([0x0a, ...varint(kv.length)]), kv]);
    value = Buffer.concat([Buffer.from([0x32, ...varint(list.length)]), list]);
  }
  const attr = Buffer.concat([Buffer.from([0x0a, 0x01, 0x61, 0x12, ...varint(value.length)]), value]);
  const record = Buffer.concat([Buffer.from([0x32, ...varint(attr.length)]), attr]); // LogRecord.attributes = 6
  const scope = Buffer.concat([Buffer.from([0x12, ...varint(record.length)]), record]); // ScopeLogs.log_records = 2
  const resource = Buffer.concat([Buffer.from([0x12, ...varint(scope.length)]), scope]); // ResourceLogs.scope_logs = 2
  return Buffer.concat([Buffer.from([0x0a, ...varint(resource.length)]), resource]);
}

describe('fuzz: OTLP protobuf decoders', () => {
  it('refuse random bytes with an OtlpDecodeError or decode them, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const d of protoDecoders) decodesOrRefuses(() => d(bytes));
      }),
      runs(400),
    );
  });

  it('decode mutated SDK messages into data that encodes back to the same data, or refuse them', () => {
    fc.assert(
      fc.property(fc.nat({ max: protoFixtures.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, ms) => {
        const f = protoFixtures[i]!;
        const body = mutate(f.body, ms);
        if (f.signal === 'traces') {
          const data = decodesOrRefuses(() => decodeTracesRequest(body));
          if (data) assert.deepEqual(decodeTracesRequest(encodeTracesRequest(data)), data);
        } else {
          const data = decodesOrRefuses(() => decodeLogsRequest(body));
          if (data) assert.deepEqual(decodeLogsRequest(encodeLogsRequest(data)), data);
        }
      }),
      runs(300),
    );
  });

  it('refuse huge declared lengths, wrong wire types and deep nesting', () => {
    const hugeLength = Buffer.from([0x0a, ...varint(2 ** 31), 0x00]); // resource_spans, 2 GiB declared, 1 byte present
    const hugeVarint = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const wrongWire = Buffer.from([0x08, 0x01]); // resource_spans as a varint
    const groups = Buffer.from([0x0b, 0x0c]); // deprecated group wire types
    for (const body of [hugeLength, hugeVarint, wrongWire, groups]) {
      for (const d of protoDecoders) assert.throws(() => d(body), OtlpDecodeError, body.toString('hex'));
    }
    assert.throws(() => decodeLogsRequest(deeplyNestedLogs(5000)), /nested deeper than/);
    assert.equal(decodesOrRefuses(() => decodeLogsRequest(deeplyNestedLogs(8))) !== undefined, true, 'moderate nesting is fine');
  });

  it('refuse invalid UTF-8 in strings, naming the field, and take any bytes in bytes fields', () => {
    const logs = (value: number[]) => {
      const attr = Buffer.from([0x0a, 0x01, 0x61, ...value]); // key "a", then the value
      const record = Buffer.concat([Buffer.from([0x32, attr.length]), attr]);
      const scope = Buffer.concat([Buffer.from([0x12, record.length]), record]);
      return Buffer.concat([Buffer.from([0x0a, scope.length + 2, 0x12, scope.length]), scope]);
    };
    assert.throws(() => decodeLogsRequest(logs([0x12, 0x04, 0x0a, 0x02, 0xc3, 0x28])), /resource_logs\[0\]\.scope_logs\[0\]\.log_records\[0\]\.attributes\[0\]\.value\.string_value: invalid UTF-8$/);
    const data = decodeLogsRequest(logs([0x12, 0x04, 0x3a, 0x02, 0xc3, 0x28])); // the same bytes as bytes_value
    assert.equal(itemCount({ signal: 'logs', data }), 1);
    // Mutated SDK requests: whatever decodes holds no character that was not sent.
    fc.assert(
      fc.property(fc.nat({ max: protoFixtures.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, ms) => {
        const f = protoFixtures[i]!;
        const body = mutate(f.body, ms);
        const decoded = decodesOrRefuses(() => (f.signal === 'traces' ? decodeTracesRequest(body) : decodeLogsRequest(body)));
        if (decoded && JSON.stringify(decoded).includes('\uFFFD')) assert.ok(body.includes(Buffer.from('\uFFFD')), 'U+FFFD only where it was sent');
      }),
      runs(300),
    );
  });
});

describe('fuzz: OTLP/JSON decoders', () => {
  const jsonDecoders = [decodeTracesJson, decodeLogsJson, decodeMetricsJson];

  it('refuse arbitrary JSON documents with an OtlpDecodeError or decode them', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        for (const d of jsonDecoders) decodesOrRefuses(() => d(text));
      }),
      runs(300),
    );
  });

  it('refuse OTLP-shaped documents with random values in random places, or decode them faithfully', () => {
    const anything = fc.anything({ maxDepth: 3, withBigInt: false, withDate: false, withMap: false, withSet: false, withTypedArray: false, withSparseArray: false });
    fc.assert(
      fc.property(fc.nat({ max: jsonFixtures.length - 1 }), fc.array(fc.tuple(fc.nat(), anything), { minLength: 1, maxLength: 3 }), (i, changes) => {
        const f = jsonFixtures[i]!;
        const doc = JSON.parse(f.text) as unknown;
        // Replace values at random paths of the real document.
        for (const [pick, value] of changes) {
          const paths: { parent: Record<string, unknown>; key: string }[] = [];
          const walk = (o: unknown) => {
            if (typeof o !== 'object' || o === null) return;
            for (const k of Object.keys(o)) {
              paths.push({ parent: o as Record<string, unknown>, key: k });
              walk((o as Record<string, unknown>)[k]);
            }
          };
          walk(doc);
          const p = paths[pick % paths.length]!;
          p.parent[p.key] = value;
        }
        const text = JSON.stringify(doc) ?? 'null';
        if (f.signal === 'traces') {
          const data = decodesOrRefuses(() => decodeTracesJson(text));
          if (data) assert.deepEqual(decodeTracesJson(encodeTracesJson(data)), data);
        } else {
          const data = decodesOrRefuses(() => decodeLogsJson(text));
          if (data) assert.deepEqual(decodeLogsJson(encodeLogsJson(data)), data);
        }
      }),
      runs(300),
    );
  });

  it('refuse truncated and character-mutated documents, deep nesting and invalid UTF-8', () => {
    fc.assert(
      fc.property(fc.nat({ max: jsonFixtures.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (i, ms) => {
        const f = jsonFixtures[i]!;
        const body = mutate(Buffer.from(f.text), ms); // may break UTF-8 sequences too
        const decoded = decodesOrRefuses(() => decodeRequest(f.signal, body, 'json'));
        if (!isUtf8(body)) assert.equal(decoded, undefined, 'a body that is not UTF-8 is refused');
      }),
      runs(200),
    );
    const deep = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"a","value":${'{"arrayValue":{"values":['.repeat(20000)}${']}}'.repeat(20000)}}]}]}]}]}`;
    assert.throws(() => decodeLogsJson(deep), OtlpDecodeError);
    const brackets = '['.repeat(200_000) + ']'.repeat(200_000);
    assert.throws(() => decodeTracesJson(brackets), OtlpDecodeError);
  });
});

function heapInUse(gc: () => void): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

describe('fuzz: OTLP/HTTP receiver', () => {
  const received: Payload[] = [];
  const consume = async (p: Payload) => void received.push(p);
  const consumers: ReceiverConsumers = { traces: { consume }, logs: { consume } };
  const logger = pino({ level: 'silent' });
  const limits = limitsSchema.parse({ attribute_count_limit: 128, attribute_value_length_limit: 4096 });
  const handler = new ExportHandler('otlp', consumers, new Telemetry(), logger, limits);
  const MAX_BODY = 2 * 1024 * 1024;
  const server = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', max_request_body_size: MAX_BODY, read_timeout: '500ms' }), handler, logger);
  let base = '';
  const gc = gcFunction();

  before(async () => {
    await server.start();
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.shutdown());

  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((b) => ({ kind: 'random', body: Buffer.from(b) })),
    fc.tuple(fc.nat({ max: protoFixtures.length - 1 }), fc.array(mutation, { maxLength: 3 })).map(([i, ms]) => ({ kind: 'proto', signal: protoFixtures[i]!.signal, body: Buffer.from(mutate(protoFixtures[i]!.body, ms)) })),
    fc.tuple(fc.nat({ max: jsonFixtures.length - 1 }), fc.array(mutation, { maxLength: 3 })).map(([i, ms]) => ({ kind: 'json', signal: jsonFixtures[i]!.signal, body: Buffer.from(mutate(Buffer.from(jsonFixtures[i]!.text), ms)) })),
    fc.json({ maxDepth: 5 }).map((t) => ({ kind: 'random-json', body: Buffer.from(t) })),
  );
  const request = fc.record({
    path: fc.constantFrom('/v1/traces', '/v1/logs', '/v1/metrics', '/v1/nope'),
    contentType: fc.constantFrom('application/x-protobuf', 'application/json', 'application/json; charset=utf-8', 'text/plain', ''),
    encoding: fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'gzip-lie'),
    body: bodies,
  });

  it('answers every random or mutated request with 200 or a 4xx, and what it takes is what was sent', async () => {
    const before = heapInUse(gc);
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        let body: Buffer = r.body.body;
        if (r.encoding === 'gzip') body = zlib.gzipSync(body);
        else if (r.encoding === 'deflate') body = zlib.deflateSync(body);
        if (r.encoding !== 'identity') headers['content-encoding'] = r.encoding === 'gzip-lie' ? 'gzip' : r.encoding;
        const n = received.length;
        const res = await fetch(base + r.path, { method: 'POST', headers, body });
        const text = await res.text();
        assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `${res.status} ${text.slice(0, 200)}`);
        if (res.status === 200 && received.length > n) {
          // Accepted correctly: the pipeline got what the body decodes to (minus records over the limits).
          const signal = r.path === '/v1/traces' ? 'traces' : 'logs';
          const plain = r.body.body;
          const expected = decodeRequest(signal, plain, (r.contentType.startsWith('application/json') ? 'json' : 'proto'));
          assert.ok(itemCount(received.at(-1)!) <= itemCount(expected));
          assert.equal(received.at(-1)!.signal, signal);
        }
      }),
      runs(150),
    );
    const grown = heapInUse(gc) - before;
    received.length = 0;
    assert.ok(grown < 64 * 1024 * 1024, `memory grew by ${Math.round(grown / 1024 / 1024)} MiB`);
  });

  it('stops inflating a gzip bomb at the body limit (413) and keeps memory bounded', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }); // 256 MiB of zeros, ~250 KiB on the wire
    const before = heapInUse(gc);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(base + '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: bomb });
      await res.arrayBuffer();
      assert.equal(res.status, 413);
    }
    const grown = heapInUse(gc) - before;
    assert.ok(grown < 32 * 1024 * 1024, `memory grew by ${Math.round(grown / 1024 / 1024)} MiB`);
  });

  it('rejects enormous attribute values, keys and names (over the limit: 400 or partial success; over the body limit: 413)', async () => {
    const record = (len: number, key = 'big', eventName = 'e') => ({ timeUnixNano: '1', eventName, attributes: [{ key, value: { stringValue: 'x'.repeat(len) } }] });
    const doc = (len: number) => JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [record(len)] }] }] });
    const over = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: doc(100_000) });
    assert.equal(over.status, 400);
    assert.match(await over.text(), /attribute_value_length_limit 4096/);
    const names = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [record(1, 'k'.repeat(512 * 1024)), record(1, 'ok', 'e'.repeat(512 * 1024)), record(1)] }] }] });
    const some = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: names });
    assert.equal(some.status, 200);
    assert.match(((await some.json()) as { partialSuccess: { errorMessage: string } }).partialSuccess.errorMessage, /^2 of 3 log records rejected: .*has a key of 524288 characters, over attribute_key_length_limit 256$/);
    const spanName = encodeTracesRequest({ resourceSpans: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [{ scope: { name: 's'.repeat(512 * 1024), version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans: [{ ...emptySpan(), name: 'n'.repeat(512 * 1024) }] }] }] });
    const scoped = await fetch(base + '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: spanName });
    assert.equal(scoped.status, 400);
    assert.match(await scoped.text(), /1 of 1 spans rejected: scope: name has 524288 characters, over name_length_limit 4096/);
    const huge = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: doc(MAX_BODY + 1) });
    await huge.arrayBuffer();
    assert.equal(huge.status, 413);
  });

  it('answers over-long request lines and headers, and broken request heads, with 414, 431 or 400, never a reset', async () => {
    const head = fc.oneof(
      fc.integer({ min: 17 * 1024, max: 96 * 1024 }).map((n) => ({ expect: /^41[14]$/, text: `POST /v1/logs?${'q'.repeat(n)} HTTP/1.1\r\nHost: x\r\n\r\n` })),
      fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 200, max: 4000 })).filter(([n, size]) => n * size > 17 * 1024).map(([n, size]) => ({ expect: /^431$/, text: `POST /v1/logs HTTP/1.1\r\nHost: x\r\n${`x-h: ${'h'.repeat(size)}\r\n`.repeat(n)}\r\n` })),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }).map((garbage) => ({ expect: /^400$/, text: `@${garbage}\r\n\r\n` })),
    );
    await fc.assert(
      fc.asyncProperty(head, fc.integer({ min: 0, max: 20 }), async (h, more) => {
        const r = await sendRaw(server.port, h.text, 'z'.repeat(512), more);
        assert.equal(r.error, undefined, `reset: ${r.response.slice(0, 60)}`);
        assert.match(r.response.slice(9, 12), h.expect, r.response.slice(0, 80));
      }),
      runs(30),
    );
  });

  it('answers 408 to bodies sent slower than read_timeout, in random chunk sizes and pauses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ size: fc.integer({ min: 1, max: 64 }), pauseMillis: fc.integer({ min: 50, max: 200 }) }), { minLength: 6, maxLength: 8 }), async (chunks) => {
        const total = chunks.reduce((s, c) => s + c.size, 0) + 10;
        const status = await new Promise<string>((resolve) => {
          const sock = net.connect(server.port, '127.0.0.1');
          let text = '';
          let stopped = false;
          sock.on('data', (d) => (text += d.toString()));
          sock.on('error', () => undefined);
          sock.on('close', () => ((stopped = true), resolve(text.slice(0, 12))));
          sock.write(`POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`);
          (async () => {
            for (const c of chunks) {
              await new Promise((r) => setTimeout(r, c.pauseMillis));
              if (stopped) return;
              sock.write('x'.repeat(c.size));
            }
          })();
        });
        assert.equal(status, 'HTTP/1.1 408');
      }),
      runs(3),
    );
  });
});

describe('fuzz: OTLP/gRPC receiver, messages made by hand', () => {
  const received: Payload[] = [];
  const consumers: ReceiverConsumers = { logs: { consume: async (p: Payload) => void received.push(p) } };
  const handler = new ExportHandler('otlp', consumers, new Telemetry(), pino({ level: 'silent' }), limitsSchema.parse({}));
  const server = new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1 }), handler);
  let session: http2.ClientHttp2Session;
  const logs = protoFixtures.filter((f) => f.signal === 'logs').map((f) => f.body);

  before(async () => {
    await server.start();
    session = http2.connect(`http://127.0.0.1:${server.port}`);
  });
  after(async () => {
    session.close();
    await server.shutdown();
  });

  it('answers every Compressed-Flag, grpc-encoding and body with the status the gRPC spec gives it, and takes only what decodes', async () => {
    const body = fc.oneof(
      fc.nat({ max: logs.length - 1 }).map((i) => ({ kind: 'plain', bytes: logs[i]! })),
      fc.nat({ max: logs.length - 1 }).map((i) => ({ kind: 'gzip', bytes: zlib.gzipSync(logs[i]!) })),
      fc.nat({ max: logs.length - 1 }).map((i) => ({ kind: 'deflate', bytes: zlib.deflateSync(logs[i]!) })),
      fc.tuple(fc.nat({ max: logs.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 2 })).map(([i, ms]) => ({ kind: 'mutated gzip', bytes: mutate(zlib.gzipSync(logs[i]!), ms) })),
      fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'random', bytes: Buffer.from(b) })),
    );
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 0, 1, 1, 2, 255), fc.constantFrom(undefined, 'identity', 'gzip', 'deflate', 'snappy'), body, async (flag, encoding, b) => {
        const n = received.length;
        const r = await grpcRawCall(session, '/opentelemetry.proto.collector.logs.v1.LogsService/Export', flag, b.bytes, encoding ? { 'grpc-encoding': encoding } : {});
        statuses.add(r.status);
        const what = `flag ${flag}, ${encoding ?? 'no'} encoding, ${b.kind} body: ${r.status} ${r.message}`;
        if (flag > 1 || (flag === 1 && (encoding === undefined || encoding === 'identity'))) assert.equal(r.status, grpc.status.INTERNAL, what);
        else if (flag === 1 && encoding === 'snappy') assert.equal(r.status, grpc.status.UNIMPLEMENTED, what);
        else assert.ok([grpc.status.OK, grpc.status.INVALID_ARGUMENT].includes(r.status), what);
        if (r.status === grpc.status.OK) {
          // Taken only when the bytes, decompressed as the flag says, are the request.
          const plain = flag === 1 ? (encoding === 'gzip' ? zlib.gunzipSync(b.bytes) : zlib.inflateSync(b.bytes)) : b.bytes;
          const expected = itemCount({ signal: 'logs', data: decodeLogsRequest(plain) });
          assert.equal(received.length - n, expected > 0 ? 1 : 0, what);
        } else assert.equal(received.length, n, what);
      }),
      runs(150),
    );
    assert.ok(statuses.has(grpc.status.OK) && statuses.has(grpc.status.INVALID_ARGUMENT) && statuses.has(grpc.status.INTERNAL), [...statuses].join(','));
  });
});
