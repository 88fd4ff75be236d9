/**
 * Go: `telemetrygen` (OpenTelemetry Collector contrib) sends a fixed number of traces and logs over
 * OTLP/gRPC and OTLP/HTTP; the gateway's accepted counters and its `traces`/`logs` output (file
 * exporter) match the count exactly: nothing lost, nothing duplicated.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeLogsJson, decodeTracesJson } from '../../src/otlp/json.js';
import { findAttribute, scalarString } from '../../src/pdata.js';
import { startGateway, type RunningGateway } from '../helpers.js';
import { gatewayConfig, metric, run, tools, waitFor, writeConfig } from './interop.js';

const transports = ['grpc', 'http'] as const;
/** Per transport: `--workers` × `--traces` traces of 1 + `--child-spans` spans; `--workers` × `--logs` log records. */
const WORKERS = 2;
const TRACES = 150;
const CHILD_SPANS = 2;
const LOGS = 250;
const expectedSpans = WORKERS * TRACES * (1 + CHILD_SPANS);
const expectedLogs = WORKERS * LOGS;

describe('telemetrygen → gateway: exact counts', () => {
  let gw: RunningGateway;
  let dir: string;
  const accepted = { spans: new Map<string, number>(), logs: new Map<string, number>() };
  const spanIds = new Map<string, string[]>();
  const logBodies = new Map<string, string[]>();

  before(async () => {
    const { bin } = await (await tools()).ensureTelemetrygen();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-tgen-'));
    const config = writeConfig(
      dir,
      'gateway.yaml',
      gatewayConfig({
        exporters: `  file/traces: { path: ${dir}/traces.jsonl }\n  file/logs: { path: ${dir}/logs.jsonl }`,
        pipelines: '    traces: { receivers: [otlp], exporters: [file/traces] }\n    logs: { receivers: [otlp], exporters: [file/logs] }',
      }),
    );
    gw = await startGateway({ configs: [config], sets: [] });
    for (const t of transports) {
      const endpoint = ['--otlp-insecure', '--otlp-endpoint', `127.0.0.1:${t === 'grpc' ? gw.ports.grpc : gw.ports.http}`, ...(t === 'http' ? ['--otlp-http'] : [])];
      const common = ['--rate', '0', '--workers', String(WORKERS), '--service', `tgen-${t}`, ...endpoint];
      for (const args of [['traces', '--traces', String(TRACES), '--child-spans', String(CHILD_SPANS), ...common], ['logs', '--logs', String(LOGS), ...common]]) {
        const r = await run(bin, args, { timeoutMs: 60_000 });
        assert.equal(r.code, 0, `telemetrygen ${args.join(' ')}:\n${r.stderr}`);
      }
      // telemetrygen waits for its exporter's answers, so the counters are final; read them while running.
      accepted.spans.set(t, await metric(gw.ports.metrics, 'otelcol_receiver_accepted_spans', { receiver: 'otlp', transport: t }));
      accepted.logs.set(t, await metric(gw.ports.metrics, 'otelcol_receiver_accepted_log_records', { receiver: 'otlp', transport: t }));
    }
    await waitFor('the file exporter to hold every span', async () => ((await metric(gw.ports.metrics, 'otelcol_exporter_sent_spans')) >= 2 * expectedSpans ? true : undefined));
    assert.equal(await gw.stop(), 0, gw.output());
    for (const line of fs.readFileSync(path.join(dir, 'traces.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      for (const rs of decodeTracesJson(line).resourceSpans) {
        const service = scalarString(findAttribute(rs.resource.attributes, 'service.name'))!;
        const list = spanIds.get(service) ?? [];
        for (const ss of rs.scopeSpans) for (const s of ss.spans) list.push(`${s.traceId}/${s.spanId}`);
        spanIds.set(service, list);
      }
    }
    for (const line of fs.readFileSync(path.join(dir, 'logs.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      for (const rl of decodeLogsJson(line).resourceLogs) {
        const service = scalarString(findAttribute(rl.resource.attributes, 'service.name'))!;
        const list = logBodies.get(service) ?? [];
        for (const sl of rl.scopeLogs) for (const r of sl.logRecords) list.push(scalarString(r.body) ?? '');
        logBodies.set(service, list);
      }
    }
  });

  after(() => {
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const t of transports) {
    it(`${t}: accepted ${expectedSpans} spans and wrote each exactly once`, () => {
      assert.equal(accepted.spans.get(t), expectedSpans);
      const ids = spanIds.get(`tgen-${t}`) ?? [];
      assert.equal(ids.length, expectedSpans);
      assert.equal(new Set(ids).size, expectedSpans, 'duplicate spans');
      assert.equal(new Set(ids.map((id) => id.split('/')[0])).size, WORKERS * TRACES, 'traces');
    });

    it(`${t}: accepted ${expectedLogs} log records and wrote each exactly once`, () => {
      assert.equal(accepted.logs.get(t), expectedLogs);
      const bodies = logBodies.get(`tgen-${t}`) ?? [];
      assert.equal(bodies.length, expectedLogs);
      assert.ok(bodies.every((b) => b === 'the message'), 'telemetrygen\'s default body');
    });
  }
});
