/**
 * What bearer-token authentication costs on the hot path, measured A/B: two gateways on
 * config.example.yaml (its events pipeline ending in `nop`, as bench/gateway.ts runs it), one of
 * them with `bearertokenauth` on both OTLP protocols, both pinned to the same core, are driven in
 * turn for `--slice` seconds each, `--rounds` times, the order alternating. Other load on a shared
 * machine then falls on both alike, which back-to-back runs of bench/gateway.ts cannot promise.
 * Prints spans/s of each, over OTLP/HTTP and OTLP/gRPC, and the ratio, and the gateway's CPU time
 * per 1000 spans (from /proc: what a gateway spent, whatever else ran; less sensitive to a
 * shared machine than throughput); the last line is `BENCH {...}`.
 *
 * Run: `npm run build && node dist/bench/auth.js [--rounds 10] [--slice 2] [--concurrency 8]`;
 * `--control` runs the second gateway without authentication too (an A/A run: how far two equal
 * gateways measured so differ, the floor under which a difference means nothing).
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { cpuSeconds } from './collector/systems.js';
import { hasTaskset, startBenchGateway, type BenchGateway } from './harness.js';
import { httpTraceSender } from './sender.js';
import { scaledTracesBody } from './scaled.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '10' }, slice: { type: 'string', default: '2' }, concurrency: { type: 'string', default: '8' }, control: { type: 'boolean', default: false } },
});
const rounds = Number(values.rounds);
const sliceMillis = Number(values.slice) * 1000;
const concurrency = Number(values.concurrency);
const TOKEN = 'bench-token-0123456789abcdef';

type Sender = (body: Buffer) => Promise<boolean>;

/** Spans accepted while `send` is driven by `concurrency` closed-loop clients for `millis`, and the CPU seconds gateway `pid` used meanwhile. */
async function slice(send: Sender, bodies: { body: Buffer; spans: number }[], millis: number, pid: number): Promise<{ spans: number; seconds: number; cpu: number }> {
  let spans = 0;
  const cpu0 = cpuSeconds(pid);
  const start = performance.now();
  const end = start + millis;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; performance.now() < end; i += concurrency) {
        const b = bodies[i % bodies.length]!;
        if (await send(b.body)) spans += b.spans;
      }
    }),
  );
  return { spans, seconds: (performance.now() - start) / 1000, cpu: cpuSeconds(pid) - cpu0 };
}

function senders(gw: BenchGateway, token: string | undefined): { http: Sender; grpc: Sender; close(): void } {
  const http = httpTraceSender(gw.ports.http, concurrency, token ? { authorization: `Bearer ${token}` } : {});
  const id = (b: Buffer) => b;
  const Client = grpc.makeGenericClientConstructor(
    { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    'Trace',
  );
  const client = new Client(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createInsecure()) as unknown as { Export: (b: Buffer, md: grpc.Metadata, cb: (e: Error | null) => void) => void; close(): void };
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return {
    // A connection reset under load counts as a refused request, not the end of the run.
    http: (body) => http.send(body).then((status) => status === 200, () => false),
    grpc: (body) => new Promise((resolve) => client.Export(body, md, (err) => resolve(!err))),
    close: () => {
      http.close();
      client.close();
    },
  };
}

async function main(): Promise<void> {
  const bodies = [0, 1, 2, 3].map((v) => scaledTracesBody(500, v));
  const common = ['service::telemetry::logs::level=warn', 'exporters::nop={}', 'service::pipelines::events::exporters=[nop]'];
  const plain = await startBenchGateway(common);
  const authed = await startBenchGateway(
    values.control
      ? common
      : [
          ...common,
          `extensions::bearertokenauth::token=${TOKEN}`,
          'service::extensions=[health_check, status, bearertokenauth]',
          'receivers::otlp::protocols::http::auth::authenticator=bearertokenauth',
          'receivers::otlp::protocols::grpc::auth::authenticator=bearertokenauth',
        ],
  );
  const systems = { none: senders(plain, undefined), bearertokenauth: senders(authed, TOKEN) };
  const pids = { none: plain.child.pid!, bearertokenauth: authed.child.pid! };
  const zero = () => ({ spans: 0, seconds: 0, cpu: 0 });
  const totals = { http: { none: zero(), bearertokenauth: zero() }, grpc: { none: zero(), bearertokenauth: zero() } };
  for (const transport of ['http', 'grpc'] as const) {
    // Warm-up of both, not counted.
    for (const name of ['none', 'bearertokenauth'] as const) await slice(systems[name][transport], bodies, sliceMillis, pids[name]);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['none', 'bearertokenauth'] as const) : (['bearertokenauth', 'none'] as const);
      for (const name of order) {
        const got = await slice(systems[name][transport], bodies, sliceMillis, pids[name]);
        totals[transport][name].spans += got.spans;
        totals[transport][name].seconds += got.seconds;
        totals[transport][name].cpu += got.cpu;
      }
    }
  }
  for (const s of Object.values(systems)) s.close();
  await Promise.all([plain.stop(), authed.stop()]);

  console.log(`auth ${values.control ? 'A/A control (no authentication on either)' : 'A/B'} benchmark: ${bodies[0]!.spans} spans/request, ${concurrency} clients, ${rounds} rounds of ${sliceMillis / 1000} s per system and transport, gateways ${hasTaskset ? 'pinned to CPU 1' : 'not pinned (no taskset)'}; node ${process.version}`);
  const cpuMs = (x: { spans: number; cpu: number }) => Number(((x.cpu * 1000 * 1000) / x.spans).toFixed(3));
  const results = (['http', 'grpc'] as const).map((t) => {
    const none = Math.round(totals[t].none.spans / totals[t].none.seconds);
    const auth = Math.round(totals[t].bearertokenauth.spans / totals[t].bearertokenauth.seconds);
    const cpuNone = cpuMs(totals[t].none);
    const cpuAuth = cpuMs(totals[t].bearertokenauth);
    return { transport: t, none_spans_per_s: none, bearertokenauth_spans_per_s: auth, ratio: Number((auth / none).toFixed(3)), none_cpu_ms_per_1000_spans: cpuNone, bearertokenauth_cpu_ms_per_1000_spans: cpuAuth, cpu_ratio: Number((cpuAuth / cpuNone).toFixed(3)) };
  });
  console.log('transport'.padEnd(10) + 'no auth spans/s'.padStart(17) + 'with auth'.padStart(12) + 'ratio'.padStart(8) + 'CPU ms/1000 spans, no auth'.padStart(28) + 'with auth'.padStart(11) + 'ratio'.padStart(8));
  for (const r of results) {
    console.log(
      r.transport.padEnd(10) +
        String(r.none_spans_per_s).padStart(17) +
        String(r.bearertokenauth_spans_per_s).padStart(12) +
        r.ratio.toFixed(3).padStart(8) +
        r.none_cpu_ms_per_1000_spans.toFixed(2).padStart(28) +
        r.bearertokenauth_cpu_ms_per_1000_spans.toFixed(2).padStart(11) +
        r.cpu_ratio.toFixed(3).padStart(8),
    );
  }
  console.log('BENCH ' + JSON.stringify({ name: 'auth', control: values.control, spans_per_request: bodies[0]!.spans, concurrency, rounds, slice_seconds: sliceMillis / 1000, pinned: hasTaskset, results }));
}

await main();
