/**
 * In-process hot path, one core: OTLP protobuf traces → analytics rules (config.example.yaml)
 * for the scaled shop traces, without any network. Prints spans/s for decode alone, for decode +
 * analytics, and for what the gateway does when the analytics processor is the first stage to
 * read spans (validating scan, then the rules on a projection of the request, no decode), and
 * the events made per second, per second of CPU time.
 *
 * Run: `npm run build && node dist/bench/pipeline.js [seconds]`.
 */
import path from 'node:path';
import { resolveConfig } from '../src/config/resolve.js';
import { loadRawConfig } from '../src/config/sources.js';
import type { AnalyticsEvent } from '../src/event.js';
import { decodeTracesRequest, EncodedTraces, scanTracesRequest } from '../src/otlp/proto.js';
import { defaultRegistry } from '../src/registry.js';
import { EventMaker } from '../processors/analytics/index.js';
import type { AnalyticsConfig } from '../processors/analytics/config.js';
import { projectRoot } from '../test/helpers.js';
import { scaledTracesBody } from './scaled.js';

const seconds = Number(process.argv[2] ?? 3);
const config = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry());
const maker = new EventMaker(config.processors.get('analytics')!.config as AnalyticsConfig);
const { body, spans } = scaledTracesBody(500, 0);

function measure(name: string, fn: () => number): { name: string; spans_per_s: number; events_per_s: number } {
  const warm = performance.now() + 300;
  while (performance.now() < warm) fn();
  let n = 0;
  let events = 0;
  // CPU time, not wall time: the figure is per busy core even on a shared machine.
  const cpu0 = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    events += fn();
    n++;
  }
  const used = process.cpuUsage(cpu0);
  const s = (used.user + used.system) / 1e6;
  const r = { name, spans_per_s: Math.round((n * spans) / s), events_per_s: Math.round(events / s) };
  console.log(`${name.padEnd(28)} ${r.spans_per_s.toLocaleString('en-US').padStart(11)} spans/s ${r.events_per_s.toLocaleString('en-US').padStart(11)} events/s`);
  return r;
}

const results = [
  measure('decode', () => (decodeTracesRequest(body), 0)),
  measure('decode + analytics', () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(decodeTracesRequest(body), out);
    return out.length;
  }),
  measure('scan + projected analytics', () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), out);
    return out.length;
  }),
];
console.log('BENCH ' + JSON.stringify({ name: 'pipeline', spans_per_request: spans, results }));
