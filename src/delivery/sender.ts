/**
 * Delivery of one payload to a destination: the per-request timeout, retries with exponential
 * back-off and jitter, progress within a payload sent in several requests, and the handling of
 * partial failures (the collector's `timeout_sender` and `retry_sender`, with otelytics' dead-letter
 * route).
 *
 * Errors from `send` are classified once, here (see `src/errors.ts`):
 * - `PermanentError` / `OtlpDecodeError`: never retried; the payload is handed to `reject`;
 * - `PartialFailure`: its `rejected` parts are handed to `reject` at once, its `retry` part is
 *   retried (after its `retryAfterMillis` when given), what is left is recorded with `update`;
 * - `RetryableError` and any other error: retried after `retryAfterMillis` when given, else after
 *   the back-off's next wait, until `max_elapsed_time` (0 = forever) or until `stop` aborts.
 *
 * A send that makes several requests reports each accepted part with {@link SendContext.progress}:
 * what is left is recorded at once (`update`), and a retry, a timeout of a later request or a
 * crash never sends the accepted part again.
 */
import type { Payload } from '../component.js';
import { itemCount } from '../component.js';
import { errorMessage, isPermanent, isRetryable, PartialFailure, RetryableError } from '../errors.js';
import { Backoff, sleep, type RetryConfig } from './backoff.js';

/** What an exporter's `send` gets besides the payload. */
export interface SendContext {
  /**
   * Aborts when the exporter stops (its shutdown deadline passed): no new request starts, what is
   * left stays queued; requests in flight may still finish.
   */
  readonly stopped: AbortSignal;
  /**
   * Runs one request to the destination under the per-request `timeout`: `signal` aborts when the
   * timeout passes or the exporter cuts what is in flight, and the request then fails with a
   * `RetryableError` ({@link RequestTimeoutError} for the timeout) even if `fn` ignores the signal.
   * Once the exporter has stopped, it fails without calling `fn`.
   */
  request<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /**
   * Records that only `rest` (a part of the payload being sent, e.g. the events of the requests
   * not sent yet and of the one that failed) is left to deliver: the rest was accepted by the
   * destination. Resolves once recorded (written to the persistent queue).
   */
  progress(rest: Payload): Promise<void>;
}

export interface DeliveryOptions {
  /** Sends once (one or several requests to the destination). */
  send(p: Payload, ctx: SendContext): Promise<void>;
  /** Per-request timeout, milliseconds; 0 = none. */
  timeoutMillis: number;
  retry: RetryConfig;
  /** Aborted when the exporter stops (shutdown deadline): no new attempt or request starts; the loop returns what is left. */
  stop: AbortSignal;
  /** Aborted after `stop` when requests still in flight are cut off. */
  cut: AbortSignal;
  /** Takes a part refused for good (dead-letter it, or count it as dropped). May throw. */
  reject(p: Payload, reason: string): Promise<void>;
  /** Records what is left to send (the persistent queue rewrites the entry). */
  update?(p: Payload): Promise<void>;
  /** Told of each failed attempt that will be retried. */
  onRetry?(err: unknown, waitMillis: number, attempt: number): void;
  random?: () => number;
}

/** What became of a payload: `sent` items were delivered; `left` is what could not be, and why. */
export interface DeliveryOutcome {
  sent: number;
  left?: { payload: Payload; why: 'exhausted' | 'stopped'; error: string };
}

/** The error a request that timed out fails with (retryable). */
export class RequestTimeoutError extends RetryableError {
  constructor(timeoutMillis: number) {
    super(`request timed out after ${timeoutMillis}ms`);
  }
}

/** The error a request still running when the exporter stops fails with. */
class StoppedError extends RetryableError {
  constructor(reason: unknown) {
    super(`the exporter stopped: ${errorMessage(reason)}`);
  }
}

/**
 * {@link SendContext.request}: one request under `timeoutMillis` (0 = none); none starts once
 * `stop` has aborted, and one in flight is cut short when `cut` aborts.
 */
