/**
 * The `bearertokenauth` extension: a server authenticator that lets a request pass when its
 * `Authorization` header (or `header`) holds `<scheme> <token>` with one of the configured tokens.
 * Options as in the collector's `bearertokenauthextension` (contrib README): `scheme` (default
 * `Bearer`; empty: the header holds the token alone), `header` (default `Authorization`),
 * `token`, `tokens`, or `filename` (one token a line, read again when the file changes; when set,
 * `token` and `tokens` are ignored, as there).
 *
 * Otelytics adds names, the identity a token stands for (`auth.subject` of the requests it lets
 * pass, put into events by `analytics`' `from_context`): `tokens: [{ name: team-a, token: ... }]`,
 * and `name token` lines in the file. The scheme is compared without regard to case (RFC 9110,
 * §11.1: "It uses a case-insensitive token to identify the authentication scheme"); tokens are
 * compared as SHA-256 digests in constant time, against every configured token.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { ExtensionFactory } from '../component.js';
import { z } from '../config/schema.js';
import { CREDENTIALS_CHECK_MILLIS, PASSED, sameDigest, secretDigest, type AuthOutcome, type ServerAuthenticator } from '../auth/server.js';
import { watchContents } from '../file_watch.js';
import { SettingError } from '../errors.js';

/** Tokens shorter than this are accepted with a warning at start-up: they can be guessed. */
export const SHORT_TOKEN = 16;

const namedToken = z.strictObject({
  name: z
    .string()
    .min(1)
    .regex(/^\S+$/, { message: 'must have no white space' })
    .describe('The identity the token stands for: the `auth.subject` of the requests it lets pass (e.g. a team or tenant).'),
  token: z.string().min(1).regex(/^\S+$/, { message: 'must have no white space' }).describe('The token. Set it from the environment: ${env:...}.'),
});

export const bearerTokenAuthSchema = z
  .strictObject({
    scheme: z.string().regex(/^\S*$/, { message: 'must be one word (or empty)' }).default('Bearer').describe('Authentication scheme before the token in the header. Empty: the header holds the token alone. Default "Bearer".'),
    header: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'must be an HTTP header name' })
      .default('Authorization')
      .describe('Request header (gRPC metadata key) that carries the token. Default "Authorization".'),
    token: z.string().min(1).regex(/^\S+$/, { message: 'must have no white space' }).optional().describe('A token. Set it from the environment: ${env:OTELYTICS_TOKEN}.'),
    tokens: z
      .array(z.union([z.string().min(1).regex(/^\S+$/, { message: 'must have no white space' }), namedToken]))
      .optional()
      .describe('Several tokens, any of which lets a request pass: strings, or { name, token } to give each an identity.'),
    filename: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File of tokens, one a line: `token`, or `name token` to give it an identity; blank lines and lines starting with # are skipped. Read again when it changes (checked every second). When set, token and tokens are ignored.',
      ),
  })
  .refine((c) => c.token !== undefined || (c.tokens !== undefined && c.tokens.length > 0) || c.filename !== undefined, {
    message: 'one of token, tokens or filename is required',
  });

export type BearerTokenAuthConfig = z.infer<typeof bearerTokenAuthSchema>;

/** A configured token: its digest, and what a request it lets pass is known by. */
interface Entry {
  digest: Buffer;
  /** The outcome of a request that holds it. */
  passed: AuthOutcome;
  /** For the warning about short tokens: the token's length and where it is. */
  length: number;
  where: string;
}

function entry(token: string, name: string | undefined, where: string): Entry {
  return { digest: secretDigest(token), passed: name === undefined ? PASSED : Object.freeze({ ok: true, attributes: Object.freeze({ subject: name }) }), length: token.length, where };
}

/**
 * The tokens of a token file: one a line, `token` or `name token`; blank lines and lines starting
 * with `#` skipped.
 *
 * @throws Error naming the line for a line of more than two fields.
 */
export function parseTokenFile(text: string): { token: string; name: string | undefined; line: number }[] {
  const out: { token: string; name: string | undefined; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    if (fields.length > 2) throw new Error(`line ${i + 1}: expected "token" or "name token", got ${fields.length} fields`);
    out.push(fields.length === 2 ? { name: fields[0]!, token: fields[1]!, line: i + 1 } : { name: undefined, token: fields[0]!, line: i + 1 });
  });
  return out;
}

