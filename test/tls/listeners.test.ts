/**
 * TLS on the gateway's other listeners (`health_check`, the status page, the metrics endpoint),
 * and the exposure guard: the status page and the metrics endpoint are refused beyond localhost
 * without TLS and a bearer token; the health check may be bound anywhere.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/resolve.js';
import { ConfigErrors } from '../../src/errors.js';
import { healthCheckFactory, healthCheckSchema } from '../../src/extensions/health_check.js';
import { defaultRegistry } from '../../src/registry.js';
import { Telemetry } from '../../src/telemetry.js';
import { fingerprint, makeCa } from './pki.js';
import { freePort, startGateway, type RunningGateway } from '../helpers.js';

/** A GET over https trusting `ca`; resolves with the status, body and the served certificate's fingerprint. */
function get(port: number, urlPath: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca, servername: 'localhost', headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint: (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256 }));
    });
    req.on('error', reject);
  });
}

/** The messages of the config errors of the example config with `sets` applied. */
function errorsOf(sets: Record<string, unknown>): string[] {
  const raw = structuredClone(baseConfig) as Record<string, any>;
  for (const [key, value] of Object.entries(sets)) {
    const parts = key.split('::');
    let node = raw;
    for (const p of parts.slice(0, -1)) node = node[p] ??= {};
    node[parts.at(-1)!] = value;
  }
  try {
    resolveConfig(raw, defaultRegistry());
    return [];
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
    throw err;
  }
}
const baseConfig = {
  receivers: { otlp: {} },
  exporters: { nop: {} },
  extensions: { health_check: {}, status: {} },
  service: { extensions: ['health_check', 'status'], pipelines: { traces: { receivers: ['otlp'], exporters: ['nop'] } } },
};

describe('exposure guard', () => {
  const tls = { cert_file: '/certs/tls.crt', key_file: '/certs/tls.key' };
  const token = 'a-token-of-sixteen-or-more';

  it('refuses the status page beyond localhost without tls and a bearer token, naming what is missing', () => {
    assert.deepEqual(errorsOf({ 'extensions::status::endpoint': '0.0.0.0:55679' }), [
      'extensions::status::endpoint: 0.0.0.0:55679 is beyond localhost, where the status page (event tail, playground) needs tls and auth::bearer_token; tls and auth::bearer_token are not set. Set tls and auth::bearer_token, or bind 127.0.0.1 and reach the page through kubectl port-forward or an SSH tunnel',
    ]);
    assert.match(errorsOf({ 'extensions::status::endpoint': '10.0.0.5:55679', 'extensions::status::auth': { bearer_token: token } }).join('\n'), /^extensions::status::endpoint: .*; tls is not set\. Set tls, or bind 127\.0\.0\.1/);
    assert.match(errorsOf({ 'extensions::status::endpoint': ':55679', 'extensions::status::tls': tls }).join('\n'), /auth::bearer_token is not set/);
    assert.deepEqual(errorsOf({ 'extensions::status::endpoint': '0.0.0.0:55679', 'extensions::status::tls': tls, 'extensions::status::auth': { bearer_token: token } }), []);
    assert.deepEqual(errorsOf({ 'extensions::status::endpoint': 'localhost:55679' }), []);
    assert.deepEqual(errorsOf({ 'extensions::status::endpoint': '[::1]:55679' }), []);
  });

  it('refuses the metrics endpoint beyond localhost without tls and a bearer token, unless it is off', () => {
    assert.match(errorsOf({ 'service::telemetry::metrics::address': '0.0.0.0:8888' }).join('\n'), /^service::telemetry::metrics::address: 0\.0\.0\.0:8888 is beyond localhost, where the metrics endpoint .* tls and auth::bearer_token are not set/);
    assert.deepEqual(errorsOf({ 'service::telemetry::metrics::address': '0.0.0.0:8888', 'service::telemetry::metrics::tls': tls, 'service::telemetry::metrics::auth': { bearer_token: token } }), []);
    assert.deepEqual(errorsOf({ 'service::telemetry::metrics::address': '0.0.0.0:8888', 'service::telemetry::metrics::level': 'none' }), []);
    assert.match(errorsOf({ 'service::telemetry::metrics::auth': { bearer_token: 'short' } }).join('\n'), /^service::telemetry::metrics::auth::bearer_token: must be at least 16 characters/);
  });

  it('lets the health check be bound anywhere, with or without tls (kubelet probes reach the pod IP)', () => {
    assert.deepEqual(errorsOf({ 'extensions::health_check::endpoint': '0.0.0.0:13133' }), []);
    assert.deepEqual(errorsOf({ 'extensions::health_check::endpoint': '0.0.0.0:13133', 'extensions::health_check::tls': tls }), []);
  });

  it('stops the gateway at start-up with the config path', async () => {
    const port = await freePort();
    await assert.rejects(startGateway({ sets: [`extensions::status::endpoint=0.0.0.0:${port}`] }), (err: Error) => {
      assert.match(err.message, /gateway exited with 1/);
      assert.match(err.message, new RegExp(`extensions::status::endpoint: 0\\.0\\.0\\.0:${port} is beyond localhost`));
      return true;
    });
  });
});

