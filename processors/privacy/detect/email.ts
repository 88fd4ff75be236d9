/** The `email` detector: RFC 5322 addr-spec, "lite" (see ../detectors.ts for the rule). */
import { CT, C_LOCAL, M } from './chars.js';

const DOMAIN_RE =
  /(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})(?![\p{L}\p{N}_-])/iuy;
/** Common file extensions that are not top-level domains (`logo@2x.png`). */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'avif', 'ico', 'bmp', 'tif', 'tiff', 'heic',
  'js', 'mjs', 'cjs', 'ts', 'css', 'map', 'html', 'htm', 'json', 'xml', 'txt', 'pdf', 'csv',
  'yaml', 'yml', 'woff', 'woff2', 'ttf', 'eot', 'mp3', 'mp4', 'webm', 'wasm', 'gz',
]);
const NON_ASCII_WORD_RE = /[\p{L}\p{N}]/u;

/** `at` is the index of `@`; the local part is searched back to `floor`. */
export function matchEmail(s: string, at: number, n: number, floor: number): number {
  let a = at;
  while (a > floor) {
    const c = s.charCodeAt(a - 1);
    if (c < 128 ? (CT[c]! & C_LOCAL) === 0 : !NON_ASCII_WORD_RE.test(s[a - 1]!)) break;
    a--;
  }
  while (a < at && s.charCodeAt(a) === 46) a++; // a local part does not start with "."
  if (a === at || at + 1 >= n) return -1;
  DOMAIN_RE.lastIndex = at + 1;
  if (!DOMAIN_RE.test(s)) return -1;
  const end = DOMAIN_RE.lastIndex;
  const tld = s.slice(s.lastIndexOf('.', end - 1) + 1, end).toLowerCase();
  if (FILE_EXTENSIONS.has(tld)) return -1;
  M.start = a;
  return end;
}
