/**
 * otelytics side by side with the OpenTelemetry Collector, on the same machine and the same input.
 *
 *   A. OTLP/HTTP protobuf traces → span-to-event mapping → PII removal → batch → discard.
 *      collector: bench/collector/case-a.yaml (`transform` with OTTL statements, `redaction` with
 *      hashing, `debug` exporter sampling away every batch but the first: the build has no nop).
 *      otelytics: config.example.yaml's events pipeline (memory_limiter → analytics → privacy →
 *      filter → batch) ending in the `nop` exporter.
 *   B. The same as A ending in Kafka, on a broker of the project's own (scripts/kafka/kafka.mjs,
 *      started once for the case, a topic of 3 partitions per system, stopped at the end).
 *      collector: bench/collector/case-b.yaml (`kafka` exporter, otlp_proto, lz4). otelytics:
 *      config.example.yaml with its `kafka` exporter (events as json, lz4). Skipped without Java.
 *   C. Plain OTLP/HTTP → OTLP/HTTP forwarding to a sink in this process (bench/collector/case-c.yaml
 *      and bench/collector/otelytics-c.yaml: uncompressed, no sending queue, no retries).
 *
 * Each system runs on its own, pinned to CPU 1 (this load generator, telemetrygen, the sink and the
 * broker on CPU 0) when `taskset` exists, and is driven with the same bodies (the shop fixture's
 * spans scaled to ~500 a request), each time in a fresh process after a warm-up: as fast as
 * `concurrency` clients can for `seconds` (spans/s accepted with 200, refused requests, p50/p99
 * latency, CPU %, peak RSS), then at a fixed 10,000 spans/s (CPU %, peak RSS, p99). In case A also
 * by `telemetrygen traces` over OTLP/HTTP at the fixed rate (bench/collector/telemetrygen.ts). In
 * the cases of `--sustain-cases` (default A), also the highest fixed rate each system takes for
 * `--sustain` seconds (default 60; 0: off) without refusing or dropping anything
 * (bench/collector/sustain.ts), with up to `--sustain-concurrency` (default 64) requests in
 * flight. Prints one table per case with the ratio otelytics / collector per figure, and the
 * figures as JSON on the last line (`BENCH {...}`).
 *
 * The collector is the one scripts/interop/tools.mjs builds (and caches) from
 * scripts/collector/builder-config.yaml; telemetrygen comes from there too.
 *
 * With `--cpus N` (N > 1; `npm run bench` passes `--cpus 2`), case A is also run at full load with
 * both systems on the same N cores (taskset -c 0,…,N−1), shared with this load generator: the
 * collector with GOMAXPROCS=N, otelytics with `service::workers` 1 and N, in turn, `--cpus-rounds`
 * times (default 3); the table compares N workers with one worker on the same cores, with the
 * pinned single-core figure and with the collector.
 *
 * Run: `npm run build && node dist/bench/collector.js [--seconds 10] [--concurrency 8] [--rate 10000]
 * [--cases A,B,C] [--modes max,fixed,telemetrygen] [--sustain 60] [--sustain-cases A] [--sustain-concurrency 64] [--cpus 2] [--cpus-rounds 3]`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { projectRoot } from '../test/helpers.js';
import { hasTaskset } from './harness.js';
import { allCases, KAFKA_COMPRESSION, type OpenCase } from './collector/cases.js';
import { drive, type Body, type RunResult } from './collector/load.js';
import { counters, drained } from './collector/metrics.js';
import { printTables, type Result } from './collector/report.js';
import { sustainedRate } from './collector/sustain.js';
import { collectorVersion, type SystemUnderTest } from './collector/systems.js';
import { driveTelemetrygen } from './collector/telemetrygen.js';
import { scaledTracesBody } from './scaled.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
    rate: { type: 'string', default: '10000' },
    cases: { type: 'string', default: 'A,B,C' },
    sustain: { type: 'string', default: '60' },
    'sustain-cases': { type: 'string', default: 'A' },
    'sustain-concurrency': { type: 'string', default: '64' },
    cpus: { type: 'string', default: '1' },
    'cpus-rounds': { type: 'string', default: '3' },
    modes: { type: 'string', default: 'max,fixed,telemetrygen' },
  },
  strict: false,
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const fixedSpansPerS = Number(values.rate);
const sustainSeconds = Number(values.sustain);
const sustainConcurrency = Number(values['sustain-concurrency']);
const warmUpSeconds = 2;
/** `--cpus N` (N > 1): case A also with both systems on CPUs 0 … N−1, shared with the load generator. */
const multiCpus = Number(values.cpus);
const multiRounds = Number(values['cpus-rounds']);
if (!(Number.isInteger(multiCpus) && multiCpus >= 1)) throw new Error('--cpus takes a number of CPUs');
/** telemetrygen's `--rate` is per worker, and one worker manages ~1,700 spans/s at most: 1,000 each. */
const telemetrygenWorkers = Math.max(1, Math.ceil(fixedSpansPerS / 1000));
/** The case ids `--<flag>` lists; `required`: at least one. */
const caseIds = (flag: string, required: boolean): Set<string> => {
  const ids = new Set(String(values[flag]).toUpperCase().split(',').map((s) => s.trim()).filter(Boolean));
  if ((required && ids.size === 0) || [...ids].some((id) => !allCases.some((c) => c.id === id))) throw new Error(`--${flag} takes a comma-separated list of ${allCases.map((c) => c.id).join(', ')}`);
  return ids;
};
const wanted = caseIds('cases', true);
const cases = allCases.filter((c) => wanted.has(c.id));
const sustainCases = caseIds('sustain-cases', false);
/** The runs of each case besides the sustained search: `max`, `fixed` (at `--rate`), `telemetrygen` (case A). */
const modes = new Set(String(values.modes).split(',').map((s) => s.trim()).filter(Boolean));
if (modes.size === 0 || [...modes].some((m) => !['max', 'fixed', 'telemetrygen'].includes(m))) throw new Error('--modes takes a comma-separated list of max, fixed, telemetrygen');
if (!(sustainSeconds >= 0)) throw new Error('--sustain takes a number of seconds (0: off)');
if (!(sustainConcurrency >= 1)) throw new Error('--sustain-concurrency takes a number of clients');

