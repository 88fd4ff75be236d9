/**
 * The bigquery exporter (with the real @google-cloud/bigquery client) against the local stand-in of
 * the BigQuery REST API (test/fakes/bigquery-server.ts): table creation, what is inserted and read
 * back, and how each answer is classified (PermanentError, RetryableError, PartialFailure).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BigQuery } from '@google-cloud/bigquery';
import { pino } from 'pino';
import type { Payload } from '../../../src/component.js';
import { PartialFailure, PermanentError, RetryableError } from '../../../src/errors.js';
import { failure, rejectedIds, retriedIds } from '../partial.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { BigQueryExporter, bigquerySchema, clientOptions } from '../../../exporters/bigquery/index.js';
import { DEFAULT_COLUMNS } from '../../../exporters/bigquery/config.js';
import { startFakeBigQuery, type FakeBigQuery } from '../../fakes/bigquery-server.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';
import { sendContext } from '../../delivery/send-context.js';

const PROJECT = 'otelytics-test';
const never = sendContext();

/** The exporter with its send reachable, as the exporter helper calls it. */
class Probe extends BigQueryExporter {
  attempt(events: AnalyticsEvent[], ctx = never): Promise<void> {
    return this.send({ signal: 'events', data: events } satisfies Payload, ctx);
  }
}

function ev(i: number, over: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return {
    name: 'add_to_cart',
    time_unix_nano: String(1_795_288_700_123_456_789n + BigInt(i) * 1_000_000_000n),
    insert_id: `row-${i}`,
    user_id: `u-${i}`,
    properties: { item_id: `sku-${i}`, quantity: i + 1 },
    context: { source: 'span', 'service.name': 'shop-web' },
    ...over,
  };
}


