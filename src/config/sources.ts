/**
 * Config sources: YAML files merged in order, `--set` overrides and `${env:VAR}` substitution,
 * giving one raw tree that `resolve.ts` validates.
 *
 * - Several files merge in the given order: maps merge key by key, anything else (lists included)
 *   is replaced by the later file (the collector's `confmap` merge).
 * - `--set a::b::c=value` sets one key; the value is read as a YAML scalar or flow collection
 *   (`--set exporters::file::path=/tmp/e.jsonl`, `--set x::ports=[1,2]`), like the collector's flag.
 * - `${env:NAME}` and `${env:NAME:-default}` are replaced in every string value; `$${` stands for a
 *   literal `${`. An unset variable without a default is an error naming the key. When a value is
 *   exactly one reference, the result is read as a YAML scalar, so `${env:PORT}` can be a number.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { ConfigError, ConfigErrors } from '../errors.js';

export type RawTree = { [key: string]: unknown };

export function isMap(v: unknown): v is RawTree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep-merges `over` into `base` (maps merge, everything else is replaced). Returns a new tree. */
export function mergeTrees(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: RawTree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeTrees(out[k], v) : v;
  return out;
}

/** Reads one YAML config file; syntax errors name the file and line. */
export function readConfigFile(file: string): RawTree {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigErrors([new ConfigError('', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`)]);
  }
  return parseConfigText(text, file);
}

export function parseConfigText(text: string, origin: string): RawTree {
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigErrors(doc.errors.map((e) => new ConfigError('', `${origin}: ${e.message.split('\n')[0]}`)));
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigErrors([new ConfigError('', `${origin}: ${(err as Error).message.split('\n')[0]}`)]);
  }
  if (value === null || value === undefined) return {};
  if (!isMap(value)) throw new ConfigErrors([new ConfigError('', `${origin}: the top level must be a map of sections`)]);
  return value;
}

/** Applies one `--set path::to::key=value` override to the tree (in place). */
export function applySet(tree: RawTree, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigErrors([new ConfigError('', `--set ${JSON.stringify(assignment)}: expected path::to::key=value`)]);
  const path = assignment.slice(0, eq).split('::');
  if (path.some((p) => p === '')) throw new ConfigErrors([new ConfigError('', `--set ${JSON.stringify(assignment)}: empty key in the path`)]);
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = text === '' ? '' : YAML.parse(text);
  } catch {
    value = text;
  }
  let node: RawTree = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isMap(next)) node[key] = {};
    node = node[key] as RawTree;
  }
  node[path[path.length - 1]!] = value;
}

const ENV_REF = /\$\$\{|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_ENV_REF = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

/** Replaces `${env:...}` references throughout the tree; collects every unset variable as an error. */
export function substituteEnv(tree: unknown, env: NodeJS.ProcessEnv, path: string[] = [], errors: ConfigError[] = []): unknown {
  if (typeof tree === 'string') {
    const whole = WHOLE_ENV_REF.exec(tree);
    if (whole) {
      const v = env[whole[1]!] ?? whole[2];
      if (v === undefined) {
        errors.push(new ConfigError(path.join('::'), `environment variable ${whole[1]} is not set and has no default`));
        return tree;
      }
      return readScalar(v);
    }
    return tree.replace(ENV_REF, (m, name: string | undefined, def: string | undefined) => {
      if (m === '$${') return '${';
      const v = env[name!] ?? def;
      if (v === undefined) {
        errors.push(new ConfigError(path.join('::'), `environment variable ${name} is not set and has no default`));
        return m;
      }
      return v;
    });
  }
  if (Array.isArray(tree)) return tree.map((v, i) => substituteEnv(v, env, [...path, String(i)], errors));
  if (isMap(tree)) {
    const out: RawTree = {};
    for (const [k, v] of Object.entries(tree)) out[k] = substituteEnv(v, env, [...path, k], errors);
    return out;
  }
  return tree;
}

function readScalar(text: string): unknown {
  try {
    const v: unknown = YAML.parse(text);
    return typeof v === 'number' || typeof v === 'boolean' ? v : text;
  } catch {
    return text;
  }
}

/** Loads, merges, overrides and substitutes: the raw tree ready for validation. */
export function loadRawConfig(files: readonly string[], sets: readonly string[], env: NodeJS.ProcessEnv): RawTree {
  let tree: unknown = {};
  for (const f of files) tree = mergeTrees(tree, readConfigFile(f));
  for (const s of sets) applySet(tree as RawTree, s);
  const errors: ConfigError[] = [];
  const out = substituteEnv(tree, env, [], errors) as RawTree;
  if (errors.length > 0) throw new ConfigErrors(errors);
  return out;
}
