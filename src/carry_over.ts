/**
 * Counters summed over the workers of a gateway (`service::workers` N > 1) that do not go down when
 * a worker is forked again.
 *
 * A worker forked again (src/supervisor.ts) starts its counters from 0. Summed as they are read,
 * the gateway's counters would go down by what the dead worker had counted: on the status page
 * the totals would shrink, and Prometheus would take the decrease for a reset of the whole series,
 * so `rate()` and `increase()` would count the other workers' totals again. The supervisor keeps
 * instead, per worker slot (index), the values it last read of each counter, and carries them over
 * to the slot's next worker: a slot's counters are what its current worker counted plus what its
 * previous workers had counted when last read ({@link CarryOver}).
 *
 * - A reading is tagged with the incarnation of the slot's worker that gave it (the supervisor
 *   numbers the forks of a slot). The first reading of a new incarnation carries over the slot's
 *   totals as they were; a late reading of an older incarnation changes nothing.
 * - Within an incarnation a value never goes down either (two readings answered out of order keep
 *   the higher).
 * - A slot whose worker does not answer (dead, starting, not answering in time) still counts, with
 *   its totals as last read: the sum does not dip while a worker restarts.
 * - Only counters are carried: Prometheus counters and the `_bucket`, `_sum` and `_count` series of
 *   histograms (and `_sum`, `_count` of summaries), by the metric's type as the worker's registry
 *   gives it ({@link MetricsCarryOver}); gauges (queue sizes, memory, lag, uptime) are the current
 *   worker's only, and absent while it does not answer. The status page carries its totals the
 *   same way (src/extensions/status/workers.ts).
 *
 * The bound: what a worker counted after the supervisor's last reading of it (the last scrape of
 * the metrics endpoint, the last `/api/stats` or `/api/violations` request) and before it died is
 * not counted, as a single process's counts since the last scrape die with it. Nothing is read
 * between requests.
 */
import type client from 'prom-client';

/** A value counted since its process started, with what describes it. */
export interface Counted {
  value: number;
}

interface SlotTotals<T extends Counted> {
  /** The newest incarnation read. */
  incarnation: number;
  /** What the slot's previous incarnations counted, as last read. */
  carried: ReadonlyMap<string, T>;
  /** `carried` plus the newest incarnation's highest reading, by key. */
  totals: Map<string, T>;
}

/** The counters of each worker slot, carried over from one incarnation of the slot to the next. */
export class CarryOver<T extends Counted> {
  private readonly slots = new Map<number, SlotTotals<T>>();

  /**
   * Takes a reading of the counters (by key) of incarnation `incarnation` of slot `slot`'s worker,
   * and returns the slot's totals: the reading plus what the slot's previous incarnations counted.
   * A reading of an incarnation older than one read already leaves them as they were.
   */
  read(slot: number, incarnation: number, reading: ReadonlyMap<string, T>): ReadonlyMap<string, T> {
    let s = this.slots.get(slot);
    if (!s) this.slots.set(slot, (s = { incarnation, carried: new Map(), totals: new Map() }));
    if (incarnation < s.incarnation) return s.totals;
    if (incarnation > s.incarnation) {
      s.incarnation = incarnation;
      s.carried = new Map(s.totals);
    }
    for (const [key, v] of reading) {
      const value = (s.carried.get(key)?.value ?? 0) + v.value;
      const had = s.totals.get(key);
      if (!had || value > had.value) s.totals.set(key, { ...v, value });
    }
    return s.totals;
  }

  /** Slot `slot`'s totals as last read (for a worker that does not answer now); empty before any reading. */
  last(slot: number): ReadonlyMap<string, T> {
    return this.slots.get(slot)?.totals ?? new Map();
  }

  /** The slots read so far. */
  known(): number[] {
    return [...this.slots.keys()];
  }

  /**
   * Takes the readings of the slots that answered ({@link read}) and returns the totals of every
   * slot read so far, by slot in ascending order: those that did not answer now with their totals
   * as last read.
   */
  readAll(readings: readonly { slot: number; incarnation: number; reading: ReadonlyMap<string, T> }[]): Map<number, ReadonlyMap<string, T>> {
    for (const r of readings) this.read(r.slot, r.incarnation, r.reading);
    return new Map(this.known().sort((a, b) => a - b).map((slot) => [slot, this.last(slot)]));
  }
}

type Metric = client.MetricObjectWithValues<client.MetricValue<string>>;
type Value = client.MetricValue<string> & { metricName?: string };

/** One counter series of a metric: its value, labels and the metric it belongs to. */
interface CounterSample extends Counted {
  labels: Value['labels'];
  metricName?: string;
  metric: Omit<Metric, 'values'>;
}

/**
 * Whether `v`, a value of `m` (as `getMetricsAsJSON` gives it), counts: every value of a counter
 * and of a histogram (buckets, sum, count), a summary's sum and count (not its quantiles).
 */
export function isCounterValue(m: Pick<Metric, 'name' | 'type'>, v: Value): boolean {
  // prom-client's JSON holds the type as its name ('counter'), whatever its typings say.
  switch (String(m.type)) {
    case 'counter':
    case 'histogram':
      return true;
    case 'summary':
      return v.metricName === `${m.name}_sum` || v.metricName === `${m.name}_count`;
    default:
      return false;
  }
}

function seriesKey(m: Pick<Metric, 'name'>, v: Value): string {
  const labels = Object.keys(v.labels)
    .sort()
    .map((k) => `${k}=${String(v.labels[k])}`);
  return [v.metricName ?? m.name, ...labels].join('\0');
}

/** The workers' metrics (`getMetricsAsJSON` of each) with their counters carried over from one incarnation of a slot to the next. */
export class MetricsCarryOver {
  private readonly counters = new CarryOver<CounterSample>();

  /**
   * Slot `slot`'s metrics to sum: `reading` (from incarnation `incarnation` of its worker) with each
   * counter's value carried over, plus the carried counters this worker has not counted yet.
   * Without a reading (the worker did not answer): the slot's counters as last read, no gauges.
   */
  metrics(slot: number, incarnation: number, reading: Metric[] | undefined): Metric[] {
    if (!reading) return regroup([], this.counters.last(slot));
    const samples = new Map<string, CounterSample>();
    for (const m of reading) {
      const { values, ...metric } = m;
      for (const v of values as Value[]) {
        if (isCounterValue(m, v)) samples.set(seriesKey(m, v), { value: v.value, labels: v.labels, ...(v.metricName ? { metricName: v.metricName } : {}), metric });
      }
    }
    return regroup(reading, this.counters.read(slot, incarnation, samples));
  }
}

/** `reading` with its counter values taken from `totals`, and the metrics and series only `totals` has added. */
function regroup(reading: Metric[], totals: ReadonlyMap<string, CounterSample>): Metric[] {
  const out = new Map<string, Metric>();
  const used = new Set<string>();
  for (const m of reading) {
    const values: Value[] = [];
    for (const v of m.values as Value[]) {
      if (!isCounterValue(m, v)) {
        values.push(v);
        continue;
      }
      const key = seriesKey(m, v);
      used.add(key);
      values.push({ ...v, value: totals.get(key)?.value ?? v.value });
    }
    out.set(m.name, { ...m, values });
  }
  for (const [key, s] of totals) {
    if (used.has(key)) continue;
    let m = out.get(s.metric.name);
    if (!m) out.set(s.metric.name, (m = { ...s.metric, values: [] }));
    (m.values as Value[]).push({ value: s.value, labels: s.labels, ...(s.metricName ? { metricName: s.metricName } : {}) });
  }
  return [...out.values()];
}
