/**
 * The `secret` detector: API keys and access tokens by the published shapes of their issuers,
 * credentials in `name=value` pairs whose name says they are secret, and URL userinfo. The shapes
 * are those of the gitleaks rule set (config/gitleaks.toml, github.com/gitleaks/gitleaks), checked
 * here by hand at the start of a word instead of by regular expressions:
 *
 * - Stripe secret and restricted keys (gitleaks `stripe-access-token`): `sk_` or `rk_`, then
 *   `live_`, `test_` or `prod_`, then 10–99 letters and digits.
 * - Slack tokens (gitleaks `slack-bot-token`, `slack-user-token`, `slack-legacy-*`): `xoxb-`,
 *   `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxo-` or `xoxe-`, then 10+ letters, digits and dashes
 *   with at least one digit.
 * - AWS access key ids (gitleaks `aws-access-token`): `AKIA`, `ASIA`, `ABIA`, `ACCA` or `A3T` and
 *   one more letter or digit, then 16 of `A-Z2-7` (base32).
 * - GitHub tokens (gitleaks `github-pat`, `github-oauth`, `github-app-token`,
 *   `github-refresh-token`, `github-fine-grained-pat`): `ghp_`, `gho_`, `ghu_`, `ghs_` or `ghr_`
 *   and 36+ letters and digits; `github_pat_` and 82+ letters, digits and underscores.
 * - Google API keys (gitleaks `gcp-api-key`): `AIza` and exactly 35 of `A-Za-z0-9_-`.
 *
 * Each must start a word and end one (the next character is not a letter, digit or `_`).
 *
 * Pairs (the idea of gitleaks' `generic-api-key`, with a name list of its own): a name that ends,
 * case-insensitively, in `password`, `passwd`, `pwd`, `passwort`, `kennwort` (password names) or
 * `token`, `secret`, `apikey`/`api_key`/`api-key`, `accesskey`/`access_key`/`access-key`,
 * `secretkey`/`secret_key`/`secret-key`, `privatekey`/`private_key`/`private-key` (key names),
 * followed by `=` (spaces and one quote allowed around it) or by `:` and a quoted value (JSON and
 * YAML in a string: `"password": "..."`). The value runs to the closing quote, or unquoted to a
 * space, `&`, `,`, `;`, a quote, `<`, `>` or a closing bracket. A password name takes any value of 3+
 * characters; a key name one of 8+ characters with a Shannon entropy of at least 3 bits per
 * character (`abc123xyz` counts, `undefined` and `changeme` do not). Values that are masks or
 * placeholders (starting with `[`, `*`, `<`, `{` or `$`) are left alone. Only the value is replaced.
 *
 * URL userinfo (RFC 3986 §3.2.1, `scheme://user:password@host`): the whole `user:password@` part
 * is removed; the user name is often an e-mail address or an account name, and RFC 3986 calls a
 * password there deprecated.
 */
import { CT, C_B64URL, C_DIGIT, C_LETTER, C_WORD, M, isWordCode } from './chars.js';

const C_ALNUM = C_DIGIT | C_LETTER;

/** End of the run of ASCII characters whose class shares a bit with `cls`, from `j`. */
function runEnd(s: string, j: number, n: number, cls: number): number {
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c >= 128 || (CT[c]! & cls) === 0) break;
    j++;
  }
  return j;
}

function endsWord(s: string, j: number, n: number): boolean {
  return j >= n || !isWordCode(s.charCodeAt(j));
}

function isBase32Upper(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 50 && c <= 55);
}

/**
 * A token of a well-known issuer starting at `i` (the first character of a word, a letter):
 * returns its end (and sets `M.start`), or -1.
 */
