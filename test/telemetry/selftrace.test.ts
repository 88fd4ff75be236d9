/**
 * The gateway's own traces (`service::telemetry::traces`): real gateway processes export their
 * spans over OTLP/HTTP protobuf (the OTel JS SDK) to an OTLP receiver in the test, decoded with the
 * project's codec. One gateway: receive, processor and export spans, and a processor span's error
 * status when the processor rejects. Two gateways over a real broker: A's
 * Kafka produce span and B's consume span carry the messaging attributes and are tied (links or
 * parent) to the user's traces of the fixture.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { decodeTracesRequest } from '../../src/otlp/proto.js';
import { attributesToObject, type JsonValue, type Span, type TracesData } from '../../src/pdata.js';
import { fixtureBodyPlain, fixtureManifest, freePort, postFixture, projectRoot, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { noKafka, startBroker, type Broker } from '../exporters/kafka/kafka-helpers.js';
import { describeUnless } from '../skip.js';

const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
const SPAN_STATUS_ERROR = 2;

interface OwnSpan extends Span {
  attrs: { [key: string]: JsonValue };
  service: JsonValue | undefined;
}

/** A minimal OTLP/HTTP protobuf traces endpoint that keeps every span it receives. */
async function startBackend(): Promise<{ port: number; spans: OwnSpan[]; close(): Promise<void> }> {
  const spans: OwnSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(415).end();
        return;
      }
      const data = decodeTracesRequest(body);
      for (const rs of data.resourceSpans) {
        const service = attributesToObject(rs.resource.attributes)['service.name'];
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, attrs: attributesToObject(s.attributes), service });
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { port, spans, close: () => new Promise((r) => server.close(() => r())) };
}

