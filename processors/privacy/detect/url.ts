/**
 * URL and query-string scrubbing on top of the free-text scan: a URL is split into authority, path
 * segments, query parameters and fragment (RFC 3986 §3); each part is percent-decoded, scanned and,
 * when changed, re-encoded, so unchanged parts keep their exact text. Query parameter names go
 * through the key rules first.
 */
import type { KeyMatcher } from '../keys.js';
import { hexVal } from './chars.js';
import { SCHEME_RE, encodeQueryValue, encodeSegment, hasEscape, isRunStop, percentDecode } from './percent.js';
import { KEY_MASK, type KeyAction, type ScanResult } from './types.js';

/** Mutable accumulator of one URL scrub. */
interface Acc {
  hits: number;
  drop: boolean;
}

/** What the URL scrubber needs from the scanner it belongs to. */
export interface UrlScrubberDeps {
  /** The scanner's free-text pass (without its percent-encoded second pass). */
  scanText(s: string): ScanResult | null;
  /** Key rules for query parameter names; null: none. */
  keyMatch: KeyMatcher | null;
  /** What happens to a blocked query parameter. */
  keyAction: KeyAction;
  /** Called once per blocked query parameter. */
  onKeyHit: ((action: KeyAction) => void) | null;
  /** Pseudonymiser for `keyAction: pseudonymize`. */
  pseudo: (value: string) => string;
  /**
   * Replacement of a user-info password (decoded) by the bearer detector's action, which also
   * counts the hit; null when the bearer detector is off.
   */
  credential: ((decoded: string) => string) | null;
  /** Whether the bearer detector's action is `drop`. */
  credentialDrops: boolean;
  /**
   * Counts the removal of a URL's userinfo (`user:password@`) as a `secret` hit; null when the
   * secret detector is off (then only a password is replaced, by `credential`).
   */
  userinfo: (() => string) | null;
  /**
   * The replacement of a query parameter's decoded value when its name says secret and the value
   * is a credential (the secret detector's pair rule), counted; null when it is not one, or when
   * the secret detector is off.
   */
  secretParam: ((name: string, value: string) => string | null) | null;
  /** Whether the secret detector's action is `drop`. */
  secretDrops: boolean;
}

export interface UrlScrubber {
  /** Scrubs a URL, URL part or (with `forceQuery`) a bare query string; null when nothing changed. */
  scrub(u: string, forceQuery: boolean): ScanResult | null;
  /** The second pass of `scan`: percent-encoded runs inside free text; null when nothing changed. */
  scanEncodedRuns(t: string): ScanResult | null;
}

