/**
 * Fault injection through the real CLI, counting events by insert_id at the destination (the
 * `file` exporter). The destination is "down" while its path is a symlink to /dev/full (every
 * write fails with ENOSPC, a retryable error) and "up" again once the symlink points at a file.
 * - SIGKILL mid-stream with a persistent queue, then a restart: everything acknowledged arrives;
 * - queue full: clients get 503 with Retry-After, and their retries deliver everything;
 * - SIGTERM under load: exit within the drain deadline, nothing acknowledged is lost (in memory
 *   with the destination up; on disk with the destination down, delivered after a restart).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { describeUnless } from '../skip.js';

const canRun = fs.existsSync('/dev/full') && process.platform === 'linux';
const running: RunningGateway[] = [];
const dirs: string[] = [];
after(() => {
  for (const g of running) if (g.child.exitCode === null) g.child.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Setup {
  dir: string;
  config: string;
  link: string;
  real: string;
  down(): void;
  up(): void;
}

/** A gateway config in a fresh directory; `persistent` puts the sending queue in `<dir>/queue`. */
function setup(queue: Record<string, unknown>, persistent = false): Setup {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-delivery-'));
  dirs.push(dir);
  if (persistent) queue = { ...queue, storage: path.join(dir, 'queue') };
  const link = path.join(dir, 'events.jsonl');
  const real = path.join(dir, 'real.jsonl');
  const point = (to: string) => {
    fs.rmSync(link, { force: true });
    fs.symlinkSync(to, link);
  };
  const config = path.join(dir, 'otelytics.yaml');
  fs.writeFileSync(
    config,
    JSON.stringify({
      receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:4318' }, grpc: { endpoint: '127.0.0.1:4317' } } } },
      processors: { analytics: {} },
      exporters: {
        file: {
          path: link,
          sending_queue: { enabled: true, num_consumers: 2, ...queue },
          retry_on_failure: { initial_interval: '50ms', max_interval: '200ms', max_elapsed_time: 0 },
        },
      },
      extensions: { health_check: {} },
      service: { extensions: ['health_check'], pipelines: { events: { receivers: ['otlp'], processors: ['analytics'], exporters: ['file'] } }, telemetry: { logs: { level: 'error' } } },
    }),
  );
  return { dir, config, link, real, down: () => point('/dev/full'), up: () => point(real) };
}

async function start(s: Setup): Promise<RunningGateway> {
  const g = await startGateway({ configs: [s.config], sets: [] });
  running.push(g);
  return g;
}

/** An OTLP/JSON logs request whose log records carry an event name and a `seq` attribute each. */
function logsBody(seqs: number[]): string {
  const logRecords = seqs.map((seq) => ({ timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(seq)), eventName: 'order.placed', attributes: [{ key: 'seq', value: { intValue: String(seq) } }] }));
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] }, scopeLogs: [{ scope: {}, logRecords }] }] });
}

