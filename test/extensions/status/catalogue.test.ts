/**
 * The event catalogue of a running gateway: config.example.yaml with a `catalogue` processor after
 * `privacy`, the shop captures posted to it; `GET /api/catalogue`, `otelytics catalogue --from`,
 * and its storage file written at shutdown and read back at the next start.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, fixtureManifest, postFixture, startGateway } from '../../helpers.js';
import type { CatalogueApiAnswer } from '../../../src/commands/catalogue.js';
import { ensureStatusAssets } from './helpers.js';

const exec = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-status-catalogue-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const shop = fixtureManifest().filter((f) => f.capture.includes('shop-01') && f.contentType === 'application/x-protobuf' && f.contentEncoding === 'identity');

async function startWithCatalogue(storage: string) {
  ensureStatusAssets();
  return startGateway({
    dir: tmp,
    sets: [
      `exporters::file::path=${path.join(tmp, 'events.jsonl')}`,
      'exporters::debug::verbosity=basic',
      `processors::catalogue::storage=${storage}`,
      'processors::catalogue::sample_properties=[search_term]',
      'service::pipelines::events::processors=[memory_limiter,analytics,privacy,catalogue,filter,batch]',
    ],
  });
}

describe('event catalogue on the status page', () => {
  it('GET /api/catalogue and otelytics catalogue --from show the events that passed; the storage file holds them across a restart', async () => {
    assert.equal(shop.length, 2, 'the traces and logs captures of shop-01');
    const storage = path.join(tmp, 'data', 'catalogue.json');
    const gw = await startWithCatalogue(storage);
    let answer: CatalogueApiAnswer;
    try {
      for (const f of shop) assert.equal((await postFixture(gw.ports.http, f)).status, 200);
      const res = await fetch(`http://127.0.0.1:${gw.ports.status}/api/catalogue`);
      assert.equal(res.status, 200);
      answer = (await res.json()) as CatalogueApiAnswer;
      assert.equal(answer.catalogues.length, 1);
      assert.deepEqual(answer.catalogues[0]!.pipelines, ['events']);
      const cat = answer.catalogues[0]!.catalogue;
      const view = cat.events.find((e) => e.name === 'view_item')!;
      assert.ok(view.count > 0);
      assert.deepEqual(view.sources, { 'rule:product-page': view.count });
      assert.deepEqual(view.properties.item_id!.types, { string: view.count });
      const search = cat.events.find((e) => e.name === 'search')!;
      assert.ok(search.properties.search_term!.samples!.length > 0, 'a property marked safe keeps samples');
      assert.ok(cat.events.some((e) => e.name === 'feature_flag.evaluated'), 'placed before filter, it sees what filter drops');
      assert.doesNotMatch(JSON.stringify(answer), /@example\.com/);

      const graph = (await (await fetch(`http://127.0.0.1:${gw.ports.status}/api/graph`)).json()) as { catalogue: boolean };
      assert.equal(graph.catalogue, true);

      const { stdout } = await exec(process.execPath, [cliPath, 'catalogue', '--from', `http://127.0.0.1:${gw.ports.status}`], { timeout: 20_000 });
      assert.match(stdout, new RegExp(`^view_item  ${view.count} events?$`, 'm'));
      assert.match(stdout, /^ {2}item_id +string +100%$/m);
      const page = await (await fetch(`http://127.0.0.1:${gw.ports.status}/`)).text();
      assert.match(page, /href="#catalogue"/);
    } finally {
      assert.equal(await gw.stop(), 0);
    }
    const saved = JSON.parse(fs.readFileSync(storage, 'utf8')) as CatalogueApiAnswer['catalogues'][0]['catalogue'];
    const before = answer!.catalogues[0]!.catalogue.events.map((e) => [e.name, e.count]);
    assert.deepEqual(saved.events.map((e) => [e.name, e.count]), before);
    assert.doesNotMatch(fs.readFileSync(storage, 'utf8'), /@example\.com/);

    // Started again on the same file: the counts go on from there.
    const again = await startWithCatalogue(storage);
    try {
      for (const f of shop) assert.equal((await postFixture(again.ports.http, f)).status, 200);
      const next = (await (await fetch(`http://127.0.0.1:${again.ports.status}/api/catalogue`)).json()) as CatalogueApiAnswer;
      assert.deepEqual(next.catalogues[0]!.catalogue.events.map((e) => [e.name, e.count]), before.map(([n, c]) => [n, (c as number) * 2]));
    } finally {
      await again.stop();
    }
    const file = await exec(process.execPath, [cliPath, 'catalogue', '--file', storage, '--json'], { timeout: 20_000 });
    assert.equal((JSON.parse(file.stdout) as { events: { name: string; count: number }[] }).events.find((e) => e.name === 'view_item')!.count, (before.find(([n]) => n === 'view_item')![1] as number) * 2);
  });

  it('answers an empty list when no catalogue processor runs', async () => {
    ensureStatusAssets();
    const gw = await startGateway();
    try {
      const answer = (await (await fetch(`http://127.0.0.1:${gw.ports.status}/api/catalogue`)).json()) as CatalogueApiAnswer;
      assert.deepEqual(answer, { catalogues: [] });
      const r = await exec(process.execPath, [cliPath, 'catalogue', '--from', `http://127.0.0.1:${gw.ports.status}`]).catch((e: { code: number; stderr: string }) => e);
      assert.equal((r as { code: number }).code, 1);
      assert.match((r as { stderr: string }).stderr, /runs no catalogue processor/);
    } finally {
      await gw.stop();
    }
  });
});
