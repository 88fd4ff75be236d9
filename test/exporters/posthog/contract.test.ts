/**
 * The posthog exporter's send against the local PostHog capture server (test/fakes/posthog-server.ts):
 * what is delivered, de-duplication by uuid, and how each documented answer is classified.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartialFailure, PermanentError, RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { posthogSchema, posthogSendContext } from '../../../exporters/posthog/index.js';
import { insertIdUuid, NO_DISTINCT_ID_REASON } from '../../../exporters/posthog/mapping.js';
import { sendEvents } from '../../../exporters/posthog/sender.js';
import { startPosthogServer, type FakePosthog, type PosthogServerOptions } from '../../fakes/posthog-server.js';
import { sendContext } from '../../delivery/send-context.js';
import { failure, rejectedIds, retriedIds } from '../partial.js';
import { standIns } from '../upload-scenarios.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';

const KEY = 'phc_test_key';
const never = sendContext();

function ctxFor(fake: FakePosthog, over: Record<string, unknown> = {}) {
  return posthogSendContext(posthogSchema.parse({ api_key: KEY, endpoint: fake.url, distinct_id: ['user_id', 'device_id', 'session_id', 'insert_id'], ...over }));
}

function ev(i: number, over: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return {
    name: 'view_item',
    time_unix_nano: String(1_795_288_700_000_000_000n + BigInt(i) * 1_000_000n),
    insert_id: `ins-${i}`,
    user_id: `user-${1000 + i}`,
    properties: { item_id: `sku-${i}`, price: 9.5 },
    context: { source: 'span' },
    ...over,
  };
}

const uuidOf = (id: string) => insertIdUuid(id);

describe('posthog exporter against the local PostHog server', () => {
  let fake: FakePosthog;
  const server = standIns((o: PosthogServerOptions) => startPosthogServer({ apiKeys: [KEY], ...o }), (f) => (fake = f));

  it('delivers every fixture event once, typed, and a resend is a duplicate by uuid', async () => {
    const events = fixtureEvents();
    assert.ok(events.length > 20);
    await sendEvents(events, ctxFor(fake), never);
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(events.map((e) => uuidOf(e.insert_id))));
    for (const e of events) {
      const got = fake.ingested.get(uuidOf(e.insert_id))!;
      assert.equal(got.event, e.name);
      assert.equal(got.distinct_id, e.user_id ?? e.device_id ?? e.session_id ?? e.insert_id);
      assert.equal(Date.parse(got.timestamp as string), Number(BigInt(e.time_unix_nano) / 1_000_000n));
      for (const [k, v] of Object.entries(e.properties)) assert.deepEqual((got.properties as Record<string, unknown>)[k], v, k);
      if (e.session_id) assert.equal((got.properties as Record<string, unknown>).$session_id, e.session_id);
    }
    assert.ok(fake.requests.every((r) => r.status === 200 && r.path === '/batch/' && r.historical_migration === false));
    await sendEvents(events, ctxFor(fake), never);
    assert.equal(fake.duplicates, events.length);
    assert.equal(fake.conflicts, 0);
    assert.equal(fake.ingested.size, events.length);
  });

  it('an unknown API key: 401, PermanentError, later requests not sent', async () => {
    const events = Array.from({ length: 6 }, (_, i) => ev(i));
    const err = await failure(sendEvents(events, ctxFor(fake, { api_key: 'phc_wrong', max_events_per_request: 2 }), never));
    assert.ok(err instanceof PermanentError, String(err));
    assert.match(err.message, /posthog 401: api_key is not valid \(check api_key.*6 events/);
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.ingested.size, 0);
  });

  it('400 for invalid events: the request is bisected, the invalid events refused with the reason, the rest delivered once', async () => {
    const events = Array.from({ length: 16 }, (_, i) => ev(i));
    events[3]!.name = '';
    events[11]!.name = '';
    const err = await failure(sendEvents(events, ctxFor(fake), never));
    assert.ok(err instanceof PartialFailure, String(err));
    const rejected = rejectedIds(err);
    assert.deepEqual([...rejected.keys()].sort(), ['ins-11', 'ins-3']);
    assert.match(rejected.get('ins-3')!, /posthog 400: event submitted without an event name \(this event, found by splitting the request\)/);
    assert.equal(err.retry, undefined);
    assert.equal(fake.ingested.size, 14);
    assert.equal(fake.duplicates, 0);
    assert.ok(fake.requests.length <= 2 * events.length - 1);
  });

  it('413: splits until requests fit; an event over the 1 MB event limit is refused before sending', async () => {
    const small = await server({ maxBytes: 3000 });
    const events = Array.from({ length: 24 }, (_, i) => ev(i));
    events.push(ev(99, { properties: { blob: 'x'.repeat(1_000_100) } }));
    const err = await failure(sendEvents(events, ctxFor(small), never));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual([...rejectedIds(err).keys()], ['ins-99']);
    assert.match(rejectedIds(err).get('ins-99')!, /exceeds PostHog's event size limit of 1000000 bytes/);
    assert.equal(small.ingested.size, 24);
    assert.ok(small.requests.some((r) => r.status === 413));
    assert.ok(small.requests.filter((r) => r.status === 200).every((r) => r.bytes <= 3000));
  });

  it('events without any id are refused before anything is sent', async () => {
    const err = await failure(sendEvents([ev(0, { user_id: undefined })], ctxFor(fake, { distinct_id: ['user_id'] }), never));
    assert.ok(err instanceof PermanentError);
    assert.ok(err.message.startsWith(NO_DISTINCT_ID_REASON));
    assert.equal(fake.requests.length, 0);
  });

  it('429 and 5xx: RetryableError with the server\'s Retry-After, nothing ingested', async () => {
    fake.inject({ status: 429, retryAfter: '3' });
    const err = await failure(sendEvents([ev(0), ev(1)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError && !(err instanceof PartialFailure), String(err));
    assert.equal(err.retryAfterMillis, 3000);
    assert.match(err.message, /posthog 429/);
    fake.inject({ status: 503 });
    const err2 = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err2 instanceof RetryableError && err2.retryAfterMillis === undefined);
    assert.equal(fake.ingested.size, 0);
  });

  it('a failure after part of the batch was delivered: progress recorded, only the rest to retry', async () => {
    fake.inject({ delayMillis: 0 });
    fake.inject({ status: 502 });
    const events = Array.from({ length: 12 }, (_, i) => ev(i));
    const ctx = sendContext();
    const err = await failure(sendEvents(events, ctxFor(fake, { max_events_per_request: 5 }), ctx));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual(retriedIds(err), events.slice(5).map((e) => e.insert_id));
    assert.deepEqual((ctx.progressed[0] as { data: AnalyticsEvent[] }).data.map((e) => e.insert_id), events.slice(5).map((e) => e.insert_id));
    assert.equal(fake.ingested.size, 5);
  });

  it('connection reset and a slow answer past the per-request timeout: RetryableError', async () => {
    fake.inject({ reset: true });
    const err = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError);
    assert.match(err.message, /request to 127\.0\.0\.1:\d+ failed/);
    fake.inject({ delayMillis: 1000 });
    const started = Date.now();
    const err2 = await failure(sendEvents([ev(0)], ctxFor(fake), sendContext({ timeoutMillis: 150 })));
    assert.ok(err2 instanceof RetryableError);
    assert.match(err2.message, /timed out after 150ms/);
    assert.ok(Date.now() - started < 1000);
  });

  it('sends historical_migration when set', async () => {
    await sendEvents([ev(0)], ctxFor(fake, { historical_migration: true }), never);
    assert.equal(fake.requests[0]!.historical_migration, true);
  });
});
