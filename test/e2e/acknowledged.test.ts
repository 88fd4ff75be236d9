/**
 * "What the gateway acknowledged reaches the destination": fault tests through the real CLI with
 * config.example.yaml's events pipeline as it is (memory_limiter, analytics, privacy, filter,
 * batch), ending in the `file` exporter and the `amplitude` exporter (against the local Amplitude
 * stand-in), both with a persistent sending queue, as the README's reliability section documents.
 * Every log event carries a `seq` attribute; the tests compare what was acknowledged (HTTP 200)
 * with what arrived, by seq:
 * - SIGKILL at random moments, then restarts: nothing acknowledged is lost, duplicates stay within
 *   what was being sent when the process died;
 * - a slow destination (1.5 s and 10 s per request), batches split into several requests: every
 *   event delivered, no request the destination accepted sent again;
 * - SIGTERM under load with a slow destination, then a restart: nothing acknowledged is lost.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeAmplitude } from '../fakes/amplitude-server.js';
import { readJsonLines, startGateway, type RunningGateway } from '../helpers.js';

const running: RunningGateway[] = [];
const servers: FakeAmplitude[] = [];
const dirs: string[] = [];
after(async () => {
  for (const g of running) if (g.child.exitCode === null) g.child.kill('SIGKILL');
  for (const s of servers) await s.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const env = { OTELYTICS_PSEUDONYM_KEY: randomBytes(32).toString('base64') };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Setup {
  dir: string;
  amplitude: FakeAmplitude;
  /** Where the file exporter writes. */
  file: string;
  sets: string[];
}

/**
 * config.example.yaml's events pipeline ending in `file` and `amplitude`, each with a persistent
 * sending queue under `<dir>/queue`; `amplitude` adds keys to the amplitude exporter's config.
 */
async function setup(opts: { amplitude?: Record<string, unknown>; answerDelayMillis?: number; file?: boolean } = {}): Promise<Setup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-ack-'));
  dirs.push(dir);
  const amplitude = await new FakeAmplitude({ answerDelayMillis: opts.answerDelayMillis }).start();
  servers.push(amplitude);
  const file = path.join(dir, 'events.jsonl');
  const queue = path.join(dir, 'queue');
  const amplitudeConfig = {
    api_key: 'test-api-key',
    endpoint: amplitude.url,
    // As the example config suggests: anonymised events (no consent) get a device of their own.
    device_id: ['device_id', 'session_id', 'insert_id'],
    retry_on_failure: { max_elapsed_time: '0s' },
    ...opts.amplitude,
    sending_queue: { storage: queue, ...(opts.amplitude?.sending_queue as object | undefined) },
  };
  const withFile = opts.file ?? true;
  const sets = [
    `exporters::file::path=${file}`,
    'exporters::file::sending_queue::enabled=true',
    `exporters::file::sending_queue::storage=${queue}`,
    `exporters::amplitude=${JSON.stringify(amplitudeConfig)}`,
    `service::pipelines::events::exporters=[${withFile ? 'file, ' : ''}amplitude]`,
    'service::telemetry::logs::level=warn',
  ];
  return { dir, amplitude, file, sets };
}

async function start(s: Setup): Promise<RunningGateway> {
  const g = await startGateway({ sets: s.sets, env });
  running.push(g);
  return g;
}

/** An OTLP/JSON logs request: one `order.placed` event per seq, each with its `seq` attribute. */
function logsBody(seqs: number[]): string {
  const logRecords = seqs.map((seq) => ({
    timeUnixNano: String(1_790_000_000_000_000_000n + BigInt(seq) * 1000n),
    eventName: 'order.placed',
    attributes: [{ key: 'seq', value: { intValue: String(seq) } }],
  }));
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] }, scopeLogs: [{ scope: {}, logRecords }] }] });
}

