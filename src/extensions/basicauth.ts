/**
 * The `basicauth` extension: a server authenticator for HTTP Basic authentication (RFC 7617)
 * against Apache htpasswd content, configured as the collector's `basicauthextension` (contrib
 * README): `htpasswd::file` and/or `htpasswd::inline` (inline lines override the file's for the
 * same user). A request passes with `Authorization: Basic base64(user:password)` of a listed user;
 * its `auth.subject` and `auth.username` are the user name (the collector exposes `username`).
 *
 * Verification is on the hot path, once per request, so:
 * - a successful verification is remembered (by the SHA-256 of the header value, at most
 *   {@link CACHE_ENTRIES}, forgotten when the htpasswd content changes): a client sending the same
 *   credentials again passes after one hash and a map look-up, whatever the hash format;
 * - bcrypt is verified on libuv's thread pool (`@node-rs/bcrypt`), never on the event loop, and
 *   at most {@link MAX_SLOW_VERIFICATIONS} at once with {@link MAX_WAITING} waiting; beyond that a
 *   request is refused as `busy` (HTTP 503, gRPC `UNAVAILABLE`: clients retry), so a flood of
 *   wrong passwords cannot take the pool from gzip decompression.
 * The htpasswd file is read again when it changes (checked every second).
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { ExtensionFactory } from '../component.js';
import { z } from '../config/schema.js';
import { CREDENTIALS_CHECK_MILLIS, secretDigest, type AuthOutcome, type ServerAuthenticator } from '../auth/server.js';
import { watchContents } from '../file_watch.js';
import { SettingError } from '../errors.js';
import { parseHtpasswd, type HtpasswdUser } from './htpasswd.js';

/** Most remembered successful verifications; the memory is emptied when full. */
export const CACHE_ENTRIES = 4096;
/** Most bcrypt verifications running at once (libuv's pool has 4 threads by default, shared with zlib and fs). */
export const MAX_SLOW_VERIFICATIONS = 2;
/** Most bcrypt verifications waiting for a turn; more are refused as `busy`. */
export const MAX_WAITING = 64;

export const basicAuthSchema = z.strictObject({
  htpasswd: z
    .strictObject({
      file: z.string().min(1).optional().describe('Path of an htpasswd file (htpasswd -B for bcrypt). Read again when it changes (checked every second).'),
      inline: z.string().optional().describe('htpasswd lines in the config (e.g. "${env:BASIC_AUTH_USER}:${env:BASIC_AUTH_HASH}"); they override the file\'s lines for the same user.'),
    })
    .refine((h) => h.file !== undefined || (h.inline !== undefined && h.inline.trim() !== ''), { message: 'one of file or inline is required' })
    .describe('Where the users and their password hashes are: file, inline, or both.'),
});

