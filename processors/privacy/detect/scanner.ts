/**
 * The value scanner: validates the detector options once, then scans a string in one pass over its
 * characters, running a detector only where its match can start (see ../detectors.ts for the rules
 * and the cost model). URLs and query strings go through ./url.ts.
 */
import { CT, C_DIGIT, C_HEX, C_LETTER, C_WORD, M, colonWithin5, hexVal, isDigitCode, isWordCode, skipWord } from './chars.js';
import { matchCard } from './card.js';
import { matchBearer, matchJwt } from './credentials.js';
import { matchEmail } from './email.js';
import { matchIban } from './iban.js';
import { V6, formatV6, matchIPv4, matchIPv6, maskV4, parseIPv4At, parseIPv6, truncateV6 } from './ip.js';
import { matchPhone } from './phone.js';
import { matchBirthDate } from './birthdate.js';
import { matchSecretPair, matchSecretToken, matchUrlUserinfo, secretNameKind, secretValue } from './secret.js';
import {
  DEFAULT_DETECTORS,
  DEFAULT_IPV4_PREFIX_BITS,
  DEFAULT_IPV6_PREFIX_BITS,
  DETECTOR_NAMES,
  KEY_ACTIONS,
  MASKS,
  NO_PSEUDONYM_DETECTORS,
  VALUE_ACTIONS,
  type DetectorName,
  type DetectorOptions,
  type KeyAction,
  type ScanResult,
  type ValueAction,
  type ValueScanner,
  type ValueScannerOptions,
} from './types.js';
import { createUrlScrubber, type UrlScrubber } from './url.js';

const EMAIL = 0;
const IPV4 = 1;
const IPV6 = 2;
const CARD = 3;
const IBAN = 4;
const PHONE = 5;
const BEARER = 6;
const JWT = 7;
const SECRET = 8;
const BIRTHDATE = 9;
/** URL userinfo: counted as `secret`, replaced by nothing. */
const USERINFO = 10;

/** Strings longer than this are pre-checked with {@link PRECHECK_RE} before the character loop. */
const PRECHECK_MIN_LENGTH = 24;
const PRECHECK_RE = /[0-9@:%]|eyJ|[Bb](?:[Ee][Aa][Rr][Ee][Rr]|[Aa][Ss][Ii][Cc])[ \t]/;
const PRECHECK_NO_BEARER_RE = /[0-9@:%]|eyJ/;
/**
 * Second pre-check, run only when the first fails and the `secret` detector is on: a token prefix
 * (a token may have no digit) or an `=` after a letter a secret name ends with.
 */
