import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, sleep, type RetryConfig } from '../../src/delivery/backoff.js';

const cfg = (o: Partial<RetryConfig> = {}): RetryConfig => ({ enabled: true, initial_interval: 100, max_interval: 1000, multiplier: 2, randomization_factor: 0.5, max_elapsed_time: 0, ...o });

describe('back-off', () => {
  it('grows by the multiplier up to max_interval, jittered by ± randomization_factor', () => {
    const mid = new Backoff(cfg(), () => 0.5);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => mid.next()), [100, 200, 400, 800, 1000, 1000]);
    const low = new Backoff(cfg(), () => 0);
    assert.deepEqual([low.next(), low.next()], [50, 100]);
    const high = new Backoff(cfg(), () => 0.999999);
    assert.deepEqual([high.next(), high.next()], [150, 300]);
  });

  it('uses the destination\'s retry delay instead of its own', () => {
    const b = new Backoff(cfg(), () => 0.5);
    assert.equal(b.next(30_000), 30_000);
    assert.equal(b.next(), 200, 'the own interval still advanced');
  });

  it('stops at max_elapsed_time and never waits past it', () => {
    let now = 0;
    const b = new Backoff(cfg({ max_elapsed_time: 250 }), () => 0.5, () => now);
    assert.equal(b.next(), 100);
    now = 100;
    assert.equal(b.next(), 150, 'capped by the time left');
    now = 250;
    assert.equal(b.next(), undefined);
  });

  it('gives no wait when retries are disabled', () => {
    assert.equal(new Backoff(cfg({ enabled: false })).next(), undefined);
  });

  it('sleep rejects with the abort reason as soon as the signal aborts', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(new Error('stop')), 10);
    await assert.rejects(sleep(10_000, ac.signal), /stop/);
    assert.ok(Date.now() - t0 < 1000);
  });
});
