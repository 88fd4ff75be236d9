/**
 * Compiles parsed OTTL conditions (`parse.ts`) into plain predicates over the items of one OTTL
 * context (`contexts.ts`: span, log, resource, or an otelytics event), once, when the config is
 * loaded: paths are resolved to getters, enums to their numbers, regular expressions compiled. The
 * hot path calls closures and compares values; it never parses.
 *
 * Comparison rules are OTTL's (LANGUAGE.md, "Comparison Rules"):
 * - `nil` equals only `nil` (`==` true, `!=` false, the ordering operators false); a missing
 *   attribute or map key is `nil`;
 * - numbers compare as numbers (an int and a float as floats), strings as strings, booleans with
 *   false < true, byte strings byte by byte;
 * - values of different types are not equal: `!=` is true, every other operator false (so
 *   `attributes["http.response.status_code"] == "200"` is false for the int 200);
 * - lists and maps compare only with `==` / `!=` (deep equality); ordering them is false.
 *
 * Converters: `IsMatch(target, "regex")` (the pattern must be a string literal; JavaScript regular
 * expression syntax, unanchored; RE2's leading `(?i)` becomes the `i` flag; a target that is not a
 * string is read as its string form, `nil` never matches), and `IsString`, `IsInt`, `IsDouble`,
 * `IsBool`, `IsMap`, `IsList` (the type of a value). Any other function is an error at load.
 *
 * Runtime errors: indexing a value that cannot be indexed that way (`attributes["a"]["b"]` when
 * `a` is a string, `[3]` of a list of two) throws an {@link OttlRuntimeError}; the caller decides
 * what happens to the item (the routing connector's `error_mode`).
 */
import type { AnyValue } from '../pdata.js';
import { findAttribute, toJsonValue } from '../pdata.js';
import { OttlError, parseCondition, parseStatement, type BoolExpr, type CompareOp, type Key, type PathField, type Statement, type ValueExpr } from './parse.js';

/** A value failed to be read while evaluating a condition (see the module comment). */
export class OttlRuntimeError extends Error {}

/**
 * How a getter's raw values read: `any` = an OTLP `AnyValue` or undefined (attributes, bodies);
 * `json` = plain values: string, number (an int when whole), boolean, null or undefined (nil),
 * arrays, plain objects and `Uint8Array` (event properties and fields, span names, ...).
 */
export type Form = 'any' | 'json';

export interface Getter<T> {
  get(item: T): unknown;
  form: Form;
  /** The type of every value when it is fixed (literals: an int `1` and a float `1.0` differ). */
  fixedType?: ValueType;
  /** The same value for every item (a literal or an enum). */
  constant?: boolean;
}

export type ValueType = 'nil' | 'string' | 'int' | 'double' | 'bool' | 'bytes' | 'map' | 'list';

/** What a context offers to conditions: its paths and its enums. */
export interface OttlContext<T> {
  /** The context's name (`span`, `log`, `resource`, `event`), also accepted as a path prefix (`span.name`). */
  name: string;
  /**
   * The getter of a path (its context prefix already removed). Throws {@link OttlError} for a path
   * the context does not have; `text` is the path as written, `pos` its column.
   */
  path(fields: readonly PathField[], text: string, pos: number): Getter<T>;
  enums: Readonly<Record<string, number>>;
  /** Paths to list in the message about an unknown one. */
  known: readonly string[];
}

/** A compiled condition. */
export type Predicate<T> = (item: T) => boolean;

/** A value in comparable form: primitives, `Uint8Array`, arrays (lists) and plain objects (maps); `null` is nil. */
type Plain = null | string | number | boolean | Uint8Array | Plain[] | { [key: string]: Plain };

/** The comparable form of a raw value read in `form`. */
export function plainOf(raw: unknown, form: Form): Plain {
  if (raw === undefined || raw === null) return null;
  if (form === 'json') return raw as Plain;
  const v = raw as AnyValue & Record<string, unknown>;
  if (v.stringValue !== undefined) return v.stringValue as string;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue as number;
  if (v.boolValue !== undefined) return v.boolValue as boolean;
  if (v.bytesValue !== undefined) return v.bytesValue as Uint8Array;
  if (v.arrayValue !== undefined || v.kvlistValue !== undefined) return toJsonValue(v) as Plain;
  return null;
}

/** The OTTL type of a raw value read in `form`. */
export function typeOf(raw: unknown, form: Form): ValueType {
  if (raw === undefined || raw === null) return 'nil';
  if (form === 'any') {
    const v = raw as Record<string, unknown>;
    if (v.stringValue !== undefined) return 'string';
    if (v.intValue !== undefined) return 'int';
    if (v.doubleValue !== undefined) return 'double';
    if (v.boolValue !== undefined) return 'bool';
    if (v.bytesValue !== undefined) return 'bytes';
    if (v.arrayValue !== undefined) return 'list';
    if (v.kvlistValue !== undefined) return 'map';
    return 'nil';
  }
  switch (typeof raw) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(raw) ? 'int' : 'double';
    case 'boolean':
      return 'bool';
    default:
      if (raw instanceof Uint8Array) return 'bytes';
      return Array.isArray(raw) ? 'list' : 'map';
  }
}

