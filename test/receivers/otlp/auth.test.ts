/**
 * The otlp receiver's side of authentication, with authenticators made to answer as a test needs:
 * CORS preflights pass and refusals carry the CORS headers, a body left unread is discarded or
 * closes the connection, a busy authenticator gets a retryable answer (503 / UNAVAILABLE with
 * RetryInfo), and a slow (asynchronous) verification holds the request until it is decided.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { AuthFailures, PASSED, type AuthOutcome, type ServerAuthenticator } from '../../../src/auth/server.js';
import type { Payload } from '../../../src/component.js';
import { Telemetry } from '../../../src/telemetry.js';
import { grpcSchema, httpSchema } from '../../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../../receivers/otlp/grpc.js';
import { ExportHandler } from '../../../receivers/otlp/handler.js';
import { MAX_UNREAD_DISCARD, OtlpHttpServer } from '../../../receivers/otlp/http.js';
import { readFixture } from '../../helpers.js';

const logger = pino({ level: 'silent' });
const body = readFixture('traces-shop-01.pb');

/** Lets `Bearer ok` pass (after `delayMillis`, asynchronously, when set), answers `busy` to `Bearer busy`, refuses the rest. */
function testAuthenticator(delayMillis = 0): ServerAuthenticator {
  const decide = (v: string | undefined): AuthOutcome =>
    v === 'Bearer ok' ? PASSED : v === 'Bearer busy' ? { ok: false, reason: 'busy', message: 'busy now' } : { ok: false, reason: v ? 'invalid' : 'missing', message: 'no' };
  return {
    header: 'authorization',
    challenge: 'Bearer realm="test"',
    start: async () => {},
    shutdown: async () => {},
    authenticate: (v) => (delayMillis > 0 ? new Promise((r) => setTimeout(() => r(decide(v)), delayMillis)) : decide(v)),
  };
}

describe('otlp receiver with an authenticator', () => {
  const received: Payload[] = [];
  const telemetry = new Telemetry();
  const handler = new ExportHandler('otlp', { traces: { consume: async (p: Payload) => void received.push(p) } }, telemetry, logger);
  const failures = new AuthFailures('otlp', telemetry, logger);
  const http = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', cors: { allowed_origins: ['https://shop.example'] } }), handler, logger);
  const slow = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0' }), handler, logger);
  const rpc = new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0' }), handler);
  let base = '';

  before(async () => {
    await http.start({ authenticator: testAuthenticator(), failures });
    await slow.start({ authenticator: testAuthenticator(30), failures });
    await rpc.start({ authenticator: testAuthenticator(), failures });
    base = `http://127.0.0.1:${http.port}`;
  });
  after(async () => {
    await Promise.all([http.shutdown(), slow.shutdown(), rpc.shutdown()]);
    failures.close();
  });

  it('lets a CORS preflight pass without credentials, and a refusal carries the CORS headers', async () => {
    const pre = await fetch(`${base}/v1/traces`, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    const refused = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { origin: 'https://shop.example', 'content-type': 'application/x-protobuf' }, body });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), 'https://shop.example', 'the browser can read the 401');
    await refused.arrayBuffer();
  });

  it('answers a busy authenticator with 503 and Retry-After, and gRPC with UNAVAILABLE and RetryInfo', async () => {
    const r = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { authorization: 'Bearer busy', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.deepEqual(await r.json(), { code: 14, message: 'busy now' });
    const id = (b: Buffer) => b;
    const Client = grpc.makeGenericClientConstructor(
      { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
      'TraceService',
    );
    const client = new Client(`127.0.0.1:${rpc.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Export(b: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void): void };
    const call = (auth: string) =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        const md = new grpc.Metadata();
        md.set('authorization', auth);
        client.Export(body, md, resolve);
      });
    const busy = (await call('Bearer busy'))!;
    assert.equal(busy.code, grpc.status.UNAVAILABLE);
    assert.ok(busy.metadata.get('grpc-status-details-bin')[0], 'RetryInfo, so SDKs retry');
    assert.equal((await call('Bearer nope'))!.code, grpc.status.UNAUTHENTICATED);
    assert.equal(await call('Bearer ok'), null);
    client.close();
  });

  it('keeps the connection of a refused request with a small body, and closes it for a large one', async () => {
    const exchange = (size: number) =>
      new Promise<string>((resolve) => {
        const sock = net.connect(http.port, '127.0.0.1');
        let got = '';
        sock.on('data', (d) => (got += d.toString('latin1')));
        // A server that closed its side may reset the rest of a large body: what was answered counts.
        sock.on('error', () => resolve(got));
        // Two requests on one connection: the second is answered only when the first's body was discarded.
        const request = `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${size}\r\n\r\n`;
        sock.write(request);
        sock.write(Buffer.alloc(size));
        sock.write(request);
        sock.write(Buffer.alloc(size), () => setTimeout(() => (sock.end(), resolve(got)), 300));
      });
    const small = await exchange(1024);
    assert.equal(small.match(/HTTP\/1\.1 401/g)?.length, 2, small);
    const large = await exchange(MAX_UNREAD_DISCARD + 1);
    assert.equal(large.match(/HTTP\/1\.1 401/g)?.length, 1);
    assert.match(large, /\r\nconnection: close\r\n/i);
  });

  it('holds a request until a slow verification decides it, and takes its data once it passes', async () => {
    const before = received.length;
    const [ok, no] = await Promise.all([
      fetch(`http://127.0.0.1:${slow.port}/v1/traces`, { method: 'POST', headers: { authorization: 'Bearer ok', 'content-type': 'application/x-protobuf' }, body }),
      fetch(`http://127.0.0.1:${slow.port}/v1/traces`, { method: 'POST', headers: { authorization: 'Bearer no', 'content-type': 'application/x-protobuf' }, body }),
    ]);
    assert.equal(ok.status, 200);
    assert.equal(no.status, 401);
    await Promise.all([ok.arrayBuffer(), no.arrayBuffer()]);
    assert.equal(received.length, before + 1);
  });
});