/** The running `bearertokenauth` authenticator. */
export class BearerTokenAuthenticator implements ServerAuthenticator {
  readonly header: string;
  readonly challenge: string;
  private entries: readonly Entry[] = [];
  private readonly schemeLower: string;
  private unwatch: (() => void) | undefined;
  private readonly missing: AuthOutcome;
  private readonly malformed: AuthOutcome;
  private readonly invalid: AuthOutcome = { ok: false, reason: 'invalid', message: 'the bearer token is not valid' };

  constructor(
    private readonly cfg: BearerTokenAuthConfig,
    private readonly logger: Logger,
  ) {
    this.header = cfg.header.toLowerCase();
    this.schemeLower = cfg.scheme.toLowerCase();
    this.challenge = `${cfg.scheme || 'Bearer'} realm="otelytics"`;
    this.missing = { ok: false, reason: 'missing', message: `no ${cfg.header} header${cfg.scheme ? ` ("${cfg.scheme} <token>")` : ''}` };
    this.malformed = { ok: false, reason: 'malformed', message: `the ${cfg.header} header is not "${cfg.scheme} <token>"` };
    if (cfg.filename === undefined) this.entries = [...(cfg.token !== undefined ? [entry(cfg.token, undefined, 'token')] : []), ...(cfg.tokens ?? []).map((t, i) => (typeof t === 'string' ? entry(t, undefined, `tokens::${i}`) : entry(t.token, t.name, `tokens::${i}`)))];
  }

  /**
   * Reads `filename` (when set) and starts watching it.
   *
   * @throws SettingError `filename: cannot read <file>: ENOENT`, or naming a malformed line.
   */
  async start(): Promise<void> {
    const file = this.cfg.filename;
    if (file === undefined) {
      this.warnShort();
      return;
    }
    if (this.cfg.token !== undefined || this.cfg.tokens !== undefined) this.logger.warn({ filename: file }, 'filename is set: token and tokens are ignored');
    let contents: Buffer;
    try {
      contents = fs.readFileSync(file);
    } catch (err) {
      throw new SettingError('filename', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    try {
      this.entries = this.fromFile(contents);
    } catch (err) {
      throw new SettingError('filename', `${file}: ${(err as Error).message}`, { cause: err });
    }
    this.warnShort();
    this.unwatch = watchContents(file, contents, (now) => {
      if (!Buffer.isBuffer(now)) {
        this.logger.warn({ filename: file, err: now.code ?? now.message }, 'token file cannot be read; keeping the tokens read before');
        return;
      }
      try {
        this.entries = this.fromFile(now);
      } catch (err) {
        this.logger.warn({ filename: file, err: (err as Error).message }, 'token file cannot be used; keeping the tokens read before');
        return;
      }
      this.logger.info({ filename: file, tokens: this.entries.length }, 'token file read again');
      this.warnShort();
    }, CREDENTIALS_CHECK_MILLIS);
  }

  async shutdown(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private fromFile(contents: Buffer): Entry[] {
    return parseTokenFile(contents.toString('utf8')).map((t) => entry(t.token, t.name, `line ${t.line} of ${this.cfg.filename}`));
  }

  private warnShort(): void {
    if (this.entries.length === 0) this.logger.warn({ filename: this.cfg.filename }, 'no tokens: every request is refused');
    for (const e of this.entries) if (e.length < SHORT_TOKEN) this.logger.warn({ token: e.where, characters: e.length }, `a token of fewer than ${SHORT_TOKEN} characters can be guessed; use e.g. openssl rand -base64 32`);
  }

  authenticate(value: string | undefined): AuthOutcome {
    if (value === undefined || value === '') return this.missing;
    let token = value;
    const n = this.schemeLower.length;
    if (n > 0) {
      // `<scheme> <token>`: the scheme in any case, then one or more spaces.
      if (value.length <= n + 1 || value.charCodeAt(n) !== 32 || value.slice(0, n).toLowerCase() !== this.schemeLower) return this.malformed;
      token = value.slice(n + 1).trim();
      if (token === '') return this.malformed;
    }
    const digest = secretDigest(token);
    let match: Entry | undefined;
    // Every token is compared, a match or not, so the time taken does not tell which one matched.
    for (const e of this.entries) if (sameDigest(digest, e.digest) && match === undefined) match = e;
    return match === undefined ? this.invalid : match.passed;
  }
}

export const bearerTokenAuthFactory: ExtensionFactory<BearerTokenAuthConfig> = {
  kind: 'extension',
  type: 'bearertokenauth',
  description: 'Authenticator: requests pass with "Authorization: Bearer <token>" of a configured token (token, tokens or a watched file)',
  configSchema: bearerTokenAuthSchema,
  serverAuthenticator: true,
  create: (settings, config) => new BearerTokenAuthenticator(config, settings.logger),
};
