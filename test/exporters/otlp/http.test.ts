/** The `otlp_http` exporter against local OTLP/HTTP(S) servers. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { otlpHttpExporterFactory, otlphttpExporterFactory } from '../../../exporters/otlp/index.js';
import { OtlpHttpTransport } from '../../../exporters/otlp/http.js';
import { otlpHttpSchema } from '../../../exporters/otlp/config.js';
import type { Payload } from '../../../src/component.js';
import { PermanentError, RetryableError } from '../../../src/errors.js';
import { logsDataToEvents } from '../../../src/event.js';
import { decodeLogsJson, encodeExportResponseJson, encodeStatusJson } from '../../../src/otlp/json.js';
import { decodeLogsRequest, decodeTracesRequest, encodeExportResponse, encodeStatus } from '../../../src/otlp/proto.js';
import { freePort, readFixture } from '../../helpers.js';
import { captureLogger, makeCert, makeExporter, sendOnce, startHttpServer, type FakeHttpServer, type TestCert } from './servers.js';

const traces = decodeTracesRequest(readFixture('traces-shop-01.pb'));
const logs = decodeLogsRequest(readFixture('logs-shop-01.pb'));
const events = logsDataToEvents(logs);
const never = new AbortController().signal;

function transport(raw: Record<string, unknown>): OtlpHttpTransport {
  return new OtlpHttpTransport('otlp_http', otlpHttpSchema.parse(raw), 'otelytics/test');
}

async function exportOnce(raw: Record<string, unknown>, p: Payload) {
  const t = transport(raw);
  await t.start();
  try {
    return await t.export(p, never);
  } finally {
    await t.shutdown();
  }
}

describe('otlp_http exporter', () => {
  let server: FakeHttpServer;
  before(async () => (server = await startHttpServer()));
  after(() => server.close());

  it('sends spans unchanged as gzip-compressed protobuf to <endpoint>/v1/traces, with the configured headers', async () => {
    server.requests.length = 0;
    await sendOnce(makeExporter(otlpHttpExporterFactory, { endpoint: `${server.url}/base/`, headers: { 'x-api-key': 'k-1' } }), { signal: 'traces', data: traces });
    const [req] = server.requests;
    assert.equal(server.requests.length, 1);
    assert.equal(req!.path, '/base/v1/traces');
    assert.equal(req!.headers['content-type'], 'application/x-protobuf');
    assert.equal(req!.headers['content-encoding'], 'gzip');
    assert.equal(req!.headers['x-api-key'], 'k-1');
    assert.match(String(req!.headers['user-agent']), /^otelytics\//);
    assert.deepEqual(decodeTracesRequest(req!.body), traces);
  });

  it('sends log records unchanged as OTLP/JSON without compression (encoding: json, compression: none)', async () => {
    server.requests.length = 0;
    await sendOnce(makeExporter(otlpHttpExporterFactory, { endpoint: server.url, encoding: 'json', compression: 'none' }), { signal: 'logs', data: logs });
    const [req] = server.requests;
    assert.equal(req!.path, '/v1/logs');
    assert.equal(req!.headers['content-type'], 'application/json');
    assert.equal(req!.headers['content-encoding'], undefined);
    assert.deepEqual(decodeLogsJson(req!.body.toString('utf8')), logs);
  });

  it('sends events as log records with their event name, losslessly (otlphttp alias, logs_endpoint)', async () => {
    server.requests.length = 0;
    assert.ok(events.length > 3);
    await sendOnce(makeExporter(otlphttpExporterFactory, { logs_endpoint: `${server.url}/ingest/events` }), { signal: 'events', data: events });
    const [req] = server.requests;
    assert.equal(req!.path, '/ingest/events');
    const received = decodeLogsRequest(req!.body);
    const names = received.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => r.eventName)));
    assert.deepEqual(names.sort(), events.map((e) => e.name).sort());
    assert.deepEqual(logsDataToEvents(received).sort((a, b) => a.insert_id.localeCompare(b.insert_id)), [...events].sort((a, b) => a.insert_id.localeCompare(b.insert_id)));
  });

  it('refuses a signal it has no URL for with a permanent error', async () => {
    await assert.rejects(exportOnce({ logs_endpoint: `${server.url}/v1/logs` }, { signal: 'traces', data: traces }), (err: unknown) => err instanceof PermanentError && /no URL for traces/.test(err.message));
  });

  const cases: { name: string; answer: { status: number; headers?: Record<string, string>; body?: Uint8Array | string }; retryable: boolean; retryAfterMillis?: number; message?: RegExp }[] = [
    { name: '429 with Retry-After seconds', answer: { status: 429, headers: { 'retry-after': '7' } }, retryable: true, retryAfterMillis: 7000 },
    { name: '503 with a Status body', answer: { status: 503, headers: { 'content-type': 'application/x-protobuf', 'retry-after': '2' }, body: encodeStatus(14, 'queue full') }, retryable: true, retryAfterMillis: 2000, message: /503.*queue full/ },
    { name: '502 without Retry-After', answer: { status: 502 }, retryable: true, retryAfterMillis: undefined },
    { name: '504', answer: { status: 504 }, retryable: true },
    { name: '400 with a protobuf Status', answer: { status: 400, headers: { 'content-type': 'application/x-protobuf' }, body: encodeStatus(3, 'spans[0].trace_id: expected 16 bytes') }, retryable: false, message: /400.*expected 16 bytes/ },
    { name: '400 with a JSON Status', answer: { status: 400, headers: { 'content-type': 'application/json' }, body: encodeStatusJson(3, 'bad json') }, retryable: false, message: /bad json/ },
    { name: '413', answer: { status: 413 }, retryable: false },
    { name: '401', answer: { status: 401, headers: { 'content-type': 'text/plain' }, body: 'missing api key' }, retryable: false, message: /missing api key/ },
    { name: '500', answer: { status: 500 }, retryable: false },
    { name: '501', answer: { status: 501 }, retryable: false },
  ];
  for (const c of cases) {
    it(`classifies ${c.name} as ${c.retryable ? 'retryable' : 'permanent'}`, async () => {
      server.answers.push(c.answer);
      const err = await exportOnce({ endpoint: server.url }, { signal: 'traces', data: traces }).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(c.retryable ? err instanceof RetryableError : err instanceof PermanentError, String(err));
      if ('retryAfterMillis' in c) assert.equal((err as RetryableError).retryAfterMillis, c.retryAfterMillis);
      if (c.message) assert.match((err as Error).message, c.message);
    });
  }

  it('honours a Retry-After given as an HTTP date', async () => {
    server.answers.push({ status: 503, headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() } });
    const err = (await exportOnce({ endpoint: server.url }, { signal: 'logs', data: logs }).catch((e: unknown) => e)) as RetryableError;
    assert.ok(err instanceof RetryableError);
    assert.ok(err.retryAfterMillis! > 25_000 && err.retryAfterMillis! <= 30_000, String(err.retryAfterMillis));
  });

  it('treats a server that cannot be reached as retryable', async () => {
    const port = await freePort();
    await assert.rejects(exportOnce({ endpoint: `http://127.0.0.1:${port}` }, { signal: 'traces', data: traces }), (err: unknown) => err instanceof RetryableError && /ECONNREFUSED/.test(err.message));
  });

  it('gives up after timeout with a retryable error', async () => {
    server.answers.push({ status: 200, delayMillis: 3000 });
    const started = Date.now();
    const e = makeExporter(otlpHttpExporterFactory, { endpoint: server.url, timeout: '150ms' });
    await assert.rejects(sendOnce(e, { signal: 'traces', data: traces }), (err: unknown) => err instanceof RetryableError);
    assert.ok(Date.now() - started < 2500);
  });

  for (const encoding of ['proto', 'json'] as const) {
    it(`logs a partial success (${encoding}) with the rejected count and message, and does not retry it`, async () => {
      server.requests.length = 0;
      const body = encoding === 'json' ? encodeExportResponseJson('logs', { rejected: 3, message: 'attribute too long' }) : encodeExportResponse('logs', { rejected: 3, message: 'attribute too long' });
      server.answers.push({ status: 200, headers: { 'content-type': encoding === 'json' ? 'application/json' : 'application/x-protobuf' }, body });
      const { logger, lines } = captureLogger();
      const e = makeExporter(otlpHttpExporterFactory, { endpoint: server.url, encoding, retry_on_failure: { enabled: true, initial_interval: '10ms' } }, logger);
      await sendOnce(e, { signal: 'logs', data: logs });
      assert.equal(server.requests.length, 1);
      const warn = lines.find((l) => l.level === 40);
      assert.ok(warn, JSON.stringify(lines));
      assert.equal(warn.rejected, 3);
      assert.equal(warn.error_message, 'attribute too long');
      assert.match(String(warn.msg), /rejected 3 log records: attribute too long/);
    });
  }

  it('accepts a 200 with an empty partial_success as full success, without a warning', async () => {
    server.answers.push({ status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: encodeExportResponse('traces') });
    const { logger, lines } = captureLogger();
    await sendOnce(makeExporter(otlpHttpExporterFactory, { endpoint: server.url }, logger), { signal: 'traces', data: traces });
    assert.equal(lines.filter((l) => (l.level as number) >= 40).length, 0);
  });
});

describe('otlp_http exporter over TLS', () => {
  let cert: TestCert;
  let server: FakeHttpServer;
  let mtls: FakeHttpServer;
  before(async () => {
    cert = makeCert();
    server = await startHttpServer({ cert: cert.cert, key: cert.key });
    mtls = await startHttpServer({ cert: cert.cert, key: cert.key, ca: cert.cert, requestCert: true, rejectUnauthorized: true });
  });
  after(async () => {
    await server.close();
    await mtls.close();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  it('verifies the server with tls::ca_file', async () => {
    server.requests.length = 0;
    await exportOnce({ endpoint: server.url, tls: { ca_file: cert.certFile } }, { signal: 'traces', data: traces });
    assert.equal(server.requests.length, 1);
  });

  it('refuses an unknown server certificate (retryable: no answer), unless tls::insecure_skip_verify', async () => {
    await assert.rejects(exportOnce({ endpoint: server.url }, { signal: 'traces', data: traces }), (err: unknown) => err instanceof RetryableError && /certificate/i.test(err.message));
    server.requests.length = 0;
    await exportOnce({ endpoint: server.url, tls: { insecure_skip_verify: true } }, { signal: 'traces', data: traces });
    assert.equal(server.requests.length, 1);
  });

  it('presents a client certificate with tls::cert_file and tls::key_file (mutual TLS)', async () => {
    await assert.rejects(exportOnce({ endpoint: mtls.url, tls: { ca_file: cert.certFile } }, { signal: 'traces', data: traces }));
    mtls.requests.length = 0;
    await exportOnce({ endpoint: mtls.url, tls: { ca_file: cert.certFile, cert_file: cert.certFile, key_file: cert.keyFile } }, { signal: 'traces', data: traces });
    assert.equal(mtls.requests.length, 1);
  });

  it('fails to start with the option path when a TLS file cannot be read', async () => {
    const e = makeExporter(otlpHttpExporterFactory, { endpoint: server.url, tls: { ca_file: '/nonexistent/ca.pem' } });
    await assert.rejects(e.start({ getExporter: () => undefined }), /exporters::otlp_http::tls::ca_file: cannot read \/nonexistent\/ca\.pem/);
  });
});
