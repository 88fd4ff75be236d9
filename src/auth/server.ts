/**
 * Authentication of incoming requests, as the collector's `configauth` does it on a receiver's
 * protocol:
 *
 * ```yaml
 * receivers:
 *   otlp:
 *     protocols:
 *       http:
 *         auth:
 *           authenticator: bearertokenauth    # an extension id, listed in service::extensions
 * ```
 *
 * An authenticator extension (`bearertokenauth`, `basicauth`) implements {@link ServerAuthenticator}:
 * it reads one header (HTTP) or metadata key (gRPC) and says whether the request may pass, and as
 * whom. The receiver asks it before it reads a byte of the body, and refuses what does not pass
 * (HTTP 401 with `WWW-Authenticate`, gRPC `UNAUTHENTICATED`), counting each refusal in
 * `otelytics_receiver_auth_failures{receiver,transport,reason}` and logging it at warn level, at
 * most once per {@link FAILURE_LOG_INTERVAL_MILLIS} per transport with the number of others in
 * between, never with the credential.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Extension } from '../component.js';
import type { Telemetry } from '../telemetry.js';

/**
 * Why a request did not pass:
 * - `missing`: no credential (no such header, or an empty one);
 * - `malformed`: a credential that cannot be read (another scheme, bad base64, no `user:password`);
 * - `invalid`: a credential that is not one of the configured ones;
 * - `busy`: too many slow verifications (bcrypt) in flight; answered as retryable (HTTP 503, gRPC
 *   `UNAVAILABLE`) so that a rightful client sends again;
 * - `tls`: a TLS handshake that failed (with `client_ca_file`: no client certificate, or one no
 *   configured CA signed; also plain text sent to a TLS port). Counted by the receiver, not an
 *   authenticator.
 */
export type AuthFailureReason = 'missing' | 'malformed' | 'invalid' | 'busy' | 'tls';

/** The outcome of {@link ServerAuthenticator.authenticate}. */
export type AuthOutcome =
  | {
      ok: true;
      /**
       * What the authenticator knows of the client (the collector's `client.Info.Auth`
       * attributes): `subject`, the identity (a token's name, a user name), when there is one;
       * `username` for `basicauth`. Never the credential itself.
       */
      attributes: Readonly<Record<string, string>>;
    }
  | { ok: false; reason: Exclude<AuthFailureReason, 'tls'>; message: string };

/** An extension that authenticates incoming requests (the collector's `extensionauth.Server`). */
export interface ServerAuthenticator extends Extension {
  /** The HTTP header / gRPC metadata key read, lower case (`authorization`). */
  readonly header: string;
  /** The `WWW-Authenticate` value of a 401 (RFC 9110, §11.6.1), e.g. `Bearer realm="otelytics"`. */
  readonly challenge: string;
  /**
   * Checks the first value of {@link header} (undefined when the request has none). Synchronous
   * whenever it can be (token checks, cached verifications), so the hot path makes no promise;
   * a promise for a slow first verification (bcrypt). Never throws.
   */
  authenticate(value: string | undefined): AuthOutcome | Promise<AuthOutcome>;
}

/** Whether a running extension authenticates requests. */
export function isServerAuthenticator(e: Extension | undefined): e is ServerAuthenticator {
  return e !== undefined && typeof (e as Partial<ServerAuthenticator>).authenticate === 'function' && typeof (e as Partial<ServerAuthenticator>).header === 'string';
}

/** An outcome that passes with no attributes. */
export const PASSED: AuthOutcome = Object.freeze({ ok: true, attributes: Object.freeze({}) });

/** SHA-256 of a secret, the form secrets are compared in. */
export function secretDigest(secret: string | Buffer): Buffer {
  return crypto.createHash('sha256').update(secret).digest();
}

/**
 * Compares two SHA-256 digests in constant time (`crypto.timingSafeEqual`): comparing digests of
 * secrets rather than the secrets takes the same time whatever their lengths.
 */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The minimum time between two warnings about failed attempts on one transport of a receiver, milliseconds. */
export const FAILURE_LOG_INTERVAL_MILLIS = 10_000;

/**
 * Counts and logs a receiver's refused requests: each in
 * `otelytics_receiver_auth_failures{receiver,transport,reason}`; a warning (reason, client
 * address, the authenticator's message; never the credential) for the first on a transport, then
 * at most one per {@link FAILURE_LOG_INTERVAL_MILLIS} with `more` = the failures not logged in
 * between, so a flood of bad requests does not flood the logs.
 */
export class AuthFailures {
  private readonly windows = new Map<string, { until: number; more: number; timer: NodeJS.Timeout | undefined }>();

  constructor(
    private readonly receiver: string,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
    private readonly intervalMillis = FAILURE_LOG_INTERVAL_MILLIS,
  ) {}

  record(transport: 'http' | 'grpc', reason: AuthFailureReason, peer: string | undefined, message: string): void {
    this.telemetry.receiverAuthFailure(this.receiver, transport, reason);
    const now = Date.now();
    let w = this.windows.get(transport);
    if (w !== undefined && now < w.until) {
      w.more++;
      // Says how many more there were once the window ends, if no later failure says it first.
      w.timer ??= setTimeout(() => this.summary(transport), w.until - now).unref();
      return;
    }
    const more = w?.more ?? 0;
    if (w?.timer) clearTimeout(w.timer);
    w = { until: now + this.intervalMillis, more: 0, timer: undefined };
    this.windows.set(transport, w);
    this.logger.warn({ transport, reason, peer, ...(more > 0 ? { more } : {}) }, `request refused: ${message}`);
  }

  private summary(transport: 'http' | 'grpc'): void {
    const w = this.windows.get(transport);
    if (!w || w.more === 0) return;
    this.logger.warn({ transport, more: w.more }, `${w.more} more request${w.more === 1 ? '' : 's'} refused for failed authentication in the last ${Math.round(this.intervalMillis / 1000)}s`);
    w.more = 0;
    w.timer = undefined;
  }

  /** Stops the pending summary timers. */
  close(): void {
    for (const w of this.windows.values()) clearTimeout(w.timer);
    this.windows.clear();
  }
}

/** How often a credentials file (`bearertokenauth::filename`, `basicauth::htpasswd::file`) is checked for changes, milliseconds. */
export const CREDENTIALS_CHECK_MILLIS = 1000;

