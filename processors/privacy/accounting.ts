/**
 * Accounting of what `privacy` did: per (source, action) counts that go to the metrics endpoint as
 * `otelytics_privacy_hits{processor,pipeline,detector,action}`, and running per-action totals for
 * the optional per-item summary attributes. Counting a hit is one array increment; the counts are
 * handed to prom-client once per batch ({@link Accounting.flush}).
 */
import type { Telemetry } from '../../src/telemetry.js';
import { DETECTOR_NAMES, VALUE_ACTIONS, type DetectorName, type ValueAction } from './detectors.js';

/**
 * What caused a hit: a value detector, a key rule (`key`), the identity treatment (`identity`) or
 * anonymisation removing a field that is not an identity field (`anonymize`: IP, user agent, user
 * properties).
 */
export type HitSource = DetectorName | 'key' | 'identity' | 'anonymize';
export const HIT_SOURCES: readonly HitSource[] = Object.freeze([...DETECTOR_NAMES, 'key', 'identity', 'anonymize'] as HitSource[]);

/** Index of each source and action in the count arrays. */
export const SRC: Readonly<Record<HitSource, number>> = Object.freeze(Object.fromEntries(HIT_SOURCES.map((s, i) => [s, i])) as Record<HitSource, number>);
export const ACT: Readonly<Record<ValueAction, number>> = Object.freeze(Object.fromEntries(VALUE_ACTIONS.map((a, i) => [a, i])) as Record<ValueAction, number>);

/** Summary attribute names per action, in {@link VALUE_ACTIONS} order. */
export const SUMMARY_KEYS: readonly string[] = Object.freeze(['privacy.masked.count', 'privacy.dropped.count', 'privacy.pseudonymized.count', 'privacy.truncated.count']);

/** Items (events, spans, log records) dropped or anonymised, by reason. */
export type ItemReason = 'consent' | 'privacy_level';

export class Accounting {
  private readonly counts = new Float64Array(HIT_SOURCES.length * VALUE_ACTIONS.length);
  /** Hits per action since creation, in {@link VALUE_ACTIONS} order; diffed around an item for its summary. */
  readonly totals = new Float64Array(VALUE_ACTIONS.length);
  private readonly hitChildren: ({ inc(n: number): void } | undefined)[] = [];
  private readonly itemCounts = new Map<string, number>();

  constructor(
    private readonly telemetry: Telemetry,
    private readonly processor: string,
    private readonly pipeline: string,
  ) {}

  /** Counts one hit. */
  hit(source: number, action: number): void {
    this.counts[source * VALUE_ACTIONS.length + action]! += 1;
    this.totals[action]! += 1;
  }

  /** Passed to the value scanners as their `onHit`. */
  readonly onDetector = (d: DetectorName, a: ValueAction): void => this.hit(SRC[d], ACT[a]);

  /** Counts items dropped or anonymised for a reason. */
  items(signal: string, reason: ItemReason, action: 'drop' | 'anonymize', n: number): void {
    if (n === 0) return;
    const k = `${signal}\n${reason}\n${action}`;
    this.itemCounts.set(k, (this.itemCounts.get(k) ?? 0) + n);
  }

  /** Hands the counts gathered since the last flush to the metrics registry. */
  flush(): void {
    const per = VALUE_ACTIONS.length;
    for (let k = 0; k < this.counts.length; k++) {
      const n = this.counts[k]!;
      if (n === 0) continue;
      let child = this.hitChildren[k];
      if (child === undefined) {
        child = this.telemetry
          .counter('otelytics_privacy_hits', 'Values, keys and fields treated by the privacy processor, by detector (value detector, key, identity, anonymize) and action.', [
            'processor',
            'pipeline',
            'detector',
            'action',
          ])
          .labels({ processor: this.processor, pipeline: this.pipeline, detector: HIT_SOURCES[Math.floor(k / per)]!, action: VALUE_ACTIONS[k % per]! });
        this.hitChildren[k] = child;
      }
      child.inc(n);
      this.counts[k] = 0;
    }
    if (this.itemCounts.size > 0) {
      const c = this.telemetry.counter('otelytics_privacy_items', 'Events, spans and log records dropped or anonymised by the privacy processor, by reason (consent, privacy_level).', [
        'processor',
        'pipeline',
        'signal',
        'reason',
        'action',
      ]);
      for (const [k, n] of this.itemCounts) {
        const [signal, reason, action] = k.split('\n') as [string, string, string];
        c.inc({ processor: this.processor, pipeline: this.pipeline, signal, reason, action }, n);
        if (signal === 'events' && action === 'drop') this.telemetry.eventsDropped(this.processor, `privacy_${reason}`, n);
      }
      this.itemCounts.clear();
    }
  }
}
