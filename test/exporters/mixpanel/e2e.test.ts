/**
 * The mixpanel exporter as the gateway runs it (factory, config schema, exporter helper with its
 * queue, retries and dead-letter route into a file exporter) against the local Mixpanel server
 * under faults: storms of 429 and 5xx, connection resets, slow answers that outlast the per-request
 * timeout. Every valid event ends up ingested once by its de-duplication key ($insert_id), none is
 * accepted twice, and the events Mixpanel refuses are in the dead-letter file with the reason.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { mixpanelExporterFactory } from '../../../exporters/mixpanel/index.js';
import { startMixpanelServer, type FakeMixpanel } from '../../fakes/mixpanel-server.js';
import { readJsonLines } from '../../helpers.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';
import { standInWithDir, withDeadLetter } from '../upload-scenarios.js';

const TOKEN = 'e2e-token-5c1d';
const fast = { initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '30s' };

describe('mixpanel exporter under faults, with the exporter helper', () => {
  let fake: FakeMixpanel;
  let dir: string;
  standInWithDir(() => startMixpanelServer({ tokens: [TOKEN] }), 'otelytics-mixpanel-', (f, d) => {
    fake = f;
    dir = d;
  });

  const running = (cfg: Record<string, unknown>, deadFile: string) => withDeadLetter(mixpanelExporterFactory, { project_token: TOKEN, endpoint: fake.url, retry_on_failure: fast, ...cfg }, deadFile);

  /** The fixture events, two of them made invalid for Mixpanel (a placeholder distinct_id, a time two hours ahead). */
  function eventsWithInvalid() {
    const events = fixtureEvents();
    events[3]!.user_id = 'anonymous';
    events[8]!.time_unix_nano = String(BigInt(Date.now() + 7_200_000) * 1_000_000n);
    return { events, invalid: new Set([events[3]!.insert_id, events[8]!.insert_id]) };
  }

  function assertOutcome(events: AnalyticsEvent[], invalid: Set<string>, deadFile: string, exactlyOnceOnTheWire: boolean) {
    const dead = readJsonLines<AnalyticsEvent>(deadFile);
    assert.deepEqual(new Set(dead.map((e) => e.insert_id)), invalid);
    assert.equal(dead.length, invalid.size, 'each dead letter once');
    for (const e of dead) {
      assert.equal(e.dead_letter!.exporter, 'mixpanel');
      assert.match(e.dead_letter!.reason, /^mixpanel 400 \(failed_records\): properties\.(distinct_id|time): /);
    }
    const valid = events.filter((e) => !invalid.has(e.insert_id)).map((e) => e.insert_id);
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(valid), 'every valid event ingested, by its $insert_id');
    assert.equal(fake.ingested.size, valid.length, 'none ingested twice');
    if (exactlyOnceOnTheWire) for (const id of valid) assert.equal(fake.deliveries.get(id), 1, `${id} accepted once`);
  }

  it('storms of 429 and 5xx and connection resets: every valid event accepted exactly once, the invalid ones dead-lettered', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-storm.jsonl');
    const x = await running({ sending_queue: { enabled: false }, max_events_per_request: 7 }, deadFile);
    const { events, invalid } = eventsWithInvalid();
    // Between the storms, requests succeed: the batch is delivered in parts, each recorded.
    fake.inject({ status: 429, retryAfter: '0' }, 3);
    fake.inject({ delayMillis: 0 });
    fake.inject({ status: 503 }, 2);
    fake.inject({ reset: true });
    fake.inject({ delayMillis: 0 }, 2);
    fake.inject({ status: 500 });
    fake.inject({ status: 429 }, 2);
    fake.inject({ status: 502 });
    fake.inject({ reset: true });
    await x.exporter.consume({ signal: 'events', data: events });
    await x.stop();
    assertOutcome(events, invalid, deadFile, true);
    const statuses = fake.requests.map((r) => r.status);
    for (const s of [429, 503, 500, 502, -1, 400, 200]) assert.ok(statuses.includes(s), `saw ${s} in ${statuses.join(',')}`);
    const metrics = await x.telemetry.registry.metrics();
    assert.match(metrics, new RegExp(`otelytics_events_dead_lettered\\{exporter="mixpanel",dead_letter="file/dead"\\} ${invalid.size}\\b`));
    assert.match(metrics, /otelytics_exporter_send_retries\{exporter="mixpanel"\} ([1-9]\d*)/);
  });

  it('slow answers that outlast the timeout: the resent requests are de-duplicated on $insert_id, nothing ingested twice', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-slow.jsonl');
    fake.options.answerDelayMillis = 400;
    const x = await running({ timeout: '100ms', max_events_per_request: 10, sending_queue: { num_consumers: 2 } }, deadFile);
    const { events, invalid } = eventsWithInvalid();
    // Mixpanel is slow for a while (the events of those requests are ingested, the answers come too late), then recovers.
    const recover = setTimeout(() => (fake.options.answerDelayMillis = 0), 600);
    await x.exporter.consume({ signal: 'events', data: events.slice(0, 20) });
    await x.exporter.consume({ signal: 'events', data: events.slice(20) });
    await new Promise((r) => setTimeout(r, 700));
    await x.stop();
    clearTimeout(recover);
    assertOutcome(events, invalid, deadFile, false);
    assert.ok(fake.duplicates > 0, 'requests timed out after their events were ingested, and were sent again');
    for (const n of fake.deliveries.values()) assert.ok(n >= 1);
  });

  it('an unknown project token dead-letters the whole batch once, without retrying', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-auth.jsonl');
    const x = await running({ project_token: 'wrong-token' }, deadFile);
    const events = fixtureEvents().slice(0, 5);
    await x.exporter.consume({ signal: 'events', data: events });
    await x.stop();
    const dead = readJsonLines<AnalyticsEvent>(deadFile);
    assert.deepEqual(dead.map((e) => e.insert_id), events.map((e) => e.insert_id));
    assert.match(dead[0]!.dead_letter!.reason, /mixpanel 401: Invalid project token/);
    assert.equal(fake.requests.length, 1, 'a permanent error is not retried');
    assert.equal(fake.ingested.size, 0);
  });
});
