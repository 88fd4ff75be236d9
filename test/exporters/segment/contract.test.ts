/**
 * The segment exporter's send against the local Segment server (test/fakes/segment-server.ts):
 * authentication, the documented limits, what is delivered, and how each answer is classified
 * (PermanentError, RetryableError, PartialFailure with the refused calls and their reasons, and
 * the part to send again).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartialFailure, PermanentError, RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { segmentSchema, segmentSendContext } from '../../../exporters/segment/index.js';
import { sendEvents } from '../../../exporters/segment/sender.js';
import { NO_IDENTITY_REASON } from '../../../exporters/segment/mapping.js';
import { FakeSegment, startSegmentServer, type SegmentServerOptions } from '../../fakes/segment-server.js';
import { failure, rejectedIds, retriedIds } from '../partial.js';
import { standIns } from '../upload-scenarios.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';
import { sendContext } from '../../delivery/send-context.js';

const KEY = 'seg-write-key-1';
const never = sendContext();

function ctxFor(fake: FakeSegment, over: Record<string, unknown> = {}) {
  return segmentSendContext(segmentSchema.parse({ write_key: KEY, endpoint: fake.url, anonymous_id: ['device_id', 'session_id', 'insert_id'], ...over }));
}

function ev(i: number, over: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return {
    name: 'view_item',
    time_unix_nano: String(1_795_288_700_000_000_000n + BigInt(i) * 1_000_000n),
    insert_id: `ins-${i}`,
    user_id: `user-${1000 + i}`,
    properties: { item_id: `sku-${i}`, price: 10 + i },
    context: { source: 'span', 'service.name': 'shop-web', 'service.version': '1.4.2' },
    ...over,
  };
}

describe('segment exporter against the local Segment server', () => {
  let fake: FakeSegment;
  const server = standIns((o: SegmentServerOptions) => startSegmentServer({ writeKeys: [KEY], ...o }), (f) => (fake = f));

  it('delivers every fixture event once with basic auth; a resend is de-duplicated on messageId', async () => {
    const events = fixtureEvents();
    assert.ok(events.length > 20);
    await sendEvents(events, ctxFor(fake), never);
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(events.map((e) => e.insert_id)));
    for (const e of events) {
      const got = fake.ingested.get(e.insert_id)!;
      assert.equal(got.type, 'track');
      assert.equal(got.event, e.name);
      assert.equal(got.timestamp, new Date(Number(BigInt(e.time_unix_nano) / 1_000_000n)).toISOString());
      assert.equal(got.userId, e.user_id);
      assert.equal(got.anonymousId, e.device_id ?? e.session_id ?? e.insert_id);
      assert.deepEqual(got.properties && (got.properties as Record<string, unknown>).items, e.properties.items);
    }
    assert.ok(fake.requests.every((r) => r.status === 200 && r.authorization === `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`));
    await sendEvents(events, ctxFor(fake), never);
    assert.equal(fake.duplicates, events.length);
    assert.equal(fake.ingested.size, events.length);
  });

  it('a wrong write key: PermanentError for the whole batch, one request, nothing ingested', async () => {
    const events = Array.from({ length: 6 }, (_, i) => ev(i));
    const err = await failure(sendEvents(events, ctxFor(fake, { write_key: 'not-the-key', max_events_per_request: 2 }), never));
    assert.ok(err instanceof PermanentError, String(err));
    assert.match(err.message, /segment 400: invalid_write_key: Invalid Authorization Header \(6 events\)/);
    assert.equal(fake.requests.length, 1, 'neither split nor retried');
    assert.equal(fake.ingested.size, 0);
  });

  it('keeps requests within 500 KB and 2500 calls', async () => {
    const big = Array.from({ length: 60 }, (_, i) => ev(i, { properties: { blob: 'z'.repeat(20_000) } }));
    await sendEvents(big, ctxFor(fake), never);
    assert.equal(fake.ingested.size, 60);
    assert.ok(fake.requests.length >= 3);
    assert.ok(fake.requests.every((r) => r.status === 200 && r.bytes <= 500_000), JSON.stringify(fake.requests.map((r) => r.bytes)));
    // A data plane with RudderStack's 4 MB: the 2500 calls per request bind first.
    const rudder = await server({ maxBytes: 4_000_000 });
    const many = Array.from({ length: 5100 }, (_, i) => ev(i, { properties: {} }));
    await sendEvents(many, ctxFor(rudder, { max_request_bytes: 4_000_000 }), never);
    assert.equal(rudder.ingested.size, 5100);
    assert.deepEqual(rudder.requests.map((r) => r.events), [2500, 2500, 100]);
    assert.equal(rudder.dropped.length, 0);
  });

  it('refuses a call over 32 KB without sending it, and one without any identity', async () => {
    const events = [ev(0), ev(1, { properties: { blob: 'y'.repeat(33_000) } }), ev(2, { user_id: undefined })];
    const err = await failure(sendEvents(events, ctxFor(fake, { anonymous_id: ['device_id'] }), never));
    assert.ok(err instanceof PartialFailure, String(err));
    const rejected = rejectedIds(err);
    assert.match(rejected.get('ins-1')!, /per-call limit of 32 KB \(32000 bytes\)/);
    assert.equal(rejected.get('ins-2'), NO_IDENTITY_REASON);
    assert.deepEqual([...fake.ingested.keys()], ['ins-0']);
    assert.equal(fake.requests.length, 1);
    assert.equal(err.retry, undefined);
  });

  it('400 for a malformed batch: split in halves down to the bad calls, which are refused; the rest delivered', async () => {
    const small = await server({ maxEventBytes: 1500 });
    const events = Array.from({ length: 16 }, (_, i) => ev(i));
    events[5] = ev(5, { name: '' });
    events[11] = ev(11, { properties: { note: 'n'.repeat(2000) } });
    const progress = sendContext();
    const err = await failure(sendEvents(events, ctxFor(small), progress));
    assert.ok(err instanceof PartialFailure, String(err));
    const rejected = rejectedIds(err);
    assert.deepEqual([...rejected.keys()].sort(), ['ins-11', 'ins-5']);
    assert.match(rejected.get('ins-5')!, /segment 400: missing_event: track call is missing event \(the call was sent alone\)/);
    assert.match(rejected.get('ins-11')!, /segment 400: payload_too_large: a call exceeds 1500 bytes/);
    assert.equal(err.retry, undefined);
    assert.equal(small.ingested.size, 14);
    assert.equal(small.duplicates, 0, 'nothing of a 400 request is ingested, so no call goes twice');
    assert.ok(small.requests.filter((r) => r.status === 400).length <= 2 * Math.ceil(Math.log2(16)) + 1);
    assert.ok(progress.progressed.length > 0, 'accepted halves are recorded as progress');
  });

  it('413: splits the request in halves until it fits', async () => {
    fake.inject({ status: 413 });
    fake.inject({ status: 413 });
    const events = Array.from({ length: 8 }, (_, i) => ev(i));
    await sendEvents(events, ctxFor(fake), never);
    assert.equal(fake.ingested.size, 8);
    assert.deepEqual(fake.requests.map((r) => r.status), [413, 413, 200, 200, 200]);
    assert.deepEqual(fake.requests.filter((r) => r.status === 200).map((r) => r.events), [2, 2, 4]);
  });

  it('429: RetryableError with the server\'s Retry-After, nothing ingested', async () => {
    const limited = await server({ rateLimit: { requests: 1, windowMillis: 60_000 } });
    await sendEvents([ev(0)], ctxFor(limited), never);
    const err = await failure(sendEvents([ev(1), ev(2)], ctxFor(limited), never));
    assert.ok(err instanceof RetryableError && !(err instanceof PartialFailure), String(err));
    assert.match(err.message, /segment 429/);
    assert.ok(err.retryAfterMillis! > 0 && err.retryAfterMillis! <= 60_000, String(err.retryAfterMillis));
    assert.deepEqual([...limited.ingested.keys()], ['ins-0']);
  });

  it('5xx: RetryableError for the whole batch, with Retry-After when given', async () => {
    fake.inject({ status: 503, retryAfter: '7' });
    const err = await failure(sendEvents([ev(0), ev(1)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError && !(err instanceof PartialFailure), String(err));
    assert.equal(err.retryAfterMillis, 7000);
    fake.inject({ status: 500 });
    const err2 = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err2 instanceof RetryableError);
    assert.equal(err2.retryAfterMillis, undefined);
    assert.equal(fake.ingested.size, 0);
  });

  it('a failure after part of the batch was delivered: PartialFailure with only the rest to retry, progress recorded', async () => {
    fake.inject({ delayMillis: 0 });
    fake.inject({ status: 502 });
    const events = Array.from({ length: 12 }, (_, i) => ev(i));
    const progress = sendContext();
    const err = await failure(sendEvents(events, ctxFor(fake, { max_events_per_request: 5 }), progress));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual(err.rejected, []);
    assert.deepEqual(retriedIds(err), events.slice(5).map((e) => e.insert_id));
    assert.deepEqual([...fake.ingested.keys()], events.slice(0, 5).map((e) => e.insert_id));
    assert.deepEqual((progress.progressed[0] as { data: AnalyticsEvent[] }).data.map((e) => e.insert_id), events.slice(5).map((e) => e.insert_id));
  });

  it('connection reset: RetryableError', async () => {
    fake.inject({ reset: true });
    const err = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError, String(err));
    assert.match(err.message, /segment: request to 127\.0\.0\.1:\d+ failed/);
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
});
