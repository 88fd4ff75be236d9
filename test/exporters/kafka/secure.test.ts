/**
 * The Kafka clients over TLS and SASL, against a real broker with secure listeners
 * (scripts/kafka/kafka.mjs `secure: true`, started once for the file): the kafka exporter writes
 * events and the kafka receiver reads them back over TLS with the test CA, mutual TLS, SASL_SSL
 * with SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, and SASL_PLAINTEXT; the enrich processor loads its
 * table over SASL_SSL. A wrong password, a CA that is not trusted, a name the certificate is not
 * for and a missing client certificate fail with what to change and no crash: the exporter's sends
 * are retryable (the data is kept), the receiver and the enrich source do not start. No log line
 * holds a password. Options that cannot be used (missing or broken files, a key without its
 * certificate) are refused with their path.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pino from 'pino';
import type { Consumer, Payload } from '../../../src/component.js';
import { RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { parseConfigText, substituteEnv, type RawTree } from '../../../src/config/sources.js';
import { kafkaExporterFactory, type KafkaExporter } from '../../../exporters/kafka/index.js';
import { kafkaReceiverFactory } from '../../../receivers/kafka/index.js';
import { enrichProcessorFactory } from '../../../processors/enrich/index.js';
import { projectRoot } from '../../helpers.js';
import { captureHost, capturingLogger, createTopic, eventsOf, fixtureData, kafkaClient, noKafka, startSecureBroker, testCertificates, type SecureBroker } from './kafka-helpers.js';

const events = eventsOf(fixtureData()).slice(0, 12);
const log = capturingLogger();
const host = { getExporter: () => undefined };

type Raw = Record<string, unknown>;
type Listener = keyof SecureBroker['listeners'];

function exporter(id: string, raw: Raw, logger: pino.Logger = log.logger, telemetry = new Telemetry()): KafkaExporter {
  const cfg = kafkaExporterFactory.configSchema.parse({ sending_queue: { enabled: false }, retry_on_failure: { enabled: false }, ...raw });
  return kafkaExporterFactory.create({ id, logger, telemetry }, cfg) as KafkaExporter;
}

function receiver(id: string, raw: Raw, consumer: Consumer) {
  const cfg = kafkaReceiverFactory.configSchema.parse({ heartbeat_interval: '300ms', session_timeout: '6s', max_fetch_wait: '100ms', initial_offset: 'earliest', ...raw });
  return kafkaReceiverFactory.create({ id, logger: log.logger, telemetry: new Telemetry() }, cfg, { events: consumer });
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends the events with an exporter of `options`, then reads them back with a receiver of the same options. */
async function roundTrip(name: string, options: Raw): Promise<{ sent: string[]; read: string[] }> {
  const topic = `sec-${name}`;
  const ex = exporter(`kafka/${name}`, { ...options, events: { topic } });
  await ex.start(captureHost().host);
  try {
    await ex.consume({ signal: 'events', data: events });
  } finally {
    await ex.shutdown();
  }
  const read: string[] = [];
  const r = receiver(`kafka/${name}`, { ...options, group_id: `g-${name}`, events: { topics: [topic] } }, {
    consume: async (p: Payload) => void read.push(...(p.data as AnalyticsEvent[]).map((e) => e.insert_id)),
  });
  await r.start(host);
  try {
    await until(() => read.length >= events.length, `${events.length} events read back over ${name}`);
  } finally {
    await r.shutdown();
  }
  return { sent: events.map((e) => e.insert_id), read };
}

/** The YAML blocks of a README's "Securing the connection" section, dedented. */
function securingBlocks(readme: string): string[] {
  const text = fs.readFileSync(path.join(projectRoot, readme), 'utf8');
  const section = /^## Securing the connection\n([\s\S]*?)(?=^## )/m.exec(text)?.[1] ?? '';
  return [...section.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => {
    const lines = m[1]!.split('\n');
    const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
    return lines.map((l) => l.slice(indent)).join('\n');
  });
}

