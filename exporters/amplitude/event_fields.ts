/**
 * Field paths into an analytics event, used by exporters to say where a destination's value comes
 * from. A path is compiled once at start-up into a getter; the hot path does no parsing.
 *
 * | path | value |
 * |---|---|
 * | `name`, `insert_id`, `user_id`, `device_id`, `session_id`, `privacy_level`, `category` | the event field |
 * | `time` | `time_unix_nano` (decimal string of nanoseconds) |
 * | `properties`, `user_properties`, `context`, `consent` | the whole object |
 * | `properties.<key>`, `user_properties.<key>`, `context.<key>`, `consent.<key>` | one entry; the key is everything after the first dot, so `context.service.version` reads the context key `service.version` |
 *
 * Keys are looked up as written; `properties.a.b` reads the property named `a.b` when there is one,
 * else the nested value `b` of property `a`.
 */
import { z } from '../../src/config/schema.js';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';

export type FieldGetter = (e: AnalyticsEvent) => JsonValue | undefined;

const TOP_FIELDS = ['name', 'insert_id', 'user_id', 'device_id', 'session_id', 'privacy_level', 'category'] as const;
const OBJECT_FIELDS = ['properties', 'user_properties', 'context', 'consent'] as const;

/** The paths accepted, for error messages. */
export const FIELD_PATH_HELP =
  'name, time, insert_id, user_id, device_id, session_id, privacy_level, category, properties, user_properties, context, consent, or properties.<key>, user_properties.<key>, context.<key>, consent.<key>';

/** Whether `path` is a valid field path. */
export function isFieldPath(path: string): boolean {
  return compileFieldPath(path) !== undefined;
}

/** Compiles a field path into a getter; undefined when the path is not valid. */
export function compileFieldPath(path: string): FieldGetter | undefined {
  if (path === 'time') return (e) => e.time_unix_nano;
  if ((TOP_FIELDS as readonly string[]).includes(path)) {
    const field = path as (typeof TOP_FIELDS)[number];
    return (e) => e[field];
  }
  if ((OBJECT_FIELDS as readonly string[]).includes(path)) {
    const field = path as (typeof OBJECT_FIELDS)[number];
    return (e) => e[field] as JsonValue | undefined;
  }
  const dot = path.indexOf('.');
  if (dot <= 0 || dot === path.length - 1) return undefined;
  const head = path.slice(0, dot);
  if (!(OBJECT_FIELDS as readonly string[]).includes(head)) return undefined;
  const field = head as (typeof OBJECT_FIELDS)[number];
  const key = path.slice(dot + 1);
  const parts = key.split('.');
  return (e) => {
    const obj = e[field] as { [k: string]: JsonValue | undefined } | undefined;
    if (!obj) return undefined;
    const direct = obj[key];
    if (direct !== undefined) return direct;
    if (parts.length === 1) return undefined;
    let v: JsonValue | undefined = obj as JsonValue;
    for (const p of parts) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
      v = (v as { [k: string]: JsonValue })[p];
      if (v === undefined) return undefined;
    }
    return v;
  };
}

/** Compiles a list of paths into a getter returning the first value that is present (not undefined, null or ""). */
export function firstOf(paths: readonly string[]): FieldGetter {
  const getters = paths.map((p) => {
    const g = compileFieldPath(p);
    if (!g) throw new Error(`unknown field path "${p}"`);
    return g;
  });
  if (getters.length === 0) return () => undefined;
  if (getters.length === 1) {
    const g = getters[0]!;
    return (e) => {
      const v = g(e);
      return v === null || v === '' ? undefined : v;
    };
  }
  return (e) => {
    for (const g of getters) {
      const v = g(e);
      if (v !== undefined && v !== null && v !== '') return v;
    }
    return undefined;
  };
}

/** A zod refinement message for a list of paths, or undefined when all are valid. */
export function invalidPaths(paths: readonly string[]): string | undefined {
  const bad = paths.filter((p) => !isFieldPath(p));
  return bad.length === 0 ? undefined : `unknown field path${bad.length > 1 ? 's' : ''} ${bad.map((b) => JSON.stringify(b)).join(', ')}; use ${FIELD_PATH_HELP}`;
}

/** A config option listing event field paths (first present wins), `def` by default; unknown paths are refused with the ones known. */
export function fieldPathsOption(def: readonly string[], what: string) {
  return z
    .array(z.string().min(1))
    .default([...def])
    .superRefine((v, ctx) => {
      const msg = invalidPaths(v);
      if (msg) ctx.addIssue({ code: 'custom', message: msg });
    })
    .describe(what);
}

/** A config option listing context keys to copy into the destination's event properties (none by default). */
export function contextPropertiesOption(what: string) {
  return z.array(z.string().min(1)).default([]).describe(what);
}

/** `time_unix_nano` (decimal string) as integer milliseconds since the epoch; undefined when absent, zero or not a number. */
export function nanosToMillis(nanos: string | undefined): number | undefined {
  if (!nanos || !/^\d+$/.test(nanos)) return undefined;
  const ms = Number(BigInt(nanos) / 1_000_000n);
  return ms > 0 ? ms : undefined;
}

/** `time_unix_nano` as an RFC 3339 UTC timestamp with microseconds (`2026-11-21T10:05:00.123456Z`); undefined when absent or invalid. */
export function nanosToTimestamp(nanos: string | undefined): string | undefined {
  if (!nanos || !/^\d+$/.test(nanos)) return undefined;
  const n = BigInt(nanos);
  const ms = Number(n / 1_000_000n);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return undefined;
  const iso = d.toISOString(); // 2026-11-21T10:05:00.123Z
  const micros = String(Number((n / 1000n) % 1000n)).padStart(3, '0');
  return `${iso.slice(0, 23)}${micros}Z`;
}
