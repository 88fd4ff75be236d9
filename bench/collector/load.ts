/**
 * Load for the side-by-side benchmark, the same for both systems: protobuf trace bodies POSTed to
 * `/v1/traces` on keep-alive connections, either as fast as `concurrency` clients can (closed loop:
 * each client sends its next body when the last one is answered) or at a fixed request rate (open
 * loop: a request starts every 1/rate s whatever the answers, at most `concurrency` in flight).
 * While it runs, the system's CPU time and peak RSS are read from /proc. Also the sink of the
 * pass-through case: an HTTP server that answers 200 with an empty body to POST /v1/traces.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { percentile } from '../harness.js';
import { httpTraceSender } from '../sender.js';
import { cpuSeconds, peakRssMiB, type SystemUnderTest } from './systems.js';

export interface Body {
  body: Buffer;
  spans: number;
}

/** What one run measured. Latencies are of every request (accepted or not), in ms. */
export interface RunResult {
  /** Spans in requests answered 200, per second of the window. */
  spans_per_s: number;
  requests: number;
  /** Requests answered with anything but 200 (429/503 when the system sheds load), or failing. */
  refused: number;
  /** Requests a fixed-rate run could not start because `concurrency` were still in flight. */
  skipped: number;
  p50_ms: number;
  p99_ms: number;
  /** CPU time of the system over the window / window length, in % of one core. */
  cpu_pct: number;
  /** Peak resident set size of the system since it started, MiB. */
  peak_rss_mib: number;
}

export interface LoadOptions {
  seconds: number;
  concurrency: number;
  /** Requests per second; undefined: as fast as the clients can. */
  rate?: number;
}

/** Drives `sut` with `bodies` for `seconds` and measures it. */
export async function drive(sut: SystemUnderTest, bodies: readonly Body[], opts: LoadOptions): Promise<RunResult> {
  const sender = httpTraceSender(sut.port, opts.concurrency);
  const latencies: number[] = [];
  let spans = 0;
  let refused = 0;
  let requests = 0;
  let skipped = 0;
  const one = async (b: Body): Promise<void> => {
    const t0 = performance.now();
    const status = await sender.send(b.body).catch(() => 0);
    latencies.push(performance.now() - t0);
    requests++;
    if (status === 200) spans += b.spans;
    else refused++;
  };
  const cpu0 = cpuSeconds(sut.pid);
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  if (opts.rate === undefined) {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async (_, worker) => {
        for (let i = worker; performance.now() < end; i += opts.concurrency) await one(bodies[i % bodies.length]!);
      }),
    );
  } else {
    const interval = 1000 / opts.rate;
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; ; i++) {
      const due = start + i * interval;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (inFlight.size >= opts.concurrency) {
        skipped++;
        continue;
      }
      const p: Promise<void> = one(bodies[i % bodies.length]!).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(sut.pid) - cpu0;
  sender.close();
  latencies.sort((a, b) => a - b);
  return {
    spans_per_s: Math.round(spans / elapsed),
    requests,
    refused,
    skipped,
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    cpu_pct: Math.round((cpu / elapsed) * 1000) / 10,
    peak_rss_mib: Math.round(peakRssMiB(sut.pid) * 10) / 10,
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export interface Sink {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

/** An OTLP/HTTP sink on 127.0.0.1: 200 with an empty body to POST /v1/traces (bytes counted), 404 to anything else. */
export async function startSink(): Promise<Sink> {
  const sink: Sink = { url: '', requests: 0, bytes: 0, close: async () => {} };
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const ok = req.method === 'POST' && req.url === '/v1/traces';
    req.on('data', (chunk: Buffer) => {
      if (ok) sink.bytes += chunk.length;
    });
    req.on('end', () => {
      if (ok) sink.requests++;
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sink.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return sink;
}
