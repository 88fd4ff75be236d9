/**
 * What the `catalogue` processor keeps of the events it sees: per event name its count, first and
 * last seen (event time and wall time), its sources (the analytics rule that made it, or the log
 * event taken as it is), `service.name`s, SDK languages (`telemetry.sdk.language` in the context),
 * categories and privacy levels, and per property the JSON types seen with their counts. Never a
 * value, except a few sample values of properties marked safe ({@link SampleSelector}).
 *
 * Bounded: at most `maxEventNames` names (events of further names are counted in
 * `overflow.events`), `maxPropertiesPerEvent` properties per name (further ones counted per name),
 * `maxValuesPerField` distinct services, sources, languages, categories and levels per name (the
 * rest counted under {@link OTHER}), `maxSamples` samples per property, each at most
 * {@link SAMPLE_CHARS} characters.
 */
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';

/** The JSON types a property value is recorded as (JSON Schema's names). */
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';
export const JSON_TYPES: readonly JsonType[] = ['string', 'integer', 'number', 'boolean', 'object', 'array', 'null'];

/** Key under which values beyond `maxValuesPerField` are counted. */
export const OTHER = '(other)';
/** Longest sample value kept, in characters (longer ones are cut and end in "…"). */
export const SAMPLE_CHARS = 100;

export interface CatalogueLimits {
  maxEventNames: number;
  maxPropertiesPerEvent: number;
  maxValuesPerField: number;
  maxSamples: number;
}

export const DEFAULT_LIMITS: CatalogueLimits = { maxEventNames: 1000, maxPropertiesPerEvent: 200, maxValuesPerField: 50, maxSamples: 5 };

/** When an event name was seen: the event's own time (ns since the epoch, decimal) and the gateway's clock (ISO 8601). */
export interface SeenAt {
  time_unix_nano: string;
  wall: string;
}

export interface PropertySnapshot {
  /** Events of this name that carried the property. */
  count: number;
  /** Events per JSON type of the value. */
  types: Partial<Record<JsonType, number>>;
  /** Sample values, for properties marked safe only. */
  samples?: JsonValue[];
}

export interface EventSnapshot {
  name: string;
  count: number;
  first_seen: SeenAt;
  last_seen: SeenAt;
  /** `rule:<id>` for events an analytics rule made, `log:<event name>` for log events taken as they are, else the context's `source`. */
  sources: Record<string, number>;
  services: Record<string, number>;
  sdk_languages: Record<string, number>;
  categories: Record<string, number>;
  privacy_levels: Record<string, number>;
  properties: Record<string, PropertySnapshot>;
  /** Property occurrences not recorded: the name already had `max_properties_per_event` properties. */
  properties_overflow: number;
}

/** The whole catalogue as JSON: the API's answer, the persisted file, the CLI's `--json`. */
export interface CatalogueSnapshot {
  version: 1;
  /** Wall time of the first event recorded (ISO 8601); absent when none was. */
  since?: string;
  /** Wall time the snapshot was taken. */
  taken: string;
  limits: { max_event_names: number; max_properties_per_event: number; max_values_per_field: number; max_samples: number };
  overflow: {
    /** Events not recorded because `max_event_names` names were known already. */
    events: number;
  };
  events: EventSnapshot[];
}

/** Which properties may keep sample values: by event name and property name. */
export type SampleSelector = (event: string, property: string) => boolean;

class PropertyEntry {
  count = 0;
  string = 0;
  integer = 0;
  number = 0;
  boolean = 0;
  object = 0;
  array = 0;
  null = 0;
  samples: JsonValue[] | undefined;
  /** Whether samples are kept (decided once per property). */
  constructor(readonly sampled: boolean) {
    if (sampled) this.samples = [];
  }
}

/** A bounded count per distinct string. */
class Tally {
  readonly counts = new Map<string, number>();
  add(key: string, limit: number, n = 1): void {
    const c = this.counts.get(key);
    if (c !== undefined) this.counts.set(key, c + n);
    else if (this.counts.size < limit) this.counts.set(key, n);
    else this.counts.set(OTHER, (this.counts.get(OTHER) ?? 0) + n);
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  }
}

class EventEntry {
  count = 0;
  firstTime = '';
  lastTime = '';
  firstWall = 0;
  lastWall = 0;
  readonly sources = new Tally();
  readonly services = new Tally();
  readonly languages = new Tally();
  readonly categories = new Tally();
  readonly levels = new Tally();
  readonly properties = new Map<string, PropertyEntry>();
  propertiesOverflow = 0;
  constructor(readonly name: string) {}
}

/** Whether decimal string `a` is a smaller number than `b` (both without leading zeros). */
function lessNanos(a: string, b: string): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

/** The JSON type of a value (an integer is `integer`, any other number `number`). */
export function jsonType(v: JsonValue | undefined): JsonType {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(v) ? 'integer' : 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return v === null ? 'null' : Array.isArray(v) ? 'array' : 'object';
    default:
      return 'null';
  }
}

