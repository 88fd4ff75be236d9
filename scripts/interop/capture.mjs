#!/usr/bin/env node
// Captures real OTLP request bodies into test/captures/otlp/ (with a manifest.json like the shared JS
// SDK fixtures' one), for the codec tests:
//   python-*   what the OpenTelemetry Python SDK sends (examples/python-structlog/app.py, OTLP/HTTP
//              protobuf, uncompressed);
//   collector-* the same request bodies replayed through an OpenTelemetry Collector (otlp receiver
//              → otlp_http exporter, gzip): the same data in the Go pdata encoding.
// Re-run it after changing the pinned Python SDK or collector:
//   node scripts/interop/capture.mjs [--out DIR]
// Counts in the manifest come from an independent protobuf walk (not the project's codec).

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
import { COLLECTOR_VERSION, ensureCollector, ensurePythonVenv } from './tools.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** Fields 1 → 2 → 2 reach spans in an ExportTraceServiceRequest and log records in an ExportLogsServiceRequest. */
function walkItems(buf) {
  const items = [];
  const fields = (b) => {
    const r = protobuf.Reader.create(b);
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
  };
  for (const res of fields(buf).filter((f) => f.no === 1)) for (const scope of fields(res.bytes).filter((f) => f.no === 2)) for (const item of fields(scope.bytes).filter((f) => f.no === 2)) items.push(item.bytes);
  return items;
}

/** `LogRecord.event_name` (field 12) of each log record. */
function eventNames(buf) {
  const names = new Set();
  for (const rec of walkItems(buf)) {
    const r = protobuf.Reader.create(rec);
    while (r.pos < r.len) {
      const t = r.uint32();
      if (t === ((12 << 3) | 2)) names.add(r.string());
      else r.skipType(t & 7);
    }
  }
  return [...names].sort();
}

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

async function main() {
  const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(root, 'test', 'captures', 'otlp') } } });
  const out = path.resolve(values.out);
  const log = (m) => process.stderr.write(`${m}\n`);
  const { python } = await ensurePythonVenv({ log });
  const { bin: otelcol } = await ensureCollector({ log });

  const captured = [];
  let source = 'python';
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/v1/')) captured.push({ source, otlpPath: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, req.url?.startsWith('/v1/') ? { 'content-type': 'application/x-protobuf' } : {});
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sink = `http://127.0.0.1:${server.address().port}`;
  const app = ['app.py', '--call', `${sink}/stock`];
  const appDir = path.join(root, 'examples', 'python-structlog');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-'));
  try {
    log('capturing the Python SDK ...');
    await runToEnd(python, app, { cwd: appDir, env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_SERVICE_NAME: 'checkout-py' } });

    log(`replaying them through OpenTelemetry Collector ${COLLECTOR_VERSION} ...`);
    source = 'collector';
    const port = await freePort();
    const config = path.join(tmp, 'collector.yaml');
    fs.writeFileSync(
      config,
      `receivers:\n  otlp:\n    protocols:\n      http: { endpoint: 127.0.0.1:${port} }\nexporters:\n  otlp_http:\n    endpoint: ${sink}\nservice:\n  telemetry: { logs: { level: warn }, metrics: { level: none } }\n  pipelines:\n    traces: { receivers: [otlp], exporters: [otlp_http] }\n    logs: { receivers: [otlp], exporters: [otlp_http] }\n`,
    );
    const collector = spawn(otelcol, ['--config', config], { stdio: 'ignore' });
    try {
      for (let i = 0; ; i++) {
        const up = await new Promise((r) => net.connect(port, '127.0.0.1').once('connect', function () { this.destroy(); r(true); }).once('error', () => r(false)));
        if (up) break;
        if (i > 300) throw new Error('the collector did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const c of captured.filter((x) => x.source === 'python')) {
        const r = await fetch(`http://127.0.0.1:${port}${c.otlpPath}`, { method: 'POST', headers: { 'content-type': c.headers['content-type'] }, body: c.body });
        if (r.status !== 200) throw new Error(`the collector answered ${r.status} to ${c.otlpPath}`);
      }
    } finally {
      collector.kill('SIGTERM');
      await new Promise((r) => collector.once('exit', r));
    }
  } finally {
    server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  fs.mkdirSync(out, { recursive: true });
  const files = [];
  const count = new Map();
  for (const c of captured) {
    const signal = c.otlpPath === '/v1/traces' ? 'traces' : c.otlpPath === '/v1/logs' ? 'logs' : undefined;
    if (!signal) continue;
    const n = (count.get(`${c.source}-${signal}`) ?? 0) + 1;
    count.set(`${c.source}-${signal}`, n);
    const encoding = c.headers['content-encoding'] ?? 'identity';
    const name = `${c.source}-${signal}-${String(n).padStart(2, '0')}.pb${encoding === 'gzip' ? '.gz' : ''}`;
    fs.writeFileSync(path.join(out, name), c.body);
    const plain = encoding === 'gzip' ? zlib.gunzipSync(c.body) : c.body;
    const entry = { path: name, source: c.source, signal, otlpPath: c.otlpPath, contentType: c.headers['content-type'], contentEncoding: encoding, bytes: c.body.length, uncompressedBytes: plain.length, userAgent: c.headers['user-agent'] };
    if (signal === 'traces') entry.spanCount = walkItems(plain).length;
    else {
      entry.logCount = walkItems(plain).length;
      entry.eventNames = eventNames(plain);
    }
    files.push(entry);
  }
  const pins = fs.readFileSync(path.join(root, 'examples', 'python-structlog', 'requirements.txt'), 'utf8').split('\n').filter((l) => l.startsWith('opentelemetry-sdk=='));
  const manifest = { generator: 'scripts/interop/capture.mjs', app: 'examples/python-structlog/app.py', python: pins[0] ?? '', collector: COLLECTOR_VERSION, files };
  fs.writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`${files.length} bodies written to ${path.relative(process.cwd(), out) || out}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exitCode = 1;
});
