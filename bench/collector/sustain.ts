/**
 * The sustained-throughput search: the highest fixed rate (open loop, drive() with a rate) at which
 * a system refuses and drops nothing for a whole window. Each step runs in a fresh process: a warm-up
 * at the step's rate, then the window. A step is clean when, over the window, no request was
 * refused or failed, none had to be skipped because `concurrency` were still in flight (the search
 * runs with many clients, as a gateway serving a fleet of SDKs has, so a short pause of the system
 * shows as latency, reported per step, not as data the generator could not send), the system
 * accepted at least 98% of the spans offered, its own counters show nothing refused by the receiver
 * or failed/not enqueued by an exporter, and its sending queues are empty again within
 * `drainMs` after the window (a queue that only grows is not sustained).
 *
 * Search: from `startSpansPerS` (the max-load figure) down by 10% a step until a step is clean (or,
 * when the first step is clean, up by 10% a step until one is not), then up from the best clean
 * rate in steps of 3% while they stay clean and below the lowest failing rate. At most `maxSteps`
 * steps (default 10); when none failed, the result is a lower bound (`at_least`).
 */
import { drive, type Body } from './load.js';
import { counters, drained } from './metrics.js';
import type { SystemUnderTest } from './systems.js';

export interface SustainOptions {
  seconds: number;
  warmUpSeconds: number;
  concurrency: number;
  spansPerRequest: number;
  maxSteps?: number;
  drainMs?: number;
  /** Progress lines (to stderr). */
  log?(line: string): void;
}

export interface Step {
  spans_per_s: number;
  clean: boolean;
  /** Why the step was not clean. */
  reason?: string;
  /** p99 request latency of the window, ms, and the system's CPU % over it. */
  p99_ms?: number;
  cpu_pct?: number;
}

export interface SustainResult {
  /** Highest clean rate tried, 0 when none was. */
  sustained_spans_per_s: number;
  /** p99 request latency (ms) and CPU % of the step at that rate. */
  p99_ms?: number;
  cpu_pct?: number;
  /** No step failed: the system may take more (the search ran out of steps going up). */
  at_least: boolean;
  steps: Step[];
}

async function step(start: () => Promise<SystemUnderTest>, bodies: readonly Body[], spansPerS: number, o: SustainOptions): Promise<Step> {
  const rate = spansPerS / o.spansPerRequest;
  const sut = await start();
  try {
    await drive(sut, bodies, { seconds: o.warmUpSeconds, concurrency: o.concurrency, rate });
    // Let what the warm-up left in the queues go out before the window begins.
    await drained(sut, o.drainMs ?? 3000);
    const before = await counters(sut);
    const r = await drive(sut, bodies, { seconds: o.seconds, concurrency: o.concurrency, rate });
    const empty = await drained(sut, o.drainMs ?? 3000);
    const after = await counters(sut);
    const reasons: string[] = [];
    if (r.refused > 0) reasons.push(`${r.refused} requests refused`);
    if (r.skipped > 0) reasons.push(`${r.skipped} requests not started`);
    if (r.spans_per_s < spansPerS * 0.98) reasons.push(`${r.spans_per_s} spans/s accepted`);
    if (after.lost > before.lost) reasons.push(`${after.lost - before.lost} items refused or lost by the system`);
    if (!empty) reasons.push('sending queue not drained');
    return { spans_per_s: spansPerS, clean: reasons.length === 0, ...(reasons.length > 0 ? { reason: reasons.join(', ') } : {}), p99_ms: r.p99_ms, cpu_pct: r.cpu_pct };
  } finally {
    await sut.stop();
  }
}

export async function sustainedRate(start: () => Promise<SystemUnderTest>, bodies: readonly Body[], startSpansPerS: number, o: SustainOptions): Promise<SustainResult> {
  const maxSteps = o.maxSteps ?? 10;
  const steps: Step[] = [];
  const tryRate = async (spansPerS: number): Promise<Step> => {
    const s = await step(start, bodies, Math.max(1, Math.round(spansPerS)), o);
    steps.push(s);
    o.log?.(`  ${s.spans_per_s} spans/s: ${s.clean ? 'clean' : s.reason} (p99 ${s.p99_ms} ms, CPU ${s.cpu_pct} %)`);
    return s;
  };
  let best = 0;
  let failed = Infinity;
  // Down by 10% until clean; or, when the start is clean, up by 10% until a step is not.
  let rate = startSpansPerS;
  while (steps.length < maxSteps) {
    const s = await tryRate(rate);
    if (s.clean) best = Math.max(best, s.spans_per_s);
    else failed = Math.min(failed, s.spans_per_s);
    if (best > 0 && failed < Infinity) break;
    rate = s.clean ? rate * 1.1 : rate * 0.9;
  }
  // Then up from the best clean rate in 3% steps, below the lowest failing one.
  while (best > 0 && failed < Infinity && steps.length < maxSteps) {
    const next = best * 1.03;
    if (next >= failed) break;
    const s = await tryRate(next);
    if (!s.clean) break;
    best = s.spans_per_s;
  }
  const at = steps.find((x) => x.clean && x.spans_per_s === best);
  return { sustained_spans_per_s: best, ...(at ? { p99_ms: at.p99_ms, cpu_pct: at.cpu_pct } : {}), at_least: best > 0 && failed === Infinity, steps };
}
