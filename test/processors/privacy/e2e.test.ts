/**
 * End to end through the real CLI with config.example.yaml (privacy right after analytics): every
 * fixture body is posted; none of the fixtures' personal data may appear in the events file or in
 * the gateway's own output, while the events and their non-personal properties remain, identity is
 * pseudonymised where there is consent and removed where there is none, and the metrics endpoint
 * counts what was treated.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventMaker } from '../../../processors/analytics/index.js';
import type { AnalyticsConfig } from '../../../processors/analytics/config.js';
import { DEVELOPMENT_PSEUDONYM_KEY } from '../../../processors/privacy/config.js';
import { createPseudonymizer } from '../../../processors/privacy/pseudonym.js';
import { resolveConfig } from '../../../src/config/resolve.js';
import { loadRawConfig } from '../../../src/config/sources.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { decodeLogsJson, decodeTracesJson } from '../../../src/otlp/json.js';
import { defaultRegistry } from '../../../src/registry.js';
import { fixtureManifest, fixturesDir, postFixture, projectRoot, readJsonLines, startGateway, type RunningGateway } from '../../helpers.js';
import { metricValue } from './harness.js';

/** Personal data in the fixtures (spans, log attributes, log bodies, URLs, search terms). */
const PERSONAL = [
  'jane.doe@example.com',
  'john.smith@example.com',
  '203.0.113.7',
  '203.0.113.42',
  '192.0.2.10',
  '+49 151 23456789',
  '+1 415 555 0199',
  '4000 0000 0000 0002',
  '4000000000000002',
  '4000-0000-0000-0002',
  '4111 1111 1111 1111',
  '4111111111111111',
  'u-1001',
  'u-1002',
  'John Smith',
];
/** Their encoded forms: percent-encoded (RFC 3986) and form-encoded (`+` for spaces). */
const variants = (s: string) => [s, encodeURIComponent(s), encodeURIComponent(s).replace(/%20/g, '+'), s.replace(/ /g, '+')];

/** What `analytics` of config.example.yaml makes of the JSON fixtures, before privacy and filter. */
function expectedEvents(): AnalyticsEvent[] {
  const cfg = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry());
  const maker = new EventMaker(cfg.processors.get('analytics')!.config as AnalyticsConfig);
  const out: AnalyticsEvent[] = [];
  for (const f of fixtureManifest().filter((x) => x.contentEncoding === 'identity' && x.path.endsWith('.json'))) {
    const text = fs.readFileSync(path.join(fixturesDir, f.path), 'utf8');
    if (f.signal === 'traces') maker.fromTraces(decodeTracesJson(text), out);
    else maker.fromLogs(decodeLogsJson(text), out);
  }
  return out.filter((e) => !e.name.startsWith('feature_flag.') && !e.name.startsWith('code_references.'));
}

