/**
 * The enrich processor: the example product catalogue (CSV, JSON Lines) joined to the fixtures'
 * events, hits and misses counted, a file reloaded when it changes, and a compacted Kafka topic
 * read from its beginning and followed (real broker).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Consumer, Payload, Processor } from '../../../src/component.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { enrichProcessorFactory } from '../../../processors/enrich/index.js';
import { parseCsv, parseTable } from '../../../processors/enrich/table.js';
import { projectRoot } from '../../helpers.js';
import { createTopic, eventsOf, fixtureData, kafkaClient, noKafka, settings, startBroker, type Broker } from '../../exporters/kafka/kafka-helpers.js';
import { describeUnless } from '../../skip.js';

const csvFile = path.join(projectRoot, 'examples', 'catalog', 'products.csv');
const jsonlFile = path.join(projectRoot, 'examples', 'catalog', 'products.jsonl');
type Product = { item_id: string; item_name: string; price: number; currency: string; item_brand: string; item_category: string };
const products: Product[] = fs.readFileSync(jsonlFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const FIELDS = ['item_name', 'price', 'currency', 'item_brand', 'item_category'] as const;

const fixtureEvents = eventsOf(fixtureData());

function processor(raw: Record<string, unknown>, telemetry = new Telemetry()): { p: Processor; out: AnalyticsEvent[][]; telemetry: Telemetry } {
  const out: AnalyticsEvent[][] = [];
  const next: Consumer = { consume: async (x: Payload) => void out.push(x.data as AnalyticsEvent[]) };
  const cfg = enrichProcessorFactory.configSchema.parse(raw);
  return { p: enrichProcessorFactory.create({ ...settings('enrich/products', telemetry), pipeline: 'events' }, cfg, next), out, telemetry };
}

async function lookups(t: Telemetry): Promise<Record<string, number>> {
  const m = (await t.registry.getMetricsAsJSON()).find((x) => x.name === 'otelytics_enrich_lookups_total');
  const out: Record<string, number> = {};
  for (const v of m?.values ?? []) out[String(v.labels.result)] = Number(v.value);
  return out;
}

const clone = (es: AnalyticsEvent[]) => structuredClone(es);

describe('enrich processor', () => {
  it('adds the catalogue fields to the fixtures\' events by item id, and counts hits, misses and events without the key', async () => {
    const { p, out, telemetry } = processor({ key: 'properties.item_id', source: { file: { path: csvFile, number_fields: ['price'] } }, fields: [...FIELDS] });
    await p.start({ getExporter: () => undefined });
    const input = clone(fixtureEvents);
    input.push({ ...structuredClone(input.find((e) => e.properties.item_id)!), insert_id: 'unknown', properties: { item_id: 'zz999z999-z99' } });
    await p.consume({ signal: 'events', data: input });
    await p.shutdown();
    const got = out.flat();
    const byId = new Map(products.map((x) => [x.item_id, x]));
    let hits = 0;
    for (const e of got) {
      const id = e.properties.item_id;
      const row = typeof id === 'string' ? byId.get(id) : undefined;
      if (!row) {
        for (const f of ['item_name', 'item_brand', 'item_category']) assert.equal(e.properties[f], undefined);
        continue;
      }
      hits++;
      for (const f of FIELDS) if (!(f === 'currency' && fixtureEvents.find((x) => x.insert_id === e.insert_id)?.properties.currency)) assert.deepEqual(e.properties[f], row[f], `${e.name} ${id} ${f}`);
    }
    assert.ok(hits >= 10, `${hits} enriched events`);
    assert.equal(typeof got.find((e) => e.properties.item_id === 'trq22o064-q11')!.properties.price, 'number');
    const counts = await lookups(telemetry);
    assert.equal(counts.hit, hits);
    assert.equal(counts.miss, 1);
    assert.equal(counts.no_key, input.filter((e) => e.properties.item_id === undefined).length);
  });

  it('keeps properties the event already has unless overwrite is on', async () => {
    const ev: AnalyticsEvent = { name: 'purchase', time_unix_nano: '1', insert_id: 'p', properties: { item_id: 'trq22o064-q11', currency: 'CHF' }, context: { source: 'span' } };
    const keep = processor({ key: 'properties.item_id', source: { file: { path: jsonlFile } }, fields: { currency: 'currency', product_name: 'item_name' } });
    await keep.p.start({ getExporter: () => undefined });
    await keep.p.consume({ signal: 'events', data: [structuredClone(ev)] });
    await keep.p.shutdown();
    assert.equal(keep.out[0]![0]!.properties.currency, 'CHF');
    assert.equal(keep.out[0]![0]!.properties.product_name, products[0]!.item_name);
    const over = processor({ key: 'properties.item_id', source: { file: { path: jsonlFile } }, fields: ['currency'], overwrite: true });
    await over.p.start({ getExporter: () => undefined });
    await over.p.consume({ signal: 'events', data: [structuredClone(ev)] });
    await over.p.shutdown();
    assert.equal(over.out[0]![0]!.properties.currency, products[0]!.currency);
  });

  it('reads CSV, JSON and JSON Lines into the same table, and names the row of a mistake', () => {
    const csv = parseTable(fs.readFileSync(csvFile, 'utf8'), 'csv', 'item_id', ['price']);
    const jsonl = parseTable(fs.readFileSync(jsonlFile, 'utf8'), 'jsonl', 'item_id');
    const json = parseTable(JSON.stringify(products), 'json', 'item_id');
    const byKey = parseTable(JSON.stringify(Object.fromEntries(products.map(({ item_id, ...rest }) => [item_id, rest]))), 'json', 'item_id');
    assert.deepEqual(csv, jsonl);
    assert.deepEqual(json, jsonl);
    assert.deepEqual([...byKey.keys()], [...jsonl.keys()]);
    assert.deepEqual(parseCsv('a,b\r\n"x ""y"", z",2\n\n'), [['a', 'b'], ['x "y", z', '2']]);
    assert.throws(() => parseTable('id,name\n"open,1\n', 'csv', 'id'), /line 2: a quoted field is not closed/);
    assert.throws(() => parseTable('sku,name\n1,a\n', 'csv', 'id'), /no id column/);
    assert.throws(() => parseTable('id,price\n1,cheap\n', 'csv', 'id', ['price']), /row 2: price is not a number/);
    assert.throws(() => parseTable('{"id":1}\n{oops\n', 'jsonl', 'id'), /line 2: not JSON/);
    assert.throws(() => parseTable('[{"name":"x"}]', 'json', 'id'), /element 0: no id/);
  });

  it('reloads the file when it changes, and keeps the last good table when the new one is broken', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-enrich-'));
    const file = path.join(dir, 'products.jsonl');
    fs.writeFileSync(file, JSON.stringify({ item_id: 'a', price: 1 }) + '\n');
    const { p, out } = processor({ key: 'properties.item_id', source: { file: { path: file, poll_interval: '50ms' } }, fields: ['price'] });
    await p.start({ getExporter: () => undefined });
    const ev = (): AnalyticsEvent => ({ name: 'view_item', time_unix_nano: '1', insert_id: 'x', properties: { item_id: 'a' }, context: { source: 'span' } });
    const priceNow = async () => {
      await p.consume({ signal: 'events', data: [ev()] });
      return out.at(-1)![0]!.properties.price;
    };
    try {
      assert.equal(await priceNow(), 1);
      fs.writeFileSync(file, JSON.stringify({ item_id: 'a', price: 2 }) + '\n' + JSON.stringify({ item_id: 'b', price: 3 }) + '\n');
      for (let i = 0; i < 100 && (await priceNow()) !== 2; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await priceNow(), 2);
      fs.writeFileSync(file, '{broken');
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await priceNow(), 2, 'the previous table stays in use');
    } finally {
      await p.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses configs without exactly one source or with an unknown file type, and fails to start on a missing file', async () => {
    const bad = (raw: unknown) => enrichProcessorFactory.configSchema.safeParse(raw);
    assert.equal(bad({ key: 'properties.item_id', source: {}, fields: ['x'] }).success, false);
    assert.equal(bad({ key: 'properties.item_id', source: { file: { path: 'x.csv' }, kafka: { topic: 't' } }, fields: ['x'] }).success, false);
    assert.equal(bad({ key: 'properties.item_id', source: { file: { path: 'x.txt' } }, fields: ['x'] }).success, false);
    assert.equal(bad({ key: 'item', source: { file: { path: 'x.csv' } }, fields: ['x'] }).success, false);
    const { p } = processor({ key: 'properties.item_id', source: { file: { path: '/nonexistent/products.csv' } }, fields: ['x'] });
    await assert.rejects(p.start({ getExporter: () => undefined }), /cannot read \/nonexistent\/products.csv: ENOENT/);
  });

  describe('items (GA4 ecommerce items lists)', () => {
    const ev = (name: string, properties: AnalyticsEvent['properties']): AnalyticsEvent => ({ name, time_unix_nano: '1795600800011796086', insert_id: name, properties, context: { source: 'span' } });
    const byId = new Map(products.map((x) => [x.item_id, x]));

    it('fills each item from the catalogue by item_id, numbers as numbers, and sets value and currency as GA4 defines them', async () => {
      const { p, out, telemetry } = processor({
        key: 'properties.item_id',
        source: { file: { path: csvFile, number_fields: ['price'] } },
        fields: ['item_name', 'price', 'currency'],
        items: { fields: ['item_name', 'price', 'item_brand', 'item_category'], value: true },
      });
      await p.start({ getExporter: () => undefined });
      const view = ev('view_item', { item_id: 'trq22o064-q11', items: [{ item_id: 'trq22o064-q11' }] });
      const cart = ev('add_to_cart', {
        items: [
          { item_id: 'trq22o064-q11', quantity: 1 },
          { item_id: 'le222n0ab-k11', quantity: 2, item_name: 'Jeans (shop name)' },
          'not a map',
          { quantity: 1 },
          { item_id: 'zz999z999-z99', quantity: 1 },
        ],
      });
      const purchase = ev('purchase', { value: 229.74, currency: 'EUR', items: [{ item_id: 'ad115o0k2-a11', quantity: 1, price: 89.95 }] });
      await p.consume({ signal: 'events', data: [view, cart, purchase] });
      await p.shutdown();
      const [v, c, pu] = out.flat();
      const t = byId.get('trq22o064-q11')!;
      const j = byId.get('le222n0ab-k11')!;
      // The talk's view_item: item_name and price at the top and in its item, and value.
      assert.deepEqual(v!.properties, {
        item_id: t.item_id,
        item_name: t.item_name,
        price: t.price,
        currency: 'EUR',
        items: [{ item_id: t.item_id, item_name: t.item_name, price: t.price, item_brand: t.item_brand, item_category: t.item_category }],
        value: t.price,
      });
      assert.equal(typeof v!.properties.value, 'number');
      const items = c!.properties.items as Record<string, unknown>[];
      assert.deepEqual(items[0], { item_id: t.item_id, quantity: 1, item_name: t.item_name, price: t.price, item_brand: t.item_brand, item_category: t.item_category });
      assert.deepEqual(items[1], { item_id: j.item_id, quantity: 2, item_name: 'Jeans (shop name)', price: j.price, item_brand: j.item_brand, item_category: j.item_category }, 'fields the item has are kept');
      assert.deepEqual(items.slice(2), ['not a map', { quantity: 1 }, { item_id: 'zz999z999-z99', quantity: 1 }]);
      assert.equal(c!.properties.value, undefined, 'no value while an item has no price');
      assert.deepEqual(pu!.properties, { value: 229.74, currency: 'EUR', items: [{ item_id: 'ad115o0k2-a11', quantity: 1, price: 89.95, item_name: 'Sneaker Low weiß', item_brand: 'Stadtlauf', item_category: 'Schuhe/Sneaker' }] });
      // One lookup for view_item's key, and one per item; events without the key count as no_key.
      assert.deepEqual(await lookups(telemetry), { hit: 5, miss: 1, no_key: 3 });
    });

    it('sums price × quantity of several items, and takes the currency only when the rows share one', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enrich-items-'));
      try {
        const file = path.join(dir, 'p.jsonl');
        fs.writeFileSync(file, [{ item_id: 'a', price: 19.99, currency: 'EUR' }, { item_id: 'b', price: 59.9, currency: 'EUR' }, { item_id: 'c', price: 5, currency: 'CHF' }].map((r) => JSON.stringify(r)).join('\n'));
        const { p, out } = processor({ source: { file: { path: file } }, fields: ['price'], items: { value: true } });
        await p.start({ getExporter: () => undefined });
        await p.consume({
          signal: 'events',
          data: [
            ev('begin_checkout', { items: [{ item_id: 'a' }, { item_id: 'b', quantity: 2 }] }),
            ev('view_cart', { items: [{ item_id: 'a' }, { item_id: 'c' }] }),
            ev('view_item_list', { items: [{ item_id: 'a', quantity: 'two' }] }),
            ev('add_to_cart', { items: [] }),
          ],
        });
        await p.shutdown();
        assert.deepEqual(out.flat().map((e) => [e.properties.value, e.properties.currency]), [
          [139.79, 'EUR'],
          [24.99, undefined],
          [undefined, undefined],
          [undefined, undefined],
        ]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('reads items of another property by another key, into other fields, and overwrites when told to', async () => {
      const { p, out } = processor({
        key: 'properties.item_id',
        source: { file: { path: jsonlFile, key_field: 'item_id' } },
        fields: ['item_name'],
        items: { property: 'products', key: 'sku', fields: { name: 'item_name', unit_price: 'price' }, overwrite: true },
      });
      await p.start({ getExporter: () => undefined });
      await p.consume({ signal: 'events', data: [ev('cart', { products: [{ sku: 'gu521a0c3-b12', name: 'old' }], items: [{ item_id: 'gu521a0c3-b12' }] })] });
      await p.shutdown();
      const g = byId.get('gu521a0c3-b12')!;
      assert.deepEqual(out.flat()[0]!.properties, { products: [{ sku: g.item_id, name: g.item_name, unit_price: g.price }], items: [{ item_id: g.item_id }] });
    });

    it('needs key, items or both; items alone keys the table by the items\' key field', async () => {
      const r = enrichProcessorFactory.configSchema.safeParse({ source: { file: { path: csvFile } }, fields: ['x'] });
      assert.ok(!r.success);
      assert.deepEqual(r.error.issues.map((i) => [i.path.join('::'), i.message]), [['key', 'give key (an event field), items (the items list\'s item_id), or both']]);
      assert.equal(enrichProcessorFactory.configSchema.safeParse({ source: { file: { path: csvFile } }, fields: ['x'], items: { key: '' } }).success, false);
      const { p, out } = processor({ source: { file: { path: csvFile, number_fields: ['price'] } }, fields: ['price'], items: {} });
      await p.start({ getExporter: () => undefined });
      await p.consume({ signal: 'events', data: [ev('view_item', { items: [{ item_id: 'ho311b0q7-c11' }] })] });
      await p.shutdown();
      assert.deepEqual(out.flat()[0]!.properties.items, [{ item_id: 'ho311b0q7-c11', price: 49 }]);
    });
  });

  describeUnless(noKafka, 'from a compacted Kafka topic', { timeout: 120_000 }, () => {
    let broker: Broker;
    before(async () => {
      broker = await startBroker();
    });
    after(async () => {
      await broker?.stop();
    });

    it('reads the whole table before it starts, then follows updates and deletions', async () => {
      await createTopic(broker.brokers, 'products', 3, [{ name: 'cleanup.policy', value: 'compact' }]);
      const producer = kafkaClient(broker.brokers).producer();
      await producer.connect();
      // An outdated row first: the later record of the same key wins.
      await producer.send({ topic: 'products', acks: -1, messages: [{ key: products[0]!.item_id, value: JSON.stringify({ ...products[0], price: 0 }) }] });
      await producer.send({ topic: 'products', acks: -1, messages: products.map((x) => ({ key: x.item_id, value: JSON.stringify(x) })) });
      const { p, out, telemetry } = processor({ key: 'properties.item_id', source: { kafka: { brokers: broker.brokers, topic: 'products' } }, fields: [...FIELDS] });
      await p.start({ getExporter: () => undefined });
      const ev = (id: string): AnalyticsEvent => ({ name: 'view_item', time_unix_nano: '1', insert_id: id, properties: { item_id: id }, context: { source: 'span' } });
      try {
        await p.consume({ signal: 'events', data: products.map((x) => ev(x.item_id)) });
        for (const [i, e] of out[0]!.entries()) for (const f of FIELDS) assert.deepEqual(e.properties[f], products[i]![f]);
        await producer.send({
          topic: 'products',
          acks: -1,
          messages: [
            { key: products[1]!.item_id, value: JSON.stringify({ ...products[1], price: 1.5 }) },
            { key: products[2]!.item_id, value: null },
          ],
        });
        let last: AnalyticsEvent[] = [];
        for (let i = 0; i < 100; i++) {
          await p.consume({ signal: 'events', data: [ev(products[1]!.item_id), ev(products[2]!.item_id)] });
          last = out.at(-1)!;
          if (last[0]!.properties.price === 1.5 && last[1]!.properties.price === undefined) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(last[0]!.properties.price, 1.5, 'the update arrived');
        assert.equal(last[1]!.properties.price, undefined, 'the tombstone removed the row');
        assert.ok((await lookups(telemetry)).miss! >= 1);
      } finally {
        await p.shutdown();
        await producer.disconnect();
      }
    });

    it('fails to start when the topic does not exist', async () => {
      const { p } = processor({ key: 'properties.item_id', source: { kafka: { brokers: broker.brokers, topic: 'no-such-table', start_timeout: '3s' } }, fields: ['x'] });
      await assert.rejects(p.start({ getExporter: () => undefined }), /no-such-table/);
    });
  });
});
