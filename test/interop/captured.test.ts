/**
 * Real request bodies captured by scripts/interop/capture.mjs into test/captures/otlp/: the
 * OpenTelemetry JS SDK's shop session (protobuf and JSON exporters, plain and gzip), the Python
 * SDK's (examples/python-structlog), the Java and Go SDKs' (protobuf, plain and gzip), and an
 * OpenTelemetry Collector's otlp_http exporter re-encoding the others' protobuf bodies (Go pdata,
 * JSON and gzip). They differ in shape from each other (double and array attributes, events
 * without a body, log records with only an ObservedTimestamp, log flags with the W3C "random" bit,
 * span flags with the has-is-remote bit, several scopes per resource, map values) and in their bytes
 * from the project's encoder; the codec reads them all the same (untimed.test.ts: what the untimed
 * records become).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logsDataToEvents } from '../../src/event.js';
import { decodeLogsJson, decodeTracesJson, encodeLogsJson, encodeTracesJson } from '../../src/otlp/json.js';
import { decodeLogsRequest, decodeTracesRequest, encodeLogsRequest, encodeTracesRequest } from '../../src/otlp/proto.js';
import type { AnyValue, LogsData, TracesData } from '../../src/pdata.js';
import { captureManifest, fixtureBodyPlain, readFixture, type FixtureFile } from '../helpers.js';

const manifest = captureManifest();
const json = (f: FixtureFile) => f.contentType === 'application/json';
const traces = (f: FixtureFile): TracesData => (json(f) ? decodeTracesJson(fixtureBodyPlain(f).toString('utf8')) : decodeTracesRequest(fixtureBodyPlain(f)));
const logs = (f: FixtureFile): LogsData => (json(f) ? decodeLogsJson(fixtureBodyPlain(f).toString('utf8')) : decodeLogsRequest(fixtureBodyPlain(f)));
const decode = (f: FixtureFile): TracesData | LogsData => (f.signal === 'traces' ? traces(f) : logs(f));
const spansOf = (d: TracesData) => d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const recordsOf = (d: LogsData) => d.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
const find = (path: string) => manifest.find((f) => f.path === path)!;
const captures = [...new Set(manifest.map((f) => f.capture))];
const ext = (f: FixtureFile) => `${json(f) ? 'json' : 'pb'}${f.contentEncoding === 'gzip' ? '.gz' : ''}`;

describe('captured OTLP bodies: JS, Python, Java and Go SDKs and OpenTelemetry Collector', () => {
  it('holds each SDK\'s traces and logs, and every capture in all four encodings', () => {
    for (const [source, agent] of [
      ['js', /^OTel-OTLP-Exporter-JavaScript\//],
      ['python', /^OTel-OTLP-Exporter-Python\//],
      ['java', /^OTel-OTLP-Exporter-Java\//],
      ['go', /^OTel (Go )?OTLP .*[Ee]xporter/],
      ['collector', /OpenTelemetry Collector/],
    ] as const) {
      const files = manifest.filter((f) => f.source === source);
      assert.deepEqual([...new Set(files.map((f) => f.signal))].sort(), ['logs', 'traces'], source);
      for (const f of files) assert.match(f.userAgent, agent, f.path);
    }
    assert.equal(manifest.filter((f) => f.source === 'js' && f.signal === 'traces').length, 8, 'two JS traces requests in four encodings');
    for (const c of captures) assert.deepEqual(manifest.filter((f) => f.capture === c).map(ext).sort(), ['json', 'json.gz', 'pb', 'pb.gz'], c);
  });

  for (const f of manifest) {
    it(`${f.path}: decodes to the counts, services, trace ids and event names an independent walk found`, () => {
      const d = decode(f);
      const resources = 'resourceSpans' in d ? d.resourceSpans : d.resourceLogs;
      assert.deepEqual(resources.map((r) => r.resource.attributes.find((a) => a.key === 'service.name')?.value), f.services.map((s) => ({ stringValue: s })));
      if (f.signal === 'traces') {
        const spans = spansOf(d as TracesData);
        assert.equal(spans.length, f.spanCount);
        assert.equal(new Set(spans.map((s) => s.traceId)).size, f.traceIdCount);
      } else {
        const records = recordsOf(d as LogsData);
        assert.equal(records.length, f.logCount);
        assert.equal(new Set(records.map((r) => r.traceId).filter(Boolean)).size, f.traceIdCount);
        assert.deepEqual([...new Set(records.map((r) => r.eventName).filter(Boolean))].sort(), f.eventNames);
        assert.deepEqual([...new Set(logsDataToEvents(d as LogsData).map((e) => e.name))].sort(), f.eventNames);
      }
    });

    it(`${f.path}: survives the project's protobuf and JSON encoders unchanged`, () => {
      if (f.signal === 'traces') {
        const d = traces(f);
        assert.deepEqual(decodeTracesRequest(encodeTracesRequest(d)), d);
        assert.deepEqual(decodeTracesJson(encodeTracesJson(d)), d);
      } else {
        const d = logs(f);
        assert.deepEqual(decodeLogsRequest(encodeLogsRequest(d)), d);
        assert.deepEqual(decodeLogsJson(encodeLogsJson(d)), d);
      }
    });
  }

  for (const c of captures) {
    it(`${c}: its four encodings decode to the same data, whoever encoded them`, () => {
      const [first, ...rest] = manifest.filter((f) => f.capture === c);
      const want = decode(first!);
      assert.equal(rest.length, 3);
      for (const f of rest) assert.deepEqual(decode(f), want, f.path);
      const bodies = new Set(manifest.filter((f) => f.capture === c).map((f) => readFixture(f.path).toString('base64')));
      assert.equal(bodies.size, 4, 'no two encodings are the same bytes');
    });
  }

  it('the collector re-encodes what the Python, Java and Go SDKs sent, though the bytes differ', () => {
    const replays = manifest.filter((f) => f.source === 'collector');
    assert.deepEqual([...new Set(replays.map((f) => find(f.replayOf!).source))].sort(), ['go', 'java', 'python']);
    for (const f of replays) {
      const sdk = find(f.replayOf!);
      assert.equal(f.capture, sdk.capture);
      assert.deepEqual(decode(f), decode(sdk), f.path);
    }
    assert.notDeepEqual(fixtureBodyPlain(find('collector-python-traces-01.pb.gz')), fixtureBodyPlain(find('python-traces-01.pb')));
  });

  it('carries the shapes the JS shop lacks: doubles, arrays, events without a body, flag bits beyond "sampled"', () => {
    const records = recordsOf(logs(find('python-logs-01.pb')));
    const values: AnyValue[] = records.flatMap((r) => r.attributes.map((a) => a.value));
    assert.ok(values.some((v) => 'doubleValue' in v));
    assert.ok(values.some((v) => 'arrayValue' in v));
    const events = records.filter((r) => r.eventName);
    assert.ok(events.every((r) => Object.keys(r.body).length === 0), 'events carry no body');
    assert.ok(records.some((r) => (r.flags & 0xff) > 1), 'log flags beyond sampled');
    const data = traces(find('python-traces-01.pb'));
    assert.ok(spansOf(data).some((s) => (s.flags & 0x100) !== 0), 'span flags with the has-is-remote bit');
    assert.ok(data.resourceSpans[0]!.scopeSpans.length > 1, 'several scopes');
  });

  it('the Go SDK sends a map value in a log attribute, the Java SDK string arrays, both log bodies as strings', () => {
    const goValues = recordsOf(logs(find('go-logs-01.pb'))).flatMap((r) => r.attributes.map((a) => a.value));
    assert.ok(goValues.some((v) => 'kvlistValue' in v));
    const java = recordsOf(logs(find('java-logs-01.pb')));
    assert.ok(java.flatMap((r) => r.attributes.map((a) => a.value)).some((v) => 'arrayValue' in v));
    for (const r of [...java, ...recordsOf(logs(find('go-logs-01.pb')))]) assert.ok('stringValue' in r.body, 'a string body');
  });
});
