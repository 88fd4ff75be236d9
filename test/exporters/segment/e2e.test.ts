/**
 * The segment exporter as the gateway runs it (factory, config schema, exporter helper with its
 * queue, retries and dead-letter route) under faults from the local Segment server: storms of 429
 * and 5xx, connection resets, and answers slower than `timeout` (Segment took the calls, the
 * exporter never heard): every valid event ends delivered once by its messageId, whatever was sent
 * again is de-duplicated, and the invalid ones are dead-lettered with their reasons. Also the
 * server's CLI mode.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../src/event.js';
import { segmentExporterFactory } from '../../../exporters/segment/index.js';
import { startSegmentServer, type FakeSegment } from '../../fakes/segment-server.js';
import { projectRoot, readJsonLines } from '../../helpers.js';
import { fixtureEvents } from '../amplitude/fixture-events.js';
import { standInWithDir, withDeadLetter } from '../upload-scenarios.js';

const KEY = 'k-seg-123';
const fast = { initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '20s' };

describe('segment exporter with the exporter helper, under faults', () => {
  let fake: FakeSegment;
  let dir: string;
  standInWithDir(() => startSegmentServer({ writeKeys: [KEY], maxEventBytes: 4000 }), 'otelytics-segment-', (f, d) => {
    fake = f;
    dir = d;
  });

  const running = (cfg: Record<string, unknown>, deadFile: string) => withDeadLetter(segmentExporterFactory, { write_key: KEY, endpoint: fake.url, retry_on_failure: fast, anonymous_id: ['device_id', 'session_id', 'insert_id'], ...cfg }, deadFile);

  /** The fixture events, three times over with distinct insert_ids, and two the server refuses. */
  function workload() {
    const events = [0, 1, 2].flatMap((round) => fixtureEvents().map((e) => ({ ...e, insert_id: `${e.insert_id}-r${round}` })));
    events[4]!.name = ''; // a track call without event: 400 for its batch
    events[17]!.properties = { ...events[17]!.properties, note: 'n'.repeat(5000) }; // over the server's per-call limit: 400
    const invalid = new Set([events[4]!.insert_id, events[17]!.insert_id]);
    return { events, invalid };
  }

  function check(events: AnalyticsEvent[], invalid: Set<string>, dead: AnalyticsEvent[]) {
    const valid = events.filter((e) => !invalid.has(e.insert_id)).map((e) => e.insert_id);
    assert.deepEqual(new Set(fake.ingested.keys()), new Set(valid), 'every valid event delivered');
    assert.equal(fake.ingested.size, valid.length, 'and once: ingested holds each messageId once');
    assert.equal(fake.withoutMessageId.length, 0);
    assert.deepEqual(dead.map((e) => e.insert_id).sort(), [...invalid].sort(), 'the invalid ones dead-lettered, each once');
    for (const e of dead) {
      assert.equal(e.dead_letter!.exporter, 'segment');
      assert.match(e.dead_letter!.reason, /^segment 400: (missing_event|payload_too_large): .*\(the call was sent alone\)$/);
    }
  }

  it('storms of 429 and 5xx, resets: each valid event delivered once, the invalid dead-lettered', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-storm.jsonl');
    const x = await running({ max_events_per_request: 10, sending_queue: { num_consumers: 2 } }, deadFile);
    for (let i = 0; i < 6; i++) {
      fake.inject({ status: 429, retryAfter: '0' }, 2);
      fake.inject({ status: 503 });
      fake.inject({ status: 500, retryAfter: '0' });
      fake.inject({ reset: true });
      fake.inject({ status: 502 });
      fake.inject({ delayMillis: 0 });
    }
    const { events, invalid } = workload();
    await x.exporter.consume({ signal: 'events', data: events.slice(0, 40) });
    await x.exporter.consume({ signal: 'events', data: events.slice(40) });
    await x.stop();
    check(events, invalid, readJsonLines<AnalyticsEvent>(deadFile));
    assert.equal(fake.duplicates, 0, 'a 429/5xx request ingested nothing, and accepted requests are never sent again');
    const statuses = new Set(fake.requests.map((r) => r.status));
    for (const s of [429, 503, 500, 502, -1, 400, 200]) assert.ok(statuses.has(s), `saw ${s}`);
    const metrics = await x.telemetry.registry.metrics();
    assert.match(metrics, /otelytics_events_dead_lettered\{exporter="segment",dead_letter="file\/dead"\} 2\b/);
    assert.match(metrics, new RegExp(`otelcol_exporter_sent_log_records\\{exporter="segment"\\} ${events.length - invalid.size}\\b`));
    assert.match(metrics, /otelytics_exporter_send_retries\{exporter="segment"\} \d+/);
  });

  it('answers slower than timeout: the calls sent again are de-duplicated by messageId, none accepted twice', async () => {
    fake.reset();
    const deadFile = path.join(dir, 'dead-slow.jsonl');
    const x = await running({ max_events_per_request: 25, timeout: '150ms', sending_queue: { num_consumers: 1 } }, deadFile);
    fake.options.answerDelayMillis = 400;
    const { events, invalid } = workload();
    // The first requests time out after Segment took them; then the answers come in time again.
    setTimeout(() => (fake.options.answerDelayMillis = 0), 700);
    await x.exporter.consume({ signal: 'events', data: events });
    await x.stop();
    fake.options.answerDelayMillis = 0;
    check(events, invalid, readJsonLines<AnalyticsEvent>(deadFile));
    assert.ok(fake.duplicates > 0, 'some calls were sent again after a timeout');
  });
});

describe('segment-server CLI', () => {
  it('prints its endpoint and serves the batch API with the write key given', async () => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist/test/fakes/segment-server.js'), '--write-key', 'cli-key'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /SEGMENT_ENDPOINT=(\S+)\n/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', () => reject(new Error(`exited: ${out}`)));
      });
      const post = (key: string) =>
        fetch(`${endpoint}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
          body: JSON.stringify({ batch: [{ type: 'track', event: 'search', userId: 'u1', messageId: 'm1' }] }),
        });
      assert.equal((await post('wrong')).status, 400);
      assert.equal((await post('cli-key')).status, 200);
      assert.equal((await post('cli-key')).status, 200);
      assert.deepEqual(await (await fetch(`${endpoint}/_fake/stats`)).json(), { unique: 1, duplicates: 1, dropped: 0, requests: 3 });
      const events = (await (await fetch(`${endpoint}/_fake/events`)).json()) as { messageId: string }[];
      assert.deepEqual(events.map((e) => e.messageId), ['m1']);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
