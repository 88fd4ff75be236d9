/**
 * The otlp receiver under pressure: refusal before the body is read while the admission gate
 * (memory limiter) refuses, when request bytes in flight pass `admission::request_limit_mib`, or
 * when the event loop has been busy past `admission::max_event_loop_delay`; 503 + Retry-After for
 * a full queue, attribute limits with partial success, and slow clients (slow-loris headers and
 * bodies).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { Payload, ReceiverConsumers } from '../../../src/component.js';
import { itemCount } from '../../../src/component.js';
import { registerAdmissionGate } from '../../../src/delivery/admission.js';
import { RetryableError } from '../../../src/errors.js';
import { Telemetry } from '../../../src/telemetry.js';
import { admissionSchema, grpcSchema, httpSchema, limitsSchema } from '../../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../../receivers/otlp/grpc.js';
import { ExportHandler } from '../../../receivers/otlp/handler.js';
import { OtlpHttpServer } from '../../../receivers/otlp/http.js';
import { fixtureBodyPlain, fixtureManifest } from '../../helpers.js';

const logger = pino({ level: 'silent' });
const received: Payload[] = [];
let refuseWith: RetryableError | undefined;
const consume = async (p: Payload) => {
  if (refuseWith) throw refuseWith;
  received.push(p);
};
const consumers: ReceiverConsumers = { traces: { consume }, logs: { consume } };
const telemetry = new Telemetry();
const handler = new ExportHandler('otlp', consumers, telemetry, logger, limitsSchema.parse({ attribute_count_limit: 8, attribute_value_length_limit: 100 }));
const http = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', read_timeout: '300ms', read_header_timeout: '300ms' }), handler, logger);
const grpcServer = new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0' }), handler);
let base = '';

const logsJson = (records: { attributes: { key: string; value: { stringValue: string } }[] }[]) =>
  JSON.stringify({ resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: {}, logRecords: records.map((r) => ({ timeUnixNano: '1', eventName: 'e', ...r })) }] }] });
const attr = (key: string, len: number) => ({ key, value: { stringValue: 'x'.repeat(len) } });

/** Opens a raw TCP connection, writes `first`, then nothing; resolves with what the server sent and when it closed. */
function stall(first: string): Promise<{ text: string; millis: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = net.connect(http.port, '127.0.0.1', () => sock.write(first));
    let text = '';
    sock.on('data', (d) => (text += d.toString()));
    sock.on('error', () => undefined);
    const timer = setTimeout(() => (sock.destroy(), reject(new Error('server kept the stalled connection open'))), 5000);
    sock.on('close', () => (clearTimeout(timer), resolve({ text, millis: Date.now() - t0 })));
  });
}

