/**
 * Authenticated ingest, end to end: a gateway whose OTLP receivers take data only with a bearer
 * token (`otlp/bearer`, tokens from a file that changes while it runs) or basic-auth credentials
 * (`otlp/basic`, htpasswd with bcrypt, Apache MD5 and SHA hashes), over HTTP and gRPC. Every
 * request without valid credentials is refused and none of its spans reaches the file exporter;
 * every request with them is taken, and its events carry who sent it (`from_context`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { hashSync } from '@node-rs/bcrypt';
import { OTLPTraceExporter as TracesGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { emptyResource, emptyScope, emptySpan, type TracesData } from '../../src/pdata.js';
import { encodeTracesRequest } from '../../src/otlp/proto.js';
import { freePort, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';

/** Requests sent per case and transport; spans per request. */
const REQUESTS = 20;
const SPANS = 3;

/** An ExportTraceServiceRequest of `SPANS` spans from the service `service`. */
function tracesBody(service: string): Buffer {
  const spans = Array.from({ length: SPANS }, () => ({ ...emptySpan(), traceId: crypto.randomBytes(16).toString('hex'), spanId: crypto.randomBytes(8).toString('hex'), name: 'GET /', kind: 2, startTimeUnixNano: '1795600800000000000', endTimeUnixNano: '1795600800001000000' }));
  const data: TracesData = { resourceSpans: [{ resource: { ...emptyResource(), attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ scope: emptyScope(), spans, schemaUrl: '' }], schemaUrl: '' }] };
  return Buffer.from(encodeTracesRequest(data));
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Exported { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: unknown[] }[] }[] }

/** Spans in the traces file by service name. */
function spansByService(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readJsonLines<Exported>(file)) {
    for (const rs of line.resourceSpans) {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
      out.set(service, (out.get(service) ?? 0) + rs.scopeSpans.reduce((n, ss) => n + ss.spans.length, 0));
    }
  }
  return out;
}

