/**
 * The cases of the side-by-side benchmark: how each system is started for a case, and what the case
 * needs around it (the pass-through sink of C, the Kafka broker and topics of B).
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { projectRoot } from '../../test/helpers.js';
import { startSink, type Sink } from './load.js';
import { startCollector, startCollectorWithMetrics, startOtelytics, type SystemUnderTest } from './systems.js';
import { hasTaskset } from '../harness.js';

/** A case made ready to run: start either system as often as needed, then close. */
export interface OpenCase {
  /** `metrics`: with the collector's own metrics on (needed to count at the system). */
  collector(metrics: boolean): Promise<SystemUnderTest>;
  otelytics(): Promise<SystemUnderTest>;
  /** Case A on several cores (`cpus`, e.g. `0,1`): the collector with GOMAXPROCS = their number, otelytics with `workers` workers. */
  onCores?: { collector(cpus: string): Promise<SystemUnderTest>; otelytics(cpus: string, workers: number): Promise<SystemUnderTest> };
  /** Bytes the sink has received so far (case C), else undefined. */
  sinkBytes(): number | undefined;
  close(): Promise<void>;
}

export interface Case {
  id: string;
  title: string;
  /** Resolves with a string saying why the case is skipped when it cannot run here. */
  open(bin: string): Promise<OpenCase | string>;
}

/** Codec of both Kafka producers in case B (otelytics: lz4-napi; the collector: franz-go). */
export const KAFKA_COMPRESSION = 'lz4';

const exampleConfig = path.join(projectRoot, 'config.example.yaml');
const pseudonymKey = (): Record<string, string> => ({ OTELYTICS_PSEUDONYM_KEY: randomBytes(32).toString('base64') });
/** config.example.yaml's events pipeline ending in `exporter` (defined by `define`, if given). */
const examplePipeline = (exporter: string, define: string): string[] => ['service::telemetry::logs::level=error', `exporters::${exporter}=${define}`, `service::pipelines::events::exporters=[${exporter}]`];

const caseA: Case = {
  id: 'A',
  title: 'A: otlp/http → span-to-event mapping → PII removal → batch → discard',
  open: async (bin) => ({
    collector: (metrics) => (metrics ? startCollectorWithMetrics(bin, 'case-a.yaml') : startCollector(bin, 'case-a.yaml')),
    otelytics: () => startOtelytics(exampleConfig, examplePipeline('nop', '{}'), true, pseudonymKey()),
    onCores: {
      collector: (cpus) => startCollector(bin, 'case-a.yaml', {}, cpus),
      otelytics: (cpus, workers) => startOtelytics(exampleConfig, examplePipeline('nop', '{}'), true, pseudonymKey(), hasTaskset, cpus, workers),
    },
    sinkBytes: () => undefined,
    close: async () => {},
  }),
};

interface Broker {
  brokers: string[];
  stop(): Promise<void>;
}

const caseB: Case = {
  id: 'B',
  title: `B: otlp/http → span-to-event mapping → PII removal → batch → Kafka (${KAFKA_COMPRESSION})`,
  open: async (bin) => {
    if (spawnSync(process.env.JAVA ?? 'java', ['-version'], { stdio: 'ignore' }).error) return 'java not found (the Kafka broker needs Java 17+)';
    const { startKafka } = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'kafka', 'kafka.mjs')).href)) as { startKafka(): Promise<Broker> };
    const broker = await startKafka();
    const topics = { collector: 'bench_collector_traces', otelytics: 'bench_otelytics_events' };
    try {
      const admin = new Kafka({ clientId: 'otelytics-bench', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
    } catch (err) {
      await broker.stop();
      throw err;
    }
    const brokers = broker.brokers.join(',');
    return {
      // case-b.yaml turns the collector's metrics on itself.
      collector: () => startCollectorWithMetrics(bin, 'case-b.yaml', { BENCH_KAFKA_BROKERS: brokers, BENCH_KAFKA_TOPIC: topics.collector }),
      otelytics: () =>
        startOtelytics(
          exampleConfig,
          examplePipeline('kafka', `{brokers: "${brokers}", events: {topic: ${topics.otelytics}, encoding: json}, producer: {compression: ${KAFKA_COMPRESSION}}}`),
          true,
          pseudonymKey(),
        ),
      sinkBytes: () => undefined,
      close: () => broker.stop(),
    };
  },
};

const caseC: Case = {
  id: 'C',
  title: 'C: otlp/http → otlp_http pass-through to a sink',
  open: async (bin) => {
    const sink: Sink = await startSink();
    const env = { BENCH_SINK: sink.url };
    return {
      collector: (metrics) => (metrics ? startCollectorWithMetrics(bin, 'case-c.yaml', env) : startCollector(bin, 'case-c.yaml', env)),
      otelytics: () => startOtelytics(path.join(projectRoot, 'bench', 'collector', 'otelytics-c.yaml'), [], false, env),
      sinkBytes: () => sink.bytes,
      close: () => sink.close(),
    };
  },
};

export const allCases: readonly Case[] = [caseA, caseB, caseC];
