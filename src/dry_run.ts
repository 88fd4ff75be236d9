/**
 * A dry run of analytics rules and privacy: an OTLP body in, the events the `analytics` processor
 * makes from it and what `privacy` then keeps, changes or drops out. Nothing runs but these two
 * processors' own code (`EventMaker`, `compilePrivacy`), in-process, with their zod schemas; used by
 * `otelytics rules test` and the status page's rule playground. Nothing is sent anywhere.
 *
 * Input forms (OTLP/JSON keys per the OTLP spec, "JSON Protobuf Encoding"; protobuf per
 * opentelemetry-proto `collector/{trace,logs}/v1`):
 * - an `ExportTraceServiceRequest` or `ExportLogsServiceRequest`, as OTLP/JSON or protobuf,
 *   optionally gzip-compressed (detected by its magic bytes);
 * - in OTLP/JSON also a single span (an object with `spanId` or `kind`) or a single log record, or
 *   an array of them, wrapped into one request with an optional `resource` (attributes object).
 */
import zlib from 'node:zlib';
import type { z } from 'zod';
import { zodErrors } from './config/resolve.js';
import { ConfigError, OtlpDecodeError, errorMessage } from './errors.js';
import type { AnalyticsEvent } from './event.js';
import { decodeLogsJson, decodeTracesJson } from './otlp/json.js';
import { decodeLogsRequest, decodeTracesRequest } from './otlp/proto.js';
import type { JsonValue, LogsData, TracesData } from './pdata.js';
import { logRecordCount, spanCount } from './pdata.js';
import { Telemetry } from './telemetry.js';
import { EventMaker, analyticsProcessorFactory } from '../processors/analytics/index.js';
import type { AnalyticsConfig } from '../processors/analytics/config.js';
import { compilePrivacy, privacyProcessorFactory, type PrivacyConfig } from '../processors/privacy/index.js';
import { DROP_ITEM, ANONYMIZE } from '../processors/privacy/events.js';

/** A decoded OTLP body. */
export type DryRunInput = { signal: 'traces'; data: TracesData } | { signal: 'logs'; data: LogsData };

/** How privacy changed one path of an event: `removed`, `changed` (new value given) or `added`. */
export interface PrivacyChange {
  /** Path in the event, its keys joined by `::` (attribute keys keep their dots): `context::client.address`. */
  path: string;
  action: 'removed' | 'changed' | 'added';
  /** The value after privacy (for `changed` and `added`). */
  after?: JsonValue;
}

/** One event made by the analytics rules and what privacy did to it. */
export interface DryRunEvent {
  /** As the analytics processor made it. */
  made: AnalyticsEvent;
  /** As exporters get it after privacy; absent when privacy dropped it. */
  exported?: AnalyticsEvent;
  /** Why privacy dropped or anonymised it (`consent`, `privacy_level`); absent when it kept the identity. */
  privacy?: { outcome: 'dropped' | 'anonymized'; reason: string };
  changes: PrivacyChange[];
}

export interface DryRunResult {
  signal: DryRunInput['signal'];
  /** Spans or log records read. */
  items: number;
  events: DryRunEvent[];
}

/**
 * Decodes an OTLP traces or logs body. `signal` resolves protobuf bodies, which do not say what
 * they hold; without it both are tried and the one that reads as non-empty wins.
 * @throws OtlpDecodeError naming what is wrong (invalid JSON, unknown shape, JSON records with no
 *   span or log record field, malformed protobuf or protobuf with no OTLP field).
 */
export function decodeOtlpBody(body: Uint8Array | string, signal?: 'traces' | 'logs'): DryRunInput {
  let bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (err) {
      throw new OtlpDecodeError(`the body looks gzip-compressed but cannot be decompressed: ${errorMessage(err)}`);
    }
  }
  const text = bytes.toString('utf8').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) return decodeJson(text, signal);
  const tries: DryRunInput[] = [];
  const errors: string[] = [];
  for (const s of signal ? [signal] : (['traces', 'logs'] as const)) {
    try {
      const d: DryRunInput = s === 'traces' ? { signal: s, data: decodeTracesRequest(bytes) } : { signal: s, data: decodeLogsRequest(bytes) };
      // Bytes that decode to no resource at all hold only fields OTLP does not have.
      const resources = d.signal === 'traces' ? d.data.resourceSpans.length : d.data.resourceLogs.length;
      if (bytes.length > 0 && resources === 0) errors.push(`as ${s}: no OTLP field in it`);
      else if (signal || itemsOf(d) > 0) tries.push(d);
    } catch (err) {
      errors.push(`as ${s}: ${errorMessage(err)}`);
    }
  }
  if (tries.length === 1) return tries[0]!;
  if (tries.length > 1) throw new OtlpDecodeError('the protobuf body reads both as traces and as logs; say which it is (--signal traces|logs)');
  throw new OtlpDecodeError(`not an OTLP/JSON document, and not a protobuf traces or logs request (${errors.join('; ') || 'no spans or log records in it'})`);
}

