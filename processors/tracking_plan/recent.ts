/**
 * The recent violations of a gateway's `tracking_plan` processors, for the status page
 * (`GET /api/violations`): a ring buffer of the last {@link RECENT_VIOLATIONS} events that broke
 * the plan, with what was done to them. Kept per gateway (per `Telemetry`), written only for
 * events with violations. Holds no property values: names, pointers and messages only.
 */
import type { Telemetry } from '../../src/telemetry.js';
import type { Violation, ViolationKind } from './plan.js';

export const RECENT_VIOLATIONS = 200;

/** What happened to an event that broke the plan. */
export type Outcome = 'kept' | 'dropped' | 'routed';

export interface RecentViolation {
  /** When it was checked, ISO 8601. */
  time: string;
  processor: string;
  pipeline: string;
  event_name: string;
  insert_id: string;
  outcome: Outcome;
  violations: Violation[];
}

export class ViolationLog {
  private readonly ring: (RecentViolation | undefined)[];
  private next = 0;
  /** Violations seen since start, by kind. */
  readonly totals: Record<ViolationKind, number> = { unplanned_event: 0, required_missing: 0, datatype_mismatch: 0, additional_property: 0, value_out_of_range: 0 };

  constructor(readonly size = RECENT_VIOLATIONS) {
    this.ring = new Array<RecentViolation | undefined>(size);
  }

  add(v: RecentViolation): void {
    this.ring[this.next] = v;
    this.next = (this.next + 1) % this.size;
    for (const x of v.violations) this.totals[x.kind]++;
  }

  /** The most recent first, at most `limit`. */
  recent(limit = this.size): RecentViolation[] {
    const out: RecentViolation[] = [];
    for (let i = 1; i <= this.size && out.length < limit; i++) {
      const v = this.ring[(this.next - i + this.size) % this.size];
      if (!v) break;
      out.push(v);
    }
    return out;
  }
}

const logs = new WeakMap<Telemetry, ViolationLog>();

/** The violation log of the gateway that owns `telemetry`. */
export function violationLog(telemetry: Telemetry): ViolationLog {
  let log = logs.get(telemetry);
  if (!log) logs.set(telemetry, (log = new ViolationLog()));
  return log;
}

/** Whether a `tracking_plan` processor of this gateway has recorded anything (or exists: see {@link violationLog}). */
export function hasViolationLog(telemetry: Telemetry): boolean {
  return logs.has(telemetry);
}
