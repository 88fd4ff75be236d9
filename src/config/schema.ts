/**
 * Building blocks for component config schemas (zod). A component's schema is its documentation:
 * every field has a `.describe()` text with its unit and default, and unknown keys are rejected.
 */
import { z } from 'zod';

/** Units accepted in duration strings, in milliseconds (Go's `time.ParseDuration` units). */
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/;
/** A whole duration: `0`, or numbers each with a unit (`200ms`, `1m30s`). */
const DURATION_TEXT_RE = /^(?:0|(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/;

/**
 * Parses a duration like `200ms`, `5s`, `1m30s` or `0` into milliseconds. A number without a unit
 * other than 0 is not a duration (the collector would read it as nanoseconds, people mean
 * milliseconds or seconds): undefined, as for any text that is not a duration.
 */
export function parseDurationMillis(text: string | number): number | undefined {
  if (typeof text === 'number') return text === 0 ? 0 : undefined;
  let s = text.trim();
  if (!DURATION_TEXT_RE.test(s)) return undefined;
  let total = 0;
  while (s.length > 0 && s !== '0') {
    const m = DURATION_RE.exec(s)!;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return total;
}

/** Why `value` is not a duration, for a config error. */
function durationMessage(value: unknown): string {
  const bare = typeof value === 'number' || (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value));
  return bare ? 'a duration needs a unit, e.g. "200ms" or "5s"' : `must be a duration like "200ms", "5s" or "1m30s", got ${JSON.stringify(value)}`;
}

/**
 * A duration option, parsed to milliseconds: a string of numbers with units (`200ms`, `5s`,
 * `1m30s`; units ns, us, µs, ms, s, m, h) or 0. A bare number other than 0 is refused with
 * `a duration needs a unit, e.g. "200ms" or "5s"`. In the JSON Schema: a patterned string or 0.
 */
export function duration(defaultValue: string) {
  const text = z.string().trim().regex(DURATION_TEXT_RE, { error: (issue) => durationMessage(issue.input) });
  return z
    .union([text, z.literal(0)], { error: (issue) => durationMessage(issue.input) })
    .default(defaultValue)
    .transform((v) => parseDurationMillis(v)!);
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

/** An optional http:// or https:// URL option; `""` counts as unset (an empty `${env:...}`). */
export const optionalHttpUrl = () => z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).optional());

export const nonEmptyString = () => z.string().min(1, { message: 'must be a non-empty string' });

export const positiveInt = () => z.number().int().positive();

export const nonNegativeInt = () => z.number().int().nonnegative();

export { z };
