/**
 * The shared client TLS settings (src/tls/client.ts): the schema's defaults and checks, the Node
 * options made of a section, the errors naming the option, `reload_interval`, and what a failed
 * handshake is said to need.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ClientTls, ClientTlsAgent, clientTlsOptions, clientTlsSchema, tlsProblem, tlsProblemOf, wantsPlaintext, warnIfInsecureIgnored, warnIfSkipVerify } from '../../src/tls/client.js';
import { errorsOf } from '../config/errors.js';
import { captureLogger } from '../exporters/otlp/servers.js';
import { makeTestPki, MISNAMED_HOST, type TestPki } from './pki.js';

const schema = clientTlsSchema('test').prefault({});
const parse = (raw: Record<string, unknown>) => schema.parse(raw);
const AT = 'exporters::otlp_http/test';

/** The issues of a section, as `path: message`. */
function issues(raw: Record<string, unknown>): string[] {
  const r = schema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('::')}: ${i.message}`);
}

describe('client tls settings', () => {
  let pki: TestPki;
  before(() => (pki = makeTestPki()));
  after(() => pki.remove());

  it('defaults to TLS 1.2 or later, the system roots, verification on, no reloads', () => {
    assert.deepEqual(parse({}), { insecure: false, insecure_skip_verify: false, include_system_ca_certs_pool: false, min_version: '1.2', reload_interval: 0 });
    const o = clientTlsOptions(parse({}), AT);
    assert.deepEqual(o, { rejectUnauthorized: true, minVersion: 'TLSv1.2' });
  });

  it('refuses what cannot work, at the key to change', () => {
    assert.deepEqual(issues({ cert_file: '/c.pem' }), ['key_file: is needed with cert_file: the PEM private key of the client certificate']);
    assert.deepEqual(issues({ cert_pem: 'x' }), ['key_pem: is needed with cert_pem: the PEM private key of the client certificate']);
    assert.deepEqual(issues({ key_pem: 'x' }), ['cert_pem: is needed with key_pem: the PEM client certificate of the key']);
    assert.deepEqual(issues({ ca_file: '/ca.pem', ca_pem: 'x' }), ['ca_pem: cannot be used with ca_file: give it one way']);
    assert.deepEqual(issues({ min_version: '1.3', max_version: '1.2' }), ['max_version: must not be below min_version (1.3)']);
    assert.equal(issues({ min_version: '1.4' })[0]?.split(':')[0], 'min_version');
    assert.equal(issues({ reload_interval: 10 })[0], 'reload_interval: a duration needs a unit, e.g. "200ms" or "5s"');
    assert.match(issues({ insecure_skip_verfy: true }).join('\n'), /insecure_skip_verfy/);
    assert.deepEqual(issues({ cert_file: '/c.pem', key_pem: 'x', min_version: '1.3', max_version: '1.3', reload_interval: '1h' }), []);
  });

  it('config errors in the exporters\' tls sections carry their full path, all at once', () => {
    const errors = errorsOf(`
receivers: { otlp: }
processors: { analytics: }
exporters:
  amplitude: { api_key: k, tls: { cert_file: /c.pem } }
  bigquery: { dataset: d, table: t, tls: { ca_file: /ca.pem, ca_pem: x, min_version: "1.3", max_version: "1.2" } }
  otlp_http: { endpoint: "https://collector:4318", tls: { reload_interval: 5 } }
  kafka: { tls: { key_pem: x } }
