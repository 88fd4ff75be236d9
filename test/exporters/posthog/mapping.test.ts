/** The posthog exporter's mapping: the uuid of each event (RFC 9562 version 5 of its insert_id), identity, properties and timestamps. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { posthogSchema } from '../../../exporters/posthog/index.js';
import { batchUrl } from '../../../exporters/posthog/config.js';
import { compileMapping, INSERT_ID_NAMESPACE, insertIdUuid, NAMESPACE_URL, NO_DISTINCT_ID_REASON, uuidV5 } from '../../../exporters/posthog/mapping.js';

/** RFC 9562: 8-4-4-4-12 hex digits, version nibble 5, variant bits 10. */
const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const map = (over: Record<string, unknown> = {}) => compileMapping(posthogSchema.parse({ api_key: 'phc_test', ...over }));

function ev(over: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return {
    name: 'purchase',
    time_unix_nano: '1795288700123456789',
    insert_id: 'a1b2c3d4e5f60718:0',
    user_id: 'user-1001',
    device_id: 'dev-77',
    session_id: 's-9f2c1a7e',
    properties: { value: 59.9, currency: 'EUR', items: [{ item_id: 'sku-1', price: 29.95, quantity: 2 }] },
    user_properties: { plan: 'pro' },
    context: { source: 'span' },
    ...over,
  };
}

describe('posthog uuid from insert_id', () => {
  it('is RFC 9562 version 5: the RFC\'s name-based algorithm (checked against a known vector)', () => {
    // uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") in Python's documentation.
    assert.equal(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
    assert.equal(INSERT_ID_NAMESPACE, uuidV5(NAMESPACE_URL, 'urn:otelytics:insert_id'));
    assert.equal(INSERT_ID_NAMESPACE, 'b8cfd1e9-c158-5a2b-92a2-e77b578716f5');
  });

  it('is a valid version 5 UUID, the same for the same insert_id, different for different ones', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `${(i * 2654435761).toString(16)}:${i % 3}`);
    const uuids = ids.map(insertIdUuid);
    for (const u of uuids) assert.match(u, UUID_V5);
    assert.deepEqual(ids.map(insertIdUuid), uuids, 'deterministic');
    assert.equal(new Set(uuids).size, ids.length, 'distinct');
    assert.notEqual(insertIdUuid('abc'), insertIdUuid('abd'));
    assert.notEqual(insertIdUuid('x'), insertIdUuid('X'));
    assert.equal(insertIdUuid('a1b2'), insertIdUuid('a1b2'));
    assert.match(insertIdUuid(''), UUID_V5);
    assert.match(insertIdUuid('ünïcødé ✓'), UUID_V5);
  });
});

describe('posthog mapping', () => {
  it('maps an identified event: distinct_id from user_id, $session_id, $set, typed properties, ISO 8601 microseconds', () => {
    const r = map()(ev());
    assert.ok(r.ok);
    assert.deepEqual(r.event, {
      event: 'purchase',
      distinct_id: 'user-1001',
      properties: { value: 59.9, currency: 'EUR', items: [{ item_id: 'sku-1', price: 29.95, quantity: 2 }], $session_id: 's-9f2c1a7e', $set: { plan: 'pro' } },
      uuid: insertIdUuid('a1b2c3d4e5f60718:0'),
      timestamp: '2026-11-21T19:18:20.123456Z',
    });
    const json = JSON.parse(JSON.stringify(r.event)) as { properties: { value: unknown; items: { price: unknown }[] } };
    assert.equal(typeof json.properties.value, 'number');
    assert.equal(typeof json.properties.items[0]!.price, 'number');
  });

  it('falls back to the device id, then the session id, as anonymous events ($process_person_profile: false, no $set)', () => {
    const byDevice = map()(ev({ user_id: undefined }));
    assert.ok(byDevice.ok);
    assert.equal(byDevice.event.distinct_id, 'dev-77');
    assert.equal(byDevice.event.properties.$process_person_profile, false);
    assert.equal(byDevice.event.properties.$set, undefined);
    const bySession = map()(ev({ user_id: undefined, device_id: undefined }));
    assert.ok(bySession.ok);
    assert.equal(bySession.event.distinct_id, 's-9f2c1a7e');
    assert.equal(bySession.event.properties.$session_id, 's-9f2c1a7e');
  });

  it('refuses an event without any id, unless insert_id is added to distinct_id', () => {
    const bare = ev({ user_id: undefined, device_id: undefined, session_id: undefined });
    assert.deepEqual(map()(bare), { ok: false, reason: NO_DISTINCT_ID_REASON });
    const r = map({ distinct_id: ['user_id', 'device_id', 'session_id', 'insert_id'] })(bare);
    assert.ok(r.ok && r.event.distinct_id === bare.insert_id && !('$session_id' in r.event.properties));
  });

  it('leaves timestamp out when the event has no time, and the same event always maps the same', () => {
    const r = map()(ev({ time_unix_nano: '0' }));
    assert.ok(r.ok && r.event.timestamp === undefined);
    assert.deepEqual(map()(ev()), map()(ev()));
  });

  it('builds the /batch/ URL from region or endpoint', () => {
    assert.equal(batchUrl({ region: 'us' }), 'https://us.i.posthog.com/batch/');
    assert.equal(batchUrl({ region: 'eu' }), 'https://eu.i.posthog.com/batch/');
    assert.equal(batchUrl({ region: 'us', endpoint: 'https://posthog.example.com' }), 'https://posthog.example.com/batch/');
    assert.equal(batchUrl({ region: 'eu', endpoint: 'http://127.0.0.1:9/ingest/batch/' }), 'http://127.0.0.1:9/ingest/batch/');
  });
});
