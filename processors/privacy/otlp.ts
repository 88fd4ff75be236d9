/**
 * `privacy` on raw telemetry (traces and logs pipelines), so spans and log records forwarded
 * elsewhere are cleaned too.
 *
 * - Consent per span / log record: the first of `consent.attributes` present on the record, then
 *   on its resource (`true`/`false` booleans or strings); absent ⇒ `consent.default`. Without
 *   consent the record gets `consent.action`: dropped, or anonymised (identity attributes and
 *   `anonymize.remove` attributes removed, no pseudonyms written). Governance levels apply to
 *   events only.
 * - A resource (and its scopes) is shared by many records, so it is judged by its own consent
 *   attribute: with consent its identity attributes are pseudonymised, otherwise removed.
 * - Treated: resource and scope attributes; span names, attributes (nested maps and arrays), status
 *   messages, span event names and attributes, link attributes; log record bodies (string, map,
 *   array) and attributes. Trace/span ids, times, kinds and severities are left alone.
 * - Resources and scopes left without records are removed; a request left empty is not passed on.
 */
import { consentGranted } from '../../src/consent.js';
import type { AnyValue, InstrumentationScope, KeyValue, LogRecord, LogsData, Resource, Span, TracesData } from '../../src/pdata.js';
import { SUMMARY_KEYS, type Accounting } from './accounting.js';
import type { PrivacyConfig } from './config.js';
import { ANONYMIZE, DROP_ITEM, KEEP, type Outcome } from './events.js';
import { DROP, K_TEXT, type Scrubber } from './scrub.js';

/** Consent of a list of attributes (src/consent.ts): true, false, or undefined when none of `keys` is present. */
function consentOf(attrs: readonly KeyValue[], keys: readonly string[]): boolean | undefined {
  for (const key of keys) {
    for (let i = 0; i < attrs.length; i++) {
      if (attrs[i]!.key !== key) continue;
      return consentGranted(attrs[i]!.value);
    }
  }
  return undefined;
}

export class OtlpPolicy {
  private readonly required: boolean;
  private readonly keys: readonly string[];
  private readonly defaultGranted: boolean;
  private readonly denied: Outcome;
  private readonly summary: boolean;

  constructor(
    cfg: PrivacyConfig,
    private readonly scrubber: Scrubber,
    private readonly acc: Accounting,
  ) {
    this.required = cfg.consent.required;
    this.keys = cfg.consent.attributes;
    this.defaultGranted = cfg.consent.default === 'granted';
    this.denied = cfg.consent.action === 'drop' ? DROP_ITEM : ANONYMIZE;
    this.summary = cfg.summary_attributes;
  }

  /** Outcome for a record given its own and its resource's consent. */
  private decide(own: boolean | undefined, resource: boolean | undefined): Outcome {
    if (!this.required) return KEEP;
    const c = own ?? resource;
    return (c === undefined ? this.defaultGranted : c) ? KEEP : this.denied;
  }

  /** Treats a traces request in place; returns the number of spans left. */
  traces(data: TracesData): number {
    return this.treat('traces', data.resourceSpans, (rs) => rs.scopeSpans, (ss) => ss.spans, (span, anon) => this.span(span, anon));
  }

  /** Treats a logs request in place; returns the number of log records left. */
  logs(data: LogsData): number {
    return this.treat('logs', data.resourceLogs, (rl) => rl.scopeLogs, (sl) => sl.logRecords, (r, anon) => this.logRecord(r, anon));
  }

  /**
   * The walk both signals share: resource and scope attributes by the resource's own consent,
   * each record by its consent (dropped, anonymised or kept), then resources and scopes left
   * without records removed, all in place. Returns the number of records left.
   */
  private treat<R extends { resource: Resource }, S extends { scope: InstrumentationScope }, I extends { attributes: KeyValue[] }>(
    signal: 'traces' | 'logs',
    resources: R[],
    scopesOf: (r: R) => S[],
    recordsOf: (s: S) => I[],
    treatRecord: (record: I, anon: boolean) => void,
  ): number {
    let left = 0;
    let dropped = 0;
    let anonymized = 0;
    let wr = 0;
    const sc = this.scrubber;
    for (const r of resources) {
      const resConsent = this.required ? consentOf(r.resource.attributes, this.keys) : undefined;
      const resAnon = this.decide(undefined, resConsent) !== KEEP;
      sc.attributes(r.resource.attributes, '', resAnon);
      const scopes = scopesOf(r);
      let ws = 0;
      for (const s of scopes) {
        sc.attributes(s.scope.attributes, '', resAnon);
        const records = recordsOf(s);
        let w = 0;
        for (const record of records) {
          const outcome = this.decide(this.required ? consentOf(record.attributes, this.keys) : undefined, resConsent);
          if (outcome === DROP_ITEM) {
            dropped++;
            continue;
          }
          if (outcome === ANONYMIZE) anonymized++;
          treatRecord(record, outcome === ANONYMIZE);
          records[w++] = record;
        }
        records.length = w;
        left += w;
        if (w > 0) scopes[ws++] = s;
      }
      scopes.length = ws;
      if (ws > 0) resources[wr++] = r;
    }
    resources.length = wr;
    this.acc.items(signal, 'consent', 'drop', dropped);
    this.acc.items(signal, 'consent', 'anonymize', anonymized);
    return left;
  }

  private span(span: Span, anon: boolean): void {
    const sc = this.scrubber;
    const before = this.summary ? Array.from(this.acc.totals) : undefined;
    span.name = sc.scanName(span.name, anon);
    sc.attributes(span.attributes, '', anon);
    if (span.status.message !== '') span.status.message = sc.scanName(span.status.message, anon);
    for (const ev of span.events) {
      ev.name = sc.scanName(ev.name, anon);
      sc.attributes(ev.attributes, '', anon);
    }
    for (const link of span.links) sc.attributes(link.attributes, '', anon);
    if (before !== undefined) this.addSummary(span.attributes, before);
  }

  private logRecord(r: LogRecord, anon: boolean): void {
    const sc = this.scrubber;
    const before = this.summary ? Array.from(this.acc.totals) : undefined;
    sc.attributes(r.attributes, '', anon);
    const body = sc.anyValue('', r.body, K_TEXT, anon);
    if (body === DROP) r.body = {};
    else if (body !== r.body) r.body = body as AnyValue;
    if (before !== undefined) this.addSummary(r.attributes, before);
  }

  private addSummary(attrs: KeyValue[], before: number[]): void {
    const totals = this.acc.totals;
    for (let a = 0; a < SUMMARY_KEYS.length; a++) {
      const n = totals[a]! - before[a]!;
      if (n > 0) attrs.push({ key: SUMMARY_KEYS[a]!, value: { intValue: n } });
    }
  }
}
