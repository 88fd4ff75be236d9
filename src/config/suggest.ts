/**
 * "Did you mean" for config errors: the keys a zod schema knows at a path, and the one nearest to a
 * mistyped key.
 */
import type { z } from 'zod';

type Def = { type: string; [k: string]: unknown };

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/** The object schemas `schema` may be once wrappers (default, optional, pipe, ...) are looked through. */
function objectsOf(schema: unknown, depth = 0): Def[] {
  const def = defOf(schema);
  if (!def || depth > 20) return [];
  switch (def.type) {
    case 'object':
      return [def];
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return objectsOf(def.innerType, depth + 1);
    case 'pipe':
      return [...objectsOf(def.in, depth + 1), ...objectsOf(def.out, depth + 1)];
    case 'lazy':
      return objectsOf((def.getter as () => unknown)(), depth + 1);
    case 'union':
    case 'intersection':
      return [...((def.options as unknown[]) ?? [def.left, def.right])].flatMap((o) => objectsOf(o, depth + 1));
    default:
      return [];
  }
}

/** The schema of the value at `key` inside `schema` (an object's field, an array's or a record's element). */
function childSchemas(schema: unknown, key: string, depth = 0): unknown[] {
  const def = defOf(schema);
  if (!def || depth > 20) return [];
  switch (def.type) {
    case 'object': {
      const field = (def.shape as Record<string, unknown>)[key];
      return field ? [field] : def.catchall ? [def.catchall] : [];
    }
    case 'array':
      return /^\d+$/.test(key) ? [def.element] : [];
    case 'record':
      return [def.valueType];
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return childSchemas(def.innerType, key, depth + 1);
    case 'pipe':
      return [...childSchemas(def.in, key, depth + 1), ...childSchemas(def.out, key, depth + 1)];
    case 'lazy':
      return childSchemas((def.getter as () => unknown)(), key, depth + 1);
    case 'union':
    case 'intersection':
      return [...((def.options as unknown[]) ?? [def.left, def.right])].flatMap((o) => childSchemas(o, key, depth + 1));
    default:
      return [];
  }
}

/**
 * The keys the object at `path` inside `schema` may have (path segments as in zod issues: keys and
 * array indexes). Empty when the path does not lead to an object schema.
 */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let here: unknown[] = [schema];
  for (const p of path) here = here.flatMap((s) => childSchemas(s, String(p)));
  const keys = new Set<string>();
  for (const s of here) for (const o of objectsOf(s)) for (const k of Object.keys(o.shape as object)) keys.add(k);
  return [...keys];
}

/** Edit distance (insertions, deletions, substitutions, and swaps of neighbours count 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate nearest to `word` (case ignored), if it is near enough to be a typo: at most a third
 * of the longer word's letters differ (at least 1, at most 3). Ties go to the first candidate.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, c.toLowerCase());
    const limit = Math.min(3, Math.max(1, Math.floor(Math.max(w.length, c.length) / 3)));
    if (dist <= limit && dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/** The message of an unknown key: a suggestion when one known key is near, else the known keys. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = nearest(key, known);
  if (near !== undefined) return `unknown key; did you mean "${near}"?`;
  return known.length > 0 ? `unknown key (known: ${[...known].sort().join(', ')})` : 'unknown key';
}