export type BasicAuthConfig = z.infer<typeof basicAuthSchema>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The user name and password of a `Basic` credential (RFC 7617, §2), or why it cannot be read. */
export function parseBasic(value: string): { user: string; password: string } | string {
  if (value.length < 7 || value.slice(0, 6).toLowerCase() !== 'basic ') return 'the Authorization header is not "Basic <base64 of user:password>"';
  const encoded = value.slice(6).trim();
  if (!BASE64.test(encoded)) return 'the Basic credentials are not base64';
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'the Basic credentials are not user:password';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The running `basicauth` authenticator. */
export class BasicAuthenticator implements ServerAuthenticator {
  readonly header = 'authorization';
  readonly challenge = 'Basic realm="otelytics", charset="UTF-8"';
  private users = new Map<string, HtpasswdUser>();
  /** Successful verifications: hex SHA-256 of the header value → the outcome. */
  private readonly passed = new Map<string, AuthOutcome>();
  private fileContents: Buffer | undefined;
  private unwatch: (() => void) | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private static readonly MISSING: AuthOutcome = { ok: false, reason: 'missing', message: 'no Authorization header ("Basic <base64 of user:password>")' };
  private static readonly INVALID: AuthOutcome = { ok: false, reason: 'invalid', message: 'the user name or password is not valid' };
  private static readonly BUSY: AuthOutcome = { ok: false, reason: 'busy', message: 'too many password verifications in progress; try again later' };

  constructor(
    private readonly cfg: BasicAuthConfig,
    private readonly logger: Logger,
  ) {}

  /**
   * Reads the htpasswd file and inline lines and starts watching the file.
   *
   * @throws SettingError `htpasswd::file: cannot read <file>: ENOENT`, or naming a bad line
   *   (`htpasswd::inline: the inline lines, line 2 (user "x"): SHA-crypt hashes ... are not supported`).
   */
  async start(): Promise<void> {
    const file = this.cfg.htpasswd.file;
    if (file !== undefined) {
      try {
        this.fileContents = fs.readFileSync(file);
      } catch (err) {
        throw new SettingError('htpasswd::file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
    }
    this.users = this.read(this.fileContents, (key, message) => new SettingError(key, message));
    this.describe();
    if (file === undefined) return;
    this.unwatch = watchContents(file, this.fileContents!, (now) => {
      if (!Buffer.isBuffer(now)) {
        this.logger.warn({ file, err: now.code ?? now.message }, 'htpasswd file cannot be read; keeping the users read before');
        return;
      }
      try {
        this.users = this.read(now, (_key, message) => new Error(message));
      } catch (err) {
        this.logger.warn({ file, err: (err as Error).message }, 'htpasswd file cannot be used; keeping the users read before');
        return;
      }
      this.fileContents = now;
      this.passed.clear();
      this.logger.info({ file, users: this.users.size }, 'htpasswd file read again');
      this.describe();
    }, CREDENTIALS_CHECK_MILLIS);
  }

  async shutdown(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    this.passed.clear();
  }

  /** The users of the file's contents and the inline lines (which override the file's). */
  private read(fileContents: Buffer | undefined, error: (key: string, message: string) => Error): Map<string, HtpasswdUser> {
    const users = new Map<string, HtpasswdUser>();
    if (fileContents !== undefined) {
      try {
        parseHtpasswd(fileContents.toString('utf8'), `the file ${this.cfg.htpasswd.file}`, users);
      } catch (err) {
        throw error('htpasswd::file', (err as Error).message);
      }
    }
    if (this.cfg.htpasswd.inline !== undefined) {
      try {
        parseHtpasswd(this.cfg.htpasswd.inline, 'the inline lines', users);
      } catch (err) {
        throw error('htpasswd::inline', (err as Error).message);
      }
    }
    return users;
  }

  /** Logs what was read: the users by hash format; warns of plain-text passwords and of no users. */
  private describe(): void {
    if (this.users.size === 0) this.logger.warn('no users in htpasswd: every request is refused');
    const plain = [...this.users.values()].filter((u) => u.format === 'plain').map((u) => u.user);
    if (plain.length > 0) this.logger.warn({ users: plain }, 'htpasswd holds plain-text passwords (or crypt(3) hashes, read as plain text); use bcrypt: htpasswd -B');
  }

  authenticate(value: string | undefined): AuthOutcome | Promise<AuthOutcome> {
    if (value === undefined || value === '') return BasicAuthenticator.MISSING;
    const key = secretDigest(value).toString('hex');
    const known = this.passed.get(key);
    if (known !== undefined) return known;
    const creds = parseBasic(value);
    if (typeof creds === 'string') return { ok: false, reason: 'malformed', message: creds };
    const u = this.users.get(creds.user);
    if (u === undefined) return BasicAuthenticator.INVALID;
    const users = this.users;
    const remember = (ok: boolean): AuthOutcome => {
      if (!ok) return BasicAuthenticator.INVALID;
      const outcome: AuthOutcome = Object.freeze({ ok: true, attributes: Object.freeze({ subject: u.user, username: u.user }) });
      // Not when the users changed meanwhile: the verification was against the previous hash.
      if (users === this.users) {
        if (this.passed.size >= CACHE_ENTRIES) this.passed.clear();
        this.passed.set(key, outcome);
      }
      return outcome;
    };
    if (!u.check.slow) return remember(u.check.matches(creds.password));
    const check = u.check;
    return this.turn().then(
      (granted) => {
        if (!granted) return BasicAuthenticator.BUSY;
        return check.matches(creds.password).then(
          (ok) => remember(ok),
          () => BasicAuthenticator.INVALID,
        ).finally(() => this.release());
      },
    );
  }

  /** Waits for a slot among {@link MAX_SLOW_VERIFICATIONS}; false when {@link MAX_WAITING} are already waiting. */
  private turn(): Promise<boolean> {
    if (this.running < MAX_SLOW_VERIFICATIONS) {
      this.running++;
      return Promise.resolve(true);
    }
    if (this.waiting.length >= MAX_WAITING) return Promise.resolve(false);
    return new Promise((resolve) => this.waiting.push(() => resolve(true)));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

export const basicAuthFactory: ExtensionFactory<BasicAuthConfig> = {
  kind: 'extension',
  type: 'basicauth',
  description: 'Authenticator: requests pass with HTTP Basic credentials of a user in htpasswd content (bcrypt, Apache MD5, SHA)',
  configSchema: basicAuthSchema,
  serverAuthenticator: true,
  create: (settings, config) => new BasicAuthenticator(config, settings.logger),
};
