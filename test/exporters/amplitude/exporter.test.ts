/**
 * The amplitude exporter as the gateway runs it (factory, config schema, exporter helper): retries
 * after 5xx, holds throttled events back, and dead-letters what Amplitude refuses, with the reason,
 * into a file exporter.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { amplitudeExporterFactory } from '../../../exporters/amplitude/index.js';
import { startAmplitudeServer, type FakeAmplitude } from '../../fakes/amplitude-server.js';
import { readJsonLines } from '../../helpers.js';
import { fixtureEvents } from './fixture-events.js';
import { standInWithDir, withDeadLetter } from '../upload-scenarios.js';

const fast = { initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '10s' };

describe('amplitude exporter with the exporter helper', () => {
  let fake: FakeAmplitude;
  let dir: string;
  standInWithDir(() => startAmplitudeServer({ apiKeys: ['k-123'] }), 'otelytics-amplitude-', (f, d) => {
    fake = f;
    dir = d;
  });

  const running = (cfg: Record<string, unknown>, deadFile: string) => withDeadLetter(amplitudeExporterFactory, { api_key: 'k-123', endpoint: fake.url, retry_on_failure: fast, ...cfg }, deadFile);

  it('retries 5xx and resets, holds throttled events back, and dead-letters refused events with the reason', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-1.jsonl');
    const x = await running({ sending_queue: { enabled: false }, device_id: ['device_id', 'session_id', 'insert_id'], throttle_backoff: '100ms', max_events_per_request: 10 }, deadFile);
    const events = fixtureEvents();
    // Two events Amplitude will refuse: an id on its invalid list, a reserved event name.
    events[3]!.user_id = 'undefined';
    events[7]!.name = '[Amplitude] Merged User';
    const refused = new Set([events[3]!.insert_id, events[7]!.insert_id]);
    fake.inject({ status: 503 });
    fake.inject({ reset: true });
    fake.inject({ delayMillis: 0 });
    fake.inject({ status: 429, body: { code: 429, error: 'Too many requests for some devices and users', eps_threshold: 30, throttled_events: [0, 1], throttled_users: {}, throttled_devices: {} } });
    await x.exporter.consume({ signal: 'events', data: events });
    await x.stop();
    const dead = readJsonLines<AnalyticsEvent>(deadFile);
    assert.deepEqual(new Set(dead.map((e) => e.insert_id)), refused);
    for (const e of dead) {
      assert.equal(e.dead_letter!.exporter, 'amplitude');
      assert.match(e.dead_letter!.reason, /amplitude 400 \(events_with_invalid_fields\): invalid value of (user_id|event_type)/);
    }
    const delivered = new Set(fake.ingested.keys());
    for (const e of events) assert.equal(delivered.has(e.insert_id), !refused.has(e.insert_id), e.insert_id);
    assert.equal(delivered.size, events.length - refused.size);
    assert.ok(fake.requests.some((r) => r.status === 429) && fake.requests.some((r) => r.status === 503) && fake.requests.some((r) => r.status === -1));
    const metrics = await x.telemetry.registry.metrics();
    assert.match(metrics, new RegExp(`otelytics_events_dead_lettered\\{exporter="amplitude",dead_letter="file/dead"\\} ${refused.size}\\b`));
  });

  it('with the sending queue: an invalid API key dead-letters the whole batch, once, without retrying', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-2.jsonl');
    const x = await running({ api_key: 'wrong-key', device_id: ['device_id', 'session_id', 'insert_id'] }, deadFile);
    const events = fixtureEvents().slice(0, 5);
    await x.exporter.consume({ signal: 'events', data: events });
    await x.stop();
    const dead = readJsonLines<AnalyticsEvent>(deadFile);
    assert.deepEqual(dead.map((e) => e.insert_id), events.map((e) => e.insert_id));
    assert.match(dead[0]!.dead_letter!.reason, /Invalid API key/);
    assert.equal(fake.requests.length, 1, 'a permanent error is not retried');
    assert.equal(fake.ingested.size, 0);
  });

  it('refuses a config without api_key or with a malformed endpoint, naming the key', () => {
    const r1 = amplitudeExporterFactory.configSchema.safeParse({});
    assert.ok(!r1.success && r1.error.issues.some((i) => i.path.join('.') === 'api_key'));
    const r2 = amplitudeExporterFactory.configSchema.safeParse({ api_key: 'k', endpoint: 'ftp://x' });
    assert.ok(!r2.success && r2.error.issues.some((i) => i.path.join('.') === 'endpoint'));
    const r3 = amplitudeExporterFactory.configSchema.safeParse({ api_key: 'k', device_id: ['props.x'] });
    assert.ok(!r3.success && /unknown field path "props.x"/.test(r3.error.issues[0]!.message));
    const r4 = amplitudeExporterFactory.configSchema.safeParse({ api_key: 'k', max_events_per_request: 2001 });
    assert.ok(!r4.success);
  });
});
