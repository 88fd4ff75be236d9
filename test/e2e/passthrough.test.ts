/**
 * Pass-through pipelines (`otlp` receiver → `otlp_http` exporter, nothing reading spans): the
 * gateway forwards protobuf trace requests as the bytes they came in, refuses what the decoder
 * refuses, and falls back to decoding when a pipeline reads spans or a span could pass the
 * attribute limits.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import protobuf from 'protobufjs/minimal.js';
import { decodeTracesJson } from '../../src/otlp/json.js';
import { decodeTracesRequest, encodeTracesRequest } from '../../src/otlp/proto.js';
import { spanCount } from '../../src/pdata.js';
import { startHttpServer, type FakeHttpServer } from '../exporters/otlp/servers.js';
import { fixtureBodyPlain, fixtureManifest, startGateway, type RunningGateway } from '../helpers.js';

const traceFixtures = fixtureManifest().filter((f) => f.signal === 'traces');

function config(dir: string, sink: string, processors: string[]): string {
  const file = path.join(dir, `passthrough-${processors.join('-') || 'none'}.yaml`);
  fs.writeFileSync(
    file,
    [
      'receivers:',
      '  otlp:',
      '    protocols: { http: {}, grpc: {} }',
      'processors:',
      '  memory_limiter: { limit_mib: 512 }',
      '  batch: { timeout: 50ms }',
      'exporters:',
      `  otlp_http: { endpoint: "${sink}", compression: none, retry_on_failure: { enabled: false } }`,
      'extensions:',
      '  health_check: {}',
      '  status: {}',
      'service:',
      '  extensions: [health_check, status]',
      '  telemetry: { logs: { level: warn } }',
      '  pipelines:',
      '    traces:',
      '      receivers: [otlp]',
      `      processors: [${processors.join(', ')}]`,
      '      exporters: [otlp_http]',
      '',
    ].join('\n'),
  );
  return file;
}

const post = (gw: RunningGateway, body: Uint8Array, type = 'application/x-protobuf') =>
  fetch(`http://127.0.0.1:${gw.ports.http}/v1/traces`, { method: 'POST', headers: { 'content-type': type }, body });

async function received(sink: FakeHttpServer, n: number): Promise<Buffer[]> {
  for (let i = 0; i < 100 && sink.requests.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  return sink.requests.map((r) => r.body);
}

describe('pass-through pipelines', () => {
  let sink: FakeHttpServer;
  let dir: string;
  before(async () => {
    sink = await startHttpServer();
    dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'otelytics-pass-'));
  });
  after(async () => {
    await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('forwards protobuf trace requests byte for byte, and JSON ones as the protobuf of the same spans', async () => {
    const gw = await startGateway({ configs: [config(dir, sink.url, ['memory_limiter'])], sets: [] });
    try {
      sink.requests.length = 0;
      const proto = traceFixtures.filter((f) => f.path.endsWith('.pb'));
      for (const f of proto) assert.equal((await post(gw, fixtureBodyPlain(f))).status, 200);
      const bodies = await received(sink, proto.length);
      assert.equal(bodies.length, proto.length);
      proto.forEach((f, i) => assert.ok(bodies[i]!.equals(fixtureBodyPlain(f)), `${f.path} forwarded unchanged`));

      sink.requests.length = 0;
      const json = traceFixtures.find((f) => f.path.endsWith('.json'))!;
      assert.equal((await post(gw, fixtureBodyPlain(json), 'application/json')).status, 200);
      const [fromJson] = await received(sink, 1);
      assert.deepEqual(decodeTracesRequest(fromJson!), decodeTracesJson(fixtureBodyPlain(json).toString('utf8')));

      const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
      const accepted = proto.reduce((n, f) => n + spanCount(decodeTracesRequest(fixtureBodyPlain(f))), 0) + spanCount(decodeTracesJson(fixtureBodyPlain(json).toString('utf8')));
      assert.match(metrics, new RegExp(`otelcol_receiver_accepted_spans\\{receiver="otlp",transport="http"\\} ${accepted}\\n`));
      assert.match(metrics, new RegExp(`otelcol_exporter_sent_spans\\{exporter="otlp_http"\\} ${accepted}\\n`));
    } finally {
      await gw.stop();
    }
  });

  it('answers 400 naming the field for what the decoder refuses, and forwards nothing', async () => {
    const gw = await startGateway({ configs: [config(dir, sink.url, [])], sets: [] });
    try {
      sink.requests.length = 0;
      // resource_spans { scope_spans { spans { trace_id: 5 bytes } } }
      const nest = (field: number, inner: Uint8Array) => protobuf.Writer.create().uint32((field << 3) | 2).bytes(inner).finish();
      const bad = nest(1, nest(2, nest(2, nest(1, new Uint8Array(5)))));
      const r = await post(gw, bad);
      assert.equal(r.status, 400);
      const truncated = await post(gw, fixtureBodyPlain(traceFixtures.find((f) => f.path.endsWith('.pb'))!).subarray(0, 100));
      assert.equal(truncated.status, 400);
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(sink.requests.length, 0);
      const text = Buffer.from(await r.arrayBuffer()).toString('latin1');
      assert.match(text, /resource_spans\[0\]\.scope_spans\[0\]\.spans\[0\]\.trace_id: expected 16 bytes, got 5/);
    } finally {
      await gw.stop();
    }
  });

  it('decodes when a span could pass the attribute limits, and applies them', async () => {
    const gw = await startGateway({ configs: [config(dir, sink.url, ['memory_limiter'])], sets: ['receivers::otlp::limits::attribute_value_length_limit=100'] });
    try {
      sink.requests.length = 0;
      const data = decodeTracesRequest(fixtureBodyPlain(traceFixtures.find((f) => f.path.endsWith('.pb'))!));
      const spans = data.resourceSpans[0]!.scopeSpans[0]!.spans;
      spans[0]!.attributes.push({ key: 'big', value: { stringValue: 'x'.repeat(101) } });
      const r = await post(gw, encodeTracesRequest(data));
      assert.equal(r.status, 200);
      const [forwarded] = await received(sink, 1);
      assert.equal(spanCount(decodeTracesRequest(forwarded!)), spanCount(data) - 1, 'the span over the limit was rejected (partial success), the rest forwarded');
    } finally {
      await gw.stop();
    }
  });

  it('decodes for a pipeline that reads spans (batch) and forwards the same spans', async () => {
    const gw = await startGateway({ configs: [config(dir, sink.url, ['batch'])], sets: [] });
    try {
      sink.requests.length = 0;
      const f = traceFixtures.find((x) => x.path.endsWith('.pb'))!;
      assert.equal((await post(gw, fixtureBodyPlain(f))).status, 200);
      const [forwarded] = await received(sink, 1);
      assert.deepEqual(decodeTracesRequest(forwarded!), decodeTracesRequest(fixtureBodyPlain(f)));
    } finally {
      await gw.stop();
    }
  });
});
