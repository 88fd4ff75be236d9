/**
 * The official OpenTelemetry Python SDK (OTLP over HTTP/protobuf and gRPC) with structlog, as in
 * examples/python-structlog: its events arrive in the gateway with their names, attributes,
 * identity (from W3C baggage) and trace ids, and its traced HTTP call continues the same trace.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeLogsJson, decodeTracesJson } from '../../src/otlp/json.js';
import type { LogRecord, Span } from '../../src/pdata.js';
import { projectRoot, startGateway, type RunningGateway } from '../helpers.js';
import { gatewayConfig, run, tools, writeConfig } from './interop.js';

interface Ev { name: string; properties: Record<string, unknown>; context: Record<string, string>; user_id?: string; session_id?: string }

const protocols = ['http/protobuf', 'grpc'] as const;
const appDir = path.join(projectRoot, 'examples', 'python-structlog');

describe('OpenTelemetry Python SDK + structlog → gateway', () => {
  let gw: RunningGateway;
  let calls: { url: string; traceparent: string | undefined }[] = [];
  const traceIds = new Map<string, string>();
  let events: Ev[] = [];
  let spans: Span[] = [];
  let records: LogRecord[] = [];

  before(async () => {
    const { python } = await (await tools()).ensurePythonVenv();
    const server = http.createServer((req, res) => {
      calls.push({ url: req.url ?? '', traceparent: req.headers.traceparent as string | undefined });
      res.end('in stock');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stockUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stock`;
    try {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-py-'));
      const config = writeConfig(
        dir,
        'gateway.yaml',
        gatewayConfig({
          processors: '  analytics:',
          exporters: `  file/events: { path: ${dir}/events.jsonl }\n  file/traces: { path: ${dir}/traces.jsonl }\n  file/logs: { path: ${dir}/logs.jsonl }`,
          pipelines: '    events: { receivers: [otlp], processors: [analytics], exporters: [file/events] }\n    traces: { receivers: [otlp], exporters: [file/traces] }\n    logs: { receivers: [otlp], exporters: [file/logs] }',
        }),
      );
      gw = await startGateway({ configs: [config], sets: [] });
      for (const protocol of protocols) {
        const endpoint = protocol === 'grpc' ? `http://127.0.0.1:${gw.ports.grpc}` : `http://127.0.0.1:${gw.ports.http}`;
        const r = await run(python, ['app.py', '--call', `${stockUrl}?via=${protocol}`], {
          cwd: appDir,
          env: { OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: `checkout-py-${protocol}` },
          timeoutMs: 60_000,
        });
        assert.equal(r.code, 0, r.stderr);
        traceIds.set(protocol, (JSON.parse(r.stdout.trim().split('\n').pop()!) as { trace_id: string }).trace_id);
      }
      assert.equal(await gw.stop(), 0, gw.output());
      const lines = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean);
      events = lines('events.jsonl').map((l) => JSON.parse(l) as Ev);
      spans = lines('traces.jsonl').flatMap((l) => decodeTracesJson(l).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
      records = lines('logs.jsonl').flatMap((l) => decodeLogsJson(l).resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)));
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      server.close();
    }
  });

  after(() => gw?.child.exitCode === null && gw.child.kill('SIGKILL'));

  for (const protocol of protocols) {
    it(`${protocol}: the structlog events arrive named <logger>.<entity>_<action>, with attributes, baggage identity and the trace id`, () => {
      const mine = events.filter((e) => e.context['service.name'] === `checkout-py-${protocol}`);
      assert.deepEqual(mine.map((e) => e.name).sort(), ['cart.item_added', 'order.order_placed']);
      const traceId = traceIds.get(protocol)!;
      assert.match(traceId, /^[0-9a-f]{32}$/);
      for (const e of mine) {
        assert.equal(e.context.trace_id, traceId);
        assert.match(e.context.span_id ?? '', /^[0-9a-f]{16}$/);
        assert.equal(e.context['service.version'], '1.4.2');
        assert.equal(e.user_id, 'u-1042', 'user.id from W3C baggage');
        assert.equal(e.session_id, 's-77', 'session.id from W3C baggage');
      }
      assert.deepEqual(mine.find((e) => e.name === 'cart.item_added')!.properties, { 'product.sku': 'AD115O0K2-A11', 'product.price': 59.95, 'cart.quantity': 2 });
      assert.deepEqual(mine.find((e) => e.name === 'order.order_placed')!.properties, { 'order.id': 'o-9001', 'order.amount': 119.9, 'order.currency': 'EUR', 'order.items': ['AD115O0K2-A11'] });
    });

    it(`${protocol}: the traced HTTP call carries the trace, and its spans arrive`, () => {
      const traceId = traceIds.get(protocol)!;
      const call = calls.find((c) => c.url.endsWith(`via=${protocol}`));
      assert.ok(call?.traceparent, 'no traceparent header on the outgoing call');
      const [, tid, parent] = call.traceparent.split('-');
      assert.equal(tid, traceId);
      const server = spans.find((s) => s.traceId === traceId && s.name === 'POST /checkout');
      const client = spans.find((s) => s.spanId === parent);
      assert.ok(server && client, JSON.stringify(spans.map((s) => [s.name, s.traceId])));
      assert.equal(server.kind, 2);
      assert.equal(client.kind, 3);
      assert.equal(client.traceId, traceId);
      assert.equal(client.parentSpanId, server.spanId);
      const event = events.find((e) => e.context.trace_id === traceId)!;
      assert.equal(event.context.span_id, server.spanId);
    });

    it(`${protocol}: a message that is not <entity>_<action> arrives as a plain log record, not as an event`, () => {
      const traceId = traceIds.get(protocol)!;
      const plain = records.find((r) => r.traceId === traceId && r.eventName === '');
      assert.ok(plain, 'no plain log record');
      assert.deepEqual(plain.body, { stringValue: 'payment provider slow' });
      assert.equal(plain.severityText, 'WARN');
      assert.ok(!events.some((e) => e.name.includes('payment')));
      const named = records.filter((r) => r.traceId === traceId && r.eventName !== '').map((r) => r.eventName);
      assert.deepEqual(named.sort(), ['cart.item_added', 'order.order_placed']);
    });
  }
});

/** The `sh` blocks of a markdown file that run app.py. */
function shBlocksRunningApp(file: string): string[] {
  const text = fs.readFileSync(path.join(projectRoot, file), 'utf8');
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('app.py'));
}

