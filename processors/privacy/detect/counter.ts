/** Counts of value-detector hits per detector and action (e.g. for the metrics endpoint). */
import { DETECTOR_NAMES, VALUE_ACTIONS, type DetectorName, type ValueAction } from './types.js';

/** Counts of replaced matches per detector and action, for the metrics endpoint. */
export interface HitCounter {
  /** Pass as {@link ValueScannerOptions.onHit}. */
  readonly onHit: (detector: DetectorName, action: ValueAction) => void;
  /** Count for one detector and action since creation. */
  get(detector: DetectorName, action: ValueAction): number;
  /** Non-zero counts. */
  entries(): { detector: DetectorName; action: ValueAction; count: number }[];
}

/** Creates a {@link HitCounter} (plain array of counters; no allocation per hit). */
export function createHitCounter(): HitCounter {
  const counts = new Float64Array(DETECTOR_NAMES.length * VALUE_ACTIONS.length);
  const slot = (d: DetectorName, a: ValueAction): number => DETECTOR_NAMES.indexOf(d) * VALUE_ACTIONS.length + VALUE_ACTIONS.indexOf(a);
  return {
    onHit: (d, a) => {
      counts[slot(d, a)] += 1;
    },
    get: (d, a) => counts[slot(d, a)]!,
    entries: () => {
      const out: { detector: DetectorName; action: ValueAction; count: number }[] = [];
      for (let k = 0; k < counts.length; k++) {
        if (counts[k]! > 0) {
          out.push({ detector: DETECTOR_NAMES[Math.floor(k / VALUE_ACTIONS.length)]!, action: VALUE_ACTIONS[k % VALUE_ACTIONS.length]!, count: counts[k]! });
        }
      }
      return out;
    },
  };
}