const PRECHECK_SECRET_RE = /[sr]k_|gh[pousr]_|github_pat_|xox[abeoprs]-|A(?:KIA|SIA|BIA|CCA|3T|Iza)|[NnTtDdYy]["']? *=/;


/**
 * The form of a match that is pseudonymised, so that spelling variants of one identifier share a
 * pseudonym: e-mail lowercased; IPv6 in RFC 5952 text; card digits only; IBAN uppercase without
 * spaces; phone as E.164 (`+` and digits, `(0)` trunk prefix removed); tokens as they are.
 */
export function canonicalForm(detector: DetectorName, match: string): string {
  switch (detector) {
    case 'email':
      return match.toLowerCase();
    case 'ipv6':
      return parseIPv6(match, 0, match.length) ? formatV6(V6) : match.toLowerCase();
    case 'card':
      return match.replace(/\D/g, '');
    case 'iban':
      return match.replace(/ /g, '').toUpperCase();
    case 'phone': {
      const digits = match.replace(/\(0\)/g, '').replace(/\D/g, '');
      return '+' + (match.startsWith('00') ? digits.slice(2) : digits);
    }
    default:
      return match;
  }
}


/**
 * Compiles the enabled detectors and their actions into a {@link ValueScanner}.
 *
 * @throws Error when a detector name or action is unknown, `truncate` is set for a detector other
 *   than `ipv4`/`ipv6`, `pseudonymize` is used without a `pseudonymize` function, or a prefix
 *   length is out of range (IPv4 0–32, IPv6 0–128, integers).
 */
export function compileValueScanner(opts: ValueScannerOptions = {}): ValueScanner {
  const detectors = opts.detectors ?? DEFAULT_DETECTORS;
  if (detectors === null || typeof detectors !== 'object') throw new Error('privacy: detectors must be a map of detector name to options');
  const act: (ValueAction | null)[] = DETECTOR_NAMES.map(() => null);
  for (const [name, o] of Object.entries(detectors)) {
    const idx = (DETECTOR_NAMES as readonly string[]).indexOf(name);
    if (idx < 0) throw new Error(`privacy: detectors::${name}: unknown detector (one of ${DETECTOR_NAMES.join(', ')})`);
    if (o === undefined) continue;
    const action = (o as DetectorOptions | null)?.action;
    if (!VALUE_ACTIONS.includes(action as ValueAction)) {
      throw new Error(`privacy: detectors::${name}::action: must be one of ${VALUE_ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
    }
    if (action === 'pseudonymize' && (NO_PSEUDONYM_DETECTORS as readonly string[]).includes(name)) {
      throw new Error(`privacy: detectors::${name}::action: a secret is masked or dropped, never pseudonymised`);
    }
    if (action === 'truncate' && name !== 'ipv4' && name !== 'ipv6') {
      throw new Error(`privacy: detectors::${name}::action: truncate applies to ipv4 and ipv6 only`);
    }
    if (action === 'pseudonymize' && typeof opts.pseudonymize !== 'function') {
      throw new Error(`privacy: detectors::${name}::action: pseudonymize needs a pseudonymisation key`);
    }
    act[idx] = action as ValueAction;
  }
  const v4bits = opts.ipv4PrefixBits ?? DEFAULT_IPV4_PREFIX_BITS;
  if (!Number.isInteger(v4bits) || v4bits < 0 || v4bits > 32) {
    throw new Error(`privacy: ipv4 prefix length must be an integer from 0 to 32, got ${String(v4bits)}`);
  }
  const v6bits = opts.ipv6PrefixBits ?? DEFAULT_IPV6_PREFIX_BITS;
  if (!Number.isInteger(v6bits) || v6bits < 0 || v6bits > 128) {
    throw new Error(`privacy: ipv6 prefix length must be an integer from 0 to 128, got ${String(v6bits)}`);
  }
  const qk = opts.queryKeys;
  if (qk !== undefined) {
    if (typeof qk.match !== 'function') throw new Error('privacy: queryKeys.match must be a key matcher function');
    if (qk.action !== undefined && !KEY_ACTIONS.includes(qk.action)) {
      throw new Error(`privacy: queryKeys.action must be one of ${KEY_ACTIONS.join(', ')}, got ${JSON.stringify(qk.action)}`);
    }
    if (qk.action === 'pseudonymize' && typeof opts.pseudonymize !== 'function') {
      throw new Error('privacy: queryKeys.action: pseudonymize needs a pseudonymisation key');
    }
  }
  const keyMatch = qk?.match ?? null;
  const keyAction: KeyAction = qk?.action ?? 'drop';
  const onKeyHit = qk?.onHit ?? null;
  const pseudo = opts.pseudonymize ?? ((v: string) => v);
  const onHit = opts.onHit ?? null;

  const emailOn = act[EMAIL] !== null;
  const ipv4On = act[IPV4] !== null;
  const ipv6On = act[IPV6] !== null;
  const cardOn = act[CARD] !== null;
  const ibanOn = act[IBAN] !== null;
  const phoneOn = act[PHONE] !== null;
  const bearerOn = act[BEARER] !== null;
  const jwtOn = act[JWT] !== null;
  const secretOn = act[SECRET] !== null;
  const birthOn = act[BIRTHDATE] !== null;
  const letterOn = ibanOn || bearerOn || jwtOn || ipv6On || secretOn;
  const precheck = bearerOn ? PRECHECK_RE : PRECHECK_NO_BEARER_RE;
  const digitOn = ipv4On || ipv6On || cardOn || phoneOn || birthOn;

  const replacement = (det: number, raw: string): string => {
    if (det === USERINFO) det = SECRET;
    const action = act[det]!;
    const name = DETECTOR_NAMES[det]!;
    if (onHit !== null) onHit(name, action);
    if (raw === '') return '';
    switch (action) {
      case 'pseudonymize':
        return pseudo(canonicalForm(name, raw));
      case 'truncate':
        if (det === IPV4) {
          parseIPv4At(raw, 0, raw.length);
          return maskV4(v4bits);
        }
        parseIPv6(raw, 0, raw.length);
        return truncateV6(v6bits, v4bits);
      default:
        return MASKS[name];
    }
  };

  /**
   * One pass over `s`; `pct` enables the percent-encoded second pass; `v4`: the ipv4 detector runs
   * (false for version numbers, see {@link ValueScanner.withoutIPv4}).
   */
  const scanText = (s: string, pct: boolean, v4: boolean): ScanResult | null => {
    const n = s.length;
    if (n < 3) return null;
    // Cheap pre-check: every match needs a digit, "@", ":", "eyJ", or a Bearer/Basic scheme, and
    // percent-encoded text needs "%". Irregexp finds those faster than the character loop below.
    if (n > PRECHECK_MIN_LENGTH && !precheck.test(s) && !(secretOn && PRECHECK_SECRET_RE.test(s))) return null;
    let out = '';
    let copied = 0;
    let hits = 0;
    let drop = false;
    let sawPct = false;
    // Invariant: a word character at the top of the loop starts a word (the rest of each word is
    // skipped), so detectors that start at a word boundary run once per word.
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      let end = -1;
      let det = -1;
      if (c < 128) {
        const k = CT[c]!;
        if ((k & C_WORD) !== 0) {
          if ((k & C_DIGIT) !== 0) {
            if (digitOn) {
              if (phoneOn && c === 48 && i + 1 < n && s.charCodeAt(i + 1) === 48) {
                end = matchPhone(s, i, n);
                det = PHONE;
              }
              if (end < 0 && v4) {
                end = matchIPv4(s, i, n);
                det = IPV4;
              }
              if (end < 0 && ipv6On && colonWithin5(s, i, n)) {
                end = matchIPv6(s, i, n);
                det = IPV6;
              }
              if (end < 0 && birthOn && i + 7 < n) {
                end = matchBirthDate(s, i, n);
                det = BIRTHDATE;
              }
              if (end < 0 && cardOn && i + 12 < n) {
                end = matchCard(s, i, n);
                det = CARD;
              }
            }
          } else if ((k & C_LETTER) !== 0 && letterOn) {
            if (bearerOn && (c === 66 || c === 98)) {
              end = matchBearer(s, i, n);
              det = BEARER;
            }
            if (end < 0 && secretOn && (c === 115 || c === 114 || c === 65 || c === 103 || c === 120)) {
              end = matchSecretToken(s, i, n);
              det = SECRET;
            }
            if (end < 0 && jwtOn && c === 101) {
              end = matchJwt(s, i, n);
              det = JWT;
            }
            if (end < 0 && ibanOn && i + 14 < n && isDigitCode(s.charCodeAt(i + 2)) && isDigitCode(s.charCodeAt(i + 3))) {
              end = matchIban(s, i, n);
              det = IBAN;
            }
            if (end < 0 && ipv6On && (k & C_HEX) !== 0 && colonWithin5(s, i, n)) {
              end = matchIPv6(s, i, n);
              det = IPV6;
            }
          }
          if (end < 0) {
            i = skipWord(s, i, n);
            continue;
          }
        } else if (c === 64) {
          if (emailOn && i > copied) {
            end = matchEmail(s, i, n, copied);
            det = EMAIL;
          }
        } else if (c === 43) {
          if (phoneOn) {
            end = matchPhone(s, i, n);
            det = PHONE;
          }
        } else if (c === 58) {
          if (ipv6On && i + 1 < n && s.charCodeAt(i + 1) === 58) {
            end = matchIPv6(s, i, n);
            det = IPV6;
          } else if (secretOn && i > copied) {
            end = matchUrlUserinfo(s, i, n);
            if (end >= 0) det = USERINFO;
            else {
              end = matchSecretPair(s, i, n);
              det = SECRET;
            }
          }
        } else if (c === 61) {
          if (secretOn && i > copied) {
            end = matchSecretPair(s, i, n);
            det = SECRET;
          }
        } else if (c === 37) {
          if (pct && !sawPct && i + 2 < n && hexVal(s.charCodeAt(i + 1)) >= 0 && hexVal(s.charCodeAt(i + 2)) >= 0) sawPct = true;
        }
      } else if (isWordCode(c)) {
        i = skipWord(s, i, n);
        continue;
      }
      if (end >= 0) {
        const start = M.start;
        out += s.slice(copied, start) + replacement(det, det === USERINFO ? '' : s.slice(start, end));
        if (act[det === USERINFO ? SECRET : det] === 'drop') drop = true;
        hits++;
        copied = end;
        // Keep the invariant should a match end inside a word.
        i = end < n && isWordCode(s.charCodeAt(end - 1)) && isWordCode(s.charCodeAt(end)) ? skipWord(s, end, n) : end - 1;
      }
    }
    if (hits === 0 && !sawPct) return null;
    const value = hits === 0 ? s : out + s.slice(copied);
    if (sawPct) {
      const r = urlFor(v4).scanEncodedRuns(value);
      if (r !== null) return { value: r.value, drop: drop || r.drop, hits: hits + r.hits };
    }
    return hits === 0 ? null : { value, drop, hits };
  };

  const urlScrubber = (v4: boolean): UrlScrubber =>
    createUrlScrubber({
      scanText: (t) => scanText(t, false, v4),
      keyMatch,
      keyAction,
      onKeyHit,
      pseudo,
      credential: bearerOn ? (v) => replacement(BEARER, v) : null,
      credentialDrops: act[BEARER] === 'drop',
      userinfo: secretOn ? () => replacement(USERINFO, '') : null,
      secretParam: secretOn
        ? (name, value) => {
            const kind = secretNameKind(name, name.length);
            return kind !== 0 && secretValue(kind, value, 0, value.length) ? replacement(SECRET, value) : null;
          }
        : null,
      secretDrops: act[SECRET] === 'drop',
    });
  const url = urlScrubber(ipv4On);
  // The one without ipv4 when ipv4 is on, made on first use: version values rarely hold URLs or
  // percent-escapes.
  let noV4Url: UrlScrubber | null = null;
  const urlFor = (v4: boolean): UrlScrubber => (v4 === ipv4On ? url : (noV4Url ??= urlScrubber(false)));

  // One scanText closure serves the scanner and its view without ipv4, so that a processor with
  // one scanner has one closure of it, which V8 optimises for that scanner's detectors.
  const enabled = Object.freeze(DETECTOR_NAMES.filter((_, k) => act[k] !== null));
  let noV4: ValueScanner | undefined;
  const view = (v4: boolean): ValueScanner => {
    const self: ValueScanner = {
      scan: (s: string) => scanText(s, true, v4),
      scrubUrl: (u: string) => urlFor(v4).scrub(u, false),
      scrubQuery: (query: string) => urlFor(v4).scrub(query, true),
      detectors: v4 ? enabled : Object.freeze(enabled.filter((d) => d !== 'ipv4')),
      get withoutIPv4(): ValueScanner {
        return v4 ? (noV4 ??= view(false)) : self;
      },
    };
    return self;
  };
  return view(ipv4On);
}
