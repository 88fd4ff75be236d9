/**
 * The otlp receiver over TLS and mutual TLS, HTTP and gRPC, with the real OpenTelemetry JS SDK's
 * exporters as clients configured by their standard environment variables
 * (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`,
 * `OTEL_EXPORTER_OTLP_CLIENT_KEY`), certificates made by openssl in the test, and a certificate
 * replaced on disk while the receiver runs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as TracesGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { AuthFailures } from '../../../src/auth/server.js';
import type { Payload } from '../../../src/component.js';
import { Telemetry } from '../../../src/telemetry.js';
import { ServerTlsSource, tlsServerSchema } from '../../../src/tls/server.js';
import { grpcSchema, httpSchema } from '../../../receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../../receivers/otlp/grpc.js';
import { ExportHandler } from '../../../receivers/otlp/handler.js';
import { OtlpHttpServer } from '../../../receivers/otlp/http.js';
import { fingerprint, makeCa } from '../../tls/pki.js';

const logger = pino({ level: 'silent' });

/** Two ended SDK spans to export. */
function sdkSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'tls-test' }), spanProcessors: [new SimpleSpanProcessor(memory)] });
  provider.getTracer('t').startSpan('GET /a').end();
  provider.getTracer('t').startSpan('GET /b').end();
  return memory.getFinishedSpans();
}

/**
 * One export to `https://127.0.0.1:<port>` by an SDK exporter configured by the environment
 * variables `env` alone (set while it is made and exports: the gRPC exporter reads its
 * credentials when it first connects).
 */
async function sdkExport(transport: 'http' | 'grpc', port: number, env: Record<string, string>): Promise<ExportResult> {
  const vars: Record<string, string> = { OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_TIMEOUT: '2000', ...env };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    const exporter = transport === 'grpc' ? new TracesGrpc() : new TracesProto();
    const result = await new Promise<ExportResult>((resolve) => exporter.export(sdkSpans(), resolve));
    await exporter.shutdown();
    return result;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The certificate a new TLS connection to `port` is served, by its SHA-256 fingerprint. */
function served(port: number, ca: string, alpn: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: alpn }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.on('error', reject);
  });
}

type Server = { port: number; shutdown(): Promise<void> };

