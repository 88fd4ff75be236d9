/**
 * examples/bigquery.yaml as a user runs it: the real CLI (config.example.yaml + the example), the
 * real SDK fixtures over OTLP/HTTP, and the local stand-in of the BigQuery REST API as the
 * destination (the `goccy/bigquery-emulator` variant is in emulator.test.ts). The `file` exporter
 * is added to the events pipeline to record what the bigquery exporter was given.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startFakeBigQuery, type FakeBigQuery } from '../../fakes/bigquery-server.js';
import { runExample, type ExampleRun } from '../example-run.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';

const PROJECT = 'otelytics-e2e';

function run(fake: FakeBigQuery, beforePost: () => void = () => undefined, extraSets: string[] = []): Promise<ExampleRun> {
  return runExample('bigquery', 'bigquery', { BIGQUERY_PROJECT: PROJECT, BIGQUERY_ENDPOINT: fake.endpoint, BIGQUERY_NO_AUTH: 'true' }, extraSets, beforePost);
}

describe('examples/bigquery.yaml through the CLI (BigQuery stand-in)', () => {
  let fake: FakeBigQuery | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('creates otelytics.events and inserts every fixture event once (by insert_id), pseudonymised', async () => {
    fake = await startFakeBigQuery();
    const { pipeline, dead } = await run(fake);
    const expected = fixtureEvents().filter((e) => !/^(feature_flag|code_references)\./.test(e.name));
    assert.deepEqual(new Set(pipeline.map((e) => e.insert_id)), new Set(expected.map((e) => e.insert_id)));
    const table = fake.table(PROJECT, 'otelytics', 'events')!;
    assert.ok(table, 'the example creates otelytics.events');
    assert.equal(fake.datasets.get(`${PROJECT}.otelytics`)?.location, 'EU');
    const ids = table.rows.map((r) => r.insert_id as string);
    assert.equal(ids.length, expected.length, 'each event once');
    assert.deepEqual(new Set(ids), new Set(expected.map((e) => e.insert_id)));
    assert.equal(dead.length, 0);
    const rawUsers = new Set(fixtureEvents().flatMap((e) => (e.user_id ? [e.user_id] : [])));
    for (const r of table.rows) {
      assert.ok(!rawUsers.has(String(r.user_id)), `raw user id ${String(r.user_id)} stored`);
      assert.ok(!String(r.context ?? '').includes('203.0.113.7'), 'a full client IP stored');
    }
  });

  it('with injected 5xx, 403 rateLimitExceeded, reset, an oversized request and an invalid row, every event ends inserted once or dead-lettered with its reason', async () => {
    fake = await startFakeBigQuery();
    const f = fake;
    const { pipeline, dead } = await run(
      f,
      () => {
        f.inject({ status: 503 });
        f.inject({ status: 403, reason: 'rateLimitExceeded', message: 'Exceeded rate limits: too many table update operations' });
        f.inject({ reset: true });
        f.inject({ status: 400, reason: 'invalid', message: 'Request payload size exceeds the limit: 10485760 bytes.' });
        f.inject({ rowErrors: { 0: 'invalid' } });
      },
      ['exporters::bigquery::sending_queue::num_consumers=1', 'exporters::bigquery::retry_on_failure::initial_interval=50ms'],
    );
    const ids = new Set(pipeline.map((e) => e.insert_id));
    const inserted = fake.table(PROJECT, 'otelytics', 'events')!.rows.map((r) => r.insert_id as string);
    assert.equal(new Set(inserted).size, inserted.length, 'no row twice');
    const deadIds = new Set(dead.map((e) => e.insert_id));
    for (const id of ids) assert.ok(inserted.includes(id) !== deadIds.has(id), id);
    assert.equal(inserted.length + deadIds.size, ids.size);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.dead_letter!.exporter, 'bigquery');
    assert.match(dead[0]!.dead_letter!.reason, /row invalid.*injected/);
    assert.ok(fake.inserts.some((i) => i.insertErrors > 0));
  });
});
