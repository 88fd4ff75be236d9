/**
 * scripts/kafka/kafka.mjs runs a real Kafka broker: produce, consume, restart with
 * data kept, read again; the same data dir started again with `secure` gets the secure
 * listeners and its SCRAM user, which a restart keeps. Needs Java 17+ (and Maven the first
 * time, to fetch the jars into the cache; openssl for `secure`); skipped when `java` is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { projectRoot } from './helpers.js';
import { skipUnlessCi } from './skip.js';

interface KafkaBroker {
  brokers: string[];
  listeners: Record<string, string[]>;
  tls?: { caFile: string; certFile: string; keyFile: string };
  sasl?: { username: string; password: string };
  port: number;
  controllerPort: number;
  pid: number;
  dir: string;
  logFile: string;
  clusterId: string;
  stop(opts?: { keepData?: boolean; signal?: NodeJS.Signals; timeoutMs?: number }): Promise<void>;
}
interface KafkaScript {
  KAFKA_VERSION: string;
  startKafka(opts?: { dir?: string; port?: number; secure?: boolean; log?: (line: string) => void }): Promise<KafkaBroker>;
}

const javaMissing = spawnSync(process.env.JAVA ?? 'java', ['-version'], { stdio: 'ignore' }).error != null;

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'otelytics-kafka-broker-test', brokers, logLevel: logLevel.NOTHING });
}

/** Consumes `topic` from the beginning in a new group until `count` messages arrived. */
async function consume(kafka: Kafka, topic: string, groupId: string, count: number): Promise<string[]> {
  const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const got: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${got.length}/${count} from ${topic} in 30s`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            got.push(`${message.key?.toString()}=${message.value?.toString()}`);
            if (got.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

test('kafka.mjs runs a real broker that keeps its data across a restart', { skip: skipUnlessCi(javaMissing && 'java not found'), timeout: 300_000 }, async () => {
  const script = pathToFileURL(path.join(projectRoot, 'scripts', 'kafka', 'kafka.mjs')).href;
  const { startKafka }: KafkaScript = await import(script);
  const topic = 'otelytics-broker-test';

  const first = await startKafka();
  let current = first;
  try {
    assert.deepEqual(first.brokers, [`127.0.0.1:${first.port}`]);
    const kafka = client(first.brokers);

    const admin = kafka.admin();
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value: 'hello kafka' }] });
    await producer.disconnect();

    assert.deepEqual(await consume(kafka, topic, 'g-before', 1), ['k1=hello kafka']);

    // Graceful stop keeping the data, then the same dir and port again.
    await first.stop({ keepData: true });
    assert.ok(fs.existsSync(path.join(first.dir, 'data', 'meta.properties')));
    current = await startKafka({ dir: first.dir, port: first.port });
    assert.equal(current.port, first.port);
    assert.equal(current.clusterId, first.clusterId);
    assert.notEqual(current.pid, first.pid);

    const again = client(current.brokers);
    assert.deepEqual(await consume(again, topic, 'g-after', 1), ['k1=hello kafka']);

    // The first group's committed offset survived too.
    const admin2 = again.admin();
    await admin2.connect();
    const offsets = await admin2.fetchOffsets({ groupId: 'g-before', topics: [topic] });
    await admin2.disconnect();
    assert.equal(offsets[0]?.partitions[0]?.offset, '1');

    // A crash (SIGKILL): the restarted broker still has every acknowledged message.
    await current.stop({ keepData: true, signal: 'SIGKILL' });
    current = await startKafka({ dir: first.dir, port: first.port });
    assert.deepEqual(await consume(client(current.brokers), topic, 'g-crash', 1), ['k1=hello kafka']);

    // The same dir with the secure listeners: its SCRAM user is added to the formatted data, and a
    // restart keeps the user, its password and the certificates.
    assert.equal(current.sasl, undefined);
    assert.deepEqual(Object.keys(current.listeners), ['PLAINTEXT']);
    await current.stop({ keepData: true });
    current = await startKafka({ dir: first.dir, port: first.port, secure: true });
    const secure = current;
    const scram = (b: KafkaBroker) =>
      new Kafka({
        clientId: 'otelytics-kafka-broker-test',
        brokers: b.listeners.SASL_SSL!,
        ssl: { ca: [fs.readFileSync(b.tls!.caFile)] },
        sasl: { mechanism: 'scram-sha-512', username: b.sasl!.username, password: b.sasl!.password },
        logLevel: logLevel.NOTHING,
      });
    assert.deepEqual(await consume(scram(secure), topic, 'g-secure', 1), ['k1=hello kafka']);
    current = await (secure as KafkaBroker & { restart(): Promise<KafkaBroker> }).restart();
    assert.deepEqual(current.sasl, secure.sasl);
    assert.deepEqual(current.tls, secure.tls);
    assert.deepEqual(await consume(scram(current), topic, 'g-secure-again', 1), ['k1=hello kafka']);
  } finally {
    await current.stop();
  }
  assert.equal(fs.existsSync(first.dir), false, 'stop() removes the data dir');
});
