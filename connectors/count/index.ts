/**
 * The `count` connector: counts events, spans and log records, by attributes of your choice, into
 * counters on the gateway's Prometheus endpoint (`service::telemetry::metrics::address`, `/metrics`)
 * and, as the collector's count connector does (connector/countconnector), into the metrics
 * pipelines it feeds: one delta, monotonic Sum per metric and consumed payload, one data point per
 * set of attribute values, as OTLP.
 *
 * Config (the collector's, plus `events` and `match`): `spans`, `logs` and `events` each map a
 * metric name to `description`, `conditions` (OTTL, any may hold), `match` (the match syntax of
 * src/match.ts; must hold too) and `attributes` (`key`, `default_value`). An item without one of a
 * metric's attributes and without its default is not counted for that metric. A section left out
 * counts all of its items into the default metric: `trace.span.count`, `log.record.count` (no
 * attributes), `event.count` (by `event.name`); a section given replaces its default.
 *
 * Attribute keys: for spans and log records the item's attributes, then its scope's, then its
 * resource's (as the collector); for events `event.name`, `event.category`, `event.privacy_level`
 * (as the event is written on the wire, src/event.ts), then its properties, then its context (e.g.
 * `service.name`, a tenant).
 *
 * In Prometheus a metric's name has every character other than letters, digits, `_` and `:`
 * replaced by `_` (`event.count` → `event_count`), as do attribute keys (`event.name` →
 * `event_name`); names starting `otelcol_` or `otelytics_` are the gateway's own and refused. At
 * most `cardinality_limit` sets of attribute values are kept per metric; items with further sets
 * are counted in one series labelled `otel_metric_overflow="true"` (the OpenTelemetry metrics SDK's
 * cardinality limit). One metric name in two count connectors is one Prometheus metric: counts add up.
 *
 * Pairs: traces → metrics, logs → metrics, events → metrics.
 */
import type { ConfigIssue, ConnectorFactory, Consumer, Payload, Signal } from '../../src/component.js';
import { z } from '../../src/config/schema.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { checkMatch, compileEventMatch, compileLogMatch, compileSpanMatch, jsonScalarString, matchSchema, type MatchConfig, type MatchTarget } from '../../src/match.js';
import { compileCondition, OttlError, type OttlContext } from '../../src/ottl/compile.js';
import { eventContext, logContext, spanContext, type LogItem, type SpanItem } from '../../src/ottl/contexts.js';
import type { InstrumentationScope, JsonValue, KeyValue, Resource } from '../../src/pdata.js';
import { findAttribute, scalarString } from '../../src/pdata.js';
import { createWriter, tag, writeFixed64, writeKeyValues, writeScope, writeSfixed64, writeString } from '../../src/otlp/proto/writer.js';
import { LEN, I64, VARINT } from '../../src/otlp/wire.js';
import type { Telemetry } from '../../src/telemetry.js';

const attributeSchema = z.strictObject({
  key: z.string().min(1).describe('Attribute (or event field, property, context key) to count by.'),
  default_value: z.union([z.string(), z.number(), z.boolean()]).optional().describe('Value for items without the attribute; without it, such items are not counted for this metric.'),
});

const metricSchema = z.strictObject({
  description: z.string().optional().describe('Help text of the metric.'),
  conditions: z.array(z.string().min(1)).optional().describe('OTTL conditions; an item is counted when any holds. Omitted: every item.'),
  match: matchSchema.optional().describe('A match (src/match.ts) that must hold too.'),
  attributes: z.array(attributeSchema).default([]).describe('Count separately per set of values of these attributes.'),
});

const section = (what: string) => z.record(z.string().min(1), metricSchema).optional().describe(`Metrics counting ${what}: metric name → definition. Omitted: the default metric.`);

