/**
 * A real OpenTelemetry Collector (built by scripts/interop/tools.mjs from
 * scripts/collector/builder-config.yaml) on both sides of the gateway:
 * - upstream: the Python SDK → collector (`otlp` receiver → `otlp_grpc` / `otlp_http` exporters)
 *   → otelytics: the events arrive;
 * - downstream: otelytics (`otlp_grpc`, `otlp_http` exporters) → collector (`otlp` receiver →
 *   `file` exporter): the collector's files hold the spans unchanged and the events as log records
 *   with their event name and attributes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logsDataToEvents, type AnalyticsEvent } from '../../src/event.js';
import { decodeLogsJson, decodeTracesJson } from '../../src/otlp/json.js';
import { decodeTracesRequest } from '../../src/otlp/proto.js';
import type { LogsData, Span, TracesData } from '../../src/pdata.js';
import { fixtureManifest, postFixture, projectRoot, readFixture, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { eventsToFileConfig, gatewayConfig, otlpPorts, run, startCollector, tools, waitFor, writeConfig, type RunningCollector } from './interop.js';

const byInsertId = (a: AnalyticsEvent, b: AnalyticsEvent) => a.insert_id.localeCompare(b.insert_id);

function readLines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describe('OpenTelemetry Collector in front: Python SDK → collector → gateway', () => {
  let dir: string;
  let collector: RunningCollector | undefined;
  let gw: RunningGateway;
  const traceIds = new Map<string, string>();
  let events: { name: string; properties: Record<string, unknown>; context: Record<string, string>; user_id?: string }[] = [];

  before(async () => {
    const t = await tools();
    const [{ bin }, { python }] = [await t.ensureCollector(), await t.ensurePythonVenv()];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-col-up-'));
    gw = await startGateway({
      configs: [
        writeConfig(
          dir,
          'gateway.yaml',
          eventsToFileConfig(dir),
        ),
      ],
      sets: [],
    });
    // Two collector pipelines, one per exporter, so that both collector exporters carry events.
    const up = { http: await otlpPorts(), grpc: await otlpPorts() };
    const collectorConfig = `
receivers:
  otlp/via_grpc:
    protocols:
      http: { endpoint: 127.0.0.1:${up.grpc.http} }
  otlp/via_http:
    protocols:
      http: { endpoint: 127.0.0.1:${up.http.http} }
processors:
  batch: { timeout: 100ms }
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:${gw.ports.grpc}
    tls: { insecure: true }
  otlp_http:
    endpoint: http://127.0.0.1:${gw.ports.http}
service:
  telemetry: { logs: { level: warn }, metrics: { level: none } }
  pipelines:
    logs/grpc: { receivers: [otlp/via_grpc], processors: [batch], exporters: [otlp_grpc] }
    traces/grpc: { receivers: [otlp/via_grpc], processors: [batch], exporters: [otlp_grpc] }
    logs/http: { receivers: [otlp/via_http], processors: [batch], exporters: [otlp_http] }
    traces/http: { receivers: [otlp/via_http], processors: [batch], exporters: [otlp_http] }
`;
    collector = await startCollector(bin, writeConfig(dir, 'collector.yaml', collectorConfig), up.http.http);
    for (const via of ['grpc', 'http'] as const) {
      const r = await run(python, ['app.py'], {
        cwd: path.join(projectRoot, 'examples', 'python-structlog'),
        env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${up[via].http}`, OTEL_SERVICE_NAME: `checkout-via-collector-${via}` },
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      traceIds.set(via, (JSON.parse(r.stdout.trim().split('\n').pop()!) as { trace_id: string }).trace_id);
    }
    // The collector drains its batch processor and exporters on shutdown; then the gateway.
    assert.equal(await collector.stop(), 0, collector.output());
    assert.equal(await gw.stop(), 0, gw.output());
    events = readJsonLines(path.join(dir, 'events.jsonl'));
  });

  after(async () => {
    if (collector?.child.exitCode === null) collector.child.kill('SIGKILL');
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const via of ['grpc', 'http'] as const) {
    it(`events arrive through the collector's otlp_${via} exporter with names, attributes, identity and trace ids`, () => {
      const mine = events.filter((e) => e.context['service.name'] === `checkout-via-collector-${via}`);
      assert.deepEqual(mine.map((e) => e.name).sort(), ['cart.item_added', 'order.order_placed']);
      for (const e of mine) {
        assert.equal(e.context.trace_id, traceIds.get(via));
        assert.equal(e.user_id, 'u-1042');
      }
      assert.deepEqual(mine.find((e) => e.name === 'cart.item_added')!.properties, { 'product.sku': 'AD115O0K2-A11', 'product.price': 59.95, 'cart.quantity': 2 });
    });
  }
});

describe('OpenTelemetry Collector behind: gateway otlp_grpc / otlp_http exporters → collector', () => {
  let dir: string;
  let collector: RunningCollector | undefined;
  const exporters = ['otlp_grpc', 'otlp_http'] as const;
  const results = new Map<string, { spans: SpanInContext[]; logs: LogsData[]; events: AnalyticsEvent[] }>();
  const tracesFixtures = fixtureManifest().filter((f) => f.signal === 'traces' && f.contentType === 'application/x-protobuf' && f.contentEncoding === 'identity');
  const logsFixtures = fixtureManifest().filter((f) => f.signal === 'logs' && f.contentType === 'application/x-protobuf' && f.contentEncoding === 'identity');
  const sentSpans: SpanInContext[] = tracesFixtures.flatMap((f) => spansOf(decodeTracesRequest(readFixture(f.path))));

  before(async () => {
    const { bin } = await (await tools()).ensureCollector();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-col-down-'));
    const ports = await otlpPorts();
    const collectorConfig = `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${ports.grpc} }
      http: { endpoint: 127.0.0.1:${ports.http} }
exporters:
  file/traces: { path: ${dir}/collector-traces.jsonl, flush_interval: 100ms }
  file/logs: { path: ${dir}/collector-logs.jsonl, flush_interval: 100ms }
service:
  telemetry: { logs: { level: warn }, metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], exporters: [file/traces] }
    logs: { receivers: [otlp], exporters: [file/logs] }
`;
    collector = await startCollector(bin, writeConfig(dir, 'collector.yaml', collectorConfig), ports.http);
    for (const exporter of exporters) {
      const tracesBefore = readLines(path.join(dir, 'collector-traces.jsonl')).length;
      const logsBefore = readLines(path.join(dir, 'collector-logs.jsonl')).length;
      const target = exporter === 'otlp_grpc' ? `{ endpoint: "127.0.0.1:${ports.grpc}", tls: { insecure: true } }` : `{ endpoint: "http://127.0.0.1:${ports.http}" }`;
      const gw = await startGateway({
        configs: [
          writeConfig(
            dir,
            `gateway-${exporter}.yaml`,
            gatewayConfig({
              processors: '  analytics:',
              exporters: `  ${exporter}: ${target}\n  file/events: { path: ${dir}/events-${exporter}.jsonl }`,
              pipelines: `    traces: { receivers: [otlp], exporters: [${exporter}] }\n    events: { receivers: [otlp], processors: [analytics], exporters: [${exporter}, file/events] }`,
            }),
          ),
        ],
        sets: [],
      });
      try {
        for (const f of [...tracesFixtures, ...logsFixtures]) assert.equal((await postFixture(gw.ports.http, f)).status, 200);
        assert.equal(await gw.stop(), 0, gw.output());
      } finally {
        if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
      }
      const events = readJsonLines<AnalyticsEvent>(path.join(dir, `events-${exporter}.jsonl`));
      assert.ok(events.length > 0);
      const spanLines = await waitFor('the collector to write the spans', () => {
        const lines = readLines(path.join(dir, 'collector-traces.jsonl')).slice(tracesBefore);
        return lines.flatMap((l) => spansOf(decodeTracesJson(l))).length >= sentSpans.length ? lines : undefined;
      });
      const logLines = await waitFor('the collector to write the events', () => {
        const lines = readLines(path.join(dir, 'collector-logs.jsonl')).slice(logsBefore);
        return lines.flatMap((l) => logsDataToEvents(decodeLogsJson(l))).length >= events.length ? lines : undefined;
      });
      results.set(exporter, { spans: spanLines.flatMap((l) => spansOf(decodeTracesJson(l))), logs: logLines.map((l) => decodeLogsJson(l)), events });
    }
    assert.equal(await collector.stop(), 0, collector.output());
  });

  after(() => {
    if (collector?.child.exitCode === null) collector.child.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const exporter of exporters) {
    it(`${exporter}: the collector's file holds every span unchanged`, () => {
      const got = results.get(exporter)!.spans;
      const key = (s: SpanInContext) => `${s.span.traceId}/${s.span.spanId}`;
      assert.equal(got.length, sentSpans.length);
      const sorted = (list: SpanInContext[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
      assert.deepEqual(sorted(got), sorted(sentSpans));
    });

    it(`${exporter}: the collector's file holds the events as log records with their event name and attributes`, () => {
      const { logs, events } = results.get(exporter)!;
      const records = logs.flatMap((d) => d.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)));
      assert.equal(records.length, events.length);
      assert.deepEqual(records.map((r) => r.eventName).sort(), events.map((e) => e.name).sort());
      for (const r of records) assert.ok(r.attributes.some((a) => a.key === 'event.insert_id'), 'event.insert_id attribute');
      // Read back with the event model, they are the events the gateway made: nothing lost on the way.
      assert.deepEqual(logs.flatMap((d) => logsDataToEvents(d)).sort(byInsertId), [...events].sort(byInsertId));
    });
  }
});

/** Every span with its resource and scope, so that "unchanged" covers them too. */
function spansOf(d: TracesData): SpanInContext[] {
  return d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ resource: rs.resource, resourceSchemaUrl: rs.schemaUrl, scope: ss.scope, scopeSchemaUrl: ss.schemaUrl, span }))));
}

interface SpanInContext {
  resource: TracesData['resourceSpans'][number]['resource'];
  resourceSchemaUrl: string;
  scope: TracesData['resourceSpans'][number]['scopeSpans'][number]['scope'];
  scopeSchemaUrl: string;
  span: Span;
}
