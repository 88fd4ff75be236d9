/**
 * The mixpanel exporter's send against the local Mixpanel server (test/fakes/mixpanel-server.ts):
 * what is delivered, and how each documented answer is classified (PermanentError, RetryableError,
 * PartialFailure with rejected parts and their reasons, and the part to send again).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Payload } from '../../../src/component.js';
import { PartialFailure, PermanentError, RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { mixpanelSchema, mixpanelSendContext } from '../../../exporters/mixpanel/index.js';
import { classifyResponse } from '../../../exporters/mixpanel/client.js';
import { sendEvents } from '../../../exporters/mixpanel/sender.js';
import { FakeMixpanel, startMixpanelServer, type MixpanelServerOptions } from '../../fakes/mixpanel-server.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';
import { sendContext } from '../../delivery/send-context.js';
import { failure, rejectedIds, retriedIds } from '../partial.js';
import { standIns } from '../upload-scenarios.js';

const TOKEN = 'test-project-token';
const never = sendContext();

function ctxFor(fake: FakeMixpanel, over: Record<string, unknown> = {}) {
  return mixpanelSendContext(mixpanelSchema.parse({ project_token: TOKEN, endpoint: fake.url, ...over }));
}

function ev(i: number, over: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return {
    name: 'view_item',
    time_unix_nano: String(BigInt(Date.now() - 60_000) * 1_000_000n + BigInt(i) * 1_000_000n),
    insert_id: `ins-${i}`,
    user_id: `user-${1000 + i}`,
    properties: { item_id: `sku-${i}` },
    context: { source: 'span', 'service.name': 'shop-web' },
    ...over,
  };
}

describe('mixpanel exporter against the local Mixpanel server', () => {
  let fake: FakeMixpanel;
  const server = standIns((o: MixpanelServerOptions) => startMixpanelServer({ tokens: [TOKEN], ...o }), (f) => (fake = f));

  it('delivers every fixture event once, gzip\'d, strict, and a resend is de-duplicated on $insert_id', async () => {
    const events = fixtureEvents();
    assert.ok(events.length > 20);
    await sendEvents(events, ctxFor(fake), never);
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(events.map((e) => e.insert_id)));
    for (const e of events) {
      const got = fake.ingested.get(e.insert_id)!;
      assert.equal(got.event, e.name);
      assert.equal(got.properties.time, Number(BigInt(e.time_unix_nano) / 1_000_000n));
      assert.equal(got.properties.distinct_id, e.user_id ?? e.device_id ?? e.session_id ?? '');
    }
    assert.ok(fake.requests.every((r) => r.status === 200 && r.gzip && r.strict && r.contentType === 'application/json'));
    await sendEvents(events, ctxFor(fake), never);
    assert.equal(fake.duplicates, events.length);
    assert.equal(fake.ingested.size, events.length);
  });

  it('GA4 items stay an array of objects with numbers as numbers', async () => {
    const items = [{ item_id: 'a', price: 29.95, quantity: 2 }, { item_id: 'b', price: 5, quantity: 1 }];
    await sendEvents([ev(1, { name: 'purchase', properties: { value: 64.9, items } })], ctxFor(fake, { compression: 'none' }), never);
    const got = fake.ingested.get('ins-1')!.properties;
    assert.deepEqual(got.items, items);
    assert.equal(got.value, 64.9);
    assert.deepEqual(fake.requests.map((r) => r.gzip), [false]);
  });

  it('authenticates by project token or by service account and project_id; a wrong one is refused for good', async () => {
    const sa = await server({ tokens: ['other'], serviceAccounts: [{ username: 'svc.acct', secret: 's3cret', projectIds: ['4711'] }] });
    await sendEvents([ev(0)], mixpanelSendContext(mixpanelSchema.parse({ service_account: { username: 'svc.acct', secret: 's3cret' }, project_id: 4711, endpoint: sa.url })), never);
    assert.ok(sa.ingested.has('ins-0'));
    const wrongProject = await failure(sendEvents([ev(1)], mixpanelSendContext(mixpanelSchema.parse({ service_account: { username: 'svc.acct', secret: 's3cret' }, project_id: 1, endpoint: sa.url })), never));
    assert.ok(wrongProject instanceof PermanentError, String(wrongProject));
    assert.match(wrongProject.message, /mixpanel 401: service account has no access to project 1 \(check project_token/);

    const events = Array.from({ length: 6 }, (_, i) => ev(i));
    const err = await failure(sendEvents(events, ctxFor(fake, { project_token: 'not-the-token', max_events_per_request: 2 }), never));
    assert.ok(err instanceof PermanentError, String(err));
    assert.match(err.message, /mixpanel 401: Invalid project token.*6 events/);
    assert.equal(fake.requests.length, 1, 'the later requests are not sent');
    assert.equal(fake.ingested.size, 0);
  });

  it('strict mode: events in failed_records are refused with field and message, the rest of the request was delivered', async () => {
    const events = [ev(0), ev(1, { user_id: 'null' }), ev(2), ev(3, { time_unix_nano: String(BigInt(Date.now() + 7200_000) * 1_000_000n) }), ev(4), ev(5, { properties: { wide: Array.from({ length: 300 }, (_, i) => i) } })];
    const delivery = sendContext();
    const err = await failure(sendEvents(events, ctxFor(fake, { max_events_per_request: 4 }), delivery));
    assert.ok(err instanceof PartialFailure, String(err));
    const rejected = rejectedIds(err);
    assert.deepEqual([...rejected.keys()].sort(), ['ins-1', 'ins-3', 'ins-5']);
    assert.match(rejected.get('ins-1')!, /^mixpanel 400 \(failed_records\): properties\.distinct_id: .*"null" is not an acceptable value/);
    assert.match(rejected.get('ins-3')!, /properties\.time: .*future/);
    assert.match(rejected.get('ins-5')!, /properties\.wide/);
    assert.equal(err.retry, undefined, 'nothing is sent again');
    assert.deepEqual([...fake.ingested.keys()].sort(), ['ins-0', 'ins-2', 'ins-4']);
    assert.deepEqual(fake.requests.map((r) => r.status), [400, 400], 'no resend of the accepted part');
    // After the first request (a partial success) only the second request's events are left.
    assert.deepEqual(delivery.progressed.map((p: Payload) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id)), [['ins-1', 'ins-3', 'ins-4', 'ins-5']]);
  });

  it('failed_records are matched by $insert_id when the index does not agree', () => {
    const r = classifyResponse(400, { code: 400, error: 'some data points in the request failed validation', failed_records: [{ index: 9, insert_id: 'x', field: 'properties.time', message: 'bad' }] });
    assert.equal(r.kind, 'partial');
    assert.equal(classifyResponse(400, { code: 400, error: 'unable to parse request body as JSON' }).kind, 'refused');
    assert.equal(classifyResponse(429, { code: 429 }, 2000).kind, 'retryable');
    assert.equal(classifyResponse(503, undefined).kind, 'retryable');
    assert.equal(classifyResponse(403, undefined).kind, 'refused');
  });

  it('splits into requests of at most 2000 events and records the progress after each', async () => {
    const events = Array.from({ length: 4500 }, (_, i) => ev(i));
    const delivery = sendContext();
    await sendEvents(events, ctxFor(fake), delivery);
    assert.deepEqual(fake.requests.map((r) => r.events), [2000, 2000, 500]);
    assert.equal(fake.ingested.size, 4500);
    assert.deepEqual(delivery.progressed.map((p) => (p.data as AnalyticsEvent[]).length), [2500, 500]);
  });

  it('413: splits the request in halves until it fits; a single event still too large is refused', async () => {
    const small = await server({ maxBytes: 3000 });
    const events = Array.from({ length: 24 }, (_, i) => ev(i));
    events.push(ev(99, { properties: { blob: 'x'.repeat(4000) } }));
    const err = await failure(sendEvents(events, ctxFor(small), never));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual([...rejectedIds(err).keys()], ['ins-99']);
    assert.match(rejectedIds(err).get('ins-99')!, /mixpanel 413: request exceeds max limit of 3000 bytes: the event alone/);
    assert.equal(small.ingested.size, 24);
    assert.ok(small.requests.some((r) => r.status === 413));
    assert.ok(small.requests.filter((r) => r.status === 200).every((r) => r.bytes <= 3000));
  });

  it('refuses an event of 1 MB or more without sending it', async () => {
    const err = await failure(sendEvents([ev(0), ev(1, { properties: { blob: 'y'.repeat(1_000_000) } })], ctxFor(fake), never));
    assert.ok(err instanceof PartialFailure);
    assert.match(rejectedIds(err).get('ins-1')!, /the event alone \(\d+ bytes of JSON\) exceeds Mixpanel's limit of 1000000 bytes per event/);
    assert.deepEqual([...fake.ingested.keys()], ['ins-0']);
    assert.equal(fake.requests.length, 1);
  });

  it('429 and 5xx: RetryableError for the whole batch, Retry-After honoured, nothing ingested', async () => {
    fake.inject({ status: 429, retryAfter: '7' });
    const err = await failure(sendEvents([ev(0), ev(1)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError && !(err instanceof PartialFailure), String(err));
    assert.equal(err.retryAfterMillis, 7000);
    assert.match(err.message, /mixpanel 429: Project exceeded rate limits/);
    fake.inject({ status: 502 });
    const err2 = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err2 instanceof RetryableError);
    assert.equal(err2.retryAfterMillis, undefined);
    assert.equal(fake.ingested.size, 0);
  });

  it('a failure after part of the batch was delivered: PartialFailure with only the rest to retry', async () => {
    fake.inject({ delayMillis: 0 });
    fake.inject({ status: 503, retryAfter: '1' });
    const events = Array.from({ length: 12 }, (_, i) => ev(i));
    const err = await failure(sendEvents(events, ctxFor(fake, { max_events_per_request: 5 }), never));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual(err.rejected, []);
    assert.deepEqual(retriedIds(err), events.slice(5).map((e) => e.insert_id));
    assert.equal(err.retryAfterMillis, 1000);
    assert.deepEqual([...fake.ingested.keys()], events.slice(0, 5).map((e) => e.insert_id));
  });

  it('connection reset: RetryableError; a slow answer: aborted after the per-request timeout', async () => {
    fake.inject({ reset: true });
    const err = await failure(sendEvents([ev(0)], ctxFor(fake), never));
    assert.ok(err instanceof RetryableError, String(err));
    assert.match(err.message, /mixpanel: request to 127\.0\.0\.1:\d+ failed/);
    fake.inject({ delayMillis: 1000 });
    const started = Date.now();
    const slow = await failure(sendEvents([ev(0)], ctxFor(fake), sendContext({ timeoutMillis: 150 })));
    assert.ok(slow instanceof RetryableError, String(slow));
    assert.match(slow.message, /timed out after 150ms/);
    assert.ok(Date.now() - started < 1000);
  });

  it('events without a valid time are refused before anything is sent', async () => {
    const err = await failure(sendEvents([ev(0, { time_unix_nano: '0' }), ev(1, { time_unix_nano: '' })], ctxFor(fake), never));
    assert.ok(err instanceof PermanentError);
    assert.match(err.message, /no valid time/);
    assert.equal(fake.requests.length, 0);
  });
});
