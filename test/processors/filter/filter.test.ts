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

  it('rejects an invalid regular expression at load time with its path', () => {
    const r = filterProcessorFactory.configSchema.safeParse({ events: { include: { properties: { a: { regex: '(' } } } } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ['events', 'include', 'properties', 'a', 'regex']);
  });
});
