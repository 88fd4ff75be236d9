/** `otelytics_kafka_consumer_lag{receiver,topic,partition}` against a real broker. */
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
});
