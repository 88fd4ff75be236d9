/**
 * The first hop of the streaming architecture: an OpenTelemetry Collector's `kafka` exporter writes
 * `otlp_proto` spans to the project's Kafka broker (scripts/kafka/kafka.mjs), and the otelytics
 * `kafka` receiver consumes them: every span arrives unchanged, once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { after, before, it } from 'node:test';
import { decodeTracesJson } from '../../src/otlp/json.js';
import { decodeTracesRequest } from '../../src/otlp/proto.js';
import type { Span } from '../../src/pdata.js';
import { fixtureManifest, postFixture, projectRoot, readFixture, startGateway, type RunningGateway } from '../helpers.js';
import { gatewayConfig, metric, otlpPorts, startCollector, tools, waitFor, writeConfig, type RunningCollector } from './interop.js';
import { noKafka } from '../exporters/kafka/kafka-helpers.js';
import { describeUnless } from '../skip.js';

interface Broker {
  brokers: string[];
  stop(): Promise<void>;
}

describeUnless(noKafka, 'OpenTelemetry Collector kafka exporter → Kafka → gateway kafka receiver', {}, () => {
  let dir: string;
  let kafka: Broker | undefined;
  let collector: RunningCollector | undefined;
  let gw: RunningGateway | undefined;
  const fixtures = fixtureManifest().filter((f) => f.signal === 'traces' && f.contentType === 'application/x-protobuf' && f.contentEncoding === 'identity');
  const sent: Span[] = fixtures.flatMap((f) => decodeTracesRequest(readFixture(f.path)).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  let received: Span[] = [];
  let accepted = 0;

  before(async () => {
    const { bin } = await (await tools()).ensureCollector();
    const { startKafka } = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'kafka', 'kafka.mjs')).href)) as { startKafka(): Promise<Broker> };
    kafka = await startKafka();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-col-kafka-'));
    const topic = `otlp_spans_${process.pid}`;
    // The topic exists before the consumer starts, as it would in production.
    const admin = new Kafka({ clientId: 'interop-admin', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    gw = await startGateway({
      configs: [
        writeConfig(
          dir,
          'gateway.yaml',
          gatewayConfig({
            exporters: `  file/traces: { path: ${dir}/traces.jsonl }`,
            pipelines: '    traces: { receivers: [kafka], exporters: [file/traces] }',
          }).replace('receivers:\n', `receivers:\n  kafka:\n    brokers: [${kafka.brokers.join(', ')}]\n    group_id: interop-${process.pid}\n    initial_offset: earliest\n    traces: { topics: [${topic}], encoding: otlp_proto }\n`),
        ),
      ],
      sets: [],
    });
    const ports = await otlpPorts();
    const collectorConfig = `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${ports.http} }
exporters:
  kafka:
    brokers: [${kafka.brokers.join(', ')}]
    traces: { topic: ${topic}, encoding: otlp_proto }
service:
  telemetry: { logs: { level: warn }, metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], exporters: [kafka] }
`;
    collector = await startCollector(bin, writeConfig(dir, 'collector.yaml', collectorConfig), ports.http);
    for (const f of fixtures) assert.equal((await postFixture(ports.http, f)).status, 200);
    const gateway = gw;
    await waitFor('the gateway to write every span', async () => ((await metric(gateway.ports.metrics, 'otelcol_exporter_sent_spans')) >= sent.length ? true : undefined), 60_000);
    accepted = await metric(gateway.ports.metrics, 'otelcol_receiver_accepted_spans', { receiver: 'kafka' });
    assert.equal(await gw.stop(), 0, gw.output());
    received = fs
      .readFileSync(path.join(dir, 'traces.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => decodeTracesJson(l).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  });

  after(async () => {
    if (collector) await collector.stop();
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
    if (kafka) await kafka.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every span the collector exported arrives once, unchanged', () => {
    assert.equal(accepted, sent.length);
    const key = (s: Span) => `${s.traceId}/${s.spanId}`;
    const sorted = (list: Span[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
    assert.equal(received.length, sent.length);
    assert.deepEqual(sorted(received), sorted(sent));
  });
});
