/** The `phone` detector: E.164 numbers written in international format. */
import { isDigitCode, isWordCode, M } from './chars.js';

const PH_DIGITS = new Int32Array(32);
const PH_END = new Int32Array(32);
const PH_SEPS = new Int32Array(32);

/** `i` is at `+` or at `00`. */
export function matchPhone(s: string, i: number, n: number): number {
  if (i > 0) {
    const p = s.charCodeAt(i - 1);
    if (p === 43 || isWordCode(p)) return -1;
  }
  const plus = s.charCodeAt(i) === 43;
  if (!plus && i >= 2) {
    // A group inside a longer grouped number ("3704 0044 0532") or a hyphenated/dotted token
    // ("a77b138a-0010-1000-8000"), not a 00-prefixed phone number.
    const p = s.charCodeAt(i - 1);
    const pp = s.charCodeAt(i - 2);
    if (p === 32 && isDigitCode(pp)) return -1;
    if ((p === 45 || p === 46) && isWordCode(pp)) return -1;
  }
  let j = i + (plus ? 1 : 2);
  if (j >= n) return -1;
  const f = s.charCodeAt(j);
  if (f < 49 || f > 57) return -1; // country codes start with 1-9
  let nd = 0;
  let nb = 0;
  let nsep = 0;
  let dotsOnly = true;
  let groupsOf3 = true;
  for (;;) {
    const gs = j;
    while (j < n && isDigitCode(s.charCodeAt(j))) {
      nd++;
      j++;
    }
    if (nb > 0 && j - gs !== 3) groupsOf3 = false;
    if (nb === 1) {
      // A separated first group holds the country code (1-3 digits; "+49151 2345678" is tolerated),
      // and the national number after a 00-prefixed country code does not start with 0.
      if (PH_DIGITS[0]! > (plus ? 5 : 3)) return -1;
      if (!plus && s.charCodeAt(gs) === 48) return -1;
    }
    PH_DIGITS[nb] = nd;
    PH_END[nb] = j;
    PH_SEPS[nb] = nsep;
    nb++;
    if (nd > 17 || nb >= 31 || j >= n) break;
    // Separator: one of " -.", or a parenthesised "(0)" trunk prefix / area code with optional
    // single separators around it.
    let k = j;
    let c = s.charCodeAt(k);
    if ((c === 32 || c === 45 || c === 46) && k + 1 < n) {
      const d = s.charCodeAt(k + 1);
      if (isDigitCode(d)) {
        if (c !== 46) dotsOnly = false;
        nsep++;
        j = k + 1;
        continue;
      }
      if (d !== 40) break;
      k++;
      c = d;
    }
    if (c !== 40) break;
    let m = k + 1;
    let inner = 0;
    let innerVal = 0;
    while (m < n && isDigitCode(s.charCodeAt(m)) && inner < 5) {
      innerVal = innerVal * 10 + (s.charCodeAt(m) - 48);
      inner++;
      m++;
    }
    if (inner === 0 || inner > 4 || m >= n || s.charCodeAt(m) !== 41) break;
    m++;
    if (m < n && (s.charCodeAt(m) === 32 || s.charCodeAt(m) === 45 || s.charCodeAt(m) === 46)) m++;
    if (m >= n || !isDigitCode(s.charCodeAt(m))) break;
    if (!(inner === 1 && innerVal === 0)) nd += inner; // "(0)" is the trunk prefix, not part of E.164
    dotsOnly = false;
    nsep++;
    j = m;
  }
  if (dotsOnly && nsep > 0 && groupsOf3) return -1; // +1.234.567.890: a number, not a phone
  for (let b = nb - 1; b >= 0; b--) {
    const d = PH_DIGITS[b]!;
    if (d < 8) break;
    if (d > 15) continue;
    const end = PH_END[b]!;
    if (b === nb - 1 && end < n && isWordCode(s.charCodeAt(end))) continue;
    if (PH_SEPS[b] === 0 && (!plus || d < 10)) continue; // unseparated: "+" and 10+ digits
    M.start = i;
    return end;
  }
  return -1;
}
