#!/usr/bin/env node
// Runs a real single-node Apache Kafka broker (KRaft, combined broker+controller)
// from Apache Kafka's jars on Maven Central. No Docker, no Kafka download: Maven
// fetches the jars listed in ./pom.xml into a cache outside the repo, and Java 17+
// runs them.
//
// CLI:     node scripts/kafka/kafka.mjs install|start|stop|restart|status [--dir D] [--port P] [--purge] [--secure] [--brokers N]
// Library: const { startKafka } = await import('.../scripts/kafka/kafka.mjs');
//          const k = await startKafka();   // fresh broker, fresh temp dir
//          k.brokers                       // ['127.0.0.1:<port>']
//          await k.stop();                 // kills it, removes the dir
// See README.md beside this file.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { announce, installed as recordInstalled } from '../installs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The pom whose dependencies are the broker's classpath. */
export const POM = path.join(here, 'pom.xml');

/** The pinned Kafka version: `<kafka.version>` in pom.xml. */
export const KAFKA_VERSION = (() => {
  const m = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(fs.readFileSync(POM, 'utf8'));
  if (!m) throw new Error(`no <kafka.version> in ${POM}`);
  return m[1];
})();

const HOST = '127.0.0.1';
const STATE_FILE = 'state.json';
const LOG_FILE = 'kafka.log';
const noop = () => {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- locations

/** `${OTELYTICS_CACHE:-$HOME/.cache/otelytics}` */
export function cacheRoot() {
  return process.env.OTELYTICS_CACHE || path.join(os.homedir(), '.cache', 'otelytics');
}

/** `<cache>/kafka-<version>`: jars (lib/), class-data archive (cds/), the CLI's broker (broker/). */
export function kafkaHome() {
  return path.join(cacheRoot(), `kafka-${KAFKA_VERSION}`);
}

export function libDir() {
  return path.join(kafkaHome(), 'lib');
}

/** Data dir the CLI uses when no `--dir` is given. */
export function defaultDataDir() {
  return path.join(kafkaHome(), 'broker');
}

function mainJar(lib = libDir()) {
  return path.join(lib, `kafka_2.13-${KAFKA_VERSION}.jar`);
}

// ---------------------------------------------------------------- install

/**
 * Fetches the jars with `mvn dependency:copy-dependencies` unless they are already
 * in `<cache>/kafka-<version>/lib`. Safe to run concurrently: Maven writes into a
 * private directory that is renamed into place when complete.
 */
export async function installKafka({ log = noop } = {}) {
  const lib = libDir();
  if (fs.existsSync(mainJar(lib))) return lib;
  await fsp.mkdir(kafkaHome(), { recursive: true });
  const tmp = `${lib}.partial-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const mvn = process.env.MVN || 'mvn';
  const args = ['-B', '-q', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`];
  log(`Fetching Apache Kafka ${KAFKA_VERSION} jars with Maven into ${lib} ...`);
  announce({ what: `Apache Kafka ${KAFKA_VERSION}'s jars (Maven Central, with mvn)`, why: 'a local Kafka broker (Kafka tests and examples)', where: lib, eta: 'under a minute' });
  const t0 = Date.now();
  const { code, output } = await run(mvn, args);
  try {
    if (code !== 0 || !fs.existsSync(mainJar(tmp))) {
      throw new Error(`${mvn} ${args.join(' ')} failed (exit ${code}):\n${tail(output, 40)}`);
    }
    try {
      await fsp.rename(tmp, lib);
    } catch (err) {
      // Someone else finished first (lib now exists and is not empty): use theirs.
      if (!fs.existsSync(mainJar(lib))) throw err;
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  log(`Fetched ${fs.readdirSync(lib).length} jars in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  recordInstalled({ what: `Apache Kafka ${KAFKA_VERSION} jars`, where: lib, seconds: (Date.now() - t0) / 1000, note: 'Maven keeps its own copy in ~/.m2/repository' });
  return lib;
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => {
      if (err.code === 'ENOENT') reject(new Error(`${cmd} not found on PATH (needed to run the Kafka broker)`));
      else reject(err);
    });
    child.on('close', (code) => resolve({ code, output }));
  });
}

// ---------------------------------------------------------------- java

function javaBin() {
  if (process.env.JAVA) return process.env.JAVA;
  if (process.env.JAVA_HOME) return path.join(process.env.JAVA_HOME, 'bin', 'java');
  return 'java';
}

/** Resolves `java` on PATH to its real file (for the class-data archive's key). */
function resolveOnPath(bin) {
  if (bin.includes(path.sep)) return bin;
  for (const d of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(d, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return bin;
}

/**
 * JVM flags. Measured on a 2-core machine (Kafka 4.3.1, Java 17): broker startup is
 * ~2.4s with Kafka's default G1, ~1.8s with Serial GC + C1 only, ~0.95s when an
 * application class-data (CDS) archive is also used. `-Xshare:auto` is the default,
 * spelled out so a stale or foreign archive is ignored instead of failing the JVM.
 */
function baseJvmFlags() {
  const flags = [
    '-Xms128m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Xshare:auto',
    '-XX:-UsePerfData',
    '-Djava.awt.headless=true',
  ];
  const extra = process.env.OTELYTICS_KAFKA_JVM_OPTS;
  if (extra) flags.push(...extra.split(/\s+/).filter(Boolean));
  return flags;
}

/**
 * Dynamic AppCDS archive of the classes a broker loads: the first broker started
 * without one dumps it when it exits cleanly (adds ~3s to that one stop), every
 * later JVM maps it (halves startup). Keyed by java binary, jars and flags.
 * OTELYTICS_KAFKA_CDS=0 turns it off.
 */
function cdsArchive(classpath, flags) {
  if (process.env.OTELYTICS_KAFKA_CDS === '0') return null;
  let javaId = javaBin();
  try {
    const real = fs.realpathSync(resolveOnPath(javaId));
    javaId = `${real}:${fs.statSync(real).mtimeMs}`;
  } catch {}
  const key = crypto
    .createHash('sha256')
    .update([KAFKA_VERSION, javaId, classpath, ...flags].join('\n'))
    .digest('hex')
    .slice(0, 16);
  return path.join(kafkaHome(), 'cds', `broker-${key}.jsa`);
}

function classpathOf(lib) {
  return fs
    .readdirSync(lib)
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => path.join(lib, f))
    .join(path.delimiter);
}

// ---------------------------------------------------------------- secure listeners

/**
 * Listeners added by `secure`, each on a free port of its own: SASL without TLS, TLS, SASL over
 * TLS, and TLS that requires a client certificate signed by the test CA (mutual TLS).
 */
export const SECURE_LISTENERS = ['SASL_PLAINTEXT', 'SSL', 'SASL_SSL', 'MTLS'];
const LISTENER_PROTOCOL = { SASL_PLAINTEXT: 'SASL_PLAINTEXT', SSL: 'SSL', SASL_SSL: 'SASL_SSL', MTLS: 'SSL' };
/** What the SASL listeners take; the one user has a password for each. */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];
const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
/** Days the test certificates are valid. */
const CERT_DAYS = 3650;
const TLS_DIR = 'tls';

/**
 * `secure` of startKafka: `true`, or `{ username, password }` to choose them. The user name and
 * password go into JAAS and SCRAM settings unquoted, so only letters, digits and `_.-~+` (a name
 * also `@`) are taken. Returns null when not secure.
 */
function secureOptions(secure, prev) {
  if (!secure) return null;
  const o = secure === true ? {} : secure;
  const username = o.username ?? prev?.username ?? 'otelytics';
  // Starts with a letter: `${env:KAFKA_PASSWORD}` in a config then never reads as a number.
  const password = o.password ?? prev?.password ?? `p${crypto.randomBytes(12).toString('hex')}`;
  if (!/^[A-Za-z0-9_.@~+-]+$/.test(username)) throw new Error(`secure.username ${JSON.stringify(username)}: use letters, digits and _.@~+- only`);
  if (!/^[A-Za-z0-9_.~+-]+$/.test(password)) throw new Error('secure.password: use letters, digits and _.~+- only');
  return { username, password };
}

function requireOpenssl() {
  const r = spawnSync(process.env.OPENSSL || 'openssl', ['version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) throw new Error('openssl not found on PATH (needed to make the certificates of the secure listeners); set OPENSSL=/path/to/openssl');
}

function openssl(args, { cwd, env } = {}) {
  const r = spawnSync(process.env.OPENSSL || 'openssl', args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

/** A new EC P-256 key and certificate signing request for `subject`, in `tls`. */
function keyAndRequest(tls, name, subject) {
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], { cwd: tls });
}

/** Signs `<name>.csr` with the test CA, adding the extensions in `extensions` (openssl x509v3 lines). */
function signWithCa(tls, name, extensions) {
  fs.writeFileSync(path.join(tls, `${name}.ext`), extensions.join('\n') + '\n');
  const serial = `0x${crypto.randomBytes(8).toString('hex')}`;
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial, '-days', String(CERT_DAYS), '-extfile', `${name}.ext`, '-out', `${name}.pem`], { cwd: tls });
  fs.rmSync(path.join(tls, `${name}.csr`));
  fs.rmSync(path.join(tls, `${name}.ext`));
}

/**
 * The test PKI in `<dir>/tls`, made with openssl once per data dir and kept for restarts:
 * `ca.pem` (+ `ca.key`) a self-signed CA; `broker.pem`/`broker.key` for `localhost` and
 * `127.0.0.1`, signed by it; `client.pem`/`client.key` (CN `otelytics-client`), signed by it,
 * for MTLS. Keys are EC P-256, PKCS#8 PEM, not encrypted; certificates valid 3650 days.
 */
export function ensureTestCertificates(dir) {
  const tls = path.join(dir, TLS_DIR);
  const files = {
    dir: tls,
    caFile: path.join(tls, 'ca.pem'),
    brokerCertFile: path.join(tls, 'broker.pem'),
    brokerKeyFile: path.join(tls, 'broker.key'),
    certFile: path.join(tls, 'client.pem'),
    keyFile: path.join(tls, 'client.key'),
  };
  if (Object.values(files).every((f) => fs.existsSync(f))) return files;
  requireOpenssl();
  fs.rmSync(tls, { recursive: true, force: true });
  fs.mkdirSync(tls, { recursive: true, mode: 0o700 });
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', String(CERT_DAYS), '-subj', '/CN=otelytics test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    { cwd: tls },
  );
  keyAndRequest(tls, 'broker', '/CN=localhost');
  signWithCa(tls, 'broker', ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=DNS:localhost,IP:${HOST}`]);
  keyAndRequest(tls, 'client', '/CN=otelytics-client');
  signWithCa(tls, 'client', ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']);
  return files;
}

/**
 * The broker's PEM key store (key, then its certificate and the CA): Kafka reads a PEM key store
 * file only with an encrypted key, and Java 17 decrypts PKCS#8 only with the older PBES1 schemes,
 * hence PBE-SHA1-3DES. A new password on every start: it lives only in server.properties.
 */
function writeKeyStore(certs, file) {
  const keyPassword = crypto.randomBytes(12).toString('hex');
  const key = openssl(['pkcs8', '-topk8', '-v1', 'PBE-SHA1-3DES', '-in', certs.brokerKeyFile, '-passout', 'env:OTELYTICS_KAFKA_KEY_PASSWORD'], {
    env: { OTELYTICS_KAFKA_KEY_PASSWORD: keyPassword },
  });
  fs.writeFileSync(file, key + fs.readFileSync(certs.brokerCertFile, 'utf8') + fs.readFileSync(certs.caFile, 'utf8'), { mode: 0o600 });
  return keyPassword;
}

/** `--add-scram` arguments of `kafka-storage format`: the user's SCRAM credentials. */
function scramFormatArgs({ username, password }) {
  return SCRAM_MECHANISMS.flatMap((m) => ['--add-scram', `${m}=[name=${username},password=${password}]`]);
}

/**
 * Sets the user's SCRAM credentials on a running broker (a dir formatted without them, or a new
 * password): one `kafka-configs --alter` per mechanism, as the broker refuses two credentials of
 * one user in one request.
 */
function addScramUser({ java, jvm, classpath, port, secure, dir, out }) {
  for (const m of SCRAM_MECHANISMS) {
    const r = spawnSync(
      java,
      [...jvm, '-cp', classpath, 'kafka.admin.ConfigCommand', '--bootstrap-server', `${HOST}:${port}`, '--alter', '--entity-type', 'users', '--entity-name', secure.username, '--add-config', `${m}=[password=${secure.password}]`],
      { stdio: ['ignore', out, out] },
    );
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`kafka-configs --alter (${m} user ${secure.username}) failed (exit ${r.status}); see ${path.join(dir, LOG_FILE)}`);
  }
}

// ---------------------------------------------------------------- config

/**
 * server.properties of one node. Node 1 is broker and controller (the quorum's only voter, on
 * `controllerPort`); a node of another id (a cluster's further brokers) is a broker only and finds
 * the controller at `controllerPort`.
 */
function serverProperties({ dir, port, controllerPort, secure, nodeId = 1 }) {
  const dataDir = path.join(dir, 'data');
  const controller = nodeId === 1;
  const clients = [['PLAINTEXT', port], ...(secure ? SECURE_LISTENERS.map((name) => [name, secure.ports[name]]) : [])];
  const protocols = [['CONTROLLER', 'PLAINTEXT'], ['PLAINTEXT', 'PLAINTEXT'], ...(secure ? SECURE_LISTENERS.map((name) => [name, LISTENER_PROTOCOL[name]]) : [])];
  return `# Written by scripts/kafka/kafka.mjs on every start: edits here are overwritten.
process.roles=${controller ? 'broker,controller' : 'broker'}
node.id=${nodeId}
controller.quorum.voters=1@${HOST}:${controllerPort}
controller.listener.names=CONTROLLER
listeners=${clients.map(([name, p]) => `${name}://${HOST}:${p}`).join(',')}${controller ? `,CONTROLLER://${HOST}:${controllerPort}` : ''}
advertised.listeners=${clients.map(([name, p]) => `${name}://${HOST}:${p}`).join(',')}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=${protocols.map(([name, protocol]) => `${name}:${protocol}`).join(',')}
log.dirs=${dataDir}

# single node, tuned for tests
auto.create.topics.enable=true
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a crash (SIGKILL) the restarted broker cannot re-register until the controller
# has timed out its previous session: 9s by default, ~3s with these.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
# the log cleaner would otherwise take 128 MiB of a 512 MiB heap
log.cleaner.dedupe.buffer.size=16777216
${secure ? secureProperties(secure) : ''}`;
}

/**
 * SASL and TLS settings of the secure listeners: PLAIN users in each SASL listener's JAAS config,
 * SCRAM users in the cluster metadata (added at format time or by `addScramUser`), one PEM key
 * store (key encrypted with `keyPassword`) and the test CA as the PEM trust store of every TLS
 * listener, and client certificates required on MTLS.
 */
function secureProperties({ username, password, keyStore, keyPassword, caFile }) {
  const lines = ['', '# secure listeners (startKafka({ secure }) / start --secure)', `sasl.enabled.mechanisms=${SASL_MECHANISMS.join(',')}`];
  for (const listener of ['sasl_plaintext', 'sasl_ssl']) {
    lines.push(`listener.name.${listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${username}="${password}";`);
    for (const m of ['scram-sha-256', 'scram-sha-512']) {
      lines.push(`listener.name.${listener}.${m}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`);
    }
  }
  lines.push(
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${keyStore}`,
    `ssl.key.password=${keyPassword}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${caFile}`,
    'listener.name.mtls.ssl.client.auth=required',
    '',
  );
  return lines.join('\n');
}

const LOG4J2 = `# Written by scripts/kafka/kafka.mjs. Everything goes to stdout, which is ${LOG_FILE}.
status = warn
# Kafka logs from its own shutdown hook: keep log4j2's out of the way.
shutdownHook = disable
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
`;

/** A random Kafka cluster id (base64url of 16 random bytes, as `kafka-storage random-uuid`). */
export function randomClusterId() {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function isFormatted(dir) {
  return fs.existsSync(path.join(dir, 'data', 'meta.properties'));
}

// ---------------------------------------------------------------- processes

function readState(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8'));
  } catch {
    return null;
  }
}

function writeState(dir, state) {
  const file = path.join(dir, STATE_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

/** Is `pid` alive and (where /proc tells) the broker of `dir`? */
function brokerAlive(pid, dir) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === 'EPERM';
  }
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('kafka.Kafka') && cmd.includes(path.join(dir, 'server.properties'));
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/**
 * The running broker of `dir`, or null; for a cluster (`<dir>/broker-<id>/` beside node 1), node
 * 1's state with `brokers` listing every broker running.
 */
export function kafkaStatus({ dir = defaultDataDir() } = {}) {
  dir = path.resolve(dir);
  const s = readState(dir);
  if (!s || !brokerAlive(s.pid, dir)) return null;
  const others = clusterNodeIds(dir)
    .map((id) => ({ d: nodeDir(dir, id), state: readState(nodeDir(dir, id)) }))
    .filter(({ d, state }) => state && brokerAlive(state.pid, d));
  return others.length === 0 ? s : { ...s, brokers: [...s.brokers, ...others.flatMap(({ state }) => state.brokers)] };
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: HOST, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function freePort(avoid = []) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => (avoid.includes(port) ? freePort(avoid).then(resolve, reject) : resolve(port)));
    });
  });
}

