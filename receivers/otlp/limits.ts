/**
 * Attribute limits of the `otlp` receiver (`limits::attribute_count_limit`,
 * `limits::attribute_value_length_limit`), applied to decoded requests before they enter a
 * pipeline: a span or log record over a limit (its own attributes, its span events' or links',
 * its log body, or the attributes of its resource or scope) is rejected, and the rest accepted.
 * The transport answers with the OTLP partial success (`rejected_spans` / `rejected_log_records`
 * and a message naming the first offence; OTLP specification, "Partial Success"), or 400 when
 * every record was rejected. Metrics are carried opaquely and are bounded by the body size only.
 *
 * The names follow the OpenTelemetry SDK's attribute limits (`AttributeCountLimit`,
 * `AttributeValueLengthLimit`); unlike an SDK, which truncates, a receiver cannot know what
 * truncation would break, so it rejects.
 */
import type { Payload } from '../../src/component.js';
import type { AnyValue, KeyValue, LogsData, TracesData } from '../../src/pdata.js';
import type { OtlpLimits } from './config.js';

/** Outcome: what passed, how many records were rejected, and the first reason. */
export interface LimitResult {
  payload: Payload;
  rejected: number;
  reason?: string;
}

class Checker {
  count = 0;
  constructor(private readonly limits: OtlpLimits) {}

  /** The first violation in `attrs` (and `extra` values such as a log body), or undefined. */
  attrs(attrs: readonly KeyValue[], extra?: AnyValue): string | undefined {
    this.count = 0;
    for (const kv of attrs) {
      const r = this.kv(kv);
      if (r) return r;
    }
    return extra ? this.value(extra, 'body') : undefined;
  }

  private kv(kv: KeyValue): string | undefined {
    const max = this.limits.attribute_count_limit;
    if (max > 0 && ++this.count > max) return `more than ${max} attributes (attribute_count_limit)`;
    return this.value(kv.value, `attribute "${kv.key.length > 64 ? kv.key.slice(0, 63) + '…' : kv.key}"`);
  }

  private value(v: AnyValue, what: string): string | undefined {
    const maxLen = this.limits.attribute_value_length_limit;
    if ('stringValue' in v) {
      if (maxLen > 0 && v.stringValue.length > maxLen) return `${what} has a value of ${v.stringValue.length} characters, over attribute_value_length_limit ${maxLen}`;
    } else if ('bytesValue' in v) {
      if (maxLen > 0 && v.bytesValue.byteLength > maxLen) return `${what} has a value of ${v.bytesValue.byteLength} bytes, over attribute_value_length_limit ${maxLen}`;
    } else if ('arrayValue' in v) {
      const max = this.limits.attribute_count_limit;
      for (const x of v.arrayValue.values) {
        if (max > 0 && ++this.count > max) return `more than ${max} attributes and array elements (attribute_count_limit)`;
        const r = this.value(x, what);
        if (r) return r;
      }
    } else if ('kvlistValue' in v) {
      for (const kv of v.kvlistValue.values) {
        const r = this.kv(kv);
        if (r) return r;
      }
    }
    return undefined;
  }
}

function limitTraces(data: TracesData, c: Checker): { data: TracesData; rejected: number; reason?: string } {
  let rejected = 0;
  let reason: string | undefined;
  const note = (n: number, r: string) => {
    rejected += n;
    reason ??= r;
  };
  const resourceSpans = [];
  for (const rs of data.resourceSpans) {
    const bad = c.attrs(rs.resource.attributes);
    if (bad) {
      note(rs.scopeSpans.reduce((s, ss) => s + ss.spans.length, 0), `resource: ${bad}`);
      continue;
    }
    const scopeSpans = [];
    for (const ss of rs.scopeSpans) {
      const badScope = c.attrs(ss.scope.attributes);
      if (badScope) {
        note(ss.spans.length, `scope: ${badScope}`);
        continue;
      }
      const spans = ss.spans.filter((span) => {
        const r = c.attrs(span.attributes) ?? firstOf(span.events.map((e) => () => c.attrs(e.attributes))) ?? firstOf(span.links.map((l) => () => c.attrs(l.attributes)));
        if (r) note(1, `span "${span.name.slice(0, 64)}": ${r}`);
        return !r;
      });
      if (spans.length > 0) scopeSpans.push(spans.length === ss.spans.length ? ss : { ...ss, spans });
    }
    if (scopeSpans.length > 0) resourceSpans.push({ ...rs, scopeSpans });
  }
  return { data: rejected ? { resourceSpans } : data, rejected, reason };
}

function limitLogs(data: LogsData, c: Checker): { data: LogsData; rejected: number; reason?: string } {
  let rejected = 0;
  let reason: string | undefined;
  const note = (n: number, r: string) => {
    rejected += n;
    reason ??= r;
  };
  const resourceLogs = [];
  for (const rl of data.resourceLogs) {
    const bad = c.attrs(rl.resource.attributes);
    if (bad) {
      note(rl.scopeLogs.reduce((s, sl) => s + sl.logRecords.length, 0), `resource: ${bad}`);
      continue;
    }
    const scopeLogs = [];
    for (const sl of rl.scopeLogs) {
      const badScope = c.attrs(sl.scope.attributes);
      if (badScope) {
        note(sl.logRecords.length, `scope: ${badScope}`);
        continue;
      }
      const logRecords = sl.logRecords.filter((r) => {
        const why = c.attrs(r.attributes, r.body);
        if (why) note(1, `log record: ${why}`);
        return !why;
      });
      if (logRecords.length > 0) scopeLogs.push(logRecords.length === sl.logRecords.length ? sl : { ...sl, logRecords });
    }
    if (scopeLogs.length > 0) resourceLogs.push({ ...rl, scopeLogs });
  }
  return { data: rejected ? { resourceLogs } : data, rejected, reason };
}

function firstOf(checks: (() => string | undefined)[]): string | undefined {
  for (const f of checks) {
    const r = f();
    if (r) return r;
  }
  return undefined;
}

/** Removes the records over the limits. Payloads within them are returned as they are. */
export function applyLimits(p: Payload, limits: OtlpLimits): LimitResult {
  if (limits.attribute_count_limit === 0 && limits.attribute_value_length_limit === 0) return { payload: p, rejected: 0 };
  const c = new Checker(limits);
  switch (p.signal) {
    case 'traces': {
      const r = limitTraces(p.data, c);
      return { payload: { signal: 'traces', data: r.data }, rejected: r.rejected, reason: r.reason };
    }
    case 'logs': {
      const r = limitLogs(p.data, c);
      return { payload: { signal: 'logs', data: r.data }, rejected: r.rejected, reason: r.reason };
    }
    default:
      return { payload: p, rejected: 0 };
  }
}
