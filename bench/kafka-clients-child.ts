/**
 * One run of bench/kafka-clients.ts, in a process of its own so that memory and CPU are that
 * client's alone: `--child produce|continuous|consume --case exporter|kafkajs|platformatic
 * --brokers B --topic T [--templates FILE] [--events N] [--batch N] [--seconds S]`. Prints one
 * `RESULT {...}` line. Also the vocabulary the parent shares with it (events, records, cases).
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { percentile } from './harness.js';

export type Case = 'exporter' | 'kafkajs' | 'platformatic';
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface EventLike {
  name: string;
  insert_id: string;
  user_id?: string;
  session_id?: string;
  properties: Record<string, Json>;
  context: Record<string, Json>;
  [k: string]: unknown;
}
interface Rec {
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

export const WARMUP_BATCHES = 2;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (n: number, d = 1) => Number(n.toFixed(d));

/** Event `i` of a run: template `i mod n`, with its own insert id and sequence number. */
function eventAt(templates: readonly EventLike[], run: string, i: number): EventLike {
  const t = templates[i % templates.length]!;
  return { ...t, insert_id: `${run}-${i}`, properties: { ...t.properties, seq: i } };
}

/** The record the exporter writes of an event with its defaults (records.ts: key user_id, else session_id; json). */
function recordOf(topic: string, e: EventLike): Rec {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'event.name': e.name };
  const c = e.context;
  if (typeof c.trace_id === 'string' && typeof c.span_id === 'string' && c.trace_id && c.span_id) headers.traceparent = `00-${c.trace_id}-${c.span_id}-01`;
  return { topic, key: e.user_id || e.session_id || null, value: JSON.stringify(e), headers };
}

interface Sender {
  send(events: EventLike[]): Promise<void>;
  close(): Promise<void>;
}

async function exporterSender(brokers: string[], topic: string, retry: boolean): Promise<Sender> {
  const { kafkaExporterFactory } = await import('../exporters/kafka/index.js');
  const { Telemetry } = await import('../src/telemetry.js');
  const { default: pino } = await import('pino');
  const cfg = kafkaExporterFactory.configSchema.parse({
    brokers,
    events: { topic, encoding: 'json' },
    producer: { compression: 'gzip' },
    sending_queue: { enabled: false },
    retry_on_failure: retry ? { enabled: true, initial_interval: '1s', max_interval: '5s', max_elapsed_time: '0s' } : { enabled: false },
  });
  const ex = kafkaExporterFactory.create({ id: 'kafka', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, cfg);
  await ex.start({ getExporter: () => undefined });
  return {
    send: (events) => ex.consume({ signal: 'events', data: events as never }),
    close: () => ex.shutdown(),
  };
}

async function kafkajsSender(brokers: string[], topic: string): Promise<Sender> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const { default: kafkajs } = await import('kafkajs');
  const { Kafka, logLevel, Partitioners, CompressionTypes } = kafkajs;
  // The exporter's settings (exporters/kafka/index.ts: PRODUCER_RETRY, idempotent, one request in flight).
  const retry = { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 };
  const kafka = new Kafka({ clientId: 'otelytics-bench', brokers, logLevel: logLevel.NOTHING, retry, requestTimeout: 30_000 });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry });
  await producer.connect();
  return {
    send: async (events) => {
      const messages = events.map((e) => recordOf(topic, e));
      await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, timeout: 30_000, compression: CompressionTypes.GZIP });
    },
    close: () => producer.disconnect(),
  };
}

async function platformaticSender(brokers: string[], topic: string): Promise<Sender> {
  const pk = await import('@platformatic/kafka');
  const producer = new pk.Producer({
    clientId: 'otelytics-bench',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: pk.ProduceAcks.ALL,
    compression: 'gzip',
    serializers: pk.stringSerializers,
    partitioner: pk.compatibilityPartitioner,
    autocreateTopics: false,
    timeout: 30_000,
    requestTimeout: 30_000,
  });
  return {
    send: async (events) => {
      const messages = events.map((e) => {
        const r = recordOf(topic, e);
        return { topic, key: r.key ?? undefined, value: r.value, headers: r.headers };
      });
      await producer.send({ messages });
    },
    close: () => producer.close(),
  };
}

function makeSender(c: Case, brokers: string[], topic: string, retry: boolean): Promise<Sender> {
  if (c === 'exporter') return exporterSender(brokers, topic, retry);
  if (c === 'kafkajs') return kafkajsSender(brokers, topic);
  return platformaticSender(brokers, topic);
}

/** Samples RSS and heap every 20 ms until stopped. */
function memorySampler(): { stop(): { rssMB: number; heapMB: number } } {
  let rss = 0;
  let heap = 0;
  const take = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  take();
  const timer = setInterval(take, 20);
  return {
    stop() {
      take();
      clearInterval(timer);
      return { rssMB: round(rss / 2 ** 20), heapMB: round(heap / 2 ** 20) };
    },
  };
}

