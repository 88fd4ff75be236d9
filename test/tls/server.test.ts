/** The listeners' `tls` section: schema, errors with their config path, reloads. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/resolve.js';
import { ConfigErrors, SettingError } from '../../src/errors.js';
import { defaultRegistry } from '../../src/registry.js';
import { isLoopbackHost, loadServerTls, ServerTlsSource, tlsServerSchema } from '../../src/tls/server.js';
import { fingerprint, makeCa } from './pki.js';

/** Every config error of a gateway config whose OTLP/HTTP protocol has this `tls` section. */
function tlsErrors(tls: unknown): string[] {
  try {
    resolveConfig(
      { receivers: { otlp: { protocols: { http: { tls } } } }, exporters: { nop: {} }, service: { pipelines: { traces: { receivers: ['otlp'], exporters: ['nop'] } } } },
      defaultRegistry(),
    );
    return [];
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
    throw err;
  }
}

describe('tls section of a listener', () => {
  const ca = makeCa();
  const server = ca.sign('server', { cn: 'gateway.test', server: true });
  const other = ca.sign('other', { cn: 'other.test', server: true });
  after(() => ca.rm());

  it("has the collector's defaults: TLS 1.2 and later, no reload, no client certificate", () => {
    const c = tlsServerSchema.parse({ cert_file: server.certFile, key_file: server.keyFile });
    assert.equal(c.min_version, '1.2');
    assert.equal(c.max_version, undefined);
    assert.equal(c.reload_interval, 0);
    assert.equal(c.reload_client_ca_file, false);
    const m = loadServerTls(c, 'protocols::http::tls');
    assert.equal(m.mutual, false);
    assert.equal(m.context.minVersion, 'TLSv1.2');
    assert.equal(m.certificate.subject, 'gateway.test');
    assert.equal(m.certificate.fingerprint256, fingerprint(server.certFile));
  });

  it('reads versions written as YAML numbers, and refuses a maximum below the minimum', () => {
    assert.equal(tlsServerSchema.parse({ cert_pem: 'x', key_pem: 'y', min_version: 1.3 }).min_version, '1.3');
    assert.equal(tlsServerSchema.parse({ cert_pem: 'x', key_pem: 'y', min_version: 1.0 }).min_version, '1.0');
    assert.deepEqual(tlsErrors({ cert_pem: 'x', key_pem: 'y', min_version: '1.3', max_version: '1.2' }), ['receivers::otlp::protocols::http::tls::max_version: "1.2" is below min_version "1.3"']);
    assert.match(tlsErrors({ cert_pem: 'x', key_pem: 'y', min_version: '1.4' })[0]!, /^receivers::otlp::protocols::http::tls::min_version: must be one of "1.0", "1.1", "1.2", "1.3", got "1.4"/);
  });

  it('names the missing or doubled option by its full path', () => {
    assert.deepEqual(tlsErrors({}), [
      "receivers::otlp::protocols::http::tls::cert_file: is required: the server's certificate (cert_file, or inline cert_pem)",
      "receivers::otlp::protocols::http::tls::key_file: is required: the certificate's private key (key_file, or inline key_pem)",
    ]);
    assert.deepEqual(tlsErrors({ cert_file: 'a', cert_pem: 'b', key_file: 'c' }), ["receivers::otlp::protocols::http::tls::cert_pem: give server's certificate once: cert_file or cert_pem, not both"]);
    assert.match(tlsErrors({ cert_file: 'a', key_file: 'b', ca_file: 'c' }).join('\n'), /tls::ca_file: unknown key/);
  });

  it('refuses unusable files at start-up with the option and the reason', () => {
    const load = (c: Record<string, unknown>) => {
      try {
        loadServerTls(tlsServerSchema.parse(c), 'protocols::grpc::tls');
      } catch (err) {
        assert.ok(err instanceof SettingError);
        return err.message;
      }
      assert.fail('loaded');
    };
    assert.equal(load({ cert_file: '/nonexistent/server.pem', key_file: server.keyFile }), 'protocols::grpc::tls::cert_file: cannot read /nonexistent/server.pem: ENOENT');
    assert.equal(load({ cert_file: server.keyFile, key_file: server.keyFile }), `protocols::grpc::tls::cert_file: ${server.keyFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    assert.equal(load({ cert_file: server.certFile, key_file: other.keyFile }), `protocols::grpc::tls::key_file: ${other.keyFile} is not the private key of the certificate in ${server.certFile} (the first certificate is the server's)`);
    assert.equal(load({ cert_file: server.certFile, key_file: server.certFile }).startsWith(`protocols::grpc::tls::key_file: ${server.certFile} holds no usable PEM private key`), true);
    const encrypted = path.join(ca.dir, 'encrypted.key');
    execFileSync('openssl', ['pkcs8', '-topk8', '-in', server.keyFile, '-out', encrypted, '-passout', 'pass:secret1234']);
    assert.equal(load({ cert_file: server.certFile, key_file: encrypted }), `protocols::grpc::tls::key_file: ${encrypted} is encrypted; give the key unencrypted (there is no option for a key password)`);
    assert.equal(load({ cert_file: server.certFile, key_file: server.keyFile, client_ca_file: server.keyFile }), `protocols::grpc::tls::client_ca_file: ${server.keyFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    assert.equal(load({ cert_pem: 'not a certificate', key_file: server.keyFile }), 'protocols::grpc::tls::cert_pem: the inline PEM holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  });

  it('takes inline PEM, and a client CA for mutual TLS', () => {
    const m = loadServerTls(tlsServerSchema.parse({ cert_pem: fs.readFileSync(server.certFile, 'utf8'), key_pem: fs.readFileSync(server.keyFile, 'utf8'), client_ca_file: ca.caFile }), 'tls');
    assert.equal(m.mutual, true);
    assert.ok(Buffer.isBuffer(m.context.ca));
  });

  describe('reloads', () => {
    const dir = path.join(ca.dir, 'live');
    const certFile = path.join(dir, 'tls.crt');
    const keyFile = path.join(dir, 'tls.key');
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    let source: ServerTlsSource;
    const seen: string[] = [];

    before(() => {
      fs.mkdirSync(dir);
      fs.copyFileSync(server.certFile, certFile);
      fs.copyFileSync(server.keyFile, keyFile);
      source = new ServerTlsSource(tlsServerSchema.parse({ cert_file: certFile, key_file: keyFile, reload_interval: '1h' }), 'protocols::http::tls', logger);
      source.watch((m) => seen.push(m.certificate.fingerprint256));
    });
    after(() => source.stop());

    it('keeps the certificate while the files are unchanged', () => {
      assert.equal(source.reload(), false);
      assert.deepEqual(seen, []);
    });

    it('keeps serving the old pair while only one of the files is replaced, and logs that once', () => {
      fs.copyFileSync(other.certFile, certFile);
      assert.equal(source.reload(), false);
      assert.equal(source.reload(), false);
      assert.equal(source.current.certificate.fingerprint256, fingerprint(server.certFile));
      assert.deepEqual(warnings, ['TLS files changed but cannot be used; serving the previous certificate']);
    });

    it('serves the new pair once both files are replaced, and tells the listener', () => {
      fs.copyFileSync(other.keyFile, keyFile);
      assert.equal(source.reload(), true);
      assert.equal(source.current.certificate.fingerprint256, fingerprint(other.certFile));
      assert.deepEqual(seen, [fingerprint(other.certFile)]);
    });

    it('keeps the pair when a file disappears', () => {
      fs.rmSync(keyFile);
      assert.equal(source.reload(), false);
      assert.equal(source.current.certificate.fingerprint256, fingerprint(other.certFile));
      assert.match(warnings.at(-1)!, /cannot be used; serving the previous certificate/);
    });
  });

  it('tells loopback hosts from others', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', 'app.localhost']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '', '10.0.0.1', 'gateway.example.com', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  });
});
