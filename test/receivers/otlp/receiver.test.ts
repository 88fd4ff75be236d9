/** The otlp receiver's HTTP and gRPC contract, with the pipelines replaced by recording consumers. */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { PassThrough } from 'node:stream';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import { pino } from 'pino';
import type { Payload, ReceiverConsumers } from '../../../src/component.js';
import { itemCount } from '../../../src/component.js';
import { PermanentError, RetryableError } from '../../../src/errors.js';
import { Telemetry } from '../../../src/telemetry.js';
import { grpcSchema, httpSchema } from '../../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../../receivers/otlp/grpc.js';
import { ExportHandler } from '../../../receivers/otlp/handler.js';
import { OtlpHttpServer, readBody } from '../../../receivers/otlp/http.js';
import { decodeTracesRequest } from '../../../src/otlp/proto.js';
import { fixtureBodyPlain, fixtureManifest, grpcRawCall, readFixture } from '../../helpers.js';
import { withBytes } from '../../otlp/string_fields.js';

type Mode = 'ok' | 'retryable' | 'permanent';

class Recorder {
  received: Payload[] = [];
  mode: Mode = 'ok';
  consumers(): ReceiverConsumers {
    const consume = async (p: Payload) => {
      if (this.mode === 'retryable') throw new RetryableError('queue is full', 7000);
      if (this.mode === 'permanent') throw new PermanentError('bad data');
      this.received.push(p);
    };
    return { traces: { consume }, logs: { consume } };
  }
  items(): number {
    return this.received.reduce((n, p) => n + itemCount(p), 0);
  }
}

const logger = pino({ level: 'silent' });

/** Decodes a google.rpc.Status {code=1, message=2}. */
function decodeStatus(buf: Uint8Array): { code: number; message: string } {
  const r = protobuf.Reader.create(buf);
  const out = { code: 0, message: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) out.code = r.int32();
    else if (tag >>> 3 === 2) out.message = r.string();
    else r.skipType(tag & 7);
  }
  return out;
}