async function post(g: RunningGateway, seqs: number[]): Promise<{ status: number; retryAfter: string | null }> {
  try {
    const r = await fetch(`http://127.0.0.1:${g.ports.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsBody(seqs), signal: AbortSignal.timeout(10_000) });
    await r.arrayBuffer();
    return { status: r.status, retryAfter: r.headers.get('retry-after') };
  } catch {
    return { status: 0, retryAfter: null }; // connection refused or reset: not acknowledged
  }
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** seq → insert_ids seen at the destination. */
function arrived(file: string): Map<number, Set<string>> {
  const m = new Map<number, Set<string>>();
  for (const e of readJsonLines<{ insert_id: string; properties: { seq: number } }>(file)) {
    const seq = Number(e.properties.seq);
    if (!m.has(seq)) m.set(seq, new Set());
    m.get(seq)!.add(e.insert_id);
  }
  return m;
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(g: RunningGateway, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.ports.metrics}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
    .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
}

/** Every acknowledged seq arrived, each with exactly one insert_id (duplicates share it). */
function assertAllArrived(file: string, acknowledged: number[]): void {
  const got = arrived(file);
  const missing = acknowledged.filter((s) => !got.has(s));
  assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged events missing`);
  for (const s of acknowledged) assert.equal(got.get(s)!.size, 1, `seq ${s} arrived under several insert_ids`);
  assert.equal(new Set([...got.values()].flatMap((x) => [...x])).size, got.size);
}

describeUnless(!canRun && 'needs Linux /dev/full', 'delivery under faults (end to end)', {}, () => {
  it('SIGKILL mid-stream with a persistent queue, then a restart: everything acknowledged arrives', async () => {
    const s = setup({}, true);
    s.down();
    const g1 = await start(s);
    const acknowledged: number[] = [];
    for (let i = 0; i < 20; i++) {
      const seqs = range(i * 10, 10);
      const r = await post(g1, seqs);
      assert.equal(r.status, 200, 'accepted into the persistent queue while the destination is down');
      acknowledged.push(...seqs);
    }
    await until(async () => (await metric(g1, 'otelytics_exporter_send_retries')) > 0, 5000, 'failing sends');
    g1.child.kill('SIGKILL');
    await g1.stop();
    assert.equal(arrived(s.real).size, 0);

    s.up();
    const g2 = await start(s);
    await until(() => arrived(s.real).size >= acknowledged.length, 15_000, 'the queue left on disk to arrive');
    assert.equal(await g2.stop(), 0, g2.output());
    assertAllArrived(s.real, acknowledged);
  });

  it('queue full: clients get 503 with Retry-After, and their retries deliver everything', async () => {
    const s = setup({ queue_size: 50 });
    s.down();
    const g = await start(s);
    let refusals = 0;
    let retryAfterSeen = false;
    const acknowledged: number[] = [];
    const client = async (seqs: number[]) => {
      const end = Date.now() + 20_000;
      for (;;) {
        const r = await post(g, seqs);
        if (r.status === 200) return void acknowledged.push(...seqs);
        assert.equal(r.status, 503);
        refusals++;
        if (r.retryAfter && Number(r.retryAfter) >= 1) retryAfterSeen = true;
        assert.ok(Date.now() < end, 'retries did not get through');
        await new Promise((res) => setTimeout(res, 100)); // a test client: shorter than Retry-After
      }
    };
    const clients = Promise.all(range(0, 30).map((i) => client(range(i * 10, 10))));
    await until(() => refusals >= 20, 10_000, 'refusals');
    s.up();
    await clients;
    assert.ok(retryAfterSeen, 'Retry-After sent with 503');
    assert.ok((await metric(g, 'otelcol_exporter_enqueue_failed_log_records')) > 0);
    assert.equal(await g.stop(), 0, g.output());
    assert.equal(acknowledged.length, 300);
    assertAllArrived(s.real, acknowledged);
  });

  /** Clients posting in a loop; returns what was acknowledged once `stopAfter` resolves. */
  async function load(g: RunningGateway, clients: number, stopAfter: Promise<void>): Promise<number[]> {
    const acknowledged: number[] = [];
    let next = 0;
    let done = false;
    void stopAfter.then(() => (done = true));
    await Promise.all(
      range(0, clients).map(async () => {
        while (!done) {
          const seqs = range(next, 5);
          next += 5;
          const r = await post(g, seqs);
          if (r.status === 200) acknowledged.push(...seqs);
          else await new Promise((res) => setTimeout(res, 20));
        }
      }),
    );
    return acknowledged;
  }

  it('SIGTERM under load, destination up: exits 0 within the deadline with everything acknowledged delivered', async () => {
    const s = setup({ drain_timeout: '5s' });
    s.up();
    const g = await start(s);
    let signalledAt = 0;
    const exited = new Promise<void>((resolve) => g.child.once('exit', () => resolve()));
    const stopAfter = (async () => {
      await new Promise((r) => setTimeout(r, 700));
      signalledAt = Date.now();
      g.child.kill('SIGTERM');
      await exited;
    })();
    const acknowledged = await load(g, 6, stopAfter);
    const took = Date.now() - signalledAt;
    assert.equal(g.child.exitCode, 0, g.output());
    assert.ok(took < 5000, `exit took ${took}ms after SIGTERM`);
    assert.ok(acknowledged.length > 50, `only ${acknowledged.length} events acknowledged under load`);
    assertAllArrived(s.real, acknowledged);
  });

  it('SIGTERM under load, destination down: exits at the drain deadline, the rest waits on disk and arrives after a restart', async () => {
    const s = setup({ drain_timeout: '1s' }, true);
    s.down();
    const g1 = await start(s);
    let signalledAt = 0;
    const exited = new Promise<void>((resolve) => g1.child.once('exit', () => resolve()));
    const stopAfter = (async () => {
      await new Promise((r) => setTimeout(r, 700));
      signalledAt = Date.now();
      g1.child.kill('SIGTERM');
      await exited;
    })();
    const acknowledged = await load(g1, 6, stopAfter);
    const took = Date.now() - signalledAt;
    assert.equal(g1.child.exitCode, 0, g1.output());
    assert.ok(took >= 900 && took < 4000, `exit took ${took}ms after SIGTERM (drain_timeout 1s)`);
    assert.ok(acknowledged.length > 50);
    assert.equal(arrived(s.real).size, 0);

    s.up();
    const g2 = await start(s);
    await until(() => arrived(s.real).size >= acknowledged.length, 15_000, 'the queue left on disk to arrive');
    assert.equal(await g2.stop(), 0);
    assertAllArrived(s.real, acknowledged);
  });
});
