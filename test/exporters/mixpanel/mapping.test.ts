/** The mixpanel exporter's mapping (event model → Import API event), its $insert_id, and its config's errors with their paths. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { authorization, importUrl, mixpanelSchema } from '../../../exporters/mixpanel/config.js';
import { compileMapping, mixpanelInsertId, NO_TIME_REASON, VALID_INSERT_ID, type MapResult } from '../../../exporters/mixpanel/mapping.js';

const map = (e: AnalyticsEvent, over: Record<string, unknown> = {}) => compileMapping(mixpanelSchema.parse({ project_token: 't', ...over }))(e);
const ok = (r: MapResult) => {
  assert.ok(r.ok, JSON.stringify(r));
  return r;
};

const base: AnalyticsEvent = {
  name: 'purchase',
  time_unix_nano: '1795288700123456789',
  insert_id: '3f2a9c0d4e5b6a7c8d9e0f1a2b3c4d5e',
  user_id: 'u-42',
  device_id: 'dev-7',
  session_id: 's-1',
  properties: { value: 59.9, currency: 'EUR', items: [{ item_id: 'sku-1', price: 29.95, quantity: 2 }], flag: true },
  user_properties: { plan: 'pro' },
  context: { source: 'span', 'client.address': '203.0.113.0', 'deployment.environment': 'prod' },
};

describe('mixpanel mapping', () => {
  it('maps name, time in ms, identity for Simplified ID Merge, and keeps numbers and items typed', () => {
    const r = ok(map(base));
    assert.equal(r.event.event, 'purchase');
    const p = r.event.properties;
    assert.equal(p.time, 1795288700123);
    assert.equal(p.distinct_id, 'u-42');
    assert.equal(p.$user_id, 'u-42');
    assert.equal(p.$device_id, 'dev-7');
    assert.equal(p.$insert_id, base.insert_id);
    assert.equal(r.insertId, base.insert_id);
    assert.equal(p.session_id, 's-1');
    assert.equal(p.value, 59.9);
    assert.deepEqual(p.items, [{ item_id: 'sku-1', price: 29.95, quantity: 2 }]);
    assert.equal(p.flag, true);
    assert.equal(p.ip, undefined, 'no ip without send_ip');
    assert.equal(p.plan, undefined, 'user properties are not event properties');
    assert.equal(p['deployment.environment'], undefined);
    // The JSON sent: numbers as JSON numbers, items as an array of objects.
    assert.match(JSON.stringify(r.event), /"items":\[\{"item_id":"sku-1","price":29.95,"quantity":2\}\]/);
  });

  it('distinct_id: the device id without a user id, "" without either', () => {
    const anon = ok(map({ ...base, user_id: undefined }));
    assert.equal(anon.event.properties.distinct_id, 'dev-7');
    assert.equal(anon.event.properties.$user_id, undefined);
    assert.equal(anon.event.properties.$device_id, 'dev-7');
    const bySession = ok(map({ ...base, user_id: undefined, device_id: undefined }));
    assert.equal(bySession.event.properties.distinct_id, 's-1');
    const none = ok(map({ ...base, user_id: undefined, device_id: undefined, session_id: undefined }));
    assert.equal(none.event.properties.distinct_id, '');
    assert.ok(!('$user_id' in none.event.properties) && !('$device_id' in none.event.properties));
  });

  it('the reserved properties are the mapping\'s; context properties and ip only when asked', () => {
    const r = ok(map({ ...base, properties: { time: 'x', distinct_id: 'spoof', $insert_id: 'zzz', $user_id: 'other' } }, { context_properties: ['deployment.environment'], send_ip: true }));
    const p = r.event.properties;
    assert.equal(p.time, 1795288700123);
    assert.equal(p.distinct_id, 'u-42');
    assert.equal(p.$insert_id, base.insert_id);
    assert.equal(p.$user_id, 'u-42');
    assert.equal(p['deployment.environment'], 'prod');
    assert.equal(p.ip, '203.0.113.0');
  });

  it('$insert_id: the insert_id when it follows Mixpanel\'s rule, else 36 hex digits of its SHA-256; deterministic', () => {
    assert.equal(mixpanelInsertId(base, 'u'), base.insert_id);
    const long = { ...base, insert_id: 'span:4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:view_item' };
    const a = mixpanelInsertId(long, 'u');
    assert.match(a, VALID_INSERT_ID);
    assert.equal(a.length, 36);
    assert.equal(mixpanelInsertId(structuredClone(long), 'other user'), a, 'from the insert_id alone');
    assert.notEqual(mixpanelInsertId({ ...long, insert_id: long.insert_id + 'x' }, 'u'), a);
    const empty = { ...base, insert_id: '' };
    assert.equal(mixpanelInsertId(empty, 'u'), mixpanelInsertId(structuredClone(empty), 'u'));
    assert.notEqual(mixpanelInsertId(empty, 'u'), mixpanelInsertId({ ...empty, time_unix_nano: '1795288700999000000' }, 'u'));
    assert.match(mixpanelInsertId({ ...base, insert_id: 'a'.repeat(37) }, 'u'), /^[0-9a-f]{36}$/);
  });

  it('an event without a valid time is refused', () => {
    const r = map({ ...base, time_unix_nano: '0' });
    assert.deepEqual(r, { ok: false, reason: NO_TIME_REASON });
  });
});

describe('mixpanel config', () => {
  const issues = (cfg: Record<string, unknown>) => {
    const r = mixpanelSchema.safeParse(cfg);
    assert.ok(!r.success, 'expected an error');
    return r.error.issues.map((i) => `${i.path.join('::')}: ${i.message}`);
  };

  it('names the key of each error', () => {
    assert.deepEqual(issues({}), ['project_token: required: set project_token (or service_account with project_id)']);
    assert.ok(issues({ project_token: 't', endpoint: 'ftp://x' }).some((m) => m.startsWith('endpoint: ')));
    assert.ok(issues({ service_account: { username: 'sa', secret: 's' } }).includes('project_id: required with service_account'));
    assert.ok(issues({ project_token: 't', service_account: { username: 'sa', secret: 's' }, project_id: 1 }).some((m) => m.startsWith('service_account: set either')));
    assert.ok(issues({ project_token: 't', project_id: 12 }).some((m) => m.startsWith('project_id: only used with service_account')));
    assert.ok(issues({ service_account: { username: 'sa' }, project_id: 1 }).some((m) => m.startsWith('service_account::secret: ')));
    assert.ok(issues({ project_token: 't', project_id: 'abc', service_account: { username: 'a', secret: 'b' } }).some((m) => m.startsWith('project_id: must be the numeric project id')));
    assert.ok(issues({ project_token: 't', max_events_per_request: 2001 }).some((m) => m.startsWith('max_events_per_request: ')));
    assert.ok(issues({ project_token: 't', region: 'ap' }).some((m) => m.startsWith('region: ')));
    assert.ok(issues({ project_token: 'abc def' }).some((m) => m.startsWith('project_token: must not contain whitespace')));
    assert.ok(issues({ project_token: 't', user_id: ['props.x'] }).some((m) => /^user_id: unknown field path "props.x"/.test(m)));
  });

  it('URL by region or endpoint, strict=1, project_id for a service account; basic auth', () => {
    assert.equal(importUrl(mixpanelSchema.parse({ project_token: 't' })), 'https://api.mixpanel.com/import?strict=1');
    assert.equal(importUrl(mixpanelSchema.parse({ project_token: 't', region: 'eu' })), 'https://api-eu.mixpanel.com/import?strict=1');
    assert.equal(importUrl(mixpanelSchema.parse({ project_token: 't', region: 'in' })), 'https://api-in.mixpanel.com/import?strict=1');
    assert.equal(importUrl(mixpanelSchema.parse({ project_token: 't', endpoint: 'http://127.0.0.1:9' })), 'http://127.0.0.1:9/import?strict=1');
    assert.equal(importUrl(mixpanelSchema.parse({ project_token: 't', endpoint: '' })), 'https://api.mixpanel.com/import?strict=1');
    const sa = mixpanelSchema.parse({ service_account: { username: 'sa.x', secret: 's3' }, project_id: 1234 });
    assert.equal(importUrl(sa), 'https://api.mixpanel.com/import?strict=1&project_id=1234');
    assert.equal(authorization(sa), `Basic ${Buffer.from('sa.x:s3').toString('base64')}`);
    assert.equal(authorization(mixpanelSchema.parse({ project_token: 'tok' })), `Basic ${Buffer.from('tok:').toString('base64')}`);
    assert.equal(mixpanelSchema.parse({ project_token: 't' }).compression, 'gzip');
  });
});
