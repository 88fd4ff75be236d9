import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { pino } from 'pino';
import YAML from 'yaml';
import type { Payload } from '../../../src/component.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { catalogueProcessorFactory, cataloguesOf, readSnapshot, sampleSelector, writeSnapshot } from '../../../processors/catalogue/index.js';
import { inferPlan, planYaml, type TrackingPlan } from '../../../processors/catalogue/plan.js';
import { CatalogueRecorder, DEFAULT_LIMITS, OTHER, jsonType, mergeSnapshots } from '../../../processors/catalogue/recorder.js';

const EMAIL = 'jane.doe@example.com';

let seq = 0;
const ev = (name: string, properties: AnalyticsEvent['properties'], extra: Partial<AnalyticsEvent> = {}): AnalyticsEvent => ({
  name,
  time_unix_nano: String(1_764_064_800_000_000_000n + BigInt(++seq) * 1_000_000n),
  insert_id: `id-${seq}`,
  properties,
  context: { source: 'span', rule: 'pdp-view', 'service.name': 'shop-web' },
  ...extra,
});

/** ajv for tracking plans: draft 2020-12, strict, knowing the plan's own keyword. */
function planAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addKeyword({ keyword: 'x-sample', schemaType: 'boolean' });
  return ajv;
}

const silent = pino({ level: 'silent' });