/** One key applied to a raw value: a map's entry, a list's element; nil stays nil. */
function indexRaw(raw: unknown, form: Form, key: Key, text: string): unknown {
  if (raw === undefined || raw === null) return undefined;
  if (form === 'any') {
    const v = raw as Record<string, unknown>;
    if (typeof key === 'string') {
      if (v.kvlistValue !== undefined) return findAttribute((v.kvlistValue as { values: [] }).values, key);
    } else if (v.arrayValue !== undefined) {
      const values = (v.arrayValue as { values: AnyValue[] }).values;
      if (key >= values.length) throw new OttlRuntimeError(`${text}: index ${key} is out of range (the list has ${values.length} values)`);
      return values[key];
    }
    if (Object.keys(v).length === 0) return undefined;
  } else if (typeof key === 'string') {
    if (typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Uint8Array)) return Object.hasOwn(raw, key) ? (raw as Record<string, unknown>)[key] : undefined;
  } else if (Array.isArray(raw)) {
    if (key >= raw.length) throw new OttlRuntimeError(`${text}: index ${key} is out of range (the list has ${raw.length} values)`);
    return raw[key];
  }
  throw new OttlRuntimeError(`${text}: a ${typeOf(raw, form)} value cannot be indexed with [${JSON.stringify(key)}]`);
}

/** A getter that reads `base` and then applies `keys` in order (nested maps and lists). */
export function withKeys<T>(base: Getter<T>, keys: readonly Key[], text: string): Getter<T> {
  if (keys.length === 0) return base;
  const { get, form } = base;
  return {
    form,
    get(item) {
      let v = get(item);
      for (let i = 0; i < keys.length; i++) v = indexRaw(v, form, keys[i]!, text);
      return v;
    },
  };
}

function kindOf(v: Plain): 'string' | 'number' | 'bool' | 'bytes' | 'list' | 'map' {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      if (v instanceof Uint8Array) return 'bytes';
      return Array.isArray(v) ? 'list' : 'map';
  }
}

function deepEqual(a: Plain, b: Plain): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bl = b as Plain[];
    return a.length === bl.length && a.every((x, i) => deepEqual(x, bl[i]!));
  }
  const ak = Object.keys(a);
  const bo = b as { [key: string]: Plain };
  return ak.length === Object.keys(bo).length && ak.every((k) => Object.hasOwn(bo, k) && deepEqual((a as { [key: string]: Plain })[k]!, bo[k]!));
}

function ordered(op: CompareOp, c: number): boolean {
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

/** `a op b` by OTTL's comparison rules (see the module comment). */
export function compareValues(op: CompareOp, a: Plain, b: Plain): boolean {
  if (a === null || b === null) return a === null && b === null ? op === '==' : op === '!=';
  const ka = kindOf(a);
  if (ka !== kindOf(b)) return op === '!=';
  switch (ka) {
    case 'number':
    case 'string':
      return ordered(op, a < b ? -1 : a > b ? 1 : a === b ? 0 : NaN);
    case 'bool':
      return ordered(op, Number(a) - Number(b));
    case 'bytes':
      return ordered(op, Buffer.compare(a as Uint8Array, b as Uint8Array));
    default:
      if (op === '==') return deepEqual(a, b);
      if (op === '!=') return !deepEqual(a, b);
      return false;
  }
}

/** Reads an RE2-style pattern as a JavaScript RegExp; a leading `(?i)` (or `(?s)`, `(?m)`, combined) becomes flags. */
export function compileRegex(pattern: string, pos: number): RegExp {
  let flags = '';
  let body = pattern;
  const m = /^\(\?([ism]+)\)/.exec(pattern);
  if (m) {
    flags = [...new Set(m[1]!)].join('');
    body = pattern.slice(m[0].length);
  }
  try {
    return new RegExp(body, flags);
  } catch (err) {
    throw new OttlError(`invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`, pos);
  }
}

/** A string view for IsMatch: strings as they are, numbers and booleans written out, bytes as hex, lists and maps as JSON. */
function stringLike(v: Plain): string | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return JSON.stringify(v);
}

const TYPE_TESTS: Record<string, ValueType> = { IsString: 'string', IsInt: 'int', IsDouble: 'double', IsBool: 'bool', IsMap: 'map', IsList: 'list' };

/** The converters a condition may call. */
export const SUPPORTED_CONVERTERS = ['IsMatch', ...Object.keys(TYPE_TESTS)] as const;

class Compiler<T> {
  constructor(private readonly ctx: OttlContext<T>) {}

  path(e: Extract<ValueExpr, { type: 'path' }>): Getter<T> {
    let fields = e.fields;
    // The context's own name may prefix its paths (`span.attributes["x"]` in the span context).
    if (fields.length > 1 && fields[0]!.name === this.ctx.name && fields[0]!.keys.length === 0) fields = fields.slice(1);
    return this.ctx.path(fields, e.text, e.pos);
  }

