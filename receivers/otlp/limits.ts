/**
 * Limits of the `otlp` receiver on what one record may hold (`limits::*`), applied to decoded
 * requests before they enter a pipeline:
 * - `attribute_count_limit`: attributes of a span, span event, span link, log record, resource or
 *   scope, nested map entries and array elements included;
 * - `attribute_value_length_limit`: a string (characters) or bytes value at any depth, a log body,
 *   a span status message;
 * - `attribute_key_length_limit`: an attribute key at any depth (characters);
 * - `name_length_limit`: span, span event and log event names, log severity text, scope name and
 *   version, span and link trace state, resource and scope schema URL (characters).
 * A span or log record over a limit (its own fields, its span events' or links', or those of its
 * resource or scope) is rejected, and the rest accepted. The transport answers with the OTLP
 * partial success (`rejected_spans` / `rejected_log_records` and a message naming the first
 * offence; OTLP specification, "Partial Success"), or 400 when every record was rejected. Metrics
 * are carried opaquely and are bounded by the body size only. Characters are UTF-16 code units, as
 * JavaScript counts them (a character outside the Basic Multilingual Plane counts 2).
 *
 * The attribute limits' names follow the OpenTelemetry SDK's (`AttributeCountLimit`,
 * `AttributeValueLengthLimit`); the SDK limits neither keys nor names, so those two are the
 * receiver's own. Unlike an SDK, which truncates, a receiver cannot know what truncation would
 * break, so it rejects.
 */
import type { Payload } from '../../src/component.js';
import type { AnyValue, InstrumentationScope, KeyValue, LogsData, Span, TracesData } from '../../src/pdata.js';
import type { OtlpLimits } from './config.js';

/** Outcome: what passed, how many records were rejected, and the first reason. */
export interface LimitResult {
  payload: Payload;
  rejected: number;
  reason?: string;
}

/** At most 64 characters of `s`, for a message. */
const short = (s: string) => (s.length > 64 ? s.slice(0, 63) + '…' : s);

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

  /** `name_length_limit` on the field `field` holding `s`, or undefined when it is within. */
  name(field: string, s: string): string | undefined {
    const max = this.limits.name_length_limit;
    return max > 0 && s.length > max ? `${field} has ${s.length} characters, over name_length_limit ${max}` : undefined;
  }

  /** `attribute_value_length_limit` on a text field that is not an attribute (a status message). */
  text(field: string, s: string): string | undefined {
    const max = this.limits.attribute_value_length_limit;
    return max > 0 && s.length > max ? `${field} has ${s.length} characters, over attribute_value_length_limit ${max}` : undefined;
  }

  private kv(kv: KeyValue): string | undefined {
    const max = this.limits.attribute_count_limit;
    if (max > 0 && ++this.count > max) return `more than ${max} attributes (attribute_count_limit)`;
    const maxKey = this.limits.attribute_key_length_limit;
    if (maxKey > 0 && kv.key.length > maxKey) return `attribute "${short(kv.key)}" has a key of ${kv.key.length} characters, over attribute_key_length_limit ${maxKey}`;
    return this.value(kv.value, `attribute "${short(kv.key)}"`);
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
    const bad = c.attrs(rs.resource.attributes) ?? c.name('schema_url', rs.schemaUrl);
    if (bad) {
      note(rs.scopeSpans.reduce((s, ss) => s + ss.spans.length, 0), `resource: ${bad}`);
      continue;
    }
    const scopeSpans = [];
    for (const ss of rs.scopeSpans) {
      const badScope = scopeViolation(c, ss.scope, ss.schemaUrl);
      if (badScope) {
        note(ss.spans.length, `scope: ${badScope}`);
        continue;
      }
      const spans = ss.spans.filter((span) => {
        const r = spanViolation(c, span);
        if (r) note(1, `span "${short(span.name)}": ${r}`);
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
    const bad = c.attrs(rl.resource.attributes) ?? c.name('schema_url', rl.schemaUrl);
    if (bad) {
      note(rl.scopeLogs.reduce((s, sl) => s + sl.logRecords.length, 0), `resource: ${bad}`);
      continue;
    }
    const scopeLogs = [];
    for (const sl of rl.scopeLogs) {
      const badScope = scopeViolation(c, sl.scope, sl.schemaUrl);
      if (badScope) {
        note(sl.logRecords.length, `scope: ${badScope}`);
        continue;
      }
      const logRecords = sl.logRecords.filter((r) => {
        const why = c.name('event_name', r.eventName) ?? c.name('severity_text', r.severityText) ?? c.attrs(r.attributes, r.body);
        if (why) note(1, `log record: ${why}`);
        return !why;
      });
      if (logRecords.length > 0) scopeLogs.push(logRecords.length === sl.logRecords.length ? sl : { ...sl, logRecords });
    }
    if (scopeLogs.length > 0) resourceLogs.push({ ...rl, scopeLogs });
  }
  return { data: rejected ? { resourceLogs } : data, rejected, reason };
}

/** The first violation of a scope (its name, version, attributes) or of its group's `schema_url`. */
function scopeViolation(c: Checker, scope: InstrumentationScope, schemaUrl: string): string | undefined {
  return c.name('name', scope.name) ?? c.name('version', scope.version) ?? c.name('schema_url', schemaUrl) ?? c.attrs(scope.attributes);
}

/** The first violation of a span: its name, trace state, status message, attributes, then its events' and links'. */
function spanViolation(c: Checker, span: Span): string | undefined {
  const r = c.name('name', span.name) ?? c.name('trace_state', span.traceState) ?? c.text('status message', span.status.message) ?? c.attrs(span.attributes);
  if (r) return r;
  for (let i = 0; i < span.events.length; i++) {
    const e = span.events[i]!;
    const why = c.name('name', e.name) ?? c.attrs(e.attributes);
    if (why) return `event ${i}: ${why}`;
  }
  for (let i = 0; i < span.links.length; i++) {
    const l = span.links[i]!;
    const why = c.name('trace_state', l.traceState) ?? c.attrs(l.attributes);
    if (why) return `link ${i}: ${why}`;
  }
  return undefined;
}

/** Removes the records over the limits. Payloads within them are returned as they are. */
export function applyLimits(p: Payload, limits: OtlpLimits): LimitResult {
  if (limits.attribute_count_limit === 0 && limits.attribute_value_length_limit === 0 && limits.attribute_key_length_limit === 0 && limits.name_length_limit === 0) {
    return { payload: p, rejected: 0 };
  }
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