export const countSchema = z
  .strictObject({
    spans: section('spans (traces pipelines)'),
    logs: section('log records (logs pipelines)'),
    events: section('events (events pipelines)'),
    cardinality_limit: z.number().int().positive().default(1000).describe('Most sets of attribute values kept per metric; items of further sets are counted with otel_metric_overflow="true". Default 1000.'),
  })
  .superRefine((cfg, ctx) => {
    for (const s of SECTIONS) {
      for (const [name, m] of Object.entries(cfg[s] ?? {})) {
        const prom = promName(name);
        if (/^(otelcol|otelytics)_/.test(prom)) ctx.addIssue({ code: 'custom', path: [s, name], message: `"${prom}" (its Prometheus name) is reserved for the gateway's own metrics; choose another name` });
        const labels = m.attributes.map((a) => promName(a.key));
        const dup = labels.find((l, i) => labels.indexOf(l) !== i);
        if (dup !== undefined) ctx.addIssue({ code: 'custom', path: [s, name, 'attributes'], message: `two attributes give the Prometheus label "${dup}"` });
        if (labels.includes(OVERFLOW_LABEL)) ctx.addIssue({ code: 'custom', path: [s, name, 'attributes'], message: `"${OVERFLOW_LABEL}" is the overflow label` });
        (m.conditions ?? []).forEach((c, i) => {
          try {
            compileCondition(c, CONTEXTS[s]);
          } catch (err) {
            if (!(err instanceof OttlError)) throw err;
            ctx.addIssue({ code: 'custom', path: [s, name, 'conditions', i], message: err.message });
          }
        });
        if (m.match) for (const issue of checkMatch(m.match, TARGETS[s])) ctx.addIssue({ code: 'custom', path: [s, name, 'match', ...issue.path], message: issue.message });
      }
    }
  });

export type CountConfig = z.infer<typeof countSchema>;
type MetricConfig = z.infer<typeof metricSchema>;

const SECTIONS = ['spans', 'logs', 'events'] as const;
type Section = (typeof SECTIONS)[number];
const SECTION_OF: Partial<Record<Signal, Section>> = { traces: 'spans', logs: 'logs', events: 'events' };
const CONTEXTS: Record<Section, OttlContext<never>> = { spans: spanContext as OttlContext<never>, logs: logContext as OttlContext<never>, events: eventContext as OttlContext<never> };
const TARGETS: Record<Section, MatchTarget> = { spans: 'span', logs: 'log', events: 'event' };
const DEFAULTS: Record<Section, Record<string, MetricConfig>> = {
  spans: { 'trace.span.count': { description: 'The number of spans counted.', attributes: [] } },
  logs: { 'log.record.count': { description: 'The number of log records counted.', attributes: [] } },
  events: { 'event.count': { description: 'The number of events counted, by event name.', attributes: [{ key: 'event.name' }] } },
};
export const OVERFLOW_LABEL = 'otel_metric_overflow';

/** A metric or label name as Prometheus allows it: `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
export function promName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** The metrics a section counts: its own, or its default. */
function metricsOf(cfg: CountConfig, s: Section): Record<string, MetricConfig> {
  return cfg[s] ?? DEFAULTS[s];
}

/** An item with what attribute keys and conditions read. */
type Read<T> = { attr(item: T, key: string): string | undefined; test(m: MetricConfig): (item: T) => boolean };

function valueText(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  return jsonScalarString(v) ?? JSON.stringify(v);
}

const EVENT_FIELDS: Record<string, (e: AnalyticsEvent) => string | undefined> = {
  'event.name': (e) => e.name,
  'event.category': (e) => e.category,
  'event.privacy_level': (e) => e.privacy_level,
};

function recordAttr(attrs: readonly KeyValue[], scope: InstrumentationScope, resource: Resource, key: string): string | undefined {
  const v = findAttribute(attrs, key) ?? findAttribute(scope.attributes, key) ?? findAttribute(resource.attributes, key);
  return v === undefined ? undefined : scalarString(v);
}

function conditionsTest<T>(m: MetricConfig, s: Section, match: ((x: T) => boolean) | undefined): (item: T) => boolean {
  const conds = (m.conditions ?? []).map((c) => compileCondition(c, CONTEXTS[s]) as unknown as (x: T) => boolean);
  const any = conds.length === 0 ? undefined : (x: T) => conds.some((c) => c(x));
  if (!any && !match) return () => true;
  return (x) => (!match || match(x)) && (!any || any(x));
}

