/**
 * Exponential back-off with jitter, the policy behind `retry_on_failure` (the collector's
 * `configretry.BackOffConfig`, itself the `cenkalti/backoff` algorithm):
 *
 *   interval(0) = initial_interval
 *   interval(n) = min(interval(n-1) · multiplier, max_interval)
 *   wait(n)     = interval(n) · (1 ± randomization_factor), uniformly drawn
 *
 * A destination's own delay (`RetryableError.retryAfterMillis`, e.g. from `Retry-After`) replaces
 * the computed wait for that attempt, capped by what is left of `max_elapsed_time`.
 */

/** The parsed `retry_on_failure` options; durations in milliseconds. */
export interface RetryConfig {
  enabled: boolean;
  initial_interval: number;
  max_interval: number;
  multiplier: number;
  randomization_factor: number;
  /** Give up after this long since the first attempt; 0 = never give up. */
  max_elapsed_time: number;
}

/** Computes the waits between attempts of one delivery. Not shared between deliveries. */
export class Backoff {
  private interval: number;
  private readonly startedAt: number;

  constructor(
    private readonly cfg: RetryConfig,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {
    this.interval = cfg.initial_interval;
    this.startedAt = now();
  }

  /** Milliseconds since the first attempt. */
  elapsed(): number {
    return this.now() - this.startedAt;
  }

  /**
   * The wait before the next attempt, or undefined when retrying must stop (retries disabled, or
   * `max_elapsed_time` reached or too close to allow another wait). `retryAfterMillis`, when given,
   * is used as the wait instead of the computed one.
   */
  next(retryAfterMillis?: number): number | undefined {
    if (!this.cfg.enabled) return undefined;
    const f = this.cfg.randomization_factor;
    const jittered = this.interval * (1 - f + 2 * f * this.random());
    this.interval = Math.min(this.interval * this.cfg.multiplier, this.cfg.max_interval);
    let wait = retryAfterMillis !== undefined && retryAfterMillis >= 0 ? retryAfterMillis : jittered;
    const limit = this.cfg.max_elapsed_time;
    if (limit > 0) {
      const left = limit - this.elapsed();
      if (left <= 0) return undefined;
      wait = Math.min(wait, left);
    }
    return Math.max(0, Math.round(wait));
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