async function waitPortFree(port, ms) {
  const until = Date.now() + ms;
  while (!(await portFree(port))) {
    if (Date.now() > until) return false;
    await sleep(100);
  }
  return true;
}

function tail(text, lines) {
  return text.split('\n').slice(-lines).join('\n');
}

function tailFile(file, lines = 40) {
  try {
    const buf = fs.readFileSync(file);
    return tail(buf.subarray(Math.max(0, buf.length - 64 * 1024)).toString('utf8'), lines);
  } catch {
    return '';
  }
}

function tcpConnects(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: HOST });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

let kafkajsModule;
async function kafkajs() {
  if (kafkajsModule === undefined) {
    try {
      const m = await import('kafkajs');
      kafkajsModule = m.default ?? m;
    } catch {
      kafkajsModule = null;
    }
  }
  return kafkajsModule;
}

/** One readiness probe: a kafkajs admin lists topics, or (no kafkajs) ApiVersions answers. */
async function brokerServes(port) {
  if (!(await tcpConnects(port))) return false;
  const kjs = await kafkajs();
  if (!kjs) return apiVersionsAnswers(port);
  const admin = new kjs.Kafka({
    clientId: 'otelytics-kafka-probe',
    brokers: [`${HOST}:${port}`],
    logLevel: kjs.logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(noop);
  }
}

/** Raw ApiVersions v0 request; true when the broker answers with error_code 0. */
function apiVersionsAnswers(port) {
  return new Promise((resolve) => {
    const clientId = Buffer.from('otelytics-kafka-probe');
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
    body.writeInt16BE(18, 0); // ApiVersions
    body.writeInt16BE(0, 2);
    body.writeInt32BE(1, 4);
    body.writeInt16BE(clientId.length, 8);
    clientId.copy(body, 10);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    const sock = net.connect({ port, host: HOST });
    let got = Buffer.alloc(0);
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(3000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write(Buffer.concat([size, body])));
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 10) done(got.readInt32BE(4) === 1 && got.readInt16BE(8) === 0);
    });
  });
}