export function createUrlScrubber(d: UrlScrubberDeps): UrlScrubber {
  const { scanText, keyMatch, keyAction, onKeyHit, pseudo, credential, credentialDrops, userinfo, secretParam, secretDrops } = d;

  /** Scans one decoded component; returns its new raw text, or null when unchanged. */
  const scrubPiece = (raw: string, onlyEncoded: boolean, plusIsSpace: boolean, encode: (v: string) => string, acc: Acc): string | null => {
    const enc = hasEscape(raw) || (plusIsSpace && raw.includes('+'));
    if (onlyEncoded && !enc) return null;
    const r = scanText(enc ? percentDecode(raw, plusIsSpace) : raw);
    if (r === null) return null;
    acc.hits += r.hits;
    if (r.drop) acc.drop = true;
    return enc ? encode(r.value) : r.value;
  };

  /** Scrubs `a=b&c=d`; returns the new text. A `drop` match removes the parameter. */
  const scrubPairs = (q: string, keyRules: boolean, onlyEncoded: boolean, acc: Acc): string => {
    const pairs = q.split('&');
    let changed = false;
    const kept: string[] = [];
    for (const pair of pairs) {
      if (pair === '') {
        kept.push(pair);
        continue;
      }
      const eq = pair.indexOf('=');
      const rk = eq < 0 ? pair : pair.slice(0, eq);
      const rv = eq < 0 ? '' : pair.slice(eq + 1);
      const name = percentDecode(rk, true);
      if (keyRules && keyMatch !== null && keyMatch(name) === 'blocked') {
        acc.hits++;
        changed = true;
        if (onKeyHit !== null) onKeyHit(keyAction);
        if (keyAction === 'mask') kept.push(rk + '=' + KEY_MASK);
        else if (keyAction === 'pseudonymize') kept.push(rk + '=' + encodeQueryValue(pseudo(percentDecode(rv, true))));
        continue;
      }
      if (rv === '') {
        kept.push(pair);
        continue;
      }
      if (secretParam !== null) {
        const r = secretParam(name, percentDecode(rv, true));
        if (r !== null) {
          acc.hits++;
          changed = true;
          if (!secretDrops) kept.push(rk + '=' + r);
          continue;
        }
      }
      const sub: Acc = { hits: 0, drop: false };
      const v = scrubPiece(rv, onlyEncoded, true, encodeQueryValue, sub);
      if (v === null) {
        kept.push(pair);
        continue;
      }
      acc.hits += sub.hits;
      changed = true;
      if (!sub.drop) kept.push(rk + '=' + v);
    }
    if (!changed) return q;
    // Parameters removed from the end leave no dangling "&".
    let out = kept.join('&');
    let e = out.length;
    while (e > 0 && out.charCodeAt(e - 1) === 38) e--;
    if (e < out.length) out = out.slice(0, e);
    return out;
  };

  /**
   * `userinfo@host:port`: with the secret detector the userinfo is removed whole; without it a
   * password is a credential (bearer detector). The host is scanned for IPs.
   */
  const scrubAuthority = (auth: string, onlyEncoded: boolean, acc: Acc): string => {
    const at = auth.lastIndexOf('@');
    let out = '';
    let host = auth;
    if (at >= 0 && userinfo !== null) {
      // The whole userinfo goes: the user name is personal, the password a credential.
      host = auth.slice(at + 1);
      userinfo();
      acc.hits++;
      if (secretDrops) acc.drop = true;
    } else if (at >= 0) {
      const info = auth.slice(0, at);
      host = auth.slice(at + 1);
      const colon = info.indexOf(':');
      const user = colon >= 0 ? info.slice(0, colon) : info;
      out += user === '' ? '' : (scrubPiece(user, onlyEncoded, false, encodeSegment, acc) ?? user);
      if (colon >= 0) {
        const pass = info.slice(colon + 1);
        if (credential !== null && pass !== '') {
          acc.hits++;
          if (credentialDrops) acc.drop = true;
          out += ':' + encodeSegment(credential(percentDecode(pass, false)));
        } else {
          out += ':' + pass;
        }
      }
      out += '@';
    }
    if (onlyEncoded) return out + host;
    const r = scanText(host);
    if (r === null) return out + host;
    acc.hits += r.hits;
    if (r.drop) acc.drop = true;
    return out + r.value;
  };

  /** Scrubs a URL, URL part or bare query string; returns the new text (unchanged when acc is). */
  const scrubUrlLike = (u: string, keyRules: boolean, onlyEncoded: boolean, forceQuery: boolean, acc: Acc): string => {
    const n = u.length;
    if (forceQuery) {
      const lead = u.startsWith('?') ? 1 : 0;
      const q = scrubPairs(u.slice(lead), keyRules, onlyEncoded, acc);
      return q === '' ? '' : u.slice(0, lead) + q;
    }
    let hash = u.indexOf('#');
    if (hash < 0) hash = n;
    let q = u.indexOf('?');
    if (q > hash) q = -1;
    if (q < 0 && hash === n && u.includes('=') && !u.includes('/')) {
      return scrubPairs(u, keyRules, onlyEncoded, acc);
    }
    let out = '';
    let p = 0;
    const m = SCHEME_RE.exec(u);
    if (m !== null) {
      p = m[0].length;
      let ae = p;
      while (ae < n) {
        const c = u.charCodeAt(ae);
        if (c === 47 || c === 63 || c === 35) break;
        ae++;
      }
      out += u.slice(0, p) + scrubAuthority(u.slice(p, ae), onlyEncoded, acc);
      p = ae;
    }
    const pathEnd = q >= 0 ? q : hash;
    if (p < pathEnd) {
      const segs = u.slice(p, pathEnd).split('/');
      for (let k = 0; k < segs.length; k++) {
        if (k > 0) out += '/';
        const seg = segs[k]!;
        out += seg === '' ? '' : (scrubPiece(seg, onlyEncoded, false, encodeSegment, acc) ?? seg);
      }
    }
    if (q >= 0) {
      // A query left empty by the scrub loses its "?" (an empty one as sent keeps it).
      const raw = u.slice(q + 1, hash);
      const qs = scrubPairs(raw, keyRules, onlyEncoded, acc);
      if (qs !== '' || raw === '') out += '?' + qs;
    }
    if (hash < n) {
      const frag = u.slice(hash + 1);
      const fs = frag.includes('=') ? scrubPairs(frag, keyRules, onlyEncoded, acc) : (scrubPiece(frag, onlyEncoded, false, encodeSegment, acc) ?? frag);
      if (fs !== '' || frag === '') out += '#' + fs;
    }
    return out;
  };

  const scanEncodedRuns = (t: string): ScanResult | null => {
    const n = t.length;
    let out = '';
    let copied = 0;
    const acc: Acc = { hits: 0, drop: false };
    let i = 0;
    while (i < n) {
      const k = t.indexOf('%', i);
      if (k < 0 || k + 2 >= n) break;
      if (hexVal(t.charCodeAt(k + 1)) < 0 || hexVal(t.charCodeAt(k + 2)) < 0) {
        i = k + 1;
        continue;
      }
      let a = k;
      while (a > copied && !isRunStop(t.charCodeAt(a - 1))) a--;
      let b = k;
      while (b < n && !isRunStop(t.charCodeAt(b))) b++;
      const before = acc.hits;
      const v = scrubUrlLike(t.slice(a, b), false, true, false, acc);
      if (acc.hits > before) {
        out += t.slice(copied, a) + v;
        copied = b;
      }
      i = b;
    }
    if (acc.hits === 0) return null;
    return { value: out + t.slice(copied), drop: acc.drop, hits: acc.hits };
  };

  const scrub = (u: string, forceQuery: boolean): ScanResult | null => {
    if (typeof u !== 'string' || u.length === 0) return null;
    const acc: Acc = { hits: 0, drop: false };
    const value = scrubUrlLike(u, true, false, forceQuery, acc);
    return acc.hits === 0 ? null : { value, drop: acc.drop, hits: acc.hits };
  };

  return { scrub, scanEncodedRuns };
}
