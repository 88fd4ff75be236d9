/**
 * The gateway's hot path for OTLP/protobuf trace requests, in this thread and without HTTP or
 * batching: config.example.yaml's `analytics` rules on a projection of the request after the
 * validating scan, then `privacy`, then (with `filter: true`) its `filter` processor's exclusions.
 * Shared by the benchmarks that measure it alone (bench/workers.ts, bench/heap.ts).
 */
import path from 'node:path';
import { EventMaker } from '../processors/analytics/index.js';
import type { AnalyticsConfig } from '../processors/analytics/config.js';
import { compileEventMatcher, type FilterConfig } from '../processors/filter/index.js';
import { compilePrivacy, type PrivacyConfig } from '../processors/privacy/index.js';
import { resolveConfig } from '../src/config/resolve.js';
import { loadRawConfig } from '../src/config/sources.js';
import type { AnalyticsEvent } from '../src/event.js';
import { EncodedTraces, scanTracesRequest } from '../src/otlp/proto.js';
import { defaultRegistry } from '../src/registry.js';
import { Telemetry } from '../src/telemetry.js';
import { projectRoot } from '../test/helpers.js';

/** Events of one `ExportTraceServiceRequest` body, as the example's events pipeline hands them to `batch`. */
export function exampleHotPath(opts: { filter?: boolean } = {}): (bytes: Uint8Array) => AnalyticsEvent[] {
  const config = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry());
  const maker = new EventMaker(config.processors.get('analytics')!.config as AnalyticsConfig);
  const privacy = compilePrivacy(config.processors.get('privacy')!.config as PrivacyConfig, new Telemetry(), 'privacy', 'events');
  const exclude = opts.filter ? (config.processors.get('filter')!.config as FilterConfig).events.exclude : undefined;
  const dropped = exclude ? compileEventMatcher(exclude) : undefined;
  return (bytes) => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(new EncodedTraces(bytes, scanTracesRequest(bytes).spans), out);
    privacy.events.process(out);
    privacy.accounting.flush();
    if (dropped) {
      let kept = 0;
      for (const e of out) if (!dropped(e)) out[kept++] = e;
      out.length = kept;
    }
    return out;
  };
}
