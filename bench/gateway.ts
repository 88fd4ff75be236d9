/**
 * Gateway throughput: runs the real CLI on config.example.yaml with its events pipeline
 * (memory_limiter → analytics → privacy → filter → batch) ending in the `nop` exporter, and sends
 * real protobuf trace bodies (the shop fixture's spans scaled up to ~500 spans a request) over
 * OTLP/HTTP and OTLP/gRPC for a fixed time from `concurrency` parallel clients. Prints spans/s,
 * events/s, p50/p99 request latency and the gateway's peak RSS, and returns them as JSON on the
 * last line (`BENCH {...}`).
 *
 * The gateway is pinned to CPU 1 and this load generator to CPU 0 when `taskset` exists, so the
 * figures are per gateway core.
 *
 * Run: `npm run build && node dist/bench/gateway.js [--seconds 10] [--concurrency 8]`.
 * `--sets KEY=VALUE` (repeatable) overrides the config; `--bearer-token T` runs both OTLP protocols
 * with `auth: { authenticator: bearertokenauth }` (token T) and sends `Authorization: Bearer T`
 * on every request, to measure what authentication costs.
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { hasTaskset, metricValue, percentile, startBenchGateway } from './harness.js';
import { httpTraceSender } from './sender.js';
import { peakRssMiB } from './collector/systems.js';
import { scaledTracesBody } from './scaled.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '8' }, sets: { type: 'string', multiple: true }, 'bearer-token': { type: 'string' } },
});
const token = values['bearer-token'];
/** The config of bearer-token authentication on both protocols, when asked for. */
const authSets = token
  ? [
      `extensions::bearertokenauth::token=${token}`,
      'service::extensions=[health_check, status, bearertokenauth]',
      'receivers::otlp::protocols::http::auth::authenticator=bearertokenauth',
      'receivers::otlp::protocols::grpc::auth::authenticator=bearertokenauth',
    ]
  : [];
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

interface CaseResult {
  case: string;
  requests: number;
  spans_per_s: number;
  events_per_s: number;
  p50_ms: number;
  p99_ms: number;
  refused: number;
  peak_rss_mib: number;
}

type Sender = (body: Buffer) => Promise<boolean>;

async function drive(name: string, send: Sender, bodies: { body: Buffer; spans: number }[], metricsPort: number, pid: number): Promise<CaseResult> {
  const eventsBefore = await metricValue(metricsPort, 'otelytics_events_created');
  const latencies: number[] = [];
  let spans = 0;
  let refused = 0;
  let requests = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; performance.now() < end; i += concurrency) {
        const b = bodies[i % bodies.length]!;
        const t0 = performance.now();
        const ok = await send(b.body);
        latencies.push(performance.now() - t0);
        requests++;
        if (ok) spans += b.spans;
        else refused++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, 400)); // let the batch processor hand on its last batch
  const events = (await metricValue(metricsPort, 'otelytics_events_created')) - eventsBefore;
  latencies.sort((a, b) => a - b);
  return {
    case: name,
    requests,
    spans_per_s: Math.round(spans / elapsed),
    events_per_s: Math.round(events / elapsed),
    p50_ms: Number(percentile(latencies, 50).toFixed(2)),
    p99_ms: Number(percentile(latencies, 99).toFixed(2)),
    refused,
    peak_rss_mib: Number(peakRssMiB(pid).toFixed(1)),
  };
}

async function main(): Promise<void> {
  const bodies = [0, 1, 2, 3].map((v) => scaledTracesBody(500, v));
  const gw = await startBenchGateway(['service::telemetry::logs::level=warn', 'exporters::nop={}', 'service::pipelines::events::exporters=[nop]', ...authSets, ...(values.sets ?? [])]);
  const { child, ports } = gw;
  const sender = httpTraceSender(ports.http, concurrency, token ? { authorization: `Bearer ${token}` } : {});
  const httpSend: Sender = async (body) => (await sender.send(body)) === 200;
  const id = (b: Buffer) => b;
  const Client = grpc.makeGenericClientConstructor(
    { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    'Trace',
  );
  const client = new Client(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as { Export: (b: Buffer, md: grpc.Metadata, cb: (e: Error | null) => void) => void; close(): void };
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const grpcSend: Sender = (body) => new Promise((resolve) => client.Export(body, metadata, (err) => resolve(!err)));

  const results: CaseResult[] = [];
  // Warm-up, not reported.
  await drive('warm-up', httpSend, bodies, ports.metrics, child.pid!).catch(() => undefined);
  results.push(await drive('otlp/http protobuf → example pipeline → nop', httpSend, bodies, ports.metrics, child.pid!));
  results.push(await drive('otlp/grpc protobuf → example pipeline → nop', grpcSend, bodies, ports.metrics, child.pid!));
  client.close();
  sender.close();
  await gw.stop();

  console.log(`gateway benchmark: ${bodies[0]!.spans} spans/request, ${concurrency} clients, ${seconds} s per case, gateway ${hasTaskset ? 'pinned to CPU 1' : 'not pinned (no taskset)'}${token ? ', bearer-token authentication' : ''}; node ${process.version}`);
  console.log('case'.padEnd(46) + 'spans/s'.padStart(10) + 'events/s'.padStart(10) + 'p50 ms'.padStart(9) + 'p99 ms'.padStart(9) + 'refused'.padStart(9) + 'peak RSS MiB'.padStart(14));
  for (const r of results) {
    console.log(r.case.padEnd(46) + String(r.spans_per_s).padStart(10) + String(r.events_per_s).padStart(10) + String(r.p50_ms).padStart(9) + String(r.p99_ms).padStart(9) + String(r.refused).padStart(9) + String(r.peak_rss_mib).padStart(14));
  }
  console.log('BENCH ' + JSON.stringify({ name: 'gateway', spans_per_request: bodies[0]!.spans, concurrency, seconds, pinned: hasTaskset, auth: token ? 'bearertokenauth' : 'none', results }));
}

await main();
