/** Shared set-up for the privacy processor tests: a processor from a config, with its output, logs and metrics. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Payload, Processor } from '../../../src/component.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { privacyProcessorFactory } from '../../../processors/privacy/index.js';

export const TEST_KEY = 'test-key-0123456789abcdef0123456789abcdef';

export interface Harness {
  processor: Processor;
  /** Every payload passed on, in order. */
  out: Payload[];
  /** The processor's log lines, parsed. */
  logs: { level: number; msg: string; [k: string]: unknown }[];
  telemetry: Telemetry;
  /** Prometheus text of the metrics registry. */
  metrics(): Promise<string>;
}

/** A `privacy` processor from a raw config (parsed by the factory's schema; `key` defaults to {@link TEST_KEY}). */
export function makePrivacy(raw: Record<string, unknown> = {}, opts: { id?: string; pipeline?: string } = {}): Harness {
  const withKey = { ...raw, pseudonymization: { key: TEST_KEY, ...((raw.pseudonymization as object | undefined) ?? {}) } };
  const config = privacyProcessorFactory.configSchema.parse(withKey);
  const out: Payload[] = [];
  const logs: Harness['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  const telemetry = new Telemetry();
  const processor = privacyProcessorFactory.create(
    { id: opts.id ?? 'privacy', pipeline: opts.pipeline ?? 'events', logger: pino({ level: 'info' }, sink), telemetry },
    config,
    { consume: async (p: Payload) => void out.push(p) },
  );
  return { processor, out, logs, telemetry, metrics: () => telemetry.registry.metrics() };
}

/** Runs events through a processor and returns what came out (empty when nothing was passed on). */
export async function runEvents(h: Harness, events: AnalyticsEvent[]): Promise<AnalyticsEvent[]> {
  const before = h.out.length;
  await h.processor.consume({ signal: 'events', data: events });
  return h.out.slice(before).flatMap((p) => (p.signal === 'events' ? p.data : []));
}

/** An event with the given fields over a small default. */
export function ev(extra: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return {
    name: 'view_item',
    time_unix_nano: '1795288699557000000',
    insert_id: '4e9c55076f82eafb84e8321975c031ad',
    properties: {},
    context: { source: 'span', 'service.name': 'shop-web', trace_id: '3a77750a3bfd0ed5799b74f042dc5201', span_id: 'd44e52ca6b1db906' },
    ...extra,
  };
}

/** Value of a metric sample with exactly these labels (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const have = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Matches a pseudonym made with key id `keyId` (default encoding and length). */
export function pseudonymRe(keyId: string): RegExp {
  return new RegExp(`^${keyId.replace(/[.]/g, '\\.')}:[A-Za-z0-9_-]{22}$`);
}
