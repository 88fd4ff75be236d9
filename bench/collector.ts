/**
 * otelytics side by side with the OpenTelemetry Collector, on the same machine and the same input.
 *
 *   A. OTLP/HTTP protobuf traces → span-to-event mapping → PII removal → batch → discard.
 *      collector: bench/collector/case-a.yaml (`transform` with OTTL statements, `redaction` with
 *      hashing, `debug` exporter sampling away every batch but the first: the build has no nop).
 *      otelytics: config.example.yaml's events pipeline (memory_limiter → analytics → privacy →
 *      filter → batch) ending in the `nop` exporter.
 *   C. Plain OTLP/HTTP → OTLP/HTTP forwarding to a sink in this process (bench/collector/case-c.yaml
 *      and bench/collector/otelytics-c.yaml: uncompressed, no sending queue, no retries).
 *   (B, ending in Kafka, is not measured here.)
 *
 * Each system runs on its own, pinned to CPU 1 (this load generator and the sink on CPU 0) when
 * `taskset` exists, and is driven with the same bodies (the shop fixture's spans scaled to ~500 a
 * request) twice, each time in a fresh process after a warm-up: as fast as `concurrency` clients
 * can for `seconds` (spans/s accepted with 200, refused requests, p50/p99 latency, CPU %, peak
 * RSS), then at a fixed 10,000 spans/s (CPU %, peak RSS, p99). Prints one table with the ratio
 * otelytics / collector per figure, and the figures as JSON on the last line (`BENCH {...}`).
 *
 * The collector is the one scripts/interop/tools.mjs builds (and caches) from
 * scripts/collector/builder-config.yaml.
 *
 * Run: `npm run build && node dist/bench/collector.js [--seconds 10] [--concurrency 8] [--rate 10000]`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { projectRoot } from '../test/helpers.js';
import { hasTaskset } from './harness.js';
import { drive, startSink, type Body, type RunResult, type Sink } from './collector/load.js';
import { collectorVersion, startCollector, startOtelytics, type SystemUnderTest } from './collector/systems.js';
import { scaledTracesBody } from './scaled.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '8' }, rate: { type: 'string', default: '10000' } },
  strict: false,
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const fixedSpansPerS = Number(values.rate);
const warmUpSeconds = 2;

interface Case {
  id: string;
  title: string;
  collector(bin: string, sink: Sink): Promise<SystemUnderTest>;
  otelytics(sink: Sink): Promise<SystemUnderTest>;
}

const cases: Case[] = [
  {
    id: 'A',
    title: 'A: otlp/http → span-to-event mapping → PII removal → batch → discard',
    collector: (bin) => startCollector(bin, 'case-a.yaml'),
    otelytics: () =>
      startOtelytics(path.join(projectRoot, 'config.example.yaml'), ['service::telemetry::logs::level=error', 'exporters::nop={}', 'service::pipelines::events::exporters=[nop]'], true, {
        OTELYTICS_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
      }),
  },
  {
    id: 'C',
    title: 'C: otlp/http → otlp_http pass-through to a sink',
    collector: (bin, sink) => startCollector(bin, 'case-c.yaml', { BENCH_SINK: sink.url }),
    otelytics: (sink) => startOtelytics(path.join(projectRoot, 'bench', 'collector', 'otelytics-c.yaml'), [], false, { BENCH_SINK: sink.url }),
  },
];

/** Runs one system in a fresh process: warm-up, then the measured window. */
async function measure(start: () => Promise<SystemUnderTest>, bodies: readonly Body[], rate: number | undefined): Promise<RunResult> {
  const sut = await start();
  try {
    await drive(sut, bodies, { seconds: warmUpSeconds, concurrency, rate });
    return await drive(sut, bodies, { seconds, concurrency, rate });
  } finally {
    await sut.stop();
  }
}

const ratio = (o: number, c: number): string => (c > 0 && Number.isFinite(o) ? (o / c).toFixed(2) : '-');

