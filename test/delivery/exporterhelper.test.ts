/**
 * The exporter helper with a scripted destination: queue, back-pressure, retry, timeout, partial
 * failures, the dead-letter route, persistence across a restart and draining on shutdown.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Exporter, Host, Payload } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { PartialFailure, PermanentError, RetryableError } from '../../src/errors.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { exporterHelperShape, type ExporterHelperConfig } from '../../src/exporterhelper_config.js';
import type { SendContext } from '../../src/delivery/sender.js';
import { z } from '../../src/config/schema.js';
import { DEAD_LETTER_ATTR } from '../../src/delivery/dead_letter.js';
import { Telemetry } from '../../src/telemetry.js';
import { decodeTracesRequest } from '../../src/otlp/proto.js';
import { gcFunction, readFixture } from '../helpers.js';

type Behaviour = (p: Payload, attempt: number, signal: AbortSignal, ctx: SendContext) => Promise<void>;

class ScriptedExporter extends BaseExporter {
  readonly delivered: Payload[] = [];
  attempts = 0;
  ownStarted = false;
  /** The behaviour makes its own requests with `ctx.request` (else each attempt is one request). */
  ownRequests = false;
  ownStoppedWithQueueDrained: boolean | undefined;
  constructor(id: string, cfg: ExporterHelperConfig, readonly telemetryRef: Telemetry, public behaviour: Behaviour = async () => {}) {
    super({ id, logger: pino({ level: 'silent' }), telemetry: telemetryRef }, cfg);
  }
  override async start(_host: Host): Promise<void> {
    this.ownStarted = true;
  }
  override async shutdown(): Promise<void> {
    this.ownStoppedWithQueueDrained = this.delivered.length > 0;
  }
  /** One request per attempt, under the per-request timeout. */
  protected async send(p: Payload, ctx: SendContext): Promise<void> {
    const attempt = ++this.attempts;
    if (this.ownRequests) await this.behaviour(p, attempt, ctx.stopped, ctx);
    else await ctx.request((signal) => this.behaviour(p, attempt, signal, ctx));
    this.delivered.push(p);
  }
}

const schema = z.strictObject(exporterHelperShape);
const fast = { initial_interval: '5ms', max_interval: '20ms', randomization_factor: 0 };
const helper = (o: Record<string, unknown> = {}) => schema.parse({ retry_on_failure: fast, ...o });
const ev = (i: number): AnalyticsEvent => ({ name: 'purchase', time_unix_nano: String(i), insert_id: `id-${i}`, properties: { n: i }, context: { source: 'log' } });
const events = (from: number, n: number): Payload => ({ signal: 'events', data: Array.from({ length: n }, (_, i) => ev(from + i)) });
const ids = (ps: Payload[]) => ps.flatMap((p) => (p.data as AnalyticsEvent[]).map((e) => e.insert_id));

function hostOf(...exporters: ScriptedExporter[]): Host {
  const m = new Map<string, Exporter>(exporters.map((e) => [(e as unknown as { id: string }).id, e]));
  return { getExporter: (id) => m.get(id) };
}