function sampleOf(v: JsonValue): JsonValue | undefined {
  if (typeof v === 'string') return v.length > SAMPLE_CHARS ? v.slice(0, SAMPLE_CHARS - 1) + '…' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  return undefined; // objects, arrays and null are not sampled
}

export class CatalogueRecorder {
  private readonly events = new Map<string, EventEntry>();
  private overflowEvents = 0;
  private since = 0;
  /** Overflow since the last {@link takeOverflow}: events of unknown names, property occurrences. */
  private pending = { events: 0, properties: 0 };

  constructor(
    readonly limits: CatalogueLimits = DEFAULT_LIMITS,
    /** Which properties keep samples; decided when a property is first recorded. */
    public sample: SampleSelector = () => false,
  ) {}

  /** Records a batch of events; `wall` is the gateway's clock (ms), read once per batch. */
  record(events: readonly AnalyticsEvent[], wall: number = Date.now()): void {
    if (this.since === 0 && events.length > 0) this.since = wall;
    const lim = this.limits;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      let entry = this.events.get(e.name);
      if (entry === undefined) {
        if (this.events.size >= lim.maxEventNames) {
          this.overflowEvents++;
          this.pending.events++;
          continue;
        }
        entry = new EventEntry(e.name);
        this.events.set(e.name, entry);
      }
      entry.count++;
      const t = e.time_unix_nano;
      if (entry.count === 1) {
        entry.firstTime = entry.lastTime = t;
        entry.firstWall = entry.lastWall = wall;
      } else {
        if (lessNanos(t, entry.firstTime)) entry.firstTime = t;
        if (lessNanos(entry.lastTime, t)) entry.lastTime = t;
        entry.lastWall = wall;
      }
      const ctx = e.context;
      const max = lim.maxValuesPerField;
      entry.sources.add(ctx.rule !== undefined ? 'rule:' + ctx.rule : ctx.source === 'log' ? 'log:' + e.name : String(ctx.source), max);
      const service = ctx['service.name'];
      if (typeof service === 'string') entry.services.add(service, max);
      const lang = ctx['telemetry.sdk.language'];
      if (typeof lang === 'string') entry.languages.add(lang, max);
      if (e.category !== undefined) entry.categories.add(e.category, max);
      if (e.privacy_level !== undefined) entry.levels.add(e.privacy_level, max);
      const props = e.properties;
      for (const key in props) {
        let p = entry.properties.get(key);
        if (p === undefined) {
          if (entry.properties.size >= lim.maxPropertiesPerEvent) {
            entry.propertiesOverflow++;
            this.pending.properties++;
            continue;
          }
          p = new PropertyEntry(this.sample(e.name, key));
          entry.properties.set(key, p);
        }
        const v = props[key];
        p.count++;
        p[jsonType(v)]++;
        if (p.samples !== undefined && p.samples.length < lim.maxSamples && v !== undefined) {
          const s = sampleOf(v);
          if (s !== undefined && !p.samples.includes(s)) p.samples.push(s);
        }
      }
    }
  }

  /** Overflow counted since the last call (for the processor's counters). */
  takeOverflow(): { events: number; properties: number } {
    const p = this.pending;
    this.pending = { events: 0, properties: 0 };
    return p;
  }

  /** Number of event names recorded. */
  get size(): number {
    return this.events.size;
  }

  snapshot(now: number = Date.now()): CatalogueSnapshot {
    const lim = this.limits;
    const events: EventSnapshot[] = [];
    for (const e of this.events.values()) {
      const properties: Record<string, PropertySnapshot> = {};
      for (const [key, p] of [...e.properties].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1))) {
        const types: Partial<Record<JsonType, number>> = {};
        for (const t of JSON_TYPES) if (p[t] > 0) types[t] = p[t];
        properties[key] = { count: p.count, types, ...(p.samples !== undefined ? { samples: [...p.samples] } : {}) };
      }
      events.push({
        name: e.name,
        count: e.count,
        first_seen: { time_unix_nano: e.firstTime, wall: new Date(e.firstWall).toISOString() },
        last_seen: { time_unix_nano: e.lastTime, wall: new Date(e.lastWall).toISOString() },
        sources: e.sources.toJSON(),
        services: e.services.toJSON(),
        sdk_languages: e.languages.toJSON(),
        categories: e.categories.toJSON(),
        privacy_levels: e.levels.toJSON(),
        properties,
        properties_overflow: e.propertiesOverflow,
      });
    }
    events.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      version: 1,
      ...(this.since ? { since: new Date(this.since).toISOString() } : {}),
      taken: new Date(now).toISOString(),
      limits: { max_event_names: lim.maxEventNames, max_properties_per_event: lim.maxPropertiesPerEvent, max_values_per_field: lim.maxValuesPerField, max_samples: lim.maxSamples },
      overflow: { events: this.overflowEvents },
      events,
    };
  }

  /**
   * Adds a snapshot (a persisted catalogue) to what is recorded, within this recorder's limits:
   * counts add up, first and last seen widen, samples are kept only for properties this recorder
   * samples. Entries beyond the limits are counted as overflow.
   */
  load(s: CatalogueSnapshot): void {
    const lim = this.limits;
    if (s.since) {
      const since = Date.parse(s.since);
      if (Number.isFinite(since) && (this.since === 0 || since < this.since)) this.since = since;
    }
    this.overflowEvents += s.overflow?.events ?? 0;
    for (const es of s.events) {
      let entry = this.events.get(es.name);
      if (entry === undefined) {
        if (this.events.size >= lim.maxEventNames) {
          this.overflowEvents += es.count;
          continue;
        }
        entry = new EventEntry(es.name);
        this.events.set(es.name, entry);
      }
      const firstWall = Date.parse(es.first_seen.wall);
      const lastWall = Date.parse(es.last_seen.wall);
      if (entry.count === 0) {
        entry.firstTime = es.first_seen.time_unix_nano;
        entry.lastTime = es.last_seen.time_unix_nano;
        entry.firstWall = firstWall;
        entry.lastWall = lastWall;
      } else {
        if (lessNanos(es.first_seen.time_unix_nano, entry.firstTime)) entry.firstTime = es.first_seen.time_unix_nano;
        if (lessNanos(entry.lastTime, es.last_seen.time_unix_nano)) entry.lastTime = es.last_seen.time_unix_nano;
        entry.firstWall = Math.min(entry.firstWall, firstWall);
        entry.lastWall = Math.max(entry.lastWall, lastWall);
      }
      entry.count += es.count;
      const max = lim.maxValuesPerField;
      const tally = (t: Tally, o: Record<string, number> | undefined) => {
        for (const [k, n] of Object.entries(o ?? {})) t.add(k, max, n);
      };
      tally(entry.sources, es.sources);
      tally(entry.services, es.services);
      tally(entry.languages, es.sdk_languages);
      tally(entry.categories, es.categories);
      tally(entry.levels, es.privacy_levels);
      entry.propertiesOverflow += es.properties_overflow ?? 0;
      for (const [key, ps] of Object.entries(es.properties)) {
        let p = entry.properties.get(key);
        if (p === undefined) {
          if (entry.properties.size >= lim.maxPropertiesPerEvent) {
            entry.propertiesOverflow += ps.count;
            continue;
          }
          p = new PropertyEntry(this.sample(es.name, key));
          entry.properties.set(key, p);
        }
        p.count += ps.count;
        for (const t of JSON_TYPES) p[t] += ps.types[t] ?? 0;
        if (p.samples !== undefined) {
          for (const v of ps.samples ?? []) {
            if (p.samples.length >= lim.maxSamples) break;
            const s = sampleOf(v);
            if (s !== undefined && !p.samples.includes(s)) p.samples.push(s);
          }
        }
      }
    }
  }
}

