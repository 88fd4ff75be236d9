/**
 * The value walk shared by events and OTLP items: key rules, identity pseudonymisation and value
 * detection over plain JSON values (event properties, context) and OTLP `AnyValue`s (attributes,
 * nested maps and arrays, log bodies).
 *
 * Each key is classified once (memoised, bounded) by its dotted path: a nested map's keys are
 * matched as `parent.child`, array elements keep their parent's path. In order:
 * 1. identity (`identity.attributes`): pseudonymised, or removed when the item is anonymised or
 *    `identity.action` is `drop`;
 * 2. removed on anonymised items (`anonymize.remove`);
 * 3. blocked by the key rules: `keys.action` (drop, mask to `[redacted]`, pseudonymize; an
 *    anonymised item never gets a pseudonym: pseudonymize becomes drop);
 * 4. otherwise value detection: URLs (`keys.url_keys`) and query strings (`keys.query_keys`)
 *    part by part, every other string as free text; integers of 13+ digits are checked as card
 *    numbers. Values under version keys (`keys.version_keys`) are scanned without the ipv4
 *    detector. A detector whose action is `drop` removes the value. On anonymised items a
 *    detector's `pseudonymize` becomes `mask`.
 * Values are changed in place; a plain object that loses a member is replaced by a copy (see
 * {@link Scrubber.object}), OTLP attribute lists are compacted in place.
 */
import type { JsonValue, KeyValue, AnyValue } from '../../src/pdata.js';
import { toJsonValue } from '../../src/pdata.js';
import { ACT, SRC, type Accounting } from './accounting.js';
import { VERSION_KEY_EXCEPTIONS, type PrivacyConfig } from './config.js';
import { KEY_MASK, compileValueScanner, type DetectorName, type DetectorOptions, type ScanResult, type ValueScanner } from './detectors.js';
import { DEFAULT_ALLOWED_KEYS, DEFAULT_BLOCKED_KEYS, compileKeyMatcher, type KeyMatcher } from './keys.js';

/** Returned by the walk for a value that is to be removed. */
export const DROP: unique symbol = Symbol('drop');
export type Drop = typeof DROP;

/** String kinds (low two bits of a key class). */
export const K_TEXT = 0;
export const K_URL = 1;
export const K_QUERY = 2;
const KIND_MASK = 3;
const F_IDENTITY = 4;
const F_ANON_REMOVE = 8;
const F_BLOCKED = 16;
/** A version key: scanned without the ipv4 detector. Part of the kind handed to {@link Scrubber.scanString}. */
export const F_VERSION = 32;
const SCAN_KIND = KIND_MASK | F_VERSION;

/** Bound of the key-class memo (distinct paths). */
const CLASS_CACHE_SIZE = 8192;
/** Integers from here up have 13+ digits and may be card numbers. */
const MIN_CARD_INT = 1e12;

const A_MASK = ACT.mask;
const A_DROP = ACT.drop;
const A_PSEUDO = ACT.pseudonymize;

/** Glob list → predicate (the key matcher's `allowed` verdict), or null for an empty list. */
function globs(list: readonly string[]): KeyMatcher | null {
  return list.length === 0 ? null : compileKeyMatcher({ allowed: list, cacheSize: 0 });
}

export class Scrubber {
  /** Scanner for items with consent. */
  readonly scanner: ValueScanner;
  /** Scanner for anonymised items: no pseudonyms (detectors mask, blocked query parameters are dropped). */
  readonly anonScanner: ValueScanner;
  /** The two scanners without the ipv4 detector (their `withoutIPv4` views), for version keys; the scanners themselves when ipv4 is off. */
  private readonly versionScanner: ValueScanner;
  private readonly anonVersionScanner: ValueScanner;
  private readonly versionKeys: KeyMatcher | null;
  private readonly keyVerdict: KeyMatcher;
  private readonly identity: KeyMatcher | null;
  private readonly anonRemove: KeyMatcher | null;
  private readonly urlKeys: KeyMatcher | null;
  private readonly queryKeys: KeyMatcher | null;
  private readonly classes = new Map<string, number>();
  private readonly keyAction: number;
  private readonly identityAction: PrivacyConfig['identity']['action'];
  private readonly allowListOnly: boolean;

