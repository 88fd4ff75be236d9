/**
 * Helpers for the Kafka tests: a real broker from scripts/kafka/kafka.mjs, reading a topic back,
 * component settings with a silent logger, and the events the example rules make of the fixtures.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IHeaders, Kafka as KafkaClient } from 'kafkajs';
import { kafkajs } from '../../../src/kafka/client.js';
import pino from 'pino';
import type { CreateSettings, Exporter, Host, Payload } from '../../../src/component.js';
import { resolveConfig } from '../../../src/config/resolve.js';
import { loadRawConfig } from '../../../src/config/sources.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { decodeLogsJson, decodeTracesJson } from '../../../src/otlp/json.js';
import type { LogsData, TracesData } from '../../../src/pdata.js';
import { defaultRegistry } from '../../../src/registry.js';
import { Telemetry } from '../../../src/telemetry.js';
import { EventMaker } from '../../../processors/analytics/index.js';
import type { AnalyticsConfig } from '../../../processors/analytics/config.js';
import { compileEventMatcher, type FilterConfig } from '../../../processors/filter/index.js';
import { fixtureBodyPlain, fixtureManifest, projectRoot } from '../../helpers.js';

// Through the client module, so that kafkajs loads with the gateway's producer internals in place.
const { Kafka, logLevel } = kafkajs();

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export interface Broker {
  brokers: string[];
  port: number;
  dir: string;
  /** `host:port` lists by listener name: PLAINTEXT, and with `secure` SASL_PLAINTEXT, SSL, SASL_SSL, MTLS. */
  listeners: Record<string, string[]>;
  stop(opts?: { keepData?: boolean; signal?: NodeJS.Signals }): Promise<void>;
}

/** A broker started with `secure: true`: its test CA, a client certificate it signed, its user. */
export interface SecureBroker extends Broker {
  listeners: Record<'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL' | 'MTLS', string[]>;
  tls: { dir: string; caFile: string; certFile: string; keyFile: string };
  sasl: { username: string; password: string; mechanisms: string[] };
}

/** Why Kafka tests cannot run here, or false. */
export const noKafka: string | false = spawnSync(process.env.JAVA ?? 'java', ['-version'], { stdio: 'ignore' }).error != null ? 'java not found' : false;

/** A node of a {@link Cluster}: `stop()` stops it alone (data kept), `start()` brings it back on its port. */
export interface ClusterNode {
  nodeId: number;
  port: number;
  readonly running: boolean;
  stop(opts?: { signal?: NodeJS.Signals }): Promise<void>;
  start(): Promise<void>;
}

/** A cluster from scripts/kafka/kafka.mjs `brokers: n`: node 1 is also the controller. */
export interface Cluster extends Broker {
  nodes: ClusterNode[];
}

interface KafkaScript {
  startKafka(o?: { dir?: string; port?: number; secure?: boolean; brokers?: number }): Promise<Broker>;
  ensureTestCertificates(dir: string): { dir: string; caFile: string; certFile: string; keyFile: string; brokerCertFile: string; brokerKeyFile: string };
}

async function kafkaScript(): Promise<KafkaScript> {
  return (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'kafka', 'kafka.mjs')).href)) as KafkaScript;
}

async function startKafka(): Promise<KafkaScript['startKafka']> {
  return (await kafkaScript()).startKafka;
}

/** The test PKI of a secure broker (CA, broker and client certificates, made with openssl) in `<dir>/tls`. */
export async function testCertificates(dir: string): Promise<ReturnType<KafkaScript['ensureTestCertificates']>> {
  return (await kafkaScript()).ensureTestCertificates(dir);
}

/** A fresh single-node broker (or the one of a previous run, given its dir and port). */
export async function startBroker(opts: { dir?: string; port?: number } = {}): Promise<Broker> {
  return (await startKafka())(opts);
}

/** A fresh cluster of `brokers` brokers on free ports (scripts/kafka/README.md, "A cluster of brokers"). */
export async function startCluster(brokers: number): Promise<Cluster> {
  return (await startKafka())({ brokers }) as Promise<Cluster>;
}

/** The leader broker of each partition of `topic`, by partition id. */
export async function partitionLeaders(brokers: string[], topic: string): Promise<Map<number, number>> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const [t] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    return new Map(t!.partitions.map((p) => [p.partitionId, p.leader]));
  } finally {
    await admin.disconnect();
  }
}

