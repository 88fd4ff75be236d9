/** The `iban` detector: ISO 13616 IBANs with the SWIFT registry's lengths and the mod-97 check. */
import { CT, C_LETTER, isDigitCode, isWordCode, M } from './chars.js';

/** IBAN length per country (SWIFT IBAN registry); `*` marks countries whose BBAN is all digits. */
const IBAN_REGISTRY =
  'AD24 AE23* AL28 AT20* AZ28 BA20* BE16* BG22 BH22 BI27* BR29 BY28 CH21 CR22* CY28 CZ24* DE22* ' +
  'DJ27* DK18* DO28 EE20* EG29* ES24* FI18* FK18 FO18* FR27 GB22 GE22 GI23 GL18* GR27 GT28 HR21* ' +
  'HU28* IE22 IL23* IQ23 IS26* IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20* LU20 LV21 LY25* MC27 MD24 ' +
  'ME22* MK19 MN20* MR27* MT31 MU30 NI28 NL18 NO15* OM23 PK24 PL28* PS29 PT25* QA29 RO24 RS22* ' +
  'RU33 SA24 SC31 SD18* SE24* SI19* SK24* SM27 SO23* ST25* SV28 TL23* TN24* TR26 UA29 VA22* VG24 ' +
  'XK20* YE30';
const IBAN_LEN = new Uint8Array(26 * 26);
const IBAN_NUMERIC = new Uint8Array(26 * 26);
for (const e of IBAN_REGISTRY.split(' ')) {
  const idx = (e.charCodeAt(0) - 65) * 26 + (e.charCodeAt(1) - 65);
  IBAN_LEN[idx] = Number.parseInt(e.slice(2), 10);
  IBAN_NUMERIC[idx] = e.endsWith('*') ? 1 : 0;
}
const IBAN_VALS = new Uint8Array(40);

function alnumVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 90) return c - 55;
  if (c >= 97 && c <= 122) return c - 87;
  return -1;
}

export function matchIban(s: string, i: number, n: number): number {
  if (i + 15 > n) return -1;
  if (!isDigitCode(s.charCodeAt(i + 2)) || !isDigitCode(s.charCodeAt(i + 3))) return -1;
  const l0 = (s.charCodeAt(i) | 32) - 97;
  const l1 = s.charCodeAt(i + 1);
  if (l1 >= 128 || (CT[l1]! & C_LETTER) === 0) return -1;
  const idx = l0 * 26 + ((l1 | 32) - 97);
  const len = IBAN_LEN[idx]!;
  if (len === 0) return -1;
  let j = i;
  let cnt = 0;
  while (cnt < len && j < n) {
    let c = s.charCodeAt(j);
    if (c === 32 && cnt > 0 && cnt % 4 === 0 && j + 1 < n) {
      j++;
      c = s.charCodeAt(j);
    }
    const v = alnumVal(c);
    if (v < 0) return -1;
    if (cnt >= 4 && v >= 10 && IBAN_NUMERIC[idx] === 1) return -1;
    IBAN_VALS[cnt++] = v;
    j++;
  }
  if (cnt < len || (j < n && isWordCode(s.charCodeAt(j)))) return -1;
  // ISO 7064 MOD 97-10 over BBAN + country code + check digits.
  let rem = 0;
  for (let k = 4; k < len + 4; k++) {
    const v = IBAN_VALS[k < len ? k : k - len]!;
    rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  if (rem !== 1) return -1;
  M.start = i;
  return j;
}

/**
 * Full IBAN check (ISO 13616): registry length, numeric BBAN where the registry says so, and
 * mod-97. Accepts upper/lower case and groups of four separated by single spaces.
 */
export function ibanValid(iban: string): boolean {
  const c = iban.charCodeAt(0);
  if (!(c < 128 && (CT[c]! & C_LETTER) !== 0)) return false;
  return matchIban(iban, 0, iban.length) === iban.length;
}
