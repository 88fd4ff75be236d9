/**
 * Building blocks for component config schemas (zod). A component's schema is its documentation:
 * every field has a `.describe()` text with its unit and default, and unknown keys are rejected.
 */
import { z } from 'zod';

/** Units accepted in duration strings, in milliseconds (Go's `time.ParseDuration` units). */
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/;

/**
 * Parses a duration like `200ms`, `5s`, `1m30s` or `0` into milliseconds. Bare numbers are
 * milliseconds. Returns undefined when the text is not a duration.
 */
export function parseDurationMillis(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  let s = text.trim();
  if (s === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  if (!s) return undefined;
  let total = 0;
  while (s.length > 0) {
    const m = DURATION_RE.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return total;
}

/** A duration option (`200ms`, `5s`, `1m`), parsed to milliseconds. */
export function duration(defaultValue: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((v, ctx) => {
      const ms = parseDurationMillis(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be a duration like "200ms", "5s" or "1m", got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return ms;
    });
}

/** A `host:port` endpoint; port 0 asks the OS for a free port. */
export function endpoint(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .refine((v) => parseEndpoint(v) !== undefined, { message: 'must be "host:port" with a port from 0 to 65535' });
}

export function parseEndpoint(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export const nonEmptyString = () => z.string().min(1, { message: 'must be a non-empty string' });

export const positiveInt = () => z.number().int().positive();

export const nonNegativeInt = () => z.number().int().nonnegative();

export { z };