/** The status of one POST, 0 when the connection failed (not acknowledged). */
async function post(g: RunningGateway, seqs: number[]): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${g.ports.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsBody(seqs), signal: AbortSignal.timeout(20_000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/**
 * `clients` clients posting `perRequest` events a request until `stop` resolves (or `total`
 * events were acknowledged); resolves with the acknowledged seqs. `next` numbers the events.
 */
async function load(g: RunningGateway, next: { seq: number }, opts: { clients: number; perRequest: number; stop?: Promise<unknown>; total?: number }): Promise<number[]> {
  const acknowledged: number[] = [];
  let done = false;
  void opts.stop?.then(() => (done = true));
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      while (!done && (opts.total === undefined || next.seq < opts.total)) {
        const seqs = Array.from({ length: opts.perRequest }, (_, i) => next.seq + i);
        next.seq += opts.perRequest;
        const status = await post(g, seqs);
        if (status === 200) acknowledged.push(...seqs);
        else if (status === 0 && g.child.exitCode !== null) return;
        else await sleep(50);
      }
    }),
  );
  return acknowledged;
}

interface Arrivals {
  /** seq → times it arrived. */
  count: Map<number, number>;
  duplicates: number;
}

function fileArrivals(file: string): Arrivals {
  const count = new Map<number, number>();
  let duplicates = 0;
  for (const e of readJsonLines<{ properties: { seq: number } }>(file)) {
    const seq = Number(e.properties.seq);
    const n = (count.get(seq) ?? 0) + 1;
    if (n > 1) duplicates++;
    count.set(seq, n);
  }
  return { count, duplicates };
}

/** What the stand-in ingested (it drops repeats of an insert_id and counts them, as Amplitude does). */
function amplitudeArrivals(a: FakeAmplitude): Arrivals {
  const count = new Map<number, number>();
  for (const { event } of a.ingested.values()) {
    const seq = Number((event.event_properties as { seq: number }).seq);
    count.set(seq, (count.get(seq) ?? 0) + 1);
  }
  return { count, duplicates: a.duplicates };
}

function missing(a: Arrivals, acknowledged: readonly number[]): number[] {
  return acknowledged.filter((s) => !a.count.has(s));
}

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await sleep(250);
  }
}