describe('catalogue recorder', () => {
  it('records per name the types seen, how often each property is present, sources, services, languages, category and level', () => {
    const r = new CatalogueRecorder();
    r.record([
      ev('view_item', { item_id: 'trq22o064-q11', value: 12, flags: ['a'], meta: { a: 1 }, gone: null }, { category: 'commerce', privacy_level: 'public', context: { source: 'span', rule: 'pdp-view', 'service.name': 'shop-web', 'telemetry.sdk.language': 'nodejs' } }),
      ev('view_item', { item_id: 'abc', value: 12.5, ok: true }, { category: 'commerce', privacy_level: 'public' }),
      ev('view_item', { item_id: 7, value: 3 }, { category: 'commerce', context: { source: 'span', rule: 'pdp-view-v2', 'service.name': 'shop-api' } }),
      ev('product.viewed', { 'product.sku': 'X' }, { context: { source: 'log', 'service.name': 'shop-web' } }),
    ]);
    const s = r.snapshot();
    assert.deepEqual(s.events.map((e) => e.name), ['product.viewed', 'view_item']);
    const v = s.events[1]!;
    assert.equal(v.count, 3);
    assert.deepEqual(v.sources, { 'rule:pdp-view': 2, 'rule:pdp-view-v2': 1 });
    assert.deepEqual(v.services, { 'shop-web': 2, 'shop-api': 1 });
    assert.deepEqual(v.sdk_languages, { nodejs: 1 });
    assert.deepEqual(v.categories, { commerce: 3 });
    assert.deepEqual(v.privacy_levels, { public: 2 });
    assert.deepEqual(v.properties.item_id, { count: 3, types: { string: 2, integer: 1 } });
    assert.deepEqual(v.properties.value, { count: 3, types: { integer: 2, number: 1 } });
    assert.deepEqual(v.properties.flags!.types, { array: 1 });
    assert.deepEqual(v.properties.meta!.types, { object: 1 });
    assert.deepEqual(v.properties.gone!.types, { null: 1 });
    assert.deepEqual(v.properties.ok!.types, { boolean: 1 });
    assert.deepEqual(s.events[0]!.sources, { 'log:product.viewed': 1 });
    assert.ok(BigInt(v.first_seen.time_unix_nano) < BigInt(v.last_seen.time_unix_nano));
    assert.match(v.first_seen.wall, /^\d{4}-\d\d-\d\dT/);
    assert.equal(jsonType(1), 'integer');
    assert.equal(jsonType(1.5), 'number');
  });

  it('keeps first and last seen by event time, whatever order events come in', () => {
    const r = new CatalogueRecorder();
    const at = (ns: string) => ev('a', {}, { time_unix_nano: ns });
    r.record([at('2000000000000000000'), at('999999999999999999'), at('10000000000000000000')], 1000);
    r.record([at('1500000000000000000')], 2000);
    const e = r.snapshot().events[0]!;
    assert.equal(e.first_seen.time_unix_nano, '999999999999999999');
    assert.equal(e.last_seen.time_unix_nano, '10000000000000000000');
    assert.equal(e.first_seen.wall, new Date(1000).toISOString());
    assert.equal(e.last_seen.wall, new Date(2000).toISOString());
  });

  it('records no value: an e-mail address in a property, a source or an identity never reaches the catalogue', () => {
    const r = new CatalogueRecorder();
    r.record([
      ev('sign_up', { email: EMAIL, note: `contact ${EMAIL}`, nested: { email: EMAIL }, list: [EMAIL] }, { user_id: EMAIL, session_id: EMAIL, user_properties: { email: EMAIL }, context: { source: 'span', rule: 'signup', 'service.name': 'shop-web', 'client.address': EMAIL } }),
    ]);
    const text = JSON.stringify(r.snapshot());
    assert.ok(!text.includes(EMAIL), text);
    assert.ok(!text.includes('jane'), text);
    assert.ok(!text.includes('example.com'), text);
    assert.ok(text.includes('"email"'), 'the property name is kept');
  });

  it('keeps a few samples of properties marked safe only, capped in number and length', () => {
    const r = new CatalogueRecorder({ ...DEFAULT_LIMITS, maxSamples: 3 }, sampleSelector({ '*': ['currency'], view_item: ['item_id'] }));
    const long = 'x'.repeat(500);
    r.record(['a', 'b', 'a', 'c', 'd', long].map((id) => ev('view_item', { item_id: id, currency: 'EUR', secret: id })));
    r.record([ev('purchase', { item_id: 'not-sampled-here', currency: 'USD' })]);
    const s = r.snapshot();
    const v = s.events.find((e) => e.name === 'view_item')!;
    assert.deepEqual(v.properties.item_id!.samples, ['a', 'b', 'c']);
    assert.deepEqual(v.properties.currency!.samples, ['EUR']);
    assert.equal(v.properties.secret!.samples, undefined);
    const p = s.events.find((e) => e.name === 'purchase')!;
    assert.equal(p.properties.item_id!.samples, undefined);
    assert.deepEqual(p.properties.currency!.samples, ['USD']);
    const r2 = new CatalogueRecorder(DEFAULT_LIMITS, sampleSelector(['page']));
    r2.record([ev('a', { page: long, obj: { x: 1 } })]);
    assert.equal((r2.snapshot().events[0]!.properties.page!.samples![0] as string).length, 100);
  });

  it('is bounded: event names, properties per name and values per field beyond the limits are counted, not kept', () => {
    const r = new CatalogueRecorder({ maxEventNames: 2, maxPropertiesPerEvent: 2, maxValuesPerField: 2, maxSamples: 1 });
    r.record([
      ev('a', { p1: 1, p2: 2, p3: 3, p4: 4 }),
      ev('b', {}, { context: { source: 'span', rule: 'r', 'service.name': 's1' } }),
      ev('b', {}, { context: { source: 'span', rule: 'r', 'service.name': 's2' } }),
      ev('b', {}, { context: { source: 'span', rule: 'r', 'service.name': 's3' } }),
      ev('b', {}, { context: { source: 'span', rule: 'r', 'service.name': 's4' } }),
      ev('c', { p1: 1 }),
      ev('d', {}),
    ]);
    const s = r.snapshot();
    assert.deepEqual(s.events.map((e) => e.name), ['a', 'b']);
    assert.equal(s.overflow.events, 2);
    assert.deepEqual(Object.keys(s.events[0]!.properties), ['p1', 'p2']);
    assert.equal(s.events[0]!.properties_overflow, 2);
    assert.deepEqual(s.events[1]!.services, { s1: 1, s2: 1, [OTHER]: 2 });
    assert.deepEqual(r.takeOverflow(), { events: 2, properties: 2 });
    assert.deepEqual(r.takeOverflow(), { events: 0, properties: 0 });
    assert.deepEqual(s.limits, { max_event_names: 2, max_properties_per_event: 2, max_values_per_field: 2, max_samples: 1 });
  });

  it('merges snapshots: counts add up, first and last seen widen', () => {
    const a = new CatalogueRecorder();
    a.record([ev('x', { p: 1 }, { time_unix_nano: '2000' })], 1000);
    const b = new CatalogueRecorder();
    b.record([ev('x', { p: 'one', q: true }, { time_unix_nano: '1000' }), ev('y', {})], 5000);
    const m = mergeSnapshots([a.snapshot(), b.snapshot()]);
    const x = m.events.find((e) => e.name === 'x')!;
    assert.equal(x.count, 2);
    assert.deepEqual(x.properties.p, { count: 2, types: { string: 1, integer: 1 } });
    assert.equal(x.first_seen.time_unix_nano, '1000');
    assert.equal(x.last_seen.time_unix_nano, '2000');
    assert.equal(x.last_seen.wall, new Date(5000).toISOString());
    assert.equal(m.since, new Date(1000).toISOString());
  });
});