// ---------------------------------------------------------------- start / stop

/**
 * Starts a broker and resolves once it serves clients.
 *
 * - `dir`: data dir. Omitted: a fresh temp dir. An existing formatted dir is reused
 *   as is (its topics and messages come back); otherwise it is formatted.
 * - `port`: client port on 127.0.0.1. Omitted: the port this dir used last if it is
 *   free, else a free one.
 * - `log`: `(line) => void` for progress lines (default: silent).
 * - `detached`: leave the broker running when this process exits (the CLI does);
 *   by default it is killed when this process exits.
 * - `timeoutMs`: how long to wait for it to serve (default 90s).
 * - `secure`: `true` (or `{ username, password }`) adds the listeners SASL_PLAINTEXT, SSL,
 *   SASL_SSL and MTLS (TLS with a client certificate required) on free ports, with
 *   certificates made by `openssl` in `<dir>/tls` and one user for PLAIN, SCRAM-SHA-256 and
 *   SCRAM-SHA-512 (default name `otelytics`, a random password; both kept in the dir for
 *   restarts). Default false: PLAINTEXT only, nothing more to start.
 *
 * Resolves `{ brokers, port, controllerPort, listeners, tls, sasl, pid, dir, logFile,
 * clusterId, stop, restart }`: `brokers` and `listeners.PLAINTEXT` are the plaintext
 * `['127.0.0.1:<port>']`; with `secure`, `listeners.SASL_PLAINTEXT` (and `SSL`, `SASL_SSL`,
 * `MTLS`) the others, `tls` `{ dir, caFile, certFile, keyFile }` (the CA that signed the
 * broker's certificate, and a client certificate and key it signed, PEM) and `sasl`
 * `{ username, password, mechanisms }`; without, `tls` and `sasl` are undefined.
 * `stop()` kills it and removes the dir; `stop({ keepData: true })` keeps the dir
 * for a later `startKafka({ dir, port })`; `stop({ signal: 'SIGKILL' })` is a crash;
 * `restart()` keeps `secure` with the same user and password.
 *
 * - `brokers`: how many brokers (default 1). Above 1, a cluster: node 1 is broker and controller
 *   in `dir` (as a single broker is), nodes 2, 3, … are brokers only, each in `<dir>/broker-<id>/`
 *   (its own `server.properties`, `kafka.log`, `state.json`, `data/`), all on free ports (the
 *   ones of the last start when free) and started at once; it resolves once every broker serves
 *   and node 1's metadata lists them all. `brokers` then lists every broker, `port` is node 1's,
 *   and `nodes` holds one `{ nodeId, port, dir, logFile, pid, running, stop(opts?), start() }` per
 *   node, by id: `stop()` stops that node alone (SIGTERM, or `signal`; its data is kept), `start()`
 *   starts it again on the same port and data and resolves once it serves. The cluster's `stop()`
 *   stops the brokers, then node 1, then removes the dir unless `keepData`; `restart()` stops and
 *   starts every node on the same ports and data. Not with `secure` nor `port`.
 * Throws when Java (or, with `secure`, openssl) is missing, or the broker does not serve.
 */
