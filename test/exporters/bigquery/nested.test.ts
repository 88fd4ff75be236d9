/**
 * RECORD and REPEATED columns of the bigquery exporter: the config rules (with their paths), the
 * rows made of GA4 items lists and other values, and a REPEATED RECORD `items` column against the
 * BigQuery stand-in: the table created with the nested schema, rows read back with the official
 * client as arrays of records with numbers as numbers, and a wrong value in a nested column refused
 * as BigQuery refuses it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BigQuery } from '@google-cloud/bigquery';
import { pino } from 'pino';
import type { Payload } from '../../../src/component.js';
import { PartialFailure } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { BigQueryExporter, bigquerySchema, clientOptions, missingColumns } from '../../../exporters/bigquery/index.js';
import { compileRows, schemaFields } from '../../../exporters/bigquery/rows.js';
import { startFakeBigQuery, type FakeBigQuery } from '../../fakes/bigquery-server.js';
import { failure, rejectedIds } from '../partial.js';
import { sendContext } from '../../delivery/send-context.js';
import { GA4_ITEMS_COLUMN } from './ga4-items.js';

const PROJECT = 'otelytics-test';

class Probe extends BigQueryExporter {
  attempt(events: AnalyticsEvent[]): Promise<void> {
    return this.send({ signal: 'events', data: events } satisfies Payload, sendContext());
  }
}

const SCHEMA = [
  { name: 'event_name', type: 'STRING', mode: 'REQUIRED', source: 'name' },
  { name: 'event_time', type: 'TIMESTAMP', mode: 'REQUIRED', source: 'time' },
  { name: 'value', type: 'FLOAT', source: 'properties.value' },
  { name: 'currency', type: 'STRING', source: 'properties.currency' },
  GA4_ITEMS_COLUMN,
];

function purchase(i: number, items: unknown, value: unknown = 79.89): AnalyticsEvent {
  return {
    name: 'purchase',
    time_unix_nano: String(1_795_288_700_123_456_789n + BigInt(i) * 1_000_000_000n),
    insert_id: `order-${i}`,
    properties: { transaction_id: `T-${i}`, value, currency: 'EUR', items } as AnalyticsEvent['properties'],
    context: { source: 'span' },
  };
}

const ITEMS = [
  { item_id: 'trq22o064-q11', item_name: 'T-Shirt Print, schwarz', price: 19.99, quantity: 1, item_brand: 'Nordwind', index: 0 },
  { item_id: 'le222n0ab-k11', item_name: 'Jeans Slim Fit blau', price: 59.9, quantity: 2, coupon: 'SUMMER', index: 1 },
];

describe('bigquery exporter: RECORD and REPEATED columns', () => {
  it('config: a RECORD needs fields, only a RECORD has them, names unique per record, at most 15 levels; REPEATED columns neither partition nor cluster', () => {
    const errors = (schema: unknown[], more: Record<string, unknown> = {}) => {
      const r = bigquerySchema.safeParse({ dataset: 'd', table: 't', schema, ...more });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('::')}: ${i.message}`);
    };
    const name = { name: 'event_name', type: 'STRING', source: 'name' };
    assert.deepEqual(errors([name, GA4_ITEMS_COLUMN]), []);
    assert.deepEqual(errors([name, { name: 'items', type: 'struct', mode: 'REPEATED', source: 'properties.items', fields: [{ name: 'sku', type: 'string', source: 'item_id' }] }]), []);
    assert.deepEqual(errors([{ name: 'items', type: 'RECORD', mode: 'REPEATED', source: 'properties.items' }]), ['schema::0::fields: required for a RECORD column: its nested columns']);
    assert.deepEqual(errors([{ name: 'n', type: 'STRING', source: 'name', fields: [{ name: 'x', type: 'STRING' }] }]), ['schema::0::fields: only a RECORD (STRUCT) column has fields; this one is STRING']);
    assert.deepEqual(errors([{ ...GA4_ITEMS_COLUMN, fields: [{ name: 'price', type: 'FLOAT' }, { name: 'extra', type: 'INTEGER', fields: [{ name: 'a', type: 'STRING' }] }, { name: 'PRICE', type: 'NUMERIC' }] }]), [
      'schema::0::fields::1::fields: only a RECORD (STRUCT) column has fields; this one is INTEGER',
      'schema::0::fields::2::name: duplicate nested column "PRICE" (names are case-insensitive)',
    ]);
    assert.deepEqual(errors([{ ...GA4_ITEMS_COLUMN, fields: [] }]), ['schema::0::fields: Too small: expected array to have >=1 items']);
    assert.deepEqual(errors([{ ...GA4_ITEMS_COLUMN, fields: [{ name: 'price', type: 'FLOAT', source: 'a..b' }] }]), ['schema::0::fields::0::source: must be a key of the element, or keys separated by dots (no empty key)']);
    assert.deepEqual(errors([{ ...GA4_ITEMS_COLUMN, fields: [{ name: 'price', type: 'FLOAT', mode: 'OPTIONAL' }] }]).length, 1);
    const nest = (levels: number): Record<string, unknown> => (levels === 0 ? { name: 'leaf', type: 'STRING' } : { name: `r${levels}`, type: 'RECORD', fields: [nest(levels - 1)] });
    assert.deepEqual(errors([{ ...nest(15), source: 'properties' }]), []);
    assert.deepEqual(errors([{ ...nest(16), source: 'properties' }]), [`schema::0${'::fields::0'.repeat(15)}::fields: more than 15 levels of nested RECORD columns (BigQuery's limit)`]);
    const tags = { name: 'tags', type: 'STRING', mode: 'REPEATED', source: 'properties.tags' };
    const times = { name: 'times', type: 'TIMESTAMP', mode: 'REPEATED', source: 'time' };
    assert.deepEqual(errors([name, tags, times], { time_partitioning: { field: 'times' }, clustering: ['tags', 'event_name'] }), [
      'time_partitioning::field: column "times" is REPEATED; partitioning needs a column that is not',
      'clustering::0: column "tags" is REPEATED; clustering needs a column that is not',
    ]);
    assert.deepEqual(errors([name, { ...GA4_ITEMS_COLUMN, mode: 'NULLABLE' }, { name: 'p', type: 'JSON', source: 'properties' }], { clustering: ['items', 'p'] }), [
      'clustering::0: column "items" is RECORD; clustering needs STRING, INTEGER, NUMERIC, BIGNUMERIC, BOOLEAN, DATE, DATETIME or TIMESTAMP',
      'clustering::1: column "p" is JSON; clustering needs STRING, INTEGER, NUMERIC, BIGNUMERIC, BOOLEAN, DATE, DATETIME or TIMESTAMP',
    ]);
  });

  it('rows: a list gives an array of converted elements, any other value one element; records take their fields by source; INTEGER as decimal text, FLOAT as numbers', () => {
    const cfg = bigquerySchema.parse({
      dataset: 'd',
      table: 't',
      schema: [
        ...SCHEMA,
        { name: 'tags', type: 'STRING', mode: 'REPEATED', source: 'properties.tags' },
        { name: 'counts', type: 'INTEGER', mode: 'REPEATED', source: 'properties.counts' },
        { name: 'shipping', type: 'RECORD', source: 'properties.shipping', fields: [{ name: 'tier', type: 'STRING' }, { name: 'cost', type: 'NUMERIC', source: 'price.amount' }, { name: 'extra', type: 'JSON' }] },
      ],
    });
    const toRow = compileRows(cfg.schema!);
    const e = purchase(0, [...ITEMS, null, { item_id: 'gu521a0c3-b12', price: '34.5', quantity: '3', unknown: true }]);
    e.properties.tags = 'one';
    e.properties.counts = [1, 2, 2 ** 53 - 1];
    e.properties.shipping = { tier: 'express', price: { amount: 4.9 }, extra: {} };
    assert.deepEqual(toRow(e).json, {
      event_name: 'purchase',
      event_time: '2026-11-21T19:18:20.123456Z',
      value: 79.89,
      currency: 'EUR',
      items: [
        { item_id: 'trq22o064-q11', item_name: 'T-Shirt Print, schwarz', item_brand: 'Nordwind', price: 19.99, quantity: '1', item_list_index: '0' },
        { item_id: 'le222n0ab-k11', item_name: 'Jeans Slim Fit blau', price: 59.9, quantity: '2', coupon: 'SUMMER', item_list_index: '1' },
        { item_id: 'gu521a0c3-b12', price: '34.5', quantity: '3' },
      ],
      tags: ['one'],
      counts: ['1', '2', '9007199254740991'],
      shipping: { tier: 'express', cost: 4.9 },
    });
    // One map instead of a list: one element. An empty list: left out. A RECORD that is no map: as it is, for BigQuery to refuse.
    assert.deepEqual(toRow(purchase(1, ITEMS[0])).json.items, [{ item_id: 'trq22o064-q11', item_name: 'T-Shirt Print, schwarz', item_brand: 'Nordwind', price: 19.99, quantity: '1', item_list_index: '0' }]);
    assert.equal('items' in toRow(purchase(2, [])).json, false);
    assert.equal('items' in toRow(purchase(3, [null])).json, false);
    assert.deepEqual(toRow(purchase(4, ['trq22o064-q11'])).json.items, ['trq22o064-q11']);
    assert.deepEqual(schemaFields(cfg.schema!).find((f) => f.name === 'items'), {
      name: 'items',
      type: 'RECORD',
      mode: 'REPEATED',
      description: GA4_ITEMS_COLUMN.description,
      fields: GA4_ITEMS_COLUMN.fields.map((f) => ({ name: f.name, type: f.type, mode: 'NULLABLE' })),
    });
  });

  it('an existing table: configured nested columns it lacks are named record.field', () => {
    const cfg = bigquerySchema.parse({ dataset: 'd', table: 't', schema: SCHEMA });
    const have = [{ name: 'EVENT_NAME' }, { name: 'event_time' }, { name: 'value' }, { name: 'items', fields: [{ name: 'item_id' }, { name: 'price' }] }];
    assert.deepEqual(missingColumns(cfg.schema!, have), ['currency', 'items.item_name', 'items.item_brand', 'items.item_variant', 'items.item_category', 'items.quantity', 'items.coupon', 'items.item_list_name', 'items.item_list_index']);
  });

  describe('against the BigQuery stand-in', () => {
    let fake: FakeBigQuery;
    const probes: Probe[] = [];
    before(async () => {
      fake = await startFakeBigQuery();
    });
    after(async () => {
      for (const p of probes) await p.shutdown();
      await fake.close();
    });

    it('creates the table with the nested schema; items read back with the client as arrays of records, numbers as numbers; a wrong nested value is refused as invalid at its location', async () => {
      const cfg = bigquerySchema.parse({ project: PROJECT, dataset: 'shop', table: 'purchases', api_endpoint: fake.endpoint, no_auth: true, sending_queue: { enabled: false }, schema: SCHEMA, time_partitioning: { field: 'event_time' } });
      const p = new Probe({ id: 'bigquery', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, cfg);
      probes.push(p);
      await p.start({ getExporter: () => undefined });
      const stored = fake.table(PROJECT, 'shop', 'purchases')!;
      assert.deepEqual(stored.schema.find((f) => f.name === 'items'), schemaFields(cfg.schema!).find((f) => f.name === 'items'));

      const bad = purchase(2, [{ item_id: 'x', price: 'cheap', quantity: 1 }]);
      const err = await failure(p.attempt([purchase(0, ITEMS), purchase(1, [], 0), bad]));
      assert.ok(err instanceof PartialFailure, String(err));
      assert.deepEqual([...rejectedIds(err)], [['order-2', 'bigquery insertAll: row invalid (at items.price): Cannot convert value to floating point.']]);

      const [rows] = await new BigQuery(clientOptions(cfg)).dataset('shop').table('purchases').getRows();
      const byId = new Map(rows.map((r) => [String(r.event_name) + r.value, r]));
      assert.equal(rows.length, 2);
      const r = byId.get('purchase79.89')!;
      assert.deepEqual(r.items, [
        { item_id: 'trq22o064-q11', item_name: 'T-Shirt Print, schwarz', item_brand: 'Nordwind', item_variant: null, item_category: null, price: 19.99, quantity: 1, coupon: null, item_list_name: null, item_list_index: '0' },
        { item_id: 'le222n0ab-k11', item_name: 'Jeans Slim Fit blau', item_brand: null, item_variant: null, item_category: null, price: 59.9, quantity: 2, coupon: 'SUMMER', item_list_name: null, item_list_index: '1' },
      ]);
      assert.deepEqual(rows.map((x) => (x.items as unknown[]).length).sort(), [0, 2]);
    });
  });
});