describe('otlp receiver over TLS and mutual TLS', () => {
  const ca = makeCa();
  const other = makeCa('another CA');
  const first = ca.sign('first', { cn: 'gateway-first', server: true });
  const second = ca.sign('second', { cn: 'gateway-second', server: true });
  const teamA = ca.sign('team-a', { cn: 'team-a' });
  const rogue = other.sign('rogue', { cn: 'team-a' });
  const live = { certFile: path.join(ca.dir, 'live.crt'), keyFile: path.join(ca.dir, 'live.key') };
  const caPem = fs.readFileSync(ca.caFile, 'utf8');
  const received: Payload[] = [];
  const telemetry = new Telemetry();
  const handler = new ExportHandler('otlp', { traces: { consume: async (p: Payload) => void received.push(p) } }, telemetry, logger);
  const failures = new AuthFailures('otlp', telemetry, logger);
  const servers: Record<'http' | 'grpc' | 'httpMutual' | 'grpcMutual', Server> = {} as never;

  before(async () => {
    fs.copyFileSync(first.certFile, live.certFile);
    fs.copyFileSync(first.keyFile, live.keyFile);
    for (const transport of ['http', 'grpc'] as const) {
      for (const mutual of [false, true]) {
        const tlsCfg = mutual ? { cert_file: second.certFile, key_file: second.keyFile, client_ca_file: ca.caFile } : { cert_file: live.certFile, key_file: live.keyFile, reload_interval: '100ms' };
        const source = new ServerTlsSource(tlsServerSchema.parse(tlsCfg), `protocols::${transport}::tls`, logger);
        const server =
          transport === 'http'
            ? new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', tls: tlsCfg }), handler, logger)
            : new OtlpGrpcServer(grpcSchema.parse({ endpoint: '127.0.0.1:0', tls: tlsCfg }), handler);
        await server.start({ tls: source, failures });
        servers[mutual ? (transport === 'http' ? 'httpMutual' : 'grpcMutual') : transport] = server;
      }
    }
  });

  after(async () => {
    await Promise.all(Object.values(servers).map((s) => s.shutdown()));
    failures.close();
    ca.rm();
    other.rm();
  });

  for (const transport of ['http', 'grpc'] as const) {
    it(`${transport}: takes spans from an SDK that trusts the CA (OTEL_EXPORTER_OTLP_CERTIFICATE), not from one that does not`, async () => {
      const before = received.length;
      const ok = await sdkExport(transport, servers[transport].port, { OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile });
      assert.equal(ok.code, ExportResultCode.SUCCESS, String(ok.error));
      assert.equal(received.length, before + 1);
      assert.equal(received.at(-1)!.client, undefined, 'TLS without client certificates knows no client');
      const untrusting = await sdkExport(transport, servers[transport].port, {});
      assert.equal(untrusting.code, ExportResultCode.FAILED);
      assert.equal(received.length, before + 1);
    });

    it(`${transport}: serves a certificate replaced on disk to new connections, without a restart`, async () => {
      const port = servers[transport].port;
      const alpn = transport === 'grpc' ? ['h2'] : ['http/1.1'];
      assert.equal(await served(port, caPem, alpn), fingerprint(first.certFile));
      fs.copyFileSync(second.keyFile, live.keyFile);
      fs.copyFileSync(second.certFile, live.certFile);
      const deadline = Date.now() + 5000;
      while ((await served(port, caPem, alpn)) !== fingerprint(second.certFile)) {
        assert.ok(Date.now() < deadline, 'the new certificate was not served within 5 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      const ok = await sdkExport(transport, port, { OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile });
      assert.equal(ok.code, ExportResultCode.SUCCESS, String(ok.error));
      // Back to the first, for the other transport's run.
      fs.copyFileSync(first.keyFile, live.keyFile);
      fs.copyFileSync(first.certFile, live.certFile);
      while ((await served(port, caPem, alpn)) !== fingerprint(first.certFile)) await new Promise((r) => setTimeout(r, 50));
    });

    it(`${transport}: mutual TLS takes a client certificate the CA signed (OTEL_EXPORTER_OTLP_CLIENT_*), and its CN is the client's subject`, async () => {
      const port = servers[transport === 'http' ? 'httpMutual' : 'grpcMutual'].port;
      const before = received.length;
      const ok = await sdkExport(transport, port, { OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: teamA.certFile, OTEL_EXPORTER_OTLP_CLIENT_KEY: teamA.keyFile });
      assert.equal(ok.code, ExportResultCode.SUCCESS, String(ok.error));
      assert.equal(received.length, before + 1);
      assert.deepEqual(received.at(-1)!.client, { auth: { subject: 'team-a' } });
    });

    it(`${transport}: mutual TLS refuses a client without a certificate, or with one another CA signed`, async () => {
      const port = servers[transport === 'http' ? 'httpMutual' : 'grpcMutual'].port;
      const before = received.length;
      const none = await sdkExport(transport, port, { OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile });
      assert.equal(none.code, ExportResultCode.FAILED);
      const foreign = await sdkExport(transport, port, { OTEL_EXPORTER_OTLP_CERTIFICATE: ca.caFile, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: rogue.certFile, OTEL_EXPORTER_OTLP_CLIENT_KEY: rogue.keyFile });
      assert.equal(foreign.code, ExportResultCode.FAILED);
      assert.equal(received.length, before, 'nothing reached the pipeline');
    });
  }

  it('counts refused client certificates on the HTTP listener as auth failures (reason tls)', async () => {
    const metrics = await telemetry.registry.getSingleMetricAsString('otelytics_receiver_auth_failures');
    assert.ok(Number(/transport="http",reason="tls"\} (\d+)/.exec(metrics)?.[1] ?? 0) >= 2, metrics);
  });

  it('refuses a TLS version below min_version', async () => {
    const tlsCfg = { cert_file: first.certFile, key_file: first.keyFile, min_version: '1.3' };
    const server = new OtlpHttpServer(httpSchema.parse({ endpoint: '127.0.0.1:0', tls: tlsCfg }), handler, logger);
    await server.start({ tls: new ServerTlsSource(tlsServerSchema.parse(tlsCfg), 'tls', logger) });
    try {
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port: server.port, ca: caPem, servername: 'localhost', maxVersion: 'TLSv1.2' }, () => resolve(s.destroy()));
          s.on('error', reject);
        }),
        /protocol version|alert/i,
      );
      assert.equal(await served(server.port, caPem, ['http/1.1']), fingerprint(first.certFile), 'TLS 1.3 is served');
    } finally {
      await server.shutdown();
    }
  });
});
