/**
 * The posthog exporter as the gateway runs it (factory, config schema, exporter helper with its
 * queue, retries and dead-letter route) against the local PostHog server in storms of 429, 5xx,
 * resets and slow answers: every valid event stored exactly once by its de-duplication key (resends
 * of requests PostHog took but answered too late are duplicates by uuid, never a second row), the
 * invalid ones in the dead-letter file with their reason. Also config errors with their path.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { posthogExporterFactory } from '../../../exporters/posthog/index.js';
import { insertIdUuid } from '../../../exporters/posthog/mapping.js';
import { startPosthogServer, type FakePosthog } from '../../fakes/posthog-server.js';
import { readJsonLines } from '../../helpers.js';
import { errorsOf } from '../../config/errors.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';
import { standInWithDir, withDeadLetter } from '../upload-scenarios.js';

const KEY = 'phc_fault_key';
const fast = { initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '20s' };

describe('posthog exporter with the exporter helper, under faults', () => {
  let fake: FakePosthog;
  let dir: string;
  standInWithDir(() => startPosthogServer({ apiKeys: [KEY] }), 'otelytics-posthog-', (f, d) => {
    fake = f;
    dir = d;
  });

  const running = (cfg: Record<string, unknown>, deadFile: string) => withDeadLetter(posthogExporterFactory, { api_key: KEY, endpoint: fake.url, retry_on_failure: fast, distinct_id: ['user_id', 'device_id', 'session_id', 'insert_id'], ...cfg }, deadFile);

  /** The fixture events, several copies under new insert_ids, two of them invalid for PostHog. */
  function workload(copies: number): { events: AnalyticsEvent[]; invalid: Set<string> } {
    const events: AnalyticsEvent[] = [];
    for (let c = 0; c < copies; c++) for (const e of fixtureEvents()) events.push({ ...e, insert_id: `${e.insert_id}#${c}` });
    events[5]!.name = '';
    events[events.length - 3]!.name = '';
    return { events, invalid: new Set([events[5]!.insert_id, events[events.length - 3]!.insert_id]) };
  }

  function check(events: AnalyticsEvent[], invalid: Set<string>, deadFile: string) {
    const dead = readJsonLines<AnalyticsEvent>(deadFile);
    assert.deepEqual(new Set(dead.map((e) => e.insert_id)), invalid, 'the invalid events, and only they, are dead-lettered');
    assert.equal(dead.length, invalid.size, 'each dead letter once');
    for (const e of dead) {
      assert.equal(e.dead_letter!.exporter, 'posthog');
      assert.match(e.dead_letter!.reason, /posthog 400: event submitted without an event name/);
    }
    const valid = events.filter((e) => !invalid.has(e.insert_id));
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(valid.map((e) => insertIdUuid(e.insert_id))), 'every valid event stored');
    assert.equal(fake.ingested.size, valid.length, 'each stored once');
    assert.equal(fake.conflicts, 0, 'a resend always has the same de-duplication key');
  }

  it('a storm of 429 (Retry-After), 5xx and resets: every valid event once, the invalid ones dead-lettered', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-storm.jsonl');
    const x = await running({ sending_queue: { num_consumers: 2 }, max_events_per_request: 7 }, deadFile);
    const { events, invalid } = workload(4);
    for (let i = 0; i < 6; i++) {
      fake.inject({ status: 429, retryAfter: '0' });
      fake.inject({ status: 503 });
      fake.inject({ delayMillis: 0 });
      fake.inject({ status: 502 });
      fake.inject({ reset: true });
      fake.inject({ status: 500 });
    }
    for (let i = 0; i < events.length; i += 40) await x.exporter.consume({ signal: 'events', data: events.slice(i, i + 40) });
    await x.stop();
    check(events, invalid, deadFile);
    const statuses = new Set(fake.requests.map((r) => r.status));
    for (const s of [429, 503, 502, 500, -1, 400, 200]) assert.ok(statuses.has(s), `saw ${s}`);
    const metrics = await x.telemetry.registry.metrics();
    assert.match(metrics, /otelytics_events_dead_lettered\{exporter="posthog",dead_letter="file\/dead"\} 2\b/);
    assert.match(metrics, /otelytics_exporter_send_retries\{[^}]*exporter="posthog"[^}]*\} [1-9]/);
  });

  it('slow answers past the per-request timeout: the events PostHog took and sent again are duplicates by uuid, none stored twice', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-slow.jsonl');
    const x = await running({ sending_queue: { enabled: false }, timeout: '100ms', max_events_per_request: 10 }, deadFile);
    const { events, invalid } = workload(2);
    fake.options.answerDelayMillis = 250;
    const slowFor = setTimeout(() => (fake.options.answerDelayMillis = 0), 700);
    try {
      await x.exporter.consume({ signal: 'events', data: events });
    } finally {
      clearTimeout(slowFor);
      fake.options.answerDelayMillis = 0;
    }
    await x.stop();
    check(events, invalid, deadFile);
    assert.ok(fake.duplicates > 0, 'some requests were taken, answered too late and sent again');
  });

  it('config errors name their path', () => {
    const base = 'receivers: {otlp: {}}\nservice: {pipelines: {events: {receivers: [otlp], processors: [], exporters: [posthog]}}}\n';
    const errs = (ph: string) => errorsOf(`exporters:\n  posthog: ${ph}\n${base}`).join('\n');
    assert.match(errs('{}'), /exporters::posthog::api_key: /);
    assert.match(errs('{api_key: phc_x, endpoint: "ftp://x"}'), /exporters::posthog::endpoint: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(errs('{api_key: phc_x, region: ap}'), /exporters::posthog::region/);
    assert.match(errs('{api_key: phc_x, distinct_id: [props.x]}'), /exporters::posthog::distinct_id: unknown field path "props.x"/);
    assert.match(errs('{api_key: phc_x, max_events_per_request: 10001}'), /exporters::posthog::max_events_per_request/);
    assert.match(errs('{api_key: "phc x"}'), /exporters::posthog::api_key: must not contain whitespace/);
    assert.match(errs('{api_key: phc_x, batch_size: 5}'), /exporters::posthog::batch_size: unknown key/);
    assert.deepEqual(errorsOf(`exporters:\n  posthog: {api_key: phc_x, region: eu}\n${base}`).filter((m) => m.startsWith('exporters::')), []);
  });
});
