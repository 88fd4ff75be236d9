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
import protobuf from 'protobufjs/minimal.js';
import { pino } from 'pino';
import type { Payload, ReceiverConsumers } from '../../../src/component.js';
import { itemCount } from '../../../src/component.js';
import { registerAdmissionGate } from '../../../src/delivery/admission.js';
import { RetryableError } from '../../../src/errors.js';
import { encodeLogsJson } from '../../../src/otlp/json.js';
import { decodeTracesRequest, EncodedTraces, encodeLogsRequest, encodeTracesRequest } from '../../../src/otlp/proto.js';
import type { LogRecord, LogsData, TracesData } from '../../../src/pdata.js';
import { Telemetry } from '../../../src/telemetry.js';
import { admissionSchema, grpcSchema, httpSchema, limitsSchema } from '../../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../../receivers/otlp/grpc.js';
import { ExportHandler } from '../../../receivers/otlp/handler.js';
import { OtlpHttpServer } from '../../../receivers/otlp/http.js';
import { fixtureBodyPlain, fixtureManifest } from '../../helpers.js';

/** The partial_success of an Export*ServiceResponse: {1: ExportPartialSuccess{1: rejected (int64), 2: error_message}}. */
function decodePartial(buf: Uint8Array): { rejectedLogRecords: string; errorMessage: string } {
  const out = { rejectedLogRecords: '0', errorMessage: '' };
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const p = protobuf.Reader.create(r.bytes());
    while (p.pos < p.len) {
      const t = p.uint32();
      if (t >>> 3 === 1) out.rejectedLogRecords = String(p.int64());
      else if (t >>> 3 === 2) out.errorMessage = p.string();
      else p.skipType(t & 7);
    }
  }
  return out;
}

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

  it('rejects records whose event name, attribute key (at any depth) or other name passes its length limit, over HTTP (JSON and protobuf) and gRPC', async () => {
    const record = (over: Partial<LogRecord>): LogRecord => ({
      timeUnixNano: '1', observedTimeUnixNano: '0', severityNumber: 9, severityText: 'INFO', body: {}, attributes: [], droppedAttributesCount: 0, flags: 0, traceId: '', spanId: '', eventName: 'cart.item_added', ...over,
    });
    const logs = (records: LogRecord[]): LogsData => ({ resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeLogs: [{ scope: { name: 'cart', version: '', attributes: [], droppedAttributesCount: 0 }, logRecords: records, schemaUrl: '' }], schemaUrl: '' }] });
    const huge = logs([
      record({}),
      record({ eventName: 'e'.repeat(10 * 1024 * 1024) }),
      record({ attributes: [{ key: 'k'.repeat(5 * 1024 * 1024), value: { stringValue: 'v' } }] }),
    ]);
    for (const [body, contentType] of [
      [encodeLogsJson(huge), 'application/json'],
      [encodeLogsRequest(huge), 'application/x-protobuf'],
    ] as const) {
      const before = received.length;
      const r = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': contentType }, body });
      assert.equal(r.status, 200, contentType);
      const partial = contentType === 'application/json' ? ((await r.json()) as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } }).partialSuccess : decodePartial(new Uint8Array(await r.arrayBuffer()));
      assert.equal(Number(partial.rejectedLogRecords), 2);
      assert.equal(partial.errorMessage, '2 of 3 log records rejected: log record: event_name has 10485760 characters, over name_length_limit 4096');
      assert.equal(received.length, before + 1);
      assert.deepEqual(received.at(-1)!.data, logs([record({})]), 'only the record within the limits went on');
    }
    const nestedKey = logs([record({ body: { kvlistValue: { values: [{ key: 'ok', value: { kvlistValue: { values: [{ key: 'n'.repeat(257), value: { intValue: 1 } }] } } }] } } })]);
    const all = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeLogsJson(nestedKey) });
    assert.equal(all.status, 400);
    assert.equal(((await all.json()) as { message: string }).message, `1 of 1 log records rejected: log record: attribute "${'n'.repeat(63)}…" has a key of 257 characters, over attribute_key_length_limit 256`);
    const severity = await fetch(base + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeLogsJson(logs([record({ severityText: 'I'.repeat(5000) })])) });
    assert.equal(severity.status, 400);
    assert.match(((await severity.json()) as { message: string }).message, /log record: severity_text has 5000 characters, over name_length_limit 4096$/);

    const Client = grpc.makeGenericClientConstructor(
      { Export: { path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
      'L',
    );
    const client = new Client(`127.0.0.1:${grpcServer.port}`, grpc.credentials.createInsecure()) as unknown as { Export: (b: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void; close(): void };
    try {
      const body = Buffer.from(encodeLogsRequest(logs([record({}), record({ attributes: [{ key: 'k'.repeat(300), value: { stringValue: 'v' } }] })])));
      const res = await new Promise<Buffer>((resolve, reject) => client.Export(body, (err, r) => (err ? reject(err) : resolve(r!))));
      assert.deepEqual(decodePartial(res), { rejectedLogRecords: '1', errorMessage: `1 of 2 log records rejected: log record: attribute "${'k'.repeat(63)}…" has a key of 300 characters, over attribute_key_length_limit 256` });
      const only = Buffer.from(encodeLogsRequest(logs([record({ eventName: 'e'.repeat(4097) })])));
      const err = await new Promise<grpc.ServiceError>((resolve) => client.Export(only, (e) => resolve(e!)));
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.details, '1 of 1 log records rejected: log record: event_name has 4097 characters, over name_length_limit 4096');
    } finally {
      client.close();
    }
  });

  it('rejects spans whose name, event name, scope, trace state or status message passes its limit, also for traces otherwise kept as bytes', async () => {
    const kept: Payload[] = [];
    const t = new Telemetry();
    const limits = limitsSchema.parse({ attribute_value_length_limit: 1000, name_length_limit: 64, attribute_key_length_limit: 40 });
    const passing = new ExportHandler('otlp', { traces: { consume: async (p: Payload) => void kept.push(p), takesEncodedTraces: true } }, t, logger, limits);
    const fixture = decodeTracesRequest(fixtureBodyPlain(fixtureManifest().find((f) => f.path === 'traces-shop-01.pb')!));
    const spans = (d: TracesData) => d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    const total = spans(fixture).length;
    const cases: [string, (d: TracesData) => void, number][] = [
      [`span "${'x'.repeat(63)}…": name has 65 characters, over name_length_limit 64`, (d) => void (spans(d)[1]!.name = 'x'.repeat(65)), 1],
      ['event 0: name has 65 characters, over name_length_limit 64', (d) => void spans(d)[2]!.events.push({ timeUnixNano: '1', name: 'e'.repeat(65), attributes: [], droppedAttributesCount: 0 }), 1],
      ['has a key of 41 characters, over attribute_key_length_limit 40', (d) => void spans(d)[0]!.attributes.push({ key: 'm', value: { kvlistValue: { values: [{ key: 'k'.repeat(41), value: {} }] } } }), 1],
      ['link 0: trace_state has 65 characters, over name_length_limit 64', (d) => void spans(d)[0]!.links.push({ traceId: '', spanId: '', traceState: 't'.repeat(65), attributes: [], droppedAttributesCount: 0, flags: 0 }), 1],
      ['status message has 1001 characters, over attribute_value_length_limit 1000', (d) => void (spans(d)[0]!.status = { code: 2, message: 'm'.repeat(1001) }), 1],
      ['scope: name has 65 characters, over name_length_limit 64', (d) => void (d.resourceSpans[0]!.scopeSpans[0]!.scope.name = 's'.repeat(65)), d0(fixture)],
      ['resource: schema_url has 65 characters, over name_length_limit 64', (d) => void (d.resourceSpans[0]!.schemaUrl = 'https://' + 'u'.repeat(57)), total],
    ];
    function d0(d: TracesData): number {
      return d.resourceSpans[0]!.scopeSpans[0]!.spans.length;
    }
    for (const [message, change, rejected] of cases) {
      const data = structuredClone(fixture);
      change(data);
      kept.length = 0;
      const out = await passing.export('http', 'traces', encodeTracesRequest(data), 'proto');
      if (rejected === total) {
        assert.equal(out.kind, 'invalid', message);
        assert.ok(out.kind === 'invalid' && out.message.includes(message), `${out.kind === 'invalid' ? out.message : ''} / ${message}`);
        continue;
      }
      assert.equal(out.kind, 'ok', message);
      assert.ok(out.kind === 'ok' && out.partial?.rejected === rejected && out.partial.message.includes(message), `${JSON.stringify(out)} / ${message}`);
      assert.equal(kept.length, 1);
      assert.ok(!(kept[0]!.data instanceof EncodedTraces), 'decoded to apply the limits');
      assert.equal(itemCount(kept[0]!), total - rejected);
    }
    kept.length = 0;
    assert.deepEqual(await passing.export('http', 'traces', encodeTracesRequest(fixture), 'proto'), { kind: 'ok' });
    assert.ok(kept[0]!.data instanceof EncodedTraces, 'a request within every limit travels as its bytes');
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
