/**
 * examples/bigquery.yaml through the real CLI, and the rows read back with the official client
 * (`@google-cloud/bigquery`): the dataset and the day-partitioned table are created, every fixture
 * event is inserted once, and what reads back matches what the exporter was given. A GA4-shaped
 * `items` REPEATED RECORD column, created and filled by the exporter, reads back as arrays of
 * records with numbers as numbers.
 *
 * The BigQuery is `goccy/bigquery-emulator` (built from the Go module proxy by
 * scripts/bigquery-emulator/emulator.mjs) when it is installed; its first build compiles ZetaSQL
 * (about 24 minutes on 2 cores), more than a CI run has, so without it the test runs against the
 * project's stand-in of the REST contract (test/fakes/bigquery-server.ts) instead of being skipped.
 * The test's name says which one ran. OTELYTICS_REQUIRE_BIGQUERY_EMULATOR=1 makes a missing
 * emulator a failure.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BigQuery } from '@google-cloud/bigquery';
import { pino } from 'pino';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { BigQueryExporter, bigquerySchema } from '../../../exporters/bigquery/index.js';
import { sendContext } from '../../delivery/send-context.js';
import { GA4_ITEMS_COLUMN } from './ga4-items.js';
import { startFakeBigQuery } from '../../fakes/bigquery-server.js';
import { freePort, projectRoot } from '../../helpers.js';
import { runExample } from '../example-run.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';

interface Emulator {
  endpoint: string;
  stop(): Promise<void>;
}
interface EmulatorScript {
  isInstalled(): boolean;
  startBigQueryEmulator(o: { project: string; port: number; grpcPort: number }): Promise<Emulator>;
}

const PROJECT = 'otelytics-emulator';

/** The exporter with its send reachable, as the exporter helper calls it. */
class Probe extends BigQueryExporter {
  attempt(events: AnalyticsEvent[]): Promise<void> {
    return this.send({ signal: 'events', data: events }, sendContext());
  }
}

/**
 * A JSON cell as read back. BigQuery parses JSON text streamed into a JSON column; emulator v0.6.6
 * stores it as a JSON string, so its cells come back encoded twice: decode until not text.
 */
function jsonCell(v: unknown): unknown {
  for (let i = 0; i < 2 && typeof v === 'string'; i++) v = JSON.parse(v);
  return v;
}
const script = (await import(pathToFileURL(path.join(projectRoot, 'scripts/bigquery-emulator/emulator.mjs')).href)) as EmulatorScript;
const installed = script.isInstalled();
if (!installed && process.env.OTELYTICS_REQUIRE_BIGQUERY_EMULATOR === '1') throw new Error('the BigQuery emulator is not installed: node scripts/bigquery-emulator/emulator.mjs install');

