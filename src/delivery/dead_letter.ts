/**
 * Marking of dead letters: what an exporter's destination refused for good, or what could not be
 * delivered within `max_elapsed_time`, goes to the exporter named by `dead_letter` with the
 * reason attached, so it can be inspected and replayed:
 * - events get the event model's `dead_letter: { exporter, reason, time }` field;
 * - spans, log records and metrics (OTLP) get resource attributes `otelytics.dead_letter.exporter`,
 *   `otelytics.dead_letter.reason` and `otelytics.dead_letter.time` (metrics, carried opaquely as
 *   their protobuf encoding, are passed unmarked).
 *
 * The original payload is never changed (other exporters may share it): marked copies are made.
 */
import type { Payload } from '../component.js';
import { clip } from '../errors.js';
import type { KeyValue, Resource } from '../pdata.js';

/** Why and where a payload became a dead letter. `time` is ISO 8601. */
export interface DeadLetterMark {
  exporter: string;
  reason: string;
  time: string;
}

/** Resource attribute keys used to mark OTLP dead letters. */
export const DEAD_LETTER_ATTR = {
  exporter: 'otelytics.dead_letter.exporter',
  reason: 'otelytics.dead_letter.reason',
  time: 'otelytics.dead_letter.time',
} as const;

/** Longest reason kept, characters (a destination's error body can be long). */
export const MAX_REASON_LENGTH = 1024;

export function deadLetterMark(exporter: string, reason: string, now = new Date()): DeadLetterMark {
  return { exporter, reason: clip(reason, MAX_REASON_LENGTH), time: now.toISOString() };
}

function markResource(r: Resource, m: DeadLetterMark): Resource {
  const keys = new Set<string>(Object.values(DEAD_LETTER_ATTR));
  const attributes: KeyValue[] = r.attributes.filter((kv) => !keys.has(kv.key));
  attributes.push(
    { key: DEAD_LETTER_ATTR.exporter, value: { stringValue: m.exporter } },
    { key: DEAD_LETTER_ATTR.reason, value: { stringValue: m.reason } },
    { key: DEAD_LETTER_ATTR.time, value: { stringValue: m.time } },
  );
  return { ...r, attributes };
}

/** A copy of the payload carrying the mark (shallow where the content is not changed). */
export function markDeadLetter(p: Payload, m: DeadLetterMark): Payload {
  switch (p.signal) {
    case 'events':
      return { signal: 'events', data: p.data.map((e) => ({ ...e, dead_letter: { ...m } })) };
    case 'traces':
      return { signal: 'traces', data: { resourceSpans: p.data.resourceSpans.map((rs) => ({ ...rs, resource: markResource(rs.resource, m) })) } };
    case 'logs':
      return { signal: 'logs', data: { resourceLogs: p.data.resourceLogs.map((rl) => ({ ...rl, resource: markResource(rl.resource, m) })) } };
    case 'metrics':
      return p;
  }
}
