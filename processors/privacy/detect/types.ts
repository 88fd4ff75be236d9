/**
 * Names, actions, masks and defaults of the value detectors, and the scanner's public interface.
 * See ../detectors.ts for the detection rules and their sources.
 */
import type { KeyMatcher } from '../keys.js';

/** Names of the value detectors. */
export type DetectorName = 'email' | 'ipv4' | 'ipv6' | 'card' | 'iban' | 'phone' | 'bearer' | 'jwt' | 'secret' | 'birthdate';

/** All detector names. */
export const DETECTOR_NAMES: readonly DetectorName[] = Object.freeze([
  'email',
  'ipv4',
  'ipv6',
  'card',
  'iban',
  'phone',
  'bearer',
  'jwt',
  'secret',
  'birthdate',
] as const);

/**
 * What happens to a value detector's match:
 * - `mask`: replaced by the detector's mask ({@link MASKS});
 * - `drop`: the match is masked and the result says `drop: true` (the caller drops the attribute;
 *   in a query string only the parameter is removed);
 * - `pseudonymize`: replaced by the pseudonym of its canonical form (see {@link canonicalForm});
 * - `truncate`: IPs only: the address with its host bits zeroed (`203.0.113.7` → `203.0.113.0`).
 */
export type ValueAction = 'mask' | 'drop' | 'pseudonymize' | 'truncate';

/** What happens to a query parameter whose name is blocked by the key rules. */
export type KeyAction = 'drop' | 'mask' | 'pseudonymize';

/** Per-detector settings. */
export interface DetectorOptions {
  action: ValueAction;
}

/** Replacement text of each detector for the `mask` and `drop` actions. */
export const MASKS: Readonly<Record<DetectorName, string>> = Object.freeze({
  email: '[email]',
  ipv4: '[ipv4]',
  ipv6: '[ipv6]',
  card: '[card]',
  iban: '[iban]',
  phone: '[phone]',
  bearer: '[token]',
  jwt: '[jwt]',
  secret: '[secret]',
  birthdate: '[birthdate]',
});

/** Replacement of a query parameter's value whose key is blocked and whose key action is `mask`. */
export const KEY_MASK = '[redacted]';

/** Default IPv4 truncation: keep the /24 network (`203.0.113.7` → `203.0.113.0`). */
export const DEFAULT_IPV4_PREFIX_BITS = 24;
/** Default IPv6 truncation: keep the /48 network (`2001:db8:85a3:8d3::7` → `2001:db8:85a3::`). */
export const DEFAULT_IPV6_PREFIX_BITS = 48;

/** All detectors on: IPs truncated, everything else masked. Needs no pseudonymiser. */
export const DEFAULT_DETECTORS: Readonly<Record<DetectorName, Readonly<DetectorOptions>>> = Object.freeze({
  email: Object.freeze({ action: 'mask' }),
  ipv4: Object.freeze({ action: 'truncate' }),
  ipv6: Object.freeze({ action: 'truncate' }),
  card: Object.freeze({ action: 'mask' }),
  iban: Object.freeze({ action: 'mask' }),
  phone: Object.freeze({ action: 'mask' }),
  bearer: Object.freeze({ action: 'mask' }),
  jwt: Object.freeze({ action: 'mask' }),
  secret: Object.freeze({ action: 'mask' }),
  birthdate: Object.freeze({ action: 'mask' }),
});

/**
 * Detectors that never pseudonymise: a keyed hash of a secret is still derived from the secret
 * (whoever holds the pseudonymisation key can test guesses against it, and equal pseudonyms tell
 * that a credential was reused), so a secret is only ever masked or removed.
 */
export const NO_PSEUDONYM_DETECTORS: readonly DetectorName[] = Object.freeze(['secret'] as const);

export interface ValueScannerOptions {
  /** Enabled detectors and their actions; absent detectors are off. Default {@link DEFAULT_DETECTORS}. */
  detectors?: Partial<Record<DetectorName, DetectorOptions>>;
  /** Maps a canonical match to its pseudonym. Required when any action is `pseudonymize`. */
  pseudonymize?: (value: string) => string;
  /** IPv4 `truncate` prefix length in bits, 0–32. Default {@link DEFAULT_IPV4_PREFIX_BITS}. */
  ipv4PrefixBits?: number;
  /** IPv6 `truncate` prefix length in bits, 0–128. Default {@link DEFAULT_IPV6_PREFIX_BITS}. */
  ipv6PrefixBits?: number;
  /** Called once per replaced match, e.g. to count matches per detector and action for metrics. */
  onHit?: (detector: DetectorName, action: ValueAction) => void;
  /**
   * Key rules for query parameter names in {@link ValueScanner.scrubUrl} / {@link ValueScanner.scrubQuery}:
   * a parameter whose decoded name is `blocked` is removed (`drop`, the default), gets the value
   * {@link KEY_MASK} (`mask`) or a pseudonym of its decoded value (`pseudonymize`); `onHit` is
   * called with the action (never with the key or value). Without it no key rules apply.
   */
  queryKeys?: {
    match: KeyMatcher;
    action?: KeyAction;
    onHit?: (action: KeyAction) => void;
  };
}

/** A string with its findings replaced. */
export interface ScanResult {
  /** The string with every match replaced (also when `drop` is set). */
  value: string;
  /** True when a match's action is `drop`: the caller should drop the whole attribute/value. */
  drop: boolean;
  /** Number of replaced matches and removed/masked query parameters (≥ 1). */
  hits: number;
}

export interface ValueScanner {
  /**
   * Scans free text (attribute values, span names, log bodies). Besides the raw text, each
   * whitespace-delimited run that contains percent-escapes is decoded component by component
   * (path segments, query values with `+` as space) and scanned again; changed components are
   * re-encoded. Key rules do not apply here.
   * @returns `null` when nothing was found (no allocation), else the replaced string.
   */
  scan(s: string): ScanResult | null;
  /**
   * Scrubs a URL or URL part (`url.full`, `http.target`, `url.path`; a string without `?` or `/`
   * that contains `=` is treated as a query string): authority (user-info password → bearer
   * detector; host scanned for IPs), every path segment (percent-decoded), query parameters (key
   * rules, then value detectors on the decoded value) and the fragment (like a query string when it
   * contains `=`, as in OAuth implicit-flow redirects). Unchanged parts keep their exact text;
   * changed values are re-encoded (`[`, `]` and `:` stay literal so masks and pseudonyms read well).
   * A `drop` match inside a query parameter removes that parameter; elsewhere it sets `drop`.
   * @returns `null` when nothing was found or removed.
   */
  scrubUrl(url: string): ScanResult | null;
  /** Like {@link scrubUrl} for a bare query string (`url.query`), with or without a leading `?`. */
  scrubQuery(query: string): ScanResult | null;
  /** The enabled detectors. */
  readonly detectors: readonly DetectorName[];
  /**
   * The same scanner without the `ipv4` detector (for version numbers such as `2.14.0.7`): same
   * detectors, actions and key rules otherwise; the scanner itself when `ipv4` is off.
   */
  readonly withoutIPv4: ValueScanner;
}

/** Every {@link ValueAction}. */
export const VALUE_ACTIONS: readonly ValueAction[] = Object.freeze(['mask', 'drop', 'pseudonymize', 'truncate'] as const);
/** Every {@link KeyAction}. */
export const KEY_ACTIONS: readonly KeyAction[] = Object.freeze(['drop', 'mask', 'pseudonymize'] as const);
