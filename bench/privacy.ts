/**
 * Throughput of the `privacy` processor on one core, with config.example.yaml (all detectors on,
 * identity pseudonymised, consent required), for the events the example's `analytics` rules make
 * of the shop fixtures (the JS SDK shop's OTLP/JSON requests in `test/captures/otlp`, traces and logs):
 *
 * 1. `privacy` alone: events/s through `privacy` (events cloned outside the timed part, since the
 *    processor changes them in place), with consent as the fixtures send it (most events
 *    anonymised), and with consent not required (every identity pseudonymised);
 * 2. the pipeline: `analytics` alone vs `analytics → privacy`, from decoded requests, and the same
 *    from the protobuf bodies (decode included), as events/s; the last column is the share of
 *    throughput kept with `privacy` in the pipeline.
 *
 * Rates are per second of CPU time of this process (not wall time), so a busy shared machine
 * distorts them less. The last line is `BENCH {...}` for `npm run bench`.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/privacy.js [--seconds 3]`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EventMaker } from '../processors/analytics/index.js';
import type { AnalyticsConfig } from '../processors/analytics/config.js';
import { compilePrivacy, type PrivacyConfig } from '../processors/privacy/index.js';
import { resolveConfig } from '../src/config/resolve.js';
import { loadRawConfig } from '../src/config/sources.js';
import type { AnalyticsEvent } from '../src/event.js';
import { decodeLogsJson, decodeTracesJson } from '../src/otlp/json.js';
import { decodeLogsRequest, decodeTracesRequest } from '../src/otlp/proto.js';
import type { LogsData, TracesData } from '../src/pdata.js';
import { defaultRegistry } from '../src/registry.js';
import { Telemetry } from '../src/telemetry.js';
import { fixtureManifest, fixturesDir, projectRoot } from '../test/helpers.js';

const { values, positionals } = parseArgs({ options: { seconds: { type: 'string' } }, allowPositionals: true, strict: false });
const seconds = Number(values.seconds ?? positionals[0] ?? 3);

const config = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry());
const analyticsCfg = config.processors.get('analytics')!.config as AnalyticsConfig;
const privacyCfg = config.processors.get('privacy')!.config as PrivacyConfig;
const maker = new EventMaker(analyticsCfg);

type Request = { signal: 'traces'; data: TracesData; pb: Buffer } | { signal: 'logs'; data: LogsData; pb: Buffer };
const requests: Request[] = [];
for (const f of fixtureManifest()) {
  if (f.contentEncoding !== 'identity' || !f.path.endsWith('.json')) continue;
  const text = fs.readFileSync(path.join(fixturesDir, f.path), 'utf8');
  const pb = fs.readFileSync(path.join(fixturesDir, f.path.replace(/\.json$/, '.pb')));
  requests.push(f.signal === 'traces' ? { signal: 'traces', data: decodeTracesJson(text), pb } : { signal: 'logs', data: decodeLogsJson(text), pb });
}

function makeEvents(r: Request, out: AnalyticsEvent[]): void {
  if (r.signal === 'traces') maker.fromTraces(r.data, out);
  else maker.fromLogs(r.data, out);
}
const batches = requests.map((r) => {
  const out: AnalyticsEvent[] = [];
  makeEvents(r, out);
  return out;
});
const eventsPerPass = batches.reduce((n, b) => n + b.length, 0);
if (eventsPerPass === 0) throw new Error(`no events made from the fixtures in ${fixturesDir}`);

function cpuSeconds(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** Runs `pass` (returning events handled and CPU seconds to exclude) for ~`seconds` of CPU; events per CPU second. */
function measure(pass: () => { events: number; excluded: number }): number {
  const warm = performance.now() + 300;
  while (performance.now() < warm) pass();
  let events = 0;
  let excluded = 0;
  const start = process.cpuUsage();
  while (cpuSeconds(start) - excluded < seconds) {
    const r = pass();
    events += r.events;
    excluded += r.excluded;
  }
  return events / (cpuSeconds(start) - excluded);
}

/** `privacy` alone: clones are made outside the timed part. */
function privacyAlone(cfg: PrivacyConfig): number {
  const compiled = compilePrivacy(cfg, new Telemetry(), 'privacy', 'events');
  const rounds = 20;
  return measure(() => {
    const c0 = process.cpuUsage();
    const copies = Array.from({ length: rounds }, () => structuredClone(batches));
    const excluded = cpuSeconds(c0);
    let events = 0;
    for (const copy of copies) {
      for (const b of copy) {
        events += b.length;
        compiled.events.process(b);
        compiled.accounting.flush();
      }
    }
    return { events, excluded };
  });
}

/** Events/s out of `analytics` (and `privacy` when given), from decoded requests or protobuf bodies. */
function pipeline(withPrivacy: boolean, decode: boolean): number {
  const compiled = withPrivacy ? compilePrivacy(privacyCfg, new Telemetry(), 'privacy', 'events') : undefined;
  return measure(() => {
    let events = 0;
    for (const r of requests) {
      const out: AnalyticsEvent[] = [];
      if (decode) makeEvents(r.signal === 'traces' ? { ...r, data: decodeTracesRequest(r.pb) } : { ...r, data: decodeLogsRequest(r.pb) }, out);
      else makeEvents(r, out);
      if (compiled !== undefined) {
        compiled.events.process(out);
        compiled.accounting.flush();
      }
      events += out.length;
    }
    return { events, excluded: 0 };
  });
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(11);
console.log(`privacy benchmark: ${requests.length} fixture requests → ${eventsPerPass} events per pass (config.example.yaml, all detectors on), ${seconds} s CPU per case; node ${process.version}`);

const alone = privacyAlone(privacyCfg);
console.log(`privacy alone, consent as sent (anonymise without)  ${fmt(alone)} events/s`);
const aloneAll = privacyAlone({ ...privacyCfg, consent: { ...privacyCfg.consent, required: false } });
console.log(`privacy alone, every identity pseudonymised         ${fmt(aloneAll)} events/s`);

const results: Record<string, number> = { privacy_alone_events_per_s: Math.round(alone), privacy_alone_all_pseudonymised_events_per_s: Math.round(aloneAll) };
for (const decode of [false, true]) {
  const a = pipeline(false, decode);
  const ap = pipeline(true, decode);
  const label = decode ? 'protobuf decode → analytics' : 'analytics';
  console.log(`${(label + ' alone').padEnd(52)} ${fmt(a)} events/s`);
  console.log(`${(label + ' → privacy').padEnd(52)} ${fmt(ap)} events/s   (${((ap / a) * 100).toFixed(0)}% of the throughput kept)`);
  const k = decode ? 'decode_analytics' : 'analytics';
  results[`${k}_events_per_s`] = Math.round(a);
  results[`${k}_privacy_events_per_s`] = Math.round(ap);
}
console.log('BENCH ' + JSON.stringify({ name: 'privacy', events_per_pass: eventsPerPass, seconds, results }));
