/** The forward connector in a running gateway: fan-out, fan-in, copies for pipelines that change data. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../src/event.js';
import { ev, harness, metricValue } from './harness.js';

describe('forward connector', () => {
  it('fans out: every pipeline it feeds gets everything, a pipeline that changes events (privacy) its own copy', async () => {
    const h = await harness(`
receivers: { feed: }
processors:
  privacy: { pseudonymization: { key: test-key-0123456789abcdef }, consent: { required: false } }
exporters: { capture/raw: , capture/clean: , capture/all: }
connectors: { forward: }
service:
  pipelines:
    events: { receivers: [feed], exporters: [forward, capture/all] }
    events/raw: { receivers: [forward], exporters: [capture/raw] }
    events/clean: { receivers: [forward], processors: [privacy], exporters: [capture/clean] }
`);
    try {
      const sent = [ev('view_item', { user_id: 'u-1' }), ev('purchase', { user_id: 'u-2' })];
      await h.send({ signal: 'events', data: sent });
      const names = (x: AnalyticsEvent[]) => x.map((e) => e.name);
      assert.deepEqual(names(h.events('capture/raw')), ['view_item', 'purchase']);
      assert.deepEqual(names(h.events('capture/clean')), ['view_item', 'purchase']);
      assert.deepEqual(names(h.events('capture/all')), ['view_item', 'purchase']);
      assert.deepEqual(h.events('capture/raw').map((e) => e.user_id), ['u-1', 'u-2'], 'the raw pipeline is not changed by the other one\'s privacy');
      assert.deepEqual(h.events('capture/all').map((e) => e.user_id), ['u-1', 'u-2']);
      assert.ok(h.events('capture/clean').every((e) => /^[0-9a-f]{8}:/.test(e.user_id!)), 'pseudonymised in its own pipeline');
    } finally {
      await h.stop();
    }
  });

  it('fans in: several pipelines into one, each signal to its own kind of pipeline, counted per pipeline', async () => {
    const h = await harness(`
receivers: { feed/a: , feed/b: }
exporters: { capture/events: , capture/logs: }
connectors: { forward: }
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    events/a: { receivers: [feed/a], exporters: [forward] }
    events/b: { receivers: [feed/b], exporters: [forward] }
    logs/a: { receivers: [feed/a], exporters: [forward] }
    events: { receivers: [forward], exporters: [capture/events] }
    logs: { receivers: [forward], exporters: [capture/logs] }
`);
    try {
      await h.send({ signal: 'events', data: [ev('a1'), ev('a2')] }, 'feed/a');
      await h.send({ signal: 'events', data: [ev('b1')] }, 'feed/b');
      await h.send({ signal: 'logs', data: { resourceLogs: [] } }, 'feed/a');
      assert.deepEqual(h.events('capture/events').map((e) => e.name), ['a1', 'a2', 'b1']);
      assert.equal(h.captured('capture/logs').length, 1, 'logs went to the logs pipeline only');
      const m = await h.metrics();
      assert.equal(metricValue(m, 'otelytics_connector_incoming_items{connector="forward",pipeline="events/a"}'), 2);
      assert.equal(metricValue(m, 'otelytics_connector_incoming_items{connector="forward",pipeline="events/b"}'), 1);
      assert.equal(metricValue(m, 'otelytics_connector_outgoing_items{connector="forward",pipeline="events"}'), 3);
    } finally {
      await h.stop();
    }
  });

  it('a downstream pipeline\'s latency is measured from the original receipt', async () => {
    const h = await harness(`
receivers: { feed: }
processors: { filter: }
exporters: { capture: }
connectors: { forward: }
service:
  telemetry: { metrics: { level: basic, address: "127.0.0.1:0" } }
  pipelines:
    events: { receivers: [feed], processors: [filter], exporters: [forward] }
    events/out: { receivers: [forward], exporters: [capture] }
`);
    try {
      await h.send({ signal: 'events', data: [ev('a')] });
      assert.equal(metricValue(await h.metrics(), 'otelytics_pipeline_latency_seconds_count{pipeline="events/out"}'), 1);
    } finally {
      await h.stop();
    }
  });
});