/** A fresh broker with the secure listeners as well (scripts/kafka/README.md, "Secure listeners"). */
export async function startSecureBroker(): Promise<SecureBroker> {
  return (await startKafka())({ secure: true }) as Promise<SecureBroker>;
}

export function kafkaClient(brokers: string[]): KafkaClient {
  return new Kafka({ clientId: 'otelytics-test', brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 } });
}

export async function createTopic(brokers: string[], topic: string, numPartitions = 3, configEntries: { name: string; value: string }[] = []): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions, configEntries }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k] = (Array.isArray(v) ? v[0]! : v).toString();
  return out;
}

/**
 * Reads `topic` from its beginning with a new group until `until(records)` holds, or fails after
 * `timeoutMs`; then waits `settleMs` more to catch records beyond it (duplicates).
 */
export async function readTopic(brokers: string[], topic: string, until: (records: ReadRecord[]) => boolean, opts: { timeoutMs?: number; settleMs?: number } = {}): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  let done!: () => void;
  const reached = new Promise<void>((resolve) => (done = resolve));
  // The topic may not exist yet (auto-created by the first producer): retry for a while.
  let consumer: ReturnType<KafkaClient['consumer']>;
  for (let attempt = 0; ; attempt++) {
    consumer = kafkaClient(brokers).consumer({ groupId: `reader-${topic}-${Math.random().toString(36).slice(2)}`, maxWaitTimeInMs: 100 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic: t, partition, message }) => {
          records.push({ topic: t, partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value ?? Buffer.alloc(0), headers: headersOf(message.headers) });
          if (until(records)) done();
        },
      });
      break;
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      if (attempt >= 30 || (err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      reached,
      new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`read ${records.length} records from ${topic}; condition not met in time`)), opts.timeoutMs ?? 20_000))),
    ]).finally(() => clearTimeout(timer));
    if (opts.settleMs) await new Promise((r) => setTimeout(r, opts.settleMs));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

export const silentLogger = pino({ level: 'silent' });

/** A logger at trace level (kafkajs' own lines included) that keeps every line it writes, as JSON text. */
export function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }), lines };
}

export function settings(id: string, telemetry = new Telemetry()): CreateSettings {
  return { id, logger: silentLogger, telemetry };
}

/** A host whose dead-letter exporter `dl` records what it is given. */
export function captureHost(): { host: Host; deadLetters: Payload[] } {
  const deadLetters: Payload[] = [];
  const dl: Exporter = {
    start: async () => {},
    shutdown: async () => {},
    consume: async (p) => void deadLetters.push(p),
  };
  return { host: { getExporter: (id) => (id === 'dl' ? dl : undefined) }, deadLetters };
}

/** The fixture batches, once each (from their OTLP/JSON files), decoded. */
export function fixtureData(): { traces: TracesData[]; logs: LogsData[] } {
  const traces: TracesData[] = [];
  const logs: LogsData[] = [];
  for (const f of fixtureManifest().filter((x) => x.path.endsWith('.json'))) {
    const text = fixtureBodyPlain(f).toString('utf8');
    if (f.signal === 'traces') traces.push(decodeTracesJson(text));
    else logs.push(decodeLogsJson(text));
  }
  return { traces, logs };
}

/** The analytics config of config.example.yaml (the rules the examples use). */
export function exampleAnalyticsConfig(): AnalyticsConfig {
  const cfg = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry());
  return cfg.processors.get('analytics')!.config as AnalyticsConfig;
}

/**
 * The events gateway B of the two-stage example (config.example.yaml + examples/kafka-pipeline-events.yaml)
 * makes of the shop captures (or of `data`): its analytics rules, then its filter.
 */
export function expectedShopEvents(data = fixtureData()): AnalyticsEvent[] {
  const cfg = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml'), path.join(projectRoot, 'examples', 'kafka-pipeline-events.yaml')], [], {}), defaultRegistry());
  const exclude = (cfg.processors.get('filter')!.config as FilterConfig).events.exclude;
  const drop = exclude ? compileEventMatcher(exclude) : () => false;
  return eventsOf(data).filter((e) => !drop(e));
}

/** Events the example rules make of the given data. */
export function eventsOf(data: { traces: TracesData[]; logs: LogsData[] }, cfg = exampleAnalyticsConfig()): AnalyticsEvent[] {
  const maker = new EventMaker(cfg);
  const out: AnalyticsEvent[] = [];
  for (const t of data.traces) maker.fromTraces(t, out);
  for (const l of data.logs) maker.fromLogs(l, out);
  return out;
}
