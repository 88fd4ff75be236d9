/**
 * OTLP/JSON handling of the messages every signal shares (`AnyValue`, `KeyValue`, `Resource`,
 * `InstrumentationScope`), the document root, and the request → resource → scope nesting of
 * `Export{Trace,Logs}ServiceRequest`, in both directions.
 */
import { isUtf8 } from 'node:buffer';
import { OtlpDecodeError } from '../../errors.js';
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from '../../pdata.js';
import { invalidUtf8At } from '../utf8.js';
import { bufferOf, MAX_ANY_VALUE_DEPTH } from '../wire.js';
import { asArray, asObject, at, bytes, child, dbl, fail, get, i64, invalidUtf8Named, invalidUtf8Offset, isObject, path, setInvalidUtf8Offset, str, u32, type Obj } from './values.js';

/** An `AnyValue` at nesting `level`, found under `key` of the current object (`""`: the current value). */
export function anyValue(v: unknown, key: string, level: number): AnyValue {
  if (!isObject(v)) fail(key, 'expected an object');
  if (level > MAX_ANY_VALUE_DEPTH) fail(key, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  let x = get(v, 'stringValue', 'string_value');
  if (x !== undefined) return { stringValue: str(x, child(key, 'stringValue')) };
  if ((x = get(v, 'intValue', 'int_value')) !== undefined) return { intValue: i64(x, child(key, 'intValue')) };
  if ((x = get(v, 'boolValue', 'bool_value')) !== undefined) {
    if (typeof x !== 'boolean') fail(child(key, 'boolValue'), 'expected a boolean');
    return { boolValue: x };
  }
  if ((x = get(v, 'doubleValue', 'double_value')) !== undefined) return { doubleValue: dbl(x, child(key, 'doubleValue')) };
  if ((x = get(v, 'arrayValue', 'array_value')) !== undefined) {
    const n0 = path.length;
    if (key) path.push(key);
    const arr = asObject(x, 'arrayValue');
    path.push('arrayValue');
    const list = asArray(arr.values, 'values');
    path.push('values');
    const values: AnyValue[] = [];
    for (let i = 0; i < list.length; i++) {
      path.push(i);
      values.push(anyValue(list[i], '', level + 1));
      path.pop();
    }
    path.length = n0;
    return { arrayValue: { values } };
  }
  if ((x = get(v, 'kvlistValue', 'kvlist_value')) !== undefined) {
    const n0 = path.length;
    if (key) path.push(key);
    const kvl = asObject(x, 'kvlistValue');
    path.push('kvlistValue');
    const values = keyValues(kvl.values, 'values', level + 1);
    path.length = n0;
    return { kvlistValue: { values } };
  }
  if ((x = get(v, 'bytesValue', 'bytes_value')) !== undefined) return { bytesValue: bytes(x, child(key, 'bytesValue')) };
  return {};
}

/** A list of `KeyValue` under `key`, whose values are AnyValues at nesting `level`. */
export function keyValues(v: unknown, key: string, level: number): KeyValue[] {
  const list = asArray(v, key);
  const out: KeyValue[] = [];
  if (list.length === 0) return out;
  path.push(key);
  for (let i = 0; i < list.length; i++) {
    path.push(i);
    const kv = asObject(list[i], undefined);
    const value = kv.value;
    out.push({
      key: str(kv.key, 'key'),
      value: value === undefined || value === null ? {} : anyValue(value, 'value', level),
    });
    path.pop();
  }
  path.pop();
  return out;
}

/** A `Resource` under `key`; the empty resource when absent. */
export function resource(v: unknown, key: string): Resource {
  if (v === undefined) return { attributes: [], droppedAttributesCount: 0 };
  const o = asObject(v, key);
  path.push(key);
  const res: Resource = {
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
  path.pop();
  return res;
}

/** An `InstrumentationScope` under `key`; the empty scope when absent. */
export function scope(v: unknown, key: string): InstrumentationScope {
  if (v === undefined) return { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
  const o = asObject(v, key);
  path.push(key);
  const s: InstrumentationScope = {
    name: str(o.name, 'name'),
    version: str(o.version, 'version'),
    attributes: keyValues(o.attributes, 'attributes', 1),
    droppedAttributesCount: u32(get(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
  path.pop();
  return s;
}

/** Applies `fn` to each object of the array under `key` of `o` (camel or snake name). */
export function eachObject<T>(o: Obj, camel: string, snake: string, fn: (x: Obj) => T): T[] {
  const list = asArray(get(o, camel, snake), camel);
  const out: T[] = [];
  if (list.length === 0) return out;
  path.push(camel);
  for (let i = 0; i < list.length; i++) {
    path.push(i);
    out.push(fn(asObject(list[i], undefined)));
    path.pop();
  }
  path.pop();
  return out;
}

/**
 * Parses the document and checks that it is an object. A body given as bytes must be UTF-8 (RFC
 * 8259, §8.1): Node's decoder would turn invalid sequences into U+FFFD and make different values
 * equal. A body that is not is parsed with each byte that begins no valid sequence as a lone
 * surrogate, which `str` finds in the string holding it, so that the error names it (see `guard`).
 */
export function parseRoot(body: string | Uint8Array): Obj {
  path.length = 0;
  let text: string;
  if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) {
    const buf = bufferOf(body);
    if (isUtf8(buf)) text = buf.toString('utf8');
    else {
      const first = invalidUtf8At(buf, 0, buf.length);
      setInvalidUtf8Offset(first);
      text = '';
      let from = 0;
      for (let bad = first; bad >= 0; bad = invalidUtf8At(buf, from, buf.length)) {
        text += buf.toString('utf8', from, bad) + '\uD800';
        from = bad + 1;
      }
      text += buf.toString('utf8', from);
    }
  } else text = String(body);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new OtlpDecodeError(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return asObject(doc, undefined);
}

/**
 * Runs a decoder; any failure other than an `OtlpDecodeError` is reported as one at the current
 * path. A body that is not UTF-8 always fails: with `<path>: invalid UTF-8` naming the first
 * string the decoder reads that holds a bad sequence, else (bad bytes only outside the strings it
 * reads, such as in a field name) with `request: invalid UTF-8 at byte <offset of the first>`.
 */
export function guard<T>(fn: () => T): T {
  try {
    const out = fn();
    if (invalidUtf8Offset >= 0) throw new OtlpDecodeError(`request: invalid UTF-8 at byte ${invalidUtf8Offset}`);
    return out;
  } catch (err) {
    if (invalidUtf8Offset >= 0 && !invalidUtf8Named) throw new OtlpDecodeError(`request: invalid UTF-8 at byte ${invalidUtf8Offset}`);
    if (err instanceof OtlpDecodeError) throw err;
    throw new OtlpDecodeError(`${at()}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    path.length = 0;
    setInvalidUtf8Offset(-1);
  }
}

/** The `schemaUrl` of a resource or scope group `o`; `""` when absent. */
export function schemaUrlOf(o: Obj): string {
  return str(get(o, 'schemaUrl', 'schema_url'), 'schemaUrl');
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

export type JsonObj = { [key: string]: unknown };

export function anyValueJson(value: AnyValue): JsonObj {
  const v = value as Partial<Record<string, unknown>> & JsonObj;
  if (v.stringValue !== undefined) return { stringValue: v.stringValue };
  if (v.intValue !== undefined) return { intValue: String(v.intValue) };
  if (v.boolValue !== undefined) return { boolValue: v.boolValue };
  if (v.doubleValue !== undefined) {
    const d = v.doubleValue as number;
    return { doubleValue: Number.isFinite(d) ? d : String(d) };
  }
  if (v.arrayValue !== undefined) {
    return { arrayValue: { values: (v.arrayValue as { values: AnyValue[] }).values.map(anyValueJson) } };
  }
  if (v.kvlistValue !== undefined) return { kvlistValue: { values: keyValuesJson((v.kvlistValue as { values: KeyValue[] }).values) } };
  if (v.bytesValue !== undefined) return { bytesValue: Buffer.from(v.bytesValue as Uint8Array).toString('base64') };
  return {};
}

export function keyValuesJson(kvs: readonly KeyValue[]): JsonObj[] {
  const out: JsonObj[] = new Array(kvs.length);
  for (let i = 0; i < kvs.length; i++) out[i] = { key: kvs[i]!.key, value: anyValueJson(kvs[i]!.value) };
  return out;
}

/** Sets `o[key] = v` unless `v` is a proto3 default (`""`, `0`, `"0"`, `[]`). */
export function put(o: JsonObj, key: string, v: unknown): void {
  if (v === '' || v === 0 || v === '0' || v === undefined) return;
  if (Array.isArray(v) && v.length === 0) return;
  o[key] = v;
}

function resourceJson(r: Resource): JsonObj {
  const o: JsonObj = {};
  put(o, 'attributes', keyValuesJson(r.attributes));
  put(o, 'droppedAttributesCount', r.droppedAttributesCount);
  return o;
}

function scopeJson(s: InstrumentationScope): JsonObj {
  const o: JsonObj = {};
  put(o, 'name', s.name);
  put(o, 'version', s.version);
  put(o, 'attributes', keyValuesJson(s.attributes));
  put(o, 'droppedAttributesCount', s.droppedAttributesCount);
  return o;
}

/**
 * Encodes an OTLP/JSON `Export{Trace,Logs}ServiceRequest`: `groups` under `groupsKey`, each with
 * `resource`, its scope groups `scopesOf(group)` under `scopesKey` and `schemaUrl`; each scope group
 * with `scope`, its items `itemsOf(scope group)` under `itemsKey` (each made by `itemJson`) and
 * `schemaUrl` (proto3 defaults omitted).
 */
export function encodeRequestJson<R extends { resource: Resource; schemaUrl: string }, S extends { scope: InstrumentationScope; schemaUrl: string }, T>(
  groupsKey: string,
  groups: readonly R[],
  scopesKey: string,
  scopesOf: (group: R) => readonly S[],
  itemsKey: string,
  itemsOf: (scopeGroup: S) => readonly T[],
  itemJson: (item: T) => JsonObj,
): string {
  return JSON.stringify({
    [groupsKey]: groups.map((rg) => {
      const o: JsonObj = { resource: resourceJson(rg.resource) };
      o[scopesKey] = scopesOf(rg).map((sg) => {
        const x: JsonObj = { scope: scopeJson(sg.scope), [itemsKey]: itemsOf(sg).map(itemJson) };
        put(x, 'schemaUrl', sg.schemaUrl);
        return x;
      });
      put(o, 'schemaUrl', rg.schemaUrl);
      return o;
    }),
  });
}