describe('privacy end to end through config.example.yaml', () => {
  let gw: RunningGateway;
  let raw = '';
  let events: AnalyticsEvent[] = [];
  let metrics = '';
  const manifest = fixtureManifest();
  const expected = expectedEvents();
  const byInsertId = new Map(expected.map((e) => [e.insert_id, e]));
  const pseudo = createPseudonymizer({ key: DEVELOPMENT_PSEUDONYM_KEY });

  before(async () => {
    gw = await startGateway({ env: { OTELYTICS_PSEUDONYM_KEY: undefined } });
    for (const f of manifest) {
      const r = await postFixture(gw.ports.http, f);
      const body = await r.text();
      assert.equal(r.status, 200, `${f.path}: ${r.status} ${body}`);
    }
    metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
    assert.equal(await gw.stop(), 0, gw.output());
    const file = path.join(gw.dir, 'events.jsonl');
    raw = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    events = readJsonLines<AnalyticsEvent>(file);
  });

  after(() => {
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
    if (gw) fs.rmSync(gw.dir, { recursive: true, force: true });
  });

  it('the fixtures hold the personal data under test', () => {
    const input = manifest.filter((f) => f.path.endsWith('.json')).map((f) => fs.readFileSync(path.join(fixturesDir, f.path), 'utf8')).join('');
    for (const s of ['jane.doe@example.com', 'jane.doe%40example.com', '+49 151 23456789', '4000 0000 0000 0002', '203.0.113.42', 'u-1001', 'Jane Doe']) assert.ok(input.includes(s), s);
  });

  it('no personal data from the fixtures in the events file', () => {
    assert.ok(events.length > 0);
    const text = raw.toLowerCase();
    for (const p of PERSONAL) for (const v of variants(p)) assert.ok(!text.includes(v.toLowerCase()), `${v} in the events file`);
    assert.ok(!raw.includes('Jane Doe'), 'the name from user.name');
  });

  it("no personal data in the gateway's own stdout and stderr", () => {
    const out = gw.output().toLowerCase();
    assert.ok(out.length > 0);
    for (const p of [...PERSONAL, 'Jane Doe']) for (const v of variants(p)) assert.ok(!out.includes(v.toLowerCase()), `${v} in the gateway output`);
  });

  it('keeps every event (each of the 4 HTTP encodings once) with its insert_id and non-personal properties', () => {
    assert.equal(events.length, expected.length * 4);
    const counts = new Map<string, number>();
    for (const e of events) counts.set(e.insert_id, (counts.get(e.insert_id) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), [...byInsertId.keys()].sort());
    for (const e of events) {
      const want = byInsertId.get(e.insert_id)!;
      assert.equal(e.name, want.name);
      assert.equal(e.category, want.category);
      for (const k of ['item_id', 'quantity', 'currency', 'product.sku', 'product.price', 'product.name', 'order.id', 'order.amount', 'order.items', 'cart.quantity', 'search.results_count']) {
        if (k in want.properties) assert.deepEqual(e.properties[k], want.properties[k], `${e.name} ${k}`);
      }
    }
    const terms = new Set(events.map((e) => e.properties.search_term ?? e.properties['search.query']).filter((t) => t !== undefined));
    for (const t of ['sneaker weiss', 'gürtel leder', 'sommerkleid blau', 'jacke', '[email]', 'jane doe [phone]']) assert.ok(terms.has(t), t);
    assert.ok(events.some((e) => e.name === 'view_item' && e.properties.item_id === 'trq22o064-q11'));
  });

  it('pseudonymises identity with consent and removes identity, IP and user agent without it', () => {
    let identified = 0;
    let anonymous = 0;
    for (const e of events) {
      const want = byInsertId.get(e.insert_id)!;
      if (want.consent?.analytics === true) {
        identified++;
        if (want.user_id !== undefined) assert.equal(e.user_id, pseudo(want.user_id));
        if (want.session_id !== undefined) assert.equal(e.session_id, pseudo(want.session_id));
        const ip = want.context['client.address'];
        if (typeof ip === 'string') assert.equal(e.context['client.address'], ip.replace(/\.\d+$/, '.0'));
      } else {
        anonymous++;
        assert.equal(e.user_id, undefined);
        assert.equal(e.session_id, undefined);
        assert.equal(e.device_id, undefined);
        assert.equal(e.context['client.address'], undefined);
        assert.equal(e.context['user_agent.original'], undefined);
      }
    }
    assert.ok(identified > 0 && anonymous > 0, `${identified} identified, ${anonymous} anonymous`);
  });

  it('warns at start-up that the development key is in use', () => {
    const warn = gw
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40 && /DEVELOPMENT KEY/.test(l.msg));
    assert.equal(warn.length, 1);
  });

  it('counts treated values per detector and action on the metrics endpoint', () => {
    const v = (detector: string, action: string) => metricValue(metrics, 'otelytics_privacy_hits', { processor: 'privacy', pipeline: 'events', detector, action });
    for (const [d, a] of [['email', 'mask'], ['phone', 'mask'], ['ipv4', 'truncate'], ['key', 'drop'], ['identity', 'pseudonymize'], ['identity', 'drop']]) assert.ok(v(d!, a!) > 0, `${d} ${a}`);
    assert.ok(metricValue(metrics, 'otelytics_privacy_items', { processor: 'privacy', signal: 'events', reason: 'consent', action: 'anonymize' }) > 0);
  });
});
