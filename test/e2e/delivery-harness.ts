/**
 * The set-up behind the delivery fault tests (`acknowledged.test.ts`) and the soak run
 * (`npm run soak`): config.example.yaml's events pipeline as it is (memory_limiter, analytics,
 * privacy, filter, batch) ending in the `file` exporter and the `amplitude` exporter (against the
 * local Amplitude stand-in), both with a persistent sending queue; clients posting log events
 * numbered by a `seq` attribute; and the count of what arrived where, by seq.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeAmplitude } from '../fakes/amplitude-server.js';
import { readJsonLines, startGateway, type RunningGateway } from '../helpers.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface DeliverySetup {
  dir: string;
  amplitude: FakeAmplitude;
  /** Where the file exporter writes. */
  file: string;
  /** The `--set` overrides of config.example.yaml. */
  sets: string[];
  env: NodeJS.ProcessEnv;
  /** Starts a gateway on the set-up (files and queues are kept across starts), of `workers` processes (default 1). */
  start(workers?: number): Promise<RunningGateway>;
  /** Kills what is still running, stops the stand-in, removes the directory. */
  close(): Promise<void>;
}

/**
 * config.example.yaml's events pipeline ending in `file` (unless `file: false`) and `amplitude`,
 * each with a persistent sending queue under `<dir>/queue`. `amplitude` adds keys to the amplitude
 * exporter's config (its `sending_queue` keys are merged); `answerDelayMillis` makes the stand-in slow.
 */
export async function deliverySetup(opts: { amplitude?: Record<string, unknown>; answerDelayMillis?: number; file?: boolean } = {}): Promise<DeliverySetup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-delivery-'));
  const amplitude = await new FakeAmplitude({ answerDelayMillis: opts.answerDelayMillis }).start();
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
  const env = { OTELYTICS_PSEUDONYM_KEY: randomBytes(32).toString('base64') };
  const running: RunningGateway[] = [];
  return {
    dir,
    amplitude,
    file,
    sets,
    env,
    async start(workers?: number) {
      const g = await startGateway({ sets, env, ...(workers !== undefined ? { workers } : {}) });
      running.push(g);
      return g;
    },
    async close() {
      for (const g of running) if (g.child.exitCode === null) g.child.kill('SIGKILL');
      await amplitude.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An OTLP/JSON logs request: one `order.placed` event per seq, each with its `seq` attribute. */
export function logsBody(seqs: readonly number[]): string {
  const logRecords = seqs.map((seq) => ({
    timeUnixNano: String(1_790_000_000_000_000_000n + BigInt(seq) * 1000n),
    eventName: 'order.placed',
    attributes: [{ key: 'seq', value: { intValue: String(seq) } }],
  }));
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] }, scopeLogs: [{ scope: {}, logRecords }] }] });
}

/** The status of one POST, 0 when the connection failed (not acknowledged). */
export async function post(g: RunningGateway, seqs: readonly number[]): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${g.ports.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsBody(seqs), signal: AbortSignal.timeout(20_000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/** Numbers events across gateway runs; counts what was posted. */
export interface Sequence {
  seq: number;
  sent: number;
}

/**
 * `clients` clients posting `perRequest` events a request until `stop` resolves, the gateway exits,
 * or `total` events were numbered; resolves with the acknowledged seqs (answered 200).
 */
export async function load(g: RunningGateway, next: Sequence, opts: { clients: number; perRequest: number; stop?: Promise<unknown>; total?: number; failures?: number[] }): Promise<number[]> {
  const acknowledged: number[] = [];
  let done = false;
  void opts.stop?.then(() => (done = true));
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      while (!done && (opts.total === undefined || next.seq < opts.total)) {
        const seqs = Array.from({ length: opts.perRequest }, (_, i) => next.seq + i);
        next.seq += opts.perRequest;
        next.sent += opts.perRequest;
        const status = await post(g, seqs);
        if (status === 200) acknowledged.push(...seqs);
        else opts.failures?.push(status);
        if (status === 0 && g.child.exitCode !== null) return;
        if (status !== 200) await sleep(50);
      }
    }),
  );
  return acknowledged;
}

/** What arrived at a destination, by seq. */
export interface Arrivals {
  /** seq → times it arrived. */
  count: Map<number, number>;
  /** Arrivals beyond the first of their seq (for Amplitude: repeats it dropped by insert_id). */
  duplicates: number;
}

export function fileArrivals(file: string): Arrivals {
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
export function amplitudeArrivals(a: FakeAmplitude): Arrivals {
  const count = new Map<number, number>();
  for (const { event } of a.ingested.values()) {
    const seq = Number((event.event_properties as { seq: number }).seq);
    count.set(seq, (count.get(seq) ?? 0) + 1);
  }
  return { count, duplicates: a.duplicates };
}

export function missing(a: Arrivals, acknowledged: readonly number[]): number[] {
  return acknowledged.filter((s) => !a.count.has(s));
}

/** Waits until `cond` holds; fails after `ms`, saying what was awaited. */
export async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await sleep(250);
  }
}

/**
 * What a crash may send again, per kill and exporter (src/delivery/README.md): what its 10 queue
 * consumers had in flight. Amplitude records each accepted request, so at most one request of
 * 2000 events each; the file exporter writes a batch at once: at most a batch each, 8192 events
 * and the rest of the request of 100 events that completed it.
 */
export const AMPLITUDE_BOUND_PER_KILL = 10 * 2000;
export const FILE_BOUND_PER_KILL = 10 * (8192 + 100);