type TraceClient = grpc.Client & { Export(body: Buffer, metadata: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void): void };
const id = (b: Buffer) => b;
const TraceClientCtor = grpc.makeGenericClientConstructor(
  { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  'TraceService',
);

describe('receivers with bearertokenauth and basicauth (HTTP and gRPC)', () => {
  let gw: RunningGateway;
  let dir: string;
  const ports = { bearerHttp: 0, bearerGrpc: 0, basicHttp: 0, basicGrpc: 0 };
  const tokenA = crypto.randomBytes(24).toString('base64url');
  const tokenAnon = crypto.randomBytes(24).toString('base64url');
  const tokenB = crypto.randomBytes(24).toString('base64url');
  const passwords = { alice: `a-${crypto.randomBytes(9).toString('hex')}`, bob: `b-${crypto.randomBytes(9).toString('hex')}`, carol: 'carol-pässwort' };
  const clients: TraceClient[] = [];
  /** Spans the gateway answered OK to, by service name. */
  const accepted = new Map<string, number>();
  /** Requests refused, by service name. */
  const refused = new Map<string, number>();
  const count = (m: Map<string, number>, service: string, n: number) => m.set(service, (m.get(service) ?? 0) + n);

  before(async () => {
    Object.assign(ports, { bearerHttp: await freePort(), bearerGrpc: await freePort(), basicHttp: await freePort(), basicGrpc: await freePort() });
    dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'otelytics-auth-'));
    fs.writeFileSync(path.join(dir, 'tokens'), `# name token\nteam-a ${tokenA}\n${tokenAnon}\n`);
    const apr1 = execFileSync('openssl', ['passwd', '-apr1', passwords.bob], { encoding: 'utf8' }).trim();
    fs.writeFileSync(path.join(dir, 'htpasswd'), `alice:${hashSync(passwords.alice, 5).replace(/^\$2b\$/, '$2y$')}\nbob:${apr1}\n`);
    const sha = `{SHA}${crypto.createHash('sha1').update(passwords.carol).digest('base64')}`;
    const config = `
extensions:
  health_check: {}
  bearertokenauth:
    filename: ${path.join(dir, 'tokens')}
  basicauth:
    htpasswd:
      file: ${path.join(dir, 'htpasswd')}
      inline: |
        carol:${sha}
receivers:
  otlp/bearer:
    protocols:
      http: { endpoint: 127.0.0.1:${ports.bearerHttp}, auth: { authenticator: bearertokenauth } }
      grpc: { endpoint: 127.0.0.1:${ports.bearerGrpc}, auth: { authenticator: bearertokenauth } }
  otlp/basic:
    protocols:
      http: { endpoint: 127.0.0.1:${ports.basicHttp}, auth: { authenticator: basicauth } }
      grpc: { endpoint: 127.0.0.1:${ports.basicGrpc}, auth: { authenticator: basicauth } }
processors:
  analytics:
    from_context: { tenant: auth.subject }
    rules: [{ id: every-span, event: span_seen }]
exporters:
  file/spans: { path: ${path.join(dir, 'spans.jsonl')} }
  file/events: { path: ${path.join(dir, 'events.jsonl')} }
service:
  extensions: [health_check, bearertokenauth, basicauth]
  pipelines:
    traces: { receivers: [otlp/bearer, otlp/basic], exporters: [file/spans] }
    events: { receivers: [otlp/bearer, otlp/basic], processors: [analytics], exporters: [file/events] }
`;
    fs.writeFileSync(path.join(dir, 'config.yaml'), config);
    gw = await startGateway({ configs: [path.join(dir, 'config.yaml')], sets: [] });
  });

  after(async () => {
    for (const c of clients) c.close();
    if (gw && gw.child.exitCode === null) await gw.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Posts one request; counts its spans as accepted (200) or it as refused (401); returns the status. */
  async function http(port: number, service: string, authorization?: string): Promise<number> {
    const headers: Record<string, string> = { 'content-type': 'application/x-protobuf' };
    if (authorization !== undefined) headers.authorization = authorization;
    const r = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers, body: tracesBody(service) });
    await r.arrayBuffer();
    if (r.status === 200) count(accepted, service, SPANS);
    else if (r.status === 401) count(refused, service, 1);
    return r.status;
  }

  function grpcClient(port: number): TraceClient {
    const c = new TraceClientCtor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as TraceClient;
    clients.push(c);
    return c;
  }

  /** One gRPC Export; counts as {@link http} does; returns the status code. */
  function rpc(client: TraceClient, service: string, authorization?: string): Promise<grpc.status> {
    const md = new grpc.Metadata();
    if (authorization !== undefined) md.set('authorization', authorization);
    return new Promise((resolve) =>
      client.Export(tracesBody(service), md, (err) => {
        const code = err ? err.code : grpc.status.OK;
        if (code === grpc.status.OK) count(accepted, service, SPANS);
        else if (code === grpc.status.UNAUTHENTICATED) count(refused, service, 1);
        resolve(code);
      }),
    );
  }

  /** Sends `REQUESTS` requests with `authorization` over HTTP and gRPC; returns the statuses seen. */
  async function both(http_: number, grpc_: TraceClient, service: string, authorization?: string): Promise<{ http: Set<number>; grpc: Set<grpc.status> }> {
    const statuses = { http: new Set<number>(), grpc: new Set<grpc.status>() };
    for (let i = 0; i < REQUESTS; i++) {
      statuses.http.add(await http(http_, `${service}-http`, authorization));
      statuses.grpc.add(await rpc(grpc_, `${service}-grpc`, authorization));
    }
    return statuses;
  }

  it('bearertokenauth: no token, a wrong one, another scheme get 401 / UNAUTHENTICATED; a configured token passes', async () => {
    const g = grpcClient(ports.bearerGrpc);
    assert.deepEqual(await both(ports.bearerHttp, g, 'bearer-none'), { http: new Set([401]), grpc: new Set([grpc.status.UNAUTHENTICATED]) });
    assert.deepEqual(await both(ports.bearerHttp, g, 'bearer-wrong', `Bearer ${tokenB}`), { http: new Set([401]), grpc: new Set([grpc.status.UNAUTHENTICATED]) });
    assert.deepEqual(await both(ports.bearerHttp, g, 'bearer-scheme', `Basic ${tokenA}`), { http: new Set([401]), grpc: new Set([grpc.status.UNAUTHENTICATED]) });
    assert.deepEqual(await both(ports.bearerHttp, g, 'bearer-team-a', `Bearer ${tokenA}`), { http: new Set([200]), grpc: new Set([grpc.status.OK]) });
    assert.deepEqual(await both(ports.bearerHttp, g, 'bearer-anon', `bearer ${tokenAnon}`), { http: new Set([200]), grpc: new Set([grpc.status.OK]) });
  });

  it('bearertokenauth: the 401 names the scheme and carries a google.rpc.Status in the request encoding', async () => {
    const r = await fetch(`http://127.0.0.1:${ports.bearerHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{}' });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="otelytics"');
    assert.deepEqual(await r.json(), { code: 16, message: 'unauthenticated: the bearer token is not valid' });
    const proto = await fetch(`http://127.0.0.1:${ports.bearerHttp}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.alloc(0) });
    assert.equal(proto.status, 401);
    assert.equal(proto.headers.get('content-type'), 'application/x-protobuf');
    // google.rpc.Status { code = 16 }: tag 0x08, varint 16, then the message.
    assert.deepEqual([...Buffer.from(await proto.arrayBuffer()).subarray(0, 2)], [0x08, 16]);
    const unknown = await fetch(`http://127.0.0.1:${ports.bearerHttp}/nowhere`);
    assert.equal(unknown.status, 401, 'no route is revealed without credentials');
    await unknown.arrayBuffer();
  });

  it('bearertokenauth: the token file is read again while the gateway runs', async () => {
    fs.writeFileSync(path.join(dir, 'tokens'), `team-a ${tokenA}\nteam-b ${tokenB}\n`);
    const deadline = Date.now() + 10_000;
    while ((await http(ports.bearerHttp, 'bearer-reload-wait', `Bearer ${tokenB}`)) !== 200) {
      assert.ok(Date.now() < deadline, 'the new token was not taken within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const g = grpcClient(ports.bearerGrpc);
    assert.deepEqual(await both(ports.bearerHttp, g, 'bearer-team-b', `Bearer ${tokenB}`), { http: new Set([200]), grpc: new Set([grpc.status.OK]) });
    assert.deepEqual(await both(ports.bearerHttp, g, 'bearer-removed', `Bearer ${tokenAnon}`), { http: new Set([401]), grpc: new Set([grpc.status.UNAUTHENTICATED]) });
  });

  it('basicauth: no credentials, a wrong password, an unknown user, broken credentials are refused; bcrypt, MD5 and SHA users pass', async () => {
    const g = grpcClient(ports.basicGrpc);
    const refusedAll = { http: new Set([401]), grpc: new Set([grpc.status.UNAUTHENTICATED]) };
    assert.deepEqual(await both(ports.basicHttp, g, 'basic-none'), refusedAll);
    assert.deepEqual(await both(ports.basicHttp, g, 'basic-wrong', basic('alice', passwords.bob)), refusedAll);
    assert.deepEqual(await both(ports.basicHttp, g, 'basic-unknown', basic('mallory', passwords.alice)), refusedAll);
    assert.deepEqual(await both(ports.basicHttp, g, 'basic-broken', 'Basic !!notbase64'), refusedAll);
    assert.deepEqual(await both(ports.basicHttp, g, 'basic-bearer', `Bearer ${tokenA}`), refusedAll);
    for (const user of ['alice', 'bob', 'carol'] as const) {
      assert.deepEqual(await both(ports.basicHttp, g, `basic-${user}`, basic(user, passwords[user])), { http: new Set([200]), grpc: new Set([grpc.status.OK]) });
    }
    const r = await fetch(`http://127.0.0.1:${ports.basicHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: tracesBody('basic-challenge') });
    count(refused, 'basic-challenge', 1);
    assert.equal(r.headers.get('www-authenticate'), 'Basic realm="otelytics", charset="UTF-8"');
    await r.arrayBuffer();
  });

  it('the OpenTelemetry JS SDK sends its token from OTEL_EXPORTER_OTLP_HEADERS over HTTP and gRPC', async () => {
    const saved = { ...process.env };
    try {
      for (const [transport, port] of [['http', ports.bearerHttp], ['grpc', ports.bearerGrpc]] as const) {
        process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
        process.env.OTEL_EXPORTER_OTLP_HEADERS = `authorization=Bearer%20${tokenA}`;
        const exporter = transport === 'grpc' ? new TracesGrpc() : new TracesProto();
        const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': `sdk-${transport}` }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
        for (let i = 0; i < SPANS; i++) provider.getTracer('t').startSpan('GET /').end();
        await provider.forceFlush();
        await provider.shutdown();
      }
    } finally {
      process.env = saved;
    }
    const deadline = Date.now() + 5000;
    while (((spansByService(path.join(dir, 'spans.jsonl')).get('sdk-http') ?? 0) < SPANS || (spansByService(path.join(dir, 'spans.jsonl')).get('sdk-grpc') ?? 0) < SPANS) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    count(accepted, 'sdk-http', SPANS);
    count(accepted, 'sdk-grpc', SPANS);
  });

  it('counts every refusal by reason, and logs them rate-limited, without a credential', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
    const failures = (receiver: string, transport: string, reason: string) =>
      Number(new RegExp(`^otelytics_receiver_auth_failures\\{receiver="${receiver}",transport="${transport}",reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.equal(failures('otlp/bearer', 'http', 'missing'), REQUESTS + 2, metrics);
    assert.equal(failures('otlp/bearer', 'grpc', 'missing'), REQUESTS);
    assert.equal(failures('otlp/bearer', 'grpc', 'malformed'), REQUESTS);
    assert.ok(failures('otlp/bearer', 'http', 'invalid') >= 2 * REQUESTS + 1);
    assert.equal(failures('otlp/basic', 'grpc', 'invalid'), 2 * REQUESTS);
    assert.equal(failures('otlp/basic', 'grpc', 'malformed'), 2 * REQUESTS);
    const out = gw.output();
    const warnings = out.split('\n').filter((l) => l.includes('request refused'));
    assert.ok(warnings.length >= 4 && warnings.length <= 16, `one warning per receiver and transport per 10 s, not one per request: ${warnings.length}`);
    for (const secret of [tokenA, tokenAnon, tokenB, ...Object.values(passwords), basic('alice', passwords.alice).slice(6)]) assert.ok(!out.includes(secret), 'a credential in the logs');
  });

  it('no data of a refused request reaches an exporter; all of every accepted one does, with who sent it', async () => {
    assert.equal(await gw.stop(), 0, gw.output());
    const spans = spansByService(path.join(dir, 'spans.jsonl'));
    for (const [service, n] of refused) {
      assert.ok(n > 0);
      assert.equal(spans.get(service) ?? 0, accepted.get(service) ?? 0, `${service}: spans of refused requests reached the exporter`);
    }
    for (const service of ['bearer-none-http', 'bearer-none-grpc', 'bearer-wrong-http', 'bearer-wrong-grpc', 'bearer-removed-http', 'bearer-removed-grpc', 'basic-wrong-http', 'basic-unknown-grpc']) {
      assert.equal(refused.get(service), REQUESTS, `${service}: every request refused`);
      assert.equal(spans.get(service), undefined, service);
    }
    for (const [service, n] of accepted) assert.equal(spans.get(service), n, `${service}: every accepted span is in the file`);
    const tenants = new Map<string, Set<string | undefined>>();
    for (const e of readJsonLines<{ context: Record<string, string> }>(path.join(dir, 'events.jsonl'))) {
      const s = e.context['service.name']!;
      if (!tenants.has(s)) tenants.set(s, new Set());
      tenants.get(s)!.add(e.context.tenant);
    }
    assert.deepEqual(tenants.get('bearer-team-a-grpc'), new Set(['team-a']));
    assert.deepEqual(tenants.get('bearer-team-b-http'), new Set(['team-b']));
    assert.deepEqual(tenants.get('bearer-anon-http'), new Set([undefined]), 'an unnamed token gives no identity');
    assert.deepEqual(tenants.get('basic-alice-http'), new Set(['alice']));
    assert.deepEqual(tenants.get('basic-bob-grpc'), new Set(['bob']));
    assert.deepEqual(tenants.get('basic-carol-http'), new Set(['carol']));
    assert.deepEqual(tenants.get('sdk-grpc'), new Set(['team-a']));
  });
});