const fixture = fixtureManifest().find((f) => f.path === 'traces-shop-01.pb')!;
const fixtureData: TracesData = decodeTracesRequest(fixtureBodyPlain(fixture));
const fixtureSpans = fixtureData.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const fixtureTraceIds = new Set(fixtureSpans.map((s) => s.traceId));
const fixtureSpanIds = new Set(fixtureSpans.map((s) => `${s.traceId}-${s.spanId}`));
const quiet = 'service::telemetry::logs::level=warn';

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('own traces of one gateway', { timeout: 60_000 }, () => {
  it('exports a SERVER span per OTLP request and a CLIENT span per export attempt, linked to the user\'s traces', async () => {
    const backend = await startBackend();
    let gw: RunningGateway | undefined;
    try {
      gw = await startGateway({
        sets: ['exporters::file::path=events.jsonl', 'exporters::debug::verbosity=basic', `service::telemetry::traces::endpoint=http://127.0.0.1:${backend.port}`, quiet],
      });
      const r = await postFixture(gw.ports.http, fixture);
      assert.equal(r.status, 200, await r.text());
      const eventsFile = path.join(gw.dir, 'events.jsonl');
      await until(() => readJsonLines(eventsFile).length > 0, 'events in the file');
      assert.equal(await gw.stop(), 0, gw.output());
      const events = readJsonLines(eventsFile).length;

      assert.ok(backend.spans.every((s) => s.service === 'otelytics'), 'resource service.name=otelytics');
      const receive = backend.spans.filter((s) => s.name === 'otlp.receive traces');
      assert.equal(receive.length, 1, 'one receive span per request');
      const rs = receive[0]!;
      assert.equal(rs.kind, SPAN_KIND.SERVER);
      assert.equal(rs.attrs['otelytics.receiver'], 'otlp');
      assert.equal(rs.attrs['otelytics.items'], fixtureSpans.length);
      assert.equal(rs.attrs['otelytics.outcome'], 'ok');
      assert.deepEqual(new Set(rs.links.map((l) => l.traceId)), fixtureTraceIds, 'one link per user trace');
      for (const l of rs.links) assert.ok(fixtureSpanIds.has(`${l.traceId}-${l.spanId}`), 'links name spans of the request');

      const exports = backend.spans.filter((s) => s.name === 'export file');
      assert.ok(exports.length >= 1, `export spans of the file exporter: ${backend.spans.map((s) => s.name).join(', ')}`);
      for (const s of exports) {
        assert.equal(s.kind, SPAN_KIND.CLIENT);
        assert.equal(s.attrs['otelytics.exporter'], 'file');
        assert.equal(s.attrs['otelytics.signal'], 'events');
        assert.equal(s.status.code, 0, 'unset status: the attempt succeeded');
        for (const l of s.links) assert.ok(fixtureTraceIds.has(l.traceId));
      }
      assert.equal(exports.reduce((n, s) => n + Number(s.attrs['otelytics.items']), 0), events, 'items of the export spans = events written');
      assert.ok(backend.spans.some((s) => s.name === 'export debug'), 'the debug exporter too');

      // One INTERNAL span per processor consume call: analytics takes the request's spans, batch the events.
      const processed = (id: string) => backend.spans.filter((s) => s.name === `process ${id}`);
      const analytics = processed('analytics');
      assert.equal(analytics.length, 1, 'one analytics span: one request');
      const as = analytics[0]!;
      assert.equal(as.kind, SPAN_KIND.INTERNAL);
      assert.equal(as.attrs['otelytics.processor'], 'analytics');
      assert.equal(as.attrs['otelytics.pipeline'], 'events');
      assert.equal(as.attrs['otelytics.signal'], 'traces');
      assert.equal(as.attrs['otelytics.items'], fixtureSpans.length);
      assert.equal(as.status.code, 0);
      assert.deepEqual(new Set(as.links.map((l) => l.traceId)), fixtureTraceIds, 'linked like the receive span');
      for (const l of as.links) assert.ok(fixtureSpanIds.has(`${l.traceId}-${l.spanId}`));
      const batch = processed('batch');
      assert.ok(batch.length >= 1, `batch spans: ${backend.spans.map((s) => s.name).join(', ')}`);
      for (const s of batch) {
        assert.equal(s.kind, SPAN_KIND.INTERNAL);
        assert.equal(s.attrs['otelytics.processor'], 'batch');
        assert.equal(s.attrs['otelytics.pipeline'], 'events');
        assert.equal(s.attrs['otelytics.signal'], 'events');
        assert.equal(s.status.code, 0);
        for (const l of s.links) assert.ok(fixtureTraceIds.has(l.traceId));
      }
      assert.equal(batch.reduce((n, s) => n + Number(s.attrs['otelytics.items']), 0), events, 'items into batch = events written');
    } finally {
      await gw?.stop();
      if (gw) fs.rmSync(gw.dir, { recursive: true, force: true });
      await backend.close();
    }
  });

  it('gives a processor span an error status when the processor rejects', async () => {
    const backend = await startBackend();
    const closed = await freePort(); // nothing listens: the exporter fails, and analytics with it
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-selftrace-'));
    const overlay = path.join(dir, 'failing.yaml');
    fs.writeFileSync(
      overlay,
      [
        'exporters:',
        `  otlp_http: { endpoint: "http://127.0.0.1:${closed}", sending_queue: { enabled: false }, retry_on_failure: { enabled: false } }`,
        'service:',
        '  pipelines:',
        '    events: { receivers: [otlp], processors: [analytics], exporters: [otlp_http] }',
        '',
      ].join('\n'),
    );
    let gw: RunningGateway | undefined;
    try {
      gw = await startGateway({ configs: [path.join(projectRoot, 'config.example.yaml'), overlay], sets: [`service::telemetry::traces::endpoint=http://127.0.0.1:${backend.port}`, quiet] });
      const r = await postFixture(gw.ports.http, fixture);
      assert.notEqual(r.status, 200, 'the pipeline refused the request');
      assert.equal(await gw.stop(), 0, gw.output());
      const analytics = backend.spans.filter((s) => s.name === 'process analytics');
      assert.equal(analytics.length, 1, `spans: ${backend.spans.map((s) => s.name).join(', ')}`);
      assert.equal(analytics[0]!.status.code, SPAN_STATUS_ERROR);
      assert.ok(analytics[0]!.status.message, 'the error message');
      assert.equal(analytics[0]!.attrs['otelytics.items'], fixtureSpans.length);
    } finally {
      await gw?.stop();
      if (gw) fs.rmSync(gw.dir, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
      await backend.close();
    }
  });

  it('makes no span and sends nothing when service::telemetry::traces is absent', async () => {
    const backend = await startBackend();
    const gw = await startGateway({ sets: ['exporters::file::path=events.jsonl', 'exporters::debug::verbosity=basic', quiet] });
    try {
      const r = await postFixture(gw.ports.http, fixture);
      assert.equal(r.status, 200);
      assert.equal(await gw.stop(), 0);
      assert.equal(backend.spans.length, 0);
    } finally {
      await gw.stop();
      fs.rmSync(gw.dir, { recursive: true, force: true });
      await backend.close();
    }
  });
});

describeUnless(noKafka, 'own traces across two gateways and Kafka', { timeout: 180_000 }, () => {
  let broker: Broker;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let a: RunningGateway | undefined;
  let b: RunningGateway | undefined;

  before(async () => {
    [broker, backend] = await Promise.all([startBroker(), startBackend()]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    for (const g of [a, b]) if (g) fs.rmSync(g.dir, { recursive: true, force: true });
    await broker?.stop();
    await backend?.close();
  });

  it('A\'s produce span and B\'s consume span carry messaging attributes and tie to the user\'s traces', async () => {
    const env = { KAFKA_BROKERS: broker.brokers.join(',') };
    const traces = `service::telemetry::traces::endpoint=127.0.0.1:${backend.port}`;
    a = await startGateway({ configs: [path.join(projectRoot, 'examples', 'kafka-pipeline-ingest.yaml')], env, sets: [traces, quiet] });
    const bConfig = path.join(a.dir, 'gateway-b.yaml');
    fs.writeFileSync(
      bConfig,
      [
        'receivers:',
        '  otlp: { protocols: { http: {}, grpc: {} } }',
        '  kafka: { brokers: "${env:KAFKA_BROKERS}", group_id: selftrace-b, initial_offset: earliest, traces: { topics: [otlp_spans] } }',
        'exporters:',
        '  file: { path: spans.jsonl }',
        'extensions:',
        '  health_check: {}',
        'service:',
        '  extensions: [health_check]',
        '  pipelines:',
        '    traces: { receivers: [otlp, kafka], exporters: [file] }',
        '',
      ].join('\n'),
    );
    b = await startGateway({ configs: [bConfig], env, sets: [traces, quiet] });
    const r = await postFixture(a.ports.http, fixture);
    assert.equal(r.status, 200, await r.text());
    const spansFile = path.join(b.dir, 'spans.jsonl');
    const received = () => readJsonLines<TracesData>(spansFile).reduce((n, t) => n + t.resourceSpans.reduce((m, rs) => m + rs.scopeSpans.reduce((k, ss) => k + ss.spans.length, 0), 0), 0);
    await until(() => received() >= fixtureSpans.length, 'gateway B to write every span', 60_000);
    assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0], `A:\n${a.output()}\nB:\n${b.output()}`);

    const produce = backend.spans.filter((s) => s.kind === SPAN_KIND.PRODUCER);
    assert.ok(produce.length >= 1, `produce spans: ${backend.spans.map((s) => s.name).join(', ')}`);
    const producedTraces = new Set<string>();
    for (const s of produce) {
      assert.equal(s.name, 'send otlp_spans');
      assert.equal(s.attrs['messaging.system'], 'kafka');
      assert.equal(s.attrs['messaging.destination.name'], 'otlp_spans');
      assert.equal(s.attrs['messaging.operation.type'], 'send');
      const key = s.attrs['messaging.kafka.message.key'];
      // Records are keyed by trace id (partition_traces_by_id): a single-key batch names it.
      if (key !== undefined) assert.ok(fixtureTraceIds.has(String(key)), `key ${String(key)}`);
      else assert.ok(Number(s.attrs['messaging.batch.message_count']) > 1);
      for (const l of s.links) producedTraces.add(l.traceId);
    }
    assert.deepEqual(producedTraces, fixtureTraceIds, 'produce spans link to every user trace');

    const consume = backend.spans.filter((s) => s.kind === SPAN_KIND.CONSUMER);
    assert.ok(consume.length >= 1, 'consume spans');
    const consumedTraces = new Set<string>();
    for (const s of consume) {
      assert.equal(s.name, 'process otlp_spans');
      assert.equal(s.attrs['messaging.system'], 'kafka');
      assert.equal(s.attrs['messaging.destination.name'], 'otlp_spans');
      assert.equal(s.attrs['messaging.operation.type'], 'process');
      assert.equal(s.attrs['otelytics.receiver'], 'kafka');
      if (s.parentSpanId) {
        // One traceparent in the batch: the consume span continues that user trace.
        assert.ok(fixtureSpanIds.has(`${s.traceId}-${s.parentSpanId}`), 'parent is a span of the request');
        assert.equal(s.links.length, 0);
        consumedTraces.add(s.traceId);
      }
      for (const l of s.links) {
        assert.ok(fixtureSpanIds.has(`${l.traceId}-${l.spanId}`), 'links name spans of the request');
        consumedTraces.add(l.traceId);
      }
    }
    assert.deepEqual(consumedTraces, fixtureTraceIds, 'consume spans tie to every user trace');
    assert.ok(backend.spans.some((s) => s.name === 'otlp.receive traces' && s.kind === SPAN_KIND.SERVER), 'A\'s receive span');
    assert.ok(backend.spans.some((s) => s.name === 'export kafka/raw'), 'A\'s export span');
    assert.ok(backend.spans.some((s) => s.name === 'export file'), 'B\'s export span');
  });
});

describe('own traces endpoint', () => {
  it('turns an endpoint into the OTLP URL of its protocol', async () => {
    const { tracesUrl } = await import('../../src/selftrace.js');
    assert.equal(tracesUrl('127.0.0.1:4318', 'http/protobuf'), 'http://127.0.0.1:4318/v1/traces');
    assert.equal(tracesUrl('https://otel.example:4318/', 'http/protobuf'), 'https://otel.example:4318/v1/traces');
    assert.equal(tracesUrl('http://otel.example:4318/v1/traces', 'http/protobuf'), 'http://otel.example:4318/v1/traces');
    assert.equal(tracesUrl('otel.example:4317', 'grpc'), 'http://otel.example:4317');
  });
});
