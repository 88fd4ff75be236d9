/**
 * `include_metadata` on the otlp receiver's protocols: the request's headers (gRPC metadata) travel
 * with its data as the payload's client, and `analytics`' `from_context` puts them, and the
 * authenticated identity, into events' context. Off by default: no client at all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { Consumer, Payload } from '../../../src/component.js';
import { Telemetry } from '../../../src/telemetry.js';
import { analyticsProcessorFactory } from '../../../processors/analytics/index.js';
import { grpcSchema, httpSchema } from '../../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../../receivers/otlp/grpc.js';
import { ExportHandler } from '../../../receivers/otlp/handler.js';
import { OtlpHttpServer } from '../../../receivers/otlp/http.js';
import { readFixture } from '../../helpers.js';

const logger = pino({ level: 'silent' });
const body = readFixture('traces-shop-01.pb');
const id = (b: Buffer) => b;
const TraceClient = grpc.makeGenericClientConstructor(
  { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  'TraceService',
);

describe('include_metadata', () => {
  const received: Payload[] = [];
  const handler = new ExportHandler('otlp', { traces: { consume: async (p: Payload) => void received.push(p) } }, new Telemetry(), logger);
  const servers = {
    http: new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', include_metadata: true }), handler, logger),
    grpc: new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0', include_metadata: true }), handler),
    plain: new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0' }), handler, logger),
  };
  before(async () => {
    for (const s of Object.values(servers)) await s.start();
  });
  after(async () => {
    for (const s of Object.values(servers)) await s.shutdown();
  });

  it('hands the HTTP headers on with the data, by lower-case name', async () => {
    const r = await fetch(`http://127.0.0.1:${servers.http.port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'X-Team': 'checkout' }, body });
    assert.equal(r.status, 200);
    assert.deepEqual(received.at(-1)!.client?.metadata?.['x-team'], ['checkout']);
    assert.deepEqual(received.at(-1)!.client?.metadata?.['content-type'], ['application/x-protobuf']);
  });

  it('hands the gRPC metadata on with the data', async () => {
    const client = new TraceClient(`127.0.0.1:${servers.grpc.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Export(b: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void): void;
    };
    const md = new grpc.Metadata();
    md.add('x-team', 'checkout');
    md.add('x-region', 'eu');
    await new Promise<void>((resolve, reject) => client.Export(body, md, (err) => (err ? reject(err) : resolve())));
    client.close();
    assert.deepEqual(received.at(-1)!.client?.metadata?.['x-team'], ['checkout']);
    assert.deepEqual(received.at(-1)!.client?.metadata?.['x-region'], ['eu']);
  });

  it('is off by default: no client is known', async () => {
    const r = await fetch(`http://127.0.0.1:${servers.plain.port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'x-team': 'checkout' }, body });
    assert.equal(r.status, 200);
    assert.equal(received.at(-1)!.client, undefined);
  });

  it("analytics' from_context puts the identity and headers into every event's context, and sets nothing absent", async () => {
    const out: Payload[] = [];
    const next: Consumer = { consume: async (p) => void out.push(p) };
    const config = analyticsProcessorFactory.configSchema.parse({
      rules: [{ id: 'every-span', event: 'span_seen' }],
      from_context: { tenant: 'auth.subject', team: 'metadata.X-Team', user: 'auth.username' },
    });
    const analytics = analyticsProcessorFactory.create({ id: 'analytics', logger, telemetry: new Telemetry(), pipeline: 'events' }, config, next);
    const traces = received.at(-2)!;
    await analytics.consume({ ...traces, client: { auth: { subject: 'team-a' }, metadata: { 'x-team': ['checkout', 'payments'] } } });
    const events = out.flatMap((p) => (p.signal === 'events' ? p.data : []));
    assert.ok(events.length > 1);
    for (const e of events) {
      assert.equal(e.context.tenant, 'team-a');
      assert.equal(e.context.team, 'checkout;payments');
      assert.equal('user' in e.context, false);
    }
  });

  it('refuses from_context paths the collector does not have, and the keys the gateway sets', () => {
    assert.equal(analyticsProcessorFactory.configSchema.safeParse({ from_context: { tenant: 'subject' } }).success, false);
    assert.equal(analyticsProcessorFactory.configSchema.safeParse({ from_context: { rule: 'auth.subject' } }).success, false);
  });
});
