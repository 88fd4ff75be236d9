/**
 * examples/tracking-plan.yaml as a user runs it: the real CLI (config.example.yaml + the example),
 * the shop captures and a few events that break the plan posted over OTLP/HTTP. The shop's events
 * follow its plan and reach the main file; an unplanned event, a view_item without item_id and a
 * purchase whose value is a string reach the violations file instead, with their violations; an
 * add_to_cart with a property the plan does not allow reaches the main file without it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import type { Violation } from '../../../processors/tracking_plan/plan.js';
import { fixtureEvents } from '../../exporters/amplitude/fixture-events.js';
import { fixtureManifest, postFixture, projectRoot, readJsonLines, startGateway } from '../../helpers.js';
import { metricValue } from '../../connectors/harness.js';

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const int = (key: string, v: number) => ({ key, value: { intValue: String(v) } });

/** Events that break the shop's plan, as a shop would send them (log records with an event name). */
const BROKEN = {
  resourceLogs: [
    {
      resource: { attributes: [str('service.name', 'shop-web')] },
      scopeLogs: [
        {
          scope: { name: 'shop' },
          logRecords: [
            { eventName: 'wishlist.shared', timeUnixNano: '1795600900000000000', attributes: [str('item_id', 'trq22o064-q11')] },
            { eventName: 'view_item', timeUnixNano: '1795600901000000000', attributes: [str('page_path', '/pdp/unknown.html')] },
            { eventName: 'purchase', timeUnixNano: '1795600902000000000', attributes: [str('transaction_id', 'o-4711'), str('value', '59.90'), str('currency', 'EUR')] },
            { eventName: 'add_to_cart', timeUnixNano: '1795600903000000000', attributes: [str('item_id', 'le222n0ab-k11'), int('quantity', 1), str('coupon', 'SUMMER')] },
          ],
        },
      ],
    },
  ],
};

describe('examples/tracking-plan.yaml through the CLI', () => {
  it('routes what breaks the shop plan to the violations file and lets the shop events through', async () => {
    let dir = '';
    let metrics = '';
    try {
      const gw = await startGateway({
        configs: [path.join(projectRoot, 'config.example.yaml'), path.join(projectRoot, 'examples/tracking-plan.yaml')],
        env: { OTELYTICS_PSEUDONYM_KEY: 'tracking-plan-test-key-0123456789ab', OTELYTICS_TRACKING_PLAN: path.join(projectRoot, 'examples/tracking-plan/shop-plan.yaml'), OTELYTICS_VIOLATIONS_FILE: 'violations.jsonl' },
        sets: ['exporters::file::path=events.jsonl', 'exporters::debug::verbosity=basic', 'service::telemetry::logs::level=warn'],
      });
      dir = gw.dir;
      try {
        for (const f of fixtureManifest().filter((x) => x.path.endsWith('.json'))) {
          const r = await postFixture(gw.ports.http, f);
          assert.equal(r.status, 200, await r.text());
        }
        const r = await fetch(`http://127.0.0.1:${gw.ports.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BROKEN) });
        assert.equal(r.status, 200, await r.text());
        metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
        const recent = (await (await fetch(`http://127.0.0.1:${gw.ports.status}/api/violations`)).json()) as { items: { event_name: string; outcome: string }[] };
        assert.deepEqual(recent.items.map((i) => [i.event_name, i.outcome]).reverse(), [
          ['wishlist.shared', 'routed'],
          ['view_item', 'routed'],
          ['purchase', 'routed'],
          ['add_to_cart', 'kept'],
        ]);
      } finally {
        assert.equal(await gw.stop(), 0, gw.output());
      }

      // The violations file: the three events routed, as they came, each with its violations.
      const violations = readJsonLines<AnalyticsEvent>(path.join(dir, 'violations.jsonl'));
      const found = violations.map((e) => [e.name, (e.context.violations as unknown as Violation[]).map((v) => `${v.kind} ${v.property}`)]);
      assert.deepEqual(found, [
        ['wishlist.shared', ['unplanned_event ']],
        ['view_item', ['required_missing /item_id']],
        ['purchase', ['datatype_mismatch /value']],
      ]);
      assert.equal(violations[2]!.properties.value, '59.90', 'routed as it came, to be fixed and replayed');

      // The main file: every shop event (those filter keeps), and the add_to_cart without its coupon.
      const main = readJsonLines<AnalyticsEvent>(path.join(dir, 'events.jsonl'));
      const shop = fixtureEvents().filter((e) => !/^(feature_flag|code_references)\./.test(e.name));
      const mainShop = main.filter((e) => e.time_unix_nano < '1795600900000000000' || !e.context.violations);
      assert.deepEqual(mainShop.map((e) => e.insert_id).sort(), shop.map((e) => e.insert_id).sort());
      for (const e of mainShop) assert.equal(e.context.violations, undefined, `${e.name} follows the plan`);
      const fixed = main.filter((e) => e.context.violations);
      assert.equal(fixed.length, 1);
      assert.equal(fixed[0]!.name, 'add_to_cart');
      assert.deepEqual(fixed[0]!.properties, { item_id: 'le222n0ab-k11', quantity: 1 });
      assert.deepEqual(fixed[0]!.context.violations, [{ kind: 'additional_property', property: '/coupon', message: 'must NOT have additional properties' }]);
      assert.equal(main.find((e) => e.name === 'app.started')!.category, 'technical', "the plan's category");

      const v = (name: string, kind: string) => metricValue(metrics, `otelytics_tracking_plan_violations{processor="tracking_plan",event_name="${name}",kind="${kind}"}`);
      assert.equal(v('(unplanned)', 'unplanned_event'), 1);
      assert.equal(v('view_item', 'required_missing'), 1);
      assert.equal(v('purchase', 'datatype_mismatch'), 1);
      assert.equal(v('add_to_cart', 'additional_property'), 1);
      assert.equal(metricValue(metrics, 'otelytics_tracking_plan_events_checked{processor="tracking_plan",pipeline="events"}'), shop.length + 4);
      assert.equal(metricValue(metrics, 'otelytics_tracking_plan_events_routed{processor="tracking_plan",pipeline="events"}'), 3);
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
