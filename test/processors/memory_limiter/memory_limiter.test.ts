import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Payload } from '../../../src/component.js';
import { admissionRefusal } from '../../../src/delivery/admission.js';
import { RetryableError } from '../../../src/errors.js';
import { Telemetry } from '../../../src/telemetry.js';
import { anonymousResident, limitsOf, measureMemory, MemoryLimiter, memoryLimiterProcessorFactory, memoryLimiterSchema } from '../../../processors/memory_limiter/index.js';

const MIB = 1024 * 1024;
const logger = pino({ level: 'silent' });
const payload: Payload = { signal: 'events', data: [{ name: 'x', time_unix_nano: '1', insert_id: 'a', properties: {}, context: { source: 'log' } }] };

function issues(raw: unknown): string[] {
  const r = memoryLimiterSchema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('::')}: ${i.message}`);
}

describe('memory_limiter config', () => {
  it('takes the collector options and defaults check_interval to 1s and the spike to 20%', () => {
    const c = memoryLimiterSchema.parse({ limit_mib: 500 });
    assert.equal(c.check_interval, 1000);
    assert.deepEqual(limitsOf(c), { hard: 500 * MIB, soft: 400 * MIB });
    const s = memoryLimiterSchema.parse({ limit_mib: 500, spike_limit_mib: 100, check_interval: '250ms' });
    assert.deepEqual(limitsOf(s), { hard: 500 * MIB, soft: 400 * MIB });
    const p = memoryLimiterSchema.parse({ limit_percentage: 50, spike_limit_percentage: 10 });
    assert.deepEqual(limitsOf(p, 1000 * MIB), { hard: 500 * MIB, soft: 400 * MIB });
  });

  it('requires a limit and refuses contradictory ones', () => {
    assert.deepEqual(issues({}), ['limit_mib: one of limit_mib or limit_percentage is required (above 0)']);
    assert.deepEqual(issues({ limit_mib: 100, limit_percentage: 50 }), ['limit_percentage: set either limit_mib or limit_percentage, not both']);
    assert.deepEqual(issues({ limit_mib: 100, spike_limit_mib: 100 }), ['spike_limit_mib: must be below limit_mib']);
    assert.deepEqual(issues({ limit_mib: 100, check_interval: 0 }), ['check_interval: must be above 0']);
    assert.ok(issues({ limit_mib: 100, nope: 1 }).length === 1);
  });
});

describe('memory_limiter processor', () => {
  it('refuses with a retryable error above the soft limit, gates receivers, and recovers below it', async () => {
    let used = 100 * MIB;
    const passed: Payload[] = [];
    const telemetry = new Telemetry();
    const cfg = memoryLimiterSchema.parse({ limit_mib: 200, spike_limit_mib: 50, check_interval: '1h' });
    const ml = new MemoryLimiter('memory_limiter', 'events', cfg, { consume: async (p) => void passed.push(p) }, logger, telemetry, { readMemory: () => used });
    await ml.start();
    await ml.consume(payload);
    assert.equal(passed.length, 1);
    assert.equal(admissionRefusal(), undefined);

    used = 151 * MIB; // soft limit is 150 MiB
    ml.check();
    await assert.rejects(ml.consume(payload), (e: unknown) => e instanceof RetryableError && e.retryAfterMillis! >= 1000 && /above the soft limit of 150 MiB/.test(e.message));
    assert.match(admissionRefusal()!.message, /memory usage 151 MiB/);
    const refused = (await telemetry.registry.getMetricsAsJSON()).find((m) => m.name === 'otelcol_processor_refused_log_records');
    assert.equal(refused?.values[0]?.value, 1);

    used = 149 * MIB;
    ml.check();
    await ml.consume(payload);
    assert.equal(passed.length, 2);
    assert.equal(admissionRefusal(), undefined);

    used = 500 * MIB;
    ml.check();
    await ml.shutdown();
    assert.equal(admissionRefusal(), undefined, 'the gate is removed at shutdown');
  });

  it('collects garbage above the soft limit at most every min_gc_interval_when_soft_limited, every check above the hard limit, and measures again', async () => {
    let used = 100 * MIB;
    let now = 0;
    let gcs = 0;
    let garbage = 0;
    const cfg = memoryLimiterSchema.parse({ limit_mib: 200, spike_limit_mib: 50, check_interval: '1h', min_gc_interval_when_soft_limited: '10s' });
    const ml = new MemoryLimiter('memory_limiter', 'events', cfg, { consume: async () => {} }, logger, new Telemetry(), {
      readMemory: () => used + garbage,
      collectGarbage: () => {
        gcs++;
        garbage = 0;
      },
      now: () => now,
    });
    await ml.start();
    assert.equal(gcs, 0, 'no collection under the soft limit');

    garbage = 60 * MIB; // 160 MiB measured, of which 60 are garbage
    ml.check();
    assert.equal(gcs, 1);
    assert.equal(ml.refusing, false, 'measured again after the collection: under the soft limit');

    garbage = 60 * MIB;
    now = 5000;
    ml.check();
    assert.equal(gcs, 1, 'not again within 10 s');
    assert.equal(ml.refusing, true);

    now = 10_000;
    ml.check();
    assert.equal(gcs, 2);
    assert.equal(ml.refusing, false, 'garbage left by a burst does not keep data refused');

    used = 300 * MIB; // over the hard limit: every check (min_gc_interval_when_hard_limited 0s)
    ml.check();
    ml.check();
    assert.equal(gcs, 4);
    assert.equal(ml.refusing, true);
    await ml.shutdown();
  });

  it('measures resident memory that no file backs, from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmRSS:\t   96156 kB\nRssAnon:\t   52256 kB\nRssFile:\t   43900 kB\nRssShmem:\t     100 kB\n';
    assert.equal(anonymousResident(status), (52256 + 100) * 1024);
    assert.equal(anonymousResident('Name:\tnode\nVmRSS:\t 96156 kB\n'), undefined, 'kernels before 4.5 do not split the resident set');
    const measured = measureMemory();
    const rss = process.memoryUsage.rss();
    assert.ok(measured > 0 && measured <= rss, `${measured} bytes measured, at most the resident set of ${rss}`);
    if (process.platform === 'linux') assert.ok(measured < rss, 'the pages of the node binary are left out');
  });

  it('measures the real process every check_interval', async () => {
    const cfg = memoryLimiterSchema.parse({ limit_mib: 1, spike_limit_mib: 0, check_interval: '10ms' });
    const ml = memoryLimiterProcessorFactory.create({ id: 'memory_limiter', pipeline: 'traces', logger, telemetry: new Telemetry() }, cfg, { consume: async () => {} });
    await ml.start({ getExporter: () => undefined });
    await new Promise((r) => setTimeout(r, 30));
    await assert.rejects(ml.consume(payload), RetryableError, 'any Node process uses more than 1 MiB');
    await ml.shutdown();
  });
});