  constructor(
    cfg: PrivacyConfig,
    /** Keyed pseudonymiser; only called when the config pseudonymises something. */
    readonly pseudo: (value: string) => string,
    private readonly acc: Accounting,
  ) {
    const k = cfg.keys;
    const blocked = [...(k.default_lists ? DEFAULT_BLOCKED_KEYS : []), ...k.blocked_keys];
    const allowed = [...(k.default_lists ? DEFAULT_ALLOWED_KEYS : []), ...k.allowed_keys];
    this.keyVerdict = compileKeyMatcher({ blocked, allowed, mode: k.mode, cacheSize: 0 });
    this.identity = globs(cfg.identity.attributes);
    this.anonRemove = globs(cfg.anonymize.remove);
    this.urlKeys = globs(k.url_keys);
    this.queryKeys = globs(k.query_keys);
    this.versionKeys = k.version_keys.length === 0 ? null : compileKeyMatcher({ blocked: k.version_keys, allowed: VERSION_KEY_EXCEPTIONS, cacheSize: 0 });
    this.keyAction = ACT[k.action];
    this.identityAction = cfg.identity.action;
    this.allowListOnly = k.mode === 'allow_list_only';

    const detectors: Partial<Record<DetectorName, DetectorOptions>> = {};
    const anonDetectors: Partial<Record<DetectorName, DetectorOptions>> = {};
    for (const [name, d] of Object.entries(cfg.detectors) as [DetectorName, { enabled: boolean; action: DetectorOptions['action'] }][]) {
      if (!d.enabled) continue;
      detectors[name] = { action: d.action };
      anonDetectors[name] = { action: d.action === 'pseudonymize' ? 'mask' : d.action };
    }
    // A query parameter named like an identity attribute is treated by the key action too (a URL
    // has no room for a pseudonym of the right key).
    const queryMatch: KeyMatcher = (key) => (this.classify(key) & (F_IDENTITY | F_BLOCKED)) !== 0 ? 'blocked' : 'neutral';
    const onKeyHit = (a: 'drop' | 'mask' | 'pseudonymize') => acc.hit(SRC.key, ACT[a]);
    const common = {
      pseudonymize: pseudo,
      ipv4PrefixBits: cfg.detectors.ipv4.prefix_bits,
      ipv6PrefixBits: cfg.detectors.ipv6.prefix_bits,
      onHit: acc.onDetector,
    };
    this.scanner = compileValueScanner({ ...common, detectors, queryKeys: { match: queryMatch, action: k.action, onHit: onKeyHit } });
    const anonNeeded = k.action === 'pseudonymize' || Object.values(detectors).some((d) => d.action === 'pseudonymize');
    this.anonScanner = anonNeeded
      ? compileValueScanner({ ...common, detectors: anonDetectors, queryKeys: { match: queryMatch, action: k.action === 'pseudonymize' ? 'drop' : k.action, onHit: onKeyHit } })
      : this.scanner;
    // Views of the same scanners, not scanners of their own: with one compiled scanner V8 optimises
    // its scan for the configured detectors.
    this.versionScanner = this.scanner.withoutIPv4;
    this.anonVersionScanner = this.anonScanner.withoutIPv4;
  }

  /** The class of a key path: string kind plus identity / anonymise-remove / blocked flags. */
  classify(path: string): number {
    let c = this.classes.get(path);
    if (c !== undefined) return c;
    c = K_TEXT;
    if (this.identity !== null && this.identity(path) === 'allowed') c |= F_IDENTITY;
    if (this.anonRemove !== null && this.anonRemove(path) === 'allowed') c |= F_ANON_REMOVE;
    if (this.keyVerdict(path) === 'blocked') c |= F_BLOCKED;
    if (this.urlKeys !== null && this.urlKeys(path) === 'allowed') c |= K_URL;
    else if (this.queryKeys !== null && this.queryKeys(path) === 'allowed') c |= K_QUERY;
    if (this.versionKeys !== null && this.versionKeys(path) === 'blocked') c |= F_VERSION;
    if (this.classes.size >= CLASS_CACHE_SIZE) this.classes.clear();
    this.classes.set(path, c);
    return c;
  }

  /** Scans a string of a kind (`K_TEXT`, `K_URL`, `K_QUERY`, with `F_VERSION`); null when nothing was found. */
  scanString(kind: number, s: string, anon: boolean): ScanResult | null {
    const sc = (kind & F_VERSION) !== 0 ? (anon ? this.anonVersionScanner : this.versionScanner) : anon ? this.anonScanner : this.scanner;
    const k = kind & KIND_MASK;
    return k === K_TEXT ? sc.scan(s) : k === K_URL ? sc.scrubUrl(s) : sc.scrubQuery(s);
  }

