/** `otelytics rules test`: the events a config's rules and privacy make from OTLP bodies, as the gateway makes them. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, fixtureManifest, fixturesDir, postFixture, projectRoot, readJsonLines, startGateway } from '../helpers.js';

const run = promisify(execFile);
const example = path.join(projectRoot, 'config.example.yaml');
const files = fixtureManifest();
const pick = (signal: string, type: string, enc = 'identity') => files.find((f) => f.signal === signal && f.contentType === type && f.contentEncoding === enc && f.batch === 1)!;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-rules-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Line = { pipeline: string; input: string; event: { name: string; insert_id: string; user_id?: string } };
async function rulesTest(args: string[]): Promise<Line[]> {
  const { stdout } = await run(process.execPath, [cliPath, 'rules', 'test', '--config', example, ...args], { timeout: 20_000 });
  return stdout.trim() ? stdout.trim().split('\n').map((l) => JSON.parse(l) as Line) : [];
}

test('prints the events the running gateway makes from the same span fixture', async () => {
  const f = pick('traces', 'application/json');
  const printed = await rulesTest(['--input', path.join(fixturesDir, f.path)]);
  const gw = await startGateway();
  let written: Line['event'][];
  try {
    assert.equal((await postFixture(gw.ports.http, f)).status, 200);
    const file = path.join(gw.dir, 'events.jsonl');
    const deadline = Date.now() + 5000;
    while ((written = readJsonLines<Line['event']>(file)).length < printed.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await gw.stop();
  }
  assert.ok(printed.length > 0);
  const key = (e: Line['event']) => JSON.stringify(e, Object.keys(e).sort());
  // Span rules make no feature_flag.* events, so the gateway's filter removes nothing here: equal sets.
  assert.deepEqual(printed.map((l) => key(l.event)).sort(), written!.map((e) => key(JSON.parse(JSON.stringify(e)))).sort());
  assert.ok(printed.every((l) => l.pipeline === 'events'));
});

test('protobuf, gzip and JSON bodies of the same request give the same events; logs too', async () => {
  const json = await rulesTest(['--input', path.join(fixturesDir, pick('logs', 'application/json').path)]);
  const pb = await rulesTest(['--input', path.join(fixturesDir, pick('logs', 'application/x-protobuf').path)]);
  const gz = await rulesTest(['--input', path.join(fixturesDir, pick('logs', 'application/x-protobuf', 'gzip').path), '--signal', 'logs']);
  const names = (ls: Line[]) => ls.map((l) => `${l.event.name} ${l.event.insert_id}`);
  assert.ok(json.length > 0);
  assert.deepEqual(names(pb), names(json));
  assert.deepEqual(names(gz), names(json));
  const expectedNames = new Set(pick('logs', 'application/json').eventNames);
  assert.ok(json.every((l) => expectedNames.has(l.event.name)), 'log records with an event name become events of that name');
});

test('exit 1 for an invalid config or an undecodable input, 2 for a usage error', async () => {
  const bad = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(bad, 'processors:\n  analytics:\n    rules:\n      - id: x\n        event: e\n        match: { kind: servr }\n');
  const input = path.join(fixturesDir, pick('traces', 'application/json').path);
  const e1 = (await run(process.execPath, [cliPath, 'rules', 'test', '--config', example, '--config', bad, '--input', input]).catch((e) => e)) as { code: number; stderr: string };
  assert.equal(e1.code, 1);
  assert.match(e1.stderr, /processors::analytics::rules::0::match::kind/);
  const junk = path.join(tmp, 'junk.bin');
  fs.writeFileSync(junk, 'not otlp at all');
  const e2 = (await run(process.execPath, [cliPath, 'rules', 'test', '--config', example, '--input', junk]).catch((e) => e)) as { code: number; stderr: string };
  assert.equal(e2.code, 1);
  assert.match(e2.stderr, /input .*junk\.bin/);
  const e3 = (await run(process.execPath, [cliPath, 'rules', 'test', '--config', example]).catch((e) => e)) as { code: number };
  assert.equal(e3.code, 2);
});

test('a body that is not OTLP is an error (exit 1) that says so, not "1 log records → 0 events"', async () => {
  const cases: [name: string, body: string | Buffer, signal?: string][] = [
    ['object.json', '{"foo": "bar", "user": 1}'],
    ['empty.json', '{}'],
    ['list.json', '[{"eventName": "cart.item_added"}, {"message": "hello"}]'],
    ['unknown-fields.bin', Buffer.from([0x50, 0x01]), 'logs'],
  ];
  for (const [name, body, signal] of cases) {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, body);
    const r = (await run(process.execPath, [cliPath, 'rules', 'test', '--config', example, '--input', file, ...(signal ? ['--signal', signal] : [])]).catch((e) => e)) as { code: number; stdout: string; stderr: string };
    assert.equal(r.code, 1, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`input .*${name.replace('.', '\\.')}: not (OTLP|an OTLP/JSON document)`), name);
    assert.doesNotMatch(r.stderr, /→/, name);
    assert.equal(r.stdout, '');
  }
  // A log record in OTLP/JSON with only a few of its fields is still one.
  const one = path.join(tmp, 'record.json');
  fs.writeFileSync(one, '{"eventName": "cart.item_added", "attributes": [{"key": "product.sku", "value": {"stringValue": "AD115O0K2-A11"}}]}');
  const ok = await run(process.execPath, [cliPath, 'rules', 'test', '--config', example, '--input', one]);
  assert.match(ok.stderr, /1 log records → 1 events made/);
});
