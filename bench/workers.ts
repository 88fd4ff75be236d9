/**
 * Do worker threads pay for the hot path? The receiver's thread parses HTTP; the question is
 * whether handing each request's bytes to worker threads for the validating scan, the `analytics`
 * rules and `privacy` (config.example.yaml, the scaled shop traces, ~500 spans a request) leaves
 * the receiver's thread enough less to do to be worth it. Three ways are measured:
 *
 * - `inline`: this thread scans, maps and scrubs each request (what the gateway does);
 * - `workers, events back`: this thread copies the request's bytes into a transferred buffer for
 *   one of `--workers` threads, which scans, maps and scrubs and posts the events back (structured
 *   clone), as it would have to for this thread to batch and export them;
 * - `workers, nothing back`: the same, with the worker keeping its events (the exporters would run
 *   in the worker too) and posting back only their count.
 *
 * For each: spans/s (wall clock, `--depth` requests in flight per worker), this thread's busy time
 * per request (event loop utilization; CPU time for `inline`), and the ceiling that busy time sets
 * on this thread whatever the number of cores: spans per request / busy time per request.
 *
 * Run: `npm run build && node dist/bench/workers.js [--seconds 3] [--workers 1] [--depth 4]`.
 */
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { AnalyticsEvent } from '../src/event.js';
import { exampleHotPath } from './hot_path.js';
import { scaledTracesBody } from './scaled.js';

/** What a worker is asked to do with a request: post its events back, or only their count. */
interface Job {
  id: number;
  bytes: Uint8Array;
}
interface WorkerOptions {
  eventsBack: boolean;
}

if (!isMainThread) {
  const run = exampleHotPath();
  const { eventsBack } = workerData as WorkerOptions;
  parentPort!.on('message', (job: Job) => {
    const events = run(job.bytes);
    parentPort!.postMessage(eventsBack ? { id: job.id, events } : { id: job.id, count: events.length });
  });
} else {
  await main();
}

interface Result {
  name: string;
  spans_per_s: number;
  events_per_s: number;
  /** This thread's busy time per request, ms. */
  main_ms_per_request: number;
  /** Spans per request / busy time per request: the most this thread can take in. */
  main_ceiling_spans_per_s: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, workers: { type: 'string' }, depth: { type: 'string' } }, strict: false });
  const seconds = Number(values.seconds ?? 3);
  const workers = Number(values.workers ?? 1);
  const depth = Number(values.depth ?? 4);
  const bodies = [0, 1, 2, 3].map((v) => scaledTracesBody(500, v));
  const spansPerRequest = bodies[0]!.spans;

  const report = (name: string, requests: number, spans: number, events: number, wallS: number, busyS: number): Result => {
    const r: Result = {
      name,
      spans_per_s: Math.round(spans / wallS),
      events_per_s: Math.round(events / wallS),
      main_ms_per_request: Number(((busyS / requests) * 1000).toFixed(3)),
      main_ceiling_spans_per_s: Math.round(spans / busyS),
    };
    const f = (n: number) => n.toLocaleString('en-US').padStart(10);
    console.log(`${name.padEnd(34)} ${f(r.spans_per_s)} spans/s ${f(r.events_per_s)} events/s   this thread ${r.main_ms_per_request.toFixed(2).padStart(6)} ms a request, ceiling ${f(r.main_ceiling_spans_per_s)} spans/s`);
    return r;
  };

  const inline = (): Result => {
    const run = exampleHotPath();
    const warm = performance.now() + 500;
    for (let i = 0; performance.now() < warm; i++) run(bodies[i % bodies.length]!.body);
    let requests = 0;
    let spans = 0;
    let events = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const b = bodies[requests % bodies.length]!;
      events += run(b.body).length;
      spans += b.spans;
      requests++;
    }
    const cpu = process.cpuUsage(cpu0);
    return report('inline', requests, spans, events, (performance.now() - t0) / 1000, (cpu.user + cpu.system) / 1e6);
  };

  const withWorkers = async (eventsBack: boolean): Promise<Result> => {
    const pool = Array.from({ length: workers }, () => new Worker(new URL(import.meta.url), { workerData: { eventsBack } satisfies WorkerOptions }));
    try {
      const measureFor = async (ms: number): Promise<{ requests: number; spans: number; events: number; wallS: number; busyS: number }> => {
        let requests = 0;
        let spans = 0;
        let events = 0;
        let next = 0;
        const t0 = performance.now();
        const elu0 = performance.eventLoopUtilization();
        await Promise.all(
          pool.map(
            (w) =>
              new Promise<void>((resolve) => {
                let inFlight = 0;
                const send = () => {
                  const b = bodies[next++ % bodies.length]!;
                  // A receiver's body arrives in its own buffer: copy it into one that can be transferred.
                  const bytes = new Uint8Array(b.body.length);
                  bytes.set(b.body);
                  w.postMessage({ id: next, bytes } satisfies Job, [bytes.buffer]);
                  inFlight++;
                };
                const onMessage = (m: { events?: AnalyticsEvent[]; count?: number }) => {
                  inFlight--;
                  requests++;
                  spans += spansPerRequest;
                  events += m.events?.length ?? m.count ?? 0;
                  if (performance.now() - t0 < ms) send();
                  else if (inFlight === 0) {
                    w.off('message', onMessage);
                    resolve();
                  }
                };
                w.on('message', onMessage);
                for (let i = 0; i < depth; i++) send();
              }),
          ),
        );
        const elu = performance.eventLoopUtilization(elu0);
        return { requests, spans, events, wallS: (performance.now() - t0) / 1000, busyS: elu.active / 1000 };
      };
      await measureFor(500);
      const m = await measureFor(seconds * 1000);
      return report(`${workers} worker(s), ${eventsBack ? 'events back' : 'nothing back'}`, m.requests, m.spans, m.events, m.wallS, m.busyS);
    } finally {
      await Promise.all(pool.map((w) => w.terminate()));
    }
  };

  console.log(`worker threads for the hot path: ${spansPerRequest} spans a request, ${workers} worker(s), ${depth} requests in flight each, ${seconds} s per case; node ${process.version}`);
  const results = [inline(), await withWorkers(true), await withWorkers(false)];
  console.log('BENCH ' + JSON.stringify({ name: 'workers', spans_per_request: spansPerRequest, workers, depth, results }));
}