describe('otlp receiver over HTTP', () => {
  const rec = new Recorder();
  const telemetry = new Telemetry();
  const handler = new ExportHandler('otlp', rec.consumers(), telemetry, logger);
  const server = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', max_request_body_size: 1024 * 1024, cors: { allowed_origins: ['https://*.shop.example'] } }), handler, logger);
  let base = '';
  const post = (path: string, body: Uint8Array | string, headers: Record<string, string>) => fetch(base + path, { method: 'POST', headers, body });

  before(async () => {
    await server.start();
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.shutdown());

  it('accepts every fixture body in its encoding and answers in kind', async () => {
    for (const f of fixtureManifest()) {
      const before = rec.items();
      const headers: Record<string, string> = { 'content-type': f.contentType };
      if (f.contentEncoding !== 'identity') headers['content-encoding'] = f.contentEncoding;
      const r = await post(f.otlpPath, readFixture(f.path), headers);
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(r.status, 200, f.path);
      assert.equal(r.headers.get('content-type')?.split(';')[0], f.contentType);
      if (f.contentType === 'application/json') assert.deepEqual(JSON.parse(body.toString()), {});
      else assert.equal(body.length, 0, 'an empty Export*ServiceResponse');
      assert.equal(rec.items() - before, f.spanCount ?? f.logCount);
    }
  });

  it('accepts a deflate body', async () => {
    const f = fixtureManifest().find((x) => x.path === 'logs-shop-01.pb')!;
    const r = await post('/v1/logs', zlib.deflateSync(fixtureBodyPlain(f)), { 'content-type': 'application/x-protobuf', 'content-encoding': 'deflate' });
    assert.equal(r.status, 200);
  });

  it('answers 400 with a google.rpc.Status naming what is wrong', async () => {
    const trunc = await post('/v1/traces', readFixture('traces-shop-01.pb').subarray(0, 100), { 'content-type': 'application/x-protobuf' });
    assert.equal(trunc.status, 400);
    const status = decodeStatus(new Uint8Array(await trunc.arrayBuffer()));
    assert.equal(status.code, 3);
    assert.match(status.message, /cannot decode protobuf traces request: resource_spans/);
    const json = await post('/v1/logs', '{"resourceLogs": [ {', { 'content-type': 'application/json' });
    assert.equal(json.status, 400);
    assert.match(((await json.json()) as { message: string }).message, /cannot decode JSON logs request/);
    const types = await post('/v1/logs', '{"resourceLogs": {"a": 1}}', { 'content-type': 'application/json' });
    assert.equal(types.status, 400);
    assert.match(((await types.json()) as { message: string }).message, /resourceLogs/);
    const badGzip = await post('/v1/traces', 'not gzip at all', { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    assert.equal(badGzip.status, 400);
    assert.match(decodeStatus(new Uint8Array(await badGzip.arrayBuffer())).message, /cannot decompress/);
  });

  it('answers 400 naming the field for invalid UTF-8 in a string, whether traces are decoded or scanned and kept as bytes', async () => {
    const bad = withBytes(readFixture('traces-shop-01.pb'), 'shop-web', [0x73, 0x68, 0x6f, 0x70, 0x2d, 0xc3, 0x28, 0x62]);
    let expected = '';
    assert.throws(() => decodeTracesRequest(bad), (err: Error) => ((expected = err.message), /invalid UTF-8$/.test(err.message)));
    assert.match(expected, /^resource_spans\[0\]\.resource\.attributes\[\d+\]\.value\.string_value: invalid UTF-8$/);
    const kept: Payload[] = [];
    const scanning = new ExportHandler('otlp', { traces: { consume: async (p: Payload) => void kept.push(p), takesEncodedTraces: true } }, new Telemetry(), logger);
    const passThrough = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0' }), scanning, logger);
    await passThrough.start();
    try {
      for (const url of [`${base}/v1/traces`, `http://127.0.0.1:${passThrough.port}/v1/traces`]) {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: bad });
        assert.equal(r.status, 400, url);
        assert.deepEqual(decodeStatus(new Uint8Array(await r.arrayBuffer())), { code: 3, message: `cannot decode protobuf traces request: ${expected}` });
      }
      const good = await fetch(`http://127.0.0.1:${passThrough.port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: readFixture('traces-shop-01.pb') });
      assert.equal(good.status, 200);
      assert.equal(kept.length, 1, 'valid traces are still kept as bytes');
    } finally {
      await passThrough.shutdown();
    }
  });

  it('answers 400 naming the field for a JSON body that is not UTF-8, gzip-compressed too', async () => {
    const text = readFixture('logs-shop-01.json');
    const bad = withBytes(text, 'shop-web', [0x73, 0x68, 0x6f, 0x70, 0x2d, 0xc3, 0x28, 0x62]);
    for (const [body, headers] of [
      [bad, { 'content-type': 'application/json' }],
      [zlib.gzipSync(bad), { 'content-type': 'application/json', 'content-encoding': 'gzip' }],
    ] as const) {
      const r = await post('/v1/logs', body, headers);
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { message: string }).message, /^cannot decode JSON logs request: resourceLogs\[0\]\.resource\.attributes\[\d+\]\.value\.stringValue: invalid UTF-8$/);
    }
  });

  it('keeps a keep-alive connection usable after a body it could not decompress', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: Buffer, encoding: string) =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = http.request(`${base}/v1/traces`, { method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-encoding': encoding } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      // The bad part comes first, so the rest of the body is still to be read when the answer goes.
      assert.equal((await send(Buffer.concat([Buffer.from('not gzip at all'), Buffer.alloc(256 * 1024)]), 'gzip')).status, 400);
      const next = await send(zlib.gzipSync(readFixture('traces-shop-02.pb')), 'gzip');
      assert.deepEqual(next, { status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it('treats an empty protobuf body as an empty request, an empty JSON body as invalid', async () => {
    assert.equal((await post('/v1/traces', new Uint8Array(0), { 'content-type': 'application/x-protobuf' })).status, 200);
    assert.equal((await post('/v1/traces', '', { 'content-type': 'application/json' })).status, 400);
  });

  it('answers 413 over the limit, also for a gzip bomb, without inflating past it', async () => {
    const big = await post('/v1/traces', new Uint8Array(2 * 1024 * 1024), { 'content-type': 'application/x-protobuf' });
    assert.equal(big.status, 413);
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const r = await post('/v1/traces', bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    assert.equal(r.status, 413);
    assert.match(decodeStatus(new Uint8Array(await r.arrayBuffer())).message, /exceeds the limit of 1048576 bytes after decompression/);
  });

  it('answers 415 for other content types, 405 for other methods, 404 elsewhere', async () => {
    const r = await post('/v1/traces', 'hello', { 'content-type': 'text/plain' });
    assert.equal(r.status, 415);
    assert.match(((await r.json()) as { message: string }).message, /unsupported Content-Type "text\/plain"/);
    const get = await fetch(base + '/v1/traces');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal((await post('/v2/nothing', 'x', { 'content-type': 'application/json' })).status, 404);
    assert.equal((await post('/v1/metrics', 'x', { 'content-type': 'application/json' })).status, 404, 'no metrics pipeline here');
  });

  it('answers 503 with Retry-After when the pipeline refuses for now, 400 when it refuses for good', async () => {
    const body = readFixture('logs-shop-01.pb');
    rec.mode = 'retryable';
    const r = await post('/v1/logs', body, { 'content-type': 'application/x-protobuf' });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '7');
    assert.equal(decodeStatus(new Uint8Array(await r.arrayBuffer())).code, 14);
    rec.mode = 'permanent';
    assert.equal((await post('/v1/logs', body, { 'content-type': 'application/x-protobuf' })).status, 400);
    rec.mode = 'ok';
    const metrics = await telemetry.registry.metrics();
    const records = fixtureManifest().find((f) => f.path === 'logs-shop-01.pb')!.logCount!;
    assert.match(metrics, new RegExp(`otelcol_receiver_refused_log_records\\{receiver="otlp",transport="http"\\} ${2 * records}\n`));
    assert.match(metrics, /otelcol_receiver_accepted_spans\{receiver="otlp",transport="http"\} \d+/);
  });

  it('answers CORS preflights for allowed origins only', async () => {
    const ok = await fetch(base + '/v1/traces', { method: 'OPTIONS', headers: { origin: 'https://www.shop.example', 'access-control-request-method': 'POST' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://www.shop.example');
    const no = await fetch(base + '/v1/traces', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(no.headers.get('access-control-allow-origin'), null);
  });
});

describe('otlp receiver over gRPC', () => {
  const rec = new Recorder();
  const handler = new ExportHandler('otlp', rec.consumers(), new Telemetry(), logger);
  const server = new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1 }), handler);
  let client: grpc.Client & { Export: (b: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void };

  before(async () => {
    await server.start();
    const id = (b: Buffer) => b;
    const Client = grpc.makeGenericClientConstructor(
      { Export: { path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
      'Logs',
    );
    client = new Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { "grpc.default_compression_algorithm": 2 }) as unknown as typeof client;
  });
  after(async () => {
    client.close();
    await server.shutdown();
  });

  const call = (b: Buffer) => new Promise<{ err: grpc.ServiceError | null; res?: Buffer }>((resolve) => client.Export(b, (err, res) => resolve({ err, res })));

  it('accepts gzip-compressed export calls', async () => {
    const { err, res } = await call(readFixture('logs-shop-02.pb'));
    assert.equal(err, null);
    assert.equal(res!.length, 0);
    assert.equal(rec.items(), fixtureManifest().find((f) => f.path === 'logs-shop-02.pb')!.logCount);
  });

  it('answers INVALID_ARGUMENT for undecodable data', async () => {
    const { err } = await call(readFixture('logs-shop-02.pb').subarray(0, 50));
    assert.equal(err!.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err!.details, /cannot decode protobuf logs request/);
  });

  it('answers INVALID_ARGUMENT naming the field for invalid UTF-8 in a string', async () => {
    const bad = withBytes(readFixture('logs-shop-02.pb'), 'shop-web', [0x73, 0x68, 0x6f, 0x70, 0x2d, 0xed, 0xa0, 0x80]);
    const { err } = await call(bad);
    assert.equal(err!.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err!.details, /^cannot decode protobuf logs request: resource_logs\[0\]\.resource\.attributes\[\d+\]\.value\.string_value: invalid UTF-8$/);
  });

  it('answers RESOURCE_EXHAUSTED for a message over the size limit', async () => {
    const { err } = await call(Buffer.alloc(2 * 1024 * 1024));
    assert.equal(err!.code, grpc.status.RESOURCE_EXHAUSTED);
  });

  it('answers UNAVAILABLE with a RetryInfo detail under back-pressure', async () => {
    rec.mode = 'retryable';
    const { err } = await call(readFixture('logs-shop-01.pb'));
    rec.mode = 'ok';
    assert.equal(err!.code, grpc.status.UNAVAILABLE);
    const bin = err!.metadata.get('grpc-status-details-bin')[0] as Buffer;
    // google.rpc.Status.details[0] is an Any whose type_url names RetryInfo; its Duration holds 7 s.
    const text = bin.toString('latin1');
    assert.ok(text.includes('type.googleapis.com/google.rpc.RetryInfo'));
    const r = protobuf.Reader.create(bin);
    let seconds = -1;
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 !== 3) { r.skipType(tag & 7); continue; }
      const any = protobuf.Reader.create(r.bytes());
      while (any.pos < any.len) {
        const t = any.uint32();
        if (t >>> 3 !== 2) { any.skipType(t & 7); continue; }
        const info = protobuf.Reader.create(any.bytes());
        info.uint32();
        const dur = protobuf.Reader.create(info.bytes());
        dur.uint32();
        seconds = Number(dur.int64());
      }
    }
    assert.equal(seconds, 7);
  });
});

describe('otlp receiver over gRPC: the message prefix, sent by hand over HTTP/2', () => {
  const rec = new Recorder();
  const handler = new ExportHandler('otlp', rec.consumers(), new Telemetry(), logger);
  const server = new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1 }), handler);
  let session: http2.ClientHttp2Session;
  const logs = fixtureBodyPlain(fixtureManifest().find((f) => f.path === 'logs-shop-01.pb')!);

  before(async () => {
    await server.start();
    session = http2.connect(`http://127.0.0.1:${server.port}`);
  });
  after(async () => {
    session.close();
    await server.shutdown();
  });

  const rawCall = (flag: number, body: Buffer, headers: http2.OutgoingHttpHeaders = {}) => grpcRawCall(session, '/opentelemetry.proto.collector.logs.v1.LogsService/Export', flag, body, headers);

  it('takes a message whose Compressed-Flag matches its grpc-encoding', async () => {
    const before = rec.items();
    assert.deepEqual(await rawCall(0, logs), { status: grpc.status.OK, message: 'OK' });
    assert.deepEqual(await rawCall(0, logs, { 'grpc-encoding': 'gzip' }), { status: grpc.status.OK, message: 'OK' }, 'a message left uncompressed in a gzip call');
    assert.deepEqual(await rawCall(1, zlib.gzipSync(logs), { 'grpc-encoding': 'gzip' }), { status: grpc.status.OK, message: 'OK' });
    assert.deepEqual(await rawCall(1, zlib.deflateSync(logs), { 'grpc-encoding': 'deflate' }), { status: grpc.status.OK, message: 'OK' });
    assert.equal(rec.items() - before, 4 * fixtureManifest().find((f) => f.path === 'logs-shop-01.pb')!.logCount!);
  });

  it('answers INVALID_ARGUMENT with zlib\'s reason for a message that does not decompress', async () => {
    const before = rec.items();
    const bad = await rawCall(1, Buffer.from('not gzip at all'), { 'grpc-encoding': 'gzip' });
    assert.equal(bad.status, grpc.status.INVALID_ARGUMENT);
    assert.equal(bad.message, 'cannot decompress the gzip message: incorrect header check');
    const cut = await rawCall(1, zlib.deflateSync(logs).subarray(0, 40), { 'grpc-encoding': 'deflate' });
    assert.equal(cut.status, grpc.status.INVALID_ARGUMENT);
    assert.equal(cut.message, 'cannot decompress the deflate message: unexpected end of file');
    assert.equal(rec.items(), before);
  });

  it('answers INTERNAL for a Compressed-Flag of 1 without a grpc-encoding, or a flag other than 0 and 1', async () => {
    const before = rec.items();
    for (const headers of [{}, { 'grpc-encoding': 'identity' }]) {
      const r = await rawCall(1, logs, headers);
      assert.equal(r.status, grpc.status.INTERNAL, JSON.stringify(headers));
      assert.equal(r.message, 'message has Compressed-Flag 1 but the call has no grpc-encoding (or identity): a compressed message needs its encoding');
    }
    assert.deepEqual(await rawCall(2, logs), { status: grpc.status.INTERNAL, message: 'invalid Compressed-Flag 2 in the message prefix (0 or 1)' });
    assert.equal(rec.items(), before, 'nothing was taken');
  });

  it('answers RESOURCE_EXHAUSTED for a message that decompresses past the limit, UNIMPLEMENTED for an unknown encoding', async () => {
    const bomb = await rawCall(1, zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024)), { 'grpc-encoding': 'gzip' });
    assert.deepEqual(bomb, { status: grpc.status.RESOURCE_EXHAUSTED, message: 'message decompresses to more than 1048576 bytes (max_recv_msg_size_mib)' });
    const snappy = await rawCall(1, logs, { 'grpc-encoding': 'snappy' });
    assert.equal(snappy.status, grpc.status.UNIMPLEMENTED);
  });
});

describe('readBody', () => {
  /** A request-like stream that sends `body` in chunks of `size` bytes, one per turn of the event loop. */
  const trickle = (body: Buffer, size: number, end = true): PassThrough => {
    const s = new PassThrough();
    void (async () => {
      for (let i = 0; i < body.length; i += size) {
        s.write(body.subarray(i, i + size));
        await new Promise((r) => setImmediate(r));
      }
      if (end) s.end();
      else s.destroy();
    })();
    return s;
  };
  const statusOf = (p: Promise<unknown>) => p.then(() => 200, (err: { statusCode?: number; message: string }) => `${err.statusCode} ${err.message}`);

  it('reads plain, gzip and deflate bodies of many chunks, the decompressor paused and resumed', async () => {
    const body = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `span ${i};`).join(''));
    assert.deepEqual(await readBody(trickle(body, 1000), undefined, 1 << 20), body);
    assert.deepEqual(await readBody(trickle(zlib.gzipSync(body), 997), 'gzip', 1 << 20), body);
    assert.deepEqual(await readBody(trickle(zlib.deflateSync(body), 64), 'Deflate', 1 << 20), body);
    const ended = new PassThrough();
    ended.end();
    ended.resume();
    await new Promise((r) => ended.once('end', r));
    assert.equal((await readBody(ended, undefined, 10)).length, 0);
  });

  it('stops at the limit, at a client that goes away, at bad data and at read_timeout, discarding the rest', async () => {
    const big = Buffer.alloc(4096, 1);
    const over = trickle(big, 512);
    assert.equal(await statusOf(readBody(over, 'identity', 1000)), '413 request body exceeds the limit of 1000 bytes');
    await new Promise((r) => over.once('end', r));
    assert.equal(over.listenerCount('data'), 0, 'nothing more is kept');
    assert.equal(await statusOf(readBody(trickle(zlib.gzipSync(big), 8), 'gzip', 1000)), '413 request body exceeds the limit of 1000 bytes after decompression');
    assert.match(String(await statusOf(readBody(trickle(big, 512, false), undefined, 1 << 20))), /^400 cannot read the request body: the client closed the connection/);
    assert.match(String(await statusOf(readBody(trickle(Buffer.from('not gzip at all'), 4), 'gzip', 1000))), /^400 cannot decompress the gzip body/);
    assert.equal(await statusOf(readBody(trickle(big, 512), 'br', 1000)), '415 unsupported Content-Encoding "br" (use gzip, deflate or none)');
    const stalled = new PassThrough();
    stalled.write('{"resourceSpans":');
    assert.equal(await statusOf(readBody(stalled, undefined, 1000, 50)), '408 the request body did not arrive within 50ms (read_timeout)');
  });
});
