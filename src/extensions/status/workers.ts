/**
 * The status page of a gateway of several workers (`service::workers` N > 1).
 *
 * The supervisor (src/supervisor.ts) serves the page on the configured endpoint, with its tls,
 * auth and exposure guard, and answers each API from what every worker has, asked over the
 * cluster's IPC channel ({@link MergedStatus}). Each worker runs the status extension without a
 * server: it keeps its graph stats, tail, catalogues and violations and answers the supervisor
 * ({@link answerSupervisor}).
 *
 * - `/api/graph`: built by the supervisor from the config (every worker runs the same graph);
 *   `ready` when every worker is.
 * - `/api/stats`: each worker's snapshot, summed per node: rates (null only when no worker has
 *   one yet), totals, queue sizes and capacities (with `queue_sizes` by worker); the newest last
 *   error; routes summed; kafka lag rows by partition, held when a worker holds the partition.
 *   Totals (of nodes and routes) do not go down when a worker is forked again: what the worker's
 *   slot had counted before, as last read, is carried over (src/carry_over.ts), and a worker that
 *   does not answer counts with its totals as last read (its rates and queues are left out).
 * - `/api/tail`: the supervisor watches the tail of every ready worker (and of a worker as soon as
 *   it is ready again) and passes their items on as they come, each with `worker` (its index) and
 *   a `seq` of the merged stream; filters are applied by the workers; `tail::max_events_per_second`
 *   caps the merged stream (the rest is reported as skipped). Each worker's buffered events are
 *   sent first, unlimited, as a single gateway does.
 * - `/api/catalogue`: each catalogue processor's snapshots of every worker merged with
 *   `mergeSnapshots` (processors/catalogue): counts summed, types combined, first/last seen min/max.
 * - `/api/violations`: every worker's most recent, merged newest first, totals summed (carried
 *   over as the stats' totals are).
 * - `/api/playground`: run by the supervisor itself (it has the config).
 *
 * A worker that does not answer within {@link ASK_TIMEOUT_MILLIS} (starting, draining, dead) is
 * left out of that answer, but for the totals it had. What a worker counted after the last
 * `/api/stats` (or `/api/violations`) request and before it died is not in the totals.
 */
import { CarryOver, type Counted } from '../../carry_over.js';
import type { GatewayConfig } from '../../config/resolve.js';
import type { CatalogueApiAnswer } from '../../commands/catalogue.js';
import { mergeSnapshots } from '../../../processors/catalogue/recorder.js';
import type { ViolationKind } from '../../../processors/tracking_plan/plan.js';
import type { StatusConfig } from './config.js';
import type { PipelineGraph } from './graph.js';
import type { ViolationsAnswer } from './server.js';
import { COUNTER_FIELDS, type CounterField, type KafkaLagRow, type NodeStats, type StatsSnapshot } from './stats.js';
import type { TailFilter, TailItem, TailMessage, TailSource } from './tail.js';

/** How long the supervisor waits for a worker's answer. */
export const ASK_TIMEOUT_MILLIS = 2000;

/** What the supervisor asks a worker's status extension. */
export type StatusRequest = { kind: 'stats' } | { kind: 'catalogue' } | { kind: 'violations'; limit: number };

/** Supervisor → worker. */
export type StatusToWorker =
  | { otelytics: 'status'; id: number; request: StatusRequest }
  | { otelytics: 'tail'; watch: number; filter: TailFilter }
  | { otelytics: 'tail-stop'; watch: number };

/** Worker → supervisor. `backlog`: the tail's buffered events, sent as the watch starts. */
export type StatusFromWorker = { otelytics: 'status'; id: number; answer: unknown } | { otelytics: 'tail'; watch: number; message: TailMessage; backlog?: true };

/** What a worker's status extension has of its own. */
export interface LocalStatus {
  stats: { snapshot(): Promise<StatsSnapshot> };
  tail: TailSource;
  catalogues(): CatalogueApiAnswer;
  violations?: (limit: number) => ViolationsAnswer;
}

/**
 * A worker's side: answers the supervisor's requests on the process's IPC channel, until the
 * returned function is called (it also ends the tails it watches).
 */