const READ: { events: Read<AnalyticsEvent>; spans: Read<SpanItem>; logs: Read<LogItem> } = {
  events: {
    attr(e, key) {
      const field = EVENT_FIELDS[key];
      if (field) return field(e);
      if (Object.hasOwn(e.properties, key)) return valueText(e.properties[key]);
      return Object.hasOwn(e.context, key) ? valueText(e.context[key]) : undefined;
    },
    test: (m) => conditionsTest(m, 'events', m.match ? compileEventMatch(m.match as MatchConfig) : undefined),
  },
  spans: {
    attr: (i, key) => recordAttr(i.span.attributes, i.scope, i.resource, key),
    test: (m) => conditionsTest(m, 'spans', m.match ? compileSpanMatch(m.match as MatchConfig) : undefined),
  },
  logs: {
    attr: (i, key) => recordAttr(i.log.attributes, i.scope, i.resource, key),
    test: (m) => conditionsTest(m, 'logs', m.match ? compileLogMatch(m.match as MatchConfig) : undefined),
  },
};

/** One metric: its test, its attributes, its Prometheus counter and the sets of values seen. */
class Metric<T> {
  readonly test: (item: T) => boolean;
  readonly keys: readonly { key: string; dflt: string | undefined }[];
  private readonly counter;
  private readonly labels: string[];
  private readonly seen = new Set<string>();
  /** Counts of the payload being consumed, by the values joined with NUL. */
  readonly batch = new Map<string, { values: string[]; n: number }>();

  constructor(
    readonly name: string,
    readonly cfg: MetricConfig,
    private readonly read: Read<T>,
    telemetry: Telemetry,
    private readonly limit: number,
  ) {
    this.test = read.test(cfg);
    this.keys = cfg.attributes.map((a) => ({ key: a.key, dflt: a.default_value === undefined ? undefined : String(a.default_value) }));
    this.labels = cfg.attributes.map((a) => promName(a.key));
    this.counter = telemetry.counter(promName(name), cfg.description ?? `${name}: items counted by the count connector.`, [...this.labels, OVERFLOW_LABEL]);
  }

  /** Counts `item` into the current batch when it passes and has every attribute (or its default). */
  add(item: T): void {
    if (!this.test(item)) return;
    const values: string[] = [];
    for (const { key, dflt } of this.keys) {
      const v = this.read.attr(item, key) ?? dflt;
      if (v === undefined) return;
      values.push(v);
    }
    const k = values.join('\u0000');
    const b = this.batch.get(k);
    if (b) b.n++;
    else this.batch.set(k, { values, n: 1 });
  }

  /** Adds the batch to the Prometheus counter (new sets beyond the limit into the overflow series). */
  flush(): void {
    for (const [k, { values, n }] of this.batch) {
      if (!this.seen.has(k) && this.seen.size >= this.limit) {
        this.counter.inc({ [OVERFLOW_LABEL]: 'true' }, n);
        continue;
      }
      this.seen.add(k);
      const labels: Record<string, string> = {};
      this.labels.forEach((l, i) => (labels[l] = values[i]!));
      this.counter.inc(labels, n);
    }
  }
}

/**
 * The batch's counts as an `ExportMetricsServiceRequest` (metrics.proto): one scope `otelytics/count`,
 * per metric a Sum (delta, monotonic) with an int data point per set of attribute values, at `nowNanos`.
 */
export function encodeCounts(metrics: readonly Metric<unknown>[], nowNanos: string): { body: Uint8Array; dataPointCount: number } {
  const w = createWriter();
  let points = 0;
  w.uint32(tag(1, LEN)).fork(); // resource_metrics
  w.uint32(tag(2, LEN)).fork(); // scope_metrics
  writeScope(w, 1, { name: 'otelytics/count', version: '', attributes: [], droppedAttributesCount: 0 });
  for (const m of metrics) {
    if (m.batch.size === 0) continue;
    w.uint32(tag(2, LEN)).fork(); // metric
    writeString(w, 1, m.name);
    writeString(w, 2, m.cfg.description ?? '');
    w.uint32(tag(7, LEN)).fork(); // sum
    for (const { values, n } of m.batch.values()) {
      w.uint32(tag(1, LEN)).fork(); // data_points
      writeKeyValues(w, 7, m.keys.map((k, i) => ({ key: k.key, value: { stringValue: values[i]! } })));
      w.uint32(tag(3, I64));
      writeFixed64(w, nowNanos);
      w.uint32(tag(6, I64));
      writeSfixed64(w, n);
      w.ldelim();
      points++;
    }
    w.uint32(tag(2, VARINT)).int32(1); // AGGREGATION_TEMPORALITY_DELTA
    w.uint32(tag(3, VARINT)).bool(true); // is_monotonic
    w.ldelim();
    w.ldelim();
  }
  w.ldelim();
  w.ldelim();
  return { body: w.finish(), dataPointCount: points };
}

