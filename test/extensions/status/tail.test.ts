import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PipelineObserver } from '../../../src/component.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { EventTail, HIDDEN, globRegExp, type TailMessage } from '../../../src/extensions/status/tail.js';

const ev = (name: string, i: number): AnalyticsEvent => ({
  name,
  time_unix_nano: String(1_767_225_600_000_000_000n + BigInt(i)),
  insert_id: `id-${i}`,
  user_id: `k1:pseudonym-${i}`,
  properties: { item_id: `sku-${i}`, email: 'jane.doe@example.com' },
  context: { source: 'span', rule: 'r', 'client.address': '203.0.113.7' },
});

function harness(opts: { bufferSize?: number; max?: number; privacy?: boolean } = {}) {
  const observers = new Set<PipelineObserver>();
  let now = 0;
  const tail = new EventTail({
    bufferSize: opts.bufferSize ?? 50,
    maxEventsPerSecond: opts.max ?? 1000,
    pipelines: new Map([
      ['events', { privacy: opts.privacy ?? true }],
      ['events/raw', { privacy: false }],
    ]),
    showValuesWithoutPrivacy: false,
    observe(o) {
      observers.add(o);
      return () => observers.delete(o);
    },
    now: () => now,
  });
  const emit = (pipeline: string, events: AnalyticsEvent[]) => {
    for (const o of observers) o.exported?.(pipeline, { signal: 'events', data: events });
  };
  return { tail, observers, emit, advance: (ms: number) => (now += ms) };
}

test('the tail watches the gateway only while someone watches, and keeps copies', () => {
  const h = harness();
  h.emit('events', [ev('view_item', 1)]);
  assert.equal(h.observers.size, 0);
  const got: TailMessage[] = [];
  const stop = h.tail.watch({}, (m) => got.push(m));
  assert.equal(h.observers.size, 1);
  const batch = [ev('view_item', 2), ev('purchase', 3)];
  h.emit('events', batch);
  batch[0]!.name = 'changed by an exporter';
  h.tail.flush();
  const items = got.flatMap((m) => (m.type === 'events' ? m.items : []));
  assert.deepEqual(items.map((i) => i.event.name), ['view_item', 'purchase']);
  stop();
  assert.equal(h.observers.size, 0);
  assert.equal(h.tail.recent({}).length, 2, 'the buffer stays for the next watcher');
});

test('filters by pipeline and by a glob on the event name', () => {
  const h = harness();
  const got: TailMessage[] = [];
  h.tail.watch({ pipeline: 'events', name: 'view_*' }, (m) => got.push(m));
  h.emit('events', [ev('view_item', 1), ev('purchase', 2), ev('view_cart', 3)]);
  h.emit('events/raw', [ev('view_item', 4)]);
  h.tail.flush();
  const items = got.flatMap((m) => (m.type === 'events' ? m.items : []));
  assert.deepEqual(items.map((i) => `${i.pipeline} ${i.event.name} ${i.event.insert_id}`), ['events view_item id-1', 'events view_cart id-3']);
  assert.ok(globRegExp('user.sign?d_up').test('user.signed_up'));
  assert.ok(!globRegExp('view_*').test('preview_item'));
});

test('pipelines without privacy show names and keys, never values', () => {
  const h = harness();
  const got: TailMessage[] = [];
  h.tail.watch({ pipeline: 'events/raw' }, (m) => got.push(m));
  h.emit('events/raw', [ev('sign_up', 1)]);
  h.tail.flush();
  const e = got.flatMap((m) => (m.type === 'events' ? m.items : []))[0]!.event;
  assert.equal(e.name, 'sign_up');
  assert.deepEqual(e.properties, { item_id: HIDDEN, email: HIDDEN });
  assert.equal(e.user_id, HIDDEN);
  assert.equal(e.context['client.address'], undefined);
  assert.equal(e.context.rule, 'r');
  assert.ok(!JSON.stringify(e).includes('example.com'));
});

test('bounded: a watcher gets at most max_events_per_second, the rest is counted as skipped', () => {
  const h = harness({ bufferSize: 20, max: 5 });
  const got: TailMessage[] = [];
  h.tail.watch({}, (m) => got.push(m));
  h.emit('events', Array.from({ length: 100 }, (_, i) => ev('view_item', i)));
  h.tail.flush();
  const shown = got.flatMap((m) => (m.type === 'events' ? m.items : []));
  const skipped = got.reduce((s, m) => s + (m.type === 'skipped' ? m.count : 0), 0);
  assert.equal(shown.length, 5);
  assert.equal(shown.length + skipped, 100, 'every event is either shown or counted');
  assert.equal(h.tail.recent({}).length, 20, 'the buffer holds buffer_size events per pipeline');
  h.advance(1000);
  h.emit('events', [ev('purchase', 200)]);
  h.tail.flush();
  assert.equal(got.at(-1)?.type === 'events' && got.at(-1)!.type === 'events' ? (got.at(-1) as { items: unknown[] }).items.length : 0, 1, 'a new second, a new budget');
});
