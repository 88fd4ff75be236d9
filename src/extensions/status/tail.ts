/**
 * The live tail: recent events of each `events` pipeline as its exporters get them, i.e. after
 * every processor (`privacy` included). A bounded ring buffer per pipeline, filled only while at
 * least one client watches (the gateway's pipeline observer is registered for the first watcher and
 * removed with the last), and a push to each watcher at most every {@link FLUSH_MILLIS}, capped per
 * second; what a slow or capped watcher misses is reported as skipped, never queued without bound.
 *
 * Pipelines without a `privacy` processor show only what cannot be personal data (event name,
 * time, insert_id, the structural context, property keys) unless `tail::show_values_without_privacy`.
 */
import type { Payload, PipelineObserver } from '../../component.js';
import type { AnalyticsEvent } from '../../event.js';
import type { JsonValue } from '../../pdata.js';

export const FLUSH_MILLIS = 250;
/** What replaces a value the tail does not show. */
export const HIDDEN = '[hidden: no privacy processor in this pipeline]';
/** Context keys shown even without privacy: set by the gateway from ids, rules and the resource. */
const SAFE_CONTEXT = ['source', 'rule', 'trace_id', 'span_id', 'service.name', 'service.version', 'deployment.environment'];

export interface TailItem {
  /** Order of arrival, across pipelines. */
  seq: number;
  /** Number of the event within its pipeline since the tail became active. */
  n: number;
  pipeline: string;
  event: AnalyticsEvent;
  /** With several workers (`service::workers` > 1): the worker whose pipeline the event passed. */
  worker?: number;
}

export interface TailFilter {
  /** Pipeline id; undefined: every events pipeline. */
  pipeline?: string;
  /** Glob on the event name (`*` any run, `?` one character), case-sensitive; undefined: all. */
  name?: string;
}

/** What a watcher is sent: new events, or how many it missed. */
export type TailMessage = { type: 'events'; items: TailItem[] } | { type: 'skipped'; count: number };

/** What the status page's `/api/tail` reads: an {@link EventTail}, or the tails of every worker merged. */
export interface TailSource {
  /** Events pipelines that can be watched. */
  readonly pipelines: string[];
  /** Sends what matches `f` to `send` (the buffered events first) until the returned function is called. */
  watch(f: TailFilter, send: (m: TailMessage) => void): () => void;
}

/** Compiles a glob (`*`, `?`) to an anchored RegExp. */
export function globRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

function matcher(f: TailFilter): (item: TailItem) => boolean {
  const name = f.name ? globRegExp(f.name) : undefined;
  return (i) => (f.pipeline === undefined || i.pipeline === f.pipeline) && (name === undefined || name.test(i.event.name));
}

/** The event with every value that could be personal data replaced by {@link HIDDEN}. */
export function hideValues(e: AnalyticsEvent): AnalyticsEvent {
  const hide = (o: { [k: string]: JsonValue } | undefined) => (o ? Object.fromEntries(Object.keys(o).map((k) => [k, HIDDEN])) : undefined);
  const context: AnalyticsEvent['context'] = { source: e.context.source };
  for (const k of SAFE_CONTEXT) if (e.context[k] !== undefined) context[k] = e.context[k];
  const out: AnalyticsEvent = { name: e.name, time_unix_nano: e.time_unix_nano, insert_id: e.insert_id, properties: hide(e.properties)!, context };
  if (e.user_id !== undefined) out.user_id = HIDDEN;
  if (e.device_id !== undefined) out.device_id = HIDDEN;
  if (e.session_id !== undefined) out.session_id = HIDDEN;
  if (e.user_properties) out.user_properties = hide(e.user_properties)!;
  if (e.category !== undefined) out.category = e.category;
  if (e.privacy_level !== undefined) out.privacy_level = e.privacy_level;
  if (e.consent) out.consent = { ...e.consent };
  return out;
}

interface Watcher {
  filter: TailFilter;
  match: (i: TailItem) => boolean;
  send: (m: TailMessage) => void;
  /** Per pipeline: how many of its events the watcher has looked at. */
  cursors: Map<string, number>;
  /** Events still allowed in the current second, and when that second started. */
  budget: number;
  budgetStart: number;
}

export interface EventTailOptions {
  /** Events kept per pipeline. */
  bufferSize: number;
  /** Most events pushed to one watcher per second; more are reported as skipped. */
  maxEventsPerSecond: number;
  /** Pipelines (events) and whether each runs a privacy processor. */
  pipelines: ReadonlyMap<string, { privacy: boolean }>;
  showValuesWithoutPrivacy: boolean;
  /** Registers the observer with the gateway; returns the function that removes it. */
  observe(o: PipelineObserver): () => void;
  now?: () => number;
}

