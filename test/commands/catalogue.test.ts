/** `otelytics catalogue`: the event catalogue of the shop captures, offline, from a file, as JSON, and the tracking plan it writes. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import YAML from 'yaml';
import type { AnalyticsEvent } from '../../src/event.js';
import type { CatalogueSnapshot } from '../../processors/catalogue/recorder.js';
import type { TrackingPlan } from '../../processors/catalogue/plan.js';
import { checkEvent, readPlanFile } from '../../processors/tracking_plan/plan.js';
import { cliPath, projectRoot } from '../helpers.js';

const exec = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-catalogue-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const captures = ['test/captures/otlp/traces-shop-01.pb', 'test/captures/otlp/logs-shop-01.pb'];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cliPath, ...args], { cwd: projectRoot, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The events `rules test` prints for the same inputs: what exporters get after privacy. */
async function exportedEvents(inputs: string[]): Promise<AnalyticsEvent[]> {
  const { stdout } = await exec(process.execPath, [cliPath, 'rules', 'test', '--config', 'config.example.yaml', ...inputs.flatMap((i) => ['--input', i]), '--format', 'json'], { cwd: projectRoot, timeout: 30_000 });
  return stdout.trim().split('\n').map((l) => (JSON.parse(l) as { event: AnalyticsEvent }).event);
}

describe('otelytics catalogue', () => {
  it('prints the shop\'s events with counts, sources and typed properties, and writes a plan that compiles and accepts them', async () => {
    const planFile = path.join(tmp, 'plan.yaml');
    const r = await cli(['catalogue', '--config', 'config.example.yaml', '--input', ...captures, '--write-plan', planFile]);
    assert.equal(r.code, 0, r.stderr);
    const events = await exportedEvents(captures);
    const counts = new Map<string, number>();
    for (const e of events) counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
    assert.ok(counts.get('view_item')! > 0 && counts.has('search') && counts.has('product.viewed'));
    assert.match(r.stdout, /^event catalogue: \d+ event names, \d+ events/);
    for (const [name, n] of counts) assert.match(r.stdout, new RegExp(`^${name.replace(/\./g, '\\.')}  ${n} events?$`, 'm'), name);
    assert.match(r.stdout, /^ {2}sources: +rule product-page \(\d+\)$/m);
    assert.match(r.stdout, /^ {2}services: +shop-web/m);
    assert.match(r.stdout, /^ {2}item_id +string +100%$/m);
    assert.match(r.stdout, /^ {2}product\.price +number +100%$/m);
    assert.match(r.stdout, /^ {2}search\.results_count +integer +100%$/m);
    assert.doesNotMatch(r.stdout + fs.readFileSync(planFile, 'utf8'), /@example\.com|jane|john/i, 'no value of the captures');
    assert.match(r.stderr, /tracking plan for \d+ event names written to/);

    const plan = YAML.parse(fs.readFileSync(planFile, 'utf8')) as TrackingPlan;
    assert.deepEqual(Object.keys(plan.events).sort(), [...counts.keys()].sort());
    assert.deepEqual(plan.events.view_item!.properties.required, ['item_id', 'page_path']);
    assert.equal(plan.events.view_item!.category, 'commerce');
    assert.match(plan.events.view_item!.description!, /^seen \d+ times from rule product-page in shop-web$/);
    // The tracking_plan processor's own reading of the written plan: it loads, and the events follow it.
    const compiled = readPlanFile(planFile);
    for (const e of events) assert.deepEqual(checkEvent(compiled, e).violations, [], e.name);
    const one = events.find((e) => e.name === 'view_item')!;
    const kinds = (properties: AnalyticsEvent['properties']) => checkEvent(compiled, { ...one, properties }).violations.map((v) => v.kind);
    assert.deepEqual(kinds({ page_path: one.properties.page_path! }), ['required_missing']);
    assert.deepEqual(kinds({ ...one.properties, item_id: 42 }), ['datatype_mismatch']);
    const check = await cli(['plan', 'check', '--plan', planFile, '--config', 'config.example.yaml', ...captures.flatMap((c) => ['--input', c])]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  it('--json prints the catalogue; the same from every encoding of the captures (JSON, gzip)', async () => {
    const pb = await cli(['catalogue', '--config', 'config.example.yaml', '--input', ...captures, '--json']);
    const gz = await cli(['catalogue', '--config', 'config.example.yaml', '--input', 'test/captures/otlp/traces-shop-01.json.gz', '--input', 'test/captures/otlp/logs-shop-01.json', '--json']);
    assert.equal(pb.code, 0, pb.stderr);
    assert.equal(gz.code, 0, gz.stderr);
    const strip = (c: CatalogueSnapshot) => c.events.map((e) => ({ ...e, first_seen: e.first_seen.time_unix_nano, last_seen: e.last_seen.time_unix_nano }));
    const a = JSON.parse(pb.stdout) as CatalogueSnapshot;
    assert.equal(a.version, 1);
    assert.deepEqual(strip(a), strip(JSON.parse(gz.stdout) as CatalogueSnapshot));
    assert.doesNotMatch(pb.stdout, /@example\.com/);
  });

  it('--file reads a persisted catalogue', async () => {
    const json = await cli(['catalogue', '--config', 'config.example.yaml', '--input', ...captures, '--json']);
    const file = path.join(tmp, 'catalogue.json');
    fs.writeFileSync(file, json.stdout);
    const r = await cli(['catalogue', '--file', file]);
    assert.equal(r.code, 0, r.stderr);
    const n = Number(/^view_item {2}(\d+) events$/m.exec(r.stdout)![1]);
    const twice = await cli(['catalogue', '--file', file, '--file', file]);
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(twice.stdout, new RegExp(`^view_item {2}${2 * n} events$`, 'm'), 'several files are merged');
    fs.writeFileSync(file, '{"events": 3}');
    const bad = await cli(['catalogue', '--file', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not an otelytics event catalogue/);
  });

  it('usage errors exit 2', async () => {
    for (const args of [[], ['--file', 'a', '--from', 'http://127.0.0.1:1'], ['--config', 'config.example.yaml'], ['--file', 'a', '--input', 'b'], ['--nope']]) {
      const r = await cli(['catalogue', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /usage: otelytics catalogue/);
    }
  });
});