/** A BigQuery REST endpoint to run against. */
interface Target {
  endpoint: string;
  stop(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  if (installed) return script.startBigQueryEmulator({ project: PROJECT, port: await freePort(), grpcPort: await freePort() });
  const fake = await startFakeBigQuery();
  return { endpoint: fake.endpoint, stop: () => fake.close() };
}

const targetName = installed ? 'goccy/bigquery-emulator' : 'the REST stand-in; goccy/bigquery-emulator is not installed';

describe(`the bigquery exporter, read back with @google-cloud/bigquery (${targetName})`, () => {
  let bq: Target;
  before(async () => {
    bq = await startTarget();
  });
  after(async () => {
    await bq?.stop();
  });

  it('examples/bigquery.yaml through the CLI: creates the dataset and the table, inserts every fixture event once, and the rows read back', async () => {
    const { pipeline, dead } = await runExample('bigquery', 'bigquery', { BIGQUERY_PROJECT: PROJECT, BIGQUERY_ENDPOINT: bq.endpoint, BIGQUERY_NO_AUTH: 'true' });
    assert.deepEqual(dead.map((e) => e.dead_letter), []);
    const expected = fixtureEvents().filter((e) => !/^(feature_flag|code_references)\./.test(e.name));
    assert.equal(pipeline.length, expected.length);

    const client = new BigQuery({ projectId: PROJECT, apiEndpoint: bq.endpoint, authClient: { getRequestHeaders: async () => new Headers() } as never });
    const table = client.dataset('otelytics').table('events');
    const [meta] = await table.getMetadata();
    assert.deepEqual(meta.timePartitioning?.field, 'event_time');
    const [rows] = await table.getRows();
    const byId = new Map(rows.map((r) => [String(r.insert_id), r]));
    assert.equal(rows.length, expected.length, 'each event once');
    for (const e of pipeline) {
      const r = byId.get(e.insert_id);
      assert.ok(r, `${e.insert_id} not read back`);
      assert.equal(r.event_name, e.name);
      assert.equal(r.user_id ?? undefined, e.user_id);
      assert.equal(new Date((r.event_time as { value: string }).value).getTime(), Number(BigInt(e.time_unix_nano) / 1_000_000n));
      if (Object.keys(e.properties).length > 0) assert.deepEqual(jsonCell(r.properties), e.properties);
    }
  });

  it('a GA4-shaped items REPEATED RECORD column: created with its nested schema, read back as arrays of records with numbers as numbers', async () => {
    const cfg = bigquerySchema.parse({
      project: PROJECT,
      dataset: 'shop',
      table: 'purchases',
      api_endpoint: bq.endpoint,
      no_auth: true,
      sending_queue: { enabled: false },
      schema: [
        { name: 'event_name', type: 'STRING', mode: 'REQUIRED', source: 'name' },
        { name: 'event_time', type: 'TIMESTAMP', mode: 'REQUIRED', source: 'time' },
        { name: 'transaction_id', type: 'STRING', source: 'properties.transaction_id' },
        { name: 'value', type: 'FLOAT', source: 'properties.value' },
        GA4_ITEMS_COLUMN,
      ],
    });
    const p = new Probe({ id: 'bigquery', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, cfg);
    await p.start({ getExporter: () => undefined });
    const items = [
      { item_id: 'trq22o064-q11', item_name: 'T-Shirt Print, schwarz', price: 19.99, quantity: 1, item_brand: 'Nordwind', index: 0 },
      { item_id: 'ho311b0q7-c11', item_name: 'Hoodie "Basic" grau', price: 49, quantity: 3, coupon: 'WINTER10', index: 1 },
    ];
    const event = (id: string, over: Record<string, unknown>): AnalyticsEvent => ({ name: 'purchase', time_unix_nano: '1795288700123456000', insert_id: id, context: { source: 'span' }, properties: { transaction_id: id, ...over } as AnalyticsEvent['properties'] });
    try {
      await p.attempt([event('T-1', { value: 166.99, items }), event('T-2', { value: 89.95, items: { item_id: 'ad115o0k2-a11', price: 89.95, quantity: 1 } }), event('T-3', {})]);
    } finally {
      await p.shutdown();
    }
    const client = new BigQuery({ projectId: PROJECT, apiEndpoint: bq.endpoint, authClient: { getRequestHeaders: async () => new Headers() } as never });
    const table = client.dataset('shop').table('purchases');
    const [meta] = await table.getMetadata();
    const column = (meta.schema.fields as { name: string; type: string; mode: string; fields: { name: string; type: string }[] }[]).find((f) => f.name === 'items')!;
    assert.deepEqual({ type: column.type, mode: column.mode, fields: column.fields.map((f) => `${f.name} ${f.type}`) }, { type: 'RECORD', mode: 'REPEATED', fields: GA4_ITEMS_COLUMN.fields.map((f) => `${f.name} ${f.type}`) });
    const [rows] = await table.getRows();
    const byId = new Map(rows.map((r) => [String(r.transaction_id), r]));
    const pick = (i: Record<string, unknown>) => ({ item_id: i.item_id, price: i.price, quantity: i.quantity, coupon: i.coupon ?? null, item_list_index: i.item_list_index ?? null });
    assert.deepEqual((byId.get('T-1')!.items as Record<string, unknown>[]).map(pick), [
      { item_id: 'trq22o064-q11', price: 19.99, quantity: 1, coupon: null, item_list_index: '0' },
      { item_id: 'ho311b0q7-c11', price: 49, quantity: 3, coupon: 'WINTER10', item_list_index: '1' },
    ]);
    assert.deepEqual((byId.get('T-2')!.items as Record<string, unknown>[]).map(pick), [{ item_id: 'ad115o0k2-a11', price: 89.95, quantity: 1, coupon: null, item_list_index: null }]);
    assert.deepEqual(byId.get('T-3')!.items, []);
    assert.equal(byId.get('T-1')!.value, 166.99);
    if (installed) {
      // GoogleSQL over the array, as on GA4's export (the stand-in runs no queries).
      const [sold] = await client.query({ query: 'SELECT i.item_id, i.price * i.quantity AS revenue FROM shop.purchases, UNNEST(items) AS i ORDER BY i.item_id' });
      assert.deepEqual(sold, [
        { item_id: 'ad115o0k2-a11', revenue: 89.95 },
        { item_id: 'ho311b0q7-c11', revenue: 147 },
        { item_id: 'trq22o064-q11', revenue: 19.99 },
      ]);
    }
  });
});
