/**
 * Apache `htpasswd` files, as the collector's `basicauthextension` reads them: lines `user:hash`,
 * the hash in one of the formats Apache's `htpasswd` writes (Apache HTTP Server documentation,
 * "Password Formats"):
 *
 * | format | written by | verified with |
 * |---|---|---|
 * | bcrypt, `$2y$` (also `$2a$`, `$2b$`) | `htpasswd -B` | `@node-rs/bcrypt`, off the event loop |
 * | Apache MD5, `$apr1$` (and MD5-crypt `$1$`) | `htpasswd -m` (the default) | `apache-md5` |
 * | SHA-1, `{SHA}` + base64 | `htpasswd -s` | node:crypto |
 * | salted SHA-1, `{SSHA}` + base64 | other tools (OpenLDAP's `slappasswd`) | node:crypto |
 * | plain text (optionally `{PLAIN}`) | `htpasswd -p` | node:crypto, constant time |
 *
 * Not read: SHA-crypt (`$5$`, `$6$`), refused with the line's number, as no well-kept npm
 * library verifies it; and `crypt(3)` DES (`htpasswd -d`), which cannot be told from plain text
 * and is taken as plain text, as the collector takes it. Blank lines and lines starting with `#`
 * are skipped (Apache's `mod_authn_file` skips those too).
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

/**
 * `apache-md5`'s one function, `(password, salt) => hash` (its CommonJS `module.exports`; its
 * typings declare an ES default export that Node's import of it does not have).
 */
const require = createRequire(import.meta.url);
const aprMd5 = require('apache-md5') as (password: string, salt?: string) => string;

/** `@node-rs/bcrypt`'s verify, loaded with the first bcrypt hash read (its native addon stays out of gateways without one). */
let bcryptVerify: ((password: string, hash: string) => Promise<boolean>) | undefined;
function bcrypt(): (password: string, hash: string) => Promise<boolean> {
  return (bcryptVerify ??= (require('@node-rs/bcrypt') as typeof import('@node-rs/bcrypt')).verify);
}

/** How a user's password is checked; `slow`: a bcrypt hash, checked off the event loop. */
export type PasswordCheck = { slow: false; matches(password: string): boolean } | { slow: true; matches(password: string): Promise<boolean> };

/** One user of an htpasswd text, with the format of its hash (for logs). */
export interface HtpasswdUser {
  user: string;
  format: 'bcrypt' | 'md5' | 'sha' | 'ssha' | 'plain';
  check: PasswordCheck;
}

const BCRYPT = /^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/;
const MD5_CRYPT = /^\$(apr1|1)\$([^$]{0,8})\$[./0-9A-Za-z]{22}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Constant-time equality of two byte strings of any lengths (their SHA-256 digests are compared). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  return crypto.timingSafeEqual(crypto.createHash('sha256').update(a).digest(), crypto.createHash('sha256').update(b).digest());
}

/**
 * The check of one hash; throws a message (without the hash) when the hash is of a format that is
 * recognised but broken, or not supported.
 */
export function passwordCheck(hash: string): { format: HtpasswdUser['format']; check: PasswordCheck } {
  if (hash.startsWith('$2')) {
    if (!BCRYPT.test(hash)) throw new Error('a bcrypt hash ($2a$/$2b$/$2y$) that is not 60 characters of the bcrypt alphabet');
    const verify = bcrypt();
    return { format: 'bcrypt', check: { slow: true, matches: (password) => verify(password, hash) } };
  }
  if (hash.startsWith('$apr1$') || hash.startsWith('$1$')) {
    if (!MD5_CRYPT.test(hash)) throw new Error('an MD5 hash ($apr1$/$1$) that is not $apr1$<salt>$<22 characters>');
    const expected = Buffer.from(hash, 'latin1');
    // apache-md5 hashes a string by its char codes (latin1); the UTF-8 bytes of the password, as
    // htpasswd hashes them, are handed over as one char each.
    return { format: 'md5', check: { slow: false, matches: (password) => sameBytes(Buffer.from(aprMd5(Buffer.from(password, 'utf8').toString('latin1'), hash), 'latin1'), expected) } };
  }
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) throw new Error('SHA-crypt hashes ($5$, $6$) are not supported; use bcrypt (htpasswd -B)');
  if (hash.startsWith('{SHA}')) {
    const digest = hash.slice(5);
    if (!BASE64.test(digest) || Buffer.from(digest, 'base64').length !== 20) throw new Error('a {SHA} hash that is not the base64 of 20 bytes');
    const expected = Buffer.from(digest, 'base64');
    return { format: 'sha', check: { slow: false, matches: (password) => sameBytes(crypto.createHash('sha1').update(password, 'utf8').digest(), expected) } };
  }
  if (hash.startsWith('{SSHA}')) {
    const text = hash.slice(6);
    const bytes = Buffer.from(text, 'base64');
    if (!BASE64.test(text) || bytes.length <= 20) throw new Error('an {SSHA} hash that is not the base64 of a 20-byte digest and a salt');
    const digest = bytes.subarray(0, 20);
    const salt = bytes.subarray(20);
    return { format: 'ssha', check: { slow: false, matches: (password) => sameBytes(crypto.createHash('sha1').update(password, 'utf8').update(salt).digest(), digest) } };
  }
  const plain = Buffer.from(hash, 'utf8');
  // Also "{PLAIN}password" (nginx's form), as the collector's reader takes it.
  return { format: 'plain', check: { slow: false, matches: (password) => sameBytes(Buffer.from(password, 'utf8'), plain) || sameBytes(Buffer.from(`{PLAIN}${password}`, 'utf8'), plain) } };
}

/**
 * The users of an htpasswd text; a user named twice keeps the last line (so `inline` lines read
 * after the file override it, as in the collector).
 *
 * @param source what the text is, for messages (`the file /etc/otelytics/htpasswd`).
 * @throws Error `<source>, line <n>: ...` for a line without `:`, an empty user name, or a hash
 *   that is broken or of an unsupported format (the message never holds the hash).
 */
export function parseHtpasswd(text: string, source: string, into = new Map<string, HtpasswdUser>()): Map<string, HtpasswdUser> {
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`${source}, line ${i + 1}: expected user:hash`);
    const user = line.slice(0, colon);
    if (user === '') throw new Error(`${source}, line ${i + 1}: the user name is empty`);
    let parsed: ReturnType<typeof passwordCheck>;
    try {
      parsed = passwordCheck(line.slice(colon + 1));
    } catch (err) {
      throw new Error(`${source}, line ${i + 1} (user ${JSON.stringify(user)}): ${(err as Error).message}`);
    }
    into.set(user, { user, ...parsed });
  });
  return into;
}
