/**
 * What the hot path leaves to the garbage collector, in bytes, which unlike time does not drift
 * with a shared machine's speed. The scaled shop traces (~500 spans a request) go through the
 * validating scan, `analytics`, `privacy` and `filter` (config.example.yaml) in one thread, and the
 * last 8192 events are held as a `batch` processor holds them until it sends. From V8's own
 * trace (`--trace-gc-nvp`, one line per collection) it prints:
 *
 * - bytes allocated per span;
 * - bytes per event that survived a scavenge (copied within the young generation) and that were
 *   promoted to the old generation: what holding events in a batch costs;
 * - the share of the time spent in garbage-collection pauses.
 *
 * Run: `npm run build && node dist/bench/heap.js [--requests 3000]`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AnalyticsEvent } from '../src/event.js';
import { exampleHotPath } from './hot_path.js';
import { scaledTracesBody } from './scaled.js';

const BATCH = 8192;
const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, child: { type: 'boolean', default: false } }, strict: false });
const requests = Number(values.requests);

/** In the traced child: runs the requests and prints `START`, then `END spans events ms`. */
function child(): void {
  const run = exampleHotPath({ filter: true });
  const bodies = [0, 1, 2, 3].map((v) => scaledTracesBody(500, v));
  const held: AnalyticsEvent[] = new Array<AnalyticsEvent>(BATCH);
  let next = 0;
  let spans = 0;
  let events = 0;
  const one = (i: number) => {
    const { body, spans: n } = bodies[i % bodies.length]!;
    for (const e of run(body)) {
      held[next] = e;
      next = (next + 1) % BATCH;
      events++;
    }
    spans += n;
  };
  for (let i = 0; i < 500; i++) one(i); // warm-up, and a full batch held
  spans = events = 0;
  console.log('START');
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) one(i);
  console.log(`END ${spans} ${events} ${(performance.now() - t0).toFixed(1)}`);
}

interface Result {
  spans: number;
  events: number;
  allocated_bytes_per_span: number;
  survived_bytes_per_event: number;
  promoted_bytes_per_event: number;
  gc_pause_pct: number;
}

/** Sums the `--trace-gc-nvp` fields of the collections between START and END. */
function parse(out: string): Result {
  let on = false;
  let allocated = 0;
  let survived = 0;
  let promoted = 0;
  let pause = 0;
  let end: string[] | undefined;
  const field = (line: string, name: string) => Number(new RegExp(`(?:^|\\s)${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
  for (const line of out.split('\n')) {
    if (line === 'START') on = true;
    else if (line.startsWith('END ')) {
      end = line.split(' ');
      on = false;
    } else if (on && line.includes('pause=')) {
      allocated += field(line, 'allocated');
      survived += field(line, 'new_space_survived');
      promoted += field(line, 'promoted');
      pause += field(line, 'pause');
    }
  }
  if (!end) throw new Error('the traced run did not finish');
  const [spans, events, ms] = [Number(end[1]), Number(end[2]), Number(end[3])];
  return {
    spans,
    events,
    allocated_bytes_per_span: Math.round(allocated / spans),
    survived_bytes_per_event: Math.round(survived / events),
    promoted_bytes_per_event: Math.round(promoted / events),
    gc_pause_pct: Number(((pause / ms) * 100).toFixed(1)),
  };
}

if (values.child) child();
else {
  const r = spawnSync(process.execPath, ['--trace-gc-nvp', fileURLToPath(import.meta.url), '--child', '--requests', String(requests)], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`traced run failed (${r.status}): ${r.stderr}`);
  const res = parse(r.stdout);
  console.log(`heap: ${res.spans.toLocaleString('en-US')} spans → ${res.events.toLocaleString('en-US')} events, the last ${BATCH} held as a batch; node ${process.version}`);
  console.log(`allocated per span             ${String(res.allocated_bytes_per_span).padStart(6)} bytes`);
  console.log(`survived a scavenge, per event ${String(res.survived_bytes_per_event).padStart(6)} bytes`);
  console.log(`promoted, per event            ${String(res.promoted_bytes_per_event).padStart(6)} bytes`);
  console.log(`garbage-collection pauses      ${String(res.gc_pause_pct).padStart(6)} % of the time`);
  console.log('BENCH ' + JSON.stringify({ name: 'heap', batch: BATCH, ...res }));
}