export function answerSupervisor(local: LocalStatus, channel: NodeJS.Process = process): () => void {
  const watches = new Map<number, () => void>();
  const tell = (m: StatusFromWorker) => {
    if (!channel.connected || !channel.send) return;
    try {
      channel.send(m, undefined, {}, () => undefined);
    } catch {
      /* the supervisor is gone */
    }
  };
  const answer = async (r: StatusRequest): Promise<unknown> => {
    switch (r.kind) {
      case 'stats':
        return local.stats.snapshot();
      case 'catalogue':
        return local.catalogues();
      case 'violations':
        return local.violations?.(r.limit) ?? null;
    }
  };
  const onMessage = (m: StatusToWorker) => {
    if (!m || typeof m !== 'object') return;
    switch (m.otelytics) {
      case 'status':
        answer(m.request).then(
          (a) => tell({ otelytics: 'status', id: m.id, answer: a }),
          () => tell({ otelytics: 'status', id: m.id, answer: null }),
        );
        break;
      case 'tail': {
        watches.get(m.watch)?.();
        let backlog = true;
        const stop = local.tail.watch(m.filter, (message) => tell({ otelytics: 'tail', watch: m.watch, message, ...(backlog ? { backlog: true as const } : {}) }));
        backlog = false;
        watches.set(m.watch, stop);
        break;
      }
      case 'tail-stop':
        watches.get(m.watch)?.();
        watches.delete(m.watch);
        break;
    }
  };
  channel.on('message', onMessage);
  return () => {
    channel.off('message', onMessage);
    for (const stop of watches.values()) stop();
    watches.clear();
  };
}

/** Sums the stats snapshots of several workers over the graph's nodes (see the module's doc). */
export function mergeStats(nodeIds: readonly string[], parts: readonly { worker: number; snapshot: StatsSnapshot }[], now: number = Date.now()): StatsSnapshot {
  const nodes: Record<string, NodeStats> = {};
  const addRate = (a: number | null, b: number | null | undefined) => (b === null || b === undefined ? a : (a ?? 0) + b);
  for (const id of nodeIds) {
    const rates = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, null])) as NodeStats['rates'];
    const totals = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, 0])) as NodeStats['totals'];
    const out: NodeStats = { rates, totals };
    const lag = new Map<string, KafkaLagRow>();
    for (const { worker, snapshot } of parts) {
      const n = snapshot.nodes[id];
      if (!n) continue;
      for (const f of COUNTER_FIELDS) {
        rates[f] = addRate(rates[f], n.rates[f]);
        totals[f] += n.totals[f] ?? 0;
      }
      if (n.queue_size !== undefined) {
        out.queue_size = (out.queue_size ?? 0) + n.queue_size;
        (out.queue_sizes ??= {})[String(worker)] = n.queue_size;
      }
      if (n.queue_capacity !== undefined) out.queue_capacity = (out.queue_capacity ?? 0) + n.queue_capacity;
      if (n.last_error && (!out.last_error || n.last_error.time > out.last_error.time)) out.last_error = n.last_error;
      for (const [route, r] of Object.entries(n.routes ?? {})) {
        const acc = ((out.routes ??= {})[route] ??= { rate: null, total: 0 });
        acc.rate = addRate(acc.rate, r.rate);
        acc.total += r.total;
      }
      for (const row of n.kafka_lag ?? []) {
        const key = `${row.group}\0${row.topic}\0${row.partition}`;
        const had = lag.get(key);
        // The member holding the partition reads its lag; others may have an older reading.
        if (!had || (row.held && !had.held) || (row.held === had.held && row.lag > had.lag)) lag.set(key, { ...row });
      }
    }
    if (lag.size > 0) out.kafka_lag = [...lag.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    nodes[id] = out;
  }
  const window = Math.max(0, ...parts.map((p) => p.snapshot.window_seconds));
  return { time: new Date(now).toISOString(), window_seconds: window, nodes };
}

/** A worker's stats totals by key, `<node>\0<field>` and `<node>\0route:<route>`, to carry over. */
export function statsTotals(snapshot: StatsSnapshot): Map<string, Counted> {
  const out = new Map<string, Counted>();
  for (const [id, n] of Object.entries(snapshot.nodes)) {
    for (const f of COUNTER_FIELDS) out.set(`${id}\0${f}`, { value: n.totals[f] ?? 0 });
    for (const [route, r] of Object.entries(n.routes ?? {})) out.set(`${id}\0route:${route}`, { value: r.total });
  }
  return out;
}