interface Ring {
  privacy: boolean;
  items: TailItem[];
  /** Events of this pipeline seen since the tail became active (also those not copied). */
  seen: number;
}

export class EventTail implements TailSource {
  private readonly rings = new Map<string, Ring>();
  private seq = 0;
  private readonly watchers = new Set<Watcher>();
  private unobserve: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: EventTailOptions) {
    for (const [p, { privacy }] of opts.pipelines) this.rings.set(p, { privacy, items: [], seen: 0 });
    this.now = opts.now ?? Date.now;
  }

  /** Pipelines the tail can show. */
  get pipelines(): string[] {
    return [...this.rings.keys()];
  }

  /** Whether the gateway currently hands events to the tail. */
  get active(): boolean {
    return this.unobserve !== undefined;
  }

  /** The observer's callback: keeps copies of the newest events (at most the buffer size per batch). */
  take(pipeline: string, p: Payload): void {
    if (p.signal !== 'events') return;
    const ring = this.rings.get(pipeline);
    if (!ring) return;
    const events = p.data;
    const from = Math.max(0, events.length - this.opts.bufferSize);
    ring.seen += from; // older than the buffer: counted, not copied
    for (let i = from; i < events.length; i++) {
      const e = events[i]!;
      const copy = ring.privacy || this.opts.showValuesWithoutPrivacy ? (JSON.parse(JSON.stringify(e)) as AnalyticsEvent) : hideValues(e);
      ring.items.push({ seq: ++this.seq, n: ++ring.seen, pipeline, event: copy });
    }
    if (ring.items.length > this.opts.bufferSize) ring.items.splice(0, ring.items.length - this.opts.bufferSize);
  }

  /** The buffered events matching `f`, oldest first, at most `limit`. */
  recent(f: TailFilter, limit = this.opts.bufferSize): TailItem[] {
    const match = matcher(f);
    const all = [...this.rings.values()].flatMap((r) => r.items).filter(match).sort((a, b) => a.seq - b.seq);
    return all.slice(Math.max(0, all.length - limit));
  }

  /**
   * Starts sending events matching `f` to `send` (first the buffered ones), until the returned
   * function is called. The first watcher turns the gateway's observer on.
   */
  watch(f: TailFilter, send: (m: TailMessage) => void): () => void {
    const cursors = new Map([...this.rings].map(([p, r]) => [p, r.seen]));
    const w: Watcher = { filter: f, match: matcher(f), send, cursors, budget: this.opts.maxEventsPerSecond, budgetStart: this.now() };
    const backlog = this.recent(f);
    if (backlog.length > 0) send({ type: 'events', items: backlog });
    this.watchers.add(w);
    if (!this.unobserve) {
      this.unobserve = this.opts.observe({
        exported: (pipeline, p) => {
          try {
            this.take(pipeline, p);
          } catch {
            // A tail must never disturb the pipeline.
          }
        },
      });
    }
    if (!this.timer) {
      this.timer = setInterval(() => this.flush(), FLUSH_MILLIS);
      this.timer.unref();
    }
    return () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0) this.stop();
    };
  }

  /**
   * Pushes what each watcher has not seen yet, within its per-second budget. Skipped: matching
   * events over the budget, plus (without a name filter) events that left the buffer unseen.
   */
  flush(): void {
    const now = this.now();
    for (const w of this.watchers) {
      if (now - w.budgetStart >= 1000) {
        w.budget = this.opts.maxEventsPerSecond;
        w.budgetStart = now;
      }
      let skipped = 0;
      const fresh: TailItem[] = [];
      for (const [p, ring] of this.rings) {
        if (w.filter.pipeline !== undefined && w.filter.pipeline !== p) continue;
        const cursor = w.cursors.get(p) ?? 0;
        const oldest = ring.items.length > 0 ? ring.items[0]!.n : ring.seen + 1;
        if (w.filter.name === undefined && oldest > cursor + 1) skipped += oldest - cursor - 1;
        for (let i = ring.items.length - 1; i >= 0 && ring.items[i]!.n > cursor; i--) fresh.push(ring.items[i]!);
        w.cursors.set(p, ring.seen);
      }
      fresh.sort((a, b) => a.seq - b.seq);
      const items: TailItem[] = [];
      for (const item of fresh) {
        if (!w.match(item)) continue;
        if (w.budget > 0) {
          items.push(item);
          w.budget--;
        } else skipped++;
      }
      if (skipped > 0) w.send({ type: 'skipped', count: skipped });
      if (items.length > 0) w.send({ type: 'events', items });
    }
  }

  /** Stops watching the gateway (buffers are kept for the next watcher). */
  stop(): void {
    this.unobserve?.();
    this.unobserve = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Ends every watch. */
  close(): void {
    this.watchers.clear();
    this.stop();
  }
}