describe('acknowledged means delivered (config.example.yaml pipeline, persistent queues)', { timeout: 600_000 }, () => {
  it('SIGKILL at random moments in 5 rounds, then a restart: every acknowledged event reaches the file and Amplitude', async (t) => {
    const s = await setup();
    const next = { seq: 0 };
    const acknowledged: number[] = [];
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const g = await start(s);
      const kill = sleep(400 + Math.random() * 1600).then(() => g.child.kill('SIGKILL'));
      acknowledged.push(...(await load(g, next, { clients: 4, perRequest: 100, stop: kill })));
      await g.stop();
    }
    const g = await start(s);
    await until(
      () => missing(fileArrivals(s.file), acknowledged).length === 0 && missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
      120_000,
      () => `${missing(fileArrivals(s.file), acknowledged).length} events in the file and ${missing(amplitudeArrivals(s.amplitude), acknowledged).length} in Amplitude of ${acknowledged.length} acknowledged`,
    );
    assert.equal(await g.stop(), 0, g.output());
    assert.ok(acknowledged.length >= 5000, `only ${acknowledged.length} events acknowledged`);
    const file = fileArrivals(s.file);
    const amplitude = amplitudeArrivals(s.amplitude);
    assert.deepEqual(missing(file, acknowledged), []);
    assert.deepEqual(missing(amplitude, acknowledged), []);
    // What may arrive twice is what was being written or sent when the process died.
    assert.ok(file.duplicates <= rounds * FILE_BOUND_PER_KILL, `${file.duplicates} duplicate lines in the file (bound ${rounds * FILE_BOUND_PER_KILL})`);
    assert.ok(amplitude.duplicates <= rounds * AMPLITUDE_BOUND_PER_KILL, `${amplitude.duplicates} duplicates sent to Amplitude (bound ${rounds * AMPLITUDE_BOUND_PER_KILL})`);
    t.diagnostic(`${acknowledged.length} acknowledged over ${rounds} kills: 0 lost; duplicates: file ${file.duplicates}, Amplitude ${amplitude.duplicates}`);
  });

  it('a destination answering in 1.5 s and one answering in 10 s, batches split into several requests: every event delivered, none sent twice', async (t) => {
    const cases = [
      // 10,000 events make a batch of 8192 and more: 5 requests of at most 2000, 7.5 s together, over the default 5 s timeout.
      { answerDelayMillis: 1500, events: 10_000, amplitude: {} },
      // 3000 events: 3 requests of 1000, 30 s together, each under a timeout of 15 s.
      { answerDelayMillis: 10_000, events: 3000, amplitude: { timeout: '15s', max_events_per_request: 1000 } },
    ];
    await Promise.all(
      cases.map(async (c) => {
        const s = await setup({ file: false, answerDelayMillis: c.answerDelayMillis, amplitude: c.amplitude });
        const g = await start(s);
        const started = Date.now();
        const acknowledged = await load(g, { seq: 0 }, { clients: 4, perRequest: 100, total: c.events });
        assert.equal(acknowledged.length, c.events);
        await until(
          () => missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
          120_000,
          () => `${missing(amplitudeArrivals(s.amplitude), acknowledged).length} of ${c.events} events at the destination answering in ${c.answerDelayMillis}ms (${s.amplitude.duplicates} duplicates so far)`,
        );
        const took = Date.now() - started;
        assert.equal(await g.stop(), 0, g.output());
        assert.equal(s.amplitude.duplicates, 0, 'an event the destination had accepted was sent again');
        const perRequest = Number((c.amplitude as { max_events_per_request?: number }).max_events_per_request ?? 2000);
        assert.equal(Math.max(...s.amplitude.requests.map((r) => r.events)), perRequest, 'batches larger than a request were cut into requests');
        t.diagnostic(`answering in ${c.answerDelayMillis}ms: ${c.events} events delivered in ${(took / 1000).toFixed(1)} s by ${s.amplitude.requests.length} requests, 0 duplicates`);
      }),
    );
  });

  it('SIGTERM under load with a slow destination, then a restart: every acknowledged event arrives', async (t) => {
    // A drain deadline of 1 s leaves part of the backlog for the next start.
    const s = await setup({ answerDelayMillis: 1500, amplitude: { sending_queue: { drain_timeout: '1s' } } });
    const g1 = await start(s);
    const next = { seq: 0 };
    const term = sleep(2000).then(() => g1.stop());
    const acknowledged = await load(g1, next, { clients: 4, perRequest: 100, stop: term });
    const signalled = Date.now();
    assert.equal(await term, 0, g1.output());
    assert.ok(Date.now() - signalled < 20_000);
    const before = missing(amplitudeArrivals(s.amplitude), acknowledged).length;
    assert.ok(before > 0, 'the slow destination had not taken everything by the shutdown deadline');

    const g2 = await start(s);
    await until(
      () => missing(fileArrivals(s.file), acknowledged).length === 0 && missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
      120_000,
      () => `${missing(fileArrivals(s.file), acknowledged).length} events in the file and ${missing(amplitudeArrivals(s.amplitude), acknowledged).length} in Amplitude of ${acknowledged.length} acknowledged`,
    );
    assert.equal(await g2.stop(), 0, g2.output());
    // Sent again after the restart: at most the requests in flight when the shutdown deadline passed.
    assert.ok(s.amplitude.duplicates <= AMPLITUDE_BOUND_PER_KILL, `${s.amplitude.duplicates} duplicates`);
    t.diagnostic(`${acknowledged.length} acknowledged, ${before} left for after the restart: 0 lost, ${s.amplitude.duplicates} sent again`);
  });
});

/**
 * What a crash may send again, per kill and exporter (src/delivery/README.md): what its 10 queue
 * consumers had in flight. Amplitude records each accepted request, so at most one request of
 * 2000 events each; the file exporter writes a batch at once: at most a batch each, 8192 events
 * and the rest of the request that completed it.
 */
const AMPLITUDE_BOUND_PER_KILL = 10 * 2000;
const FILE_BOUND_PER_KILL = 10 * (8192 + 100);