async function childProduce(c: Case, brokers: string[], topic: string, templates: EventLike[], total: number, batch: number): Promise<Record<string, unknown>> {
  const sender = await makeSender(c, brokers, topic, false);
  const run = `${c}-${process.pid}`;
  let seq = 0;
  const next = (n: number) => Array.from({ length: n }, () => eventAt(templates, run, seq++));
  // Not timed: connection, metadata, JIT.
  for (let i = 0; i < WARMUP_BATCHES; i++) await sender.send(next(batch));
  const warm = seq;
  global.gc?.();
  const mem = memorySampler();
  const cpu0 = process.cpuUsage();
  const latencies: number[] = [];
  const start = performance.now();
  while (seq - warm < total) {
    const events = next(Math.min(batch, total - (seq - warm)));
    const t0 = performance.now();
    await sender.send(events);
    latencies.push(performance.now() - t0);
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const peak = mem.stop();
  await sender.close();
  latencies.sort((a, b) => a - b);
  return {
    case: c,
    node: process.version,
    events: total,
    written: seq,
    batches: latencies.length,
    events_per_s: Math.round(total / elapsed),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    max_ms: round(latencies[latencies.length - 1] ?? NaN),
    peak_rss_mb: peak.rssMB,
    peak_heap_mb: peak.heapMB,
    max_rss_mb: round(process.resourceUsage().maxRSS / 1024),
    cpu_ms_per_1000: round((cpu.user + cpu.system) / 1000 / (total / 1000), 2),
  };
}

/** Produces batches of `batch` for `seconds`; a failed batch is sent again until it is acknowledged. */
async function childContinuous(c: Case, brokers: string[], topic: string, templates: EventLike[], seconds: number, batch: number): Promise<Record<string, unknown>> {
  const sender = await makeSender(c, brokers, topic, true);
  const run = `${c}-${process.pid}`;
  let seq = 0;
  let resends = 0;
  let longest = 0;
  const errors = new Map<string, number>();
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const events = Array.from({ length: batch }, () => eventAt(templates, run, seq++));
    const t0 = performance.now();
    for (;;) {
      try {
        await sender.send(events);
        break;
      } catch (err) {
        resends++;
        const name = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 120);
        errors.set(name, (errors.get(name) ?? 0) + 1);
        await sleep(200);
      }
    }
    longest = Math.max(longest, performance.now() - t0);
    await sleep(20);
  }
  await sender.close();
  return { case: c, node: process.version, acknowledged: seq, batch, resends, longest_batch_ms: Math.round(longest), errors: Object.fromEntries(errors) };
}

async function childConsume(c: Case, brokers: string[], topic: string, total: number): Promise<Record<string, unknown>> {
  const group = `bench-${c}-${process.pid}`;
  const mem = memorySampler();
  const cpu0 = process.cpuUsage();
  let count = 0;
  let bytes = 0;
  let start = 0;
  let elapsed = 0;
  if (c === 'platformatic') {
    const pk = await import('@platformatic/kafka');
    const consumer = new pk.Consumer({ groupId: group, clientId: 'otelytics-bench', bootstrapBrokers: brokers, deserializers: pk.stringDeserializers, maxWaitTime: 100 });
    start = performance.now();
    const stream = await consumer.consume({ topics: [topic], mode: pk.MessagesStreamModes.EARLIEST, autocommit: true });
    for await (const m of stream) {
      bytes += (m.value as string).length;
      if (++count >= total) break;
    }
    elapsed = (performance.now() - start) / 1000;
    await stream.close().catch(() => undefined);
    await consumer.close(true).catch(() => undefined);
  } else {
    process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
    const { default: kafkajs } = await import('kafkajs');
    const kafka = new kafkajs.Kafka({ clientId: 'otelytics-bench', brokers, logLevel: kafkajs.logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let done!: () => void;
    const reached = new Promise<void>((r) => (done = r));
    start = performance.now();
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += m.value?.toString().length ?? 0;
        count += batch.messages.length;
        if (count >= total) done();
      },
    });
    await reached;
    elapsed = (performance.now() - start) / 1000;
    await consumer.disconnect();
  }
  const cpu = process.cpuUsage(cpu0);
  const peak = mem.stop();
  return { case: c, node: process.version, events: count, bytes, events_per_s: Math.round(count / elapsed), peak_rss_mb: peak.rssMB, peak_heap_mb: peak.heapMB, cpu_ms_per_1000: round((cpu.user + cpu.system) / 1000 / (count / 1000), 2) };
}

async function child(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      case: { type: 'string' },
      topic: { type: 'string' },
      brokers: { type: 'string' },
      templates: { type: 'string' },
      events: { type: 'string', default: '163840' },
      batch: { type: 'string', default: '8192' },
      seconds: { type: 'string' },
    },
  });
  const c = values.case as Case;
  const brokers = values.brokers!.split(',');
  const topic = values.topic!;
  let result: Record<string, unknown>;
  if (values.child === 'consume') result = await childConsume(c, brokers, topic, Number(values.events));
  else {
    const templates = JSON.parse(fs.readFileSync(values.templates!, 'utf8')) as EventLike[];
    if (values.child === 'continuous') result = await childContinuous(c, brokers, topic, templates, Number(values.seconds), Number(values.batch));
    else result = await childProduce(c, brokers, topic, templates, Number(values.events), Number(values.batch));
  }
  console.log('RESULT ' + JSON.stringify(result));
  process.exit(0);
}

// Run as a child (the parent imports only the shared part).
if (process.argv[1] === fileURLToPath(import.meta.url)) await child();
