/**
 * The status page of a gateway of two workers, served by the supervisor from what both have:
 * - the merges alone (stats summed per node, violations newest first, catalogues, the merged tail
 *   within its rate limit);
 * - config.example.yaml with a `catalogue` processor and `service::workers: 2`, the shop captures
 *   posted on connections of their own (spread over both workers): `/api/stats` counts everything
 *   sent, the tail streams the events of both workers (each tagged with its worker), the catalogue
 *   counts every event, and `otelytics tail` reads the merged stream.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, fixtureManifest, readFixture, startGateway, type RunningGateway } from '../../helpers.js';
import type { CatalogueApiAnswer } from '../../../src/commands/catalogue.js';
import type { GraphNode } from '../../../src/extensions/status/graph.js';
import type { StatsSnapshot } from '../../../src/extensions/status/stats.js';
import type { TailItem, TailMessage } from '../../../src/extensions/status/tail.js';
import { MergedTail, mergeStats, mergeViolations, type StatusToWorker } from '../../../src/extensions/status/workers.js';
import { ensureStatusAssets, readSse } from './helpers.js';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const zero = { in: 0, out: 0, refused: 0, dropped: 0, dead_lettered: 0, failed: 0, retries: 0 };
const nulls = { in: null, out: null, refused: null, dropped: null, dead_lettered: null, failed: null, retries: null };

describe('merging what the workers answer', () => {
  it('stats: rates and totals summed per node, queues summed with each worker\'s, the newest last error, kafka lag by partition', () => {
    const a: StatsSnapshot = {
      time: '',
      window_seconds: 4,
      nodes: {
        n0: { rates: { ...nulls, in: 10, out: 10 }, totals: { ...zero, in: 100, out: 100 } },
        n1: {
          rates: { ...nulls },
          totals: { ...zero, out: 7 },
          queue_size: 3,
          queue_capacity: 500,
          last_error: { time: '2026-01-01T00:00:01.000Z', pipeline: 'events', message: 'old' },
          kafka_lag: [{ group: 'g', topic: 't', partition: 0, lag: 5, held: true }],
        },
      },
    };
    const b: StatsSnapshot = {
      time: '',
      window_seconds: 5,
      nodes: {
        n0: { rates: { ...nulls, in: 5, out: 4 }, totals: { ...zero, in: 50, out: 40, refused: 10 } },
        n1: {
          rates: { ...nulls, out: 2 },
          totals: { ...zero, out: 3 },
          queue_size: 4,
          queue_capacity: 500,
          last_error: { time: '2026-01-01T00:00:02.000Z', pipeline: 'events', message: 'new' },
          kafka_lag: [
            { group: 'g', topic: 't', partition: 0, lag: 9, held: false },
            { group: 'g', topic: 't', partition: 1, lag: 2, held: true },
          ],
        },
      },
    };
    const m = mergeStats(['n0', 'n1', 'n2'], [{ worker: 0, snapshot: a }, { worker: 1, snapshot: b }], Date.parse('2026-01-01T00:00:03Z'));
    assert.equal(m.window_seconds, 5);
    assert.deepEqual(m.nodes.n0!.totals, { ...zero, in: 150, out: 140, refused: 10 });
    assert.deepEqual(m.nodes.n0!.rates, { ...nulls, in: 15, out: 14 });
    assert.deepEqual(m.nodes.n1!.rates, { ...nulls, out: 2 }, 'null only where no worker has a rate');
    assert.equal(m.nodes.n1!.queue_size, 7);
    assert.deepEqual(m.nodes.n1!.queue_sizes, { 0: 3, 1: 4 });
    assert.equal(m.nodes.n1!.queue_capacity, 1000);
    assert.equal(m.nodes.n1!.last_error!.message, 'new');
    assert.deepEqual(m.nodes.n1!.kafka_lag, [
      { group: 'g', topic: 't', partition: 0, lag: 5, held: true },
      { group: 'g', topic: 't', partition: 1, lag: 2, held: true },
    ]);
    assert.deepEqual(m.nodes.n2, { rates: nulls, totals: zero }, 'a node no worker reported');
  });

  it('violations: the newest first within the limit, totals summed', () => {
    const v = (time: string, insert_id: string) => ({ time, processor: 'tracking_plan', pipeline: 'events', event_name: 'e', insert_id, outcome: 'kept' as const, violations: [] });
    const totals = (n: number) => ({ unplanned_event: n, required_missing: 0, datatype_mismatch: 1, additional_property: 0, value_out_of_range: 0 });
    const m = mergeViolations(
      [
        { items: [v('2026-01-01T00:00:03.000Z', 'a3'), v('2026-01-01T00:00:01.000Z', 'a1')], totals: totals(2) },
        { items: [v('2026-01-01T00:00:02.000Z', 'b2')], totals: totals(1) },
      ],
      2,
    );
    assert.deepEqual(
      m.items.map((i) => i.insert_id),
      ['a3', 'b2'],
    );
    assert.equal(m.totals.unplanned_event, 3);
    assert.equal(m.totals.datatype_mismatch, 2);
  });

  it('tail: every answering worker watches, items tagged with their worker, max_events_per_second over the merged stream, a worker ready again gets the watch', () => {
    const sent: { worker: number; m: StatusToWorker }[] = [];
    let answering = [0, 1];
    let now = 0;
    const tail = new MergedTail(['events'], 50, { answering: () => answering, send: (worker, m) => sent.push({ worker, m }) }, () => now);
    const got: TailMessage[] = [];
    const stop = tail.watch({ name: 'view_*' }, (m) => got.push(m));
    assert.deepEqual(
      sent.map((s) => [s.worker, s.m]),
      [
        [0, { otelytics: 'tail', watch: 1, filter: { name: 'view_*' } }],
        [1, { otelytics: 'tail', watch: 1, filter: { name: 'view_*' } }],
      ],
    );
    const items = (k: number, from: number): TailItem[] =>
      Array.from({ length: k }, (_, i) => ({ seq: from + i, n: from + i, pipeline: 'events', event: { name: 'view_item', time_unix_nano: '1', insert_id: `i${from + i}`, properties: {}, context: { source: 'span' } } }));
    // Backlogs are sent whole; then 40 + 40 in one second: 50 shown, 30 skipped.
    tail.take(0, { otelytics: 'tail', watch: 1, message: { type: 'events', items: items(60, 1) }, backlog: true });
    tail.take(0, { otelytics: 'tail', watch: 1, message: { type: 'events', items: items(40, 61) } });
    tail.take(1, { otelytics: 'tail', watch: 1, message: { type: 'events', items: items(40, 1) } });
    tail.take(1, { otelytics: 'tail', watch: 1, message: { type: 'skipped', count: 3 } });
    const shown = got.flatMap((m) => (m.type === 'events' ? m.items : []));
    assert.equal(shown.length, 110);
    assert.deepEqual(new Set(shown.map((i) => i.worker)), new Set([0, 1]));
    assert.deepEqual(
      shown.map((i) => i.seq),
      shown.map((_, i) => i + 1),
      'seq numbers the merged stream',
    );
    assert.equal(got.reduce((n, m) => n + (m.type === 'skipped' ? m.count : 0), 0), 33);
    // The next second has a budget again.
    now += 1000;
    tail.take(1, { otelytics: 'tail', watch: 1, message: { type: 'events', items: items(5, 41) } });
    const last = got.at(-1)!;
    assert.equal(last.type === 'events' ? last.items.length : 0, 5);
    // Worker 1 forked again: it gets the watch when ready.
    answering = [0];
    sent.length = 0;
    tail.workerReady(1);
    assert.deepEqual(sent, [{ worker: 1, m: { otelytics: 'tail', watch: 1, filter: { name: 'view_*' } } }]);
    sent.length = 0;
    const messages = got.length;
    stop();
    assert.deepEqual(sent, [{ worker: 0, m: { otelytics: 'tail-stop', watch: 1 } }]);
    tail.take(0, { otelytics: 'tail', watch: 1, message: { type: 'events', items: items(1, 200) } });
    assert.equal(got.length, messages, 'nothing after the watch ended');
  });
});

/** One OTLP/HTTP request on a connection of its own (the cluster hands each new connection to the next worker). */
function postOnNewConnection(port: number, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

describe('service::workers: 2, the status page', { timeout: 60_000 }, () => {
  let gw: RunningGateway | undefined;
  after(async () => {
    if (gw && gw.child.exitCode === null) await gw.stop('SIGKILL');
  });

  it('sees the data of both workers: stats totals, the tail of each, the catalogue; otelytics tail reads it', async () => {
    ensureStatusAssets();
    const shop = fixtureManifest().filter((f) => f.capture.includes('shop-01') && f.contentType === 'application/x-protobuf' && f.contentEncoding === 'identity');
    assert.equal(shop.length, 2);
    const dir = fs.mkdtempSync(`${process.env.TMPDIR ?? '/tmp'}/otelytics-status-workers-`);
    const eventsFile = `${dir}/events.jsonl`;
    gw = await startGateway({
      workers: 2,
      dir,
      sets: [`exporters::file::path=${eventsFile}`, 'exporters::debug::verbosity=basic', 'processors::catalogue::sample_properties=[search_term]',
        // Every event in the tail (the cap over the merged stream is the unit test's above).
        'extensions::status::tail::max_events_per_second=10000',
        'service::pipelines::events::processors=[memory_limiter,analytics,privacy,catalogue,filter,batch]'],
    });
    const base = `http://127.0.0.1:${gw.ports.status}`;
    const graph = (await (await fetch(`${base}/api/graph`)).json()) as { ready: boolean; graph: { nodes: GraphNode[] }; tail: { pipelines: string[] } };
    assert.equal(graph.ready, true);
    assert.deepEqual(graph.tail.pipelines, ['events']);
    const node = (kind: string, component: string) => graph.graph.nodes.find((n) => n.kind === kind && n.component === component)!.id;

    // A watcher of the merged tail and `otelytics tail` from before the data comes.
    const both = (events: { type: string; data: any }[]) => new Set(events.flatMap((e) => (e.type === 'message' ? e.data.items.map((i: { worker: number }) => i.worker) : []))).size === 2;
    const watching = readSse(`${base}/api/tail`, both, 20_000);
    const cli = exec(process.execPath, [cliPath, 'tail', '--endpoint', base, '--json', '--name', 'view_*', '--limit', '2'], { timeout: 20_000 });
    await sleep(1000);

    // Each capture twice in a row: with the connections handed out in turn, each worker gets both signals.
    let spans = 0;
    let logs = 0;
    for (let i = 0; i < 4; i++) {
      for (const f of [shop[0]!, shop[0]!, shop[1]!, shop[1]!]) {
        assert.equal(await postOnNewConnection(gw.ports.http, f.otlpPath, readFixture(f.path)), 200);
        spans += f.spanCount ?? 0;
        logs += f.logCount ?? 0;
      }
    }
    assert.ok(spans > 0 && logs > 0);

    const tailed = await watching;
    const workers = new Set(tailed.flatMap((e) => (e.type === 'message' ? e.data.items.map((i: { worker: number }) => i.worker) : [])));
    const byWorker = (w: number) => tailed.flatMap((e) => (e.type === 'message' ? e.data.items.filter((i: { worker: number }) => i.worker === w) : [])).length;
    assert.deepEqual([...workers].sort(), [0, 1], `tail items of worker 0: ${byWorker(0)}, of worker 1: ${byWorker(1)}; skipped: ${tailed.filter((e) => e.type === 'skipped').length}`);
    const { stdout } = await cli;
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { pipeline: string; event: { name: string } });
    assert.equal(lines.length, 2);
    for (const l of lines) assert.match(l.event.name, /^view_/);

    // Everything sent is in the file; the stats count all of it.
    const fileLines = () => (fs.existsSync(eventsFile) ? fs.readFileSync(eventsFile, 'utf8').split('\n').filter(Boolean).length : 0);
    let stats: StatsSnapshot | undefined;
    const deadline = Date.now() + 15_000;
    for (;;) {
      stats = (await (await fetch(`${base}/api/stats`)).json()) as StatsSnapshot;
      const file = stats.nodes[node('exporter', 'file')]!.totals.out;
      if (file > 0 && file === fileLines() && stats.nodes[node('receiver', 'otlp')]!.totals.out === spans + logs) break;
      if (Date.now() > deadline) assert.fail(`stats ${JSON.stringify(stats.nodes[node('exporter', 'file')])} against ${fileLines()} lines in the file, ${spans + logs} spans and log records sent`);
      await sleep(200);
    }
    assert.equal(stats.nodes[node('receiver', 'otlp')]!.totals.in, spans + logs);
    assert.equal(stats.nodes[node('exporter', 'file')]!.totals.in, fileLines(), 'events handed to the file exporter by both workers');

    // Every worker's catalogue in one: as many events as the catalogue processors of both took.
    const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
    const into = Number(/^otelcol_processor_incoming_items\{processor="catalogue",pipeline="events"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(into > 0, metrics);
    assert.equal(stats.nodes[node('processor', 'catalogue')]!.totals.in, into);
    const catalogue = (await (await fetch(`${base}/api/catalogue`)).json()) as CatalogueApiAnswer;
    assert.equal(catalogue.catalogues.length, 1);
    assert.equal(
      catalogue.catalogues[0]!.catalogue.events.reduce((n, e) => n + e.count, 0),
      into,
    );
    const accepted = (w: number, what: string) => Number(new RegExp(`^otelcol_receiver_accepted_${what}\\{receiver="otlp",transport="http",worker="${w}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    const perWorker = [0, 1].map((w) => accepted(w, 'spans') + accepted(w, 'log_records'));
    assert.ok(perWorker.every((n) => n > 0 && n < spans + logs), `spans and log records per worker: ${perWorker.join(', ')}`);

    // Workers bind no status port of their own: the supervisor's answers, the playground too.
    assert.equal((await fetch(`${base}/api/playground`)).status, 200);
    assert.equal(await gw.stop(), 0, gw.output());
  });
});
