/** The `card` detector: ISO/IEC 7812 primary account numbers, Luhn-checked and in a brand's IIN range. */
import { isDigitCode, isWordCode, M } from './chars.js';

const DIG = new Uint8Array(32);
const BND_DIGITS = new Int32Array(32);
const BND_END = new Int32Array(32);
const BND_MAXG = new Int32Array(32);

/** Luhn (ISO/IEC 7812-1 Annex B) over `DIG[0, len)`. */
function luhnDigits(len: number): boolean {
  let sum = 0;
  let dbl = false;
  for (let k = len - 1; k >= 0; k--) {
    let d = DIG[k]!;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** Whether `DIG[0, len)` falls into a card brand's IIN range with that brand's lengths. */
function cardBrandDigits(len: number): boolean {
  const p1 = DIG[0]!;
  const p2 = p1 * 10 + DIG[1]!;
  const p3 = p2 * 10 + DIG[2]!;
  const p4 = p3 * 10 + DIG[3]!;
  switch (p1) {
    case 2: // Mastercard 2-series (16), Mir 2200–2204 (16–19)
      return (p4 >= 2221 && p4 <= 2720 && len === 16) || (p4 >= 2200 && p4 <= 2204 && len >= 16 && len <= 19);
    case 3:
      if (p2 === 34 || p2 === 37) return len === 15; // American Express
      if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14 && len <= 19; // Diners Club
      if (p4 >= 3528 && p4 <= 3589) return len >= 16 && len <= 19; // JCB
      if (p3 === 353 || p3 === 356) return len === 16; // RuPay
      return false;
    case 4: // Visa
      return len === 13 || len === 16 || len === 19;
    case 5: // Mastercard 51–55 (16); Maestro 50, 56–58 (13–19)
      if (p2 >= 51 && p2 <= 55) return len === 16;
      return (p2 === 50 || (p2 >= 56 && p2 <= 58)) && len >= 13 && len <= 19;
    case 6: // Discover 60/64/65, UnionPay 62, Maestro 63/67, RuPay 60/65, Troy 65: 13–19
      return len >= 13 && len <= 19 && (p2 === 60 || p2 === 62 || p2 === 63 || p2 === 65 || p2 === 67 || (p3 >= 644 && p3 <= 649));
    case 8: // RuPay 81, 82
      return (p2 === 81 || p2 === 82) && len === 16;
    default:
      return false;
  }
}

export function matchCard(s: string, i: number, n: number): number {
  if (i >= 1) {
    const p = s.charCodeAt(i - 1);
    if ((p === 46 || p === 44) && i >= 2 && isDigitCode(s.charCodeAt(i - 2))) return -1; // 0.4111… (a decimal)
    if ((p === 45 || p === 43) && (i === 1 || !isWordCode(s.charCodeAt(i - 2)))) return -1; // -5851…: a signed number
  }
  let j = i;
  let nd = 0;
  let nb = 0;
  let maxGroup = 0;
  for (;;) {
    const gs = j;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (!isDigitCode(c)) break;
      if (nd < 32) DIG[nd] = c - 48;
      nd++;
      j++;
    }
    if (j - gs > maxGroup) maxGroup = j - gs;
    if (nb < 32) {
      BND_DIGITS[nb] = nd;
      BND_END[nb] = j;
      BND_MAXG[nb] = maxGroup;
      nb++;
    }
    if (nd >= 24 || j + 1 >= n) break;
    const sep = s.charCodeAt(j);
    if ((sep === 32 || sep === 45) && isDigitCode(s.charCodeAt(j + 1))) {
      j++;
      continue;
    }
    break;
  }
  if (nd < 13) return -1;
  // The full extent must end at a boundary; shorter candidates end at a group separator.
  let lastOk = true;
  if (j < n) {
    const c = s.charCodeAt(j);
    if (isWordCode(c) || ((c === 46 || c === 44) && j + 1 < n && isDigitCode(s.charCodeAt(j + 1)))) lastOk = false;
  }
  for (let b = nb - 1; b >= 0; b--) {
    const len = BND_DIGITS[b]!;
    if (len < 13) break;
    if (len > 19 || (b === nb - 1 && !lastOk)) continue;
    // Grouped numbers use groups of at most six digits (4-4-4-4, 4-6-5); a UUID's 8-4-4-4-12 is not a card.
    if (b > 0 && BND_MAXG[b]! > 6) continue;
    if (cardBrandDigits(len) && luhnDigits(len)) {
      M.start = i;
      return BND_END[b]!;
    }
  }
  return -1;
}

/** Luhn check (ISO/IEC 7812-1 Annex B) of a string of digits; spaces and dashes are ignored. */
export function luhnValid(digits: string): boolean {
  const d = digits.replace(/[ -]/g, '');
  if (!/^\d{2,32}$/.test(d)) return false;
  for (let k = 0; k < d.length; k++) DIG[k] = d.charCodeAt(k) - 48;
  return luhnDigits(d.length);
}

