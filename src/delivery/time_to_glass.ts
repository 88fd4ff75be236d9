/**
 * Time to glass, `otelytics_event_delivery_latency_seconds{exporter}`: what the exporter helper
 * observes for the events a destination acknowledged (src/exporterhelper.ts).
 */
import type client from 'prom-client';
import type { Payload } from '../component.js';
import type { PartialFailure } from '../errors.js';
import type { AnalyticsEvent } from '../event.js';
import { nanosStringToMillis } from '../telemetry.js';

/**
 * Per event, seconds from its source time (`time_unix_nano`: the span's start or the log record's
 * timestamp) to `ackedAt` (milliseconds since the epoch), into `latency`; a source time in the
 * future counts as 0. Events with no source time (0) and dead letters (delivered to a dead-letter
 * route, not their destination) are not observed.
 */
export function observeDelivered(latency: client.Histogram.Internal<string>, events: readonly AnalyticsEvent[], ackedAt: number): void {
  for (const e of events) {
    if (e.dead_letter) continue;
    const at = nanosStringToMillis(e.time_unix_nano);
    if (at !== undefined) latency.observe(ackedAt > at ? (ackedAt - at) / 1000 : 0);
  }
}

/**
 * The events of `sent` a partial failure did not reject or leave for a retry (matched by object,
 * else by insert_id), at most as many as the failure says were accepted.
 */
export function acceptedEvents(sent: readonly AnalyticsEvent[], err: PartialFailure): AnalyticsEvent[] {
  const notAccepted = new Set<AnalyticsEvent>();
  const ids = new Set<string>();
  const add = (v: unknown) => {
    const p = v as Payload | undefined;
    if (p?.signal !== 'events' || !Array.isArray(p.data)) return;
    for (const e of p.data) {
      notAccepted.add(e);
      if (e.insert_id) ids.add(e.insert_id);
    }
  };
  for (const r of err.rejected) add(r.payload);
  add(err.retry);
  const expected = sent.length - notAccepted.size;
  const out: AnalyticsEvent[] = [];
  for (const e of sent) {
    if (out.length >= expected) break;
    if (!notAccepted.has(e) && !(e.insert_id && ids.has(e.insert_id))) out.push(e);
  }
  return out;
}