describe('the Python example run as its READMEs write it, against config.example.yaml', () => {
  for (const file of ['README.md', 'examples/python-structlog/README.md']) {
    it(`${file}: the commands run as written, and the events arrive with pseudonymised ids`, async () => {
      const blocks = shBlocksRunningApp(file);
      assert.equal(blocks.length, 1, `one block running app.py in ${file}`);
      const gw = await startGateway();
      try {
        // Only the ports differ from what a reader types: the gateway under test listens on free ones.
        const script = blocks[0]!.replaceAll('127.0.0.1:4318', `127.0.0.1:${gw.ports.http}`).replaceAll('127.0.0.1:4317', `127.0.0.1:${gw.ports.grpc}`);
        const r = await run('bash', ['-e', '-c', script], { cwd: projectRoot, env: { OTEL_SERVICE_NAME: 'checkout-readme' }, timeoutMs: 300_000 });
        assert.equal(r.code, 0, `${script}\n${r.stderr}`);
        const runs = (script.match(/app\.py/g) ?? []).length;
        assert.equal(r.stdout.trim().split('\n').filter((l) => l.startsWith('{"trace_id"')).length, runs, r.stdout);
      } finally {
        assert.equal(await gw.stop(), 0, gw.output());
      }
      const events = fs.readFileSync(path.join(gw.dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev & { consent?: Record<string, boolean> });
      const mine = events.filter((e) => e.context['service.name'] === 'checkout-readme');
      assert.ok(mine.length > 0 && mine.length % 3 === 0, JSON.stringify(mine.map((e) => e.name)));
      assert.deepEqual([...new Set(mine.map((e) => e.name))].sort(), ['cart.item_added', 'order.order_placed', 'purchase']);
      assert.deepEqual(mine.find((e) => e.name === 'purchase')!.properties, { transaction_id: 'o-9001', value: 119.9, currency: 'EUR' });
      for (const e of mine) {
        assert.deepEqual(e.consent, { analytics: true });
        assert.match(e.user_id ?? '', /^[0-9a-f]{8}:[\w-]+$/, 'a keyed pseudonym, not u-1042');
        assert.match(e.session_id ?? '', /^[0-9a-f]{8}:[\w-]+$/);
      }
    });
  }
});