describe('otlp receiver back-pressure and limits', () => {
  before(async () => {
    await http.start();
    await grpcServer.start();
    base = `http://127.0.0.1:${http.port}`;
  });
  after(async () => {
    await http.shutdown();
    await grpcServer.shutdown(100);
  });

  it('answers 503 with Retry-After when the pipeline refuses for now', async () => {
    refuseWith = new RetryableError('the sending queue of exporter kafka is full', 2500);
    try {
      const r = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsJson([{ attributes: [] }]) });
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('retry-after'), '3');
      assert.match(((await r.json()) as { message: string }).message, /queue of exporter kafka is full/);
    } finally {
      refuseWith = undefined;
    }
  });

  it('refuses before reading the body while the admission gate refuses, over HTTP and gRPC', async () => {
    const unregister = registerAdmissionGate(() => ({ message: 'memory usage 900 MiB is above the soft limit', retryAfterMillis: 4000 }));
    try {
      const before = received.length;
      // A body far larger than what the server would read in the time it takes to answer.
      const r = await fetch(base + '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(8 * 1024 * 1024) });
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('retry-after'), '4');
      assert.equal(r.headers.get('connection'), 'close');
      await r.arrayBuffer();
      assert.equal(received.length, before);

      const f = fixtureManifest().find((x) => x.signal === 'traces' && x.path.endsWith('.pb'))!;
      const id = (b: Buffer) => b;
      const Client = grpc.makeGenericClientConstructor(
        { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
        'T',
      );
      const client = new Client(`127.0.0.1:${grpcServer.port}`, grpc.credentials.createInsecure());
      const err = await new Promise<grpc.ServiceError>((resolve) => (client as unknown as { Export: (b: Buffer, cb: (e: grpc.ServiceError) => void) => void }).Export(fixtureBodyPlain(f), resolve));
      client.close();
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.ok(err.metadata.get('grpc-status-details-bin').length === 1, 'RetryInfo detail present');
      const refused = (await telemetry.registry.getMetricsAsJSON()).find((m) => m.name === 'otelytics_receiver_refused_requests');
      assert.deepEqual(refused?.values.map((v) => v.labels.transport).sort(), ['grpc', 'http']);
    } finally {
      unregister();
    }
    const ok = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsJson([{ attributes: [] }]) });
    assert.equal(ok.status, 200, 'taken again once the gate admits');
  });

  it('refuses a request whose bytes would pass request_limit_mib while others are in flight, and releases them once answered', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const slow: ReceiverConsumers = { logs: { consume: () => held } };
    const t = new Telemetry();
    const h = new ExportHandler('otlp', slow, t, logger, limitsSchema.parse({}), admissionSchema.parse({ request_limit_mib: 1, max_event_loop_delay: 0 }));
    const server = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', shutdown_timeout: '200ms' }), h, logger);
    await server.start();
    try {
      const url = `http://127.0.0.1:${server.port}/v1/logs`;
      const body = logsJson([{ attributes: Array.from({ length: 12 }, (_, i) => attr(`a${i}`, 60 * 1024)) }]); // 0.7 MiB
      const first = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      while (h.bytesInFlight === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(h.bytesInFlight, Buffer.byteLength(body));
      const second = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(second.status, 503);
      assert.equal(second.headers.get('retry-after'), '1');
      assert.notEqual(second.headers.get('connection'), 'close', 'the body was read and discarded: the connection stays usable');
      assert.match(((await second.json()) as { message: string }).message, /requests in flight hold 0\.7 MiB, at the receiver's limit of 1 MiB \(admission::request_limit_mib\)/);
      const small = logsJson([{ attributes: [] }]);
      const third = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: small });
      release();
      assert.equal((await first).status, 200);
      assert.equal((await third).status, 200, 'a request that fits is admitted');
      assert.equal(h.bytesInFlight, 0, 'answered requests no longer count');
      const refused = (await t.registry.getMetricsAsJSON()).find((m) => m.name === 'otelytics_receiver_refused_requests');
      assert.deepEqual(refused?.values.map((v) => [v.labels.reason, v.value]), [['request_limit', 1]]);
    } finally {
      release();
      await server.shutdown();
    }
  });

  it('refuses what arrives once this turn of the event loop has been busy past max_event_loop_delay, and admits again in the next turn', async () => {
    const t = new Telemetry();
    const h = new ExportHandler('otlp', consumers, t, logger, limitsSchema.parse({}), admissionSchema.parse({ max_event_loop_delay: '50ms' }));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(h.admit('http', 10), undefined, 'admitted while the loop turns');
    h.release(10);
    const until = performance.now() + 120;
    while (performance.now() < until); // this turn keeps taking requests
    const refused = h.admit('grpc', 10);
    assert.equal(refused?.kind, 'retryable');
    assert.match(refused!.message, /the gateway is saturated \(busy for \d+ ms without a break, above admission::max_event_loop_delay of 50 ms\)/);
    assert.equal(refused!.closeConnection, false);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(h.admit('http', 10), undefined, 'admitted again once the loop had a break');
    h.release(10);
    const counted = (await t.registry.getMetricsAsJSON()).find((m) => m.name === 'otelytics_receiver_refused_requests');
    assert.deepEqual(counted?.values.map((v) => [v.labels.transport, v.labels.reason, v.value]), [['grpc', 'overload', 1]]);
  });

  it('rejects records over the attribute limits with a partial success, and all of them with 400', async () => {
    const before = received.length;
    const body = logsJson([{ attributes: [attr('ok', 10)] }, { attributes: [attr('huge', 101)] }, { attributes: Array.from({ length: 9 }, (_, i) => attr(`k${i}`, 1)) }]);
    const r = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(r.status, 200);
    const answer = (await r.json()) as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } };
    assert.equal(Number(answer.partialSuccess.rejectedLogRecords), 2);
    assert.match(answer.partialSuccess.errorMessage, /2 of 3 log records rejected: log record: attribute "huge" has a value of 101 characters, over attribute_value_length_limit 100/);
    assert.equal(received.length, before + 1);
    assert.equal(itemCount(received.at(-1)!), 1);

    const all = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsJson([{ attributes: [attr('huge', 1000)] }]) });
    assert.equal(all.status, 400);
    assert.match(((await all.json()) as { message: string }).message, /1 of 1 log records rejected/);
  });

  it('counts nested map entries and array elements against attribute_count_limit', async () => {
    const nested = { key: 'm', value: { kvlistValue: { values: Array.from({ length: 10 }, (_, i) => ({ key: `n${i}`, value: { intValue: i } })) } } };
    const body = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1', attributes: [nested] }] }] }] });
    const r = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { message: string }).message, /more than 8 attributes/);
  });

  it('answers 408 and closes the connection when a body trickles in slower than read_timeout', async () => {
    const { text, millis } = await stall('POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"resourceLogs":');
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.ok(millis < 3000, `closed after ${millis}ms`);
  });

  it('closes a connection whose headers do not arrive within read_header_timeout', async () => {
    const { millis } = await stall('POST /v1/logs HTTP/1.1\r\nHost: x\r\n');
    assert.ok(millis < 3000, `closed after ${millis}ms`);
  });
});