  /** Scans free text that cannot be removed (a name): the masked text, or the text itself. */
  scanName(s: string, anon: boolean): string {
    const r = (anon ? this.anonScanner : this.scanner).scan(s);
    return r === null ? s : r.value;
  }

  /** Pseudonym of an identity value, or the identity action's treatment; counted. */
  identityValue(s: string, anon: boolean): string | Drop {
    if (anon || this.identityAction === 'drop') {
      this.acc.hit(SRC.identity, A_DROP);
      return DROP;
    }
    if (this.identityAction === 'keep') {
      const r = this.scanString(K_TEXT, s, false);
      return r === null ? s : r.drop ? DROP : r.value;
    }
    this.acc.hit(SRC.identity, A_PSEUDO);
    return this.pseudo(s);
  }

  // -------------------------------------------------------------------------------------------
  // JSON values (events)

  /**
   * Scrubs the members of a plain object; `prefix` is its key path ('' at the top). Values are
   * replaced in place; when a member is removed, a copy without it is returned (deleting
   * properties would slow every later access to the object).
   */
  object<T extends { [key: string]: JsonValue }>(obj: T, prefix: string, anon: boolean): T {
    let fresh: { [key: string]: JsonValue } | undefined;
    for (const key in obj) {
      const old = obj[key]!;
      const v = this.json(prefix === '' ? key : prefix + '.' + key, old, anon, false);
      if (v === DROP) {
        if (fresh === undefined) {
          fresh = {};
          for (const k in obj) {
            if (k === key) break;
            fresh[k] = obj[k]!;
          }
        }
        continue;
      }
      if (fresh !== undefined) fresh[key] = v;
      else if (v !== old) (obj as { [key: string]: JsonValue })[key] = v;
    }
    return (fresh as T | undefined) ?? obj;
  }

  /**
   * Scrubs an event context in place: removed keys are set to `undefined` (its type allows it; JSON
   * and OTLP encodings omit them). Keys in `skip` are left as they are. The context is made by the
   * gateway, so `allow_list_only` does not apply to its keys; the block list does.
   */
  context(ctx: { [key: string]: JsonValue | undefined }, anon: boolean, skip: ReadonlySet<string>): void {
    for (const key in ctx) {
      const old = ctx[key];
      if (old === undefined || skip.has(key)) continue;
      const v = this.json(key, old, anon, this.allowListOnly);
      if (v === DROP) ctx[key] = undefined;
      else if (v !== old) ctx[key] = v;
    }
  }

  /** The treated value of one key; `ignoreBlocked`: key rules do not apply (value detection does). */
  json(path: string, v: JsonValue, anon: boolean, ignoreBlocked: boolean): JsonValue | Drop {
    const c = this.classify(path);
    if (c > KIND_MASK) {
      if ((c & F_IDENTITY) !== 0) {
        if (this.identityAction === 'keep' && !anon) return this.jsonValue(path, v, c & F_VERSION, false);
        if (anon || this.identityAction === 'drop') {
          this.acc.hit(SRC.identity, A_DROP);
          return DROP;
        }
        this.acc.hit(SRC.identity, A_PSEUDO);
        return this.pseudoJson(v);
      }
      if (anon && (c & F_ANON_REMOVE) !== 0) {
        this.acc.hit(SRC.anonymize, A_DROP);
        return DROP;
      }
      if ((c & F_BLOCKED) !== 0 && !ignoreBlocked) {
        const a = anon && this.keyAction === A_PSEUDO ? A_DROP : this.keyAction;
        this.acc.hit(SRC.key, a);
        return a === A_DROP ? DROP : a === A_MASK ? KEY_MASK : this.pseudoJson(v);
      }
    }
    return this.jsonValue(path, v, c & SCAN_KIND, anon);
  }

  private jsonValue(path: string, v: JsonValue, kind: number, anon: boolean): JsonValue | Drop {
    switch (typeof v) {
      case 'string': {
        const r = this.scanString(kind, v, anon);
        return r === null ? v : r.drop ? DROP : r.value;
      }
      case 'number': {
        if (v < MIN_CARD_INT || !Number.isInteger(v)) return v;
        const r = this.scanString(K_TEXT, String(v), anon);
        return r === null ? v : r.drop ? DROP : r.value;
      }
      case 'object': {
        if (v === null) return v;
        if (Array.isArray(v)) {
          let w = 0;
          for (let i = 0; i < v.length; i++) {
            const x = this.jsonValue(path, v[i]!, kind, anon);
            if (x === DROP) continue;
            v[w++] = x;
          }
          v.length = w;
          return v;
        }
        return this.object(v, path, anon);
      }
      default:
        return v;
    }
  }