describe('tracking plan from the catalogue', () => {
  const observed = [
    ev('view_item', { item_id: 'trq22o064-q11', value: 12, currency: 'EUR' }, { category: 'commerce', privacy_level: 'public' }),
    ev('view_item', { item_id: 'abc-123', value: 19.99 }, { category: 'commerce', privacy_level: 'public' }),
    ev('search', { search_term: 'sneaker', results: 3, filters: ['red'], page: null }, { category: 'commerce' }),
    ev('search', { search_term: 'hat', results: 0, page: 2 }, { category: 'marketing' }),
    ev('app.started', {}, { context: { source: 'log', 'service.name': 'shop-web' } }),
  ];

  it('types (integer when only integers were seen, a list when several), required, category and level, description', () => {
    const r = new CatalogueRecorder();
    r.record(observed);
    const plan = inferPlan(r.snapshot());
    assert.deepEqual(plan.events.view_item, {
      description: 'seen 2 times from rule pdp-view in shop-web',
      category: 'commerce',
      privacy_level: 'public',
      properties: {
        type: 'object',
        required: ['item_id', 'value'],
        properties: { currency: { type: 'string' }, item_id: { type: 'string' }, value: { type: 'number' } },
        additionalProperties: false,
      },
    });
    const search = plan.events.search!;
    assert.equal(search.category, undefined, 'two categories seen: none written');
    assert.deepEqual(search.properties.required, ['page', 'results', 'search_term'], 'page was null once: present, not missing');
    assert.deepEqual(search.properties.properties.results, { type: 'integer' });
    assert.deepEqual(search.properties.properties.page, { type: ['integer', 'null'] });
    assert.deepEqual(search.properties.properties.filters, { type: 'array' });
    assert.deepEqual(plan.events['app.started']!.properties, { type: 'object', properties: {}, additionalProperties: false });
  });

  it('written as YAML, compiles with ajv (draft 2020-12) and accepts the observed events; a missing required property or a wrong type is refused', () => {
    const r = new CatalogueRecorder(DEFAULT_LIMITS, sampleSelector(['currency']));
    r.record(observed);
    const text = planYaml(inferPlan(r.snapshot()), ' test plan');
    assert.match(text, /^ {8}item_id: \{ type: string \}$/m);
    assert.match(text, /^ {8}currency: \{ type: string, x-sample: true \}$/m);
    const plan = YAML.parse(text) as TrackingPlan;
    const ajv = planAjv();
    for (const e of observed) {
      const validate = ajv.compile(plan.events[e.name]!.properties);
      assert.equal(validate(e.properties), true, `${e.name}: ${ajv.errorsText(validate.errors)}`);
    }
    const view = ajv.compile(plan.events.view_item!.properties);
    assert.equal(view({ value: 1 }), false, 'item_id missing');
    assert.equal(view({ item_id: 5, value: 1 }), false, 'item_id a number');
    assert.equal(view({ item_id: 'a', value: 1, extra: 'x' }), false, 'a property never seen');
  });
});