export function matchSecretToken(s: string, i: number, n: number): number {
  const c = s.charCodeAt(i);
  let end = -1;
  if (c === 115 || c === 114) {
    // Stripe: sk_ / rk_ + live_ / test_ / prod_ + 10-99 alphanumerics.
    if (i + 18 > n || s.charCodeAt(i + 1) !== 107 || s.charCodeAt(i + 2) !== 95 || s.charCodeAt(i + 7) !== 95) return -1;
    if (!s.startsWith('live', i + 3) && !s.startsWith('test', i + 3) && !s.startsWith('prod', i + 3)) return -1;
    end = runEnd(s, i + 8, n, C_ALNUM);
    const len = end - (i + 8);
    if (len < 10 || len > 99) return -1;
  } else if (c === 65) {
    if (i + 20 > n) return -1;
    const c1 = s.charCodeAt(i + 1);
    if (c1 === 73 && s.charCodeAt(i + 2) === 122 && s.charCodeAt(i + 3) === 97) {
      // Google API key: AIza + 35 of [A-Za-z0-9_-].
      end = runEnd(s, i + 4, n, C_B64URL);
      if (end - (i + 4) !== 35) return -1;
    } else {
      // AWS access key id: AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9] + 16 of [A-Z2-7].
      const c2 = s.charCodeAt(i + 2);
      const c3 = s.charCodeAt(i + 3);
      const prefix =
        (c1 === 75 && c2 === 73 && c3 === 65) || // AKIA
        (c1 === 83 && c2 === 73 && c3 === 65) || // ASIA
        (c1 === 66 && c2 === 73 && c3 === 65) || // ABIA
        (c1 === 67 && c2 === 67 && c3 === 65) || // ACCA
        (c1 === 51 && c2 === 84 && ((c3 >= 65 && c3 <= 90) || (c3 >= 48 && c3 <= 57))); // A3T?
      if (!prefix) return -1;
      end = i + 4;
      while (end < n && end < i + 20 && isBase32Upper(s.charCodeAt(end))) end++;
      if (end !== i + 20) return -1;
    }
  } else if (c === 103) {
    if (i + 40 > n) return -1;
    const c2 = s.charCodeAt(i + 2);
    if (s.charCodeAt(i + 1) === 104 && s.charCodeAt(i + 3) === 95 && (c2 === 112 || c2 === 111 || c2 === 117 || c2 === 115 || c2 === 114)) {
      // GitHub: ghp_ / gho_ / ghu_ / ghs_ / ghr_ + 36+ alphanumerics.
      end = runEnd(s, i + 4, n, C_ALNUM);
      if (end - (i + 4) < 36) return -1;
    } else if (s.startsWith('github_pat_', i)) {
      // GitHub fine-grained personal access token: github_pat_ + 82+ word characters.
      end = runEnd(s, i + 11, n, C_WORD);
      if (end - (i + 11) < 82) return -1;
    } else {
      return -1;
    }
  } else if (c === 120) {
    // Slack: xox[abeoprs]- + 10+ of [A-Za-z0-9-] with a digit.
    if (i + 15 > n || s.charCodeAt(i + 1) !== 111 || s.charCodeAt(i + 2) !== 120 || s.charCodeAt(i + 4) !== 45) return -1;
    const t = s.charCodeAt(i + 3);
    if (t !== 97 && t !== 98 && t !== 101 && t !== 111 && t !== 112 && t !== 114 && t !== 115) return -1;
    end = runEnd(s, i + 5, n, C_B64URL);
    if (end - (i + 5) < 10) return -1;
    let digit = false;
    for (let k = i + 5; k < end; k++) {
      const d = s.charCodeAt(k);
      if (d === 95) return -1; // "_" is not in a Slack token
      if (d >= 48 && d <= 57) digit = true;
    }
    if (!digit) return -1;
  } else {
    return -1;
  }
  if (!endsWord(s, end, n)) return -1;
  M.start = i;
  return end;
}

// ---------------------------------------------------------------------------------------------
// name=value pairs

const PASSWORD_NAMES = ['password', 'passwd', 'pwd', 'passwort', 'kennwort'];
const KEY_NAMES = ['token', 'secret', 'apikey', 'api_key', 'api-key', 'accesskey', 'access_key', 'access-key', 'secretkey', 'secret_key', 'secret-key', 'privatekey', 'private_key', 'private-key'];
const NAME_KIND_NONE = 0;
const NAME_KIND_PASSWORD = 1;
const NAME_KIND_KEY = 2;
/** Longest name suffix looked at. */
const NAME_WINDOW = 12;
/** Longest value replaced (longer runs are not taken for a credential). */
const MAX_VALUE = 1024;

/** Whether the name that ends at `end` (exclusive) is a password name, a key name, or neither. */
export function secretNameKind(name: string, end: number): number {
  if (end === 0) return NAME_KIND_NONE;
  const last = name.charCodeAt(end - 1) | 32;
  // Every name ends in d, t, n or y: one comparison rejects most text.
  if (last !== 100 && last !== 116 && last !== 110 && last !== 121) return NAME_KIND_NONE;
  const tail = name.slice(end > NAME_WINDOW ? end - NAME_WINDOW : 0, end).toLowerCase();
  for (const w of PASSWORD_NAMES) if (tail.endsWith(w)) return NAME_KIND_PASSWORD;
  for (const w of KEY_NAMES) if (tail.endsWith(w)) return NAME_KIND_KEY;
  return NAME_KIND_NONE;
}

