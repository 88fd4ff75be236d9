/**
 * Analytics events made from the real SDK fixtures by the `analytics` processor with the rules of
 * config.example.yaml, in process: the input of the exporter contract tests.
 */
import path from 'node:path';
import { EventMaker } from '../../../processors/analytics/index.js';
import { analyticsSchema } from '../../../processors/analytics/config.js';
import { readConfigFile } from '../../../src/config/sources.js';
import { decodeLogsJson, decodeTracesJson } from '../../../src/otlp/json.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { fixtureBodyPlain, fixtureManifest, projectRoot } from '../../helpers.js';

let cached: AnalyticsEvent[] | undefined;

/** Every event of the JSON fixtures (each batch once), in fixture order. A fresh deep copy per call. */
export function fixtureEvents(): AnalyticsEvent[] {
  if (!cached) {
    const tree = readConfigFile(path.join(projectRoot, 'config.example.yaml'));
    const cfg = analyticsSchema.parse((tree.processors as Record<string, unknown>).analytics);
    const maker = new EventMaker(cfg);
    const out: AnalyticsEvent[] = [];
    for (const f of fixtureManifest().filter((x) => x.path.endsWith('.json'))) {
      const text = fixtureBodyPlain(f).toString('utf8');
      if (f.signal === 'traces') maker.fromTraces(decodeTracesJson(text), out);
      else maker.fromLogs(decodeLogsJson(text), out);
    }
    cached = out;
  }
  return structuredClone(cached);
}
