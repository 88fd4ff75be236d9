/**
 * PII detection by value: a compiled scanner that finds and replaces e-mail addresses, IP
 * addresses, payment card numbers, IBANs, international phone numbers, bearer/basic credentials and
 * JWTs inside strings, URLs and query strings.
 *
 * Everything is compiled once by {@link compileValueScanner}. Per string, a pre-check (one small
 * regular expression: is there a digit, `@`, `:`, `%`, `eyJ` or an auth scheme at all?) rejects
 * most text; otherwise the scanner walks the characters once, and a detector runs only where its
 * match can start (a digit or letter at the start of a word, `+`, `:`, `@`), so ordinary text costs
 * one table lookup per character. A string without findings allocates nothing (`scan` returns
 * `null`). Candidates are validated (octet ranges, Luhn, mod-97, card-brand ranges, JWT header)
 * before anything is replaced.
 *
 * Detection rules and their sources:
 * - `email`: RFC 5322 addr-spec, "lite": local part of letters, digits and `. _ + -`, a domain of
 *   dot-separated labels (letters, digits, hyphens; internationalised letters allowed) ending in an
 *   alphabetic TLD (or `xn--`). Quoted local parts and IP-literal domains are not detected; nor are
 *   `name@2x.png`-style file names (a TLD that is a common file extension).
 * - `ipv4`: dotted quad (RFC 791 / inet_pton), each octet 0–255 without leading zeros, not part of
 *   a longer dotted number (`1.2.3.4.5`) and not preceded by a letter (`v1.2.3.4`).
 * - `ipv6`: RFC 4291 §2.2 text forms, including `::` compression and an embedded IPv4 tail.
 * - `card`: ISO/IEC 7812 primary account numbers of 13–19 digits, optionally grouped by single
 *   spaces or dashes (groups of at most six digits), not signed (`-5851…`) and not the fraction of
 *   a decimal (`0.4111…`). The Luhn check digit (ISO/IEC 7812-1 Annex B) must be valid AND the
 *   number must fall into a card brand's IIN range with that brand's length (Visa, Mastercard,
 *   American Express, Diners Club, Discover, JCB, UnionPay, Maestro, Mir, RuPay). No brand starts
 *   with 1 (UATP is left out on purpose), so 19-digit nanosecond and 13-digit millisecond
 *   timestamps never match.
 * - `iban`: ISO 13616: country code, 2 check digits, BBAN; the length must equal the country's
 *   length in the SWIFT IBAN registry, countries whose BBAN is all digits must have digits only,
 *   and the mod-97 check (ISO 7064 MOD 97-10) must give 1. Upper or lower case; unspaced or in
 *   groups of four separated by single spaces.
 * - `phone`: E.164 numbers written internationally: a leading `+` or `00`, then 8–15 digits
 *   (country code included) in groups separated by single spaces, dashes or dots, optionally with a
 *   `(0)` trunk prefix or a parenthesised area code (`+44 (0)20 7946 0958`, `+1 (415) 555-0199`);
 *   when grouped, the first group is the country code (at most 5 digits after `+`, 3 after `00`).
 *   The `00` form needs at least one separator (so zero-padded ids are left alone) and is not a
 *   group of a longer grouped number; an unseparated `+` form needs 10+ digits; and
 *   `+1.234.567.890` (dots with groups of three: a number with thousands separators) is left alone.
 *   National formats (`030 1234567`) are not detected.
 * - `bearer`: the credentials after the `Bearer` (RFC 6750 §2.1, b64token) or `Basic` (RFC 7617)
 *   authentication scheme. After `Authorization:` any Bearer token counts; elsewhere the token must
 *   be 16+ characters with a digit. A Basic credential must base64-decode to printable `user:pass`.
 *   Only the credential is replaced: `Authorization: Bearer [token]`.
 * - `jwt`: RFC 7519 JWTs in JWS (RFC 7515, three segments) or JWE (RFC 7516, five segments)
 *   compact serialisation: base64url segments whose first starts with `eyJ` and decodes to a JSON
 *   object with an `alg` member.
 *
 * Percent-encoded text (RFC 3986 §2.1, and `application/x-www-form-urlencoded` query strings where
 * `+` is a space) is decoded piecewise, so `jane.doe%40example.com` and `%2B49%20151%2023456789`
 * are found too; see {@link ValueScanner.scan}.
 *
 * Not detected by value (key rules or an allow list must cover these): names of people and postal
 * addresses in free text (`jane doe` in a search term stays), national phone formats, quoted e-mail
 * local parts, account numbers that are not IBANs, card numbers grouped other than by single spaces
 * or dashes, PII inside base64/hex or double percent-encoding. Conversely, a random numeric id that
 * falls into a card brand's range with a valid Luhn digit (about 1 in 10 of those) is masked.
 *
 * Module layout (`./detect/`): `types.ts` (names, actions, masks, defaults, interfaces), `chars.ts`
 * (character classes), one module per detector family (`email.ts`, `ip.ts`, `card.ts`, `iban.ts`,
 * `phone.ts`, `credentials.ts`), `percent.ts` and `url.ts` (URL and query-string handling),
 * `scanner.ts` (option checks and the one-pass scan) and `counter.ts` (hit counts).
 */
export {
  DEFAULT_DETECTORS,
  DEFAULT_IPV4_PREFIX_BITS,
  DEFAULT_IPV6_PREFIX_BITS,
  DETECTOR_NAMES,
  KEY_ACTIONS,
  KEY_MASK,
  MASKS,
  VALUE_ACTIONS,
  type DetectorName,
  type DetectorOptions,
  type KeyAction,
  type ScanResult,
  type ValueAction,
  type ValueScanner,
  type ValueScannerOptions,
} from './detect/types.js';
export { canonicalForm, compileValueScanner } from './detect/scanner.js';
export { createHitCounter, type HitCounter } from './detect/counter.js';
export { truncateIPv4, truncateIPv6 } from './detect/ip.js';
export { luhnValid } from './detect/card.js';
export { ibanValid } from './detect/iban.js';
export { percentDecode } from './detect/percent.js';
