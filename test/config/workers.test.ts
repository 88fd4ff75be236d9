/**
 * `service::workers` in parts: the default (CPUs, capped by a cgroup v2 quota), the config key,
 * the per-worker queue directories and their takeover, the restart back-off, the metrics sums,
 * and what workers share (memory_limiter, catalogue files).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import client from 'prom-client';
import type { Payload } from '../../src/component.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { leftQueueDirectories, PersistentQueue, queueDirectory } from '../../src/delivery/persistent_queue.js';
import { serviceSchema } from '../../src/config/service.js';
import { aggregateWorkerMetrics, restartDelayMillis } from '../../src/supervisor.js';
import { cpusOfQuota, defaultWorkers, GATEWAY_NODE_OPTIONS, workerExecArgv } from '../../src/workers.js';
import { storageFileOf } from '../../processors/catalogue/index.js';
import { MemoryLimiter, memoryLimiterSchema } from '../../processors/memory_limiter/index.js';
import { projectRoot } from '../helpers.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-workers-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const events = (from: number, n: number): Payload => ({
  signal: 'events',
  data: Array.from({ length: n }, (_, i): AnalyticsEvent => ({ name: 'e', time_unix_nano: '1700000000000000000', insert_id: `id-${from + i}`, properties: {}, context: { source: 'log' } })),
});

describe('service::workers', () => {
  it('defaults to the CPUs the process may use, capped by the cgroup v2 quota rounded up', () => {
    assert.equal(cpusOfQuota('max 100000\n'), undefined);
    assert.equal(cpusOfQuota('200000 100000\n'), 2);
    assert.equal(cpusOfQuota('150000 100000'), 2);
    assert.equal(cpusOfQuota('50000 100000'), 1);
    assert.equal(cpusOfQuota('garbage'), undefined);
    assert.equal(defaultWorkers(8, undefined), 8);
    assert.equal(defaultWorkers(8, 2), 2);
    assert.equal(defaultWorkers(2, 4), 2);
    assert.ok(defaultWorkers() >= 1);
  });

  it('forks workers with the supervisor\'s node options and the gateway\'s defaults (2 MiB semi-spaces, heap growth of 30%, one V8 thread, no pretenuring, GC on the main thread) that they do not set', () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps'], ''), ['--enable-source-maps', '--max-semi-space-size=2', '--heap-growing-percent=30', '--v8-pool-size=1', '--no-allocation-site-pretenuring', '--single-threaded-gc']);
    assert.deepEqual(workerExecArgv(['--max-semi-space-size=32'], ''), ['--max-semi-space-size=32', '--heap-growing-percent=30', '--v8-pool-size=1', '--no-allocation-site-pretenuring', '--single-threaded-gc']);
    assert.deepEqual(workerExecArgv([], '--max_semi_space_size=2 --trace-warnings --v8_pool_size=4 --heap_growing_percent=100 --no-single-threaded-gc'), ['--no-allocation-site-pretenuring']);
    assert.deepEqual(workerExecArgv(['--v8-pool-size=2', '--allocation_site_pretenuring'], '--max-old-space-size=512'), ['--v8-pool-size=2', '--allocation_site_pretenuring', '--max-semi-space-size=2', '--heap-growing-percent=30', '--single-threaded-gc']);
  });

  it('are the node options of npm start and of the image', () => {
    const start = (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8'))![1]!;
    for (const option of GATEWAY_NODE_OPTIONS) {
      assert.ok(start.split(' ').includes(option), `npm start passes ${option}`);
      assert.ok((JSON.parse(entrypoint) as string[]).includes(option), `the image's entrypoint passes ${option}`);
    }
  });

  it('is an integer of at least 1, optional', () => {
    assert.equal(serviceSchema.parse({ pipelines: {} }).workers, undefined);
    assert.equal(serviceSchema.parse({ pipelines: {}, workers: 3 }).workers, 3);
    assert.equal(serviceSchema.safeParse({ pipelines: {}, workers: 0 }).success, false);
    assert.equal(serviceSchema.safeParse({ pipelines: {}, workers: 1.5 }).success, false);
  });

  it('restarts a dead worker after 250 ms, doubling for failures in a row up to 30 s', () => {
    assert.deepEqual([1, 2, 3, 4].map(restartDelayMillis), [250, 500, 1000, 2000]);
    assert.equal(restartDelayMillis(20), 30_000);
  });

  it('sums the workers\' metrics, and keeps a worker label on what each receives, its queue and its process', async () => {
    const of = async (accepted: number, created: number, queue: number) => {
      const r = new client.Registry();
      new client.Counter({ name: 'otelcol_receiver_accepted_spans', help: 'h', labelNames: ['receiver', 'transport'], registers: [r] }).inc({ receiver: 'otlp', transport: 'http' }, accepted);
      new client.Counter({ name: 'otelytics_events_created', help: 'h', labelNames: ['pipeline'], registers: [r] }).inc({ pipeline: 'events' }, created);
      new client.Gauge({ name: 'otelcol_exporter_queue_size', help: 'h', labelNames: ['exporter'], registers: [r] }).set({ exporter: 'file' }, queue);
      return r.getMetricsAsJSON();
    };
    const text = await aggregateWorkerMetrics([
      { index: 0, metrics: await of(10, 4, 1) },
      { index: 1, metrics: await of(20, 6, 2) },
    ]).metrics();
    assert.match(text, /^otelcol_receiver_accepted_spans\{receiver="otlp",transport="http",worker="0"\} 10$/m);
    assert.match(text, /^otelcol_receiver_accepted_spans\{receiver="otlp",transport="http",worker="1"\} 20$/m);
    assert.match(text, /^otelytics_events_created\{pipeline="events"\} 10$/m);
    assert.match(text, /^otelcol_exporter_queue_size\{exporter="file",worker="1"\} 2$/m);
  });

  it('gives worker 0 the single process\'s queue directory, worker i one of its own, and worker i of N the directories of workers i + N, i + 2N, … of a previous run', async () => {
    const storage = tmp();
    assert.equal(queueDirectory(storage, 'kafka/events', 0), path.join(storage, 'kafka_events'));
    assert.equal(queueDirectory(storage, 'kafka/events', 3), path.join(storage, 'worker-3', 'kafka_events'));
    // A run of 4 workers left entries in each queue.
    for (let w = 0; w < 4; w++) {
      const q = new PersistentQueue(100, 'items', 'exporter t', queueDirectory(storage, 'file', w));
      await q.open();
      await q.offer(events(w * 10, 3));
      await q.close();
    }
    assert.deepEqual(leftQueueDirectories(storage, 'file', 0, 4), []);
    assert.deepEqual(leftQueueDirectories(storage, 'file', 1, 2), [queueDirectory(storage, 'file', 3)]);
    assert.deepEqual(leftQueueDirectories(storage, 'file', 0, 2), [queueDirectory(storage, 'file', 2)]);
    // Restarted with one worker: it holds all of them, its own first.
    const one = new PersistentQueue(100, 'items', 'exporter t', queueDirectory(storage, 'file', 0), () => {}, undefined, leftQueueDirectories(storage, 'file', 0, 1));
    assert.equal(await one.open(), 4);
    assert.equal(one.adopted, 3);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const e = (await one.take())!;
      ids.push((e.payload.data as AnalyticsEvent[])[0]!.insert_id);
      await one.ack([e]);
    }
    assert.deepEqual(ids, ['id-0', 'id-10', 'id-20', 'id-30']);
    await one.close();
    for (let w = 1; w < 4; w++) assert.equal(fs.existsSync(queueDirectory(storage, 'file', w)), false);
  });

  it('splits memory_limiter\'s limits between the workers', () => {
    const cfg = memoryLimiterSchema.parse({ limit_mib: 512, spike_limit_mib: 128 });
    let used = 300 * 1024 * 1024;
    const make = (workers: number) =>
      new MemoryLimiter('memory_limiter', 'events', cfg, { consume: async () => undefined }, { warn: () => undefined, info: () => undefined } as never, { processorRefused: () => undefined } as never, {
        readMemory: () => used,
        collectGarbage: () => undefined,
        workers,
      });
    const single = make(1);
    single.check();
    assert.equal(single.refusing, false, '300 MiB is under the soft limit of 384');
    const half = make(2);
    half.check();
    assert.equal(half.refusing, true, '300 MiB is over a worker\'s soft limit of 192');
    used = 100 * 1024 * 1024;
    half.check();
    assert.equal(half.refusing, false);
  });

  it('keeps a catalogue file per worker', () => {
    assert.equal(storageFileOf('/data/catalogue.json', 0), '/data/catalogue.json');
    assert.equal(storageFileOf('/data/catalogue.json', 2), '/data/catalogue-worker-2.json');
  });
});
