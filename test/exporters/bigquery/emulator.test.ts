/**
 * examples/bigquery.yaml through the real CLI against `goccy/bigquery-emulator` (built from the Go
 * module proxy by scripts/bigquery-emulator/emulator.mjs): the dataset and table are created, every
 * fixture event is inserted, and the rows are read back with the official client.
 *
 * Skipped, with the reason, when the emulator is not installed (its first build compiles ZetaSQL and
 * takes long): `node scripts/bigquery-emulator/emulator.mjs install`. OTELYTICS_REQUIRE_BIGQUERY_EMULATOR=1
 * turns the skip into a failure.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BigQuery } from '@google-cloud/bigquery';
import { projectRoot } from '../../helpers.js';
import { runExample } from '../example-run.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';

interface Emulator {
  endpoint: string;
  stop(): Promise<void>;
}
interface EmulatorScript {
  isInstalled(): boolean;
  startBigQueryEmulator(o: { project: string }): Promise<Emulator>;
}

const PROJECT = 'otelytics-emulator';

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

describe('examples/bigquery.yaml through the CLI (goccy/bigquery-emulator)', { skip: installed ? false : 'bigquery-emulator not installed (node scripts/bigquery-emulator/emulator.mjs install)' }, () => {
  let emu: Emulator;
  before(async () => {
    emu = await script.startBigQueryEmulator({ project: PROJECT });
  });
  after(async () => {
    await emu?.stop();
  });

  it('creates the dataset and the table, inserts every fixture event once, and the rows read back', async () => {
    const { pipeline, dead } = await runExample('bigquery', 'bigquery', { BIGQUERY_PROJECT: PROJECT, BIGQUERY_ENDPOINT: emu.endpoint, BIGQUERY_NO_AUTH: 'true' });
    assert.deepEqual(dead.map((e) => e.dead_letter), []);
    const expected = fixtureEvents().filter((e) => !/^(feature_flag|code_references)\./.test(e.name));
    assert.equal(pipeline.length, expected.length);

    const client = new BigQuery({ projectId: PROJECT, apiEndpoint: emu.endpoint, authClient: { getRequestHeaders: async () => new Headers() } as never });
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
});