describe('TLS on health_check, the status page and the metrics endpoint', () => {
  const ca = makeCa();
  const server = ca.sign('server', { cn: 'gateway', server: true });
  const caPem = fs.readFileSync(ca.caFile, 'utf8');
  const metricsToken = 'metrics-token-0123456789';
  const statusToken = 'status-token-0123456789';
  let gw: RunningGateway;

  before(async () => {
    const tls = (prefix: string) => [`${prefix}::tls::cert_file=${server.certFile}`, `${prefix}::tls::key_file=${server.keyFile}`];
    gw = await startGateway({
      sets: [
        ...tls('service::telemetry::metrics'),
        `service::telemetry::metrics::auth::bearer_token=${metricsToken}`,
        ...tls('extensions::status'),
        `extensions::status::auth::bearer_token=${statusToken}`,
        `exporters::file::path=${path.join(ca.dir, 'events.jsonl')}`,
        'exporters::debug::verbosity=basic',
      ],
    });
  });
  after(async () => {
    await gw?.stop();
    if (gw) fs.rmSync(gw.dir, { recursive: true, force: true });
    ca.rm();
  });

  it('serves metrics over https to scrapes with the bearer token only', async () => {
    const ok = await get(gw.ports.metrics, '/metrics', caPem, { authorization: `Bearer ${metricsToken}` });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^otelcol_process_uptime /m);
    assert.equal(ok.fingerprint, fingerprint(server.certFile));
    assert.equal((await get(gw.ports.metrics, '/metrics', caPem)).status, 401);
    assert.equal((await get(gw.ports.metrics, '/metrics', caPem, { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    await assert.rejects(fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`), 'plain http is not served');
  });

  it('serves the status page over https, its API with the bearer token only', async () => {
    assert.equal((await get(gw.ports.status, '/api/graph', caPem, { authorization: `Bearer ${statusToken}` })).status, 200);
    assert.equal((await get(gw.ports.status, '/api/graph', caPem)).status, 401);
  });

  it('serves the health check over https with tls', async () => {
    const port = await freePort();
    const ext = healthCheckFactory.create(
      { id: 'health_check', logger: pino({ level: 'silent' }), telemetry: new Telemetry() },
      healthCheckSchema.parse({ endpoint: `127.0.0.1:${port}`, tls: { cert_file: server.certFile, key_file: server.keyFile } }),
    );
    await ext.start({ getExporter: () => undefined });
    try {
      ext.onReadyChange!(true);
      const r = await get(port, '/readyz', caPem);
      assert.equal(r.status, 200);
      assert.equal(r.fingerprint, fingerprint(server.certFile));
    } finally {
      await ext.shutdown();
    }
  });

  it('names the option of a certificate that cannot be read, at start-up', async () => {
    const ext = healthCheckFactory.create({ id: 'health_check', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, healthCheckSchema.parse({ endpoint: '127.0.0.1:0', tls: { cert_file: '/nonexistent.pem', key_file: server.keyFile } }));
    await assert.rejects(ext.start({ getExporter: () => undefined }), { message: 'tls::cert_file: cannot read /nonexistent.pem: ENOENT' });
    await assert.rejects(startGateway({ sets: ['service::telemetry::metrics::tls::cert_file=/nonexistent.pem', `service::telemetry::metrics::tls::key_file=${server.keyFile}`] }), /service::telemetry::metrics::tls::cert_file: cannot read \/nonexistent\.pem: ENOENT/);
  });
});