/** The error a send fails with. */
async function sendError(name: string, options: Raw): Promise<{ err: unknown; ms: number }> {
  const ex = exporter(`kafka/${name}`, { ...options, events: { topic: `sec-fail-${name}` } });
  await ex.start(captureHost().host);
  const t0 = Date.now();
  try {
    await ex.consume({ signal: 'events', data: events.slice(0, 2) });
  } catch (err) {
    return { err, ms: Date.now() - t0 };
  } finally {
    await ex.shutdown();
  }
  throw new Error(`the send over ${name} did not fail`);
}

describe('kafka clients over TLS and SASL', { skip: noKafka, timeout: 240_000 }, () => {
  let broker: SecureBroker;
  /** Options of each listener with the broker's CA, client certificate and user. */
  let on: (listener: Listener, extra?: Raw) => Raw;
  const sasl = (mechanism: string, password = broker.sasl.password) => ({ sasl: { mechanism, username: broker.sasl.username, password } });
  const wrongPassword = `wrong-${crypto.randomBytes(6).toString('hex')}`;

  before(async () => {
    broker = await startSecureBroker();
    on = (listener, extra = {}) => ({ brokers: broker.listeners[listener], connection_timeout: '2s', ...extra });
  });
  after(async () => {
    await broker?.stop();
  });

  describe('the exporter writes and the receiver reads every event', () => {
    const cases: [string, Listener, () => Raw][] = [
      ['tls', 'SSL', () => ({ tls: { ca_file: broker.tls.caFile } })],
      ['mtls', 'MTLS', () => ({ tls: { ca_file: broker.tls.caFile, cert_file: broker.tls.certFile, key_file: broker.tls.keyFile } })],
      ['sasl-ssl-scram-512', 'SASL_SSL', () => ({ tls: { ca_file: broker.tls.caFile }, auth: sasl('SCRAM-SHA-512') })],
      ['sasl-ssl-scram-256', 'SASL_SSL', () => ({ tls: { ca_file: broker.tls.caFile }, auth: sasl('SCRAM-SHA-256') })],
      ['sasl-ssl-plain', 'SASL_SSL', () => ({ tls: { ca_file: broker.tls.caFile }, auth: sasl('PLAIN') })],
      ['sasl-plaintext-plain', 'SASL_PLAINTEXT', () => ({ auth: sasl('PLAIN') })],
      ['sasl-plaintext-scram-256', 'SASL_PLAINTEXT', () => ({ auth: sasl('SCRAM-SHA-256') })],
      ['server-name-override', 'SSL', () => ({ tls: { ca_file: broker.tls.caFile, server_name_override: 'localhost' } })],
      ['server-name-override-ip', 'SSL', () => ({ tls: { ca_file: broker.tls.caFile, server_name_override: '127.0.0.1' } })],
      ['skip-verify', 'SSL', () => ({ tls: { insecure_skip_verify: true } })],
      ['insecure-is-plaintext', 'PLAINTEXT', () => ({ tls: { insecure: true } })],
    ];
    for (const [name, listener, options] of cases) {
      it(`over ${listener}: ${name}`, async () => {
        const { sent, read } = await roundTrip(name, on(listener, options()));
        assert.deepEqual([...read].sort(), [...sent].sort());
      });
    }
  });

  it('the exporter and receiver READMEs\' "Securing the connection" blocks work as written', async () => {
    const env = {
      KAFKA_SASL_SSL_BROKERS: broker.listeners.SASL_SSL.join(','),
      KAFKA_MTLS_BROKERS: broker.listeners.MTLS.join(','),
      KAFKA_CA_FILE: broker.tls.caFile,
      KAFKA_CLIENT_CERT_FILE: broker.tls.certFile,
      KAFKA_CLIENT_KEY_FILE: broker.tls.keyFile,
      KAFKA_USERNAME: broker.sasl.username,
      KAFKA_PASSWORD: broker.sasl.password,
    };
    const tree = (yaml: string) => substituteEnv(parseConfigText(yaml, 'README'), env) as RawTree;
    const exporterBlocks = securingBlocks('exporters/kafka/README.md');
    const receiverBlocks = securingBlocks('receivers/kafka/README.md');
    assert.equal(exporterBlocks.length, 2);
    assert.equal(receiverBlocks.length, 1);

    // TLS and SCRAM-SHA-512: the exporter's block writes, the receiver's block reads.
    const [[exporterId, exporterCfg]] = Object.entries(tree(exporterBlocks[0]!).exporters as Record<string, Raw>) as [[string, Raw]];
    const ex = exporter(exporterId, exporterCfg);
    await ex.start(captureHost().host);
    try {
      await ex.consume({ signal: 'events', data: events });
    } finally {
      await ex.shutdown();
    }
    const [[receiverId, receiverCfg]] = Object.entries(tree(receiverBlocks[0]!).receivers as Record<string, Raw>) as [[string, Raw]];
    const read: string[] = [];
    const r = receiver(receiverId, receiverCfg, { consume: async (p: Payload) => void read.push(...(p.data as AnalyticsEvent[]).map((e) => e.insert_id)) });
    await r.start(host);
    try {
      await until(() => read.length >= events.length, 'the events the README exporter wrote');
    } finally {
      await r.shutdown();
    }
    assert.deepEqual(read.sort(), events.map((e) => e.insert_id).sort());

    // Mutual TLS: the connection options of the second block.
    const { sent, read: back } = await roundTrip('readme-mtls', tree(exporterBlocks[1]!));
    assert.deepEqual(back.sort(), sent.sort());
  });

  describe('a failed set-up says what to change', () => {
    it('a wrong SCRAM password: the send is retryable, at once, and its message names auth::sasl, not the password', async () => {
      const { err, ms } = await sendError('wrong-scram', on('SASL_SSL', { tls: { ca_file: broker.tls.caFile }, auth: sasl('SCRAM-SHA-512', wrongPassword) }));
      assert.ok(err instanceof RetryableError, `retryable: ${String(err)}`);
      assert.match(err.message, /SCRAM SHA512 authentication failed/);
      assert.match(err.message, /check auth::sasl::username, password and mechanism/);
      assert.doesNotMatch(err.message, new RegExp(wrongPassword));
      assert.ok(ms < 2000, `failed after ${ms} ms`);
    });

    it('a wrong PLAIN password over SASL_PLAINTEXT: retryable too', async () => {
      const { err } = await sendError('wrong-plain', on('SASL_PLAINTEXT', { auth: sasl('PLAIN', wrongPassword) }));
      assert.ok(err instanceof RetryableError);
      assert.match(err.message, /SASL PLAIN authentication failed.*check auth::sasl/);
    });

    it('a wrong password with a sending queue: the events wait in the queue, retried, each failure logged with the reason', async () => {
      const own = capturingLogger();
      const telemetry = new Telemetry();
      const { host: dlHost, deadLetters } = captureHost();
      const ex = exporter(
        'kafka/queued',
        {
          ...on('SASL_SSL', { tls: { ca_file: broker.tls.caFile }, auth: sasl('SCRAM-SHA-256', wrongPassword) }),
          events: { topic: 'sec-queued' },
          sending_queue: { enabled: true, drain_timeout: '0s' },
          retry_on_failure: { initial_interval: '50ms', max_interval: '100ms', max_elapsed_time: '0s' },
          dead_letter: 'dl',
        },
        own.logger,
        telemetry,
      );
      await ex.start(dlHost);
      await ex.consume({ signal: 'events', data: events.slice(0, 3) });
      const retries = () => own.lines.map((l) => JSON.parse(l) as { msg: string; err?: string }).filter((l) => l.msg === 'send failed; will retry');
      try {
        await until(() => retries().length >= 2, 'two retries');
        const queued = (await telemetry.registry.getMetricsAsJSON()).find((m) => m.name === 'otelcol_exporter_queue_size')?.values[0]?.value;
        assert.equal(queued, 3, 'the events are still held');
        assert.match(retries()[0]!.err!, /SCRAM SHA256 authentication failed.*check auth::sasl/);
        assert.ok(own.lines.some((l) => /cannot connect to the brokers with its tls or auth settings/.test(l)), 'the start says so at error level');
      } finally {
        await ex.shutdown();
      }
      // Only the shutdown deadline (0 here) ends the wait: then to the dead-letter route, with the reason.
      assert.equal(deadLetters.flatMap((p) => p.data as AnalyticsEvent[]).length, 3);
      assert.ok(own.lines.every((l) => !l.includes(wrongPassword)));
    });

    it('a CA that is not trusted: the send is retryable and names tls::ca_file; insecure_skip_verify (only when set) accepts it', async () => {
      const { err, ms } = await sendError('unknown-ca', on('SSL', { tls: {} }));
      assert.ok(err instanceof RetryableError);
      assert.match(err.message, /Connection error: self-signed certificate in certificate chain/);
      assert.match(err.message, /not signed by a trusted CA: set tls::ca_file/);
      assert.ok(ms < 2000, `failed after ${ms} ms, not after kafkajs' retries`);
      // The skip-verify round trip above is the other half: the same listener and no CA.
    });

    it('a certificate that is not for the name: names tls::server_name_override', async () => {
      const { err, ms } = await sendError('wrong-name', on('SSL', { tls: { ca_file: broker.tls.caFile, server_name_override: 'kafka.invalid' } }));
      assert.ok(err instanceof RetryableError);
      assert.match(err.message, /kafka\.invalid/);
      assert.match(err.message, /set tls::server_name_override/);
      assert.ok(ms < 2000, `failed after ${ms} ms`);
      // An address is checked against the certificate's IP addresses (and not sent as SNI).
      const byAddress = await sendError('wrong-address', on('SSL', { tls: { ca_file: broker.tls.caFile, server_name_override: '127.0.0.2' } }));
      assert.match((byAddress.err as Error).message, /IP: 127\.0\.0\.2 is not in the cert's list.*set tls::server_name_override/);
    });

    it('no client certificate where one is required: names tls::cert_file', async () => {
      const { err, ms } = await sendError('no-client-cert', on('MTLS', { tls: { ca_file: broker.tls.caFile } }));
      assert.ok(err instanceof RetryableError);
      assert.match(err.message, /refused the client certificate.*tls::cert_file/);
      assert.ok(ms < 2000, `failed after ${ms} ms`);
    });

    it('TLS to a plaintext listener, and SASL to a listener without it: say so', async () => {
      const tlsToPlain = await sendError('tls-to-plain', on('PLAINTEXT', { tls: { ca_file: broker.tls.caFile } }));
      assert.match(String((tlsToPlain.err as Error).message), /does not seem to speak TLS/);
      const saslToPlain = await sendError('sasl-to-plain', on('PLAINTEXT', { auth: sasl('PLAIN') }));
      assert.match(String((saslToPlain.err as Error).message), /takes no SASL/);
    });

    it('the receiver does not start, at once, on a wrong password or a CA that is not trusted', async () => {
      const nothing: Consumer = { consume: async () => undefined };
      for (const [name, options, why] of [
        ['wrong-password', on('SASL_SSL', { tls: { ca_file: broker.tls.caFile }, auth: sasl('SCRAM-SHA-512', wrongPassword) }), /authentication failed.*check auth::sasl/],
        ['unknown-ca', on('SSL', { tls: {} }), /not signed by a trusted CA: set tls::ca_file/],
      ] as const) {
        const r = receiver(`kafka/${name}`, { ...options, group_id: `g-${name}`, events: { topics: ['sec-none'] } }, nothing);
        const t0 = Date.now();
        await assert.rejects(r.start(host), (err: Error) => /^cannot consume from 127\.0\.0\.1:\d+: /.test(err.message) && why.test(err.message));
        assert.ok(Date.now() - t0 < 3000, `${name}: failed after ${Date.now() - t0} ms`);
        await r.shutdown();
      }
    });
  });

  describe('the enrich processor\'s Kafka source', () => {
    const rows = [
      { item_id: 'SKU-1', item_brand: 'Acme' },
      { item_id: 'SKU-2', item_brand: 'Globex' },
    ];
    before(async () => {
      await createTopic(broker.brokers, 'sec-products', 1, [{ name: 'cleanup.policy', value: 'compact' }]);
      const producer = kafkaClient(broker.brokers).producer();
      await producer.connect();
      await producer.send({ topic: 'sec-products', acks: -1, messages: rows.map((r) => ({ key: r.item_id, value: JSON.stringify(r) })) });
      await producer.disconnect();
    });
    const enrich = (kafka: Raw) => {
      const out: AnalyticsEvent[] = [];
      const cfg = enrichProcessorFactory.configSchema.parse({ key: 'properties.item_id', source: { kafka: { ...kafka, topic: 'sec-products', start_timeout: '10s' } }, fields: ['item_brand'] });
      const p = enrichProcessorFactory.create({ id: 'enrich/products', logger: log.logger, telemetry: new Telemetry(), pipeline: 'events' }, cfg, { consume: async (x: Payload) => void out.push(...(x.data as AnalyticsEvent[])) });
      return { p, out };
    };

    it('loads its table over SASL_SSL with SCRAM-SHA-256 and mutual TLS', async () => {
      const { p, out } = enrich(on('SASL_SSL', { tls: { ca_file: broker.tls.caFile, cert_file: broker.tls.certFile, key_file: broker.tls.keyFile }, auth: sasl('SCRAM-SHA-256') }));
      await p.start(host);
      try {
        const ev = (id: string): AnalyticsEvent => ({ name: 'view_item', time_unix_nano: '1', insert_id: id, properties: { item_id: id }, context: { source: 'span' } });
        await p.consume({ signal: 'events', data: [ev('SKU-1'), ev('SKU-2')] });
        assert.deepEqual(out.map((e) => e.properties.item_brand), ['Acme', 'Globex']);
      } finally {
        await p.shutdown();
      }
    });

    it('does not start on a wrong password, and says why', async () => {
      const { p } = enrich(on('SASL_SSL', { tls: { ca_file: broker.tls.caFile }, auth: sasl('SCRAM-SHA-512', wrongPassword) }));
      await assert.rejects(p.start(host), /cannot read topic sec-products from .*authentication failed.*check auth::sasl/);
    });
  });

  it('no log line holds a password, the right one or a wrong one', () => {
    assert.ok(log.lines.length > 100, `kafkajs' own lines are captured too (${log.lines.length})`);
    assert.ok(log.lines.some((l) => /SASL SCRAM SHA512 authentication failed/.test(l)), 'the failures were logged');
    for (const line of log.lines) {
      assert.ok(!line.includes(broker.sasl.password), `a log line holds the password: ${line.slice(0, 200)}`);
      assert.ok(!line.includes(wrongPassword), `a log line holds the wrong password: ${line.slice(0, 200)}`);
    }
  });
});

describe('tls options that cannot be used are refused with their path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-tls-options-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const keyFile = file('key.pem', privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  const encryptedKeyFile = file('encrypted.pem', privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' }).toString());
  const notPem = file('not.pem', 'hello\n');

  it('a certificate without its key, or a key without its certificate, in the config', () => {
    for (const [tls, where, message] of [
      [{ cert_file: '/c.pem' }, 'tls::key_file', /is needed with cert_file/],
      [{ key_file: '/k.pem' }, 'tls::cert_file', /is needed with key_file/],
    ] as const) {
      for (const schema of [kafkaExporterFactory.configSchema, kafkaReceiverFactory.configSchema]) {
        const r = schema.safeParse({ tls, events: { topics: ['x'] } });
        assert.equal(r.success, false);
        const issue = r.error!.issues.find((i) => i.path.join('::') === where);
        assert.ok(issue, `an issue at ${where}: ${JSON.stringify(r.error!.issues)}`);
        assert.match(issue.message, message);
      }
    }
  });

  it('files that are missing, not PEM, encrypted or not a pair: the start fails naming the option and the file', async () => {
    const startError = async (tls: Raw) => {
      const ex = exporter('kafka/files', { brokers: ['127.0.0.1:9'], tls }, log.logger);
      try {
        await ex.start(captureHost().host);
      } catch (err) {
        return (err as Error).message;
      } finally {
        await ex.shutdown();
      }
      return 'started';
    };
    const missing = path.join(dir, 'missing.pem');
    const at = 'exporters::kafka/files::tls';
    assert.equal(await startError({ ca_file: missing }), `${at}::ca_file: cannot read ${missing}: ENOENT`);
    assert.equal(await startError({ ca_file: notPem }), `${at}::ca_file: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    assert.equal(await startError({ ca_file: keyFile }), `${at}::ca_file: ${keyFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    assert.equal(await startError({ cert_file: notPem, key_file: keyFile }), `${at}::cert_file: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    assert.equal(await startError({ cert_file: missing, key_file: keyFile }), `${at}::cert_file: cannot read ${missing}: ENOENT`);

    // The receiver and the enrich processor's source name their own paths.
    const r = receiver('kafka/files', { brokers: ['127.0.0.1:9'], tls: { ca_file: missing }, events: { topics: ['x'] } }, { consume: async () => undefined });
    await assert.rejects(r.start(host), { message: `receivers::kafka/files::tls::ca_file: cannot read ${missing}: ENOENT` });
    await r.shutdown();
    const cfg = enrichProcessorFactory.configSchema.parse({ key: 'properties.item_id', source: { kafka: { brokers: ['127.0.0.1:9'], topic: 't', tls: { ca_file: missing } } }, fields: ['x'] });
    const p = enrichProcessorFactory.create({ id: 'enrich/products', logger: log.logger, telemetry: new Telemetry(), pipeline: 'events' }, cfg, { consume: async () => undefined });
    await assert.rejects(p.start(host), { message: `processors::enrich/products::source::kafka::tls::ca_file: cannot read ${missing}: ENOENT` });
  });

  it('with the test PKI: a key that is not the certificate\'s, an encrypted key, a file that is no key', async () => {
    const pki = await testCertificates(dir);
    const startError = async (tls: Raw) => {
      const ex = exporter('kafka/pki', { brokers: ['127.0.0.1:9'], tls }, log.logger);
      try {
        await ex.start(captureHost().host);
        return 'started';
      } catch (err) {
        return (err as Error).message;
      } finally {
        await ex.shutdown();
      }
    };
    const at = 'exporters::kafka/pki::tls';
    assert.equal(await startError({ ca_file: pki.caFile, cert_file: pki.certFile, key_file: pki.brokerKeyFile }), `${at}::key_file: ${pki.brokerKeyFile} is not the private key of cert_file ${pki.certFile}`);
    assert.equal(await startError({ cert_file: pki.certFile, key_file: encryptedKeyFile }), `${at}::key_file: ${encryptedKeyFile} is encrypted; give the key unencrypted (there is no option for a key password)`);
    assert.equal(await startError({ cert_file: pki.certFile, key_file: notPem }), `${at}::key_file: ${notPem} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
    assert.equal(await startError({ ca_file: pki.caFile, cert_file: pki.certFile, key_file: pki.keyFile }), 'started');
  });
});
