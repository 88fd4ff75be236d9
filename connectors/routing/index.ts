/**
 * The `routing` connector: sends each item to the pipelines of the first route of its table it
 * matches, and what matches no route to `default_pipelines` (dropped and counted when there are
 * none), as the collector's routing connector does since v0.120 (connector/routingconnector).
 *
 * Items are events in events pipelines, spans and log records in traces and logs pipelines. A
 * route evaluated in the `resource` context decides for all spans or log records of a resource
 * (its condition is evaluated once per resource), one in the `span` / `log` context for each span
 * or log record, so a request may be split between routes: each part keeps its resource and scope.
 * Conditions are compiled when the gateway is built; routing an item runs closures.
 *
 * Pairs: traces → traces, logs → logs, events → events. Counters:
 * `otelytics_connector_routed_items{connector,route}` (route `0`, `1`, ..., `default`, `none`);
 * events matching no route without default pipelines are also counted in
 * `otelytics_events_dropped{component,reason="unrouted"}`.
 */
import type { Logger } from 'pino';
import type { Consumer, ConnectorFactory, ConnectorRouter, Payload, Signal } from '../../src/component.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { errorMessage, PermanentError } from '../../src/errors.js';
import { compileEventMatch, compileLogMatch, compileResourceMatch, compileSpanMatch } from '../../src/match.js';
import { compileCondition, compileStatementCondition, OttlRuntimeError } from '../../src/ottl/compile.js';
import type { LogItem, ResourceItem, SpanItem } from '../../src/ottl/contexts.js';
import type { InstrumentationScope, LogsData, Resource, ResourceLogs, ResourceSpans, ScopeLogs, ScopeSpans, TracesData } from '../../src/pdata.js';
import type { Telemetry } from '../../src/telemetry.js';
import { checkRoutes, OTTL_CONTEXTS, routeContext, routingSchema, type RouteConfig, type RoutingConfig } from './config.js';

export { routingSchema, type RoutingConfig } from './config.js';

type Test<T> = (item: T) => boolean;

/** A route compiled for one signal: its test, and whether the test reads the resource alone. */
interface CompiledRoute<T> {
  label: string;
  test: Test<T>;
  perResource: boolean;
  consumer: Consumer;
}

/** Compiles route `r` for items of `signal` (checked at load: the context applies, the condition compiles). */
function compileRoute<T>(r: RouteConfig, signal: Signal): { test: Test<T>; perResource: boolean } {
  const context = routeContext(r, signal);
  const ctx = OTTL_CONTEXTS[context];
  let test: Test<never>;
  if (r.condition !== undefined) test = compileCondition(r.condition, ctx);
  else if (r.statement !== undefined) test = compileStatementCondition(r.statement, ctx, ['route']);
  else {
    const m = r.match!;
    test = (context === 'event' ? compileEventMatch(m) : context === 'span' ? compileSpanMatch(m) : context === 'log' ? compileLogMatch(m) : compileResourceMatch(m)) as Test<never>;
  }
  return { test: test as Test<T>, perResource: context === 'resource' };
}

/** Where items go: one consumer per route and the default, and the counters of each. */
class Table<T> {
  readonly routes: CompiledRoute<T>[];
  /** Index `routes.length`: the default pipelines (a consumer that discards when there are none). */
  readonly fallback: Consumer;
  readonly hasDefault: boolean;

  constructor(
    cfg: RoutingConfig,
    signal: Signal,
    router: ConnectorRouter,
    private readonly id: string,
    private readonly errorMode: RoutingConfig['error_mode'],
    private readonly logger: Logger,
    private readonly telemetry: Telemetry,
  ) {
    const fed = router.pipelines(signal);
    const feeds = (pipelines: readonly string[]) => pipelines.filter((p) => fed.includes(p));
    this.routes = cfg.table.map((r, i) => ({ label: String(i), ...compileRoute<T>(r, signal), consumer: router.consumer(feeds(r.pipelines)) }));
    const dflt = feeds(cfg.default_pipelines);
    this.hasDefault = dflt.length > 0;
    this.fallback = router.consumer(dflt);
  }