/** Several snapshots (e.g. of two catalogue processors) as one, within the largest of their limits. */
export function mergeSnapshots(snapshots: readonly CatalogueSnapshot[], now: number = Date.now()): CatalogueSnapshot {
  const max = (f: (l: CatalogueSnapshot['limits']) => number, d: number) => Math.max(d, ...snapshots.map((s) => f(s.limits)));
  const limits: CatalogueLimits = {
    maxEventNames: max((l) => l.max_event_names, 0),
    maxPropertiesPerEvent: max((l) => l.max_properties_per_event, 0),
    maxValuesPerField: max((l) => l.max_values_per_field, 0),
    maxSamples: max((l) => l.max_samples, 0),
  };
  const sampled = new Set<string>();
  for (const s of snapshots) for (const e of s.events) for (const [k, p] of Object.entries(e.properties)) if (p.samples) sampled.add(`${e.name}\u0000${k}`);
  const r = new CatalogueRecorder(limits, (e, p) => sampled.has(`${e}\u0000${p}`));
  for (const s of snapshots) r.load(s);
  return r.snapshot(now);
}

/**
 * Checks that `v` looks like a {@link CatalogueSnapshot} (a persisted file, an API answer).
 * @throws Error naming what is wrong.
 */
export function asSnapshot(v: unknown): CatalogueSnapshot {
  const o = v as Partial<CatalogueSnapshot> | null;
  if (typeof o !== 'object' || o === null || o.version !== 1 || !Array.isArray(o.events) || typeof o.limits !== 'object') {
    throw new Error('not an otelytics event catalogue (expected {"version":1,"limits":{...},"events":[...]})');
  }
  for (const e of o.events) {
    if (typeof e?.name !== 'string' || typeof e.count !== 'number' || typeof e.properties !== 'object' || !e.first_seen || !e.last_seen) {
      throw new Error(`not an otelytics event catalogue: event entry ${JSON.stringify(e?.name ?? null)} lacks name, count, first_seen, last_seen or properties`);
    }
  }
  return o as CatalogueSnapshot;
}