export async function startKafka({ dir, port, secure = false, brokers = 1, log = noop, detached = false, timeoutMs = 90_000 } = {}) {
  const t0 = Date.now();
  if (!(Number.isInteger(brokers) && brokers >= 1)) throw new Error(`brokers: ${brokers} is not a positive integer`);
  if (brokers > 1 && (secure || port != null)) throw new Error('brokers above 1 takes neither secure nor port');
  const lib = await installKafka({ log });
  const java = javaBin();

  const tempDir = !dir;
  if (dir) {
    dir = path.resolve(dir);
    await fsp.mkdir(dir, { recursive: true });
  } else {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'otelytics-kafka-'));
  }
  for (let attempt = 1; ; attempt++) {
    try {
      if (brokers > 1) return await startCluster({ dir, count: brokers, log, detached, timeoutMs, java, lib, t0 });
      return await launch({ dir, port, secure, log, detached, timeoutMs, java, lib, t0 });
    } catch (err) {
      // A port picked here was taken by someone else before Kafka bound it: pick again.
      if (port == null && attempt < 3 && err.portTaken) {
        log('port taken before the broker bound it; retrying with another');
        continue;
      }
      // A temp dir nobody else knows about: don't leave it behind (the error has the log's tail).
      if (tempDir) await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }
}