  private pseudoJson(v: JsonValue): JsonValue {
    if (typeof v === 'string') return this.pseudo(v);
    if (typeof v === 'number') return this.pseudo(String(v));
    if (v === null || typeof v === 'boolean') return v;
    if (Array.isArray(v)) return v.map((x) => this.pseudoJson(x));
    return this.pseudo(JSON.stringify(v));
  }

  // -------------------------------------------------------------------------------------------
  // OTLP values (spans, log records, resources)

  /** Scrubs a list of attributes in place (removed ones are spliced out); `prefix` as in {@link object}. */
  attributes(attrs: KeyValue[], prefix: string, anon: boolean): void {
    let w = 0;
    for (let r = 0; r < attrs.length; r++) {
      const kv = attrs[r]!;
      const v = this.any(prefix === '' ? kv.key : prefix + '.' + kv.key, kv.value, anon);
      if (v === DROP) continue;
      if (v !== kv.value) kv.value = v;
      attrs[w++] = kv;
    }
    attrs.length = w;
  }

  /** The treated value of one attribute. */
  any(path: string, v: AnyValue, anon: boolean): AnyValue | Drop {
    const c = this.classify(path);
    if (c > KIND_MASK) {
      if ((c & F_IDENTITY) !== 0) {
        if (this.identityAction === 'keep' && !anon) return this.anyValue(path, v, c & F_VERSION, false);
        if (anon || this.identityAction === 'drop') {
          this.acc.hit(SRC.identity, A_DROP);
          return DROP;
        }
        this.acc.hit(SRC.identity, A_PSEUDO);
        return this.pseudoAny(v);
      }
      if (anon && (c & F_ANON_REMOVE) !== 0) {
        this.acc.hit(SRC.anonymize, A_DROP);
        return DROP;
      }
      if ((c & F_BLOCKED) !== 0) {
        const a = anon && this.keyAction === A_PSEUDO ? A_DROP : this.keyAction;
        this.acc.hit(SRC.key, a);
        return a === A_DROP ? DROP : a === A_MASK ? { stringValue: KEY_MASK } : this.pseudoAny(v);
      }
    }
    return this.anyValue(path, v, c & SCAN_KIND, anon);
  }

  /** Value detection on an AnyValue of a given string kind (a log body is `K_TEXT` at path ''). */
  anyValue(path: string, v: AnyValue, kind: number, anon: boolean): AnyValue | Drop {
    if ('stringValue' in v) {
      const r = this.scanString(kind, v.stringValue, anon);
      return r === null ? v : r.drop ? DROP : { stringValue: r.value };
    }
    if ('intValue' in v) {
      const n = v.intValue;
      if (typeof n === 'number' && n < MIN_CARD_INT) return v;
      const r = this.scanString(K_TEXT, String(n), anon);
      return r === null ? v : r.drop ? DROP : { stringValue: r.value };
    }
    if ('arrayValue' in v) {
      const values = v.arrayValue.values;
      let w = 0;
      for (let i = 0; i < values.length; i++) {
        const x = this.anyValue(path, values[i]!, kind, anon);
        if (x === DROP) continue;
        values[w++] = x;
      }
      values.length = w;
      return v;
    }
    if ('kvlistValue' in v) {
      this.attributes(v.kvlistValue.values, path, anon);
      return v;
    }
    return v; // bool, double, bytes, empty: nothing to detect
  }

  private pseudoAny(v: AnyValue): AnyValue {
    if ('stringValue' in v) return { stringValue: this.pseudo(v.stringValue) };
    if ('intValue' in v) return { stringValue: this.pseudo(String(v.intValue)) };
    if ('arrayValue' in v) return { arrayValue: { values: v.arrayValue.values.map((x) => this.pseudoAny(x)) } };
    if ('kvlistValue' in v || 'bytesValue' in v || 'doubleValue' in v) return { stringValue: this.pseudo(JSON.stringify(toJsonValue(v))) };
    return v;
  }
}