describe('catalogue processor', () => {
  const make = (telemetry: Telemetry, raw: unknown, pipeline = 'events', id = 'catalogue') => {
    const cfg = catalogueProcessorFactory.configSchema.parse(raw);
    const out: AnalyticsEvent[] = [];
    const p = catalogueProcessorFactory.create({ id, pipeline, logger: silent, telemetry }, cfg, { consume: async (x: Payload) => void out.push(...(x.data as AnalyticsEvent[])) });
    return { p, out };
  };

  it('hands events on unchanged, shares one catalogue per id across pipelines, counts overflow', async () => {
    const telemetry = new Telemetry();
    const a = make(telemetry, { max_event_names: 1 }, 'events/a');
    const b = make(telemetry, { max_event_names: 1 }, 'events/b');
    const events = [ev('view_item', { item_id: 'x' }), ev('purchase', { value: 1 })];
    const copy = structuredClone(events);
    await a.p.consume({ signal: 'events', data: events });
    await b.p.consume({ signal: 'events', data: [ev('view_item', {})] });
    assert.deepEqual(a.out, copy);
    const shared = cataloguesOf(telemetry).get('catalogue')!;
    assert.deepEqual([...shared.pipelines], ['events/a', 'events/b']);
    assert.equal(shared.recorder.snapshot().events[0]!.count, 2);
    assert.match(await telemetry.registry.metrics(), /otelytics_catalogue_overflow\{processor="catalogue",what="events"\} 1/);
  });

  it('refuses other signals than events and unknown keys', () => {
    assert.deepEqual(catalogueProcessorFactory.accepts, ['events']);
    assert.equal(catalogueProcessorFactory.configSchema.safeParse({ max_names: 3 }).success, false);
    assert.equal(catalogueProcessorFactory.configSchema.safeParse({ max_event_names: 0 }).success, false);
  });

  it('persists: written at shutdown through a temporary file, loaded at start, counts adding up; no value in the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalogue-'));
    const file = path.join(dir, 'sub', 'catalogue.json');
    const first = make(new Telemetry(), { storage: file });
    await first.p.start({ getExporter: () => undefined });
    await first.p.consume({ signal: 'events', data: [ev('sign_up', { email: EMAIL, method: 'password' }, { user_id: EMAIL })] });
    await first.p.shutdown();
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(!text.includes(EMAIL));
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['catalogue.json'], 'no temporary file left');
    assert.equal(readSnapshot(file)!.events[0]!.count, 1);

    const second = make(new Telemetry(), { storage: file });
    await second.p.start({ getExporter: () => undefined });
    await second.p.consume({ signal: 'events', data: [ev('sign_up', { method: 'google' }), ev('view_item', { item_id: 'a' })] });
    await second.p.shutdown();
    const s = readSnapshot(file)!;
    const signUp = s.events.find((e) => e.name === 'sign_up')!;
    assert.equal(signUp.count, 2);
    assert.deepEqual(signUp.properties.method, { count: 2, types: { string: 2 } });
    assert.equal(signUp.properties.email!.count, 1);
    assert.deepEqual(s.events.map((e) => e.name), ['sign_up', 'view_item']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes periodically, and moves an unreadable file aside instead of failing to start', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalogue-'));
    const file = path.join(dir, 'catalogue.json');
    fs.writeFileSync(file, '{not json');
    const { p } = make(new Telemetry(), { storage: file, storage_interval: '20ms' });
    await p.start({ getExporter: () => undefined });
    assert.ok(fs.readdirSync(dir).some((f) => f.startsWith('catalogue.json.unreadable-')));
    await p.consume({ signal: 'events', data: [ev('view_item', { item_id: 'a' })] });
    for (let i = 0; i < 100 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(readSnapshot(file)!.events[0]!.name, 'view_item');
    await p.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('samples the properties a plan marks with "x-sample": true', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalogue-'));
    const plan = path.join(dir, 'plan.yaml');
    fs.writeFileSync(plan, 'events:\n  view_item:\n    properties:\n      type: object\n      properties:\n        item_id: { type: string, x-sample: true }\n        page_path: { type: string }\n');
    const { p } = make(new Telemetry(), { plan });
    await p.start({ getExporter: () => undefined });
    await p.consume({ signal: 'events', data: [ev('view_item', { item_id: 'trq22o064-q11', page_path: '/pdp/x' })] });
    const props = cataloguesOf((p as unknown as { telemetry: Telemetry }).telemetry).get('catalogue')!.recorder.snapshot().events[0]!.properties;
    assert.deepEqual(props.item_id!.samples, ['trq22o064-q11']);
    assert.equal(props.page_path!.samples, undefined);
    await p.shutdown();
    const missing = make(new Telemetry(), { plan: path.join(dir, 'none.yaml') });
    await assert.rejects(missing.p.start({ getExporter: () => undefined }), /none\.yaml/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writeSnapshot replaces the file whole', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalogue-'));
    const file = path.join(dir, 'c.json');
    const r = new CatalogueRecorder();
    r.record([ev('a', {})]);
    await writeSnapshot(file, r.snapshot());
    r.record([ev('b', {})]);
    await writeSnapshot(file, r.snapshot());
    assert.deepEqual(readSnapshot(file)!.events.map((e) => e.name), ['a', 'b']);
    assert.equal(readSnapshot(path.join(dir, 'absent.json')), undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
