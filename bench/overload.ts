/**
 * Overload: what the gateway does when offered five times what it can process.
 *
 * Runs the CLI on config.example.yaml (memory_limiter → analytics → privacy → filter → batch →
 * `nop`) pinned to one core, then:
 *   1. capacity: `concurrency` clients send as fast as they are answered for `seconds`; the spans/s
 *      accepted is the sustainable load;
 *   2. overload: `clients` keep-alive connections (opened first, as a fleet of SDKs would have
 *      them) send at `factor` × that rate, open loop (a request starts on schedule whatever the
 *      answers, each connection one request at a time), for `seconds`;
 *   3. recovery: the same connections at half the sustainable rate for `seconds`.
 * Each phase reports the answers (200, 503 with Retry-After, anything else or a failed request),
 * latency percentiles, and the gateway's peak resident set size and peak of what `memory_limiter`
 * measures (resident memory no file backs), sampled from /proc every 50 ms, against
 * `processors::memory_limiter::limit_mib`. The figures come back from {@link runOverload}
 * and, run as a program, as a table and a `BENCH {...}` line.
 *
 * Run: `npm run build && node dist/bench/overload.js [--seconds 10] [--clients 256] [--factor 5] [--limit-mib 512]`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { projectRoot } from '../test/helpers.js';
import { metricValue, percentile } from './harness.js';
import { startOtelytics } from './collector/systems.js';
import { scaledTracesBody } from './scaled.js';
import { anonymousResident } from '../processors/memory_limiter/index.js';

const MIB = 1024 * 1024;

export interface OverloadOptions {
  /** Length of each phase, s. */
  seconds: number;
  /** Clients of the capacity phase. Default 8. */
  concurrency?: number;
  /** Connections of the overload and recovery phases. Default 256. */
  clients?: number;
  /** Offered load of the overload phase, × the measured capacity. Default 5. */
  factor?: number;
  /** `processors::memory_limiter::limit_mib` of the gateway. Default 512 (config.example.yaml's). */
  limitMib?: number;
  /** Other `--set` overrides for the gateway. */
  sets?: readonly string[];
  /** Pin the gateway to CPU 1 and this process to CPU 0. Default: when taskset exists. */
  pin?: boolean;
}

export interface PhaseResult {
  phase: string;
  /** Requests per second offered (open loop), or undefined for the closed-loop capacity phase. */
  offered_per_s?: number;
  requests: number;
  ok: number;
  /** Answered 503 with a Retry-After header. */
  refused_503: number;
  /** Any other answer, or no answer (connection error). */
  other: number;
  /** Requests that could not start on schedule because their connection was still busy. */
  skipped: number;
  spans_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** p99 of the 503 answers alone, ms: how fast a refusal comes. */
  refused_p99_ms: number;
  /** Peak resident set size of the gateway during the phase, MiB (sampled every 50 ms). */
  peak_rss_mib: number;
  /** Peak of what `memory_limiter` measures (resident memory no file backs) during the phase, MiB. */
  peak_measured_mib: number;
}

export interface OverloadResult {
  spans_per_request: number;
  limit_mib: number;
  capacity_spans_per_s: number;
  phases: PhaseResult[];
  /** Spans the gateway counted as accepted (`otelcol_receiver_accepted_spans`) against those answered 200. */
  accepted_spans_counted: number;
  accepted_spans_answered: number;
  /** `otelytics_receiver_refused_requests` by reason over the run. */
  refusals_by_reason: Record<string, number>;
}

/** The gateway's resident set and what its memory_limiter measures (resident memory no file backs), MiB. */
function memoryMiB(pid: number): { rss: number; measured: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return { rss: m ? Number(m[1]) / 1024 : NaN, measured: (anonymousResident(status) ?? NaN) / MIB };
}

interface Answer {
  status: number;
  retryAfter: boolean;
  ms: number;
}

function post(agent: http.Agent, port: number, body: Buffer): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] !== undefined, ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, retryAfter: false, ms: performance.now() - t0 }));
    req.setTimeout(30_000, () => req.destroy());
    req.end(body);
  });
}

