/**
 * The printed result of the side-by-side benchmark: one table per case with the figure, the
 * collector's value, otelytics' value and the ratio otelytics / collector.
 */
export type Mode = 'max' | 'fixed' | 'telemetrygen' | 'sustained';

/** One measurement of both systems: figures by key (numbers, plus details such as search steps). */
export interface Result {
  case: string;
  mode: Mode;
  collector: Record<string, unknown>;
  otelytics: Record<string, unknown>;
}

export interface ReportOptions {
  fixedSpansPerS: number;
  sustainSeconds: number;
}

type Row = [label: string, key: string, mode: Mode];

const rows: Row[] = [
  ['spans/s accepted', 'spans_per_s', 'max'],
  ['refused requests', 'refused', 'max'],
  ['p50 latency ms', 'p50_ms', 'max'],
  ['p99 latency ms', 'p99_ms', 'max'],
  ['CPU % (1 core = 100)', 'cpu_pct', 'max'],
  ['peak RSS MiB', 'peak_rss_mib', 'max'],
  ['items refused or lost (system counters, warm-up included)', 'lost', 'max'],
  ['spans/s accepted', 'spans_per_s', 'fixed'],
  ['refused requests', 'refused', 'fixed'],
  ['p99 latency ms', 'p99_ms', 'fixed'],
  ['CPU % (1 core = 100)', 'cpu_pct', 'fixed'],
  ['peak RSS MiB', 'peak_rss_mib', 'fixed'],
  ['requests not started (all clients busy)', 'skipped', 'fixed'],
  ['items refused or lost (system counters, warm-up included)', 'lost', 'fixed'],
  ['spans/s accepted (counted at the system)', 'spans_per_s', 'telemetrygen'],
  ['spans refused or lost (system counters)', 'lost', 'telemetrygen'],
  ['CPU % (1 core = 100)', 'cpu_pct', 'telemetrygen'],
  ['peak RSS MiB', 'peak_rss_mib', 'telemetrygen'],
  ['telemetrygen exit code', 'exit_code', 'telemetrygen'],
  ['sustained spans/s', 'sustained_spans_per_s', 'sustained'],
  ['p99 latency ms at the sustained rate', 'p99_ms', 'sustained'],
  ['CPU % at the sustained rate', 'cpu_pct', 'sustained'],
  ['bytes at the sink (warm-up included)', 'sink_bytes', 'max'],
];

const ratio = (o: unknown, c: unknown): string => (typeof o === 'number' && typeof c === 'number' && c > 0 && Number.isFinite(o) ? (o / c).toFixed(2) : '-');
const cell = (v: unknown, r: Record<string, unknown>, key: string): string =>
  typeof v === 'number' ? (key === 'sustained_spans_per_s' && r.at_least === true ? '≥' : '') + String(v) : '-';

/** Prints each case's table; `skipped`: case id → why it did not run. */
export function printTables(cases: readonly { id: string; title: string }[], results: readonly Result[], skipped: ReadonlyMap<string, string>, o: ReportOptions): void {
  const where: Record<Mode, string> = {
    max: 'max load',
    fixed: `at ${o.fixedSpansPerS} spans/s`,
    telemetrygen: `telemetrygen at ${o.fixedSpansPerS} spans/s`,
    sustained: `${o.sustainSeconds} s clean windows`,
  };
  const header = 'figure'.padEnd(72) + 'collector'.padStart(11) + 'otelytics'.padStart(11) + 'otelytics/collector'.padStart(21);
  for (const c of cases) {
    console.log('\n' + c.title);
    const why = skipped.get(c.id);
    if (why !== undefined) {
      console.log(`skipped: ${why}`);
      continue;
    }
    console.log(header);
    for (const [label, key, mode] of rows) {
      const r = results.find((x) => x.case === c.id && x.mode === mode);
      if (!r || !(key in r.collector || key in r.otelytics)) continue;
      const col = r.collector[key];
      const ote = r.otelytics[key];
      console.log(`${`${where[mode]}: ${label}`.padEnd(72)}${cell(col, r.collector, key).padStart(11)}${cell(ote, r.otelytics, key).padStart(11)}${ratio(ote, col).padStart(21)}`);
    }
    const sustained = results.find((x) => x.case === c.id && x.mode === 'sustained');
    if (sustained && (sustained.collector.at_least === true || sustained.otelytics.at_least === true)) {
      console.log('(≥: every step of the search was clean; the system may sustain more)');
    }
  }
}
