/**
 * The outgoing TLS cases every exporter with a `tls` section passes, against a local destination
 * serving certificates of a test PKI (test/tls/pki.ts): a trusted custom CA, an unknown CA (the
 * error names tls::ca_file and tls::insecure_skip_verify, nothing is delivered, and the events wait
 * in the persistent queue until a restart with the right CA delivers them), a certificate for
 * another name (tls::server_name_override), a destination that wants a client certificate
 * (tls::cert_file, tls::key_file), `insecure_skip_verify` (delivered, warned about at start), and a
 * `tls` file that cannot be read (the start fails naming the option).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import type { Exporter, ExporterFactory, Payload } from '../../src/component.js';
import { RetryableError } from '../../src/errors.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { Telemetry } from '../../src/telemetry.js';
import { makeTestPki, MISNAMED_HOST, type TestPki } from '../tls/pki.js';
import { captureLogger } from './otlp/servers.js';

/** What a test destination serves: its certificate and key, and the CA of the client certificates it requires. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** Require a client certificate signed by this CA (mutual TLS). */
  clientCa?: Buffer;
}

/** Node server options of a test destination's TLS. */
export function httpsServerOptions(t: ServerTls): https.ServerOptions {
  return { cert: t.cert, key: t.key, ...(t.clientCa ? { ca: t.clientCa, requestCert: true, rejectUnauthorized: true } : {}) };
}

/** A destination being served. */
export interface Destination {
  /** The exporter's config (without `tls`) to send here, as in a config file. */
  config: Record<string, unknown>;
  /** The events (or log records) it took so far, each counted once. */
  received(): number;
  close(): Promise<void>;
}

export interface TlsTarget {
  factory: ExporterFactory<unknown>;
  /** Starts a destination serving TLS with `tls`. */
  serve(tls: ServerTls): Promise<Destination>;
}

/** Events every destination takes (user ids long enough for Amplitude). */
export function tlsTestEvents(n = 3): AnalyticsEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    name: 'view_item',
    time_unix_nano: String(1_795_288_700_000_000_000n + BigInt(i) * 1_000_000n),
    insert_id: `tls-${i}-${Math.random().toString(36).slice(2)}`,
    user_id: `user-${1000 + i}`,
    properties: { item_id: `sku-${i}` },
    context: { source: 'span', 'service.name': 'shop-web' },
  }));
}

const host = { getExporter: () => undefined };

/** An exporter made by `target.factory`; `queue` keeps its sending queue on (else off, with no retries: one attempt). */
function exporter(target: TlsTarget, raw: Record<string, unknown>, logger: Logger, telemetry = new Telemetry()): Exporter {
  const base = { sending_queue: { enabled: false }, retry_on_failure: { enabled: false } };
  const cfg = target.factory.configSchema.parse({ ...base, ...raw });
  return target.factory.create({ id: target.factory.type, logger, telemetry }, cfg);
}

