/**
 * Kafka benchmark: a real broker (scripts/kafka/kafka.mjs) and the real CLI on config.example.yaml
 * with its events pipeline (analytics → privacy → filter → batch) ending in the `kafka` exporter
 * (json, gzip, acks=all, idempotent). `concurrency` clients post protobuf trace bodies (the shop
 * fixture's spans scaled up to ~500 spans a request, each request with its own trace ids, so every
 * event is distinct) over OTLP/HTTP for a fixed time. Reports the request latency p50/p99 and the
 * events per second that reached the topic (counted by the topic's end offsets, from the first
 * request until the last event was written; events of requests answered 503 are made but not
 * accepted, so they are not waited for), the events the gateway counted as dropped
 * (`otelytics_events_dropped`, expected 0), and returns them as JSON on the last line
 * (`BENCH {...}`).
 *
 * `--brokers N` runs it on a cluster of N brokers (the topic's 3 partitions spread over them), so
 * that each batch is sent as one request per leader broker.
 *
 * Run: `npm run build && node dist/bench/kafka.js [--seconds 10] [--concurrency 8] [--brokers 1]`. Needs Java 17+.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { decodeTracesRequest, encodeTracesRequest } from '../src/otlp/proto.js';
import { spanCount, type Span, type TracesData } from '../src/pdata.js';
import { fixturesDir, projectRoot } from '../test/helpers.js';
import { hasTaskset, metricValue, percentile, startBenchGateway } from './harness.js';
import { httpTraceSender } from './sender.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
    brokers: { type: 'string', default: '1' },
    /** Extra `--set` overrides for the gateway, e.g. `exporters::kafka::producer::compression=lz4` (tuning runs). */
    set: { type: 'string', multiple: true },
    label: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const brokers = Number(values.brokers);
const TOPIC = 'bench_events';

/** ~`target` spans from the fixture, with trace ids of their own (`variant`) so the events are new. */
const base = decodeTracesRequest(fs.readFileSync(path.join(fixturesDir, 'traces-shop-02.pb')));
function body(target: number, variant: number): { body: Buffer; spans: number } {
  const spans: Span[] = base.resourceSpans[0]!.scopeSpans.flatMap((s) => s.spans);
  const out: Span[] = [];
  for (let copy = 0; out.length < target; copy++) {
    const prefix = (variant * 4099 + copy).toString(16).padStart(8, '0').slice(-8);
    for (const s of spans) out.push({ ...s, traceId: prefix + s.traceId.slice(8) });
  }
  const data: TracesData = { resourceSpans: [{ ...base.resourceSpans[0]!, scopeSpans: [{ ...base.resourceSpans[0]!.scopeSpans[0]!, spans: out }] }] };
  return { body: Buffer.from(encodeTracesRequest(data)), spans: spanCount(data) };
}

async function topicCount(kafka: Kafka): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(TOPIC)).reduce((n, p) => n + Number(p.high), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  if (spawnSync(process.env.JAVA ?? 'java', ['-version'], { stdio: 'ignore' }).error) {
    console.log('kafka benchmark skipped: java not found');
    return;
  }
  const { startKafka } = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'kafka', 'kafka.mjs')).href)) as { startKafka(o?: { brokers?: number }): Promise<{ brokers: string[]; stop(): Promise<void> }> };
  const broker = await startKafka(brokers > 1 ? { brokers } : {});
  const kafka = new Kafka({ clientId: 'otelytics-bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();

  const gw = await startBenchGateway([
    'service::telemetry::logs::level=error',
    `exporters::kafka={brokers: "${broker.brokers.join(',')}", events: {topic: ${TOPIC}, encoding: json}, producer: {compression: gzip}}`,
    'service::pipelines::events::exporters=[kafka]',
    ...(values.set ?? []),
  ]).catch(async (err: unknown) => {
    await broker.stop();
    throw err;
  });
  const { ports } = gw;
  try {
    const sender = httpTraceSender(ports.http, concurrency);
    const send = (b: Buffer) => sender.send(b);
    // Warm-up (not counted): JIT, producer connection, topic metadata.
    for (let i = 0; i < 20; i++) await send(body(500, 1_000_000 + i).body);
    const createdBefore = await metricValue(ports.metrics, 'otelytics_events_created');
    const droppedBefore = await metricValue(ports.metrics, 'otelytics_events_dropped');
    let base = 0;
    for (let i = 0; i < 600 && (base = await topicCount(kafka)) < createdBefore; i++) await new Promise((r) => setTimeout(r, 100));
    const latencies: number[] = [];
    let spans = 0;
    let refused = 0;
    let variant = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const b = body(500, variant++);
          const t0 = performance.now();
          const status = await send(b.body);
          latencies.push(performance.now() - t0);
          if (status === 200) spans += b.spans;
          else refused++;
        }
      }),
    );
    const created = (await metricValue(ports.metrics, 'otelytics_events_created')) - createdBefore;
    // Wait until every event the gateway accepted in the window is in the topic: all that were made,
    // or, when some requests were refused (503: the events of those requests were made, then
    // refused, and are the client's to send again), until the topic has not grown for 6 s (longer
    // than the batch processor's longest back-off) with the sending queue empty. At most 60 s.
    let inTopic = 0;
    let lastGrowth = performance.now();
    for (let i = 0, seen = -1; i < 600; i++) {
      inTopic = (await topicCount(kafka)) - base;
      if (inTopic !== seen) [seen, lastGrowth] = [inTopic, performance.now()];
      if (inTopic >= created * 0.999) break;
      if (performance.now() - lastGrowth > 6000 && (await metricValue(ports.metrics, 'otelcol_exporter_queue_size')) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const elapsed = (lastGrowth - start) / 1000;
    const dropped = (await metricValue(ports.metrics, 'otelytics_events_dropped')) - droppedBefore;
    latencies.sort((x, y) => x - y);
    sender.close();
    const result = {
      case: values.label ?? 'otlp/http protobuf → analytics → privacy → kafka (json, gzip)',
      requests: latencies.length,
      spans_per_s: Math.round(spans / seconds),
      events_created: created,
      events_in_topic: inTopic,
      events_per_s: Math.round(inTopic / elapsed),
      events_dropped: dropped,
      p50_ms: Number(percentile(latencies, 50).toFixed(2)),
      p99_ms: Number(percentile(latencies, 99).toFixed(2)),
      refused,
    };
    console.log(`kafka benchmark: ${concurrency} clients, ${seconds} s, ~500 spans/request, gateway ${hasTaskset ? 'pinned to CPU 1' : 'not pinned'}, ${brokers > 1 ? `${brokers} brokers` : 'broker'} on the same machine; node ${process.version}`);
    console.log(`${result.case}: ${result.events_per_s} events/s into Kafka (${inTopic} of the ${created} events made, in ${elapsed.toFixed(1)} s; ${dropped} dropped), ${result.spans_per_s} spans/s accepted, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ${refused} requests refused`);
    console.log('BENCH ' + JSON.stringify({ name: 'kafka', concurrency, seconds, pinned: hasTaskset, ...(brokers > 1 ? { brokers } : {}), results: [result] }));
  } finally {
    await gw.stop();
    await broker.stop();
  }
}

await main();