const COUNTS = new Uint16Array(128);

/** Shannon entropy of `s[a, b)` in bits per character (non-ASCII characters count as one symbol). */
export function entropyBits(s: string, a: number, b: number): number {
  const len = b - a;
  if (len <= 0) return 0;
  let other = 0;
  for (let k = a; k < b; k++) {
    const c = s.charCodeAt(k);
    if (c < 128) COUNTS[c]!++;
    else other++;
  }
  let h = 0;
  for (let k = a; k < b; k++) {
    const c = s.charCodeAt(k);
    if (c >= 128) continue;
    const m = COUNTS[c]!;
    if (m === 0) continue;
    const p = m / len;
    h -= p * Math.log2(p);
    COUNTS[c] = 0;
  }
  if (other > 0) {
    const p = other / len;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Minimum length of a value under a key name. */
const MIN_KEY_VALUE = 8;
/** Minimum entropy (bits per character) of a value under a key name. */
const MIN_KEY_ENTROPY = 3;
/** Minimum length of a value under a password name. */
const MIN_PASSWORD_VALUE = 3;

/** Whether `s[a, b)` is a credential under a name of `kind`. */
export function secretValue(kind: number, s: string, a: number, b: number): boolean {
  const len = b - a;
  if (len <= 0 || len > MAX_VALUE) return false;
  const f = s.charCodeAt(a);
  if (f === 91 || f === 42 || f === 60 || f === 123 || f === 36) return false; // [ * < { $
  if (kind === NAME_KIND_PASSWORD) return len >= MIN_PASSWORD_VALUE;
  if (kind === NAME_KIND_KEY) return len >= MIN_KEY_VALUE && entropyBits(s, a, b) >= MIN_KEY_ENTROPY;
  return false;
}

/** Whether a value that is not quoted ends at character `c`. */
function valueStop(c: number): boolean {
  return c <= 32 || c === 38 || c === 34 || c === 39 || c === 44 || c === 59 || c === 60 || c === 62 || c === 41 || c === 93 || c === 125 || c === 0x00a0;
}

/**
 * A credential after the `=` or `:` at `i` whose name says secret: returns the value's end (and
 * sets `M.start` to its start), or -1. After `:` the value must be quoted.
 */
export function matchSecretPair(s: string, i: number, n: number): number {
  let k = i;
  if (k > 0 && (s.charCodeAt(k - 1) === 34 || s.charCodeAt(k - 1) === 39)) k--;
  while (k > 0 && s.charCodeAt(k - 1) === 32) k--;
  const kind = secretNameKind(s, k);
  if (kind === NAME_KIND_NONE) return -1;
  let j = i + 1;
  const ws = j + 3;
  while (j < n && j < ws && (s.charCodeAt(j) === 32 || s.charCodeAt(j) === 9)) j++;
  let quote = 0;
  if (j < n && (s.charCodeAt(j) === 34 || s.charCodeAt(j) === 39)) {
    quote = s.charCodeAt(j);
    j++;
  } else if (s.charCodeAt(i) === 58) {
    return -1;
  }
  const start = j;
  if (quote !== 0) {
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c === quote || c === 10 || c === 13) break;
      j++;
    }
  } else {
    while (j < n && !valueStop(s.charCodeAt(j))) j++;
  }
  if (!secretValue(kind, s, start, j)) return -1;
  M.start = start;
  return j;
}

// ---------------------------------------------------------------------------------------------
// URL userinfo

/**
 * `user:password@` after the `://` whose `:` is at `i`: returns the index after the `@` (and sets
 * `M.start` to the first character after `//`), or -1. The authority ends at `/`, `?`, `#`, a
 * space, a quote, `<` or `>`; its last `@` ends the userinfo; the host after it must not be empty.
 */
export function matchUrlUserinfo(s: string, i: number, n: number): number {
  if (i === 0 || i + 4 >= n || s.charCodeAt(i + 1) !== 47 || s.charCodeAt(i + 2) !== 47) return -1;
  const p = s.charCodeAt(i - 1);
  if (p >= 128 || (CT[p]! & C_ALNUM) === 0) return -1;
  let at = -1;
  let j = i + 3;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c === 47 || c === 63 || c === 35 || c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96) break;
    if (c === 64) at = j;
    j++;
  }
  if (at <= i + 3 || at + 1 >= j) return -1;
  M.start = i + 3;
  return at + 1;
}
