/**
 * The otlp_http and otlp_grpc exporters' `tls` against local OTLP servers: the outgoing TLS cases
 * (test/exporters/tls-scenarios.ts), and `reload_interval` picking up a renewed client certificate.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { otlpGrpcExporterFactory, otlpHttpExporterFactory } from '../../../exporters/otlp/index.js';
import type { Exporter } from '../../../src/component.js';
import { decodeLogsRequest } from '../../../src/otlp/proto.js';
import { makeTestPki, type TestPki } from '../../tls/pki.js';
import { describeTlsScenarios, httpsServerOptions, tlsTestEvents } from '../tls-scenarios.js';
import { makeExporter, startGrpcServer, startHttpServer } from './servers.js';

/** Log records in OTLP request bodies. */
const logRecords = (bodies: Buffer[]) => bodies.reduce((n, b) => n + decodeLogsRequest(b).resourceLogs.reduce((m, rl) => m + rl.scopeLogs.reduce((k, sl) => k + sl.logRecords.length, 0), 0), 0);

describeTlsScenarios('otlp_http', {
  factory: otlpHttpExporterFactory,
  async serve(t) {
    const server = await startHttpServer(httpsServerOptions(t));
    return { config: { endpoint: server.url }, received: () => logRecords(server.requests.map((r) => r.body)), close: () => server.close() };
  },
});

describeTlsScenarios('otlp_grpc', {
  factory: otlpGrpcExporterFactory,
  async serve(t) {
    const server = await startGrpcServer(grpc.ServerCredentials.createSsl(t.clientCa ?? null, [{ cert_chain: t.cert, private_key: t.key }], t.clientCa !== undefined));
    // By name: grpc-js sends the target's host as SNI, which Node refuses for an IP address with a warning.
    const endpoint = server.target.replace(/^127\.0\.0\.1:/, 'localhost:');
    return { config: { endpoint }, received: () => logRecords(server.calls.map((c) => c.body)), close: () => server.close() };
  },
});

describe('otlp exporters: tls::reload_interval', () => {
  let pki: TestPki;
  let dir: string;
  before(() => {
    pki = makeTestPki();
    dir = fs.mkdtempSync(path.join(pki.dir, 'reload-'));
  });
  after(() => pki.remove());

  /** The client certificate and key files the exporter reads, renewed by `renew()`. */
  function clientFiles() {
    const certFile = path.join(dir, `client-${Math.random().toString(36).slice(2)}.pem`);
    const keyFile = `${certFile}.key`;
    fs.copyFileSync(pki.client.certFile, certFile);
    fs.copyFileSync(pki.client.keyFile, keyFile);
    return {
      tls: { ca_file: pki.ca.certFile, cert_file: certFile, key_file: keyFile, reload_interval: '50ms' },
      renew() {
        fs.copyFileSync(pki.client2.certFile, certFile);
        fs.copyFileSync(pki.client2.keyFile, keyFile);
      },
    };
  }

  async function sendTwiceAcrossRenewal(e: Exporter, renew: () => void): Promise<void> {
    await e.start({ getExporter: () => undefined });
    try {
      await e.consume({ signal: 'events', data: tlsTestEvents(1) });
      renew();
      await new Promise((r) => setTimeout(r, 80));
      await e.consume({ signal: 'events', data: tlsTestEvents(1) });
    } finally {
      await e.shutdown();
    }
  }

  it('otlp_http: connections made after a renewal present the new client certificate, without a restart', async () => {
    const server = await startHttpServer(httpsServerOptions({ cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert }));
    try {
      const files = clientFiles();
      await sendTwiceAcrossRenewal(makeExporter(otlpHttpExporterFactory, { endpoint: server.url, tls: files.tls }), files.renew);
      assert.deepEqual(server.requests.map((r) => r.clientCertificate), ['otelytics-client', 'otelytics-client-renewed']);
    } finally {
      await server.close();
    }
  });

  it('otlp_grpc: a renewal makes a new channel with the new client certificate, without a restart', async () => {
    const server = await startGrpcServer(grpc.ServerCredentials.createSsl(pki.ca.cert, [{ cert_chain: pki.server.cert, private_key: pki.server.key }], true));
    try {
      const files = clientFiles();
      await sendTwiceAcrossRenewal(makeExporter(otlpGrpcExporterFactory, { endpoint: server.target.replace(/^127\.0\.0\.1:/, 'localhost:'), tls: files.tls }), files.renew);
      assert.deepEqual(server.calls.map((c) => c.clientCertificate), ['otelytics-client', 'otelytics-client-renewed']);
    } finally {
      await server.close();
    }
  });
});
