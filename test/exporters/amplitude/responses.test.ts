/**
 * The reading of Amplitude's documented answers (client.ts) and the resulting classification
 * (sender.ts) for bodies the local server does not produce on its own: the SilencedDeviceID 400 of
 * the Batch API docs (with throttled events), a 429 that names nobody, Retry-After as a date,
 * indexes out of range.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartialFailure, RetryableError } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { amplitudeSchema, amplitudeSendContext } from '../../../exporters/amplitude/index.js';
import { classifyResponse, retryAfterMillis, type UploadResult } from '../../../exporters/amplitude/client.js';
import { sendEvents } from '../../../exporters/amplitude/sender.js';
import { sendContext } from '../../delivery/send-context.js';

const never = sendContext();
const events = (n: number): AnalyticsEvent[] =>
  Array.from({ length: n }, (_, i) => ({ name: 'search', time_unix_nano: '1795288700000000000', insert_id: `e${i}`, user_id: `user-${i}00`, properties: {}, context: { source: 'log' } }));

/** A send whose requests get the scripted answers, in order (then 200). */
function scripted(answers: UploadResult[], over: Record<string, unknown> = {}) {
  const sent: number[] = [];
  const ctx = { ...amplitudeSendContext(amplitudeSchema.parse({ api_key: 'k', throttle_backoff: '5s', ...over })), post: async (_b: string, n: number) => (sent.push(n), answers.shift() ?? { kind: 'ok' as const }) };
  return { ctx, sent };
}

describe('Amplitude answers', () => {
  it('reads the SilencedDeviceID 400: silenced events refused, throttled ones held back', () => {
    const r = classifyResponse(400, { code: 400, error: 'Events silenced for device_id', eps_threshold: 100, silenced_devices: ['d1'], silenced_events: [5, 6], throttled_devices: { d2: 100 }, throttled_events: [3, 4], exceeded_daily_quota_devices: {} }, 8);
    assert.equal(r.kind, 'invalid');
    if (r.kind !== 'invalid') return;
    assert.deepEqual([...r.reasons.keys()].sort(), [5, 6]);
    assert.match(r.reasons.get(5)!, /silenced_events/);
    assert.deepEqual([...r.throttled].sort(), [3, 4]);
  });

  it('ignores indexes out of range and treats a 400 that lists nothing as a refusal of the request', () => {
    const r = classifyResponse(400, { code: 400, error: 'Invalid field values on some events', events_with_invalid_fields: { time: [7, -1, 'x'] } }, 3);
    assert.equal(r.kind, 'refused');
    const m = classifyResponse(400, { code: 400, error: 'Request missing required field', missing_field: 'api_key' }, 3);
    assert.ok(m.kind === 'refused' && /missing_field: api_key/.test(m.error));
    assert.equal(classifyResponse(401, 'unauthorized', 3).kind, 'refused');
    assert.equal(classifyResponse(408, undefined, 3).kind, 'retryable');
    assert.equal(classifyResponse(502, undefined, 3).kind, 'retryable');
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMillis('12'), 12_000);
    const now = Date.parse('2026-11-21T10:00:00Z');
    assert.equal(retryAfterMillis('Sat, 21 Nov 2026 10:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMillis('soon'), undefined);
  });

  it('a 400 listing only throttled events: the rest goes at once, the throttled ones wait throttle_backoff', async () => {
    const { ctx, sent } = scripted([classifyResponse(400, { code: 400, error: 'Events silenced for device_id', silenced_events: [], throttled_events: [1] }, 3)]);
    const err = await sendEvents(events(3), ctx, never).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof PartialFailure);
    assert.deepEqual((err.retry as { data: AnalyticsEvent[] }).data.map((e) => e.insert_id), ['e1']);
    assert.equal(err.retryAfterMillis, 5000);
    assert.deepEqual(sent, [3, 2]);
  });

  it('a 429 that names no event, user or device holds the whole request back', async () => {
    const { ctx, sent } = scripted([classifyResponse(429, { code: 429, error: 'Too many requests for some devices and users' }, 4)]);
    const err = await sendEvents(events(4), ctx, never).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RetryableError && !(err instanceof PartialFailure), String(err));
    assert.equal(err.retryAfterMillis, 5000);
    assert.deepEqual(sent, [4]);
  });

  it('a 429 naming throttled devices holds back every event of those devices, even unlisted ones', async () => {
    const evs = events(4).map((e, i) => ({ ...e, user_id: undefined, device_id: i % 2 === 0 ? 'device-hot' : `device-${i}` }));
    const { ctx } = scripted([classifyResponse(429, { code: 429, error: 'Too many requests', throttled_devices: { 'device-hot': 40 }, throttled_events: [0] }, 4)]);
    const err = await sendEvents(evs, ctx, never).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof PartialFailure);
    assert.deepEqual((err.retry as { data: AnalyticsEvent[] }).data.map((e) => e.insert_id), ['e0', 'e2']);
  });
});
