import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileEventMatcher, filterProcessorFactory } from '../../../processors/filter/index.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { pino } from 'pino';
import type { Payload } from '../../../src/component.js';

const ev = (name: string, extra: Partial<AnalyticsEvent> = {}): AnalyticsEvent => ({ name, time_unix_nano: '1', insert_id: name, properties: {}, context: { source: 'span', 'service.name': 'shop' }, ...extra });

describe('filter processor', () => {
  it('drops by name glob and counts what it dropped', async () => {
    const telemetry = new Telemetry();
    const cfg = filterProcessorFactory.configSchema.parse({ events: { exclude: { names: ['code_references.*', 'feature_flag.?valuated'] } } });
    const out: string[] = [];
    const p = filterProcessorFactory.create({ id: 'filter', pipeline: 'events', logger: pino({ level: 'silent' }), telemetry }, cfg, {
      consume: async (x: Payload) => void out.push(...(x.data as AnalyticsEvent[]).map((e) => e.name)),
    });
    await p.consume({ signal: 'events', data: [ev('view_item'), ev('code_references.lookup'), ev('feature_flag.evaluated'), ev('code_referencesX')] });
    assert.deepEqual(out, ['view_item', 'code_referencesX']);
    assert.match(await telemetry.registry.metrics(), /otelytics_events_dropped\{component="filter",reason="filtered"\} 2/);
  });

  it('includes by category, properties and context', () => {
    const m = compileEventMatcher({ categories: ['commerce'], properties: { currency: { in: ['EUR', 'USD'] }, item_id: { exists: true } }, context: { 'service.name': { regex: '^sho' } } });
    assert.equal(m(ev('a', { category: 'commerce', properties: { currency: 'EUR', item_id: 'x' } })), true);
    assert.equal(m(ev('a', { category: 'commerce', properties: { currency: 'GBP', item_id: 'x' } })), false);
    assert.equal(m(ev('a', { category: 'account', properties: { currency: 'EUR', item_id: 'x' } })), false);
    assert.equal(m(ev('a', { category: 'commerce', properties: { currency: 'EUR' } })), false);
  });

  it('matches privacy levels, consent (deny by default), value tests of the analytics rules, and one name as a string', () => {
    const m = compileEventMatcher(filterProcessorFactory.configSchema.parse({ events: { include: { names: 'purchase', privacy_levels: ['internal'], consent: { all: ['analytics'], any: ['ads', 'email'] }, properties: { value: { gte: 10 } } } } }).events.include!);
    const ok = ev('purchase', { privacy_level: 'internal', consent: { analytics: true, email: true }, properties: { value: 12.5 } });
    assert.equal(m(ok), true);
    assert.equal(m({ ...ok, consent: { analytics: true } }), false, 'none of any');
    assert.equal(m({ ...ok, consent: undefined }), false, 'no consent is no consent');
    assert.equal(m({ ...ok, privacy_level: 'sensitive' }), false);
    assert.equal(m({ ...ok, properties: { value: 9 } }), false);
    assert.equal(m({ ...ok, name: 'purchase_x' }), false);
  });

  it('knows only the event keys of the match syntax', () => {
    const r = filterProcessorFactory.configSchema.safeParse({ events: { exclude: { kind: 'server' } } });
    assert.equal(r.success, false);
    assert.deepEqual([r.error!.issues[0]!.code, r.error!.issues[0]!.path], ['unrecognized_keys', ['events', 'exclude']]);
  });

  it('rejects an invalid regular expression at load time with its path', () => {
    const r = filterProcessorFactory.configSchema.safeParse({ events: { include: { properties: { a: { regex: '(' } } } } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ['events', 'include', 'properties', 'a', 'regex']);
  });
});
