/**
 * The second load source: `telemetrygen traces` (OpenTelemetry Collector contrib, installed by
 * scripts/interop/tools.mjs) sending to a system over OTLP/HTTP at a fixed rate for a while: its own
 * spans (a root and one child per trace, exported by the Go SDK's batch span processor, so requests
 * are smaller and more frequent than drive()'s ~500-span bodies). The spans/s it achieved are
 * counted at the system (`otelcol_receiver_accepted_spans` before and after), CPU % and peak RSS are
 * read from /proc as drive() does. telemetrygen runs on this process's CPU (CPU 0 when pinned).
 */
import { spawn } from 'node:child_process';
import { counters } from './metrics.js';
import { cpuSeconds, peakRssMiB, type SystemUnderTest } from './systems.js';

export interface TelemetrygenResult {
  /** Spans the system accepted per second of the run. */
  spans_per_s: number;
  /** Spans refused or lost by the system during the run (its own counters). */
  lost: number;
  cpu_pct: number;
  peak_rss_mib: number;
  /** telemetrygen's exit code (0: every export succeeded). */
  exit_code: number;
}

export interface TelemetrygenOptions {
  seconds: number;
  spansPerS: number;
  workers: number;
}

/** `telemetrygen traces` against `sut` for `seconds`; resolves with its exit code and stderr. */
function runTelemetrygen(bin: string, sut: SystemUnderTest, opts: TelemetrygenOptions): Promise<{ code: number; stderr: string }> {
  const args = [
    'traces',
    '--otlp-http',
    '--otlp-insecure',
    '--otlp-endpoint',
    sut.endpoint,
    '--workers',
    String(opts.workers),
    // Per worker, in spans per second.
    '--rate',
    String(opts.spansPerS / opts.workers),
    '--duration',
    `${opts.seconds}s`,
    '--allow-export-failures',
    '--service',
    'bench-telemetrygen',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

/** A warm-up of `warmUpSeconds`, then the measured run. */
export async function driveTelemetrygen(bin: string, sut: SystemUnderTest, opts: TelemetrygenOptions, warmUpSeconds: number): Promise<TelemetrygenResult> {
  await runTelemetrygen(bin, sut, { ...opts, seconds: warmUpSeconds });
  const before = await counters(sut);
  const cpu0 = cpuSeconds(sut.pid);
  const start = performance.now();
  const run = await runTelemetrygen(bin, sut, opts);
  const elapsed = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(sut.pid) - cpu0;
  const after = await counters(sut);
  if (run.code !== 0) process.stderr.write(`telemetrygen → ${sut.name} exited with ${run.code}:\n${run.stderr.split('\n').slice(-5).join('\n')}\n`);
  return {
    spans_per_s: Math.round((after.accepted - before.accepted) / opts.seconds),
    lost: after.lost - before.lost,
    cpu_pct: Math.round((cpu / elapsed) * 1000) / 10,
    peak_rss_mib: Math.round(peakRssMiB(sut.pid) * 10) / 10,
    exit_code: run.code,
  };
}