/** One attempt: resolves undefined when delivered, else with the error. */
async function attempt(target: TlsTarget, raw: Record<string, unknown>, logger: Logger = pino({ level: 'silent' })): Promise<Error | undefined> {
  const e = exporter(target, raw, logger);
  await e.start(host);
  try {
    await e.consume({ signal: 'events', data: tlsTestEvents() } satisfies Payload);
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    await e.shutdown();
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, millis = 10_000): Promise<void> {
  const deadline = Date.now() + millis;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The outgoing TLS cases for one exporter type. */
export function describeTlsScenarios(name: string, target: TlsTarget): void {
  describe(`${name}: tls`, () => {
    let pki: TestPki;
    let plain: Destination;
    let misnamed: Destination;
    let mutual: Destination;
    const type = target.factory.type;
    before(async () => {
      pki = makeTestPki();
      plain = await target.serve({ cert: pki.server.cert, key: pki.server.key });
      misnamed = await target.serve({ cert: pki.misnamed.cert, key: pki.misnamed.key });
      mutual = await target.serve({ cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert });
    });
    after(async () => {
      await plain.close();
      await misnamed.close();
      await mutual.close();
      pki.remove();
    });

    it('delivers over TLS verified with tls::ca_file, and with tls::ca_pem', async () => {
      const before = plain.received();
      assert.equal(await attempt(target, { ...plain.config, tls: { ca_file: pki.ca.certFile } }), undefined);
      assert.equal(await attempt(target, { ...plain.config, tls: { ca_pem: pki.ca.cert.toString() } }), undefined);
      assert.equal(plain.received(), before + 6);
    });

    it('refuses a server certificate from an unknown CA: retryable, naming tls::ca_file and tls::insecure_skip_verify, nothing delivered', async () => {
      const before = plain.received();
      for (const tls of [{}, { ca_file: pki.otherCa.certFile }]) {
        const err = await attempt(target, { ...plain.config, tls });
        assert.ok(err instanceof RetryableError, String(err));
        assert.match(err.message, /certificate is not signed by a trusted CA: set tls::ca_file to the PEM file of the CA that signed it \(tls::insecure_skip_verify: true skips the check/);
      }
      assert.equal(plain.received(), before);
    });

    it('keeps what it could not deliver in the persistent queue, and delivers it after a restart with the right CA', async () => {
      const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-tls-queue-'));
      try {
        const queued = { storage, drain_timeout: '100ms' };
        const retry = { enabled: true, initial_interval: '20ms', max_interval: '50ms', max_elapsed_time: 0 };
        const before = plain.received();
        const { logger, lines } = captureLogger();
        const telemetry = new Telemetry();
        const first = exporter(target, { ...plain.config, tls: {}, sending_queue: queued, retry_on_failure: retry }, logger, telemetry);
        await first.start(host);
        await first.consume({ signal: 'events', data: tlsTestEvents(4) });
        await until('two failed attempts', () => lines.filter((l) => l.msg === 'send failed; will retry').length >= 2);
        assert.match(String(lines.find((l) => l.msg === 'send failed; will retry')!.err), /set tls::ca_file/);
        assert.match(await telemetry.registry.metrics(), new RegExp(`otelcol_exporter_queue_size\\{exporter="${type}"\\} 4\\b`));
        await first.shutdown();
        assert.equal(plain.received(), before);
        assert.ok(!lines.some((l) => /dropped|dead-lettered/.test(String(l.msg))), JSON.stringify(lines));

        const second = exporter(target, { ...plain.config, tls: { ca_file: pki.ca.certFile }, sending_queue: queued, retry_on_failure: retry }, pino({ level: 'silent' }));
        await second.start(host);
        await until('the queued events delivered', () => plain.received() === before + 4);
        await second.shutdown();
      } finally {
        fs.rmSync(storage, { recursive: true, force: true });
      }
    });

    it('refuses a certificate for another name, naming tls::server_name_override, which fixes it', async () => {
      const err = await attempt(target, { ...misnamed.config, tls: { ca_file: pki.ca.certFile } });
      assert.ok(err instanceof RetryableError, String(err));
      assert.match(err.message, /certificate is not for the name connected to: .*set tls::server_name_override to a name it is for/);
      assert.equal(misnamed.received(), 0);
      assert.equal(await attempt(target, { ...misnamed.config, tls: { ca_file: pki.ca.certFile, server_name_override: MISNAMED_HOST } }), undefined);
      assert.equal(misnamed.received(), 3);
    });

    it('presents the client certificate of tls::cert_file and tls::key_file to a server that requires one, and is refused without', async () => {
      const err = await attempt(target, { ...mutual.config, tls: { ca_file: pki.ca.certFile } });
      assert.ok(err instanceof RetryableError, String(err));
      assert.match(err.message, /refused the client certificate: it wants one \(tls::cert_file, tls::key_file\)/);
      assert.equal(mutual.received(), 0);
      assert.equal(await attempt(target, { ...mutual.config, tls: { ca_file: pki.ca.certFile, cert_file: pki.client.certFile, key_file: pki.client.keyFile } }), undefined);
      assert.equal(await attempt(target, { ...mutual.config, tls: { ca_pem: pki.ca.cert.toString(), cert_pem: pki.client.cert.toString(), key_pem: pki.client.key.toString() } }), undefined);
      assert.equal(mutual.received(), 6);
    });

    it('with tls::insecure_skip_verify: true, delivers to any certificate and warns at start', async () => {
      const before = misnamed.received();
      const { logger, lines } = captureLogger();
      assert.equal(await attempt(target, { ...misnamed.config, tls: { insecure_skip_verify: true } }, logger), undefined);
      assert.equal(misnamed.received(), before + 3);
      const warning = lines.find((l) => l.setting === `exporters::${type}::tls::insecure_skip_verify`);
      assert.ok(warning && warning.level === 40, JSON.stringify(lines));
      assert.match(String(warning.msg), /the server's certificate is not checked/);
      // Not without it.
      const quiet = captureLogger();
      await attempt(target, { ...plain.config, tls: { ca_file: pki.ca.certFile } }, quiet.logger);
      assert.ok(!quiet.lines.some((l) => l.setting !== undefined), JSON.stringify(quiet.lines));
    });

    it('does not start when a tls file cannot be read, naming the option', async () => {
      const missing = path.join(pki.dir, 'missing-ca.pem');
      const e = exporter(target, { ...plain.config, tls: { ca_file: missing } }, pino({ level: 'silent' }));
      await assert.rejects(e.start(host), { message: `exporters::${type}::tls::ca_file: cannot read ${missing}: ENOENT` });
      await e.shutdown();
    });
  });
}