/**
 * Starts one node in `dir` and resolves once it serves clients. `nodeId` 1 (the default) is broker
 * and controller, its controller port the one given, else the one this dir used last if free, else
 * a free one; another id is a broker of node 1's quorum at `controllerPort`. An unformatted dir
 * is formatted with `clusterId` (default: a new random id).
 */
async function launch({ dir, port, secure: secureOpt, log, detached, timeoutMs, java, lib, t0, nodeId = 1, controllerPort: fixedControllerPort, clusterId: newClusterId }) {
  const prev = readState(dir);
  if (prev && brokerAlive(prev.pid, dir)) {
    const err = new Error(`a Kafka broker is already running in ${dir} (pid ${prev.pid}, port ${prev.port})`);
    err.code = 'EKAFKARUNNING';
    err.state = prev;
    throw err;
  }

  if (port != null) {
    port = Number(port);
    // Just stopped a broker on this port? Give the OS a moment to free it.
    if (!(await waitPortFree(port, 3_000))) throw new Error(`port ${HOST}:${port} is in use`);
  } else if (prev?.port && (await portFree(prev.port))) {
    port = prev.port;
  } else {
    port = await freePort();
  }
  const controllerPort =
    fixedControllerPort ??
    (prev?.controllerPort && prev.controllerPort !== port && (await portFree(prev.controllerPort))
      ? prev.controllerPort
      : await freePort([port]));

  // Secure listeners: the ports they had if free, certificates and users kept in the dir.
  const credentials = secureOptions(secureOpt, prev?.scram);
  let secure = null;
  if (credentials) {
    const ports = {};
    const taken = [port, controllerPort];
    for (const name of SECURE_LISTENERS) {
      const before = prev?.secure?.ports?.[name];
      ports[name] = before && !taken.includes(before) && (await portFree(before)) ? before : await freePort(taken);
      taken.push(ports[name]);
    }
    const certs = ensureTestCertificates(dir);
    const keyStore = path.join(certs.dir, 'broker-keystore.pem');
    secure = { ...credentials, ports, certs, keyStore, keyPassword: writeKeyStore(certs, keyStore), caFile: certs.caFile };
  }

  const propsFile = path.join(dir, 'server.properties');
  const log4jFile = path.join(dir, 'log4j2.properties');
  const logFile = path.join(dir, LOG_FILE);
  fs.writeFileSync(propsFile, serverProperties({ dir, port, controllerPort, secure, nodeId }), { mode: 0o600 });
  fs.writeFileSync(log4jFile, LOG4J2);

  const classpath = classpathOf(lib);
  const flags = baseJvmFlags();
  const archive = cdsArchive(classpath, flags);
  const haveArchive = archive && fs.existsSync(archive);
  const jvm = [...flags, `-Dlog4j2.configurationFile=${log4jFile}`, `-Dkafka.logs.dir=${dir}`];
  if (haveArchive) jvm.push(`-XX:SharedArchiveFile=${archive}`);
  const toolJvm = [...jvm];

  const out = fs.openSync(logFile, 'a');
  try {
    fs.writeSync(out, `\n===== ${new Date().toISOString()} otelytics kafka.mjs: Kafka ${KAFKA_VERSION}${nodeId === 1 ? '' : ` node ${nodeId}`} on ${HOST}:${port} (controller ${controllerPort})\n`);
    // SCRAM users: written into the metadata at format time; a dir that has other ones gets them later.
    let scram = prev?.scram ?? null;
    if (!isFormatted(dir)) {
      const clusterId = newClusterId ?? randomClusterId();
      log(`Formatting ${dir} (cluster id ${clusterId})`);
      const r = spawnSync(
        java,
        [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, ...(secure ? scramFormatArgs(secure) : [])],
        { stdio: ['ignore', out, out] },
      );
      if (r.error) throw r.error.code === 'ENOENT' ? new Error(`${java} not found (Kafka needs Java 17+)`) : r.error;
      if (r.status !== 0) throw new Error(`kafka-storage format failed (exit ${r.status}); ${logFile}:\n${tailFile(logFile)}`);
      scram = secure ? { username: secure.username, password: secure.password } : null;
    }
    const scramToAdd = secure && !(scram?.username === secure.username && scram?.password === secure.password);

    let cdsDump = null;
    if (archive && !haveArchive) {
      fs.mkdirSync(path.dirname(archive), { recursive: true });
      cdsDump = `${archive}.${process.pid}-${crypto.randomBytes(3).toString('hex')}.tmp`;
      jvm.push(`-XX:ArchiveClassesAtExit=${cdsDump}`);
    }

    const child = spawn(java, [...jvm, '-cp', classpath, 'kafka.Kafka', propsFile], {
      cwd: dir,
      detached,
      stdio: ['ignore', out, out],
    });
    const spawned = await new Promise((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (err) => resolve(err));
    });
    if (spawned) throw spawned.code === 'ENOENT' ? new Error(`${java} not found (Kafka needs Java 17+)`) : spawned;
    child.unref();
    let exited = null;
    child.once('exit', (code, signal) => (exited = { code, signal }));

    const pid = child.pid;
    const clusterId = readClusterId(dir);
    const listeners = { PLAINTEXT: [`${HOST}:${port}`] };
    if (secure) for (const name of SECURE_LISTENERS) listeners[name] = [`${HOST}:${secure.ports[name]}`];
    const state = {
      pid,
      ...(nodeId === 1 ? {} : { nodeId }),
      port,
      controllerPort,
      brokers: [`${HOST}:${port}`],
      listeners,
      ...(secure
        ? {
            secure: { ports: secure.ports },
            tls: { dir: secure.certs.dir, caFile: secure.certs.caFile, certFile: secure.certs.certFile, keyFile: secure.certs.keyFile },
            sasl: { username: secure.username, password: secure.password, mechanisms: SASL_MECHANISMS },
          }
        : {}),
      // The SCRAM user in the cluster metadata, kept across starts with and without `secure`.
      ...(scram && !scramToAdd ? { scram } : {}),
      dir,
      logFile,
      clusterId,
      version: KAFKA_VERSION,
      startedAt: new Date().toISOString(),
      ...(cdsDump ? { cdsDump, cdsArchive: archive } : {}),
    };
    writeState(dir, state);

    // Not detached: the broker dies with this process, and so does a temp data dir.
    const killOnExit = () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      if (isTempDataDir(dir)) {
        try {
          fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
        } catch {}
      }
    };
    if (!detached) process.on('exit', killOnExit);

    const handle = {
      brokers: state.brokers,
      nodeId,
      port,
      controllerPort,
      listeners,
      tls: state.tls,
      sasl: state.sasl,
      pid,
      dir,
      logFile,
      clusterId,
      /** Stops the broker; removes its dir unless `keepData`. */
      async stop({ keepData = false, signal = 'SIGTERM', timeoutMs: stopTimeout = 30_000 } = {}) {
        process.off('exit', killOnExit);
        await stopPid(pid, dir, { signal, timeoutMs: stopTimeout, exited: () => exited });
        finishCdsDump(state, exited);
        if (keepData) writeState(dir, { ...state, pid: null, stoppedAt: new Date().toISOString() });
        else await fsp.rm(dir, { recursive: true, force: true });
      },
      /** Stops (keeping data) and starts again on the same dir and port: a new handle. */
      async restart(opts = {}) {
        await handle.stop({ ...opts, keepData: true });
        if (nodeId !== 1) return launch({ dir, port, log, detached, timeoutMs, java, lib, t0: Date.now(), nodeId, controllerPort });
        return startKafka({ dir, port, log, detached, timeoutMs, secure: secure ? { username: secure.username, password: secure.password } : false });
      },
    };

    // Wait until it really serves.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) {
        process.off('exit', killOnExit);
        finishCdsDump(state, exited);
        const err = new Error(
          `Kafka broker exited during startup (${exited.signal ?? `exit ${exited.code}`}); ${logFile}:\n${tailFile(logFile)}`,
        );
        err.portTaken = /Address already in use/.test(tailFile(logFile, 1000));
        throw err;
      }
      if (await brokerServes(port)) break;
      if (Date.now() > deadline) {
        await handle.stop({ keepData: true, signal: 'SIGKILL' }).catch(noop);
        throw new Error(`Kafka broker did not serve on ${HOST}:${port} within ${timeoutMs}ms; ${logFile}:\n${tailFile(logFile)}`);
      }
      await sleep(50);
    }
    if (secure) {
      try {
        for (const name of SECURE_LISTENERS) {
          while (!(await tcpConnects(secure.ports[name]))) {
            if (exited || Date.now() > deadline) throw new Error(`the ${name} listener did not open on ${HOST}:${secure.ports[name]}; ${logFile}:\n${tailFile(logFile)}`);
            await sleep(50);
          }
        }
        if (scramToAdd) {
          log(`Adding SCRAM user ${secure.username}`);
          addScramUser({ java, jvm: toolJvm, classpath, port, secure, dir, out });
          state.scram = { username: secure.username, password: secure.password };
          writeState(dir, state);
        }
      } catch (err) {
        await handle.stop({ keepData: true, signal: 'SIGKILL' }).catch(noop);
        throw err;
      }
    }
    log(`Kafka ${KAFKA_VERSION}${nodeId === 1 ? '' : ` node ${nodeId}`} serving on ${HOST}:${port} (pid ${pid}) after ${((Date.now() - t0) / 1000).toFixed(2)}s`);
    return handle;
  } finally {
    fs.closeSync(out);
  }
}