  /**
   * The index of the first route whose test holds (`routes.length`: none). A failed evaluation
   * refuses the payload (`propagate`) or sends the item to the default pipelines.
   */
  pick(item: T, resourceResults: (boolean | undefined)[] | undefined, errors: { n: number; first?: string }): number {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      let hit: boolean | undefined;
      try {
        if (r.perResource && resourceResults) {
          hit = resourceResults[i];
          if (hit === undefined) hit = resourceResults[i] = r.test(item);
        } else hit = r.test(item);
      } catch (err) {
        if (!(err instanceof OttlRuntimeError)) throw err;
        if (this.errorMode === 'propagate') throw new PermanentError(`connector "${this.id}": table::${i}: ${err.message}`);
        errors.n++;
        errors.first ??= `table::${i}: ${err.message}`;
        return routes.length;
      }
      if (hit) return i;
    }
    return routes.length;
  }

  /** Hands each group to its route's consumer; counts what went where. */
  async send(groups: (Payload | undefined)[], counts: number[], signal: Signal, errors: { n: number; first?: string }): Promise<void> {
    if (errors.n > 0 && this.errorMode === 'ignore') {
      this.logger.warn({ items: errors.n, error: errors.first }, 'routing condition failed; items sent to the default pipelines');
    }
    const calls: Promise<void>[] = [];
    const n = this.routes.length;
    for (let i = 0; i <= n; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      const label = i < n ? this.routes[i]!.label : this.hasDefault ? 'default' : 'none';
      this.telemetry.connectorRouted(this.id, label, c);
      if (i === n && !this.hasDefault) {
        if (signal === 'events') this.telemetry.eventsDropped(this.id, 'unrouted', c);
        continue;
      }
      calls.push((i < n ? this.routes[i]!.consumer : this.fallback).consume(groups[i]!));
    }
    const results = await Promise.allSettled(calls);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

function routeEvents(table: Table<AnalyticsEvent>, data: readonly AnalyticsEvent[], p: Payload): { groups: (Payload | undefined)[]; counts: number[]; errors: { n: number; first?: string } } {
  const n = table.routes.length;
  const counts = new Array<number>(n + 1).fill(0);
  const errors = { n: 0 };
  const picks = new Uint16Array(data.length);
  let first = -1;
  let mixed = false;
  for (let j = 0; j < data.length; j++) {
    const g = table.pick(data[j]!, undefined, errors);
    picks[j] = g;
    counts[g]!++;
    if (first < 0) first = g;
    else if (g !== first) mixed = true;
  }
  const groups = new Array<Payload | undefined>(n + 1);
  if (!mixed) {
    if (first >= 0) groups[first] = p;
    return { groups, counts, errors };
  }
  const lists: AnalyticsEvent[][] = [];
  for (let g = 0; g <= n; g++) if (counts[g]! > 0) lists[g] = [];
  for (let j = 0; j < data.length; j++) lists[picks[j]!]!.push(data[j]!);
  for (let g = 0; g <= n; g++) if (lists[g]) groups[g] = { signal: 'events', data: lists[g]! };
  return { groups, counts, errors };
}

/** How a traces or logs request nests: resources → scopes → items, and how to make a part of it. */
interface Layout<D, R, S, I> {
  resources(d: D): readonly R[];
  resource(r: R): Resource;
  scopes(r: R): readonly S[];
  scope(s: S): InstrumentationScope;
  items(s: S): readonly I[];
  part(groups: R[]): D;
  resourcePart(r: R, resource: Resource, scopes: S[]): R;
  scopePart(s: S, scope: InstrumentationScope, items: I[]): S;
}

const TRACES: Layout<TracesData, ResourceSpans, ScopeSpans, SpanItem['span']> = {
  resources: (d) => d.resourceSpans,
  resource: (r) => r.resource,
  scopes: (r) => r.scopeSpans,
  scope: (s) => s.scope,
  items: (s) => s.spans,
  part: (resourceSpans) => ({ resourceSpans }),
  resourcePart: (r, resource, scopeSpans) => ({ resource, scopeSpans, schemaUrl: r.schemaUrl }),
  scopePart: (s, scope, spans) => ({ scope, spans, schemaUrl: s.schemaUrl }),
};

const LOGS: Layout<LogsData, ResourceLogs, ScopeLogs, LogItem['log']> = {
  resources: (d) => d.resourceLogs,
  resource: (r) => r.resource,
  scopes: (r) => r.scopeLogs,
  scope: (s) => s.scope,
  items: (s) => s.logRecords,
  part: (resourceLogs) => ({ resourceLogs }),
  resourcePart: (r, resource, scopeLogs) => ({ resource, scopeLogs, schemaUrl: r.schemaUrl }),
  scopePart: (s, scope, logRecords) => ({ scope, logRecords, schemaUrl: s.schemaUrl }),
};

/**
 * Routes the spans or log records of `data`; a request whose items all go one way is handed on as
 * it is. Parts of one resource or scope sent different ways get copies of it from the second on,
 * so that a pipeline that changes a resource (privacy) does not change another pipeline's.
 */
function routeRecords<D, R, S, I, T extends ResourceItem & { scope: InstrumentationScope }>(
  table: Table<T>,
  layout: Layout<D, R, S, I>,
  data: D,
  p: Payload,
  holder: T,
  setItem: (holder: T, item: I) => void,
): { groups: (Payload | undefined)[]; counts: number[]; errors: { n: number; first?: string } } {
  const n = table.routes.length;
  const counts = new Array<number>(n + 1).fill(0);
  const errors = { n: 0 };
  const picks: number[] = [];
  const resourceResults = new Array<boolean | undefined>(n);
  let first = -1;
  let mixed = false;
  for (const r of layout.resources(data)) {
    holder.resource = layout.resource(r);
    resourceResults.fill(undefined);
    for (const s of layout.scopes(r)) {
      holder.scope = layout.scope(s);
      for (const item of layout.items(s)) {
        setItem(holder, item);
        const g = table.pick(holder, resourceResults, errors);
        picks.push(g);
        counts[g]!++;
        if (first < 0) first = g;
        else if (g !== first) mixed = true;
      }
    }
  }
  const groups = new Array<Payload | undefined>(n + 1);
  if (!mixed) {
    if (first >= 0) groups[first] = p;
    return { groups, counts, errors };
  }
  const parts: R[][] = [];
  let k = 0;
  for (const r of layout.resources(data)) {
    const resourceParts = new Map<number, S[]>();
    for (const s of layout.scopes(r)) {
      const scopeParts = new Map<number, I[]>();
      for (const item of layout.items(s)) {
        const g = picks[k++]!;
        let list = scopeParts.get(g);
        if (!list) scopeParts.set(g, (list = []));
        list.push(item);
      }
      let copies = 0;
      for (const [g, items] of scopeParts) {
        let list = resourceParts.get(g);
        if (!list) resourceParts.set(g, (list = []));
        list.push(layout.scopePart(s, copies++ === 0 ? layout.scope(s) : structuredClone(layout.scope(s)), items));
      }
    }
    let copies = 0;
    for (const [g, scopes] of resourceParts) {
      (parts[g] ??= []).push(layout.resourcePart(r, copies++ === 0 ? layout.resource(r) : structuredClone(layout.resource(r)), scopes));
    }
  }
  for (let g = 0; g <= n; g++) if (parts[g]) groups[g] = { signal: p.signal, data: layout.part(parts[g]!) } as Payload;
  return { groups, counts, errors };
}

export const routingConnectorFactory: ConnectorFactory<RoutingConfig> = {
  kind: 'connector',
  type: 'routing',
  description: 'Routes each event, span or log record to the pipelines of the first route it matches (OTTL or match syntax)',
  configSchema: routingSchema,
  pairs: [
    ['traces', 'traces'],
    ['logs', 'logs'],
    ['events', 'events'],
  ],
  mutatesData: false,
  pipelineReferences: (cfg) => [
    ...cfg.table.flatMap((r, i) => r.pipelines.map((pipeline, j) => ({ path: ['table', i, 'pipelines', j], pipeline }))),
    ...cfg.default_pipelines.map((pipeline, j) => ({ path: ['default_pipelines', j], pipeline })),
  ],
  checkInputs: (cfg, inputs) => checkRoutes(cfg, inputs),
  routes: (cfg) => [...cfg.table.map((r, i) => ({ route: String(i), pipelines: r.pipelines })), { route: cfg.default_pipelines.length > 0 ? 'default' : 'none', pipelines: cfg.default_pipelines }],
  create(settings, cfg, router) {
    const table = <T>(signal: Signal) => new Table<T>(cfg, signal, router, settings.id, cfg.error_mode, settings.logger, settings.telemetry);
    const events = settings.inputs.includes('events') ? table<AnalyticsEvent>('events') : undefined;
    const spans = settings.inputs.includes('traces') ? table<SpanItem>('traces') : undefined;
    const logs = settings.inputs.includes('logs') ? table<LogItem>('logs') : undefined;
    const spanHolder = { span: undefined, scope: undefined, resource: undefined } as unknown as SpanItem;
    const logHolder = { log: undefined, scope: undefined, resource: undefined } as unknown as LogItem;
    return {
      async start() {},
      async shutdown() {},
      async consume(p: Payload): Promise<void> {
        try {
          switch (p.signal) {
            case 'events': {
              if (!events) return;
              const r = routeEvents(events, p.data, p);
              return await events.send(r.groups, r.counts, 'events', r.errors);
            }
            case 'traces': {
              if (!spans) return;
              const r = routeRecords(spans, TRACES, p.data, p, spanHolder, (h, s) => (h.span = s));
              return await spans.send(r.groups, r.counts, 'traces', r.errors);
            }
            case 'logs': {
              if (!logs) return;
              const r = routeRecords(logs, LOGS, p.data, p, logHolder, (h, l) => (h.log = l));
              return await logs.send(r.groups, r.counts, 'logs', r.errors);
            }
            default:
              return;
          }
        } catch (err) {
          if (err instanceof PermanentError && err.message.startsWith(`connector "${settings.id}"`)) settings.logger.error({ err: errorMessage(err) }, 'routing condition failed; payload refused (error_mode: propagate)');
          throw err;
        }
      },
    };
  },
};
