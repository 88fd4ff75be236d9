/**
 * The gateway offered five times what it can process (issue contract: "stays under its limit,
 * answers 429/503, and recovers when the load drops"): the real CLI on config.example.yaml ending
 * in `nop`, driven by bench/overload.ts with short phases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runOverload } from '../../bench/overload.js';

describe('overload', () => {
  it('sheds five times its capacity with 503 + Retry-After, stays under the memory limit, loses nothing acknowledged and recovers', async () => {
    const limitMib = 512;
    const r = await runOverload({ seconds: 3, clients: 256, factor: 5, pin: false, limitMib });
    const [capacity, overload, recovery] = r.phases;
    assert.ok(capacity && overload && recovery);
    assert.ok(r.capacity_spans_per_s > 0);
    assert.equal(capacity.other, 0, 'capacity phase: every request answered');

    assert.ok(overload.refused_503 > overload.requests / 4, `most of the excess is refused: ${JSON.stringify(overload)}`);
    assert.ok(overload.ok > 0, 'data still flows while refusing');
    assert.equal(overload.other, 0, 'no request fails or gets an answer other than 200 or 503 with Retry-After');
    assert.ok(overload.refused_p99_ms < 10_000, `refusals come before an SDK's 10 s export timeout: ${overload.refused_p99_ms} ms`);
    assert.ok(r.refusals_by_reason.overload! > 0, `refused before decoding: ${JSON.stringify(r.refusals_by_reason)}`);
    for (const p of r.phases) assert.ok(p.peak_measured_mib < limitMib, `${p.phase}: peak of the measured memory ${p.peak_measured_mib} MiB (RSS ${p.peak_rss_mib} MiB) under limit_mib ${limitMib}`);

    assert.equal(recovery.other, 0);
    assert.ok(recovery.ok >= recovery.requests * 0.9, `recovers at half the capacity: ${recovery.ok} of ${recovery.requests} accepted`);
    assert.equal(r.accepted_spans_counted, r.accepted_spans_answered, 'every span answered 200 was accepted into the pipeline');
  });
});