const log = (line: string): void => void process.stderr.write(line + '\n');

/**
 * Runs one system in a fresh process: warm-up, then the measured window. `lost`: also what the
 * system's own counters show refused or lost (warm-up included) once its queues are empty again.
 */
async function measure(start: () => Promise<SystemUnderTest>, bodies: readonly Body[], rate: number | undefined, lost: boolean): Promise<RunResult & { lost?: number }> {
  const sut = await start();
  try {
    const before = lost ? await counters(sut) : undefined;
    await drive(sut, bodies, { seconds: warmUpSeconds, concurrency, rate });
    const r = await drive(sut, bodies, { seconds, concurrency, rate });
    if (!before) return r;
    await drained(sut, 5000);
    return { ...r, lost: (await counters(sut)).lost - before.lost };
  } finally {
    await sut.stop();
  }
}

interface Tools {
  ensureCollector(): Promise<{ bin: string }>;
  ensureTelemetrygen(): Promise<{ bin: string }>;
}

/** Every measurement of one case, appended to `results`. */
async function runCase(id: string, open: OpenCase, bodies: readonly Body[], tools: Tools, results: Result[]): Promise<void> {
  const spansPerRequest = bodies[0]!.spans;
  const systems = { collector: () => open.collector(false), otelytics: () => open.otelytics() };
  const measured = async (start: () => Promise<SystemUnderTest>, rate: number | undefined): Promise<Record<string, unknown>> => {
    const before = open.sinkBytes();
    // In case B, the exporter may fail after the batch processor answered the client.
    const r = await measure(start, bodies, rate, id === 'B');
    const after = open.sinkBytes();
    return before === undefined || after === undefined ? { ...r } : { ...r, sink_bytes: after - before };
  };
  for (const [mode, rate] of [
    ['max', undefined],
    ['fixed', fixedSpansPerS / spansPerRequest],
  ] as const) {
    if (!modes.has(mode)) continue;
    log(`case ${id}, ${mode}: collector, otelytics ...`);
    const collector = await measured(systems.collector, rate);
    const otelytics = await measured(systems.otelytics, rate);
    results.push({ case: id, mode, collector, otelytics });
  }

  // Counted at the system: the collector runs with its own metrics on.
  const metered = { collector: () => open.collector(true), otelytics: () => open.otelytics() };
  if (id === 'A' && modes.has('telemetrygen')) {
    const tgen = await tools.ensureTelemetrygen().catch((err: unknown) => {
      log(`telemetrygen skipped: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    });
    if (tgen) {
      const r: Partial<Record<'collector' | 'otelytics', Record<string, unknown>>> = {};
      for (const name of ['collector', 'otelytics'] as const) {
        log(`case ${id}, telemetrygen: ${name} ...`);
        const sut = await metered[name]();
        try {
          r[name] = { ...(await driveTelemetrygen(tgen.bin, sut, { seconds, spansPerS: fixedSpansPerS, workers: telemetrygenWorkers }, warmUpSeconds)) };
        } finally {
          await sut.stop();
        }
      }
      results.push({ case: id, mode: 'telemetrygen', collector: r.collector!, otelytics: r.otelytics! });
    }
  }

  if (sustainSeconds > 0 && sustainCases.has(id)) {
    const max: Pick<Result, 'collector' | 'otelytics'> = results.find((x) => x.case === id && x.mode === 'max') ?? { collector: {}, otelytics: {} };
    const r: Partial<Record<'collector' | 'otelytics', Record<string, unknown>>> = {};
    for (const name of ['collector', 'otelytics'] as const) {
      const from = Number(max[name].spans_per_s) || fixedSpansPerS;
      log(`case ${id}, sustained: ${name}, from ${from} spans/s ...`);
      r[name] = { ...(await sustainedRate(metered[name], bodies, from, { seconds: sustainSeconds, warmUpSeconds, concurrency: sustainConcurrency, spansPerRequest, log })) };
    }
    results.push({ case: id, mode: 'sustained', collector: r.collector!, otelytics: r.otelytics! });
  }
}

interface MultiCore {
  cpus: string;
  rounds: number;
  /** Full-load runs, in the order taken (alternating systems each round). */
  runs: { system: string; spans_per_s: number; p99_ms: number; cpu_pct: number; peak_rss_mib: number }[];
}

/**
 * Case A at full load with every system on the same `n` cores, shared with the load generator:
 * the collector (GOMAXPROCS=n), otelytics with 1 worker and with n workers, in turn, `rounds` times.
 */
async function runMultiCore(open: OpenCase, bodies: readonly Body[], n: number, rounds: number): Promise<MultiCore> {
  const cpus = Array.from({ length: n }, (_, i) => i).join(',');
  const on = open.onCores!;
  const systems: [string, () => Promise<SystemUnderTest>][] = [
    [`collector GOMAXPROCS=${n}`, () => on.collector(cpus)],
    ['otelytics workers: 1', () => on.otelytics(cpus, 1)],
    [`otelytics workers: ${n}`, () => on.otelytics(cpus, n)],
  ];
  const runs: MultiCore['runs'] = [];
  for (let round = 0; round < rounds; round++) {
    for (const [system, start] of systems) {
      log(`case A on CPUs ${cpus}, round ${round + 1}: ${system} ...`);
      const r = await measure(start, bodies, undefined, false);
      runs.push({ system, spans_per_s: r.spans_per_s, p99_ms: r.p99_ms, cpu_pct: r.cpu_pct, peak_rss_mib: r.peak_rss_mib });
    }
  }
  // Back to CPU 0 for whatever runs next.
  if (hasTaskset) execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  return { cpus, rounds, runs };
}

function printMultiCore(m: MultiCore, singleCore: { collector?: number; otelytics?: number }, n: number): void {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const bySystem = new Map<string, MultiCore['runs']>();
  for (const r of m.runs) bySystem.set(r.system, [...(bySystem.get(r.system) ?? []), r]);
  console.log(`\nA on ${n} cores (CPUs ${m.cpus}, shared with the load generator), full load, ${concurrency} clients, ${m.rounds} rounds in turn`);
  console.log('| system | spans/s (each round) | median spans/s | p99 ms (median) | CPU % (median) | peak RSS MiB (median) |');
  console.log('|---|---|---|---|---|---|');
  const med: Record<string, number> = {};
  for (const [system, runs] of bySystem) {
    med[system] = median(runs.map((r) => r.spans_per_s));
    console.log(
      `| ${system} | ${runs.map((r) => r.spans_per_s.toLocaleString('en-US')).join(', ')} | ${Math.round(med[system]!).toLocaleString('en-US')} | ${median(runs.map((r) => r.p99_ms)).toFixed(1)} | ${median(runs.map((r) => r.cpu_pct)).toFixed(1)} | ${Math.round(median(runs.map((r) => r.peak_rss_mib)))} |`,
    );
  }
  const nw = med[`otelytics workers: ${n}`]!;
  const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : 'n/a');
  console.log(`otelytics ${n} workers / 1 worker on the same cores: ${ratio(nw, med['otelytics workers: 1'])}`);
  console.log(`otelytics ${n} workers / otelytics on one pinned core (case A above): ${ratio(nw, singleCore.otelytics)}`);
  console.log(`otelytics ${n} workers / collector on the same cores: ${ratio(nw, med[`collector GOMAXPROCS=${n}`])}`);
  console.log(`collector on ${n} cores / collector on one pinned core: ${ratio(med[`collector GOMAXPROCS=${n}`]!, singleCore.collector)}`);
}

async function main(): Promise<void> {
  // Everything started from here (broker, telemetrygen, sink) stays on CPU 0 with this process.
  if (hasTaskset) execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
  const tools = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'interop', 'tools.mjs')).href)) as Tools;
  const { bin } = await tools.ensureCollector();
  const versions = {
    node: process.version,
    otelytics: (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version,
    collector: collectorVersion(bin),
  };
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length };
  const bodies = [0, 1, 2, 3].map((v) => scaledTracesBody(500, v));
  const spansPerRequest = bodies[0]!.spans;

  const results: Result[] = [];
  const skipped = new Map<string, string>();
  let multiCore: MultiCore | undefined;
  for (const c of cases) {
    const open = await c.open(bin);
    if (typeof open === 'string') {
      log(`case ${c.id} skipped: ${open}`);
      skipped.set(c.id, open);
      continue;
    }
    try {
      await runCase(c.id, open, bodies, tools, results);
      if (multiCpus > 1 && open.onCores) multiCore = await runMultiCore(open, bodies, multiCpus, multiRounds);
    } finally {
      await open.close();
    }
  }

  console.log(
    `collector side-by-side: ${spansPerRequest} spans/request, ${concurrency} clients, ${seconds} s per run after ${warmUpSeconds} s warm-up, fresh process per run, ` +
      `${hasTaskset ? 'system under test pinned to CPU 1, load generator, sink and broker on CPU 0' : 'not pinned (no taskset)'}` +
      (sustainSeconds > 0 ? `; sustained (case ${[...sustainCases].join(', ')}): fixed-rate windows of ${sustainSeconds} s, up to ${sustainConcurrency} requests in flight` : ''),
  );
  console.log(`versions: node ${versions.node}, otelytics ${versions.otelytics}, OpenTelemetry Collector ${versions.collector} (otelcol-otelytics build); machine: ${machine.cpu}, ${machine.cores} cores`);
  printTables(cases, results, skipped, { fixedSpansPerS, sustainSeconds });
  if (multiCore) {
    const a = results.find((r) => r.case === 'A' && r.mode === 'max');
    printMultiCore(multiCore, { collector: Number(a?.collector.spans_per_s) || undefined, otelytics: Number(a?.otelytics.spans_per_s) || undefined }, multiCpus);
  }
  console.log(
    'BENCH ' +
      JSON.stringify({
        name: 'collector',
        spans_per_request: spansPerRequest,
        concurrency,
        seconds,
        fixed_spans_per_s: fixedSpansPerS,
        sustain_seconds: sustainSeconds,
        sustain_cases: [...sustainCases],
        sustain_concurrency: sustainConcurrency,
        modes: [...modes],
        telemetrygen_workers: telemetrygenWorkers,
        kafka_compression: KAFKA_COMPRESSION,
        cases: cases.map((c) => c.id),
        skipped: Object.fromEntries(skipped),
        pinned: hasTaskset,
        versions,
        machine,
        results,
        ...(multiCore ? { multi_core: multiCore } : {}),
      }),
  );
}

await main();