/** Runs the three phases against a fresh gateway and returns what they measured. */
export async function runOverload(opts: OverloadOptions): Promise<OverloadResult> {
  const concurrency = opts.concurrency ?? 8;
  const clients = opts.clients ?? 256;
  const factor = opts.factor ?? 5;
  const limitMib = opts.limitMib ?? 512;
  const bodies = [0, 1, 2, 3].map((v) => scaledTracesBody(500, v));
  const spansPerRequest = bodies[0]!.spans;
  const sut = await startOtelytics(
    path.join(projectRoot, 'config.example.yaml'),
    ['service::telemetry::logs::level=error', 'exporters::nop={}', 'service::pipelines::events::exporters=[nop]', `processors::memory_limiter::limit_mib=${limitMib}`, ...(opts.sets ?? [])],
    true,
    { OTELYTICS_PSEUDONYM_KEY: randomBytes(32).toString('base64') },
    opts.pin,
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let peak = { rss: 0, measured: 0 };
  const sampler = setInterval(() => {
    try {
      const m = memoryMiB(sut.pid);
      peak = { rss: Math.max(peak.rss, m.rss), measured: Math.max(peak.measured, m.measured) };
    } catch {
      /* exited */
    }
  }, 50);
  const phases: PhaseResult[] = [];
  let answeredSpans = 0;

  /** One phase: closed loop when `rate` is undefined, else open loop at `rate` requests/s. */
  const phase = async (name: string, rate: number | undefined, width: number): Promise<PhaseResult> => {
    peak = memoryMiB(sut.pid);
    const answers: Answer[] = [];
    let skipped = 0;
    let spans = 0;
    const start = performance.now();
    const end = start + opts.seconds * 1000;
    const one = async (i: number) => {
      const b = bodies[i % bodies.length]!;
      const a = await post(agent, sut.port, b.body);
      answers.push(a);
      if (a.status === 200) {
        spans += b.spans;
        answeredSpans += b.spans;
      }
    };
    if (rate === undefined) {
      await Promise.all(
        Array.from({ length: width }, async (_, w) => {
          for (let i = w; performance.now() < end; i += width) await one(i);
        }),
      );
    } else {
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; ; i++) {
        const due = start + (i * 1000) / rate;
        if (due >= end) break;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (inFlight.size >= width) {
          skipped++;
          continue;
        }
        const p: Promise<void> = one(i).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    }
    const elapsed = (performance.now() - start) / 1000;
    const all = answers.map((a) => a.ms).sort((x, y) => x - y);
    const refused = answers.filter((a) => a.status === 503 && a.retryAfter);
    const r: PhaseResult = {
      phase: name,
      offered_per_s: rate === undefined ? undefined : Math.round(rate * spansPerRequest),
      requests: answers.length,
      ok: answers.filter((a) => a.status === 200).length,
      refused_503: refused.length,
      other: answers.filter((a) => a.status !== 200 && !(a.status === 503 && a.retryAfter)).length,
      skipped,
      spans_per_s: Math.round(spans / elapsed),
      p50_ms: round(percentile(all, 50)),
      p99_ms: round(percentile(all, 99)),
      refused_p99_ms: round(percentile(refused.map((a) => a.ms).sort((x, y) => x - y), 99)),
      peak_rss_mib: round(peak.rss),
      peak_measured_mib: round(peak.measured),
    };
    phases.push(r);
    return r;
  };

  try {
    await phase('warm-up', undefined, concurrency);
    phases.length = 0;
    const capacity = await phase('capacity (closed loop)', undefined, concurrency);
    const capacityRate = capacity.spans_per_s / spansPerRequest;
    // Open every connection first (empty requests), as a fleet of SDKs has them open.
    await Promise.all(Array.from({ length: clients }, () => post(agent, sut.port, Buffer.alloc(0))));
    await phase(`overload (${factor}× capacity)`, capacityRate * factor, clients);
    await phase('recovery (0.5× capacity)', capacityRate / 2, clients);
    const metrics = sut.metricsPort!;
    const reasons: Record<string, number> = {};
    for (const reason of ['admission', 'overload', 'request_limit']) {
      reasons[reason] = await metricValue(metrics, `otelytics_receiver_refused_requests{receiver="otlp",transport="http",reason="${reason}"}`);
    }
    return {
      spans_per_request: spansPerRequest,
      limit_mib: limitMib,
      capacity_spans_per_s: capacity.spans_per_s,
      phases,
      accepted_spans_counted: await metricValue(metrics, 'otelcol_receiver_accepted_spans'),
      accepted_spans_answered: answeredSpans,
      refusals_by_reason: reasons,
    };
  } finally {
    clearInterval(sampler);
    agent.destroy();
    await sut.stop();
  }
}

function round(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 10) / 10 : 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, clients: { type: 'string', default: '256' }, factor: { type: 'string', default: '5' }, 'limit-mib': { type: 'string', default: '512' }, sets: { type: 'string', multiple: true } }, strict: false });
  const r = await runOverload({ seconds: Number(values.seconds), clients: Number(values.clients), factor: Number(values.factor), limitMib: Number(values['limit-mib']), sets: (values.sets as string[] | undefined) ?? [] });
  console.log(`overload benchmark: ${r.spans_per_request} spans/request, ${values.clients} connections, ${values.seconds} s per phase, memory_limiter limit_mib ${r.limit_mib}; node ${process.version}`);
  console.log('phase'.padEnd(30) + 'offered/s'.padStart(10) + 'spans/s'.padStart(9) + 'ok'.padStart(7) + '503'.padStart(7) + 'other'.padStart(7) + 'p50 ms'.padStart(9) + 'p99 ms'.padStart(9) + '503 p99'.padStart(9) + 'peak RSS'.padStart(10) + 'measured'.padStart(10));
  for (const p of r.phases) {
    console.log(
      p.phase.padEnd(30) +
        String(p.offered_per_s ?? '-').padStart(10) +
        String(p.spans_per_s).padStart(9) +
        String(p.ok).padStart(7) +
        String(p.refused_503).padStart(7) +
        String(p.other).padStart(7) +
        String(p.p50_ms).padStart(9) +
        String(p.p99_ms).padStart(9) +
        String(p.refused_p99_ms).padStart(9) +
        String(p.peak_rss_mib).padStart(10) +
        String(p.peak_measured_mib).padStart(10),
    );
  }
  console.log(`refused before decoding, by reason: ${JSON.stringify(r.refusals_by_reason)}`);
  console.log('BENCH ' + JSON.stringify({ name: 'overload', ...r }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
