/**
 * Real request bodies captured by scripts/interop/capture.mjs into test/captures/otlp/: the
 * OpenTelemetry Python SDK's (examples/python-structlog) and the same requests re-encoded by an
 * OpenTelemetry Collector's otlp_http exporter (Go pdata, gzip). They differ in shape from the JS
 * SDK fixtures (double and array attributes, events without a body, log flags with the W3C
 * "random" bit, span flags with the has-is-remote bit, several scopes per resource) and in their
 * bytes from each other and from the project's encoder; the codec reads them all the same.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { logsDataToEvents } from '../../src/event.js';
import { decodeLogsJson, decodeTracesJson, encodeLogsJson, encodeTracesJson } from '../../src/otlp/json.js';
import { decodeLogsRequest, decodeTracesRequest, encodeLogsRequest, encodeTracesRequest } from '../../src/otlp/proto.js';
import type { AnyValue, LogsData, TracesData } from '../../src/pdata.js';
import { projectRoot } from '../helpers.js';

interface Captured {
  path: string;
  source: 'python' | 'collector';
  signal: 'traces' | 'logs';
  contentEncoding: string;
  userAgent: string;
  spanCount?: number;
  logCount?: number;
  eventNames?: string[];
}

const dataDir = path.join(projectRoot, 'test', 'captures', 'otlp');
const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8')) as { files: Captured[] };

function body(f: Captured): Buffer {
  const raw = fs.readFileSync(path.join(dataDir, f.path));
  return f.contentEncoding === 'gzip' ? zlib.gunzipSync(raw) : raw;
}

const traces = (f: Captured) => decodeTracesRequest(body(f));
const logs = (f: Captured) => decodeLogsRequest(body(f));
const spansOf = (d: TracesData) => d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const recordsOf = (d: LogsData) => d.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
const find = (source: string, signal: string) => manifest.files.find((f) => f.source === source && f.signal === signal)!;

describe('captured OTLP bodies: Python SDK and OpenTelemetry Collector', () => {
  it('holds Python SDK and collector bodies for both signals', () => {
    for (const source of ['python', 'collector']) for (const signal of ['traces', 'logs']) assert.ok(find(source, signal), `${source} ${signal}`);
    assert.match(find('python', 'logs').userAgent, /^OTel-OTLP-Exporter-Python\//);
    assert.match(find('collector', 'logs').userAgent, /OpenTelemetry Collector/);
  });

  for (const f of manifest.files) {
    it(`${f.path}: decodes to the counts and event names an independent protobuf walk found`, () => {
      if (f.signal === 'traces') assert.equal(spansOf(traces(f)).length, f.spanCount);
      else {
        const d = logs(f);
        assert.equal(recordsOf(d).length, f.logCount);
        assert.deepEqual([...new Set(recordsOf(d).map((r) => r.eventName).filter(Boolean))].sort(), f.eventNames);
        assert.deepEqual([...new Set(logsDataToEvents(d).map((e) => e.name))].sort(), f.eventNames);
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

  it('the collector\'s re-encoding decodes to exactly the data the Python SDK sent, though the bytes differ', () => {
    for (const signal of ['traces', 'logs'] as const) {
      const py = find('python', signal);
      const col = find('collector', signal);
      assert.notDeepEqual(body(py), body(col));
      assert.deepEqual(signal === 'traces' ? traces(col) : logs(col), signal === 'traces' ? traces(py) : logs(py));
    }
  });

  it('carries the shapes the JS fixtures lack: doubles, arrays, events without a body, flag bits beyond "sampled"', () => {
    const records = recordsOf(logs(find('python', 'logs')));
    const values: AnyValue[] = records.flatMap((r) => r.attributes.map((a) => a.value));
    assert.ok(values.some((v) => 'doubleValue' in v));
    assert.ok(values.some((v) => 'arrayValue' in v));
    const events = records.filter((r) => r.eventName);
    assert.ok(events.every((r) => Object.keys(r.body).length === 0), 'events carry no body');
    assert.ok(records.some((r) => (r.flags & 0xff) > 1), 'log flags beyond sampled');
    const spans = spansOf(traces(find('python', 'traces')));
    assert.ok(spans.some((s) => (s.flags & 0x100) !== 0), 'span flags with the has-is-remote bit');
    assert.ok(traces(find('python', 'traces')).resourceSpans[0]!.scopeSpans.length > 1, 'several scopes');
  });
});
