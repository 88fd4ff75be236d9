/**
 * The amplitude exporter's send against the local Amplitude server (test/fakes/amplitude-server.ts):
 * what is delivered, and how each documented answer is classified (PermanentError, RetryableError,
 * PartialFailure with rejected parts and their reasons, and the part to send again).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartialFailure, PermanentError, RetryableError } from '../../../src/errors.js';
import { failure, rejectedIds, retriedIds } from '../partial.js';
import { standIns } from '../upload-scenarios.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { amplitudeSchema, amplitudeSendContext } from '../../../exporters/amplitude/index.js';
import { sendEvents } from '../../../exporters/amplitude/sender.js';
import { NO_IDENTITY_REASON } from '../../../exporters/amplitude/mapping.js';
import { FakeAmplitude, startAmplitudeServer, type AmplitudeServerOptions } from '../../fakes/amplitude-server.js';
import { fixtureEvents } from './fixture-events.js';
import { sendContext } from '../../delivery/send-context.js';

const KEY = 'test-api-key';
const never = sendContext();

function ctxFor(fake: FakeAmplitude, over: Record<string, unknown> = {}) {
  return amplitudeSendContext(amplitudeSchema.parse({ api_key: KEY, endpoint: fake.url, device_id: ['device_id', 'session_id', 'insert_id'], ...over }));
}

function ev(i: number, over: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return {
    name: 'view_item',
    time_unix_nano: String(1_795_288_700_000_000_000n + BigInt(i) * 1_000_000n),
    insert_id: `ins-${i}`,
    user_id: `user-${1000 + i}`,
    properties: { item_id: `sku-${i}` },
    context: { source: 'span', 'service.name': 'shop-web', 'service.version': '1.4.2' },
    ...over,
  };
}


describe('amplitude exporter against the local Amplitude server', () => {
  let fake: FakeAmplitude;
  const server = standIns((o: AmplitudeServerOptions) => startAmplitudeServer({ apiKeys: [KEY], ...o }), (f) => (fake = f));

  it('delivers every fixture event once, and a resend is de-duplicated on insert_id', async () => {
    const events = fixtureEvents();
    assert.ok(events.length > 20);
    await sendEvents(events, ctxFor(fake), never);
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(events.map((e) => e.insert_id)));
    for (const e of events) {
      const got = fake.ingested.get(e.insert_id)!.event;
      assert.equal(got.event_type, e.name);
      assert.equal(got.time, Number(BigInt(e.time_unix_nano) / 1_000_000n));
      assert.equal(got.user_id, e.user_id);
      assert.equal(got.device_id, e.device_id ?? e.session_id ?? e.insert_id);
      assert.equal(got.app_version, e.context['service.version']);
    }
    assert.ok(fake.requests.every((r) => r.status === 200 && r.path === '/2/httpapi'));
    await sendEvents(events, ctxFor(fake), never);
    assert.equal(fake.duplicates, events.length);
    assert.equal(fake.ingested.size, events.length);
  });

  it('maps revenue, sessions, nested properties, context properties and the ip as documented', async () => {
    const purchase = ev(1, {
      name: 'purchase',
      session_id: '1795288600000',
      properties: { value: '59.90', quantity: 2, item_id: 'trq22o064-q11', currency: 'EUR', items: [{ item_id: 'a', price: 29.95 }] },
      context: { source: 'span', 'service.version': '1.4.2', 'client.address': '203.0.113.0', 'deployment.environment': 'staging' },
    });
    const anonymous = ev(2, { user_id: undefined, session_id: 's-9f2c1a7e' });
    await sendEvents([purchase, anonymous], ctxFor(fake, { context_properties: ['deployment.environment'] }), never);
    const p = fake.ingested.get('ins-1')!.event;
    assert.equal(p.revenue, 59.9);
    assert.equal(p.quantity, 2);
    assert.equal(p.productId, 'trq22o064-q11');
    assert.equal(p.session_id, 1795288600000);
    assert.deepEqual((p.event_properties as Record<string, unknown>).items, purchase.properties.items);
    assert.equal((p.event_properties as Record<string, unknown>)['deployment.environment'], 'staging');
    assert.equal(p.ip, undefined, 'no ip without send_ip');
    const a = fake.ingested.get('ins-2')!.event;
    assert.equal(a.device_id, 's-9f2c1a7e');
    assert.equal(a.session_id, undefined);
    assert.equal((a.event_properties as Record<string, unknown>).session_id, 's-9f2c1a7e');
    assert.equal(a.revenue, undefined);

    fake.reset();
    await sendEvents([purchase], ctxFor(fake, { send_ip: true, user_id_prefix: 'shop:' }), never);
    assert.equal(fake.ingested.get('ins-1')!.event.ip, '203.0.113.0');
    assert.equal(fake.ingested.get('ins-1')!.event.user_id, `shop:${purchase.user_id}`);
  });

  it('400 listing events: refuses exactly those with the reason and sends the rest again at once', async () => {
    const events = [ev(0), ev(1, { name: '[Amplitude] Revenue' }), ev(2), ev(3, { user_id: 'abc' }), ev(4, { user_id: 'null' }), ev(5)];
    const err = await failure(sendEvents(events, ctxFor(fake, { device_id: ['device_id'] }), never));
    assert.ok(err instanceof PartialFailure, String(err));
    const rejected = rejectedIds(err);
    assert.deepEqual([...rejected.keys()].sort(), ['ins-1', 'ins-3', 'ins-4']);
    assert.match(rejected.get('ins-1')!, /events_with_invalid_fields.*event_type/);
    assert.match(rejected.get('ins-3')!, /events_with_invalid_id_lengths.*user_id/);
    assert.match(rejected.get('ins-4')!, /events_with_invalid_fields.*user_id/);
    assert.equal(err.retry, undefined);
    assert.deepEqual([...fake.ingested.keys()].sort(), ['ins-0', 'ins-2', 'ins-5']);
    assert.deepEqual(fake.requests.map((r) => r.status), [400, 200]);
  });

  it('400 for a silenced device: its events are refused, the others delivered', async () => {
    const silenced = await server({ silencedDevices: ['device-spam-1'] });
    const err = await failure(sendEvents([ev(0, { user_id: undefined, device_id: 'device-spam-1' }), ev(1)], ctxFor(silenced), never));
    assert.ok(err instanceof PartialFailure);
    assert.match(rejectedIds(err).get('ins-0')!, /silenced_events/);
    assert.deepEqual([...silenced.ingested.keys()], ['ins-1']);
  });

  it('400 for the request itself (invalid API key): PermanentError, and the later requests are not sent', async () => {
    const events = Array.from({ length: 6 }, (_, i) => ev(i));
    const err = await failure(sendEvents(events, ctxFor(fake, { api_key: 'not-the-key', max_events_per_request: 2 }), never));
    assert.ok(err instanceof PermanentError, String(err));
    assert.match(err.message, /Invalid API key.*6 events/);
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.ingested.size, 0);
  });

  it('413: splits the request in halves until it fits; a single event still too large is refused', async () => {
    const small = await server({ http_v2: { maxBytes: 3000 } });
    const events = Array.from({ length: 24 }, (_, i) => ev(i));
    events.push(ev(99, { properties: { blob: 'x'.repeat(4000) } }));
    const err = await failure(sendEvents(events, ctxFor(small), never));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual([...rejectedIds(err)], [['ins-99', rejectedIds(err).get('ins-99')!]]);
    assert.match(rejectedIds(err).get('ins-99')!, /413.*the event alone/);
    assert.equal(err.retry, undefined);
    assert.equal(small.ingested.size, 24);
    assert.ok(small.requests.some((r) => r.status === 413));
    assert.ok(small.requests.filter((r) => r.status === 200).every((r) => r.bytes <= 3000));
  });

  it('refuses an event larger than the documented 1 MB request limit without sending it', async () => {
    const err = await failure(sendEvents([ev(0), ev(1, { properties: { blob: 'y'.repeat(1_100_000) } })], ctxFor(fake), never));
    assert.ok(err instanceof PartialFailure);
    assert.match(rejectedIds(err).get('ins-1')!, /exceeds the request size limit of 999999 bytes/);
    assert.deepEqual([...fake.ingested.keys()], ['ins-0']);
    assert.ok(fake.requests.every((r) => r.bytes < 1_000_000));
  });

  it('429: holds throttled users back for throttle_backoff, sends the others at once, refuses users over the daily quota', async () => {
    const limited = await server({ http_v2: { epsThreshold: 2 }, rateWindowMillis: 1000, dailyQuota: 10 });
    const ctx = ctxFor(limited, { throttle_backoff: '1200ms' });
    // Earlier traffic: the hot user is at its rate, the quota user at its daily quota.
    await sendEvents([ev(0, { user_id: 'hot-user-1' }), ev(1, { user_id: 'hot-user-1' })], ctx, never);
    limited.recordUsage('quota-user-1', 10);
    const batch = [ev(10, { user_id: 'hot-user-1' }), ev(11, { user_id: 'quota-user-1' }), ev(12), ev(13), ev(14, { user_id: 'hot-user-1' })];
    const err = await failure(sendEvents(batch, ctx, never));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual([...rejectedIds(err).keys()], ['ins-11']);
    assert.match(rejectedIds(err).get('ins-11')!, /429.*exceeded_daily_quota_users/);
    assert.deepEqual(retriedIds(err), ['ins-10', 'ins-14']);
    assert.equal(err.retryAfterMillis, 1200);
    assert.ok(limited.ingested.has('ins-12') && limited.ingested.has('ins-13'));
    assert.ok(!limited.ingested.has('ins-10'));
    const throttledAnswer = limited.requests.find((r) => r.status === 429)!.body as Record<string, unknown>;
    assert.deepEqual(Object.keys(throttledAnswer.throttled_users as object), ['hot-user-1']);
    // After the back-off the held events go through.
    await new Promise((r) => setTimeout(r, err.retryAfterMillis!));
    await sendEvents((err.retry as { data: AnalyticsEvent[] }).data, ctx, never);
    assert.ok(limited.ingested.has('ins-10') && limited.ingested.has('ins-14'));
  });

  it('5xx: RetryableError for the whole batch with the server\'s Retry-After, nothing ingested', async () => {
    fake.inject({ status: 503, retryAfter: '7' });
    const err = await failure(sendEvents([ev(0), ev(1)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError && !(err instanceof PartialFailure), String(err));
    assert.equal(err.retryAfterMillis, 7000);
    assert.match(err.message, /503/);
    fake.inject({ status: 500 });
    const err2 = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err2 instanceof RetryableError);
    assert.equal(err2.retryAfterMillis, undefined);
    assert.equal(fake.ingested.size, 0);
  });

  it('a failure after part of the batch was delivered: PartialFailure with only the rest to retry', async () => {
    fake.inject({ delayMillis: 0 });
    fake.inject({ status: 502 });
    const events = Array.from({ length: 12 }, (_, i) => ev(i));
    const err = await failure(sendEvents(events, ctxFor(fake, { max_events_per_request: 5 }), never));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual(err.rejected, []);
    assert.deepEqual(retriedIds(err), events.slice(5).map((e) => e.insert_id));
    assert.equal(err.retryAfterMillis, undefined);
    assert.deepEqual([...fake.ingested.keys()], events.slice(0, 5).map((e) => e.insert_id));
  });

  it('connection reset: RetryableError', async () => {
    fake.inject({ reset: true });
    const err = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError, String(err));
    assert.match(err.message, /request to 127\.0\.0\.1:\d+ failed/);
  });

  it('a slow server: the request is aborted after the per-request timeout and is to be retried', async () => {
    fake.inject({ delayMillis: 1000 });
    const started = Date.now();
    const err = await failure(sendEvents([ev(0)], ctxFor(fake), sendContext({ timeoutMillis: 150 })));
    assert.ok(err instanceof RetryableError, String(err));
    assert.match(err.message, /timed out after 150ms/);
    assert.ok(Date.now() - started < 1000);
    assert.equal(fake.ingested.size, 0);
  });

  it('gzip-compresses the body when compression is gzip', async () => {
    const gz = await server({ acceptGzip: true });
    await sendEvents([ev(0), ev(1)], ctxFor(gz, { compression: 'gzip' }), never);
    assert.equal(gz.ingested.size, 2);
    assert.deepEqual(gz.requests.map((r) => r.gzip), [true]);
  });

  it('uses /batch for api: batch', async () => {
    await sendEvents([ev(0)], ctxFor(fake, { api: 'batch' }), never);
    assert.equal(fake.ingested.get('ins-0')!.path, '/batch');
  });

  it('events without any identity are refused before anything is sent', async () => {
    const err = await failure(sendEvents([ev(0, { user_id: undefined }), ev(1, { user_id: undefined })], ctxFor(fake, { device_id: ['device_id'] }), never));
    assert.ok(err instanceof PermanentError);
    assert.ok(err.message.startsWith(NO_IDENTITY_REASON));
    assert.equal(fake.requests.length, 0);
  });
});
