/**
 * `otelytics plan check`: the shop captures, in every encoding, follow the shop's plan through the
 * example configs (exit 0); events that break it are listed per event name (exit 1); usage, config,
 * plan and input errors exit 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, fixtureManifest, fixturesDir, projectRoot } from '../helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-plan-check-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const example = path.join(projectRoot, 'config.example.yaml');
const overlay = path.join(projectRoot, 'examples', 'tracking-plan.yaml');
const shopPlan = path.join(projectRoot, 'examples', 'tracking-plan', 'shop-plan.yaml');

async function planCheck(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cliPath, 'plan', 'check', ...args], { cwd: projectRoot, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const BROKEN = JSON.stringify({
  resourceLogs: [
    {
      resource: { attributes: [] },
      scopeLogs: [
        {
          logRecords: [
            { eventName: 'wishlist.shared', attributes: [] },
            { eventName: 'view_item', attributes: [{ key: 'page_path', value: { stringValue: '/pdp/x.html' } }] },
            { eventName: 'purchase', attributes: [{ key: 'transaction_id', value: { stringValue: 'o-1' } }, { key: 'value', value: { stringValue: '59.90' } }, { key: 'currency', value: { stringValue: 'EUR' } }] },
            { eventName: 'purchase', attributes: [{ key: 'transaction_id', value: { stringValue: 'o-2' } }, { key: 'value', value: { stringValue: '9.90' } }, { key: 'currency', value: { stringValue: 'EUR' } }] },
          ],
        },
      ],
    },
  ],
});

test('the shop captures, in every encoding, follow the shop plan through the example configs: exit 0', async () => {
  const inputs = fixtureManifest().flatMap((f) => ['--input', path.join(fixturesDir, f.path)]);
  const r = await planCheck(['--config', example, '--config', overlay, ...inputs]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /events from \d+ inputs \(pipeline events\) checked against .*shop-plan\.yaml \(13 planned events\): all follow the plan/);
});

test('events that break the plan are listed per event name: exit 1', async () => {
  const broken = path.join(tmp, 'broken.json');
  fs.writeFileSync(broken, BROKEN);
  const r = await planCheck(['--plan', shopPlan, '--config', example, '--input', broken]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stdout,
    [
      'purchase: 2 of 2 events break the plan',
      '  datatype_mismatch /value: must be number (2×)',
      'view_item: 1 of 1 event breaks the plan',
      "  required_missing /item_id: must have required property 'item_id'",
      'wishlist.shared: 1 of 1 event breaks the plan',
      '  unplanned_event: not in the plan',
      `4 events from 1 input (pipeline events) checked against ${shopPlan} (13 planned events): 4 break it, 4 violations`,
      '',
    ].join('\n'),
  );
  // Without a config: log records with an event name are the events, nothing filtered.
  const bare = await planCheck(['--plan', shopPlan, '--input', path.join(fixturesDir, 'logs-shop-01.json')]);
  assert.equal(bare.code, 1);
  assert.match(bare.stdout, /^feature_flag\.evaluated: \d+ of \d+ events break the plan\n {2}unplanned_event: not in the plan/m);
});

test('usage, config, plan and input errors: exit 2', async () => {
  const input = path.join(fixturesDir, 'logs-shop-01.json');
  assert.equal((await planCheck(['--plan', shopPlan])).code, 2, 'no --input');
  const noPlan = await planCheck(['--config', example, '--input', input]);
  assert.equal(noPlan.code, 2);
  assert.match(noPlan.stderr, /give --plan, or a --config whose events pipeline has a tracking_plan processor/);
  const badConfig = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(badConfig, 'processors:\n  tracking_plan:\n    route_to: file/missing\n');
  const r1 = await planCheck(['--config', example, '--config', overlay, '--config', badConfig, '--input', input]);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /processors::tracking_plan::route_to: references exporter "file\/missing"/);
  const badPlan = path.join(tmp, 'plan.yaml');
  fs.writeFileSync(badPlan, 'events:\n  a: { properties: { type: strin } }\n');
  const r2 = await planCheck(['--plan', badPlan, '--input', input]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /plan: .*plan\.yaml: events::a::properties::type: /);
  const junk = path.join(tmp, 'junk.bin');
  fs.writeFileSync(junk, 'not otlp');
  const r3 = await planCheck(['--plan', shopPlan, '--input', junk]);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /input .*junk\.bin/);
});