function nowNanos(): string {
  return `${Date.now()}000000`;
}

export const countConnectorFactory: ConnectorFactory<CountConfig> = {
  kind: 'connector',
  type: 'count',
  description: 'Counts events, spans and log records by attributes into Prometheus metrics and OTLP metrics pipelines',
  configSchema: countSchema,
  pairs: [
    ['traces', 'metrics'],
    ['logs', 'metrics'],
    ['events', 'metrics'],
  ],
  mutatesData: false,
  checkInputs(cfg, inputs): ConfigIssue[] {
    return SECTIONS.filter((s) => cfg[s] !== undefined && !inputs.some((i) => SECTION_OF[i] === s)).map((s) => ({
      path: [s],
      message: `counts ${s}, but no pipeline that exports to this connector carries them (it is given ${inputs.join(', ')})`,
    }));
  },
  checkAll(instances) {
    // One Prometheus metric per name: every definition of it must count by the same attributes.
    const seen = new Map<string, { labels: string; where: string }>();
    const issues: (ConfigIssue & { id: string })[] = [];
    for (const { id, config } of instances) {
      for (const s of SECTIONS) {
        for (const [name, m] of Object.entries(metricsOf(config, s))) {
          const prom = promName(name);
          const labels = m.attributes.map((a) => promName(a.key)).sort().join(',');
          const where = `connectors::${id}::${s}::${name}`;
          const before = seen.get(prom);
          if (!before) seen.set(prom, { labels, where });
          else if (before.labels !== labels) issues.push({ id, path: [s, name, 'attributes'], message: `the Prometheus metric "${prom}" is also defined at ${before.where} with other attributes (${before.labels || 'none'}); one name, one set of attributes` });
        }
      }
    }
    return issues;
  },
  create(settings, cfg, router) {
    const outputs = new Map<Signal, Consumer>(settings.inputs.map((s) => [s, router.consumer(router.pipelines(s))]));
    const make = <T>(s: Section, read: Read<T>) => Object.entries(metricsOf(cfg, s)).map(([name, m]) => new Metric<T>(name, m, read, settings.telemetry, cfg.cardinality_limit));
    const events = settings.inputs.includes('events') ? make('events', READ.events) : [];
    const spans = settings.inputs.includes('traces') ? make('spans', READ.spans) : [];
    const logs = settings.inputs.includes('logs') ? make('logs', READ.logs) : [];
    const spanHolder = {} as SpanItem;
    const logHolder = {} as LogItem;
    return {
      async start() {},
      async shutdown() {},
      async consume(p: Payload): Promise<void> {
        let metrics: Metric<never>[];
        switch (p.signal) {
          case 'events':
            for (const m of events) for (const e of p.data) m.add(e);
            metrics = events as Metric<never>[];
            break;
          case 'traces':
            if (spans.length === 0) return;
            for (const rs of p.data.resourceSpans) {
              spanHolder.resource = rs.resource;
              for (const ss of rs.scopeSpans) {
                spanHolder.scope = ss.scope;
                for (const span of ss.spans) {
                  spanHolder.span = span;
                  for (const m of spans) m.add(spanHolder);
                }
              }
            }
            metrics = spans as Metric<never>[];
            break;
          case 'logs':
            if (logs.length === 0) return;
            for (const rl of p.data.resourceLogs) {
              logHolder.resource = rl.resource;
              for (const sl of rl.scopeLogs) {
                logHolder.scope = sl.scope;
                for (const log of sl.logRecords) {
                  logHolder.log = log;
                  for (const m of logs) m.add(logHolder);
                }
              }
            }
            metrics = logs as Metric<never>[];
            break;
          default:
            return;
        }
        for (const m of metrics) m.flush();
        const out = outputs.get(p.signal);
        const encoded = metrics.some((m) => m.batch.size > 0) ? encodeCounts(metrics as Metric<unknown>[], nowNanos()) : undefined;
        for (const m of metrics) m.batch.clear();
        if (out && encoded && encoded.dataPointCount > 0) await out.consume({ signal: 'metrics', data: encoded });
      },
    };
  },
};

