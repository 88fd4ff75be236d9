/**
 * `otelytics_kafka_consumer_lag{receiver,topic,partition}` (per batch) and
 * `otelytics_kafka_receiver_lag{receiver,group,topic,partition}` (the group's committed offsets
 * against the high watermarks, read every lag_interval) against a real broker.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Consumer } from '../../src/component.js';
import { RetryableError } from '../../src/errors.js';
import { encodeLogsRequest } from '../../src/otlp/proto.js';
import { Telemetry } from '../../src/telemetry.js';
import { kafkaReceiverFactory } from '../../receivers/kafka/index.js';
import { createTopic, fixtureData, kafkaClient, noKafka, settings, startBroker, type Broker } from '../exporters/kafka/kafka-helpers.js';
import { describeUnless } from '../skip.js';

async function lag(t: Telemetry, topic: string): Promise<number | undefined> {
  const m = (await t.registry.getMetricsAsJSON()).find((x) => x.name === 'otelytics_kafka_consumer_lag');
  const v = m?.values.find((x) => x.labels.topic === topic && x.labels.partition === '0' && x.labels.receiver === 'kafka');
  return v === undefined ? undefined : Number(v.value);
}

async function series(t: Telemetry, name: string, topic: string): Promise<Map<string, number>> {
  const m = (await t.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return new Map((m?.values ?? []).filter((v) => v.labels.topic === topic).map((v) => [String(v.labels.partition), Number(v.value)]));
}

async function until(cond: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeUnless(noKafka, 'kafka consumer lag', { timeout: 120_000 }, () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker?.stop();
  });

  it('shows the records a refusing pipeline leaves unprocessed, and 0 once it takes them', async () => {
    const topic = 'lag-logs';
    await createTopic(broker.brokers, topic, 1);
    const logs = fixtureData().logs;
    const producer = kafkaClient(broker.brokers).producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: logs.map((l) => ({ value: Buffer.from(encodeLogsRequest(l)) })) });
    await producer.disconnect();

    let refusing = true;
    let refusals = 0;
    const consumer: Consumer = {
      async consume() {
        if (refusing) {
          refusals++;
          throw new RetryableError('full for now', 50);
        }
      },
    };
    const telemetry = new Telemetry();
    const cfg = kafkaReceiverFactory.configSchema.parse({ brokers: broker.brokers, group_id: 'g-lag', initial_offset: 'earliest', heartbeat_interval: '300ms', session_timeout: '6s', max_fetch_wait: '100ms', logs: { topics: [topic] } });
    const r = kafkaReceiverFactory.create(settings('kafka', telemetry), cfg, { logs: consumer });
    await r.start({ getExporter: () => undefined });
    try {
      await until(async () => refusals >= 1 && (await lag(telemetry, topic)) !== undefined, 'a refused batch');
      assert.equal(await lag(telemetry, topic), logs.length);
      refusing = false;
      await until(async () => (await lag(telemetry, topic)) === 0, 'lag 0 after the pipeline took the records');
    } finally {
      await r.shutdown();
    }
  });

  it("reads the group's lag per partition every lag_interval from its committed offsets, and which partitions it holds", async () => {
    const topic = 'lag-group';
    await createTopic(broker.brokers, topic, 3);
    const logs = fixtureData().logs;
    const producer = kafkaClient(broker.brokers).producer();
    await producer.connect();
    // Two records in each partition.
    await producer.send({ topic, acks: -1, messages: [0, 1, 2].flatMap((partition) => logs.slice(0, 2).map((l) => ({ partition, value: Buffer.from(encodeLogsRequest(l)) }))) });
    await producer.disconnect();

    let refusing = true;
    const consumer: Consumer = {
      async consume() {
        if (refusing) throw new RetryableError('full for now', 50);
      },
    };
    const telemetry = new Telemetry();
    const cfg = kafkaReceiverFactory.configSchema.parse({ brokers: broker.brokers, group_id: 'g-lag-group', initial_offset: 'earliest', heartbeat_interval: '300ms', session_timeout: '6s', max_fetch_wait: '100ms', lag_interval: '200ms', logs: { topics: [topic] } });
    assert.equal(kafkaReceiverFactory.configSchema.parse({ logs: {} }).lag_interval, 5000, 'every 5 s by default');
    const r = kafkaReceiverFactory.create(settings('kafka', telemetry), cfg, { logs: consumer });
    await r.start({ getExporter: () => undefined });
    try {
      // Nothing committed yet (earliest): the whole partition is lag, in each of the three.
      await until(async () => (await series(telemetry, 'otelytics_kafka_receiver_lag', topic)).size === 3, 'the lag of 3 partitions');
      assert.deepEqual([...(await series(telemetry, 'otelytics_kafka_receiver_lag', topic))].sort(), [['0', 2], ['1', 2], ['2', 2]]);
      await until(async () => [...(await series(telemetry, 'otelytics_kafka_receiver_partition_assigned', topic)).values()].every((v) => v === 1), 'all partitions held by the only member');
      const m = (await telemetry.registry.getMetricsAsJSON()).find((x) => x.name === 'otelytics_kafka_receiver_lag')!;
      assert.equal(m.values[0]!.labels.group, 'g-lag-group');
      refusing = false;
      await until(async () => [...(await series(telemetry, 'otelytics_kafka_receiver_lag', topic)).values()].every((v) => v === 0), 'lag 0 once committed');
    } finally {
      await r.shutdown();
    }
  });
});
