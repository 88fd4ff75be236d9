import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDebug } from '../../../exporters/debug/index.js';
import type { AnalyticsEvent } from '../../../src/event.js';

const ev = (i: number): AnalyticsEvent => ({ name: 'view_item', time_unix_nano: String(i), insert_id: `id-${i}`, properties: {}, context: { source: 'span' } });

describe('debug exporter format', () => {
  it('prints a summary, a line per event, or the full JSON', () => {
    const p = { signal: 'events' as const, data: [{ ...ev(1), session_id: 's-1', properties: { item_id: 'trq22o064-q11', value: 3 } }] };
    assert.equal(formatDebug(p, 'basic'), 'events: 1 events\n');
    assert.equal(formatDebug(p, 'normal'), 'view_item session=s-1 item_id=trq22o064-q11 value=3\n');
    assert.deepEqual(JSON.parse(formatDebug(p, 'detailed')), p.data[0]);
  });
});
