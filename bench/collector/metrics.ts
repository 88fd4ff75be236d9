/**
 * The self-telemetry both systems expose with the same names (Prometheus text on
 * `http://127.0.0.1:<metricsPort>/metrics`): what the receiver accepted, and what was lost on the
 * way (refused by the receiver, failed to send or to enqueue by an exporter), summed over every
 * label set and item type (spans, or for otelytics' events pipeline, log records).
 */
import type { SystemUnderTest } from './systems.js';

/** Every sample of the scrape, summed per metric name (labels dropped). */
export async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)?.[0];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (name && Number.isFinite(value)) out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}

const sum = (m: Map<string, number>, prefixes: readonly string[]): number => [...m].reduce((n, [k, v]) => (prefixes.some((p) => k.startsWith(p)) ? n + v : n), 0);

/** What the figures need from one scrape. */
export interface Counters {
  /** `otelcol_receiver_accepted_spans`. */
  accepted: number;
  /** Items refused by a receiver or that an exporter failed to send or enqueue. */
  lost: number;
  /** Requests (batches) waiting in exporters' sending queues. */
  queued: number;
}

export async function counters(sut: SystemUnderTest): Promise<Counters> {
  if (sut.metricsPort === undefined) throw new Error(`${sut.name} runs without metrics`);
  const m = await scrape(sut.metricsPort);
  return {
    accepted: sum(m, ['otelcol_receiver_accepted_spans']),
    lost: sum(m, ['otelcol_receiver_refused_', 'otelcol_exporter_send_failed_', 'otelcol_exporter_enqueue_failed_']),
    queued: sum(m, ['otelcol_exporter_queue_size']),
  };
}

/** Waits up to `ms` for the sending queues to be empty; true when they are. */
export async function drained(sut: SystemUnderTest, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  for (;;) {
    if ((await counters(sut)).queued === 0) return true;
    if (performance.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
