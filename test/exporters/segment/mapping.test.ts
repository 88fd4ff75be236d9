/**
 * The segment exporter's mapping (event → track call), its answers' reading, and its config
 * errors with their paths.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { segmentSchema } from '../../../exporters/segment/index.js';
import { batchUrl } from '../../../exporters/segment/config.js';
import { compileMapping, isoTimestamp, messageId, NO_IDENTITY_REASON, type SegmentTrack } from '../../../exporters/segment/mapping.js';
import { basicAuthorization, classifyResponse, waitMillis } from '../../../exporters/segment/client.js';
import { errorsOf } from '../../config/errors.js';

const cfg = (over: Record<string, unknown> = {}) => segmentSchema.parse({ write_key: 'wk', ...over });
const map = (e: AnalyticsEvent, over: Record<string, unknown> = {}): SegmentTrack => {
  const r = compileMapping(cfg(over))(e);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.call;
};

const purchase: AnalyticsEvent = {
  name: 'purchase',
  time_unix_nano: '1795288700123456789',
  insert_id: 'a1b2c3d4e5f6',
  user_id: 'u-1f3a9c',
  session_id: 's-9f2c1a7e',
  properties: { value: 59.9, currency: 'EUR', items: [{ item_id: 'sku-1', price: 29.95, quantity: 2 }], coupon: null },
  user_properties: { plan: 'pro', seats: 3 },
  context: { source: 'span', 'service.name': 'shop-web', 'service.version': '1.4.2', 'client.address': '203.0.113.0', 'user_agent.original': 'Mozilla/5.0', 'deployment.environment': 'staging' },
};

describe('segment mapping', () => {
  it('makes a track call: event, userId, ISO timestamp in milliseconds, messageId = insert_id, typed properties', () => {
    const c = map(purchase);
    assert.equal(c.type, 'track');
    assert.equal(c.event, 'purchase');
    assert.equal(c.userId, 'u-1f3a9c');
    assert.equal(c.anonymousId, 's-9f2c1a7e', 'anonymous_id defaults to device_id, then session_id');
    assert.equal(c.timestamp, '2026-11-21T19:18:20.123Z');
    assert.equal(c.messageId, 'a1b2c3d4e5f6');
    // Numbers stay numbers, items an array of objects, null kept.
    const wire = JSON.parse(JSON.stringify(c)) as { properties: Record<string, unknown> };
    assert.deepEqual(wire.properties.items, [{ item_id: 'sku-1', price: 29.95, quantity: 2 }]);
    assert.equal(wire.properties.value, 59.9);
    assert.equal(wire.properties.coupon, null);
    assert.equal(wire.properties.session_id, 's-9f2c1a7e');
    assert.deepEqual(c.context.traits, { plan: 'pro', seats: 3 });
    assert.equal(c.context.library.name, 'otelytics');
    assert.match(c.context.library.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(c.context.app, { name: 'shop-web', version: '1.4.2' });
    assert.equal(c.context.userAgent, 'Mozilla/5.0');
    assert.equal(c.context.ip, undefined, 'no ip without send_ip');
    assert.equal(c.integrations, undefined);
  });

  it('identity: anonymousId from device_id first; anonymised events need insert_id in anonymous_id; none at all is refused', () => {
    assert.equal(map({ ...purchase, device_id: 'd-77' }).anonymousId, 'd-77');
    const anonymous: AnalyticsEvent = { ...purchase, user_id: undefined, session_id: undefined, user_properties: undefined };
    const r = compileMapping(cfg())(anonymous);
    assert.deepEqual(r, { ok: false, reason: NO_IDENTITY_REASON });
    const c = map(anonymous, { anonymous_id: ['device_id', 'session_id', 'insert_id'] });
    assert.equal(c.anonymousId, purchase.insert_id);
    assert.equal(c.userId, undefined);
    assert.equal(map(purchase, { user_id: ['properties.currency'] }).userId, 'EUR');
  });

  it('ip, user agent, context properties and integrations as configured; a property named session_id wins', () => {
    const c = map({ ...purchase, properties: { session_id: 'own' } }, { send_ip: true, send_user_agent: false, context_properties: ['deployment.environment', 'missing'], integrations: { All: false, Mixpanel: true } });
    assert.equal(c.context.ip, '203.0.113.0');
    assert.equal(c.context.userAgent, undefined);
    assert.deepEqual(c.properties, { session_id: 'own', 'deployment.environment': 'staging' });
    assert.deepEqual(c.integrations, { All: false, Mixpanel: true });
    assert.deepEqual(map(purchase, { session_id: [] }).properties.session_id, undefined);
  });

  it('messageId: the insert_id under 100 characters, else a SHA-256 of it, always the same', () => {
    assert.equal(messageId('x'.repeat(99)), 'x'.repeat(99));
    const long = 'y'.repeat(100);
    assert.equal(messageId(long), `sha256:${createHash('sha256').update(long).digest('hex')}`);
    assert.equal(messageId(long), messageId(long));
    assert.ok(messageId(long).length < 100);
    assert.notEqual(messageId(long), messageId('y'.repeat(101)));
  });

  it('timestamps: ISO 8601 UTC with milliseconds; no timestamp for an absent or zero time', () => {
    assert.equal(isoTimestamp('1795288700000000000'), '2026-11-21T19:18:20.000Z');
    assert.equal(isoTimestamp('0'), undefined);
    assert.equal(isoTimestamp(''), undefined);
    assert.equal(map({ ...purchase, time_unix_nano: '0' }).timestamp, undefined);
  });
});

describe('segment config', () => {
  it('endpoints: US and EU hosts, an endpoint without a path gets /v1/batch', () => {
    assert.equal(batchUrl(cfg()), 'https://api.segment.io/v1/batch');
    assert.equal(batchUrl(cfg({ region: 'eu' })), 'https://events.eu1.segmentapis.com/v1/batch');
    assert.equal(batchUrl(cfg({ endpoint: 'https://rudder.example.com' })), 'https://rudder.example.com/v1/batch');
    assert.equal(batchUrl(cfg({ endpoint: 'http://127.0.0.1:8080/custom/batch' })), 'http://127.0.0.1:8080/custom/batch');
    assert.equal(batchUrl(cfg({ endpoint: '' })), 'https://api.segment.io/v1/batch');
    assert.equal(basicAuthorization('abc123'), 'Basic YWJjMTIzOg==', 'the docs\' example: abc123 + ":"');
  });

  it('config errors name their path', () => {
    const yaml = (exporter: string) => `
receivers: { otlp: }
processors: { analytics: }
exporters: { segment: ${exporter} }
service: { pipelines: { events: { receivers: [otlp], processors: [analytics], exporters: [segment] } } }
`;
    assert.deepEqual(errorsOf(yaml('{ write_key: wk }')), []);
    const has = (errors: string[], re: RegExp) => assert.ok(errors.some((e) => re.test(e)), errors.join('\n'));
    has(errorsOf(yaml('{}')), /^exporters::segment::write_key: /);
    has(errorsOf(yaml('{ write_key: "wk " }')), /^exporters::segment::write_key: must not contain whitespace/);
    has(errorsOf(yaml('{ write_key: wk, endpoint: "ftp://x" }')), /^exporters::segment::endpoint: must be an http:\/\/ or https:\/\/ URL/);
    has(errorsOf(yaml('{ write_key: wk, region: mars }')), /^exporters::segment::region: /);
    has(errorsOf(yaml('{ write_key: wk, anonymous_id: [props.x] }')), /^exporters::segment::anonymous_id: unknown field path "props.x"/);
    has(errorsOf(yaml('{ write_key: wk, max_events_per_request: 2501 }')), /^exporters::segment::max_events_per_request: /);
    has(errorsOf(yaml('{ write_key: wk, max_request_bytes: 5000000 }')), /^exporters::segment::max_request_bytes: /);
    has(errorsOf(yaml('{ write_key: wk, integrations: { All: "yes" } }')), /^exporters::segment::integrations::All: /);
    has(errorsOf(yaml('{ write_key: wk, api_key: x }')), /^exporters::segment(::api_key)?: unknown key/);
  });
});

describe('segment answers', () => {
  it('classifies 400 (split), 400 about the write key (refused), 413, 429 and 5xx (retried), 401 (refused)', () => {
    assert.equal(classifyResponse(200, { success: true }).kind, 'ok');
    assert.equal(classifyResponse(400, { success: false, message: 'Invalid JSON' }).kind, 'bad_request');
    assert.equal(classifyResponse(400, 'Invalid Authorization Header').kind, 'refused');
    assert.equal(classifyResponse(400, { code: 'invalid_write_key', message: 'Invalid Write Key' }).kind, 'refused');
    assert.equal(classifyResponse(413, undefined).kind, 'too_large');
    const t = classifyResponse(429, { message: 'Too Many Requests' }, 3000);
    assert.deepEqual(t, { kind: 'retryable', error: 'segment 429: Too Many Requests', retryAfterMillis: 3000 });
    assert.equal(classifyResponse(503, undefined).kind, 'retryable');
    assert.equal(classifyResponse(408, undefined).kind, 'retryable');
    assert.equal(classifyResponse(401, undefined).kind, 'refused');
    assert.equal(classifyResponse(404, undefined).kind, 'refused');
  });

  it('waits Retry-After, else X-RateLimit-Reset (seconds, or a Unix time)', () => {
    const now = Date.parse('2026-11-21T10:00:00Z');
    assert.equal(waitMillis('7', '30', now), 7000);
    assert.equal(waitMillis('Sat, 21 Nov 2026 10:00:30 GMT', null, now), 30_000);
    assert.equal(waitMillis(null, '12', now), 12_000);
    assert.equal(waitMillis(null, String(now / 1000 + 20), now), 20_000);
    assert.equal(waitMillis(null, null, now), undefined);
  });
});
