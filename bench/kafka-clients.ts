/**
 * Kafka clients compared on the `kafka` exporter's work: the same analytics events (the shop
 * fixtures through config.example.yaml's analytics rules, each made distinct by its `insert_id`
 * and a sequence number `properties.seq`; about 600 bytes of JSON each) produced into a topic of 3
 * partitions with acks=all, gzip, an idempotent producer and the Java client's partitioner
 * (murmur2 of the key), one batch at a time, by:
 *
 * - `exporter`: the `kafka` exporter as it is (`KafkaExporter.consume`, kafkajs with its own
 *   Produce encoding, ./exporters/kafka/produce.ts), sending queue off so a call ends when the
 *   batch is acknowledged;
 * - `kafkajs`: kafkajs 2.2.4 through its public API alone (`producer.sendBatch`, unpatched: this
 *   process never loads exporters/kafka);
 * - `platformatic`: `@platformatic/kafka`'s `Producer.send` (string serialisers,
 *   `compatibilityPartitioner`).
 *
 * The last two get the records the exporter writes (key: user id, else session id; value: the
 * event as JSON; headers content-type, event.name, traceparent), encoded inside the timed loop as
 * the exporter does. Each run is a child process of its own (so memory and CPU are that client's
 * alone; ./kafka-clients-child.ts) on a topic of its own; the cases alternate within each round. Per run: events/s, batch
 * send p50/p99/max, peak RSS and heap (sampled every 20 ms, and the process's maxRSS), CPU
 * (user+system, every thread of the process) per 1000 events; the parent checks the topic holds
 * every event (its end offsets).
 *
 * `--restart`: for `exporter` and `platformatic`, produce batches of 500 continuously for
 * `--restart-seconds`, stop the broker 6 s in (SIGTERM, data kept), start it again 5 s later on the
 * same port and data, and then read the topic back: every sequence number the producer had
 * acknowledged must be there; duplicates are counted. A batch that fails is sent again by the
 * caller (the exporter's own retry_on_failure for `exporter`, the loop for `platformatic`).
 *
 * `--consume`: a consumer group of one member reads a topic of `--events` events from the start,
 * kafkajs (`consumer.run` eachBatch) against platformatic (`Consumer.consume` stream), events/s.
 *
 * Run: `npm run build && node dist/bench/kafka-clients.js [--rounds 3] [--events 163840]
 * [--batch 8192] [--cases exporter,kafkajs,platformatic] [--node PATH] [--restart] [--consume]`.
 * `--node` runs the clients with another Node binary (@platformatic/kafka 2.x needs Node 22.22+).
 * Needs Java 17+ (scripts/kafka). Prints one `BENCH {...}` line with every run at the end.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { percentile } from './harness.js';
import { round, sleep, WARMUP_BATCHES, type Case } from './kafka-clients-child.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '163840' },
    batch: { type: 'string', default: '8192' },
    rounds: { type: 'string', default: '3' },
    cases: { type: 'string', default: 'exporter,kafkajs,platformatic' },
    node: { type: 'string' },
    restart: { type: 'boolean', default: false },
    'restart-seconds': { type: 'string', default: '25' },
    'restart-rounds': { type: 'string', default: '2' },
    consume: { type: 'boolean', default: false },
    'no-produce': { type: 'boolean', default: false },
  },
});

// ---------------------------------------------------------------------------------------------
// Parent: the broker, the topics, the rounds.

function runChild(args: string[], onStart?: () => void): Promise<Record<string, unknown>> {
  const node = values.node ?? process.execPath;
  return new Promise((resolve, reject) => {
    const p = spawn(node, ['--expose-gc', fileURLToPath(new URL('./kafka-clients-child.js', import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    onStart?.();
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as Record<string, unknown>);
      else reject(new Error(`child ${args.join(' ')} exited ${code}: ${(err || out).slice(-2000)}`));
    });
  });
}

async function parent(): Promise<void> {
  const h = await import('../test/exporters/kafka/kafka-helpers.js');
  if (h.noKafka) {
    console.log(`kafka clients benchmark skipped: ${h.noKafka}`);
    return;
  }
  const cases = values.cases.split(',') as Case[];
  const rounds = Number(values.rounds);
  const total = Number(values.events);
  const batch = Number(values.batch);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-kafka-clients-'));
  const templatesFile = path.join(tmp, 'events.json');
  const templates = h.eventsOf(h.fixtureData());
  fs.writeFileSync(templatesFile, JSON.stringify(templates));
  const sizes = templates.map((e) => Buffer.byteLength(JSON.stringify(e))).sort((a, b) => a - b);
  const nodeVersion = values.node ? (await runVersion(values.node)) : process.version;
  console.log(`kafka clients benchmark: ${templates.length} event templates, JSON ${sizes[0]}–${sizes[sizes.length - 1]} bytes (median ${percentile(sizes, 50)}); clients on node ${nodeVersion}; ${os.cpus().length} cores, broker on the same machine`);

  let broker = await h.startBroker();
  const count = async (topic: string) => {
    const admin = h.kafkaClient(broker.brokers).admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  };
  const produced: Record<string, unknown>[] = [];
  const consumed: Record<string, unknown>[] = [];
  const restarts: Record<string, unknown>[] = [];
  const topics: string[] = [];
  try {
    if (!values['no-produce']) {
      console.log(`produce: ${total} events a run in batches of ${batch} (+${WARMUP_BATCHES} warm-up batches), acks=all, gzip, idempotent, 3 partitions`);
      for (let r = 0; r < rounds; r++) {
        // A different case goes first each round.
        const order = cases.map((_, i) => cases[(i + r) % cases.length]!);
        for (const c of order) {
          const topic = `clients_${c}_${r}`;
          await h.createTopic(broker.brokers, topic, 3);
          const res = await runChild(['--child', 'produce', '--case', c, '--topic', topic, '--brokers', broker.brokers.join(','), '--templates', templatesFile, '--events', String(total), '--batch', String(batch)]);
          const inTopic = await count(topic);
          res.in_topic = inTopic;
          res.round = r + 1;
          produced.push(res);
          topics.push(topic);
          console.log(`  round ${r + 1} ${c}: ${res.events_per_s} events/s, batch p50 ${res.p50_ms} ms p99 ${res.p99_ms} ms max ${res.max_ms} ms, peak RSS ${res.peak_rss_mb} MB (maxRSS ${res.max_rss_mb}), heap ${res.peak_heap_mb} MB, CPU ${res.cpu_ms_per_1000} ms/1000 events; topic ${inTopic} of ${res.written}`);
        }
      }
    }

    if (values.consume) {
      const consumers: Case[] = ['kafkajs', 'platformatic'];
      let topic = topics[0];
      if (!topic) {
        topic = 'clients_consume';
        await h.createTopic(broker.brokers, topic, 3);
        await runChild(['--child', 'produce', '--case', 'kafkajs', '--topic', topic, '--brokers', broker.brokers.join(','), '--templates', templatesFile, '--events', String(total), '--batch', String(batch)]);
      }
      const n = await count(topic);
      console.log(`consume: a group of one reads ${n} events of ${topic} from the start`);
      for (let r = 0; r < rounds; r++) {
        for (const c of r % 2 === 0 ? consumers : [...consumers].reverse()) {
          const res = await runChild(['--child', 'consume', '--case', c, '--topic', topic, '--brokers', broker.brokers.join(','), '--events', String(n)]);
          res.round = r + 1;
          consumed.push(res);
          console.log(`  round ${r + 1} ${c}: ${res.events_per_s} events/s, peak RSS ${res.peak_rss_mb} MB, heap ${res.peak_heap_mb} MB, CPU ${res.cpu_ms_per_1000} ms/1000 events`);
        }
      }
    }

    if (values.restart) {
      const seconds = Number(values['restart-seconds']);
      const restartCases: Case[] = ['exporter', 'platformatic'].filter((c) => cases.includes(c as Case)) as Case[];
      console.log(`restart: batches of 500 for ${seconds} s, the broker stopped 6 s in for 5 s (SIGTERM, data kept), then started again`);
      for (let r = 0; r < Number(values['restart-rounds']); r++) {
        for (const c of r % 2 === 0 ? restartCases : [...restartCases].reverse()) {
          const topic = `clients_restart_${c}_${r}`;
          await h.createTopic(broker.brokers, topic, 3);
          let started = 0;
          const running = runChild(['--child', 'continuous', '--case', c, '--topic', topic, '--brokers', broker.brokers.join(','), '--templates', templatesFile, '--seconds', String(seconds), '--batch', '500'], () => (started = performance.now()));
          await sleep(6000);
          const { dir, port } = broker;
          const down = performance.now();
          await broker.stop({ keepData: true });
          await sleep(5000);
          broker = await h.startBroker({ dir, port });
          const outage = (performance.now() - down) / 1000;
          const res = await running;
          const acked = res.acknowledged as number;
          const records = await h.readTopic(broker.brokers, topic, (rs) => rs.length >= acked, { timeoutMs: 60_000, settleMs: 3000 });
          const seen = new Map<number, number>();
          for (const rec of records) {
            const seq = (JSON.parse(rec.value.toString()) as { properties: { seq: number } }).properties.seq;
            seen.set(seq, (seen.get(seq) ?? 0) + 1);
          }
          let missing = 0;
          for (let i = 0; i < acked; i++) if (!seen.has(i)) missing++;
          const duplicates = records.length - seen.size;
          Object.assign(res, { round: r + 1, records: records.length, distinct: seen.size, missing, duplicates, outage_s: round(outage), run_s: round((performance.now() - started) / 1000) });
          restarts.push(res);
          console.log(`  round ${r + 1} ${c}: ${acked} events acknowledged, ${records.length} records read, ${missing} missing, ${duplicates} duplicates; broker down ${round(outage)} s, longest batch ${res.longest_batch_ms} ms, ${res.resends} batches sent again ${JSON.stringify(res.errors)}`);
        }
      }
    }
  } finally {
    await broker.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log('BENCH ' + JSON.stringify({ name: 'kafka-clients', node: nodeVersion, events: total, batch, produced, consumed, restarts }));
}

function runVersion(node: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(node, ['-v'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', () => resolve(out.trim()));
  });
}

await parent();
