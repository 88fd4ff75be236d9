/**
 * Time to glass on the metrics endpoint: `otelytics_event_delivery_latency_seconds{exporter}` counts
 * every delivered event and shows a slowed destination in its higher buckets;
 * `otelytics_pipeline_latency_seconds{pipeline}` measures receipt → hand-off across a batch.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { nanosStringToMillis } from '../../src/telemetry.js';
import { fixtureManifest, postFixture, readFixture, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';

/** The value of one sample of the Prometheus text exposition, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && line !== name && !line.startsWith(name + ' ')) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const got: Record<string, string> = {};
    if (open >= 0) for (const m of line.slice(open + 1, close).matchAll(/(\w+)="([^"]*)"/g)) got[m[1]!] = m[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice((close >= 0 ? close : name.length) + 1).trim());
  }
  return 0;
}

async function metrics(gw: RunningGateway): Promise<string> {
  return (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
}

/** Polls the metrics until `done` holds, for at most `millis`. */
async function waitForMetrics(gw: RunningGateway, done: (text: string) => boolean, millis = 10_000): Promise<string> {
  const deadline = Date.now() + millis;
  for (;;) {
    const text = await metrics(gw);
    if (done(text)) return text;
    if (Date.now() > deadline) assert.fail(`metrics did not reach the expected state within ${millis} ms:\n${text.split('\n').filter((l) => l.startsWith('otel')).join('\n')}\n${gw.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'ttg-'));
  dirs.push(d);
  return d;
}

describe('nanosStringToMillis', () => {
  it('reads milliseconds from the leading digits of a decimal nanoseconds string', () => {
    const now = Date.now();
    assert.equal(nanosStringToMillis(`${now}123456`), now);
    assert.equal(nanosStringToMillis('1000000'), 1);
    assert.equal(nanosStringToMillis('0'), undefined);
    assert.equal(nanosStringToMillis('999999'), undefined);
    assert.equal(nanosStringToMillis('17x0000000000000000'), undefined);
  });
});

describe('time-to-glass metrics', () => {
  it('counts every delivered event once; the pipeline latency ends where the exporters\' queues take the data, before the batch wait', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'events.jsonl');
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      config,
      `receivers: { otlp: }
processors:
  analytics:
  batch: { timeout: 300ms }
exporters:
  file: { path: ${out}, sending_queue: { enabled: true } }
extensions: { health_check: }
service:
  extensions: [health_check]
  pipelines:
    events: { receivers: [otlp], processors: [analytics, batch], exporters: [file] }
`,
    );
    const gw = await startGateway({ configs: [config], sets: [] });
    try {
      const files = fixtureManifest().filter((f) => ['logs-shop-01.pb', 'logs-shop-02.json', 'traces-shop-01.pb'].includes(f.path));
      const started = Date.now();
      for (const f of files) assert.equal((await postFixture(gw.ports.http, f)).status, 200, f.path);
      assert.ok(Date.now() - started < 300, 'requests are acknowledged once queued, without waiting for the batch');
      // The file exporter's queue batches the three requests and writes them after the timeout.
      const text = await waitForMetrics(gw, (t) => {
        const n = readJsonLines(out).length;
        return n > 0 && sample(t, 'otelcol_exporter_sent_log_records', { exporter: 'file' }) === n && sample(t, 'otelytics_event_delivery_latency_seconds_count', { exporter: 'file' }) === n;
      });
      const delivered = readJsonLines(out).length;
      assert.equal(sample(text, 'otelytics_event_delivery_latency_seconds_count', { exporter: 'file' }), delivered);
      assert.equal(sample(text, 'otelytics_event_delivery_latency_seconds_bucket', { exporter: 'file', le: '+Inf' }), delivered);
      const handOffs = sample(text, 'otelytics_pipeline_latency_seconds_count', { pipeline: 'events' });
      assert.ok(handOffs >= 1 && handOffs <= files.length, 'at most one hand-off per request');
      assert.equal(sample(text, 'otelytics_pipeline_latency_seconds_bucket', { pipeline: 'events', le: '0.25' }), handOffs, 'no hand-off waited for the batch');
    } finally {
      assert.equal(await gw.stop(), 0, gw.output());
    }
  });

  it('shows a destination slowed by a failed first attempt in higher buckets than a fast one', async () => {
    const dir = tmpDir();
    const fast = path.join(dir, 'fast.jsonl');
    const slow = path.join(dir, 'slow.jsonl');
    fs.symlinkSync('/dev/full', slow); // writes fail with ENOSPC until the link is removed
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      config,
      `receivers: { otlp: }
processors: { analytics: }
exporters:
  file/fast: { path: ${fast} }
  file/slow:
    path: ${slow}
    sending_queue: { enabled: true }
    retry_on_failure: { initial_interval: 1500ms, randomization_factor: 0 }
extensions: { health_check: }
service:
  extensions: [health_check]
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [file/fast, file/slow] }
`,
    );
    const gw = await startGateway({ configs: [config], sets: [] });
    try {
      // A real SDK request whose log records happen now, once the gateway is up.
      const f = fixtureManifest().find((x) => x.path === 'logs-shop-01.json')!;
      const now = `${Date.now()}000000`;
      const body = JSON.parse(readFixture(f.path).toString('utf8')) as { resourceLogs: { scopeLogs: { logRecords: { timeUnixNano?: string; observedTimeUnixNano?: string }[] }[] }[] };
      for (const rl of body.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) (r.timeUnixNano = now), (r.observedTimeUnixNano = now);
      const fresh = path.join(dir, 'fresh.json');
      fs.writeFileSync(fresh, JSON.stringify(body));
      const res = await fetch(`http://127.0.0.1:${gw.ports.http}${f.otlpPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: fs.readFileSync(fresh) });
      assert.equal(res.status, 200);
      const events = readJsonLines(fast).length;
      assert.ok(events > 0);
      await waitForMetrics(gw, (t) => sample(t, 'otelytics_exporter_send_retries', { exporter: 'file/slow' }) >= 1);
      fs.unlinkSync(slow); // the retry writes a regular file
      const text = await waitForMetrics(gw, (t) => sample(t, 'otelytics_event_delivery_latency_seconds_count', { exporter: 'file/slow' }) === events);
      assert.equal(readJsonLines(slow).length, events);
      const fastCount = sample(text, 'otelytics_event_delivery_latency_seconds_count', { exporter: 'file/fast' });
      assert.equal(fastCount, events);
      assert.equal(sample(text, 'otelytics_event_delivery_latency_seconds_bucket', { exporter: 'file/fast', le: '1' }), events, 'the fast destination took over 1 s');
      assert.equal(sample(text, 'otelytics_event_delivery_latency_seconds_bucket', { exporter: 'file/slow', le: '1' }), 0, 'the slowed destination shows under 1 s');
      assert.ok(sample(text, 'otelytics_event_delivery_latency_seconds_sum', { exporter: 'file/slow' }) >= 1.5 * events);
    } finally {
      assert.equal(await gw.stop(), 0, gw.output());
    }
  });
});
