/**
 * Fleet benchmark: events/s through a raw topic → 1, 2, 3 extractor gateway processes (the
 * two-stage example's gateway B: config.example.yaml + examples/kafka-pipeline-events.yaml,
 * analytics → privacy → filter → enrich → kafka exporter, json, gzip, acks=all) → an events topic,
 * with a real broker on the same machine.
 *
 * For each fleet size a new raw topic (6 partitions), consumer group and events topic: the members
 * are started and the group is left to become stable with all of them; then the raw topic gets
 * `--records` OTLP protobuf trace requests (the shop capture traces-shop-02, 58 spans, each record
 * with trace ids of its own, keyed by trace id as gateway A writes them, encoded beforehand) as
 * fast as the broker takes them, and the clock runs from the first event in the events topic until
 * the group has committed every raw record. Reports events written per second (events topic
 * end offsets / time), raw records and spans per second. The machine's cores are shared by the
 * members, the broker and this process: on 2 cores, more members than cores cannot add much.
 *
 * Run: `npm run build && node dist/bench/fleet.js [--records 3000] [--members 1,2,3]`. Needs Java 17+.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { decodeTracesRequest, encodeTracesRequest } from '../src/otlp/proto.js';
import { spanCount, type TracesData } from '../src/pdata.js';
import { fixturesDir, projectRoot, startGateway, type RunningGateway } from '../test/helpers.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '3000' },
    members: { type: 'string', default: '1,2,3' },
  },
});
const RECORDS = Number(values.records);
const SIZES = values.members.split(',').map(Number);
const RAW = 'bench.raw';
const PARTITIONS = 6;

const base = decodeTracesRequest(fs.readFileSync(path.join(fixturesDir, 'traces-shop-02.pb')));
function record(i: number): { key: string; value: Buffer; spans: number } {
  const prefix = i.toString(16).padStart(8, '0');
  const data: TracesData = structuredClone(base);
  for (const rs of data.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) s.traceId = prefix + s.traceId.slice(8);
  return { key: prefix, value: Buffer.from(encodeTracesRequest(data)), spans: spanCount(data) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (spawnSync(process.env.JAVA ?? 'java', ['-version'], { stdio: 'ignore' }).error) {
    console.log('fleet benchmark skipped: java not found');
    return;
  }
  const { startKafka } = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'kafka', 'kafka.mjs')).href)) as { startKafka(): Promise<{ brokers: string[]; stop(): Promise<void> }> };
  const broker = await startKafka();
  const kafka = new Kafka({ clientId: 'otelytics-bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const members: RunningGateway[] = [];
  try {
    const encoded = Array.from({ length: RECORDS }, (_, i) => record(i));
    const spans = encoded.reduce((n, m) => n + m.spans, 0);
    const producer = kafka.producer();
    await producer.connect();
    const results = [];
    for (const size of SIZES) {
      const group = `bench-fleet-${size}`;
      const events = `bench.events.${size}`;
      await admin.createTopics({ topics: [{ topic: events, numPartitions: PARTITIONS }], waitForLeaders: true });
      const sets = [
        `receivers::kafka/raw::traces::topics=[${RAW}]`,
        `receivers::kafka/raw::logs::topics=[bench.raw.logs]`,
        `receivers::kafka/raw::group_id=${group}`,
        `exporters::kafka/events::events::topic=${events}`,
        'service::telemetry::logs::level=error',
      ];
      const env = { KAFKA_BROKERS: broker.brokers.join(','), OTELYTICS_PRODUCTS: path.join(projectRoot, 'examples', 'catalog', 'products.csv') };
      const configs = [path.join(projectRoot, 'config.example.yaml'), path.join(projectRoot, 'examples', 'kafka-pipeline-events.yaml')];
      const raw = `${RAW}.${size}`;
      await admin.createTopics({ topics: [{ topic: raw, numPartitions: PARTITIONS }], waitForLeaders: true });
      sets[0] = `receivers::kafka/raw::traces::topics=[${raw}]`;
      const started = await Promise.all(Array.from({ length: size }, () => startGateway({ configs, env, sets })));
      members.push(...started);
      // All members in the group before any record: no rebalance while the clock runs.
      for (let i = 0; ; i++) {
        const { groups } = await admin.describeGroups([group]);
        if (groups[0]!.state === 'Stable' && groups[0]!.members.length === size) break;
        if (i > 600) throw new Error(`${size} members: the group is not stable`);
        await sleep(100);
      }
      // Then the backlog, as fast as the broker takes it; the clock starts with the first event
      // in the events topic and stops when the group has committed every record.
      const filling = (async () => {
        for (let i = 0; i < RECORDS; i += 100) await producer.send({ topic: raw, acks: -1, compression: 1, messages: encoded.slice(i, i + 100).map(({ key, value }) => ({ key, value })) });
      })();
      let t0 = 0;
      let elapsed = 0;
      const deadline = performance.now() + 600_000;
      for (;;) {
        if (!t0 && (await admin.fetchTopicOffsets(events)).some((p) => Number(p.high) > 0)) t0 = performance.now();
        if (t0) {
          const [t] = await admin.fetchOffsets({ groupId: group, topics: [raw] });
          const done = t!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
          elapsed = (performance.now() - t0) / 1000;
          if (done >= RECORDS) break;
        }
        if (performance.now() > deadline) throw new Error(`${size} members: not done after 600 s`);
        await sleep(50);
      }
      await filling;
      const written = (await admin.fetchTopicOffsets(events)).reduce((n, p) => n + Number(p.high), 0);
      await Promise.all(started.map((m) => m.stop()));
      for (const m of started) fs.rmSync(m.dir, { recursive: true, force: true });
      members.length = 0;
      const r = { members: size, seconds: Number(elapsed.toFixed(2)), events: written, events_per_s: Math.round(written / elapsed), records_per_s: Math.round(RECORDS / elapsed), spans_per_s: Math.round(spans / elapsed) };
      results.push(r);
      console.log(`${size} extractor${size > 1 ? 's' : ''}: ${r.events_per_s} events/s (${written} events from ${RECORDS} raw records, ${spans} spans, in ${r.seconds} s; ${r.spans_per_s} spans/s)`);
    }
    await producer.disconnect();
    console.log(`fleet benchmark: raw topic of ${PARTITIONS} partitions → extractor gateways → events topic; ${os.cpus().length} cores shared by the members, the broker and the benchmark; node ${process.version}`);
    console.log('BENCH ' + JSON.stringify({ name: 'fleet', records: RECORDS, partitions: PARTITIONS, cores: os.cpus().length, results }));
  } finally {
    await Promise.all(members.map((m) => m.stop()));
    await admin.disconnect();
    await broker.stop();
  }
}

await main();
