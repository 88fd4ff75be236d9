#!/usr/bin/env node
// Captures real OTLP request bodies into test/captures/otlp/, with a manifest.json, for the tests,
// the benchmarks and the README's examples. Each SDK sends to a local HTTP server that records the
// request bodies as they arrived:
//
//   traces-shop-NN.*, logs-shop-NN.*   the OpenTelemetry JS SDK (scripts/interop/js/shop.mjs), a web
//                                      shop's session in two parts, each sent at once by its
//                                      OTLP/HTTP protobuf and JSON exporters, uncompressed and gzip
//                                      (.pb, .pb.gz, .json, .json.gz);
//   python-*                           the Python SDK (examples/python-structlog/app.py), protobuf;
//   java-*                             the Java SDK (scripts/interop/java), protobuf and protobuf gzip;
//   go-*                               the Go SDK (scripts/interop/go), protobuf and protobuf gzip;
//   collector-<capture>.*              an OpenTelemetry Collector's otlp_http exporter re-encoding
//                                      an SDK's protobuf body (Go pdata): JSON and JSON gzip, and
//                                      protobuf gzip where the SDK sent none.
//
// So every captured request is there in all four encodings, each carrying the same data. The JS,
// Java and Go programs use seeded ids and fixed times: a re-run writes the same content.
//
//   node scripts/interop/capture.mjs [--out DIR] [--only js,python,java,go]
//
// --only re-captures those SDKs and keeps the manifest's other entries. The tools come from
// scripts/interop/tools.mjs (cached outside the checkout). Counts in the manifest come from an
// independent walk of the bodies (protobufjs' reader, or JSON.parse), not from the project's codec.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import protobuf from 'protobufjs/minimal.js';
import { COLLECTOR_VERSION, ensureCollector, ensureGoShop, ensureJavaShop, ensurePythonVenv, GO_SHOP, JAVA_SHOP, PYTHON_REQUIREMENTS } from './tools.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const SOURCES = ['js', 'python', 'java', 'go'];
const JS_PACKAGES = [
  '@opentelemetry/api',
  '@opentelemetry/api-logs',
  '@opentelemetry/context-async-hooks',
  '@opentelemetry/exporter-logs-otlp-http',
  '@opentelemetry/exporter-logs-otlp-proto',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/exporter-trace-otlp-proto',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-logs',
  '@opentelemetry/sdk-trace-base',
];

// ---------------------------------------------------------------- independent walk

/** The fields of one protobuf message: `{ no, bytes? }` (bytes for length-delimited fields). */
function fields(buf) {
  const r = protobuf.Reader.create(buf);
  const out = [];
  while (r.pos < r.len) {
    const t = r.uint32();
    if ((t & 7) === 2) out.push({ no: t >>> 3, bytes: r.bytes() });
    else {
      r.skipType(t & 7);
      out.push({ no: t >>> 3 });
    }
  }
  return out;
}
const sub = (buf, no) => fields(buf).filter((f) => f.no === no && f.bytes).map((f) => f.bytes);
const text = (b) => Buffer.from(b).toString('utf8');
const hex = (b) => Buffer.from(b).toString('hex');

/**
 * What a request body holds: its resources' service names, its items (spans or log records), their
 * distinct trace ids and the event names of log records. ExportTraceServiceRequest and
 * ExportLogsServiceRequest share the layout: resource_* (1) → resource (1) and scope_* (2) → items
 * (2); a span's trace_id is field 1, a log record's field 9, its event_name field 12.
 */
function summarizeProtobuf(buf, signal) {
  const services = [];
  const traceIds = new Set();
  const names = new Set();
  let items = 0;
  for (const res of sub(buf, 1)) {
    const attrs = sub(res, 1).flatMap((r) => sub(r, 1));
    const service = attrs.find((kv) => sub(kv, 1).map(text)[0] === 'service.name');
    services.push(service ? sub(sub(service, 2)[0], 1).map(text)[0] : undefined);
    for (const scope of sub(res, 2)) {
      for (const item of sub(scope, 2)) {
        items++;
        const id = sub(item, signal === 'traces' ? 1 : 9)[0];
        if (id && id.length > 0) traceIds.add(hex(id));
        if (signal === 'logs') for (const n of sub(item, 12)) names.add(text(n));
      }
    }
  }
  return { items, services, traceIds: traceIds.size, eventNames: [...names].sort() };
}

/** The same from an OTLP/JSON body. */
function summarizeJson(body, signal) {
  const doc = JSON.parse(text(body));
  const [resKey, scopeKey, itemKey] = signal === 'traces' ? ['resourceSpans', 'scopeSpans', 'spans'] : ['resourceLogs', 'scopeLogs', 'logRecords'];
  const services = [];
  const traceIds = new Set();
  const names = new Set();
  let items = 0;
  for (const res of doc[resKey] ?? []) {
    services.push((res.resource?.attributes ?? []).find((kv) => kv.key === 'service.name')?.value?.stringValue);
    for (const scope of res[scopeKey] ?? []) {
      for (const item of scope[itemKey] ?? []) {
        items++;
        if (item.traceId) traceIds.add(item.traceId.toLowerCase());
        if (item.eventName) names.add(item.eventName);
      }
    }
  }
  return { items, services, traceIds: traceIds.size, eventNames: [...names].sort() };
}

