/**
 * `privacy` on analytics events: governance and consent decide per event whether it keeps its
 * (pseudonymised) identity, is anonymised, or is dropped; then identity fields, name, context,
 * properties and user properties are treated by the {@link Scrubber}.
 *
 * - Governance: an event whose `privacy_level` ranks above `governance.allowed_level` (or is not
 *   one of `governance.levels`) gets `governance.action`. Events without a level pass.
 * - Consent: `event.consent[consent.purpose]`; absent ⇒ `consent.default` (denied unless
 *   configured). Without consent the event gets `consent.action`.
 * - Anonymise: `user_id`, `device_id`, `session_id` are removed (set to `undefined`) whatever
 *   `identity.fields` says, as are identity attributes among the properties, the context keys in
 *   `anonymize.remove` (client IP, user agent) and, unless `anonymize.keep_user_properties`, the
 *   user properties. No pseudonym is written. The event keeps its name, time, insert_id, category
 *   and non-personal properties, so it still counts.
 * - Otherwise the identity fields get `identity.action` (pseudonymize by default).
 * The structural context keys (`source`, `rule`, `trace_id`, `span_id`) and `insert_id`,
 * `time_unix_nano`, `consent`, `privacy_level`, `category` are left as they are.
 */
import type { AnalyticsEvent } from '../../src/event.js';
import { ACT, SRC, SUMMARY_KEYS, type Accounting } from './accounting.js';
import type { PrivacyConfig } from './config.js';
import { DROP, type Scrubber } from './scrub.js';

/** Context keys the gateway itself sets from ids and rules: never personal data. */
const STRUCTURAL_CONTEXT = new Set(['source', 'rule', 'trace_id', 'span_id']);
const SRC_ANONYMIZE = SRC.anonymize;
const A_DROP = ACT.drop;

/** What happens to one item. */
export const KEEP = 0;
export const ANONYMIZE = 1;
export const DROP_ITEM = 2;
export type Outcome = typeof KEEP | typeof ANONYMIZE | typeof DROP_ITEM;

/** Outcome and reason of the governance and consent checks. */
export interface Decision {
  outcome: Outcome;
  reason: 'consent' | 'privacy_level' | undefined;
}

export class EventPolicy {
  private readonly userId: boolean;
  private readonly deviceId: boolean;
  private readonly sessionId: boolean;
  private readonly consentRequired: boolean;
  private readonly purpose: string;
  private readonly defaultGranted: boolean;
  private readonly consentOutcome: Outcome;
  private readonly levelRank: Map<string, number>;
  /** Rank of the allowed level; -1: no limit. */
  private readonly allowedRank: number;
  private readonly levelOutcome: Outcome;
  private readonly keepUserProperties: boolean;
  private readonly summary: boolean;

  constructor(
    cfg: PrivacyConfig,
    private readonly scrubber: Scrubber,
    private readonly acc: Accounting,
  ) {
    this.userId = cfg.identity.fields.includes('user_id');
    this.deviceId = cfg.identity.fields.includes('device_id');
    this.sessionId = cfg.identity.fields.includes('session_id');
    this.consentRequired = cfg.consent.required;
    this.purpose = cfg.consent.purpose;
    this.defaultGranted = cfg.consent.default === 'granted';
    this.consentOutcome = cfg.consent.action === 'drop' ? DROP_ITEM : ANONYMIZE;
    this.levelRank = new Map(cfg.governance.levels.map((l, i) => [l, i]));
    this.allowedRank = cfg.governance.allowed_level === undefined ? -1 : this.levelRank.get(cfg.governance.allowed_level)!;
    this.levelOutcome = cfg.governance.action === 'drop' ? DROP_ITEM : ANONYMIZE;
    this.keepUserProperties = cfg.anonymize.keep_user_properties;
    this.summary = cfg.summary_attributes;
  }

  /** Governance first (its drop wins), then consent. */
  decide(e: AnalyticsEvent): Decision {
    let outcome: Outcome = KEEP;
    let reason: Decision['reason'];
    if (this.allowedRank >= 0 && e.privacy_level !== undefined) {
      const rank = this.levelRank.get(e.privacy_level);
      if (rank === undefined || rank > this.allowedRank) {
        outcome = this.levelOutcome;
        reason = 'privacy_level';
        if (outcome === DROP_ITEM) return { outcome, reason };
      }
    }
    if (this.consentRequired) {
      const c = e.consent?.[this.purpose];
      const granted = c === undefined || c === null ? this.defaultGranted : c === true;
      if (!granted && this.consentOutcome >= outcome) return { outcome: this.consentOutcome, reason: 'consent' };
    }
    return { outcome, reason };
  }

  /**
   * Treats a batch in place: returns the events kept (the same array, compacted), with dropped and
   * anonymised events counted.
   */
  process(events: AnalyticsEvent[]): AnalyticsEvent[] {
    let w = 0;
    let droppedConsent = 0;
    let droppedLevel = 0;
    let anonConsent = 0;
    let anonLevel = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const d = this.decide(e);
      if (d.outcome === DROP_ITEM) {
        if (d.reason === 'consent') droppedConsent++;
        else droppedLevel++;
        continue;
      }
      if (d.outcome === ANONYMIZE) {
        if (d.reason === 'consent') anonConsent++;
        else anonLevel++;
      }
      this.event(e, d.outcome === ANONYMIZE);
      events[w++] = e;
    }
    events.length = w;
    this.acc.items('events', 'consent', 'drop', droppedConsent);
    this.acc.items('events', 'privacy_level', 'drop', droppedLevel);
    this.acc.items('events', 'consent', 'anonymize', anonConsent);
    this.acc.items('events', 'privacy_level', 'anonymize', anonLevel);
    return events;
  }

  /**
   * Treats one event in place. Removed fields are set to `undefined` (absent in JSON and OTLP) and
   * removed context keys likewise, which keeps the objects' shapes; removed properties are gone.
   */
  event(e: AnalyticsEvent, anon: boolean): void {
    const sc = this.scrubber;
    const totals = this.acc.totals;
    const before = this.summary ? Array.from(totals) : undefined;
    if (e.user_id !== undefined && (anon || this.userId)) {
      const t = sc.identityValue(e.user_id, anon);
      e.user_id = t === DROP ? undefined : t;
    }
    if (e.device_id !== undefined && (anon || this.deviceId)) {
      const t = sc.identityValue(e.device_id, anon);
      e.device_id = t === DROP ? undefined : t;
    }
    if (e.session_id !== undefined && (anon || this.sessionId)) {
      const t = sc.identityValue(e.session_id, anon);
      e.session_id = t === DROP ? undefined : t;
    }
    e.name = sc.scanName(e.name, anon);
    sc.context(e.context, anon, STRUCTURAL_CONTEXT);
    e.properties = sc.object(e.properties, '', anon);
    if (e.user_properties !== undefined) {
      if (anon && !this.keepUserProperties) {
        this.acc.hit(SRC_ANONYMIZE, A_DROP);
        e.user_properties = undefined;
      } else {
        e.user_properties = sc.object(e.user_properties, '', anon);
      }
    }
    if (before !== undefined) {
      for (let a = 0; a < SUMMARY_KEYS.length; a++) {
        const n = totals[a]! - before[a]!;
        if (n > 0) e.context[SUMMARY_KEYS[a]!] = n;
      }
    }
  }
}