service: { pipelines: { events: { receivers: [otlp], processors: [analytics], exporters: [amplitude, bigquery, otlp_http, kafka] } } }
`);
    assert.deepEqual(errors.sort(), [
      'exporters::amplitude::tls::key_file: is needed with cert_file: the PEM private key of the client certificate',
      'exporters::bigquery::tls::ca_pem: cannot be used with ca_file: give it one way',
      'exporters::bigquery::tls::max_version: must not be below min_version (1.3)',
      'exporters::kafka::tls::cert_pem: is needed with key_pem: the PEM client certificate of the key',
      'exporters::otlp_http::tls::reload_interval: a duration needs a unit, e.g. "200ms" or "5s"',
    ]);
  });

  it('plaintext only for insecure without a CA (the collector\'s configtls)', () => {
    assert.equal(wantsPlaintext(parse({ insecure: true })), true);
    assert.equal(wantsPlaintext(parse({ insecure: true, ca_file: '/ca.pem' })), false);
    assert.equal(wantsPlaintext(parse({ insecure: true, ca_pem: 'x' })), false);
    assert.equal(wantsPlaintext(parse({ insecure_skip_verify: true })), false);
  });

  it('makes Node options of files and PEM values', () => {
    const files = clientTlsOptions(parse({ ca_file: pki.ca.certFile, cert_file: pki.client.certFile, key_file: pki.client.keyFile, server_name_override: 'collector.internal', max_version: '1.3' }), AT);
    assert.deepEqual(files.ca, [pki.ca.cert]);
    assert.deepEqual([files.cert, files.key, files.servername, files.maxVersion, files.rejectUnauthorized], [pki.client.cert, pki.client.key, 'collector.internal', 'TLSv1.3', true]);
    const pems = clientTlsOptions(parse({ ca_pem: pki.ca.cert.toString(), include_system_ca_certs_pool: true, cert_pem: pki.client.cert.toString(), key_pem: pki.client.key.toString(), insecure_skip_verify: true, min_version: '1.3' }), AT);
    assert.equal((pems.ca as string[]).length, tls.rootCertificates.length + 1);
    assert.equal((pems.ca as string[]).at(-1), pki.ca.cert.toString('latin1'));
    assert.deepEqual([pems.rejectUnauthorized, pems.minVersion], [false, 'TLSv1.3']);
    // An IP address is checked against the certificate's addresses, and not sent as SNI.
    const byAddress = clientTlsOptions(parse({ server_name_override: '127.0.0.2' }), AT);
    assert.equal(byAddress.servername, undefined);
    const server = new crypto.X509Certificate(pki.server.cert).toLegacyObject();
    assert.match(String(byAddress.checkServerIdentity!('127.0.0.1', server)), /IP: 127\.0\.0\.2 is not in the cert's list/);
    assert.equal(clientTlsOptions(parse({ server_name_override: '127.0.0.1' }), AT).checkServerIdentity!('localhost', server), undefined);
  });

  it('says which option and which file when the material cannot be used', () => {
    const error = (raw: Record<string, unknown>) => {
      try {
        clientTlsOptions(parse(raw), AT);
      } catch (err) {
        return (err as Error).message;
      }
      return 'loaded';
    };
    const missing = path.join(pki.dir, 'missing.pem');
    const encrypted = path.join(pki.dir, 'encrypted.key');
    fs.writeFileSync(encrypted, crypto.createPrivateKey(pki.client.key).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'p' }));
    assert.equal(error({ ca_file: missing }), `${AT}::tls::ca_file: cannot read ${missing}: ENOENT`);
    assert.equal(error({ ca_file: pki.ca.keyFile }), `${AT}::tls::ca_file: ${pki.ca.keyFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    assert.equal(error({ ca_pem: 'hello' }), `${AT}::tls::ca_pem: the value holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    assert.equal(error({ cert_file: pki.client.certFile, key_file: pki.server.keyFile }), `${AT}::tls::key_file: ${pki.server.keyFile} is not the private key of cert_file ${pki.client.certFile}`);
    assert.equal(error({ cert_pem: pki.client.cert.toString(), key_pem: pki.client2.key.toString() }), `${AT}::tls::key_pem: the value is not the private key of cert_pem`);
    assert.equal(error({ cert_file: pki.client.certFile, key_file: encrypted }), `${AT}::tls::key_file: ${encrypted} is encrypted; give the key unencrypted (there is no option for a key password)`);
    assert.equal(error({ cert_file: pki.client.certFile, key_pem: 'not a key' }), `${AT}::tls::key_pem: the value holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
    assert.equal(error({ cert_file: pki.client.certFile, key_file: pki.client.keyFile, ca_file: pki.ca.certFile }), 'loaded');
  });

  it('warns at start about insecure_skip_verify, and only when it is on and TLS is used', () => {
    const { logger, lines } = captureLogger();
    ClientTls.load(parse({ insecure_skip_verify: true }), AT, logger);
    warnIfSkipVerify(parse({ insecure_skip_verify: true, insecure: true }), AT, logger);
    ClientTls.load(parse({}), AT, logger);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 40);
    assert.equal(lines[0]!.setting, `${AT}::tls::insecure_skip_verify`);
    assert.match(String(lines[0]!.msg), /is true: the server's certificate is not checked/);
  });

  it('warns that insecure does nothing for an https:// URL, and only then', () => {
    const { logger, lines } = captureLogger();
    warnIfInsecureIgnored(parse({ insecure: true }), AT, 'https://collector:4318/v1/logs', logger);
    warnIfInsecureIgnored(parse({ insecure: true }), AT, 'http://collector:4318/v1/logs', logger);
    warnIfInsecureIgnored(parse({ insecure: true, insecure_skip_verify: true }), AT, 'https://collector:4318/v1/logs', logger);
    warnIfInsecureIgnored(parse({}), AT, 'https://collector:4318/v1/logs', logger);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.setting, `${AT}::tls::insecure`);
    assert.match(String(lines[0]!.msg), /has no effect on https:\/\/collector:4318\/v1\/logs: the URL's scheme decides, and the server's certificate is checked/);
  });

  it('reload_interval: new connections present the renewed client certificate; a reload that fails keeps the old one', async () => {
    const dir = fs.mkdtempSync(path.join(pki.dir, 'reload-'));
    const certFile = path.join(dir, 'client.pem');
    const keyFile = path.join(dir, 'client.key');
    fs.copyFileSync(pki.client.certFile, certFile);
    fs.copyFileSync(pki.client.keyFile, keyFile);
    const seen: string[] = [];
    const server = https.createServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      seen.push((req.socket as tls.TLSSocket).getPeerCertificate().subject.CN as string);
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const { logger, lines } = captureLogger();
    const clientTls = ClientTls.load(parse({ ca_file: pki.ca.certFile, cert_file: certFile, key_file: keyFile, reload_interval: '40ms' }), AT, logger);
    const agent = new ClientTlsAgent(clientTls);
    const get = () =>
      new Promise<void>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
    try {
      await get();
      assert.equal(clientTls.generation, 0);
      fs.copyFileSync(pki.client2.certFile, certFile);
      fs.copyFileSync(pki.client2.keyFile, keyFile);
      await new Promise((r) => setTimeout(r, 60));
      await get();
      assert.equal(clientTls.generation, 1);
      // A half-written renewal (the old key under the new certificate) is not taken.
      fs.copyFileSync(pki.client.keyFile, keyFile);
      await new Promise((r) => setTimeout(r, 60));
      await get();
      assert.equal(clientTls.generation, 1);
      assert.deepEqual(seen, ['otelytics-client', 'otelytics-client-renewed', 'otelytics-client-renewed']);
      assert.ok(lines.some((l) => l.level === 40 && /the ones read before stay in use/.test(String(l.msg)) && /is not the private key of cert_file/.test(String(l.err))), JSON.stringify(lines));
    } finally {
      agent.destroy();
      server.close();
    }
  });

  describe('what a failed handshake needs', () => {
    const servers: tls.Server[] = [];
    after(() => servers.forEach((s) => s.close()));
    async function serve(options: tls.TlsOptions): Promise<number> {
      const s = tls.createServer(options, (socket) => socket.end('hello'));
      // TLS 1.3 servers report a refused client certificate after the handshake: nothing to do here.
      s.on('tlsClientError', () => undefined);
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return (s.address() as { port: number }).port;
    }
    function connect(port: number, options: tls.ConnectionOptions): Promise<unknown> {
      return new Promise((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ...options });
        socket.on('error', resolve);
        socket.on('data', () => {
          socket.destroy();
          resolve(undefined);
        });
      });
    }

    it('names tls::ca_file, tls::server_name_override, tls::cert_file', async () => {
      const plain = await serve({ cert: pki.server.cert, key: pki.server.key });
      const misnamed = await serve({ cert: pki.misnamed.cert, key: pki.misnamed.key });
      const mutual = await serve({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true });
      assert.equal(await connect(plain, { ca: pki.ca.cert }), undefined);
      const untrusted = await connect(plain, { ca: pki.otherCa.cert });
      assert.equal(tlsProblem(untrusted)?.kind, 'tls_untrusted');
      assert.match(tlsProblem(untrusted)!.hint, /^the server's certificate is not signed by a trusted CA: set tls::ca_file .*tls::insecure_skip_verify/);
      assert.equal(tlsProblem(await connect(misnamed, { ca: pki.ca.cert }))?.kind, 'tls_name');
      assert.equal(await connect(misnamed, { ca: pki.ca.cert, servername: MISNAMED_HOST }), undefined);
      assert.match(tlsProblem(await connect(misnamed, { ca: pki.ca.cert }), 'broker')!.hint, /the broker's certificate is not for the name connected to: .*set tls::server_name_override/);
      const noClientCert = await connect(mutual, { ca: pki.ca.cert });
      assert.equal(tlsProblem(noClientCert)?.kind, 'tls_client_certificate', String(noClientCert));
      assert.equal(await connect(mutual, { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key }), undefined);
      // As grpc-js passes it on: the message alone.
      assert.equal(tlsProblemOf({ message: 'No connection established. Last error: Error: self-signed certificate in certificate chain' }, 'server')?.kind, 'tls_untrusted');
      assert.equal(tlsProblem(new Error('connect ECONNREFUSED 127.0.0.1:9')), undefined);
    });
  });
});
