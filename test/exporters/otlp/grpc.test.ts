/** The `otlp_grpc` exporter against local OTLP/gRPC servers. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { otlpExporterFactory, otlpGrpcExporterFactory } from '../../../exporters/otlp/index.js';
import { OtlpGrpcTransport } from '../../../exporters/otlp/grpc.js';
import { otlpGrpcSchema } from '../../../exporters/otlp/config.js';
import { encodeRetryStatus } from '../../../receivers/otlp/grpc.js';
import type { Payload } from '../../../src/component.js';
import { PermanentError, RetryableError } from '../../../src/errors.js';
import { logsDataToEvents } from '../../../src/event.js';
import { decodeLogsRequest, decodeTracesRequest, encodeExportResponse } from '../../../src/otlp/proto.js';
import { freePort, readFixture } from '../../helpers.js';
import { captureLogger, makeCert, makeExporter, sendOnce, startGrpcServer, type FakeGrpcServer, type TestCert } from './servers.js';

const traces = decodeTracesRequest(readFixture('traces-shop-02.pb'));
const logs = decodeLogsRequest(readFixture('logs-shop-02.pb'));
const events = logsDataToEvents(logs);
const never = new AbortController().signal;

async function exportOnce(raw: Record<string, unknown>, p: Payload) {
  const t = new OtlpGrpcTransport('otlp_grpc', otlpGrpcSchema.parse(raw), 'otelytics/test');
  await t.start();
  try {
    return await t.export(p, never);
  } finally {
    await t.shutdown();
  }
}

function statusWithRetryInfo(code: grpc.status, message: string, retryAfterMillis: number): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('grpc-status-details-bin', encodeRetryStatus(code, message, retryAfterMillis));
  return m;
}

describe('otlp_grpc exporter', () => {
  let server: FakeGrpcServer;
  before(async () => (server = await startGrpcServer()));
  after(() => server.close());

  it('sends spans unchanged to TraceService/Export, with headers as metadata and its user agent', async () => {
    server.calls.length = 0;
    await sendOnce(makeExporter(otlpGrpcExporterFactory, { endpoint: server.target, tls: { insecure: true }, headers: { 'X-Api-Key': 'k-2' } }), { signal: 'traces', data: traces });
    const [call] = server.calls;
    assert.equal(server.calls.length, 1);
    assert.equal(call!.method, '/opentelemetry.proto.collector.trace.v1.TraceService/Export');
    assert.deepEqual(call!.metadata.get('x-api-key'), ['k-2']);
    assert.match(String(call!.metadata.get('user-agent')[0]), /^otelytics\//);
    assert.deepEqual(decodeTracesRequest(call!.body), traces);
  });

  it('compresses messages with gzip by default and not with compression: none (as seen on the wire)', async () => {
    const seen: { encoding: string | undefined; compressedFlag: number; body: Buffer }[] = [];
    const h2 = http2.createServer();
    h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const frame = Buffer.concat(chunks);
        const payload = frame.subarray(5, 5 + frame.readUInt32BE(1));
        seen.push({ encoding: headers['grpc-encoding'] as string | undefined, compressedFlag: frame[0]!, body: frame[0] === 1 ? zlib.gunzipSync(payload) : payload });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5));
      });
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(h2.address() as AddressInfo).port}`;
    try {
      await exportOnce({ endpoint: target, tls: { insecure: true } }, { signal: 'traces', data: traces });
      await exportOnce({ endpoint: target, tls: { insecure: true }, compression: 'none' }, { signal: 'traces', data: traces });
    } finally {
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
    assert.equal(seen.length, 2);
    assert.deepEqual([seen[0]!.encoding, seen[0]!.compressedFlag], ['gzip', 1]);
    assert.deepEqual(decodeTracesRequest(seen[0]!.body), traces);
    assert.equal(seen[1]!.compressedFlag, 0);
    assert.deepEqual(decodeTracesRequest(seen[1]!.body), traces);
  });

  it('sends log records unchanged to LogsService/Export (otlp alias, http:// endpoint, compression none)', async () => {
    server.calls.length = 0;
    await sendOnce(makeExporter(otlpExporterFactory, { endpoint: `http://${server.target}`, compression: 'none' }), { signal: 'logs', data: logs });
    const [call] = server.calls;
    assert.equal(call!.method, '/opentelemetry.proto.collector.logs.v1.LogsService/Export');
    assert.deepEqual(decodeLogsRequest(call!.body), logs);
  });

  it('sends events as log records with their event name, losslessly', async () => {
    server.calls.length = 0;
    await sendOnce(makeExporter(otlpGrpcExporterFactory, { endpoint: server.target, tls: { insecure: true } }), { signal: 'events', data: events });
    const received = decodeLogsRequest(server.calls[0]!.body);
    const records = received.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
    assert.equal(records.length, events.length);
    assert.ok(records.every((r) => r.eventName !== ''));
    const byId = (a: { insert_id: string }, b: { insert_id: string }) => a.insert_id.localeCompare(b.insert_id);
    assert.deepEqual(logsDataToEvents(received).sort(byId), [...events].sort(byId));
  });

  const cases: { name: string; code: grpc.status; retryInfoMillis?: number; retryable: boolean }[] = [
    { name: 'UNAVAILABLE with RetryInfo', code: grpc.status.UNAVAILABLE, retryInfoMillis: 2500, retryable: true },
    { name: 'UNAVAILABLE without RetryInfo', code: grpc.status.UNAVAILABLE, retryable: true },
    { name: 'RESOURCE_EXHAUSTED with RetryInfo', code: grpc.status.RESOURCE_EXHAUSTED, retryInfoMillis: 1200, retryable: true },
    { name: 'RESOURCE_EXHAUSTED without RetryInfo', code: grpc.status.RESOURCE_EXHAUSTED, retryable: false },
    { name: 'DEADLINE_EXCEEDED', code: grpc.status.DEADLINE_EXCEEDED, retryable: true },
    { name: 'ABORTED', code: grpc.status.ABORTED, retryable: true },
    { name: 'DATA_LOSS', code: grpc.status.DATA_LOSS, retryable: true },
    { name: 'INVALID_ARGUMENT', code: grpc.status.INVALID_ARGUMENT, retryable: false },
    { name: 'UNAUTHENTICATED', code: grpc.status.UNAUTHENTICATED, retryable: false },
    { name: 'PERMISSION_DENIED', code: grpc.status.PERMISSION_DENIED, retryable: false },
    { name: 'INTERNAL', code: grpc.status.INTERNAL, retryable: false },
    { name: 'UNIMPLEMENTED', code: grpc.status.UNIMPLEMENTED, retryable: false },
  ];
  for (const c of cases) {
    it(`classifies ${c.name} as ${c.retryable ? 'retryable' : 'permanent'}`, async () => {
      const metadata = c.retryInfoMillis !== undefined ? statusWithRetryInfo(c.code, 'busy', c.retryInfoMillis) : undefined;
      server.answers.push({ error: { code: c.code, details: 'busy', metadata } });
      const err = await exportOnce({ endpoint: server.target, tls: { insecure: true } }, { signal: 'traces', data: traces }).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(c.retryable ? err instanceof RetryableError : err instanceof PermanentError, String(err));
      assert.match((err as Error).message, new RegExp(`${grpc.status[c.code]} from http://127\\.0\\.0\\.1:\\d+: busy`));
      if (c.retryable) assert.equal((err as RetryableError).retryAfterMillis, c.retryInfoMillis);
    });
  }

  it('treats a server that cannot be reached as retryable', async () => {
    const port = await freePort();
    await assert.rejects(exportOnce({ endpoint: `127.0.0.1:${port}`, tls: { insecure: true } }, { signal: 'traces', data: traces }), (err: unknown) => err instanceof RetryableError && /UNAVAILABLE/.test(err.message));
  });

  it('logs a partial success with the rejected count and message, and does not retry it', async () => {
    server.calls.length = 0;
    server.answers.push({ response: Buffer.from(encodeExportResponse('traces', { rejected: 5, message: 'spans too old' })) });
    const { logger, lines } = captureLogger();
    const e = makeExporter(otlpGrpcExporterFactory, { endpoint: server.target, tls: { insecure: true }, retry_on_failure: { enabled: true, initial_interval: '10ms' } }, logger);
    await sendOnce(e, { signal: 'traces', data: traces });
    assert.equal(server.calls.length, 1);
    const warn = lines.find((l) => l.level === 40);
    assert.ok(warn, JSON.stringify(lines));
    assert.equal(warn.rejected, 5);
    assert.equal(warn.error_message, 'spans too old');
    assert.match(String(warn.msg), /rejected 5 spans: spans too old/);
  });
});

describe('otlp_grpc exporter over TLS', () => {
  let cert: TestCert;
  let server: FakeGrpcServer;
  // TLS by the name on the certificate: grpc-js sends the target's host as SNI, which for an IP
  // address Node refuses with a warning (DEP0123: RFC 6066 allows host names only).
  let target: string;
  before(async () => {
    cert = makeCert();
    server = await startGrpcServer(grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert.cert, private_key: cert.key }]));
    target = server.target.replace(/^127\.0\.0\.1:/, 'localhost:');
  });
  after(async () => {
    await server.close();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  it('uses TLS by default and verifies the server with tls::ca_file', async () => {
    server.calls.length = 0;
    await exportOnce({ endpoint: target, tls: { ca_file: cert.certFile } }, { signal: 'traces', data: traces });
    await exportOnce({ endpoint: `https://${target}`, tls: { ca_file: cert.certFile } }, { signal: 'traces', data: traces });
    assert.equal(server.calls.length, 2);
  });

  it('refuses an unknown server certificate (retryable), unless tls::insecure_skip_verify', async () => {
    await assert.rejects(exportOnce({ endpoint: target }, { signal: 'traces', data: traces }), (err: unknown) => err instanceof RetryableError);
    server.calls.length = 0;
    await exportOnce({ endpoint: target, tls: { insecure_skip_verify: true } }, { signal: 'traces', data: traces });
    assert.equal(server.calls.length, 1);
  });

  it('cannot talk plaintext (tls::insecure) to a TLS server', async () => {
    await assert.rejects(exportOnce({ endpoint: target, tls: { insecure: true } }, { signal: 'traces', data: traces }), (err: unknown) => err instanceof RetryableError);
  });

  it('uses TLS for tls::insecure with a CA, as the collector\'s configtls does', async () => {
    server.calls.length = 0;
    await exportOnce({ endpoint: target, tls: { insecure: true, ca_file: cert.certFile } }, { signal: 'traces', data: traces });
    await exportOnce({ endpoint: target, tls: { insecure: true, ca_pem: cert.cert.toString() } }, { signal: 'traces', data: traces });
    assert.equal(server.calls.length, 2);
  });
});