/**
 * `snapshot` with the totals of {@link statsTotals}'s keys replaced by `totals`; without a snapshot
 * (a worker that did not answer), the totals alone, without rates.
 */
export function withTotals(snapshot: StatsSnapshot | undefined, totals: ReadonlyMap<string, Counted>): StatsSnapshot {
  const nodes: Record<string, NodeStats> = {};
  for (const [id, n] of Object.entries(snapshot?.nodes ?? {})) nodes[id] = { ...n, totals: { ...n.totals }, ...(n.routes ? { routes: { ...n.routes } } : {}) };
  for (const [key, { value }] of totals) {
    const cut = key.indexOf('\0');
    const id = key.slice(0, cut);
    const field = key.slice(cut + 1);
    const n = (nodes[id] ??= {
      rates: Object.fromEntries(COUNTER_FIELDS.map((f) => [f, null])) as NodeStats['rates'],
      totals: Object.fromEntries(COUNTER_FIELDS.map((f) => [f, 0])) as NodeStats['totals'],
    });
    if (field.startsWith('route:')) {
      const routes = (n.routes ??= {});
      const route = field.slice('route:'.length);
      routes[route] = { rate: routes[route]?.rate ?? null, total: value };
    } else n.totals[field as CounterField] = value;
  }
  return { time: snapshot?.time ?? '', window_seconds: snapshot?.window_seconds ?? 0, nodes };
}

/** Merges the catalogue answers of several workers: per catalogue processor, their snapshots as one. */
export function mergeCatalogues(answers: readonly CatalogueApiAnswer[], now: number = Date.now()): CatalogueApiAnswer {
  const byId = new Map<string, CatalogueApiAnswer['catalogues']>();
  for (const a of answers) {
    for (const c of a.catalogues) {
      let list = byId.get(c.id);
      if (!list) byId.set(c.id, (list = []));
      list.push(c);
    }
  }
  return {
    catalogues: [...byId.entries()].map(([id, list]) => ({
      id,
      pipelines: [...new Set(list.flatMap((c) => c.pipelines))],
      catalogue: list.length === 1 ? list[0]!.catalogue : mergeSnapshots(list.map((c) => c.catalogue), now),
    })),
  };
}

/** Merges the violations of several workers: the `limit` newest, totals summed per kind. */
export function mergeViolations(answers: readonly ViolationsAnswer[], limit: number): ViolationsAnswer {
  const totals = {} as Record<ViolationKind, number>;
  for (const a of answers) for (const [k, v] of Object.entries(a.totals) as [ViolationKind, number][]) totals[k] = (totals[k] ?? 0) + v;
  const items = answers.flatMap((a) => a.items).sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  return { items: items.slice(0, limit), totals };
}

/** How the supervisor reaches its workers. */
export interface WorkerLink {
  /** Indices of the workers that answer (ready or draining). */
  answering(): number[];
  /** Which of the workers of slot `index` is there (counts its forks): what is asked now is answered by it. */
  incarnation(index: number): number;
  /** Asks worker `index`; undefined when it does not answer within {@link ASK_TIMEOUT_MILLIS}. */
  ask(index: number, request: StatusRequest): Promise<unknown>;
  /** Sends `m` to worker `index` if it is there. */
  send(index: number, m: StatusToWorker): void;
}

interface MergedWatcher {
  filter: TailFilter;
  send: (m: TailMessage) => void;
  budget: number;
  budgetStart: number;
}

/** The tails of every worker as one stream, within `tail::max_events_per_second`. */
export class MergedTail implements TailSource {
  private nextWatch = 1;
  private seq = 0;
  private readonly watchers = new Map<number, MergedWatcher>();

  constructor(
    readonly pipelines: string[],
    private readonly maxEventsPerSecond: number,
    private readonly link: Pick<WorkerLink, 'answering' | 'send'>,
    private readonly now: () => number = Date.now,
  ) {}

  watch(filter: TailFilter, send: (m: TailMessage) => void): () => void {
    const id = this.nextWatch++;
    this.watchers.set(id, { filter, send, budget: this.maxEventsPerSecond, budgetStart: this.now() });
    for (const w of this.link.answering()) this.link.send(w, { otelytics: 'tail', watch: id, filter });
    return () => {
      if (!this.watchers.delete(id)) return;
      for (const w of this.link.answering()) this.link.send(w, { otelytics: 'tail-stop', watch: id });
    };
  }