describe('bigquery exporter against the BigQuery stand-in', () => {
  let fake: FakeBigQuery;
  let n = 0;
  const probes: Probe[] = [];
  const logger = pino({ level: 'silent' });

  async function probe(over: Record<string, unknown> = {}) {
    const cfg = bigquerySchema.parse({ project: PROJECT, dataset: 'analytics', table: `events_${++n}`, api_endpoint: fake.endpoint, no_auth: true, sending_queue: { enabled: false }, ...over });
    const p = new Probe({ id: 'bigquery', logger, telemetry: new Telemetry() }, cfg);
    await p.start({ getExporter: () => undefined });
    probes.push(p);
    return { p, cfg, table: () => fake.table(PROJECT, cfg.dataset, cfg.table)! };
  }

  before(async () => {
    fake = await startFakeBigQuery();
  });
  after(async () => {
    for (const p of probes) await p.shutdown();
    await fake.close();
  });

  it('creates dataset and table with the documented schema, partitioned by day on event_time; inserts every fixture event once and reads it back', async () => {
    const { p, cfg, table } = await probe({ location: 'EU' });
    assert.equal(fake.datasets.get(`${PROJECT}.analytics`)?.location, 'EU');
    const t = table();
    assert.deepEqual(t.schema.map((f) => f.name), DEFAULT_COLUMNS.map((c) => c.name));
    assert.deepEqual(t.timePartitioning, { field: 'event_time', type: 'DAY' });
    assert.deepEqual(t.clustering, { fields: ['event_name'] });
    const events = fixtureEvents();
    await p.attempt(events);
    await p.attempt(events); // a resend: insertId de-duplicates
    assert.equal(t.rows.length, events.length);
    // Read back through the official client, as a user would.
    const client = new BigQuery(clientOptions(cfg));
    const [rows] = await client.dataset(cfg.dataset).table(cfg.table).getRows();
    const byId = new Map(rows.map((r) => [r.insert_id as string, r]));
    for (const e of events) {
      const r = byId.get(e.insert_id)!;
      assert.ok(r, e.insert_id);
      assert.equal(r.event_name, e.name);
      assert.equal(r.user_id ?? undefined, e.user_id);
      assert.equal(r.service_name, e.context['service.name']);
      const micros = BigInt(e.time_unix_nano) / 1000n;
      assert.equal(new Date((r.event_time as { value: string }).value).getTime(), Number(micros / 1000n));
      if (Object.keys(e.properties).length > 0) assert.deepEqual(JSON.parse(String(r.properties)), e.properties);
    }
  });

  it('an invalid row is refused with BigQuery\'s reason; the rows it stopped are sent again at once', async () => {
    const { p, table } = await probe({
      schema: [
        { name: 'event_name', type: 'STRING', mode: 'REQUIRED', source: 'name' },
        { name: 'ts', type: 'TIMESTAMP', source: 'time' },
        { name: 'quantity', type: 'INTEGER', source: 'properties.quantity' },
        { name: 'item', type: 'STRING', source: 'properties.item_id' },
      ],
      time_partitioning: { field: 'ts' },
    });
    const events = [ev(0), ev(1, { properties: { quantity: 'two', item_id: 'x' } }), ev(2), ev(3)];
    const err = await failure(p.attempt(events));
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual([...rejectedIds(err).keys()], ['row-1']);
    assert.match(rejectedIds(err).get('row-1')!, /row invalid \(at quantity\): Cannot convert value to integer/);
    assert.equal(err.retry, undefined);
    assert.deepEqual(table().rows.map((r) => r.item).sort(), ['sku-0', 'sku-2', 'sku-3']);
    assert.deepEqual(table().rows.find((r) => r.item === 'sku-2')!.quantity, '3');
    assert.deepEqual(fake.inserts.filter((i) => i.table.endsWith(`events_${n}`)).map((i) => i.insertErrors), [4, 0]);
  });

  it('skip_invalid_rows: the valid rows go in with the same request', async () => {
    const { p, table } = await probe({ skip_invalid_rows: true });
    const err = await failure(p.attempt([ev(0), ev(1, { time_unix_nano: 'not-a-time' }), ev(2)]));
    assert.ok(err instanceof PartialFailure);
    assert.match(rejectedIds(err).get('row-1')!, /row invalid \(at event_time\): Missing required field: event_time/);
    assert.equal(table().rows.length, 2);
    assert.equal(fake.inserts.filter((i) => i.table.endsWith(`events_${n}`)).length, 1);
  });

  it('transient row errors: retried with back-off (RetryableError when nothing went in, else the rest of a PartialFailure)', async () => {
    const { p, table } = await probe();
    fake.inject({ rowErrors: { 1: 'backendError' } });
    const err = await failure(p.attempt([ev(0), ev(1), ev(2)]));
    assert.ok(err instanceof RetryableError && !(err instanceof PartialFailure), String(err));
    assert.equal(table().rows.length, 0);
    const { p: p2, table: t2 } = await probe({ skip_invalid_rows: true });
    fake.inject({ rowErrors: { 1: 'backendError' } });
    const err2 = await failure(p2.attempt([ev(0), ev(1), ev(2)]));
    assert.ok(err2 instanceof PartialFailure);
    assert.deepEqual(retriedIds(err2), ['row-1']);
    assert.equal(t2().rows.length, 2);
  });

  it('5xx, 429, 403 rateLimitExceeded and resets are retryable; other 4xx refuse the whole batch', async () => {
    const { p, table } = await probe();
    fake.inject({ status: 503 });
    assert.ok((await failure(p.attempt([ev(0)]))) instanceof RetryableError);
    fake.inject({ status: 429, reason: 'rateLimitExceeded' });
    assert.ok((await failure(p.attempt([ev(0)]))) instanceof RetryableError);
    fake.inject({ status: 403, reason: 'rateLimitExceeded', message: 'Exceeded rate limits' });
    assert.ok((await failure(p.attempt([ev(0)]))) instanceof RetryableError);
    fake.inject({ reset: true });
    assert.ok((await failure(p.attempt([ev(0)]))) instanceof RetryableError);
    fake.inject({ status: 403, reason: 'accessDenied', message: 'Access Denied: Table' });
    const err = await failure(p.attempt([ev(0), ev(1)]));
    assert.ok(err instanceof PermanentError, String(err));
    assert.match(err.message, /bigquery 403: Access Denied.*\(2 events\)/);
    assert.equal(table().rows.length, 0);
    await p.attempt([ev(0)]);
    assert.equal(table().rows.length, 1);
  });

  it('a request too large for BigQuery is split; a row over max_request_bytes is refused without being sent', async () => {
    const { p, table } = await probe({ max_request_bytes: 4096 });
    fake.inject({ status: 400, reason: 'invalid', message: 'Request payload size exceeds the limit: 10485760 bytes.' });
    const err = await failure(p.attempt([ev(0), ev(1), ev(2, { properties: { blob: 'z'.repeat(5000) } }), ev(3)]));
    assert.ok(err instanceof PartialFailure);
    assert.match(rejectedIds(err).get('row-2')!, /exceeds the insertAll request limit of 4096 bytes/);
    assert.equal(table().rows.length, 3);
  });

  it('a table deleted while running is created again (create_if_missing), else the batch is refused', async () => {
    const { p, cfg, table } = await probe();
    await p.attempt([ev(0)]);
    fake.tables.delete(`${PROJECT}.${cfg.dataset}.${cfg.table}`);
    const err = await failure(p.attempt([ev(1)]));
    assert.ok(err instanceof RetryableError && /404/.test(err.message), String(err));
    await p.attempt([ev(1)]);
    assert.deepEqual(table().rows.map((r) => r.insert_id), ['row-1']);
    const { p: q, cfg: c2 } = await probe({ create_if_missing: false, table: cfg.table });
    fake.tables.delete(`${PROJECT}.${c2.dataset}.${c2.table}`);
    const err2 = await failure(q.attempt([ev(2)]));
    assert.ok(err2 instanceof PermanentError && /create_if_missing is false/.test(err2.message), String(err2));
  });

  it('refuses inconsistent configs, naming the key', () => {
    const bad = (o: Record<string, unknown>) => {
      const r = bigquerySchema.safeParse({ dataset: 'd', table: 't', ...o });
      assert.ok(!r.success, JSON.stringify(o));
      return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    };
    assert.match(bad({ no_auth: true }), /no_auth: only with api_endpoint/);
    assert.match(bad({ no_auth: true, api_endpoint: 'http://127.0.0.1:9050' }), /project: required with no_auth/);
    assert.match(bad({ dataset: 'my-dataset' }), /dataset: must be 1-1024 letters, digits or underscores/);
    assert.match(bad({ time_partitioning: { field: 'event_name' } }), /time_partitioning.field: column "event_name" is STRING/);
    assert.match(bad({ schema: [{ name: 'a', type: 'STRING', source: 'name' }], clustering: ['b'] }), /clustering.0: no column "b"/);
    assert.match(bad({ schema: [{ name: 'a', type: 'GEOGRAPHY', source: 'name' }] }), /schema.0.type/);
    assert.match(bad({ schema: [{ name: 'a', type: 'STRING', source: 'props.x' }] }), /unknown field path "props.x"/);
  });
});
