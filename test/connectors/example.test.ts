/**
 * examples/routing.yaml as a user runs it: the real CLI (config.example.yaml + the example), the
 * real SDK fixtures posted over OTLP/HTTP, the local Amplitude server as Amplitude. Commerce events
 * reach Amplitude only with analytics consent, sign-ups the marketing file only with marketing
 * consent, every event reaches the warehouse file pseudonymised, and the metrics endpoint counts
 * events per name.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../src/event.js';
import { startAmplitudeServer } from '../fakes/amplitude-server.js';
import { fixtureEvents } from '../exporters/amplitude/fixture-events.js';
import { fixtureManifest, postFixture, projectRoot, readJsonLines, startGateway } from '../helpers.js';
import { metricValue } from './harness.js';

const KEY = 'test-key-routing';

describe('examples/routing.yaml through the CLI', () => {
  it('sends each event to the destinations it belongs to, with the consent each requires, and counts them by name', async () => {
    const fake = await startAmplitudeServer({ apiKeys: [KEY] });
    let metrics = '';
    let dir = '';
    try {
      const gw = await startGateway({
        configs: [path.join(projectRoot, 'config.example.yaml'), path.join(projectRoot, 'examples/routing.yaml')],
        env: { AMPLITUDE_API_KEY: KEY, AMPLITUDE_ENDPOINT: fake.url, OTELYTICS_PSEUDONYM_KEY: 'routing-test-key-0123456789abcdef', OTELYTICS_WAREHOUSE_FILE: 'warehouse.jsonl', OTELYTICS_MARKETING_FILE: 'marketing.jsonl' },
        sets: ['service::telemetry::logs::level=warn'],
      });
      dir = gw.dir;
      try {
        for (const f of fixtureManifest().filter((x) => x.path.endsWith('.json'))) {
          const r = await postFixture(gw.ports.http, f);
          assert.equal(r.status, 200, await r.text());
        }
        metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
      } finally {
        assert.equal(await gw.stop(), 0, gw.output());
      }

      const kept = fixtureEvents().filter((e) => !/^(feature_flag|code_references)\./.test(e.name));
      const commerce = (e: AnalyticsEvent) => e.category === 'commerce' || /^(cart|order|product)\./.test(e.name);
      const signUp = (e: AnalyticsEvent) => !commerce(e) && ['sign_up', 'user.signed_up'].includes(e.name);
      const ids = (events: AnalyticsEvent[]) => events.map((e) => e.insert_id).sort();

      // The warehouse: every event, once, without a raw user id.
      const warehouse = readJsonLines<AnalyticsEvent>(path.join(dir, 'warehouse.jsonl'));
      assert.deepEqual(ids(warehouse), ids(kept));
      const rawUsers = new Set(kept.flatMap((e) => (e.user_id ? [e.user_id] : [])));
      assert.ok(rawUsers.size > 0);
      for (const e of warehouse) assert.ok(e.user_id === undefined || (!rawUsers.has(e.user_id) && /^[0-9a-f]{8}:/.test(e.user_id)), `warehouse user_id ${e.user_id}`);

      // Amplitude: commerce events with analytics consent, and no other.
      const toAmplitude = kept.filter((e) => commerce(e) && e.consent?.analytics === true);
      assert.ok(toAmplitude.length > 0 && toAmplitude.length < kept.filter(commerce).length, 'the fixtures have commerce events with and without consent');
      assert.deepEqual([...fake.ingested.keys()].sort(), ids(toAmplitude));
      for (const { event } of fake.ingested.values()) assert.ok(typeof event.user_id === 'string' && !rawUsers.has(event.user_id), 'pseudonymised');

      // Marketing: sign-ups with marketing consent, pseudonymised for that purpose.
      const marketing = readJsonLines<AnalyticsEvent>(path.join(dir, 'marketing.jsonl'));
      const toMarketing = kept.filter((e) => signUp(e) && e.consent?.marketing === true);
      assert.ok(toMarketing.length > 0 && toMarketing.length < kept.filter(signUp).length, 'the fixtures have sign-ups with and without marketing consent');
      assert.deepEqual(ids(marketing), ids(toMarketing));
      for (const e of marketing) assert.ok(e.user_id !== undefined && !rawUsers.has(e.user_id), 'pseudonymised with marketing consent');

      // The metrics endpoint: events per name before routing, what each route took, what consent kept out.
      const byName = new Map<string, number>();
      for (const e of kept) byName.set(e.name, (byName.get(e.name) ?? 0) + 1);
      for (const [name, n] of byName) assert.equal(metricValue(metrics, `event_count{event_name="${name}"}`), n, name);
      const routed = (route: string) => metricValue(metrics, `otelytics_connector_routed_items{connector="routing",route="${route}"}`);
      assert.equal(routed('0'), kept.filter(commerce).length);
      assert.equal(routed('1'), kept.filter(signUp).length);
      assert.equal(routed('none'), kept.length - kept.filter(commerce).length - kept.filter(signUp).length);
      assert.equal(metricValue(metrics, 'otelytics_events_dropped{component="amplitude",reason="no_consent"}'), kept.filter(commerce).length - toAmplitude.length);
      assert.equal(metricValue(metrics, 'otelytics_events_dropped{component="file/marketing",reason="no_consent"}'), kept.filter(signUp).length - toMarketing.length);
    } finally {
      await fake.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