export async function runRequest<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMillis: number, stop: AbortSignal, cut: AbortSignal = stop): Promise<T> {
  if (stop.aborted || cut.aborted) throw new StoppedError(stop.reason ?? cut.reason);
  const request = new AbortController();
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const onCut = () => {
    const err = new StoppedError(cut.reason);
    request.abort(err);
    fail(err);
  };
  cut.addEventListener('abort', onCut, { once: true });
  const timer =
    timeoutMillis > 0
      ? setTimeout(() => {
          const err = new RequestTimeoutError(timeoutMillis);
          request.abort(err);
          fail(err);
        }, timeoutMillis)
      : undefined;
  try {
    const running = fn(request.signal);
    // A request that settles after it was given up must not raise an unhandled rejection.
    running.catch(() => undefined);
    return await Promise.race([running, failed]);
  } finally {
    clearTimeout(timer);
    cut.removeEventListener('abort', onCut);
  }
}

function isPayload(v: unknown): v is Payload {
  return typeof v === 'object' && v !== null && 'signal' in v && 'data' in v;
}

/** Sends `p` until it is delivered, refused for good, out of retries, or stopped. Never throws for a send failure. */
export async function deliver(p: Payload, o: DeliveryOptions): Promise<DeliveryOutcome> {
  const backoff = new Backoff(o.retry, o.random);
  let current = p;
  let sent = 0;
  let attempt = 0;
  const ctx: SendContext = {
    stopped: o.stop,
    request: (fn) => runRequest(fn, o.timeoutMillis, o.stop, o.cut),
    progress: async (rest) => {
      sent += Math.max(0, itemCount(current) - itemCount(rest));
      current = rest;
      await o.update?.(rest);
    },
  };
  for (;;) {
    if (o.stop.aborted) return { sent, left: { payload: current, why: 'stopped', error: 'the exporter stopped' } };
    let retryAfter: number | undefined;
    let error: unknown;
    try {
      attempt++;
      await untilCut(o.send(current, ctx), o.cut);
      return { sent: sent + itemCount(current) };
    } catch (err) {
      error = err;
      if (o.stop.aborted) return { sent, left: { payload: current, why: 'stopped', error: errorMessage(err) } };
      if (err instanceof PartialFailure) {
        const n = itemCount(current);
        let refused = 0;
        for (const part of err.rejected) {
          if (!isPayload(part.payload)) continue;
          refused += itemCount(part.payload);
          await o.reject(part.payload, part.reason);
        }
        const rest = isPayload(err.retry) ? err.retry : undefined;
        const restItems = rest ? itemCount(rest) : 0;
        sent += Math.max(0, n - refused - restItems);
        if (!rest || restItems === 0) return { sent };
        current = rest;
        await o.update?.(current);
        retryAfter = err.retryAfterMillis;
      } else if (isPermanent(err)) {
        await o.reject(current, errorMessage(err));
        return { sent };
      } else if (isRetryable(err)) {
        retryAfter = err.retryAfterMillis;
      }
    }
    const wait = backoff.next(retryAfter);
    if (wait === undefined) {
      const why = o.retry.enabled ? `not delivered within max_elapsed_time (${o.retry.max_elapsed_time}ms)` : 'not delivered (retry_on_failure disabled)';
      return { sent, left: { payload: current, why: 'exhausted', error: `${why}: ${errorMessage(error)}` } };
    }
    o.onRetry?.(error, wait, attempt);
    try {
      await sleep(wait, o.stop);
    } catch {
      return { sent, left: { payload: current, why: 'stopped', error: errorMessage(error) } };
    }
  }
}

/** `sending`, or a rejection as soon as `cut` aborts (what is left stays queued). */
function untilCut(sending: Promise<void>, cut: AbortSignal): Promise<void> {
  // A send that settles after it was given up must not raise an unhandled rejection.
  sending.catch(() => undefined);
  if (cut.aborted) return Promise.reject(new StoppedError(cut.reason));
  return new Promise<void>((resolve, reject) => {
    const onCut = () => reject(new StoppedError(cut.reason));
    cut.addEventListener('abort', onCut, { once: true });
    sending.then(
      () => {
        cut.removeEventListener('abort', onCut);
        resolve();
      },
      (err: unknown) => {
        cut.removeEventListener('abort', onCut);
        reject(err);
      },
    );
  });
}