  value(e: ValueExpr): Getter<T> {
    switch (e.type) {
      case 'literal': {
        const v = e.value;
        const fixedType: ValueType = v === null ? 'nil' : typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (e.int ? 'int' : 'double') : 'bytes';
        return { form: 'json', get: () => v, fixedType, constant: true };
      }
      case 'enum': {
        const n = this.ctx.enums[e.name];
        if (n === undefined) {
          const known = Object.keys(this.ctx.enums);
          throw new OttlError(`unknown enum ${e.name} in the ${this.ctx.name} context${known.length ? ` (known: ${known.join(', ')})` : ''}`, e.pos);
        }
        return { form: 'json', get: () => n, fixedType: 'int', constant: true };
      }
      case 'list': {
        const items = e.items.map((x) => this.value(x));
        return { form: 'json', get: (item) => items.map((g) => plainOf(g.get(item), g.form)), fixedType: 'list' };
      }
      case 'path':
        return this.path(e);
      case 'call': {
        const test = this.call(e);
        return { form: 'json', get: test, fixedType: 'bool' };
      }
    }
  }

  call(e: Extract<ValueExpr, { type: 'call' }>): Predicate<T> {
    if (e.keys.length > 0) throw new OttlError(`indexing the result of ${e.name}() is not supported`, e.pos);
    const arity = (n: number) => {
      if (e.args.length !== n) throw new OttlError(`${e.name} takes ${n} argument${n === 1 ? '' : 's'}, not ${e.args.length}`, e.pos);
    };
    if (e.name === 'IsMatch') {
      arity(2);
      const pattern = e.args[1]!;
      if (pattern.type !== 'literal' || typeof pattern.value !== 'string') throw new OttlError('IsMatch\'s pattern must be a string literal', 'pos' in pattern ? pattern.pos : e.pos);
      const re = compileRegex(pattern.value, pattern.pos);
      const target = this.value(e.args[0]!);
      const { get, form } = target;
      return (item) => {
        const s = stringLike(plainOf(get(item), form));
        return s !== undefined && re.test(s);
      };
    }
    const type = TYPE_TESTS[e.name];
    if (type !== undefined) {
      arity(1);
      const g = this.value(e.args[0]!);
      if (g.fixedType !== undefined) {
        const fixed = g.fixedType === type;
        return () => fixed;
      }
      const { get, form } = g;
      return (item) => typeOf(get(item), form) === type;
    }
    throw new OttlError(`unsupported function ${e.name} (supported: ${SUPPORTED_CONVERTERS.join(', ')})`, e.pos);
  }

  bool(e: BoolExpr): Predicate<T> {
    switch (e.type) {
      case 'bool': {
        const v = e.value;
        return () => v;
      }
      case 'not': {
        const inner = this.bool(e.expr);
        return (item) => !inner(item);
      }
      case 'and': {
        const items = e.items.map((x) => this.bool(x));
        return (item) => {
          for (let i = 0; i < items.length; i++) if (!items[i]!(item)) return false;
          return true;
        };
      }
      case 'or': {
        const items = e.items.map((x) => this.bool(x));
        return (item) => {
          for (let i = 0; i < items.length; i++) if (items[i]!(item)) return true;
          return false;
        };
      }
      case 'call':
        return this.call(e.call);
      case 'compare':
        return this.compare(e.op, this.value(e.left), this.value(e.right));
    }
  }

  compare(op: CompareOp, left: Getter<T>, right: Getter<T>): Predicate<T> {
    const lg = left.get;
    const lf = left.form;
    const rg = right.get;
    const rf = right.form;
    // A literal or enum on one side is read once, here.
    if (right.constant) {
      const r = plainOf(rg(undefined as T), rf);
      return (item) => compareValues(op, plainOf(lg(item), lf), r);
    }
    return (item) => compareValues(op, plainOf(lg(item), lf), plainOf(rg(item), rf));
  }
}

/**
 * Compiles an OTTL condition for `ctx`.
 * @throws OttlError for a syntax error, an unknown path, enum or function, with its column.
 */
export function compileCondition<T>(text: string, ctx: OttlContext<T>): Predicate<T> {
  return new Compiler(ctx).bool(parseCondition(text));
}

/**
 * Compiles the condition of an OTTL statement whose editor must be one of `editors` (a statement
 * without `where` holds for every item). Editor arguments are not supported.
 * @throws OttlError as {@link compileCondition}, or for another editor.
 */
export function compileStatementCondition<T>(text: string, ctx: OttlContext<T>, editors: readonly string[]): Predicate<T> {
  const st: Statement = parseStatement(text);
  if (!editors.includes(st.editor.name)) throw new OttlError(`unsupported editor ${st.editor.name}() here (supported: ${editors.map((e) => `${e}()`).join(', ')})`, st.editor.pos);
  if (st.editor.args.length > 0) throw new OttlError(`${st.editor.name}() takes no arguments`, st.editor.pos);
  return st.where ? new Compiler(ctx).bool(st.where) : () => true;
}

/** A path error with the paths the context knows. */
export function unknownPath(ctx: { name: string; known: readonly string[] }, text: string, pos: number): OttlError {
  return new OttlError(`unknown path ${text} in the ${ctx.name} context (known: ${ctx.known.join(', ')})`, pos);
}

export { OttlError };
