/**
 * The tracking_plan processor: violations named as Segment and RudderStack name them, each action
 * (allow, drop_property, drop_event, route to an exporter no pipeline lists), the plan's category
 * and privacy level, the metrics, config errors with their paths, and a plan file read again when
 * it changes (the last good plan kept when the new one does not compile).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { builtinFactories } from '../../../src/components.js';
import { resolveConfig } from '../../../src/config/resolve.js';
import { parseConfigText } from '../../../src/config/sources.js';
import { ConfigErrors } from '../../../src/errors.js';
import { Registry } from '../../../src/registry.js';
import { checkEvent, compilePlan, parsePlan, removeAt, type Violation } from '../../../processors/tracking_plan/plan.js';
import { decide } from '../../../processors/tracking_plan/index.js';
import { ev, harness, metricValue } from '../../connectors/harness.js';

const PLAN = `
events:
  view_item:
    description: A product page was viewed
    category: commerce
    privacy_level: public
    properties:
      type: object
      required: [item_id]
      properties:
        item_id: { type: string, pattern: "^[a-z0-9-]+$" }
        value: { type: number, minimum: 0 }
        currency: { enum: [EUR, USD] }
        items:
          type: array
          items: { type: object, properties: { price: { type: number } } }
      additionalProperties: false
  sign_up:
  search:
    properties:
      type: object
      properties: { search_term: { type: string, maxLength: 10 }, at: { type: string, format: date-time } }
      unevaluatedProperties: false
`;

const plan = parsePlan(PLAN, 'plan.yaml');
const violationsOf = (name: string, properties: Record<string, unknown>) => checkEvent(plan, ev(name, { properties: properties as never })).violations;

describe('tracking plan: violations', () => {
  it('a planned event whose properties pass has none', () => {
    assert.deepEqual(violationsOf('view_item', { item_id: 'abc-1', value: 3, currency: 'EUR' }), []);
    assert.deepEqual(violationsOf('sign_up', { anything: 1 }), [], 'an event without a schema takes any properties');
  });

  it('names each failure by kind, with a JSON pointer to the property', () => {
    assert.deepEqual(violationsOf('nope', {}), [{ kind: 'unplanned_event', property: '', message: 'event "nope" is not in the tracking plan' }]);
    const v = violationsOf('view_item', { value: '12', currency: 'GBP', extra: true, items: [{ price: 'x' }] });
    const by = (kind: string) => v.filter((x) => x.kind === kind).map((x) => x.property).sort();
    assert.deepEqual(by('required_missing'), ['/item_id']);
    assert.deepEqual(by('datatype_mismatch'), ['/items/0/price', '/value']);
    assert.deepEqual(by('additional_property'), ['/extra']);
    assert.deepEqual(by('value_out_of_range'), ['/currency']);
    assert.match(v.find((x) => x.kind === 'value_out_of_range')!.message, /must be one of "EUR", "USD"/);
    assert.deepEqual(
      violationsOf('view_item', { item_id: 'UPPER', value: -1 }).map((x) => [x.kind, x.property]),
      [
        ['value_out_of_range', '/item_id'],
        ['value_out_of_range', '/value'],
      ],
    );
    assert.deepEqual(
      violationsOf('search', { search_term: 'a very long term', at: 'yesterday', page: 2 }).map((x) => [x.kind, x.property]).sort(),
      [
        ['additional_property', '/page'],
        ['value_out_of_range', '/at'],
        ['value_out_of_range', '/search_term'],
      ],
    );
  });

  it('drop_property removes the offending values, list elements last first', () => {
    const props = { a: 1, b: { c: 2, d: 3 }, l: [0, 1, 2, 3], 'x/y': 4 };
    assert.equal(removeAt(props as never, ['/b/c', '/l/1', '/l/3', '/x~1y', '/missing', '']), 4);
    assert.deepEqual(props, { a: 1, b: { d: 3 }, l: [0, 2] });
  });

  it('the strongest action wins: drop_event, then route, then drop_property and allow', () => {
    const actions = { unplanned_event: 'allow', required_missing: 'route', datatype_mismatch: 'drop_property', additional_property: 'drop_event', value_out_of_range: 'allow' } as const;
    const v = (kind: Violation['kind'], property = '/p'): Violation => ({ kind, property, message: '' });
    assert.deepEqual(decide(actions, [v('datatype_mismatch'), v('value_out_of_range')]), { outcome: 'kept', remove: ['/p'] });
    assert.deepEqual(decide(actions, [v('datatype_mismatch'), v('required_missing')]), { outcome: 'routed', remove: [] });
    assert.deepEqual(decide(actions, [v('required_missing'), v('additional_property')]), { outcome: 'dropped', remove: [] });
    assert.deepEqual(decide({ ...actions, required_missing: 'drop_property' }, [v('required_missing')]), { outcome: 'kept', remove: [] }, 'nothing to remove for a missing property');
  });

  it('refuses a plan that does not compile, naming where', () => {
    const issues = compilePlan({ events: { a: { properties: { type: 'strin' } }, b: { properties: { requird: ['x'] } }, c: { categry: 'x' }, d: 'x' }, version: 2 }).issues;
    const text = issues.map((i) => `${i.path.join('::')}: ${i.message}`);
    assert.ok(text.some((t) => t.startsWith('version: unknown key')), text.join('\n'));
    assert.ok(text.some((t) => t.startsWith('events::a::properties::type: ')), text.join('\n'));
    assert.ok(text.some((t) => t.startsWith('events::b::properties: unknown keyword: "requird"')), text.join('\n'));
    assert.ok(text.some((t) => t.startsWith('events::c::categry: unknown key')), text.join('\n'));
    assert.ok(text.some((t) => t.startsWith('events::d: must be a map')), text.join('\n'));
    assert.throws(() => parsePlan('events: [', 'p.yaml'), /^Error: p\.yaml: not YAML or JSON/);
    assert.ok(parsePlan('{"events": {"a": {"properties": {"type": "object"}}}}', 'p.json').events.has('a'), 'JSON is read too');
  });

  it('takes the catalogue\'s "x-sample" marker as an annotation, not a check', () => {
    const { plan, issues } = compilePlan({ events: { search: { properties: { type: 'object', properties: { q: { type: 'string', 'x-sample': true } } } } } });
    assert.deepEqual(issues, []);
    assert.deepEqual(checkEvent(plan!, { name: 'search', time_unix_nano: '1', insert_id: 'i', properties: { q: 'shoes' }, context: { source: 'log' } }).violations, []);
    assert.equal(compilePlan({ events: { search: { properties: { 'x-sample': 'yes' } } } }).issues.length, 1, 'a boolean');
  });
});

const PIPELINE = (processor: string, extra = '') => `
receivers: { feed: }
processors:
  tracking_plan:
    plan:
      events:
        view_item:
          category: commerce
          privacy_level: public
          properties:
            type: object
            required: [item_id]
            properties: { item_id: { type: string }, value: { type: number } }
            additionalProperties: false
${processor}
exporters: { capture/main: , capture/violations: }
service:
  pipelines:
    events: { receivers: [feed], processors: [tracking_plan], exporters: [capture/main] }
${extra}`;

describe('tracking_plan processor', () => {
  it('allows by default: violations attached as context.violations, plan category and privacy level set, counted', async () => {
    const h = await harness(PIPELINE(''));
    try {
      await h.send({ signal: 'events', data: [ev('view_item', { properties: { item_id: 'a' } }), ev('view_item', { properties: { value: '1' } }), ev('wishlist.shared')] });
      const [ok, bad, unplanned] = h.events('capture/main');
      assert.equal(ok!.context.violations, undefined);
      assert.equal(ok!.category, 'commerce');
      assert.equal(ok!.privacy_level, 'public');
      assert.deepEqual(
        (bad!.context.violations as unknown as Violation[]).map((v) => v.kind).sort(),
        ['datatype_mismatch', 'required_missing'],
      );
      assert.deepEqual(bad!.properties, { value: '1' }, 'allow changes nothing');
      assert.equal(unplanned!.category, undefined);
      assert.deepEqual(unplanned!.context.violations, [{ kind: 'unplanned_event', property: '', message: 'event "wishlist.shared" is not in the tracking plan' }]);
      const m = await h.metrics();
      assert.equal(metricValue(m, 'otelytics_tracking_plan_violations{processor="tracking_plan",event_name="(unplanned)",kind="unplanned_event"}'), 1);
      assert.equal(metricValue(m, 'otelytics_tracking_plan_violations{processor="tracking_plan",event_name="view_item",kind="required_missing"}'), 1);
      assert.equal(metricValue(m, 'otelytics_tracking_plan_events_checked{processor="tracking_plan",pipeline="events"}'), 3);
    } finally {
      await h.stop();
    }
  });

  it('drop_property, drop_event and route: routed events reach an exporter no pipeline lists, the rest go on', async () => {
    const h = await harness(
      PIPELINE(`    actions: { unplanned_event: route, required_missing: drop_event, additional_property: drop_property, datatype_mismatch: route }
    route_to: capture/violations`),
    );
    try {
      await h.send({
        signal: 'events',
        data: [
          ev('view_item', { insert_id: 'ok', properties: { item_id: 'a', value: 1 } }),
          ev('view_item', { insert_id: 'extra', properties: { item_id: 'b', colour: 'red' } }),
          ev('view_item', { insert_id: 'missing', properties: { value: 2 } }),
          ev('view_item', { insert_id: 'string-value', properties: { item_id: 'c', value: '3' } }),
          ev('wishlist.shared', { insert_id: 'unplanned' }),
        ],
      });
      const main = h.events('capture/main');
      assert.deepEqual(main.map((e) => e.insert_id), ['ok', 'extra']);
      assert.deepEqual(main[1]!.properties, { item_id: 'b' }, 'colour removed');
      assert.equal((main[1]!.context.violations as unknown as Violation[])[0]!.property, '/colour');
      const routed = h.events('capture/violations');
      assert.deepEqual(routed.map((e) => e.insert_id), ['string-value', 'unplanned']);
      assert.deepEqual(routed[0]!.properties, { item_id: 'c', value: '3' }, 'routed as it came, to be replayed');
      assert.deepEqual((routed[0]!.context.violations as unknown as Violation[]).map((v) => [v.kind, v.property]), [['datatype_mismatch', '/value']]);
      const m = await h.metrics();
      assert.equal(metricValue(m, 'otelytics_tracking_plan_events_routed{processor="tracking_plan",pipeline="events"}'), 2);
      assert.equal(metricValue(m, 'otelytics_tracking_plan_events_dropped{processor="tracking_plan",pipeline="events"}'), 1);
      assert.equal(metricValue(m, 'otelytics_events_dropped{component="tracking_plan",reason="tracking_plan"}'), 1);
    } finally {
      await h.stop();
    }
  });

  it('config errors name their path', () => {
    const errors = (yaml: string) => {
      const registry = new Registry(builtinFactories);
      try {
        resolveConfig(parseConfigText(yaml, 't.yaml'), registry);
      } catch (err) {
        if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
        throw err;
      }
      return [];
    };
    const base = (tp: string, exporters = 'file: { path: /tmp/x.jsonl }') => `
receivers: { otlp: }
processors:
  analytics:
  tracking_plan:
${tp}
exporters: { ${exporters} }
service: { pipelines: { events: { receivers: [otlp], processors: [analytics, tracking_plan], exporters: [file] } } }`;
    assert.deepEqual(errors(base('    plan: { events: { a: } }\n    actions: { required_missing: route }')), ['processors::tracking_plan::actions::required_missing: route needs route_to: the exporter that gets these events']);
    assert.deepEqual(errors(base('    plan: { events: { a: } }\n    route_to: file/violations')), ['processors::tracking_plan::route_to: references exporter "file/violations" which is not configured under exporters']);
    assert.deepEqual(errors(base('    plan: { file: p.yaml, events: { a: } }')), ['processors::tracking_plan::plan: give exactly one of file, events']);
    assert.deepEqual(errors(base('    plan: { events: { a: { properties: { minimum: "x" } } } }')), ['processors::tracking_plan::plan::events::a::properties::minimum: must be number']);
    assert.deepEqual(errors(base('    plan: { events: { a: } }\n    actions: { unplanned: drop_event }')).length, 1);
  });

  it('reads the plan file again when it changes, keeping the last good plan when the new one is broken', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-plan-'));
    const file = path.join(dir, 'plan.yaml');
    fs.writeFileSync(file, 'events:\n  a:\n');
    const h = await harness(`
receivers: { feed: }
processors: { tracking_plan: { plan: { file: ${JSON.stringify(file)}, poll_interval: 50ms } } }
exporters: { capture: }
service: { pipelines: { events: { receivers: [feed], processors: [tracking_plan], exporters: [capture] } } }`);
    const violations = async (name: string) => {
      const before = h.events('capture').length;
      await h.send({ signal: 'events', data: [ev(name)] });
      return h.events('capture')[before]!.context.violations;
    };
    const waitFor = async (series: string, n: number) => {
      for (let i = 0; i < 100 && metricValue(await h.metrics(), series) !== n; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(metricValue(await h.metrics(), series), n, series);
    };
    try {
      assert.equal(await violations('a'), undefined);
      assert.ok(await violations('b'));
      fs.writeFileSync(file, 'events:\n  a:\n  b:\n');
      await waitFor('otelytics_tracking_plan_reloads{processor="tracking_plan",result="ok"}', 1);
      assert.equal(await violations('b'), undefined);
      fs.writeFileSync(file, 'events:\n  a: { properties: { type: strin } }\n');
      await waitFor('otelytics_tracking_plan_reloads{processor="tracking_plan",result="failed"}', 1);
      assert.equal(await violations('b'), undefined, 'the last good plan stays in use');
      assert.equal(metricValue(await h.metrics(), 'otelytics_tracking_plan_planned_events{processor="tracking_plan"}'), 2);
    } finally {
      await h.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a plan file that cannot be read stops the start with the setting named', async () => {
    await assert.rejects(
      harness(`
receivers: { feed: }
processors: { tracking_plan: { plan: { file: /nonexistent/plan.yaml } } }
exporters: { capture: }
service: { pipelines: { events: { receivers: [feed], processors: [tracking_plan], exporters: [capture] } } }`),
      /processors::tracking_plan::plan::file: cannot read \/nonexistent\/plan\.yaml: ENOENT/,
    );
  });
});
