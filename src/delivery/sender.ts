/**
 * Delivery of one payload to a destination: the per-send timeout, retries with exponential
 * back-off and jitter, and the handling of partial failures (the collector's `timeout_sender` and
 * `retry_sender`, with otelytics' dead-letter route).
 *
 * Errors from `send` are classified once, here (see `src/errors.ts`):
 * - `PermanentError` / `OtlpDecodeError`: never retried; the payload is handed to `reject`;
 * - `PartialFailure`: its `rejected` parts are handed to `reject` at once, its `retry` part is
 *   retried (after its `retryAfterMillis` when given), what is left is recorded with `update`;
 * - `RetryableError` and any other error: retried after `retryAfterMillis` when given, else after
 *   the back-off's next wait, until `max_elapsed_time` (0 = forever) or until `stop` aborts.
 */
import type { Payload } from '../component.js';
import { itemCount } from '../component.js';
import { errorMessage, isPermanent, isRetryable, PartialFailure, RetryableError } from '../errors.js';
import { Backoff, sleep, type RetryConfig } from './backoff.js';

export interface DeliveryOptions {
  /** Sends once; `signal` aborts when the attempt timed out or the exporter stops. */
  send(p: Payload, signal: AbortSignal): Promise<void>;
  /** Per-attempt timeout, milliseconds; 0 = none. */
  timeoutMillis: number;
  retry: RetryConfig;
  /** Aborted when the exporter must stop (shutdown deadline): the loop returns what is left. */
  stop: AbortSignal;
  /** Takes a part refused for good (dead-letter it, or count it as dropped). May throw. */
  reject(p: Payload, reason: string): Promise<void>;
  /** Records what is left to send after a partial failure (the persistent queue rewrites the entry). */
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

/** The error a timed-out attempt fails with (retryable). */
export class SendTimeoutError extends RetryableError {
  constructor(timeoutMillis: number) {
    super(`send timed out after ${timeoutMillis}ms`);
  }
}

/** One attempt with the per-send timeout, aborted early when `stop` aborts. */
export async function sendOnce(send: DeliveryOptions['send'], p: Payload, timeoutMillis: number, stop: AbortSignal): Promise<void> {
  const attempt = new AbortController();
  const onStop = () => attempt.abort(stop.reason);
  stop.addEventListener('abort', onStop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const sending = send(p, attempt.signal);
    const limits: Promise<never>[] = [
      new Promise<never>((_, reject) => attempt.signal.addEventListener('abort', () => reject(attempt.signal.reason), { once: true })),
    ];
    if (timeoutMillis > 0) {
      limits.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new SendTimeoutError(timeoutMillis);
            attempt.abort(err);
            reject(err);
          }, timeoutMillis);
        }),
      );
    }
    // A send that settles after its attempt was given up must not raise an unhandled rejection.
    sending.catch(() => undefined);
    await Promise.race([sending, ...limits]);
  } finally {
    clearTimeout(timer);
    stop.removeEventListener('abort', onStop);
    if (!attempt.signal.aborted) attempt.abort(new Error('attempt finished'));
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
  for (;;) {
    if (o.stop.aborted) return { sent, left: { payload: current, why: 'stopped', error: 'the exporter stopped' } };
    let retryAfter: number | undefined;
    let error: unknown;
    try {
      attempt++;
      await sendOnce(o.send, current, o.timeoutMillis, o.stop);
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