/** The data dir of node `nodeId` of the cluster in `dir`: node 1 in `dir` itself, the others in `broker-<id>/`. */
function nodeDir(dir, nodeId) {
  return nodeId === 1 ? dir : path.join(dir, `broker-${nodeId}`);
}

/** The ids of the nodes (above 1) whose dirs the cluster in `dir` has, in order. */
function clusterNodeIds(dir) {
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch {}
  return names
    .map((n) => /^broker-(\d+)$/.exec(n)?.[1])
    .filter((id) => id !== undefined && fs.existsSync(path.join(dir, `broker-${id}`, STATE_FILE)))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * startKafka() with `brokers` above 1: node 1 (broker and controller) in `dir`, nodes 2..`count`
 * (brokers) in their own dirs, all launched at once with one cluster id; resolves once each serves
 * and node 1's metadata lists all of them.
 */
async function startCluster({ dir, count, log, detached, timeoutMs, java, lib, t0 }) {
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  const dirs = ids.map((id) => nodeDir(dir, id));
  for (const d of dirs) await fsp.mkdir(d, { recursive: true });
  // Ports: the ones each node had when free, else free ones; all distinct.
  const taken = [];
  const pick = async (before) => {
    const p = before && !taken.includes(before) && (await portFree(before)) ? before : await freePort(taken);
    taken.push(p);
    return p;
  };
  const ports = [];
  for (const d of dirs) ports.push(await pick(readState(d)?.port));
  const controllerPort = await pick(readState(dir)?.controllerPort);
  const clusterId = readClusterId(dir) ?? randomClusterId();

  const started = await Promise.allSettled(ids.map((nodeId, i) => launch({ dir: dirs[i], port: ports[i], log, detached, timeoutMs, java, lib, t0, nodeId, controllerPort, clusterId })));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.stop({ keepData: true, signal: 'SIGKILL' }).catch(noop) : undefined)));
    throw failed.reason;
  }
  const current = started.map((r) => r.value);
  const brokers = ports.map((p) => `${HOST}:${p}`);
  const deadline = t0 + timeoutMs;
  try {
    await waitForBrokers(ports[0], ids, deadline);
  } catch (err) {
    await Promise.all(current.map((h) => h.stop({ keepData: true, signal: 'SIGKILL' }).catch(noop)));
    throw err;
  }
  const running = ids.map(() => true);
  const nodes = ids.map((nodeId, i) => ({
    nodeId,
    port: ports[i],
    dir: dirs[i],
    logFile: current[i].logFile,
    get pid() {
      return current[i].pid;
    },
    get running() {
      return running[i];
    },
    /** Stops this node alone (SIGTERM unless `signal`); its data is kept. */
    async stop({ signal = 'SIGTERM', timeoutMs: stopTimeout = 30_000 } = {}) {
      running[i] = false;
      await current[i].stop({ keepData: true, signal, timeoutMs: stopTimeout });
    },
    /** Starts this node again on its port and data; resolves once it serves. */
    async start() {
      if (running[i]) return;
      current[i] = await launch({ dir: dirs[i], port: ports[i], log, detached, timeoutMs, java, lib, t0: Date.now(), nodeId, controllerPort, clusterId });
      running[i] = true;
    },
  }));

  log(`Kafka ${KAFKA_VERSION} cluster of ${count} brokers serving on ${brokers.join(',')} after ${((Date.now() - t0) / 1000).toFixed(2)}s`);
  const handle = {
    brokers,
    port: ports[0],
    controllerPort,
    listeners: { PLAINTEXT: brokers },
    get pid() {
      return current[0].pid;
    },
    dir,
    logFile: current[0].logFile,
    clusterId,
    nodes,
    /** Stops the brokers, then node 1 (the controller); removes the dir unless `keepData`. */
    async stop({ keepData = false, signal = 'SIGTERM', timeoutMs: stopTimeout = 30_000 } = {}) {
      await Promise.all(nodes.slice(1).map((n) => n.stop({ signal, timeoutMs: stopTimeout })));
      await nodes[0].stop({ signal, timeoutMs: stopTimeout });
      if (!keepData) await fsp.rm(dir, { recursive: true, force: true });
    },
    /** Stops every node (keeping the data) and starts the cluster again on the same ports: a new handle. */
    async restart() {
      await handle.stop({ keepData: true });
      return startKafka({ dir, brokers: count, log, detached, timeoutMs });
    },
  };
  return handle;
}

