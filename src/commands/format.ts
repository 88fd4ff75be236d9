/**
 * One line per event for terminals: local time, pipeline, event name, who (user or device id, or
 * "anonymous"), then the properties as `key=value`, coloured when the output is a terminal
 * (disabled by NO_COLOR or --no-color, forced by FORCE_COLOR; see no-color.org).
 */
import type { AnalyticsEvent } from '../event.js';

export interface Palette {
  dim(s: string): string;
  bold(s: string): string;
  name(s: string): string;
  pipeline(s: string): string;
  user(s: string): string;
  anon(s: string): string;
  warn(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export function palette(on: boolean): Palette {
  const id = (s: string) => s;
  if (!on) return { dim: id, bold: id, name: id, pipeline: id, user: id, anon: id, warn: id };
  const green = sgr(32, 39);
  const bold = sgr(1, 22);
  return { dim: sgr(2, 22), bold, name: (s) => bold(green(s)), pipeline: sgr(36, 39), user: sgr(35, 39), anon: sgr(33, 39), warn: sgr(31, 39) };
}

/** Whether to colour `stream`: `--no-color` and NO_COLOR turn it off, FORCE_COLOR (not "0") on, else a TTY. */
export function useColor(stream: NodeJS.WriteStream, noColorFlag: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (noColorFlag || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

function short(v: unknown, max = 60): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

function clock(nanos: string): string {
  let ms = 0;
  try {
    ms = Number(BigInt(nanos || '0') / 1_000_000n);
  } catch {
    /* not a number: shown as the epoch */
  }
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The event as one line (no newline). */
export function eventLine(pipeline: string, e: AnalyticsEvent, c: Palette): string {
  const who = e.user_id ?? e.device_id;
  const parts = [c.dim(clock(e.time_unix_nano)), c.pipeline(pipeline), c.name(e.name), who ? c.user(short(who, 32)) : c.anon('anonymous')];
  for (const [k, v] of Object.entries(e.properties ?? {})) parts.push(`${c.dim(`${k}=`)}${short(v)}`);
  return parts.join(' ');
}

/** A closed pipe (`otelytics schema | head`) ends the command quietly instead of with an EPIPE error. */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