/** The fields of an OTLP/JSON span or log record, in both spellings the OTLP/JSON decoders read. */
const RECORD_FIELDS = new Set(
  [
    'traceId', 'spanId', 'traceState', 'parentSpanId', 'flags', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano', 'attributes',
    'droppedAttributesCount', 'events', 'droppedEventsCount', 'links', 'droppedLinksCount', 'status',
    'timeUnixNano', 'observedTimeUnixNano', 'severityNumber', 'severityText', 'body', 'eventName',
  ].flatMap((k) => [k, k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
);

function decodeJson(text: string, signal: 'traces' | 'logs' | undefined): DryRunInput {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new OtlpDecodeError(`invalid JSON: ${errorMessage(err)}`);
  }
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (obj(root) && ('resourceSpans' in root || 'resource_spans' in root)) return { signal: 'traces', data: decodeTracesJson(text) };
  if (obj(root) && ('resourceLogs' in root || 'resource_logs' in root)) return { signal: 'logs', data: decodeLogsJson(text) };
  // A single record, a list of them, or { resource, spans | logRecords }.
  let records: unknown[];
  let resource: unknown;
  if (Array.isArray(root)) records = root;
  else if (obj(root) && Array.isArray(root.spans)) ({ spans: records, resource } = root as { spans: unknown[]; resource?: unknown });
  else if (obj(root) && Array.isArray(root.logRecords)) ({ logRecords: records, resource } = root as { logRecords: unknown[]; resource?: unknown });
  else records = [root];
  if (records.length === 0 || !records.every(obj)) throw new OtlpDecodeError('expected an OTLP/JSON request (resourceSpans or resourceLogs), a span, a log record, or a list of them');
  const stranger = records.findIndex((r) => !Object.keys(r as object).some((k) => RECORD_FIELDS.has(k)));
  if (stranger >= 0) {
    const keys = Object.keys(records[stranger] as object);
    throw new OtlpDecodeError(
      `not OTLP: expected an OTLP/JSON request (resourceSpans or resourceLogs), a span or a log record, but ${records.length > 1 ? `item ${stranger}` : 'the document'} has ${keys.length > 0 ? `no span or log record field (it has ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''})` : 'no fields'}`,
    );
  }
  const isSpan = (r: Record<string, unknown>) => 'spanId' in r && ('kind' in r || 'startTimeUnixNano' in r || 'endTimeUnixNano' in r || 'status' in r);
  const kind = signal ?? (records.every((r) => isSpan(r as Record<string, unknown>)) ? 'traces' : 'logs');
  const res = obj(resource) ? resource : { attributes: [] };
  if (kind === 'traces') return { signal: 'traces', data: decodeTracesJson(JSON.stringify({ resourceSpans: [{ resource: res, scopeSpans: [{ spans: records }] }] })) };
  return { signal: 'logs', data: decodeLogsJson(JSON.stringify({ resourceLogs: [{ resource: res, scopeLogs: [{ logRecords: records }] }] })) };
}

function itemsOf(input: DryRunInput): number {
  return input.signal === 'traces' ? spanCount(input.data) : logRecordCount(input.data);
}

/** A validated processor config, or the errors of its validation with `::` paths under `base`. */
export type Validated<T> = { ok: true; config: T } | { ok: false; errors: ConfigError[] };

function validate<T>(schema: z.ZodType<T, unknown>, raw: unknown, base: string[]): Validated<T> {
  const r = schema.safeParse(raw ?? {});
  return r.success ? { ok: true, config: r.data } : { ok: false, errors: zodErrors(base, r.error, schema) };
}

/** Validates an `analytics` processor config (rules compiled too) with the processor's own schema. */
export function validateAnalytics(raw: unknown, base: string[] = ['analytics']): Validated<AnalyticsConfig> {
  return validate(analyticsProcessorFactory.configSchema, raw, base);
}

/** Validates a `privacy` processor config with the processor's own schema. */
export function validatePrivacy(raw: unknown, base: string[] = ['privacy']): Validated<PrivacyConfig> {
  return validate(privacyProcessorFactory.configSchema, raw, base);
}

/**
 * Runs the analytics rules on the input, then privacy (when given) on each event made.
 * `privacy` treats each event as it would in a pipeline; a config without a pseudonymisation key is
 * refused by its schema before this point.
 */
export function dryRun(input: DryRunInput, analytics: AnalyticsConfig, privacy?: PrivacyConfig): DryRunResult {
  const maker = new EventMaker(analytics);
  const made: AnalyticsEvent[] = [];
  if (input.signal === 'traces') maker.fromTraces(input.data, made);
  else maker.fromLogs(input.data, made);
  const policy = privacy ? compilePrivacy(privacy, new Telemetry(), 'privacy', 'dry-run') : undefined;
  const events = made.map((e): DryRunEvent => {
    const original = structuredClone(e);
    if (!policy) return { made: original, exported: e, changes: [] };
    const decision = policy.events.decide(e);
    const kept = policy.events.process([e]);
    policy.accounting.flush();
    const privacyOutcome =
      decision.outcome === DROP_ITEM ? { outcome: 'dropped' as const, reason: decision.reason ?? 'privacy' } : decision.outcome === ANONYMIZE ? { outcome: 'anonymized' as const, reason: decision.reason ?? 'privacy' } : undefined;
    if (kept.length === 0) return { made: original, privacy: privacyOutcome!, changes: [] };
    const exported = JSON.parse(JSON.stringify(kept[0])) as AnalyticsEvent;
    return { made: original, exported, ...(privacyOutcome ? { privacy: privacyOutcome } : {}), changes: diff(original, exported) };
  });
  return { signal: input.signal, items: itemsOf(input), events };
}

/** The paths where `after` differs from `before` (objects compared key by key, arrays as values). */
export function diff(before: unknown, after: unknown, path: string[] = []): PrivacyChange[] {
  const out: PrivacyChange[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    for (const k of Object.keys(before)) {
      if (before[k] === undefined) continue;
      if (after[k] === undefined) out.push({ path: [...path, k].join('::'), action: 'removed' });
      else out.push(...diff(before[k], after[k], [...path, k]));
    }
    for (const k of Object.keys(after)) {
      if (after[k] !== undefined && (!(k in before) || before[k] === undefined)) out.push({ path: [...path, k].join('::'), action: 'added', after: after[k] as JsonValue });
    }
    return out;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) out.push({ path: path.join('::'), action: 'changed', after: after as JsonValue });
  return out;
}