async function metric(t: Telemetry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await t.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v ? Number(v.value) : 0;
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('exporter helper', () => {
  it('retries retryable failures with back-off and honours retryAfterMillis', async () => {
    const t = new Telemetry();
    const times: number[] = [];
    const x = new ScriptedExporter('x', helper(), t, async (_p, attempt) => {
      times.push(Date.now());
      if (attempt === 1) throw new RetryableError('busy', 150);
      if (attempt === 2) throw new Error('connection reset'); // unclassified: retryable
    });
    await x.start(hostOf(x));
    assert.ok(x.ownStarted);
    await x.consume(events(0, 3));
    await until(() => x.delivered.length === 1);
    assert.ok(times[1]! - times[0]! >= 140, `waited ${times[1]! - times[0]!}ms, destination asked 150`);
    assert.equal(await metric(t, 'otelytics_exporter_send_retries', { exporter: 'x' }), 2);
    assert.equal(await metric(t, 'otelcol_exporter_sent_log_records', { exporter: 'x' }), 3);
    await x.shutdown();
  });

  it('times out a send that hangs, aborting its signal, and retries it', async () => {
    const t = new Telemetry();
    let aborted: unknown;
    const x = new ScriptedExporter('x', helper({ timeout: '30ms' }), t, async (_p, attempt, signal) => {
      if (attempt === 1) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => ((aborted = signal.reason), resolve())));
        throw signal.reason;
      }
    });
    await x.start(hostOf(x));
    await x.consume(events(0, 1));
    await until(() => x.delivered.length === 1);
    assert.match(String((aborted as Error).message), /timed out after 30ms/);
    await x.shutdown();
  });

  it('refuses new data with a RetryableError while the queue is full, and takes it again once there is room', async () => {
    const t = new Telemetry();
    let open = false;
    const x = new ScriptedExporter('x', helper({ sending_queue: { queue_size: 10, num_consumers: 1 } }), t, async () => {
      if (!open) throw new RetryableError('down');
    });
    await x.start(hostOf(x));
    await x.consume(events(0, 6));
    await x.consume(events(6, 4));
    await assert.rejects(x.consume(events(10, 1)), (e: unknown) => e instanceof RetryableError && e.retryAfterMillis! > 0);
    assert.equal(await metric(t, 'otelcol_exporter_queue_size', { exporter: 'x' }), 10);
    assert.equal(await metric(t, 'otelcol_exporter_queue_capacity', { exporter: 'x' }), 10);
    assert.equal(await metric(t, 'otelcol_exporter_enqueue_failed_log_records', { exporter: 'x' }), 1);
    open = true;
    await until(() => x.delivered.length === 2);
    await x.consume(events(10, 1));
    await x.shutdown();
    assert.deepEqual(ids(x.delivered).sort(), Array.from({ length: 11 }, (_, i) => `id-${i}`).sort());
    assert.equal(x.ownStoppedWithQueueDrained, true, 'the queue drained before the exporter\'s own shutdown');
  });

  it('dead-letters parts refused for good with exporter, reason and time, and retries the rest', async () => {
    const t = new Telemetry();
    const dead = new ScriptedExporter('file/dead', helper({ sending_queue: { enabled: false } }), t);
    const x = new ScriptedExporter('amplitude', helper({ dead_letter: 'file/dead' }), t, async (p, attempt) => {
      const data = p.data as AnalyticsEvent[];
      if (attempt === 1) {
        throw new PartialFailure('2 invalid, 1 throttled', {
          rejected: [{ payload: { signal: 'events', data: data.slice(0, 2) }, reason: 'events_with_invalid_fields' }],
          retry: { signal: 'events', data: data.slice(2, 3) },
          retryAfterMillis: 10,
        });
      }
      if (attempt === 2) throw new PartialFailure('sent the rest', {}); // nothing left: done
    });
    const host = hostOf(dead, x);
    await dead.start(host);
    await x.start(host);
    const before = Date.now();
    await x.consume(events(0, 4));
    await until(() => dead.delivered.length === 1 && x.attempts === 2);
    const dl = dead.delivered[0]!.data as AnalyticsEvent[];
    assert.deepEqual(dl.map((e) => e.insert_id), ['id-0', 'id-1']);
    for (const e of dl) {
      assert.equal(e.dead_letter?.exporter, 'amplitude');
      assert.equal(e.dead_letter?.reason, 'events_with_invalid_fields');
      assert.ok(Date.parse(e.dead_letter!.time) >= before - 1000);
    }
    assert.equal(await metric(t, 'otelytics_events_dead_lettered', { exporter: 'amplitude', dead_letter: 'file/dead' }), 2);
    assert.equal(await metric(t, 'otelcol_exporter_send_failed_log_records', { exporter: 'amplitude' }), 2);
    await x.shutdown();
    await dead.shutdown();
  });

  it('dead-letters permanent errors at once and what runs out of retries (max_elapsed_time), never retrying permanent ones', async () => {
    const t = new Telemetry();
    const dead = new ScriptedExporter('dead', helper({ sending_queue: { enabled: false } }), t);
    const x = new ScriptedExporter('x', helper({ dead_letter: 'dead', retry_on_failure: { ...fast, max_elapsed_time: '60ms' } }), t, async (p) => {
      if ((p.data as AnalyticsEvent[])[0]!.insert_id === 'id-0') throw new PermanentError('400 bad event');
      throw new RetryableError('503');
    });
    const host = hostOf(dead, x);
    await dead.start(host);
    await x.start(host);
    await x.consume(events(0, 1));
    await x.consume(events(1, 1));
    await until(() => dead.delivered.length === 2);
    const reasons = new Map(dead.delivered.flatMap((p) => (p.data as AnalyticsEvent[]).map((e) => [e.insert_id, e.dead_letter!.reason])));
    assert.equal(reasons.get('id-0'), '400 bad event');
    assert.match(reasons.get('id-1')!, /max_elapsed_time.*503/);
    await x.shutdown();
    await dead.shutdown();
  });

  it('marks traces with resource attributes when dead-lettering them', async () => {
    const t = new Telemetry();
    const dead = new ScriptedExporter('dead', helper({ sending_queue: { enabled: false } }), t);
    const x = new ScriptedExporter('x', helper({ dead_letter: 'dead', sending_queue: { enabled: false } }), t, async () => {
      throw new PermanentError('schema mismatch');
    });
    const host = hostOf(dead, x);
    await dead.start(host);
    await x.start(host);
    const data = decodeTracesRequest(readFixture('traces-shop-01.pb'));
    const original = structuredClone(data);
    await x.consume({ signal: 'traces', data }); // queue off: resolves once dead-lettered
    assert.deepEqual(data, original, 'the shared payload is not changed');
    const marked = dead.delivered[0]!;
    assert.equal(itemCount(marked), itemCount({ signal: 'traces', data }));
    const attrs = (marked.data as typeof data).resourceSpans[0]!.resource.attributes;
    assert.deepEqual(attrs.find((a) => a.key === DEAD_LETTER_ATTR.reason)?.value, { stringValue: 'schema mismatch' });
    await x.shutdown();
    await dead.shutdown();
  });

  it('without a queue, hands a permanent refusal (no dead-letter route) or exhausted retries back to the caller', async () => {
    const t = new Telemetry();
    const p = new ScriptedExporter('p', helper({ sending_queue: { enabled: false } }), t, async () => {
      throw new PermanentError('nope');
    });
    const r = new ScriptedExporter('r', helper({ sending_queue: { enabled: false }, retry_on_failure: { ...fast, max_elapsed_time: '30ms' } }), t, async () => {
      throw new RetryableError('down');
    });
    await p.start(hostOf(p));
    await r.start(hostOf(r));
    await assert.rejects(p.consume(events(0, 1)), PermanentError);
    await assert.rejects(r.consume(events(0, 1)), (e: unknown) => e instanceof RetryableError && /max_elapsed_time/.test(e.message));
    await p.shutdown();
    await r.shutdown();
  });

  it('refuses a dead-letter route that is missing, itself, or a cycle', async () => {
    const t = new Telemetry();
    const a = new ScriptedExporter('a', helper({ dead_letter: 'b' }), t);
    const b = new ScriptedExporter('b', helper({ dead_letter: 'a' }), t);
    const self = new ScriptedExporter('s', helper({ dead_letter: 's' }), t);
    const lone = new ScriptedExporter('l', helper({ dead_letter: 'file/dead' }), t);
    await assert.rejects(a.start(hostOf(a, b)), /form a cycle/);
    await assert.rejects(self.start(hostOf(self)), /its own dead-letter route/);
    await assert.rejects(lone.start(hostOf(lone)), /"file\/dead" is not configured/);
  });

  it('drains within drain_timeout: an in-memory queue dead-letters what is left, sends in flight are aborted', async () => {
    const t = new Telemetry();
    const dead = new ScriptedExporter('dead', helper({ sending_queue: { enabled: false } }), t);
    let abortedInFlight = false;
    const x = new ScriptedExporter('x', helper({ dead_letter: 'dead', timeout: '300ms', sending_queue: { num_consumers: 1, drain_timeout: '100ms' } }), t, (_p, _a, signal) => {
      return new Promise((_, reject) => signal.addEventListener('abort', () => ((abortedInFlight = true), reject(signal.reason))));
    });
    const host = hostOf(x, dead);
    await dead.start(host);
    await x.start(host);
    await x.consume(events(0, 2));
    await x.consume(events(2, 2));
    const t0 = Date.now();
    // The gateway stops the dead-letter exporter first here: it drains its feeders before itself.
    await dead.shutdown();
    await x.shutdown();
    const took = Date.now() - t0;
    assert.ok(took >= 90 && took < 2000, `shutdown took ${took}ms`);
    assert.ok(abortedInFlight);
    assert.deepEqual(ids(dead.delivered).sort(), ['id-0', 'id-1', 'id-2', 'id-3']);
    assert.match((dead.delivered[0]!.data as AnalyticsEvent[])[0]!.dead_letter!.reason, /shutdown deadline/);
  });

  it('at the drain deadline, starts nothing new and lets a request in flight finish within its timeout, so it is not sent again', async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-helper-'));
    dirs.push(storage);
    const cfg = helper({ timeout: '2s', sending_queue: { storage, num_consumers: 1, drain_timeout: '50ms' } });
    const x1 = new ScriptedExporter('x', cfg, new Telemetry(), () => new Promise((r) => setTimeout(r, 300)));
    await x1.start(hostOf(x1));
    await x1.consume(events(0, 2));
    await x1.consume(events(2, 2));
    await new Promise((r) => setTimeout(r, 20));
    await x1.shutdown();
    assert.deepEqual(ids(x1.delivered), ['id-0', 'id-1'], 'the request in flight finished; the next one was not started');

    const x2 = new ScriptedExporter('x', cfg, new Telemetry());
    await x2.start(hostOf(x2));
    await until(() => x2.delivered.length === 1);
    assert.deepEqual(ids(x2.delivered), ['id-2', 'id-3'], 'only what was left is sent after the restart');
    await x2.shutdown();
  });

  it('keeps a persistent queue on disk across a restart and sends it then', async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-helper-'));
    dirs.push(storage);
    const cfg = helper({ sending_queue: { storage, drain_timeout: '50ms', num_consumers: 2 } });
    const down = new ScriptedExporter('kafka', cfg, new Telemetry(), async () => {
      throw new RetryableError('broker down');
    });
    await down.start(hostOf(down));
    for (let i = 0; i < 5; i++) await down.consume(events(i * 3, 3));
    await down.shutdown();
    assert.equal(down.delivered.length, 0);

    const t = new Telemetry();
    const up = new ScriptedExporter('kafka', cfg, t);
    await up.start(hostOf(up));
    await until(() => up.delivered.length === 5);
    assert.deepEqual(ids(up.delivered).sort(), Array.from({ length: 15 }, (_, i) => `id-${i}`).sort());
    await up.shutdown();
    assert.equal(await metric(t, 'otelcol_exporter_queue_size', { exporter: 'kafka' }), 0);
  });

  it('keeps a persistent entry on disk when the dead-letter route cannot take it before shutdown', async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-helper-'));
    dirs.push(storage);
    const cfg = helper({ dead_letter: 'dead', sending_queue: { storage, drain_timeout: '50ms' } });
    const full: Exporter = { start: async () => {}, shutdown: async () => {}, consume: async () => Promise.reject(new RetryableError('dead-letter queue full')) };
    const x1 = new ScriptedExporter('x', cfg, new Telemetry(), async () => {
      throw new PermanentError('invalid');
    });
    await x1.start({ getExporter: (id) => (id === 'dead' ? full : undefined) });
    await x1.consume(events(0, 2));
    await new Promise((r) => setTimeout(r, 30));
    await x1.shutdown();

    const t = new Telemetry();
    const dead = new ScriptedExporter('dead', helper({ sending_queue: { enabled: false } }), t);
    const x2 = new ScriptedExporter('x', cfg, t, async () => {
      throw new PermanentError('invalid');
    });
    const host = hostOf(dead, x2);
    await dead.start(host);
    await x2.start(host);
    await until(() => dead.delivered.length === 1);
    assert.deepEqual(ids(dead.delivered), ['id-0', 'id-1']);
    await x2.shutdown();
    await dead.shutdown();
  });

  it('applies timeout to each request: a send of several requests, each under it, completes although they take longer together', async () => {
    const t = new Telemetry();
    const requests: number[] = [];
    const x = new ScriptedExporter('x', helper({ timeout: '80ms' }), t, async (p, _attempt, _signal, ctx) => {
      const data = p.data as AnalyticsEvent[];
      // Two more requests of 50 ms after the scripted one: 150 ms together.
      for (let i = 0; i < 2; i++) {
        await ctx.request(() => new Promise((r) => setTimeout(r, 50)));
        requests.push(data.length);
      }
    });
    x.ownRequests = true;
    await x.start(hostOf(x));
    await x.consume(events(0, 4));
    await until(() => x.delivered.length === 1);
    assert.equal(x.attempts, 1, 'no attempt timed out');
    await x.shutdown();
  });

  it('a send made of several requests records what is left after each accepted one: a later failure never sends it again', async () => {
    const t = new Telemetry();
    const accepted: string[] = [];
    let failedOnce = false;
    const x = new ScriptedExporter('x', helper(), t, async (p, _attempt, _signal, ctx) => {
      const data = p.data as AnalyticsEvent[];
      for (let i = 0; i < data.length; i += 2) {
        const part = data.slice(i, i + 2);
        if (i === 2 && !failedOnce) {
          failedOnce = true;
          throw new RetryableError('request 2 failed');
        }
        accepted.push(...part.map((e) => e.insert_id));
        if (i + 2 < data.length) await ctx.progress({ signal: 'events', data: data.slice(i + 2) });
      }
    });
    await x.start(hostOf(x));
    await x.consume(events(0, 6));
    await until(() => x.delivered.length === 1);
    assert.deepEqual(accepted, ['id-0', 'id-1', 'id-2', 'id-3', 'id-4', 'id-5'], 'each event accepted once');
    assert.deepEqual(ids(x.delivered), ['id-2', 'id-3', 'id-4', 'id-5'], 'the retry carried only what was left');
    assert.equal(await metric(t, 'otelcol_exporter_sent_log_records', { exporter: 'x' }), 6, 'events count as log records, each once');
    await x.shutdown();
  });

  it('sending_queue::batch: queued requests are sent as batches of min_size, in parts of max_size, each part once', async () => {
    const t = new Telemetry();
    let failNext = 2;
    const x = new ScriptedExporter('x', helper({ sending_queue: { num_consumers: 1, batch: { min_size: 8, max_size: 8, flush_timeout: '30ms' } } }), t, async () => {
      // The second part of the first batch fails once: the first part is not sent again.
      if (--failNext === 0) throw new RetryableError('busy');
    });
    await x.start(hostOf(x));
    for (let i = 0; i < 4; i++) await x.consume(events(i * 3, 3));
    await until(() => x.delivered.length === 3);
    // 9 events (3 requests) make the first batch, sent as 8 + 1; the last request alone waits for more.
    assert.deepEqual(x.delivered.map(itemCount), [8, 1, 3]);
    assert.deepEqual(ids(x.delivered), Array.from({ length: 12 }, (_, i) => `id-${i}`));
    await x.shutdown();
  });

  it('sending_queue::batch: a batch smaller than min_size goes after flush_timeout', async () => {
    const x = new ScriptedExporter('x', helper({ sending_queue: { batch: { min_size: 100, flush_timeout: '40ms' } } }), new Telemetry());
    await x.start(hostOf(x));
    const at = Date.now();
    await x.consume(events(0, 3));
    await x.consume(events(3, 2));
    await until(() => x.delivered.length === 1);
    assert.ok(Date.now() - at >= 35, 'waited for more');
    assert.equal(itemCount(x.delivered[0]!), 5, 'both requests in one batch');
    await x.shutdown();
  });

  it('a batch from a persistent queue stays on disk until delivered; what a crash interrupts resumes without the parts already accepted', async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-helper-'));
    dirs.push(storage);
    const cfg = helper({ sending_queue: { storage, drain_timeout: '0s', batch: { min_size: 3, max_size: 3, flush_timeout: '50ms' } } });
    const t1 = new Telemetry();
    // The first part goes through, the second hangs until the exporter stops (as if the process died).
    const x1 = new ScriptedExporter('x', cfg, t1, async (_p, attempt, signal) => {
      if (attempt > 1) await new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    await x1.start(hostOf(x1));
    await x1.consume(events(0, 9)); // one request, sent in three parts of 3
    await until(() => x1.delivered.length === 1);
    await x1.shutdown();
    assert.deepEqual(ids(x1.delivered), ['id-0', 'id-1', 'id-2']);

    const x2 = new ScriptedExporter('x', cfg, new Telemetry());
    await x2.start(hostOf(x2));
    await until(() => ids(x2.delivered).length === 6);
    assert.deepEqual(ids(x2.delivered), ['id-3', 'id-4', 'id-5', 'id-6', 'id-7', 'id-8'], 'the accepted part was not sent again');
    await x2.shutdown();
  });

  it('holds no batch once it is delivered: each consumer waits for the next without keeping its last one reachable', async () => {
    const gc = gcFunction();
    const x = new ScriptedExporter('x', helper({ sending_queue: { num_consumers: 4, batch: { min_size: 5, flush_timeout: '10ms' } } }), new Telemetry());
    await x.start(hostOf(x));
    const sent: WeakRef<AnalyticsEvent>[] = [];
    // Not an async function: this test's own frame must not hold a payload either.
    const consume = (p: Payload): Promise<void> => {
      for (const e of p.data as AnalyticsEvent[]) sent.push(new WeakRef(e));
      return x.consume(p);
    };
    for (let i = 0; i < 8; i++) await consume(events(i * 5, 5));
    await until(() => x.delivered.length === 8);
    x.delivered.length = 0; // the test's own record of what was sent
    await new Promise((r) => setImmediate(r));
    gc();
    assert.equal(sent.filter((r) => r.deref() !== undefined).length, 0, 'delivered events still reachable');
    await x.shutdown();
  });

  it('many deliveries in flight at once raise no runtime warning (listeners on the stop signals)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const x = new ScriptedExporter('x', helper({ sending_queue: { num_consumers: 20 } }), new Telemetry(), () => held);
      await x.start(hostOf(x));
      for (let i = 0; i < 20; i++) await x.consume(events(i, 1));
      await until(() => x.attempts === 20);
      release();
      await until(() => x.delivered.length === 20);
      await x.shutdown();
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