  /** A worker (forked again, or ready for the first time) now answers: it gets every current watch. */
  workerReady(worker: number): void {
    for (const [id, w] of this.watchers) this.link.send(worker, { otelytics: 'tail', watch: id, filter: w.filter });
  }

  /** What a worker's tail sent for one watch. */
  take(worker: number, m: Extract<StatusFromWorker, { otelytics: 'tail' }>): void {
    const w = this.watchers.get(m.watch);
    if (!w) return;
    if (m.message.type === 'skipped') return w.send(m.message);
    const now = this.now();
    if (now - w.budgetStart >= 1000) {
      w.budget = this.maxEventsPerSecond;
      w.budgetStart = now;
    }
    const items: TailItem[] = [];
    let skipped = 0;
    for (const item of m.message.items) {
      if (!m.backlog) {
        if (w.budget <= 0) {
          skipped++;
          continue;
        }
        w.budget--;
      }
      items.push({ ...item, seq: ++this.seq, worker });
    }
    if (skipped > 0) w.send({ type: 'skipped', count: skipped });
    if (items.length > 0) w.send({ type: 'events', items });
  }

  /** Ends every watch. */
  close(): void {
    for (const id of [...this.watchers.keys()]) {
      this.watchers.delete(id);
      for (const w of this.link.answering()) this.link.send(w, { otelytics: 'tail-stop', watch: id });
    }
  }
}

/** The answers of the status page's APIs, from every worker (the supervisor's side). */
export class MergedStatus {
  readonly tail: MergedTail;
  private readonly statsCarry = new CarryOver<Counted>();
  private readonly violationsCarry = new CarryOver<Counted>();

  constructor(
    private readonly graph: PipelineGraph,
    cfg: StatusConfig,
    private readonly link: WorkerLink,
  ) {
    const events = graph.lanes.filter((l) => l.signal === 'events').map((l) => l.pipeline);
    this.tail = new MergedTail(events, cfg.tail.max_events_per_second, link);
  }

  /** Every answering worker's answer to `request`, with its index and incarnation; those that do not answer are left out. */
  private async askAll<T>(request: StatusRequest): Promise<{ worker: number; incarnation: number; answer: T }[]> {
    const got = await Promise.all(
      this.link.answering().map(async (worker) => {
        const incarnation = this.link.incarnation(worker);
        return { worker, incarnation, answer: (await this.link.ask(worker, request)) as T | null | undefined };
      }),
    );
    return got.filter((g): g is { worker: number; incarnation: number; answer: T } => g.answer !== undefined && g.answer !== null);
  }

  async stats(): Promise<StatsSnapshot> {
    const parts = await this.askAll<StatsSnapshot>({ kind: 'stats' });
    const totals = this.statsCarry.readAll(parts.map((p) => ({ slot: p.worker, incarnation: p.incarnation, reading: statsTotals(p.answer) })));
    const answers = new Map(parts.map((p) => [p.worker, p.answer]));
    return mergeStats(
      this.graph.nodes.map((n) => n.id),
      [...totals].map(([worker, t]) => ({ worker, snapshot: withTotals(answers.get(worker), t) })),
    );
  }

  async catalogues(): Promise<CatalogueApiAnswer> {
    return mergeCatalogues((await this.askAll<CatalogueApiAnswer>({ kind: 'catalogue' })).map((p) => p.answer));
  }

  async violations(limit: number): Promise<ViolationsAnswer> {
    const parts = await this.askAll<ViolationsAnswer>({ kind: 'violations', limit });
    const totals = this.violationsCarry.readAll(parts.map((p) => ({ slot: p.worker, incarnation: p.incarnation, reading: new Map(Object.entries(p.answer.totals).map(([kind, n]) => [kind, { value: n }])) })));
    const items = new Map(parts.map((p) => [p.worker, p.answer.items]));
    const answers = [...totals].map(([worker, t]) => ({ items: items.get(worker) ?? [], totals: Object.fromEntries([...t].map(([kind, c]) => [kind, c.value])) as ViolationsAnswer['totals'] }));
    return mergeViolations(answers, limit);
  }
}

/** Whether a pipeline of `config` runs a processor of `type` (`catalogue`, `tracking_plan`): what the status page offers. */
export function runsProcessor(config: GatewayConfig, type: string): boolean {
  return config.pipelines.some((p) => p.processors.some((id) => config.processors.get(id)?.factory.type === type));
}
