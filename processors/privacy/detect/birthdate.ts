/**
 * The `birthdate` detector: a calendar date right after a word that says birth.
 *
 * Dates: `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` (ISO 8601 and its variants), `DD.MM.YYYY`,
 * `DD-MM-YYYY`, `DD/MM/YYYY` and `MM/DD/YYYY` (day and month with one or two digits), year
 * 1900–2099, month 1–12, day 1–31; not part of a longer number. An ISO time after the date
 * (`1985-03-12T00:00:00Z`) stays.
 *
 * Birth words, case-insensitive, within the 48 characters before the date: `birth` (`birthday`,
 * `birthdate`, `date_of_birth`), `born`, `dob`, `geboren`, `geburt` (`Geburtsdatum`, `Geburtstag`),
 * `geb.`, `naissance`, `né`/`née`, `nacimiento`, `nacido`/`nacida`, `geboorte`; between the word
 * and the date only the rest of the word, a quote, `:` or `=`, spaces, and the filler words `am`,
 * `on`, `le`, `el`, `op`, `den`, `the`, `is`, `was`, `of`, `vom` (`geboren am 12.03.1985`,
 * `dob=1985-03-12`, `"date_of_birth": "1985-03-12"`). Any other date (event times, order dates)
 * stays. Dates written with month names (`12 March 1985`) are not detected.
 */
import { isDigitCode, isWordCode, M } from './chars.js';

const BIRTH_CONTEXT_RE =
  /(?:birth|born|(?<![a-z])dob|geboren|geburt|(?<![a-z])geb\.|naissance|(?<![a-z])née?|nacimiento|nacid[oa]|geboorte)[a-zäöüß_]*["']?[ \t]*[:=]?[ \t]*(?:(?:am|on|le|el|op|den|the|is|was|of|vom)[ \t]+)*["']?[ \t]*$/i;
/** Characters before a date searched for a birth word. */
const CONTEXT_WINDOW = 48;

/** Digits from `j` (at most `max`): their value, with the end in `END`; -1 when none. */
const END = { j: 0 };
function digits(s: string, j: number, n: number, max: number): number {
  let v = 0;
  const st = j;
  while (j < n && j - st < max && isDigitCode(s.charCodeAt(j))) {
    v = v * 10 + (s.charCodeAt(j) - 48);
    j++;
  }
  END.j = j;
  return j === st ? -1 : v;
}

function isSep(c: number): boolean {
  return c === 45 || c === 46 || c === 47; // - . /
}

/** End of a date at `i` (a digit that starts a word), or -1. */
export function matchDate(s: string, i: number, n: number): number {
  if (i + 8 > n) return -1;
  if (i > 0 && isSep(s.charCodeAt(i - 1)) && i > 1 && isDigitCode(s.charCodeAt(i - 2))) return -1;
  const a = digits(s, i, n, 4);
  let j = END.j;
  const la = j - i;
  if (la === 3 || j >= n) return -1;
  const sep = s.charCodeAt(j);
  if (!isSep(sep)) return -1;
  const b = digits(s, j + 1, n, 2);
  const lbStart = j + 1;
  j = END.j;
  if (b < 0 || j >= n || s.charCodeAt(j) !== sep) return -1;
  const lb = j - lbStart;
  const cStart = j + 1;
  const c = digits(s, cStart, n, 4);
  j = END.j;
  const lc = j - cStart;
  if (c < 0) return -1;
  let year: number;
  let month: number;
  let day: number;
  if (la === 4) {
    if (lb !== 2 || lc !== 2) return -1;
    year = a;
    month = b;
    day = c;
  } else {
    if (lc !== 4) return -1;
    year = c;
    if (sep === 47 && a <= 12 && b > 12) {
      month = a; // MM/DD/YYYY
      day = b;
    } else {
      day = a;
      month = b;
    }
  }
  if (year < 1900 || year > 2099 || month < 1 || month > 12 || day < 1 || day > 31) return -1;
  if (j < n) {
    const e = s.charCodeAt(j);
    if (isSep(e) && j + 1 < n && isDigitCode(s.charCodeAt(j + 1))) return -1; // 1985-03-12-7
    if (isWordCode(e) && !(e === 84 && j + 1 < n && isDigitCode(s.charCodeAt(j + 1)))) return -1;
  }
  return j;
}

/** A date of birth at `i` (a digit that starts a word): its end (and `M.start`), or -1. */
export function matchBirthDate(s: string, i: number, n: number): number {
  const end = matchDate(s, i, n);
  if (end < 0) return -1;
  if (!BIRTH_CONTEXT_RE.test(s.slice(i > CONTEXT_WINDOW ? i - CONTEXT_WINDOW : 0, i))) return -1;
  M.start = i;
  return end;
}
