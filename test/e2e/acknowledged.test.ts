/**
 * "What the gateway acknowledged reaches the destination": fault tests through the real CLI with
 * config.example.yaml's events pipeline as it is (memory_limiter, analytics, privacy, filter,
 * batch), ending in the `file` exporter and the `amplitude` exporter (against the local Amplitude
 * stand-in), both with a persistent sending queue, as the README's reliability section documents.
 * Every log event carries a `seq` attribute; the tests compare what was acknowledged (HTTP 200)
 * with what arrived, by seq:
 * - SIGKILL at random moments, then restarts: nothing acknowledged is lost, duplicates stay within
 *   what was being sent when the process died;
 * - a slow destination (1.5 s and 10 s per request), batches split into several requests: every
 *   event delivered, no request the destination accepted sent again;
 * - SIGTERM under load with a slow destination, then a restart: nothing acknowledged is lost.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  AMPLITUDE_BOUND_PER_KILL,
  amplitudeArrivals,
  deliverySetup,
  FILE_BOUND_PER_KILL,
  fileArrivals,
  load,
  missing,
  sleep,
  until,
  type DeliverySetup,
} from './delivery-harness.js';

const setups: DeliverySetup[] = [];
after(async () => {
  for (const s of setups) await s.close();
});

async function setup(opts: Parameters<typeof deliverySetup>[0] = {}): Promise<DeliverySetup> {
  const s = await deliverySetup(opts);
  setups.push(s);
  return s;
}

describe('acknowledged means delivered (config.example.yaml pipeline, persistent queues)', { timeout: 600_000 }, () => {
  it('SIGKILL at random moments in 5 rounds, then a restart: every acknowledged event reaches the file and Amplitude', async (t) => {
    const s = await setup();
    const next = { seq: 0, sent: 0 };
    const acknowledged: number[] = [];
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const g = await s.start();
      const kill = sleep(400 + Math.random() * 1600).then(() => g.child.kill('SIGKILL'));
      acknowledged.push(...(await load(g, next, { clients: 4, perRequest: 100, stop: kill })));
      await g.stop();
    }
    const g = await s.start();
    await until(
      () => missing(fileArrivals(s.file), acknowledged).length === 0 && missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
      120_000,
      () => `${missing(fileArrivals(s.file), acknowledged).length} events in the file and ${missing(amplitudeArrivals(s.amplitude), acknowledged).length} in Amplitude of ${acknowledged.length} acknowledged`,
    );
    assert.equal(await g.stop(), 0, g.output());
    assert.ok(acknowledged.length >= 5000, `only ${acknowledged.length} events acknowledged`);
    const file = fileArrivals(s.file);
    const amplitude = amplitudeArrivals(s.amplitude);
    assert.deepEqual(missing(file, acknowledged), []);
    assert.deepEqual(missing(amplitude, acknowledged), []);
    // What may arrive twice is what was being written or sent when the process died.
    assert.ok(file.duplicates <= rounds * FILE_BOUND_PER_KILL, `${file.duplicates} duplicate lines in the file (bound ${rounds * FILE_BOUND_PER_KILL})`);
    assert.ok(amplitude.duplicates <= rounds * AMPLITUDE_BOUND_PER_KILL, `${amplitude.duplicates} duplicates sent to Amplitude (bound ${rounds * AMPLITUDE_BOUND_PER_KILL})`);
    t.diagnostic(`${acknowledged.length} acknowledged over ${rounds} kills: 0 lost; duplicates: file ${file.duplicates}, Amplitude ${amplitude.duplicates}`);
  });

  it('a destination answering in 1.5 s and one answering in 10 s, batches split into several requests: every event delivered, none sent twice', async (t) => {
    const cases = [
      // 10,000 events make a batch of 8192 and more: 5 requests of at most 2000, 7.5 s together, over the default 5 s timeout.
      { answerDelayMillis: 1500, events: 10_000, amplitude: {} },
      // 3000 events: 3 requests of 1000, 30 s together, each under a timeout of 15 s.
      { answerDelayMillis: 10_000, events: 3000, amplitude: { timeout: '15s', max_events_per_request: 1000 } },
    ];
    await Promise.all(
      cases.map(async (c) => {
        const s = await setup({ file: false, answerDelayMillis: c.answerDelayMillis, amplitude: c.amplitude });
        const g = await s.start();
        const started = Date.now();
        const acknowledged = await load(g, { seq: 0, sent: 0 }, { clients: 4, perRequest: 100, total: c.events });
        assert.equal(acknowledged.length, c.events);
        await until(
          () => missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
          120_000,
          () => `${missing(amplitudeArrivals(s.amplitude), acknowledged).length} of ${c.events} events at the destination answering in ${c.answerDelayMillis}ms (${s.amplitude.duplicates} duplicates so far)`,
        );
        const took = Date.now() - started;
        assert.equal(await g.stop(), 0, g.output());
        assert.doesNotMatch(g.output(), /Warning/, 'no warning from the runtime (e.g. listeners piling up on a signal)');
        assert.equal(s.amplitude.duplicates, 0, 'an event the destination had accepted was sent again');
        const perRequest = Number((c.amplitude as { max_events_per_request?: number }).max_events_per_request ?? 2000);
        assert.equal(Math.max(...s.amplitude.requests.map((r) => r.events)), perRequest, 'batches larger than a request were cut into requests');
        t.diagnostic(`answering in ${c.answerDelayMillis}ms: ${c.events} events delivered in ${(took / 1000).toFixed(1)} s by ${s.amplitude.requests.length} requests, 0 duplicates`);
      }),
    );
  });

  it('SIGTERM under load with a slow destination, then a restart: every acknowledged event arrives', async (t) => {
    // A drain deadline of 1 s leaves part of the backlog for the next start.
    const s = await setup({ answerDelayMillis: 1500, amplitude: { sending_queue: { drain_timeout: '1s' } } });
    const g1 = await s.start();
    const next = { seq: 0, sent: 0 };
    const term = sleep(2000).then(() => g1.stop());
    const acknowledged = await load(g1, next, { clients: 4, perRequest: 100, stop: term });
    const signalled = Date.now();
    assert.equal(await term, 0, g1.output());
    assert.ok(Date.now() - signalled < 20_000);
    const before = missing(amplitudeArrivals(s.amplitude), acknowledged).length;
    assert.ok(before > 0, 'the slow destination had not taken everything by the shutdown deadline');

    const g2 = await s.start();
    await until(
      () => missing(fileArrivals(s.file), acknowledged).length === 0 && missing(amplitudeArrivals(s.amplitude), acknowledged).length === 0,
      120_000,
      () => `${missing(fileArrivals(s.file), acknowledged).length} events in the file and ${missing(amplitudeArrivals(s.amplitude), acknowledged).length} in Amplitude of ${acknowledged.length} acknowledged`,
    );
    assert.equal(await g2.stop(), 0, g2.output());
    // Sent again after the restart: at most the requests in flight when the shutdown deadline passed.
    assert.ok(s.amplitude.duplicates <= AMPLITUDE_BOUND_PER_KILL, `${s.amplitude.duplicates} duplicates`);
    t.diagnostic(`${acknowledged.length} acknowledged, ${before} left for after the restart: 0 lost, ${s.amplitude.duplicates} sent again`);
  });
});