// ---------------------------------------------------------------- helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function runToEnd(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${err}`))));
  });
}

const signalOf = (otlpPath) => (otlpPath === '/v1/traces' ? 'traces' : otlpPath === '/v1/logs' ? 'logs' : undefined);
const extOf = (contentType, encoding) => `${contentType === 'application/json' ? '.json' : '.pb'}${encoding === 'gzip' ? '.gz' : ''}`;

/** The versions each SDK's capture was made with. */
function sdkVersions() {
  const js = Object.fromEntries(JS_PACKAGES.map((p) => [p, JSON.parse(fs.readFileSync(path.join(root, 'node_modules', p, 'package.json'), 'utf8')).version]));
  const python = fs.readFileSync(PYTHON_REQUIREMENTS, 'utf8').split('\n').filter((l) => /^opentelemetry-(sdk|exporter-otlp-proto-http)==/.test(l));
  const java = `io.opentelemetry:opentelemetry-bom:${/<opentelemetry.version>([^<]+)</.exec(fs.readFileSync(path.join(JAVA_SHOP, 'pom.xml'), 'utf8'))?.[1]}`;
  const go = [...fs.readFileSync(path.join(GO_SHOP, 'go.mod'), 'utf8').matchAll(/^\s+(go\.opentelemetry\.io\/otel\S*) (v\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  return { js, python, java, go };
}

// ---------------------------------------------------------------- capture

async function main() {
  const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(root, 'test', 'captures', 'otlp') }, only: { type: 'string' } } });
  const out = path.resolve(values.out);
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : SOURCES;
  for (const s of only) if (!SOURCES.includes(s)) throw new Error(`unknown source "${s}"; use ${SOURCES.join(', ')}`);
  const log = (m) => process.stderr.write(`${m}\n`);

  /** Every OTLP request the sink received, with the label of the step that caused it. */
  const captured = [];
  let label = {};
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const signal = signalOf(req.url);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim();
      if (signal) captured.push({ ...label, signal, otlpPath: req.url, contentType, contentEncoding: req.headers['content-encoding'] ?? 'identity', userAgent: req.headers['user-agent'] ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': contentType === 'application/json' ? 'application/json' : 'application/x-protobuf' });
      res.end(contentType === 'application/json' ? '{}' : '');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sink = `http://127.0.0.1:${server.address().port}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-'));
  /** Entries of the new manifest, each with its body. */
  const entries = [];
  try {
    for (const source of only) {
      const before = captured.length;
      label = { source };
      if (source === 'js') {
        log('capturing the JS SDK shop ...');
        await runToEnd(process.execPath, [path.join(here, 'js', 'shop.mjs'), '--endpoint', sink], { cwd: root });
      } else if (source === 'python') {
        const { python } = await ensurePythonVenv({ log });
        log('capturing the Python SDK (structlog example) ...');
        await runToEnd(python, ['app.py', '--call', `${sink}/stock`], {
          cwd: path.join(root, 'examples', 'python-structlog'),
          env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_SERVICE_NAME: 'checkout-py' },
        });
      } else if (source === 'java') {
        const { java, args } = await ensureJavaShop({ log });
        log('capturing the Java SDK shop ...');
        await runToEnd(java, [...args, sink], { cwd: tmp });
      } else {
        const { bin } = await ensureGoShop({ log });
        log('capturing the Go SDK shop ...');
        await runToEnd(bin, [sink], { cwd: tmp });
      }
      // Name the bodies: the n-th request of a signal in one encoding belongs to capture n.
      const seen = new Map();
      for (const c of captured.slice(before)) {
        const key = `${c.signal} ${c.contentType} ${c.contentEncoding}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        const capture = source === 'js' ? `${c.signal}-shop-${String(n).padStart(2, '0')}` : `${source}-${c.signal}-${String(n).padStart(2, '0')}`;
        entries.push({ ...c, capture, batch: n, path: `${capture}${extOf(c.contentType, c.contentEncoding)}` });
      }
    }

    // What the SDK did not send in every encoding, the collector re-encodes from its protobuf body.
    const toReplay = entries.filter((e) => e.source !== 'js' && e.contentType === 'application/x-protobuf' && e.contentEncoding === 'identity');
    if (toReplay.length > 0) {
      const { bin: otelcol } = await ensureCollector({ log });
      log(`re-encoding ${toReplay.length} bodies with OpenTelemetry Collector ${COLLECTOR_VERSION} ...`);
      const port = await freePort();
      const config = path.join(tmp, 'collector.yaml');
      const exporter = (compression, encoding) => `    endpoint: ${sink}\n    compression: ${compression}\n    encoding: ${encoding}\n    sending_queue: { enabled: false }\n    retry_on_failure: { enabled: false }\n`;
      fs.writeFileSync(
        config,
        'receivers:\n  otlp:\n    protocols:\n' +
          `      http: { endpoint: 127.0.0.1:${port} }\n` +
          'exporters:\n' +
          `  otlp_http/proto_gzip:\n${exporter('gzip', 'proto')}` +
          `  otlp_http/json:\n${exporter('none', 'json')}` +
          `  otlp_http/json_gzip:\n${exporter('gzip', 'json')}` +
          'service:\n  telemetry: { logs: { level: warn }, metrics: { level: none } }\n  pipelines:\n' +
          '    traces: { receivers: [otlp], exporters: [otlp_http/proto_gzip, otlp_http/json, otlp_http/json_gzip] }\n' +
          '    logs: { receivers: [otlp], exporters: [otlp_http/proto_gzip, otlp_http/json, otlp_http/json_gzip] }\n',
      );
      let collectorOutput = '';
      const collector = spawn(otelcol, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      collector.stdout.on('data', (d) => (collectorOutput += d));
      collector.stderr.on('data', (d) => (collectorOutput += d));
      try {
        for (let i = 0; ; i++) {
          const up = await new Promise((r) => net.connect(port, '127.0.0.1').once('connect', function () { this.destroy(); r(true); }).once('error', () => r(false)));
          if (up) break;
          if (i > 300 || collector.exitCode !== null) throw new Error(`the collector did not start:\n${collectorOutput}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        for (const e of toReplay) {
          const before = captured.length;
          label = { source: 'collector', replayOf: e.path };
          const r = await fetch(`http://127.0.0.1:${port}${e.otlpPath}`, { method: 'POST', headers: { 'content-type': e.contentType }, body: e.body });
          if (r.status !== 200) throw new Error(`the collector answered ${r.status} to ${e.path}`);
          for (let i = 0; captured.length - before < 3; i++) {
            if (i > 100) throw new Error(`the collector sent ${captured.length - before} of 3 re-encodings of ${e.path}`);
            await new Promise((res) => setTimeout(res, 50));
          }
          const have = new Set(entries.filter((x) => x.capture === e.capture).map((x) => extOf(x.contentType, x.contentEncoding)));
          for (const c of captured.slice(before)) {
            const ext = extOf(c.contentType, c.contentEncoding);
            if (have.has(ext)) continue;
            entries.push({ ...c, capture: e.capture, batch: e.batch, path: `collector-${e.capture}${ext}` });
          }
        }
      } finally {
        collector.kill('SIGTERM');
        await new Promise((r) => (collector.exitCode !== null ? r() : collector.once('exit', r)));
      }
    }
  } finally {
    server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  // Every capture in all four encodings, each decoding to the same counts.
  for (const capture of new Set(entries.map((e) => e.capture))) {
    const exts = entries.filter((e) => e.capture === capture).map((e) => extOf(e.contentType, e.contentEncoding)).sort();
    if (exts.join(' ') !== '.json .json.gz .pb .pb.gz') throw new Error(`${capture}: encodings ${exts.join(' ')}`);
  }

  fs.mkdirSync(out, { recursive: true });
  const manifestFile = path.join(out, 'manifest.json');
  const previous = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')).files : [];
  const originOf = (f, all) => (f.source === 'collector' ? all.find((x) => x.path === f.replayOf)?.source : f.source);
  const kept = previous.filter((f) => SOURCES.includes(originOf(f, previous)) && !only.includes(originOf(f, previous)));
  for (const f of previous.filter((x) => !kept.includes(x))) fs.rmSync(path.join(out, f.path), { force: true });

  const files = [];
  for (const e of entries) {
    fs.writeFileSync(path.join(out, e.path), e.body);
    const plain = e.contentEncoding === 'gzip' ? zlib.gunzipSync(e.body) : e.body;
    const s = e.contentType === 'application/json' ? summarizeJson(plain, e.signal) : summarizeProtobuf(plain, e.signal);
    const entry = {
      path: e.path,
      source: e.source,
      ...(e.replayOf ? { replayOf: e.replayOf } : {}),
      capture: e.capture,
      batch: e.batch,
      signal: e.signal,
      otlpPath: e.otlpPath,
      contentType: e.contentType,
      contentEncoding: e.contentEncoding,
      bytes: e.body.length,
      uncompressedBytes: plain.length,
      userAgent: e.userAgent,
      ...(e.signal === 'traces' ? { spanCount: s.items } : { logCount: s.items, eventNames: s.eventNames }),
      resourceCount: s.services.length,
      services: s.services,
      traceIdCount: s.traceIds,
    };
    files.push(entry);
  }
  const all = [...kept, ...files];
  const order = (f) => SOURCES.indexOf(originOf(f, all));
  all.sort((a, b) => order(a) - order(b) || (a.source === 'collector') - (b.source === 'collector') || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest = { generator: 'scripts/interop/capture.mjs', sdks: sdkVersions(), collector: COLLECTOR_VERSION, files: all };
  fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`${files.length} bodies written to ${path.relative(process.cwd(), out) || out} (${all.length} in the manifest)\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exitCode = 1;
});
