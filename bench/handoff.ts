/**
 * What handing one batch of events to Kafka costs the event loop, without a broker: the kafka
 * exporter's records (`RecordEncoder`, json events) and the Produce request of three partitions
 * (./exporters/kafka/produce.ts, lz4), for a batch of the example pipeline's events from the
 * scaled shop traces. Three ways, in turn, `--rounds` times each:
 *
 * - `one go`: records and request each written in a single synchronous stretch (as before slicing);
 * - `slices`: what the exporter does, slices of about 1 ms with a turn of the event loop between;
 * - `worker`: records written on the main thread in slices, the request's records posted to a
 *   worker thread (structured clone) that writes and compresses the request and transfers it back.
 *
 * For each: wall time of the hand-off, CPU time of the process, and the longest stretch the event
 * loop went without a turn (the largest gap between consecutive `setImmediate` ticks running
 * alongside), which is what a request arriving meanwhile waits at most. Figures are medians over
 * the rounds; the longest stretch is also given as the maximum.
 *
 * Run: `npm run build && node dist/bench/handoff.js [--events 900] [--rounds 30]`.
 */
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { AnalyticsEvent } from '../src/event.js';
import { useCompression } from '../src/kafka/client.js';
import { kafkaExporterSchema } from '../exporters/kafka/config.js';
import { produceRequestV3, type ProducePartition, type ProduceRequestArgs } from '../src/kafka/produce.js';
import { RecordEncoder, type OutRecord } from '../exporters/kafka/records.js';
import { slicing, SLICE_MILLIS } from '../src/kafka/slices.js';
import { exampleHotPath } from './hot_path.js';
import { scaledTracesBody } from './scaled.js';

const lz4 = useCompression('lz4');

interface Plain {
  partition: number;
  messages: { key: string | null; value: string | Buffer; headers: Record<string, string> }[];
}

if (!isMainThread) {
  // The worker: writes the request it is posted and transfers its bytes back.
  parentPort!.on('message', async (m: { id: number; partitions: Plain[]; now: number }) => {
    const e = await produceRequestV3(args(m.partitions)).encode();
    const out = e.buf.subarray(0, e.offset);
    const copy = new Uint8Array(out.length);
    copy.set(out);
    parentPort!.postMessage({ id: m.id, bytes: copy }, [copy.buffer]);
  });
} else {
  await main();
}

function args(partitions: readonly ProducePartition[]): ProduceRequestArgs {
  return { acks: -1, timeout: 30_000, compression: lz4, producerId: 1, producerEpoch: 0, topicData: [{ topic: 'otelytics_events', partitions }] };
}

/** Records in three partitions, round robin. */
function partitionsOf(records: readonly OutRecord[]): Plain[] {
  const parts: Plain[] = [0, 1, 2].map((partition) => ({ partition, messages: [] }));
  records.forEach((r, i) => parts[i % 3]!.messages.push({ key: r.key, value: r.value, headers: r.headers }));
  return parts;
}

/** Runs `work`, with a chain of setImmediate ticks alongside: wall ms, CPU ms, longest gap between ticks. */
async function measured(work: () => Promise<unknown>): Promise<{ wall: number; cpu: number; stretch: number }> {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await new Promise((r) => setImmediate(r));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  last = t0;
  longest = 0;
  await work();
  const wall = performance.now() - t0;
  longest = Math.max(longest, performance.now() - last);
  running = false;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: (cpu.user + cpu.system) / 1000, stretch: longest };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '900' }, rounds: { type: 'string', default: '30' } } });
  const wanted = Number(values.events);
  const rounds = Number(values.rounds);
  const run = exampleHotPath({ filter: true });
  const events: AnalyticsEvent[] = [];
  for (let v = 0; events.length < wanted; v++) events.push(...run(scaledTracesBody(500, v % 4).body));
  const batch = { signal: 'events' as const, data: events.slice(0, wanted) };
  const encoder = new RecordEncoder(kafkaExporterSchema.parse({ events: { encoding: 'json' }, producer: { compression: 'lz4' } }));

  const worker = new Worker(fileURLToPath(import.meta.url));
  let nextId = 0;
  const pending = new Map<number, (b: Uint8Array) => void>();
  worker.on('message', (m: { id: number; bytes: Uint8Array }) => pending.get(m.id)?.(m.bytes));
  const viaWorker = (partitions: Plain[]): Promise<Uint8Array> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, (b) => {
        pending.delete(id);
        resolve(b);
      });
      worker.postMessage({ id, partitions, now: Date.now() });
    });

  const ways: Record<string, () => Promise<unknown>> = {
    'one go': async () => {
      slicing.sliceMillis = Number.POSITIVE_INFINITY;
      const { records } = await encoder.encodeSliced(batch);
      return (await produceRequestV3(args(partitionsOf(records))).encode()).offset;
    },
    slices: async () => {
      slicing.sliceMillis = SLICE_MILLIS;
      const { records } = await encoder.encodeSliced(batch);
      return (await produceRequestV3(args(partitionsOf(records))).encode()).offset;
    },
    worker: async () => {
      slicing.sliceMillis = SLICE_MILLIS;
      const { records } = await encoder.encodeSliced(batch);
      return (await viaWorker(partitionsOf(records))).length;
    },
  };
  const results: Record<string, { wall: number[]; cpu: number[]; stretch: number[] }> = {};
  for (let r = 0; r < rounds + 3; r++) {
    for (const [name, work] of Object.entries(ways)) {
      const m = await measured(work);
      if (r < 3) continue; // warm-up
      const x = (results[name] ??= { wall: [], cpu: [], stretch: [] });
      x.wall.push(m.wall);
      x.cpu.push(m.cpu);
      x.stretch.push(m.stretch);
    }
  }
  await worker.terminate();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const f = (n: number) => n.toFixed(2);
  console.log(`hand-off of ${batch.data.length} json events to a Produce request of 3 lz4 partitions, ${rounds} rounds (medians; longest stretch also max)`);
  console.log('| way | wall ms | CPU ms (process) | longest stretch without a turn, ms (median / max) |');
  console.log('|---|---|---|---|');
  for (const [name, x] of Object.entries(results)) console.log(`| ${name} | ${f(median(x.wall))} | ${f(median(x.cpu))} | ${f(median(x.stretch))} / ${f(Math.max(...x.stretch))} |`);
  console.log('BENCH ' + JSON.stringify({ name: 'handoff', events: batch.data.length, rounds, results: Object.fromEntries(Object.entries(results).map(([k, x]) => [k, { wall_ms: median(x.wall), cpu_ms: median(x.cpu), stretch_ms: median(x.stretch), stretch_max_ms: Math.max(...x.stretch) }])) }));
}
