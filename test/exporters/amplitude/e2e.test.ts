/**
 * examples/amplitude.yaml as a user runs it: the real CLI (config.example.yaml + the example),
 * the real SDK fixtures posted over OTLP/HTTP, the local Amplitude server as the destination. The
 * `file` exporter is added to the events pipeline to record what the amplitude exporter was given.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { startAmplitudeServer, type FakeAmplitude } from '../../fakes/amplitude-server.js';
import { runExample, type ExampleRun } from '../example-run.js';
import { fixtureEvents } from './fixture-events.js';

const KEY = 'test-key-7f3a';

function run(fake: FakeAmplitude, extraSets: string[] = []): Promise<ExampleRun> {
  return runExample('amplitude', 'amplitude', { AMPLITUDE_API_KEY: KEY, AMPLITUDE_ENDPOINT: fake.url }, extraSets);
}

describe('examples/amplitude.yaml through the CLI', () => {
  const fakes: FakeAmplitude[] = [];
  afterEach(async () => {
    for (const f of fakes.splice(0)) await f.close();
  });
  after(async () => {
    for (const f of fakes) await f.close();
  });

  it('delivers every fixture event once (by insert_id), pseudonymised, without IPs', async () => {
    const fake = await startAmplitudeServer({ apiKeys: [KEY] });
    fakes.push(fake);
    const { pipeline, dead } = await run(fake);
    const ids = pipeline.map((e) => e.insert_id);
    // What the example's pipeline should let through: the fixture events but the technical ones the filter drops.
    const expected = fixtureEvents().filter((e) => !/^(feature_flag|code_references)\./.test(e.name));
    assert.deepEqual(new Set(ids), new Set(expected.map((e) => e.insert_id)));
    assert.equal(ids.length, expected.length, 'each fixture event once in the pipeline');
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(ids));
    assert.equal(fake.withoutInsertId.length, 0);
    assert.equal(dead.length, 0);
    // Privacy was on: no raw user id or client address reached Amplitude.
    const rawUsers = new Set(fixtureEvents().flatMap((e) => (e.user_id ? [e.user_id] : [])));
    assert.ok(rawUsers.size > 0);
    for (const { event } of fake.ingested.values()) {
      assert.ok(!rawUsers.has(String(event.user_id)), `raw user id ${String(event.user_id)} sent`);
      assert.equal(event.ip, undefined);
      assert.ok(typeof event.user_id === 'string' || typeof event.device_id === 'string');
    }
    assert.ok([...fake.ingested.values()].some((x) => typeof x.event.user_id === 'string'), 'consenting users keep a (pseudonymous) user_id');
  });

  it('with injected 5xx, reset, 413, 400 and 429 every event ends delivered once or in the dead-letter file with its reason', async () => {
    const fake = await startAmplitudeServer({ apiKeys: [KEY] });
    fakes.push(fake);
    fake.inject({ status: 503, retryAfter: '0' });
    fake.inject({ reset: true });
    fake.inject({ status: 413, body: { code: 413, error: 'Payload too large' } });
    fake.inject({ status: 400, body: { code: 400, error: 'Invalid field values on some events', events_with_invalid_fields: { time: [0] } } });
    fake.inject({ status: 429, body: { code: 429, error: 'Too many requests for some devices and users', eps_threshold: 30, throttled_events: [0, 1], throttled_users: {}, throttled_devices: {} } });
    const { pipeline, dead } = await run(fake, [
      'exporters::amplitude::sending_queue::num_consumers=1',
      'exporters::amplitude::throttle_backoff=200ms',
      'exporters::amplitude::retry_on_failure::initial_interval=50ms',
    ]);
    const ids = new Set(pipeline.map((e) => e.insert_id));
    const delivered = new Set(fake.ingested.keys());
    const deadIds = new Set(dead.map((e) => e.insert_id));
    assert.equal(dead.length, deadIds.size, 'each dead letter once');
    for (const id of ids) assert.ok(delivered.has(id) !== deadIds.has(id), `${id}: delivered=${delivered.has(id)} dead=${deadIds.has(id)}`);
    assert.equal(delivered.size + deadIds.size, ids.size);
    assert.ok(dead.length >= 1);
    for (const e of dead) {
      assert.equal(e.dead_letter!.exporter, 'amplitude');
      assert.ok(!Number.isNaN(Date.parse(e.dead_letter!.time)));
    }
    assert.ok(dead.some((e) => /amplitude 400 \(events_with_invalid_fields\): invalid value of time/.test(e.dead_letter!.reason)), JSON.stringify(dead.map((e) => e.dead_letter)));
    const statuses = fake.requests.map((r) => r.status);
    for (const s of [503, -1, 413, 400, 429]) assert.ok(statuses.includes(s), `saw ${s} in ${statuses.join(',')}`);
  });
});
