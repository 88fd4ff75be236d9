/**
 * Property-based fuzzing (fast-check) of authentication on the OTLP receivers: `Authorization`
 * headers that are random text, binary, overlong, near misses of the right token, in the wrong
 * scheme, repeated many times, sent over HTTP/1.1 by hand and as gRPC metadata over HTTP/2, to
 * receivers with `bearertokenauth` and `basicauth`. Every such request is answered 401 (or 400 /
 * 431 for what Node's parser refuses) / `UNAUTHENTICATED`, never a 5xx or a reset, and none of
 * them hands data to the pipeline; the right credentials still pass.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { AuthFailures, type ServerAuthenticator } from '../../src/auth/server.js';
import type { Payload } from '../../src/component.js';
import { BasicAuthenticator, basicAuthSchema } from '../../src/extensions/basicauth.js';
import { BearerTokenAuthenticator, bearerTokenAuthSchema } from '../../src/extensions/bearertokenauth.js';
import { Telemetry } from '../../src/telemetry.js';
import { grpcSchema, httpSchema } from '../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../receivers/otlp/grpc.js';
import { ExportHandler } from '../../receivers/otlp/handler.js';
import { OtlpHttpServer } from '../../receivers/otlp/http.js';
import { fixtureBodyPlain, fixtureManifest, grpcRawCall, sendRaw } from '../helpers.js';

const SEED = Number(process.env.OTELYTICS_FUZZ_SEED ?? 20240611);
const runs = (n: number) => ({ numRuns: n, seed: SEED });

const TOKEN = 'fuzz-token-0123456789abcdef';
const USER = 'fuzzer';
const PASSWORD = 'fuzz-password-0123';
const body = fixtureBodyPlain(fixtureManifest().find((f) => f.path === 'traces-shop-01.pb')!);
const logger = pino({ level: 'silent' });

/** A one-character change of `s` (replaced, dropped or added), never `s` itself, nor `s` with white space around it. */
const nearMiss = (s: string) =>
  fc
    .tuple(fc.nat({ max: s.length - 1 }), fc.constantFrom('replace', 'drop', 'add'), fc.string({ minLength: 1, maxLength: 1 }))
    .map(([i, op, c]) => (op === 'drop' ? s.slice(0, i) + s.slice(i + 1) : op === 'add' ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + c + s.slice(i + 1)))
    .filter((x) => x.trim() !== s);

/** Header values as bytes (latin1 text): anything but CR and LF, so the value stays one header. */
const values = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.integer({ min: 1024, max: 15 * 1024 }).map((n) => `Bearer ${'A'.repeat(n)}`),
  nearMiss(TOKEN).map((t) => `Bearer ${t}`),
  nearMiss(PASSWORD).map((p) => `Basic ${Buffer.from(`${USER}:${p}`).toString('base64')}`),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic', 'Basic =', 'Basic ====', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Token ${TOKEN}`, `${TOKEN}`, `Bearer  ${TOKEN} x`, '\t', ' '),
).map((v) => v.replace(/[\r\n]/g, ''));

/** What a hand-made request asks: one or many Authorization headers, or a header block too large. */
const heads = fc.oneof(
  { weight: 4, arbitrary: values.map((v) => [v]) },
  { weight: 1, arbitrary: fc.array(values, { minLength: 2, maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 17 * 1024, max: 64 * 1024 }).map((n) => [`Bearer ${'B'.repeat(n)}`]) },
);

interface Case {
  name: string;
  authenticator: ServerAuthenticator;
  right: string;
}

describe('fuzz: Authorization headers on authenticated receivers', () => {
  const received: Payload[] = [];
  const telemetry = new Telemetry();
  const handler = new ExportHandler('otlp', { traces: { consume: async (p: Payload) => void received.push(p) } }, telemetry, logger);
  const failures = new AuthFailures('otlp', telemetry, logger);
  const cases: Case[] = [
    { name: 'bearertokenauth', authenticator: new BearerTokenAuthenticator(bearerTokenAuthSchema.parse({ token: TOKEN }), logger), right: `Bearer ${TOKEN}` },
    { name: 'basicauth', authenticator: new BasicAuthenticator(basicAuthSchema.parse({ htpasswd: { inline: `${USER}:${PASSWORD}` } }), logger), right: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
  ];
  const servers = new Map<string, { http: OtlpHttpServer; grpc: OtlpGrpcServer; session?: http2.ClientHttp2Session }>();

  before(async () => {
    for (const c of cases) {
      await c.authenticator.start({ getExporter: () => undefined });
      const s = { http: new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0' }), handler, logger), grpc: new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0' }), handler) };
      await s.http.start({ authenticator: c.authenticator, failures });
      await s.grpc.start({ authenticator: c.authenticator, failures });
      servers.set(c.name, { ...s, session: http2.connect(`http://127.0.0.1:${s.grpc.port}`) });
    }
  });
  after(async () => {
    for (const s of servers.values()) {
      s.session?.close();
      await Promise.all([s.http.shutdown(), s.grpc.shutdown()]);
    }
    for (const c of cases) await c.authenticator.shutdown();
    failures.close();
  });

  /** A hand-made OTLP/HTTP request with these Authorization header values. */
  const request = (authorization: string[], withBody = body) =>
    Buffer.concat([
      Buffer.from(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${withBody.length}\r\nConnection: close\r\n`, 'latin1'),
      Buffer.from(authorization.map((a) => `Authorization: ${a}\r\n`).join(''), 'latin1'),
      Buffer.from('\r\n'),
      withBody,
    ]);

  for (const c of cases) {
    it(`${c.name}, HTTP: answers every fuzzed Authorization with 401, 400 or 431, never a 5xx or a reset, and takes nothing`, async () => {
      const before = received.length;
      const port = servers.get(c.name)!.http.port;
      await fc.assert(
        fc.asyncProperty(heads, async (authorization) => {
          fc.pre(authorization[0] !== c.right);
          const r = await sendRaw(port, request(authorization));
          assert.equal(r.error, undefined, `reset: ${r.response.slice(0, 60)}`);
          const status = r.response.slice(9, 12);
          assert.match(status, /^(401|400|431)$/, r.response.slice(0, 120));
          if (status === '401') assert.match(r.response, new RegExp(`\\r\\nwww-authenticate: ${c.authenticator.challenge.split(' ')[0]} `, 'i'));
        }),
        runs(150),
      );
      assert.equal(received.length, before, 'a request without the right credentials handed data on');
      const ok = await sendRaw(port, request([c.right]));
      assert.equal(ok.response.slice(9, 12), '200', ok.response.slice(0, 200));
      assert.equal(received.length, before + 1);
    });

    it(`${c.name}, gRPC: answers every fuzzed authorization metadata with UNAUTHENTICATED, and takes nothing`, async () => {
      const before = received.length;
      const session = servers.get(c.name)!.session!;
      const path = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
      // HTTP/2 header values: no control characters (RFC 9113, §8.2.1); what Node refuses to send is left out.
      const metadataValues = values.map((v) => v.replace(/[\x00-\x1f\x7f]/g, '')).filter((v) => v !== c.right && Buffer.byteLength(v) < 8 * 1024);
      await fc.assert(
        fc.asyncProperty(metadataValues, async (authorization) => {
          const r = await grpcRawCall(session, path, 0, body, { authorization });
          assert.equal(r.status, 16, `${r.status} ${r.message}`);
        }),
        runs(150),
      );
      assert.equal(received.length, before);
      const ok = await grpcRawCall(session, path, 0, body, { authorization: c.right });
      assert.equal(ok.status, 0, ok.message);
      assert.equal(received.length, before + 1);
    });
  }
});
