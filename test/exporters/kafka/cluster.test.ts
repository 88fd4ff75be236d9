/**
 * The kafka exporter against a cluster of two brokers (topic partitions at replication factor 1,
 * led by both). With its sending queue, while one broker is stopped for a while and started again
 * under a stream of events: every event arrives, and no event on the partitions of the broker that
 * stayed up arrives twice, although the batches holding them were retried for the other broker's
 * share. And records for partitions added to a topic after the producer loaded its metadata
 * arrive.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { kafkaExporterFactory, type KafkaExporter } from '../../../exporters/kafka/index.js';
import type { TopicLeaders } from '../../../exporters/kafka/leaders.js';
import { captureHost, createTopic, eventsOf, fixtureData, kafkaClient, noKafka, partitionLeaders, readTopic, settings, startCluster, type Cluster } from './kafka-helpers.js';
import { describeUnless } from '../../skip.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const base = eventsOf(fixtureData());
/** Event `i` of a stream: a fixture event with an insert_id of its own, keyed by one of 60 users. */
const event = (i: number): AnalyticsEvent => ({ ...base[i % base.length]!, insert_id: `ev-${i}`, user_id: `user-${i % 60}` });

describeUnless(noKafka, 'kafka exporter on a cluster of two brokers', { timeout: 180_000 }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster(2);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('delivers every event, and none of the healthy broker twice, while the other broker is down for seconds', async () => {
    const topic = 'ev-outage';
    await createTopic(cluster.brokers, topic, 6);
    const leaders = await partitionLeaders(cluster.brokers, topic);
    const down = cluster.nodes[1]!;
    assert.deepEqual(new Set(leaders.values()), new Set([1, 2]), 'partitions led by both brokers');

    const telemetry = new Telemetry();
    const cfg = kafkaExporterFactory.configSchema.parse({
      brokers: cluster.brokers,
      events: { topic },
      sending_queue: { batch: {} },
      retry_on_failure: { initial_interval: '250ms', max_interval: '1s', max_elapsed_time: 0 },
    });
    const ex = kafkaExporterFactory.create(settings('kafka/outage', telemetry), cfg);
    const { host } = captureHost();
    await ex.start(host);

    // 40 events every 50 ms: 1 s with both brokers, then while broker 2 stops, is down for 6 s and
    // starts again, then 1 s more.
    let sent = 0;
    let feeding = true;
    const feeder = (async () => {
      while (feeding) {
        const data = Array.from({ length: 40 }, (_, i) => event(sent + i));
        sent += data.length;
        await ex.consume({ signal: 'events', data });
        await sleep(50);
      }
    })();
    const t0 = Date.now();
    await sleep(1000);
    await down.stop();
    await sleep(6000);
    await down.start();
    await sleep(1000);
    feeding = false;
    await feeder;
    const fed = Date.now() - t0;

    // Read while the exporter still runs: its retries for broker 2 may outlast the feed (the queue
    // is in memory here, so a shutdown before they end would drop what is left, as documented).
    const ids = new Set<string>();
    const got = await readTopic(
      cluster.brokers,
      topic,
      (r) => ids.add((JSON.parse(r.at(-1)!.value.toString()) as AnalyticsEvent).insert_id).size >= sent,
      { timeoutMs: 60_000, settleMs: 1000 },
    );
    await ex.shutdown();
    const seen = new Map<string, number>();
    const twiceOn = new Map<number, number>();
    for (const r of got) {
      const id = (JSON.parse(r.value.toString()) as AnalyticsEvent).insert_id;
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      if (n > 1) twiceOn.set(leaders.get(r.partition)!, (twiceOn.get(leaders.get(r.partition)!) ?? 0) + 1);
    }
    const retries = (await telemetry.registry.getMetricsAsJSON()).find((m) => m.name === 'otelytics_exporter_send_retries')?.values[0]?.value ?? 0;
    const note = `${sent} events fed over ${fed} ms, ${got.length} records read, ${retries} retried sends, again on broker 1: ${twiceOn.get(1) ?? 0}, on broker 2: ${twiceOn.get(2) ?? 0}`;
    assert.ok(retries > 0, `sends failed while broker 2 was down (${note})`);
    assert.equal(seen.size, sent, `every event arrived (${note})`);
    assert.equal(twiceOn.get(1) ?? 0, 0, `no event of broker 1's partitions was written twice (${note})`);
  });

  it('writes records for partitions added after the producer loaded its metadata', async () => {
    const topic = 'ev-grown';
    await createTopic(cluster.brokers, topic, 2);
    const cfg = kafkaExporterFactory.configSchema.parse({ brokers: cluster.brokers, events: { topic }, sending_queue: { enabled: false }, retry_on_failure: { enabled: false } });
    const ex = kafkaExporterFactory.create(settings('kafka/grown'), cfg) as KafkaExporter;
    await ex.start(captureHost().host);
    try {
      // Loads the producer's metadata (2 partitions) and the exporter's leaders.
      await ex.consume({ signal: 'events', data: Array.from({ length: 20 }, (_, i) => event(i)) });
      const admin = kafkaClient(cluster.brokers).admin();
      await admin.connect();
      await admin.createPartitions({ topicPartitions: [{ topic, count: 6 }] });
      await admin.disconnect();
      // The exporter's leaders learn of the new partitions first (after a failed send, or as they
      // age); the producer keeps its 2 partitions until its own metadata ages.
      const leaders = (ex as unknown as { leaders: TopicLeaders }).leaders;
      await sleep(1000);
      leaders.invalidate();
      for (let i = 0; leaders.leadersOf(topic)?.size !== 6; i++) {
        assert.ok(i < 100, 'the exporter fetched the 6 partitions');
        await sleep(50);
      }
      await ex.consume({ signal: 'events', data: Array.from({ length: 200 }, (_, i) => event(20 + i)) });
    } finally {
      await ex.shutdown();
    }
    const got = await readTopic(cluster.brokers, topic, (r) => r.length >= 220, { settleMs: 500 });
    assert.deepEqual(new Set(got.map((r) => (JSON.parse(r.value.toString()) as AnalyticsEvent).insert_id)).size, 220);
    assert.equal(got.length, 220, 'each event once');
  });
});
