/**
 * The error catalogue. Every error the gateway raises on purpose carries a stable `code`.
 *
 * Consumer errors follow the collector's `consumererror` classification: a permanent error is
 * never retried (the data goes to the dead-letter route or is counted as dropped); a retryable
 * error may be retried, after `retryAfterMillis` when the destination said so. Receivers turn a
 * retryable refusal into HTTP 429/503 with `Retry-After` or gRPC `UNAVAILABLE` with `RetryInfo`.
 */

export class OtelyticsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration problem; `path` is the full `::`-separated key path (e.g. `exporters::file::path`). */
export class ConfigError extends OtelyticsError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('CONFIG_INVALID', path ? `${path}: ${message}` : message);
    this.path = path;
  }
}

/** Several configuration problems, reported at once. */
export class ConfigErrors extends OtelyticsError {
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    super('CONFIG_INVALID', `invalid configuration:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
    this.errors = errors;
  }
}

/**
 * A component's setting that failed when it was used at start-up (a port in use, a file that
 * cannot be read). `key` is the setting's path inside the component's config
 * (`protocols::http::endpoint`); the gateway adds the component's place (`receivers::otlp::`) so
 * the error names the full key once: `receivers::otlp::protocols::http::endpoint: 127.0.0.1:4318
 * is already in use`.
 */
export class SettingError extends OtelyticsError {
  readonly key: string;
  readonly detail: string;
  constructor(key: string, detail: string, options?: { cause?: unknown }) {
    super('SETTING_FAILED', `${key}: ${detail}`, options);
    this.key = key;
    this.detail = detail;
  }
}

/**
 * The error of binding `address` (`host:port`) for the setting `key`: `<address> is already in
 * use` (EADDRINUSE), `<address>: permission denied` (EACCES), else `cannot listen on <address>: <why>`.
 */
export function listenError(key: string, address: string, err: unknown): SettingError {
  // Node's errors carry a code; grpc-js' bind error only names it in its message.
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(errorMessage(err))?.[1];
  const detail =
    code === 'EADDRINUSE' ? `${address} is already in use`
    : code === 'EACCES' ? `${address}: permission denied`
    : code === 'EADDRNOTAVAIL' ? `${address}: no such address on this machine`
    : `cannot listen on ${address}: ${errorMessage(err)}`;
  return new SettingError(key, detail, { cause: err });
}

/** An OTLP request body that cannot be decoded. Maps to HTTP 400 / gRPC INVALID_ARGUMENT. */
export class OtlpDecodeError extends OtelyticsError {
  constructor(message: string) {
    super('OTLP_DECODE', message);
  }
}

/** Data that can never be delivered as it is (bad record, rejected by the destination for good). */
export class PermanentError extends OtelyticsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PERMANENT', message, options);
  }
}

/** A refusal or failure that may succeed later (queue full, memory limit, destination down). */
export class RetryableError extends OtelyticsError {
  /** How long the sender should wait before retrying, when known; milliseconds. */
  readonly retryAfterMillis: number | undefined;
  constructor(message: string, retryAfterMillis?: number, options?: { cause?: unknown }) {
    super('RETRYABLE', message, options);
    this.retryAfterMillis = retryAfterMillis;
  }
}

export function isPermanent(err: unknown): boolean {
  return err instanceof PermanentError || err instanceof OtlpDecodeError;
}

export function isRetryable(err: unknown): err is RetryableError {
  return err instanceof RetryableError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `s` cut to at most `max` characters (the last one `…`), to keep error texts short in logs and reasons. */
export function clip(s: string, max = 300): string {
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/**
 * Part of a payload was delivered, part was not: `rejected` items were refused for good (each
 * with its reason; they go to the dead-letter route), `retry` holds what may be sent again
 * (after `retryAfterMillis` when known). Either part may be absent.
 */
export class PartialFailure<P = unknown> extends OtelyticsError {
  readonly rejected: { payload: P; reason: string }[];
  readonly retry: P | undefined;
  readonly retryAfterMillis: number | undefined;
  constructor(message: string, parts: { rejected?: { payload: P; reason: string }[]; retry?: P; retryAfterMillis?: number }) {
    super('PARTIAL', message);
    this.rejected = parts.rejected ?? [];
    this.retry = parts.retry;
    this.retryAfterMillis = parts.retryAfterMillis;
  }
}