async function main(): Promise<void> {
  const tools = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'interop', 'tools.mjs')).href)) as { ensureCollector(): Promise<{ bin: string }> };
  const { bin } = await tools.ensureCollector();
  const versions = {
    node: process.version,
    otelytics: (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version,
    collector: collectorVersion(bin),
  };
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length };
  const bodies = [0, 1, 2, 3].map((v) => scaledTracesBody(500, v));
  const spansPerRequest = bodies[0]!.spans;
  const fixedRate = fixedSpansPerS / spansPerRequest;

  /** sink_bytes: bytes the sink received during the run (warm-up included); 0 in case A. */
  type Measured = RunResult & { sink_bytes: number };
  const results: { case: string; mode: string; collector: Measured; otelytics: Measured }[] = [];
  for (const c of cases) {
    const sink = await startSink();
    try {
      for (const [mode, rate] of [
        ['max', undefined],
        ['fixed', fixedRate],
      ] as const) {
        const counted = async (start: () => Promise<SystemUnderTest>): Promise<Measured> => {
          const before = sink.bytes;
          const r = await measure(start, bodies, rate);
          return { ...r, sink_bytes: sink.bytes - before };
        };
        const collector = await counted(() => c.collector(bin, sink));
        const otelytics = await counted(() => c.otelytics(sink));
        results.push({ case: c.id, mode, collector, otelytics });
      }
    } finally {
      await sink.close();
    }
  }

  console.log(
    `collector side-by-side: ${spansPerRequest} spans/request, ${concurrency} clients, ${seconds} s per run after ${warmUpSeconds} s warm-up, fresh process per run, ` +
      `${hasTaskset ? 'system under test pinned to CPU 1, load generator and sink on CPU 0' : 'not pinned (no taskset)'}`,
  );
  console.log(`versions: node ${versions.node}, otelytics ${versions.otelytics}, OpenTelemetry Collector ${versions.collector} (otelcol-otelytics build); machine: ${machine.cpu}, ${machine.cores} cores`);
  const figures: [string, keyof Measured, 'max' | 'fixed'][] = [
    ['spans/s accepted', 'spans_per_s', 'max'],
    ['refused requests', 'refused', 'max'],
    ['p50 latency ms', 'p50_ms', 'max'],
    ['p99 latency ms', 'p99_ms', 'max'],
    ['CPU % (1 core = 100)', 'cpu_pct', 'max'],
    ['peak RSS MiB', 'peak_rss_mib', 'max'],
    ['spans/s accepted', 'spans_per_s', 'fixed'],
    ['refused requests', 'refused', 'fixed'],
    ['p99 latency ms', 'p99_ms', 'fixed'],
    ['CPU % (1 core = 100)', 'cpu_pct', 'fixed'],
    ['peak RSS MiB', 'peak_rss_mib', 'fixed'],
    ['requests not started (all clients busy)', 'skipped', 'fixed'],
  ];
  const header = 'figure'.padEnd(58) + 'collector'.padStart(11) + 'otelytics'.padStart(11) + 'otelytics/collector'.padStart(21);
  for (const c of cases) {
    console.log('\n' + c.title);
    console.log(header);
    const rows = c.id === 'C' ? [...figures, ['bytes at the sink (warm-up included)', 'sink_bytes', 'max'] as const] : figures;
    for (const [label, key, mode] of rows) {
      const r = results.find((x) => x.case === c.id && x.mode === mode)!;
      const where = mode === 'max' ? 'max load' : `at ${fixedSpansPerS} spans/s`;
      const col = r.collector[key];
      const ote = r.otelytics[key];
      console.log(`${`${where}: ${label}`.padEnd(58)}${String(col).padStart(11)}${String(ote).padStart(11)}${ratio(ote, col).padStart(21)}`);
    }
  }
  console.log('BENCH ' + JSON.stringify({ name: 'collector', spans_per_request: spansPerRequest, concurrency, seconds, fixed_spans_per_s: fixedSpansPerS, pinned: hasTaskset, versions, machine, results }));
}

await main();
