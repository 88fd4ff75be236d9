/**
 * `service::workers` through the real CLI (config.example.yaml's pipeline): a supervisor and two
 * worker processes sharing the OTLP ports.
 * - both workers take OTLP/HTTP and OTLP/gRPC requests on the one port of each (counted per worker
 *   by the metrics' `worker` label); one of them killed with SIGKILL and forked again, the counters
 *   of the metrics endpoint and the status page's totals do not go down, while it restarts nor
 *   after, and count on exactly;
 * - a worker killed with SIGKILL is forked again; the other keeps answering meanwhile (only what
 *   was in flight on the killed one fails), the health check is 503 until both are ready again,
 *   nothing acknowledged is lost (persistent queues), and SIGTERM drains both and exits 0;
 * - the supervisor and its workers killed with SIGKILL, then a gateway of one worker: it takes
 *   over the second worker's queues and delivers every acknowledged event;
 * - `workers: 1` is one process, as before.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { GATEWAY_NODE_OPTIONS } from '../../src/workers.js';
import { grpcRawCall, readFixture, startGateway, type RunningGateway } from '../helpers.js';
import { amplitudeArrivals, deliverySetup, fileArrivals, load, missing, sleep, until, type DeliverySetup } from './delivery-harness.js';

const setups: DeliverySetup[] = [];
const gateways: RunningGateway[] = [];
after(async () => {
  for (const g of gateways) if (g.child.exitCode === null) killTree(g.child.pid!);
  for (const s of setups) await s.close();
});

/** Pids of the processes whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(path.join('/proc', name, 'stat'), 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return found;
}

function killTree(pid: number): void {
  for (const c of childPids(pid)) {
    try {
      process.kill(c, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

async function metrics(g: RunningGateway): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${g.ports.metrics}/metrics`);
  return r.text();
}

/** The value of one series (labels as written, in order), 0 when absent. */
function series(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The sum of every series of `name` (any labels), 0 when absent. */
function total(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/** What the counters of the metrics endpoint and the status page's totals say now: spans received, items into `analytics`. */
async function counted(g: RunningGateway, receiverNode: string): Promise<{ accepted: number; analytics: number; status: number }> {
  const text = await metrics(g);
  const stats = (await (await fetch(`http://127.0.0.1:${g.ports.status}/api/stats`)).json()) as { nodes: Record<string, { totals: { in: number } }> };
  return {
    accepted: total(text, 'otelcol_receiver_accepted_spans'),
    analytics: series(text, 'otelcol_processor_incoming_items', 'processor="analytics",pipeline="events"'),
    status: stats.nodes[receiverNode]!.totals.in,
  };
}

/** One OTLP/HTTP request on a connection of its own. */
function postOnNewConnection(port: number, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

describe('service::workers: 2', { timeout: 120_000 }, () => {
  it('both workers take OTLP/HTTP and OTLP/gRPC requests on the one port of each; health was 503 until both were ready; counters do not go down when one is killed and forked again', async () => {
    const g = await startGateway({ workers: 2 });
    gateways.push(g);
    assert.ok(g.healthWhileStarting.includes(503), `health while starting: ${g.healthWhileStarting.join(', ')}`);
    const workers = childPids(g.child.pid!);
    assert.equal(workers.length, 2, 'two worker processes');
    for (const pid of workers) for (const option of GATEWAY_NODE_OPTIONS) assert.ok(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(option), `workers run with ${option}`);
    const body = readFixture('traces-shop-01.pb');
    for (let i = 0; i < 10; i++) assert.equal(await postOnNewConnection(g.ports.http, body), 200);
    // gRPC: each channel is one HTTP/2 connection, which stays with the worker that took it.
    for (let i = 0; i < 10; i++) {
      const session = http2.connect(`http://127.0.0.1:${g.ports.grpc}`);
      const r = await grpcRawCall(session, '/opentelemetry.proto.collector.trace.v1.TraceService/Export', 0, body);
      session.close();
      assert.equal(r.status, 0, r.message);
    }
    const text = await metrics(g);
    for (const transport of ['http', 'grpc']) {
      const perWorker = [0, 1].map((w) => series(text, 'otelcol_receiver_accepted_spans', `receiver="otlp",transport="${transport}",worker="${w}"`));
      assert.ok(perWorker.every((n) => n > 0), `${transport} spans per worker: ${perWorker.join(', ')}\n${text}`);
    }
    assert.match(text, /^otelytics_workers_ready 2$/m);
    // Summed over workers: one series without a worker label.
    assert.match(text, /^otelcol_processor_incoming_items\{processor="analytics",pipeline="events"\} \d+$/m);

    // One worker killed and forked again: what it had counted is carried over to its next worker,
    // in the metrics (summed, and by worker) and in the status page's totals.
    const graph = (await (await fetch(`http://127.0.0.1:${g.ports.status}/api/graph`)).json()) as { graph: { nodes: { id: string; kind: string; component: string }[] } };
    const receiver = graph.graph.nodes.find((n) => n.kind === 'receiver' && n.component === 'otlp')!.id;
    // The ready line lists the workers' pids by index.
    const pids = JSON.parse(/"pids":(\[[\d,]+\])/.exec(g.output())![1]!) as number[];
    const victim = pids[1]!;
    const victimAccepted = (t: string) => ['http', 'grpc'].reduce((n, transport) => n + series(t, 'otelcol_receiver_accepted_spans', `receiver="otlp",transport="${transport}",worker="1"`), 0);
    const victimBefore = victimAccepted(await metrics(g));
    assert.ok(victimBefore > 0);
    const before = await counted(g, receiver);
    assert.ok(before.accepted > 0 && before.accepted % 20 === 0 && before.analytics > 0, JSON.stringify(before));
    assert.equal(before.status, before.accepted);
    process.kill(victim, 'SIGKILL');
    const readings: Awaited<ReturnType<typeof counted>>[] = [];
    const end = Date.now() + 20_000;
    for (;;) {
      readings.push(await counted(g, receiver));
      const m = await metrics(g);
      assert.equal(victimAccepted(m), victimBefore, 'the killed worker\'s series');
      if (/^otelytics_worker_restarts\{worker="1"\} 1$/m.test(m) && /^otelytics_workers_ready 2$/m.test(m)) break;
      assert.ok(Date.now() < end, `not restarted within 20 s:\n${m}`);
      await sleep(100);
    }
    assert.ok(!childPids(g.child.pid!).includes(victim));
    const after = await counted(g, receiver);
    for (const r of [...readings, after]) {
      for (const k of ['accepted', 'analytics', 'status'] as const) assert.ok(r[k] >= before[k], `${k} went down from ${before[k]} to ${r[k]} (readings ${JSON.stringify(readings.map((x) => x[k]))})`);
    }
    assert.deepEqual(after, before, 'nothing counted twice, nothing lost');
    // The restarted worker counts on from there: 4 more requests on new connections, over both workers.
    for (let i = 0; i < 4; i++) assert.equal(await postOnNewConnection(g.ports.http, body), 200);
    const more = await counted(g, receiver);
    assert.equal(more.accepted, before.accepted + (4 * before.accepted) / 20);
    assert.equal(more.status, more.accepted);
    assert.equal(await g.stop(), 0, g.output());
  });

  it('SIGKILL of one worker: forked again, the other keeps answering, nothing acknowledged is lost, SIGTERM drains both and exits 0', async (t) => {
    const s = await deliverySetup();
    setups.push(s);
    const g = await s.start(2);
    gateways.push(g);
    const [victim] = childPids(g.child.pid!);
    assert.ok(victim, 'a worker pid');
    const next = { seq: 0, sent: 0 };
    const stopLoad = sleep(6000);
    const clients = 4;
    const failures: number[] = [];
    const loading = load(g, next, { clients, perRequest: 100, stop: stopLoad, failures });
    await sleep(1500);
    process.kill(victim, 'SIGKILL');
    // The health check is 503 while the worker restarts, then 200 again.
    const seen: number[] = [];
    const polling = (async () => {
      const end = Date.now() + 20_000;
      while ((seen.at(-1) !== 200 || !seen.includes(503)) && Date.now() < end) {
        seen.push(await fetch(`http://127.0.0.1:${g.ports.health}/`).then((r) => r.status, () => 0));
        await sleep(50);
      }
    })();
    await polling;
    assert.ok(seen.includes(503) && seen.at(-1) === 200, `health after the kill: ${seen.join(', ')}`);
    const acknowledged = await loading;
    const failed = next.sent - acknowledged.length;
    const text = await metrics(g);
    assert.match(text, /^otelytics_worker_restarts\{worker="\d"\} 1$/m, text);
    const pids = childPids(g.child.pid!);
    assert.equal(pids.length, 2, 'two workers again');
    assert.ok(!pids.includes(victim));
    // Lost connections: what was in flight on the killed worker, at most one request per client
    // (and one more per client whose idle connection to it was reset as it sent). The other worker,
    // taking all the load meanwhile, may answer 503 (admission; SDKs retry those).
    const resets = failures.filter((status) => status === 0).length;
    assert.ok(resets <= 2 * clients, `${resets} requests lost their connection`);
    assert.deepEqual(failures.filter((status) => status !== 0 && status !== 503), [], 'no other failure');
    assert.ok(acknowledged.length >= 1000, `${acknowledged.length} acknowledged`);
    await until(
      () => missing(fileArrivals(s.file), acknowledged).length === 0 && missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
      30_000,
      () => `${missing(fileArrivals(s.file), acknowledged).length} in the file and ${missing(amplitudeArrivals(s.amplitude), acknowledged).length} in Amplitude of ${acknowledged.length}`,
    );
    assert.equal(await g.stop('SIGTERM'), 0, g.output());
    assert.match(g.output(), /"msg":"worker died; forking it again"/);
    t.diagnostic(`${acknowledged.length} acknowledged, ${failed / 100} requests failed with the killed worker, 0 lost`);
  });

  it('supervisor and workers killed with SIGKILL mid-stream, then one worker: it takes over the queues of both and delivers every acknowledged event', async (t) => {
    // A destination that refuses everything for now: what is acknowledged waits in the queues of both workers.
    const s = await deliverySetup({ file: false });
    setups.push(s);
    s.amplitude.inject({ status: 503 }, 100_000);
    const g = await s.start(2);
    gateways.push(g);
    const next = { seq: 0, sent: 0 };
    const acknowledged = await load(g, next, { clients: 4, perRequest: 100, stop: sleep(2500) });
    killTree(g.child.pid!);
    await new Promise((r) => (g.child.exitCode !== null ? r(undefined) : g.child.once('exit', r)));
    const queue = path.join(s.dir, 'queue');
    assert.ok(fs.existsSync(path.join(queue, 'worker-1', 'amplitude')), `worker 1's queue: ${fs.readdirSync(queue).join(', ')}`);
    s.amplitude.reset();
    const one = await s.start(1);
    gateways.push(one);
    await until(
      () => missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
      30_000,
      () => `${missing(amplitudeArrivals(s.amplitude), acknowledged).length} of ${acknowledged.length} acknowledged events not in Amplitude`,
    );
    assert.ok(acknowledged.length >= 400, `${acknowledged.length} acknowledged`);
    assert.equal(fs.existsSync(path.join(queue, 'worker-1', 'amplitude')), false, 'the queue taken over is removed');
    assert.equal(await one.stop(), 0, one.output());
    t.diagnostic(`${acknowledged.length} acknowledged by 2 workers, all delivered by 1`);
  });
});

describe('service::workers: 1', { timeout: 60_000 }, () => {
  it('is one process, as before: no supervisor, metrics without a worker label', async () => {
    const g = await startGateway({ workers: 1 });
    gateways.push(g);
    assert.deepEqual(childPids(g.child.pid!), []);
    assert.equal(await postOnNewConnection(g.ports.http, readFixture('traces-shop-01.pb')), 200);
    const text = await metrics(g);
    assert.match(text, /^otelcol_receiver_accepted_spans\{receiver="otlp",transport="http"\} \d+$/m);
    assert.doesNotMatch(text, /worker=/);
    assert.equal(await g.stop(), 0, g.output());
  });
});