/** Waits until node 1's metadata lists every node of `ids` (each registered with the controller). */
async function waitForBrokers(port, ids, deadline) {
  const kjs = await kafkajs();
  if (!kjs) return;
  for (;;) {
    const admin = new kjs.Kafka({ clientId: 'otelytics-kafka-probe', brokers: [`${HOST}:${port}`], logLevel: kjs.logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 3000, retry: { retries: 0 } }).admin();
    let seen = [];
    try {
      await admin.connect();
      seen = (await admin.describeCluster()).brokers.map((b) => b.nodeId);
    } catch {
    } finally {
      await admin.disconnect().catch(noop);
    }
    if (ids.every((id) => seen.includes(id))) return;
    if (Date.now() > deadline) throw new Error(`the cluster's metadata lists brokers ${seen.join(', ') || 'none'}, not all of ${ids.join(', ')}`);
    await sleep(100);
  }
}

/** A dir startKafka() made with mkdtemp (and that restarts reuse). */
function isTempDataDir(dir) {
  return path.dirname(dir) === path.resolve(os.tmpdir()) && path.basename(dir).startsWith('otelytics-kafka-');
}

function readClusterId(dir) {
  try {
    return /^cluster\.id=(.*)$/m.exec(fs.readFileSync(path.join(dir, 'data', 'meta.properties'), 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** SIGTERM (or `signal`), wait, SIGKILL after `timeoutMs`. */
async function stopPid(pid, dir, { signal = 'SIGTERM', timeoutMs = 30_000, exited = () => null } = {}) {
  const alive = () => !exited() && brokerAlive(pid, dir);
  if (!alive()) return 'not running';
  try {
    process.kill(pid, signal);
  } catch {}
  const until = Date.now() + timeoutMs;
  while (alive()) {
    if (Date.now() > until) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      const hard = Date.now() + 10_000;
      while (alive() && Date.now() < hard) await sleep(50);
      return 'killed';
    }
    await sleep(50);
  }
  return 'stopped';
}

/** After a broker that was dumping a class-data archive has exited: keep the archive if complete. */
function finishCdsDump(state, exited) {
  if (!state.cdsDump) return;
  const clean = exited ? exited.code === 0 || exited.code === 143 : true;
  try {
    if (clean && fs.statSync(state.cdsDump).size > 0 && !fs.existsSync(state.cdsArchive)) {
      fs.renameSync(state.cdsDump, state.cdsArchive);
    }
  } catch {}
  fs.rmSync(state.cdsDump, { force: true });
}

/** Stops the broker of `dir` (started by the CLI or by startKafka in another process). */
export async function stopKafka({ dir = defaultDataDir(), purge = false, timeoutMs = 30_000, log = noop } = {}) {
  dir = path.resolve(dir);
  // A cluster's brokers first, while node 1's controller still runs (a controlled shutdown).
  const results = await Promise.all([...clusterNodeIds(dir).map((id) => stopNode(nodeDir(dir, id), { timeoutMs, log }))]);
  const result = await stopNode(dir, { timeoutMs, log });
  if (purge) await fsp.rm(dir, { recursive: true, force: true });
  return results.includes('killed') ? 'killed' : result === 'not running' && results.includes('stopped') ? 'stopped' : result;
}

/** Stops the node of `dir` (not this process's child) if it runs: 'stopped', 'killed' or 'not running'. */
async function stopNode(dir, { timeoutMs, log }) {
  const state = readState(dir);
  if (!state?.pid || !brokerAlive(state.pid, dir)) return 'not running';
  log(`Stopping Kafka ${state.nodeId ? `node ${state.nodeId}` : 'broker'} (pid ${state.pid}) ...`);
  const result = await stopPid(state.pid, dir, { timeoutMs });
  // Not our child: no exit code. A SIGKILLed dump is incomplete.
  finishCdsDump(state, result === 'killed' ? { code: 137 } : null);
  writeState(dir, { ...state, pid: null, stoppedAt: new Date().toISOString() });
  return result;
}

/**
 * For test set-up: the cluster in `KAFKA_BROKERS` (comma-separated host:port) when
 * set, and nothing is started or stopped; else a fresh broker from startKafka(). With
 * `secure` always a fresh broker: its CA, client certificate and user are needed.
 */
export async function ensureKafka(opts = {}) {
  const env = process.env.KAFKA_BROKERS?.trim();
  if (env && !opts.secure) {
    const brokers = env.split(',').map((b) => b.trim()).filter(Boolean);
    return { brokers, port: Number(brokers[0].split(':').pop()), pid: null, dir: null, external: true, stop: async () => {}, restart: null };
  }
  return startKafka(opts);
}

// ---------------------------------------------------------------- CLI

const USAGE = `Usage: node scripts/kafka/kafka.mjs <command> [options]

Runs a single-node Apache Kafka ${KAFKA_VERSION} broker (KRaft) on 127.0.0.1 from Maven Central jars.

Commands:
  install   fetch the jars into ${path.join('$OTELYTICS_CACHE', `kafka-${KAFKA_VERSION}`, 'lib')} (start does this too)
  start     start the broker in the background; prints KAFKA_BROKERS=127.0.0.1:<port>
            (with --secure also the secure listeners, CA, client certificate and user)
  stop      stop it (SIGTERM, SIGKILL after --timeout seconds); data is kept unless --purge
  restart   stop, then start on the same port and data (a secure broker stays secure,
            a cluster keeps its brokers)
  status    print KAFKA_BROKERS=... and exit 0 if running, else exit 1

Options:
  --dir DIR       data dir (default ${defaultDataDir()})
  --port PORT     client port (default: the last one used for this dir if free, else a free one)
  --purge         stop: also delete the data dir
  --secure        start/restart: also SASL_PLAINTEXT, SSL, SASL_SSL and MTLS listeners (needs openssl)
  --brokers N     start/restart: a cluster of N brokers on free ports, node 1 also the controller, the
                  others in DIR/broker-<id>/ (default: 1, or as many as the dir has); not with --secure
  --timeout SECS  start: wait this long to serve (90); stop: before SIGKILL (30)
`;

/**
 * What `start` and `status` print, one `NAME=value` a line for `eval "export $(...)"`:
 * `KAFKA_BROKERS`, and for a secure broker `KAFKA_<LISTENER>_BROKERS` of each secure listener,
 * `KAFKA_CA_FILE`, `KAFKA_CLIENT_CERT_FILE`, `KAFKA_CLIENT_KEY_FILE`, `KAFKA_USERNAME`,
 * `KAFKA_PASSWORD`.
 */
function envLines(b) {
  const lines = [`KAFKA_BROKERS=${b.brokers.join(',')}`];
  if (b.sasl && b.tls && b.listeners) {
    for (const name of SECURE_LISTENERS) if (b.listeners[name]) lines.push(`KAFKA_${name}_BROKERS=${b.listeners[name].join(',')}`);
    lines.push(`KAFKA_CA_FILE=${b.tls.caFile}`, `KAFKA_CLIENT_CERT_FILE=${b.tls.certFile}`, `KAFKA_CLIENT_KEY_FILE=${b.tls.keyFile}`);
    lines.push(`KAFKA_USERNAME=${b.sasl.username}`, `KAFKA_PASSWORD=${b.sasl.password}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

async function cli(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      port: { type: 'string' },
      purge: { type: 'boolean', default: false },
      secure: { type: 'boolean', default: false },
      brokers: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) {
    process.stdout.write(USAGE);
    return cmd || values.help ? 0 : 2;
  }
  const log = (line) => process.stderr.write(`${line}\n`);
  const dir = path.resolve(values.dir ?? defaultDataDir());
  const timeoutMs = values.timeout ? Number(values.timeout) * 1000 : undefined;
  const port = values.port != null ? Number(values.port) : undefined;
  if (port != null && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`bad --port ${values.port}`);
  // A dir that holds a cluster starts as one.
  const brokers = values.brokers != null ? Number(values.brokers) : 1 + clusterNodeIds(dir).length;
  if (!(Number.isInteger(brokers) && brokers >= 1)) throw new Error(`bad --brokers ${values.brokers}`);

  const start = async (secure = values.secure) => {
    const running = kafkaStatus({ dir });
    if (running) {
      log(`Kafka broker already running (pid ${running.pid}), data ${dir}`);
      if (secure && !running.sasl) log('it has no secure listeners: restart it with --secure to add them');
      process.stdout.write(envLines(running));
      return 0;
    }
    const k = await startKafka({ dir, port, secure, log, detached: true, ...(brokers > 1 ? { brokers } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
    log(`data ${k.dir}\nlog  ${k.logFile}`);
    process.stdout.write(envLines(k));
    return 0;
  };

  switch (cmd) {
    case 'install':
      log(`Kafka ${KAFKA_VERSION} jars in ${await installKafka({ log })}`);
      return 0;
    case 'start':
      return start();
    case 'stop': {
      const r = await stopKafka({ dir, purge: values.purge, log, ...(timeoutMs ? { timeoutMs } : {}) });
      log(r === 'not running' ? 'Kafka broker not running' : `Kafka broker ${r}`);
      if (values.purge) log(`removed ${dir}`);
      return 0;
    }
    case 'restart': {
      // A secure broker comes back secure, with the same user and password.
      const secure = values.secure || Boolean(kafkaStatus({ dir })?.sasl);
      await stopKafka({ dir, log, ...(timeoutMs ? { timeoutMs } : {}) });
      return start(secure);
    }
    case 'status': {
      const s = kafkaStatus({ dir });
      if (!s) {
        log(`Kafka broker not running (data ${dir})`);
        return 1;
      }
      log(`Kafka ${s.version} running: pid ${s.pid}, since ${s.startedAt}\ndata ${s.dir}\nlog  ${s.logFile}`);
      process.stdout.write(envLines(s));
      return 0;
    }
    default:
      process.stderr.write(`unknown command: ${cmd}\n\n${USAGE}`);
      return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`kafka.mjs: ${err.message}\n`);
      process.exit(1);
    },
  );
}
