/**
 * examples/destinations.yaml as a user runs it: the CLI on config.example.yaml with the example
 * laid over it, the shop captures posted over OTLP/HTTP, and the local Segment, Mixpanel and PostHog
 * servers as destinations. Every event the pipeline made reaches each destination once under the
 * key that destination de-duplicates on, all made from the event's insert_id; the same captures
 * sent again through a fresh gateway (a replay) add no event anywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../src/event.js';
import { insertIdUuid } from '../../exporters/posthog/mapping.js';
import { startMixpanelServer, type FakeMixpanel } from '../fakes/mixpanel-server.js';
import { startPosthogServer, type FakePosthog } from '../fakes/posthog-server.js';
import { startSegmentServer, type FakeSegment } from '../fakes/segment-server.js';
import { runExample } from '../exporters/example-run.js';

describe('examples/destinations.yaml: Segment, Mixpanel and PostHog, once each by their keys', () => {
  let segment: FakeSegment;
  let mixpanel: FakeMixpanel;
  let posthog: FakePosthog;
  let env: NodeJS.ProcessEnv;
  let first: { pipeline: AnalyticsEvent[]; dead: AnalyticsEvent[] };

  before(async () => {
    [segment, mixpanel, posthog] = await Promise.all([
      startSegmentServer({ writeKeys: ['segment-write-key'] }),
      startMixpanelServer({ tokens: ['mixpanel-token'] }),
      startPosthogServer({ apiKeys: ['phc_posthog_key'] }),
    ]);
    env = {
      SEGMENT_WRITE_KEY: 'segment-write-key',
      SEGMENT_ENDPOINT: segment.url,
      MIXPANEL_PROJECT_TOKEN: 'mixpanel-token',
      MIXPANEL_ENDPOINT: mixpanel.url,
      POSTHOG_API_KEY: 'phc_posthog_key',
      POSTHOG_ENDPOINT: posthog.url,
    };
    first = await runExample('destinations', 'segment, mixpanel, posthog', env);
  });
  after(async () => {
    await Promise.all([segment?.close(), mixpanel?.close(), posthog?.close()]);
  });

  it('delivers every event to each destination under its de-duplication key, nothing dead-lettered', () => {
    assert.ok(first.pipeline.length > 50, `events made: ${first.pipeline.length}`);
    assert.deepEqual(first.dead, []);
    const ids = first.pipeline.map((e) => e.insert_id);
    assert.equal(new Set(ids).size, ids.length, 'one insert_id an event');
    assert.deepEqual([...segment.ingested.keys()].sort(), [...ids].sort(), 'Segment messageId = insert_id');
    assert.deepEqual([...mixpanel.ingested.keys()].sort(), [...ids].sort(), 'Mixpanel $insert_id = insert_id (32 hex digits fit its rules)');
    assert.deepEqual([...posthog.ingested.keys()].sort(), ids.map(insertIdUuid).sort(), 'PostHog uuid = UUID v5 of insert_id');
    assert.deepEqual([segment.duplicates, mixpanel.duplicates, posthog.duplicates], [0, 0, 0]);
  });

  it('keeps numbers typed and names the events as the pipeline did', () => {
    const numbers = (props: Record<string, unknown>) => Object.entries(props).filter(([, v]) => typeof v === 'number');
    const typed = first.pipeline.filter((e) => numbers(e.properties).length > 0);
    assert.ok(typed.length > 0, 'the shop captures have events with numbers (product.price, search.results_count)');
    for (const e of typed) {
      const seg = segment.ingested.get(e.insert_id) as { event: string; properties: Record<string, unknown> };
      const mix = mixpanel.ingested.get(e.insert_id) as unknown as { event: string; properties: Record<string, unknown> };
      const ph = posthog.ingested.get(insertIdUuid(e.insert_id)) as { event: string; properties: Record<string, unknown> };
      for (const [name, got] of [['segment', seg], ['mixpanel', mix], ['posthog', ph]] as const) {
        assert.equal(got.event, e.name, name);
        for (const [k, v] of numbers(e.properties)) assert.equal(got.properties[k], v, `${name}: ${e.name}.${k} stays the number ${v}`);
      }
    }
  });

  it('the same captures sent again (a replay through a fresh gateway) add no event anywhere', async () => {
    const sizes = [segment.ingested.size, mixpanel.ingested.size, posthog.ingested.size];
    const again = await runExample('destinations', 'segment, mixpanel, posthog', env);
    assert.deepEqual(again.pipeline.map((e) => e.insert_id).sort(), first.pipeline.map((e) => e.insert_id).sort(), 'the same insert_ids');
    assert.deepEqual([segment.ingested.size, mixpanel.ingested.size, posthog.ingested.size], sizes);
    assert.deepEqual([segment.duplicates, mixpanel.duplicates, posthog.duplicates], sizes, 'each event was sent again, and kept once');
  });
});
