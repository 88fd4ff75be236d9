/**
 * Log records with no Timestamp, as the OpenTelemetry Java and Go SDKs send them when the app gives
 * no time (only ObservedTimestamp, which the SDK fills): the Java shop's wishlist.item_added and the
 * Go shop's search.saved in test/captures/otlp. Each becomes an event at its observed time, never
 * at 0 (1970): from every encoding of the capture (the SDK's and the collector's), by
 * logsDataToEvents, by the analytics processor with config.example.yaml's settings, and through a
 * gateway run from config.example.yaml to its file exporter.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logsDataToEvents, type AnalyticsEvent } from '../../src/event.js';
import { decodeLogsJson } from '../../src/otlp/json.js';
import { decodeLogsRequest } from '../../src/otlp/proto.js';
import type { LogRecord, LogsData } from '../../src/pdata.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { loadRawConfig } from '../../src/config/sources.js';
import { defaultRegistry } from '../../src/registry.js';
import { EventMaker } from '../../processors/analytics/index.js';
import type { AnalyticsConfig } from '../../processors/analytics/config.js';
import { captureManifest, fixtureBodyPlain, postFixture, projectRoot, readJsonLines, startGateway, type FixtureFile, type RunningGateway } from '../helpers.js';

/** Each SDK's capture, the event its shop emits without a time, and the first second of its session. */
const UNTIMED = [
  { capture: 'java-logs-01', event: 'wishlist.item_added', session: /^2026-11-25T10:05:00\./ },
  { capture: 'go-logs-01', event: 'search.saved', session: /^2026-11-25T10:10:00\./ },
] as const;

const manifest = captureManifest();
const logs = (f: FixtureFile): LogsData =>
  f.contentType === 'application/json' ? decodeLogsJson(fixtureBodyPlain(f).toString('utf8')) : decodeLogsRequest(fixtureBodyPlain(f));
const recordsOf = (d: LogsData): LogRecord[] => d.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
const untimed = (r: LogRecord) => !r.timeUnixNano || r.timeUnixNano === '0';
/** Nanoseconds since the epoch as an ISO date (to the millisecond). */
const iso = (nanos: string) => new Date(Number(BigInt(nanos) / 1_000_000n)).toISOString();

const exampleAnalytics = (): AnalyticsConfig =>
  resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry()).processors.get('analytics')!.config as AnalyticsConfig;

describe('log records without a Timestamp (Java and Go SDKs) become events at their observed time', () => {
  for (const { capture, event, session } of UNTIMED) {
    const files = manifest.filter((f) => f.capture === capture);

    it(`${capture}: every encoding (SDK and collector) has one record without a Timestamp, ${event}, with an ObservedTimestamp`, () => {
      assert.equal(files.length, 4);
      assert.ok(files.some((f) => f.source === 'collector'), 'the collector re-encodings are among them');
      for (const f of files) {
        const records = recordsOf(logs(f));
        const without = records.filter(untimed);
        assert.deepEqual(without.map((r) => r.eventName), [event], f.path);
        assert.match(iso(without[0]!.observedTimeUnixNano), session, f.path);
        for (const r of records.filter((x) => !untimed(x))) assert.equal(r.observedTimeUnixNano, r.timeUnixNano, `${f.path}: the timed records' two times agree`);
      }
    });

    it(`${capture}: logsDataToEvents and the analytics processor (config.example.yaml's settings) give ${event} its observed time, every event a time of the session`, () => {
      const maker = new EventMaker(exampleAnalytics());
      for (const f of files) {
        const data = logs(f);
        const observed = recordsOf(data).find(untimed)!.observedTimeUnixNano;
        const processed: AnalyticsEvent[] = [];
        maker.fromLogs(data, processed);
        for (const [how, events] of [['logsDataToEvents', logsDataToEvents(data)], ['analytics', processed]] as const) {
          const e = events.find((x) => x.name === event);
          assert.ok(e, `${f.path} (${how}): no ${event} event`);
          assert.equal(e.time_unix_nano, observed, `${f.path} (${how})`);
          for (const x of events) assert.match(iso(x.time_unix_nano), session, `${f.path} (${how}): ${x.name}`);
        }
      }
    });
  }
});

describe('an untimed record through the gateway as users run it (config.example.yaml, file exporter)', () => {
  let gw: RunningGateway;
  let events: AnalyticsEvent[] = [];
  const bodies = UNTIMED.map(({ capture, event }) => ({ event, file: manifest.find((f) => f.capture === capture && f.path.endsWith('.pb'))! }));

  before(async () => {
    gw = await startGateway();
    for (const { file } of bodies) {
      const r = await postFixture(gw.ports.http, file);
      assert.equal(r.status, 200, `${file.path}: ${r.status} ${await r.text()}`);
    }
    assert.equal(await gw.stop(), 0, gw.output());
    events = readJsonLines<AnalyticsEvent>(path.join(gw.dir, 'events.jsonl'));
  });

  after(() => gw?.child.exitCode === null && gw.child.kill('SIGKILL'));

  for (const { capture, event, session } of UNTIMED) {
    it(`${capture}.pb posted to /v1/logs: ${event} is written with the record's observed time, not 1970`, () => {
      const file = bodies.find((b) => b.event === event)!.file;
      const observed = recordsOf(logs(file)).find(untimed)!.observedTimeUnixNano;
      const written = events.filter((e) => e.name === event);
      assert.equal(written.length, 1, `${event} events in ${events.map((e) => e.name).join(', ')}`);
      assert.equal(written[0]!.time_unix_nano, observed);
      assert.match(iso(written[0]!.time_unix_nano), session);
    });
  }
});
