/**
 * A soak run of the delivery guarantee, outside `npm test`:
 *
 *   npm run soak -- [--minutes 10] [--rate 1000]
 *
 * config.example.yaml's events pipeline into `file` and `amplitude`, both with a persistent queue
 * (test/e2e/delivery-harness.ts, `retry_on_failure::max_elapsed_time: 0` as the README advises for
 * outages), against the local Amplitude stand-in that switches every few seconds between answering
 * at once, answering in 1.5 to 3 s, answering 503 with Retry-After, and resetting connections.
 * Clients post log events numbered by a `seq` attribute at about `--rate` events/s while the gateway
 * is killed (SIGKILL, one time in five SIGTERM) and restarted every 2 to 8 s. At the end the
 * destination recovers, a last gateway drains what is queued, and the run prints what was sent,
 * acknowledged, delivered, duplicated and lost per destination. Exit code 1 when anything
 * acknowledged was lost.
 */
import { parseArgs } from 'node:util';
import type { RunningGateway } from './helpers.js';
import { amplitudeArrivals, deliverySetup, fileArrivals, load, missing, sleep, until, type Sequence } from './e2e/delivery-harness.js';
import type { FakeAmplitude } from './fakes/amplitude-server.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '1000' } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0) || !(rate > 0)) {
  console.error('usage: npm run soak -- [--minutes N] [--rate EVENTS_PER_SECOND]');
  process.exit(2);
}

const PER_REQUEST = 100;
const CLIENTS = 4;
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

type Mode = 'up' | 'slow' | 'failing' | 'resetting';

/** Switches the stand-in's behaviour every 3 to 8 s until `stopped()`; resolves with the modes it went through. */
async function weather(a: FakeAmplitude, stopped: () => boolean): Promise<Map<Mode, number>> {
  const seen = new Map<Mode, number>();
  const modes: Mode[] = ['up', 'slow', 'failing', 'resetting'];
  while (!stopped()) {
    const mode = modes[Math.floor(Math.random() * modes.length)]!;
    seen.set(mode, (seen.get(mode) ?? 0) + 1);
    a.options.answerDelayMillis = mode === 'slow' ? Math.round(between(1500, 3000)) : 0;
    if (mode === 'failing') a.inject({ status: 503, retryAfter: '1' }, 20);
    if (mode === 'resetting') a.inject({ reset: true }, 20);
    await sleep(between(3000, 8000));
  }
  a.options.answerDelayMillis = 0;
  return seen;
}

/** Posts at about `rate` events/s (requests of PER_REQUEST events) until `stop` resolves or the gateway exits. */
async function paced(g: RunningGateway, next: Sequence, stop: Promise<unknown>): Promise<number[]> {
  let done = false;
  void stop.then(() => (done = true));
  const acknowledged: number[] = [];
  const interval = (1000 * PER_REQUEST * CLIENTS) / rate;
  while (!done && g.child.exitCode === null) {
    const tick = sleep(interval);
    acknowledged.push(...(await load(g, next, { clients: CLIENTS, perRequest: PER_REQUEST, total: next.seq + CLIENTS * PER_REQUEST })));
    await tick;
  }
  return acknowledged;
}

async function main(): Promise<void> {
  const s = await deliverySetup();
  const endAt = Date.now() + minutes * 60_000;
  const next: Sequence = { seq: 0, sent: 0 };
  const acknowledged: number[] = [];
  const stops = { SIGKILL: 0, SIGTERM: 0 };
  const sky = weather(s.amplitude, () => Date.now() >= endAt);
  try {
    while (Date.now() < endAt) {
      const g = await s.start();
      const signal = Math.random() < 0.2 ? 'SIGTERM' : 'SIGKILL';
      stops[signal]++;
      const stopAt = sleep(between(2000, 8000));
      const stop = stopAt.then(() => g.stop(signal));
      acknowledged.push(...(await paced(g, next, stopAt)));
      await stop;
      process.stderr.write(`\r${((endAt - Date.now()) / 60_000).toFixed(1)} min left: ${acknowledged.length} events acknowledged, ${stops.SIGKILL} SIGKILL, ${stops.SIGTERM} SIGTERM   `);
    }
    const modes = await sky;
    process.stderr.write('\ndraining with the destination up ...\n');
    const g = await s.start();
    const lost = () => ({ file: missing(fileArrivals(s.file), acknowledged).length, amplitude: missing(amplitudeArrivals(s.amplitude), acknowledged).length });
    await until(() => lost().file === 0 && lost().amplitude === 0, 600_000, () => `${JSON.stringify(lost())} acknowledged events still missing`).catch((err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
    });
    await g.stop();
    const file = fileArrivals(s.file);
    const amplitude = amplitudeArrivals(s.amplitude);
    const n = (x: number) => x.toLocaleString('en-US');
    const line = (name: string, a: typeof file, note: string) =>
      `${name.padEnd(10)} delivered ${n(acknowledged.length - missing(a, acknowledged).length)}, duplicated ${n(a.duplicates)}${note}, lost ${n(missing(a, acknowledged).length)}`;
    console.log(`soak: ${minutes} min, ${stops.SIGKILL + stops.SIGTERM} gateway runs (${stops.SIGKILL} ended by SIGKILL, ${stops.SIGTERM} by SIGTERM); destination ${[...modes].map(([m, c]) => `${m} ×${c}`).join(', ')}`);
    console.log(`sent ${n(next.sent)} events, acknowledged ${n(acknowledged.length)}`);
    console.log(line('file', file, ''));
    console.log(line('amplitude', amplitude, ' (dropped by insert_id)'));
    if (missing(file, acknowledged).length > 0 || missing(amplitude, acknowledged).length > 0) process.exitCode = 1;
  } finally {
    await s.close();
  }
}

await main();
