/**
 * Decoding of the messages every OTLP signal shares (`common/v1/common.proto`,
 * `resource/v1/resource.proto`): `AnyValue`, `KeyValue`, `Resource`, `InstrumentationScope`, and
 * the request → resource → scope nesting of `Export{Trace,Logs}ServiceRequest`.
 */
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from '../../pdata.js';
import { I64, MAX_ANY_VALUE_DEPTH, VARINT } from '../wire.js';
import {
  enter,
  fail,
  fieldNo,
  leave,
  names,
  readBytesCopy,
  readerOf,
  readInt64,
  readString,
  readTag,
  readUint32,
  skip,
  startDecode,
  toDecodeError,
  wrongWireType,
  type FieldNames,
  type Reader,
} from './reader.js';

export const F_RESOURCE = names({ 1: 'attributes', 2: 'dropped_attributes_count' });
export const F_SCOPE = names({ 1: 'name', 2: 'version', 3: 'attributes', 4: 'dropped_attributes_count' });
export const F_KEY_VALUE = names({ 1: 'key', 2: 'value' });
export const F_ANY_VALUE = names({
  1: 'string_value', 2: 'bool_value', 3: 'int_value', 4: 'double_value', 5: 'array_value', 6: 'kvlist_value',
  7: 'bytes_value',
});
export const F_VALUES = names({ 1: 'values' });

export function readAnyValue(r: Reader, level: number): AnyValue {
  if (level > MAX_ANY_VALUE_DEPTH) fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  let v: AnyValue | undefined;
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        v = { stringValue: readString(r, wt) };
        break;
      case 2:
        if (wt !== VARINT) wrongWireType(wt, VARINT);
        v = { boolValue: r.bool() };
        break;
      case 3:
        if (wt !== VARINT) wrongWireType(wt, VARINT);
        v = { intValue: readInt64(r) };
        break;
      case 4:
        if (wt !== I64) wrongWireType(wt, I64);
        v = { doubleValue: r.double() };
        break;
      case 5: {
        const saved = enter(r, wt, 'array_value', -1, F_VALUES);
        v = { arrayValue: { values: readArrayValues(r, level) } };
        leave(r, saved);
        break;
      }
      case 6: {
        const saved = enter(r, wt, 'kvlist_value', -1, F_VALUES);
        v = { kvlistValue: { values: readKvListValues(r, level) } };
        leave(r, saved);
        break;
      }
      case 7:
        v = { bytesValue: readBytesCopy(r, wt) };
        break;
      default:
        skip(r, wt);
    }
  }
  return v ?? {};
}

/** `ArrayValue.values` of an AnyValue at nesting `level`. */
function readArrayValues(r: Reader, level: number): AnyValue[] {
  const values: AnyValue[] = [];
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) {
      const saved = enter(r, wt, 'values', values.length, F_ANY_VALUE);
      values.push(readAnyValue(r, level + 1));
      leave(r, saved);
    } else skip(r, wt);
  }
  return values;
}

/** `KeyValueList.values` of an AnyValue at nesting `level`. */
function readKvListValues(r: Reader, level: number): KeyValue[] {
  const values: KeyValue[] = [];
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) {
      const saved = enter(r, wt, 'values', values.length, F_KEY_VALUE);
      values.push(readKeyValue(r, level + 1));
      leave(r, saved);
    } else skip(r, wt);
  }
  return values;
}

/** `KeyValue` whose value is an AnyValue at nesting `level`. */
function readKeyValue(r: Reader, level: number): KeyValue {
  const kv: KeyValue = { key: '', value: {} };
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) kv.key = readString(r, wt);
    else if (fieldNo === 2) {
      const saved = enter(r, wt, 'value', -1, F_ANY_VALUE);
      kv.value = readAnyValue(r, level);
      leave(r, saved);
    } else skip(r, wt);
  }
  return kv;
}

/** Appends one `KeyValue` (field `name`, wire type `wt`) to `attrs`. */
export function readAttribute(r: Reader, wt: number, name: string, attrs: KeyValue[]): void {
  const saved = enter(r, wt, name, attrs.length, F_KEY_VALUE);
  attrs.push(readKeyValue(r, 1));
  leave(r, saved);
}

export function readResource(r: Reader, res: Resource): void {
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) readAttribute(r, wt, 'attributes', res.attributes);
    else if (fieldNo === 2) res.droppedAttributesCount = readUint32(r, wt);
    else skip(r, wt);
  }
}

export function readScope(r: Reader, scope: InstrumentationScope): void {
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1:
        scope.name = readString(r, wt);
        break;
      case 2:
        scope.version = readString(r, wt);
        break;
      case 3:
        readAttribute(r, wt, 'attributes', scope.attributes);
        break;
      case 4:
        scope.droppedAttributesCount = readUint32(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
}

/**
 * Reads the body of a `Resource{Spans,Logs}` or `Scope{Spans,Logs}`: field 1 (`headName`, read into
 * `head` by `readHead`), repeated field 2 (`itemName`, each read by `readItem` and appended to
 * `items`) and field 3 (`schema_url`, returned; `""` when absent).
 */
export function readGroup<H, T>(
  r: Reader,
  headName: string,
  headFields: FieldNames,
  readHead: (r: Reader, head: H) => void,
  head: H,
  itemName: string,
  itemFields: FieldNames,
  readItem: (r: Reader) => T,
  items: T[],
): string {
  let schemaUrl = '';
  while (r.pos < r.len) {
    const wt = readTag(r);
    switch (fieldNo) {
      case 1: {
        const saved = enter(r, wt, headName, -1, headFields);
        readHead(r, head);
        leave(r, saved);
        break;
      }
      case 2: {
        const saved = enter(r, wt, itemName, items.length, itemFields);
        items.push(readItem(r));
        leave(r, saved);
        break;
      }
      case 3:
        schemaUrl = readString(r, wt);
        break;
      default:
        skip(r, wt);
    }
  }
  return schemaUrl;
}

/**
 * Decodes an export request whose field 1 (`name`, fields `fields`) repeats the resource groups:
 * each is read by `readItem` and appended to `items`. Every failure becomes an `OtlpDecodeError`
 * naming the proto path.
 */
export function readRequest<T>(buf: Uint8Array, root: FieldNames, name: string, fields: FieldNames, readItem: (r: Reader) => T, items: T[]): void {
  const r = readerOf(buf);
  startDecode(root);
  try {
    while (r.pos < r.len) {
      const wt = readTag(r);
      if (fieldNo === 1) {
        const saved = enter(r, wt, name, items.length, fields);
        items.push(readItem(r));
        leave(r, saved);
      } else skip(r, wt);
    }
  } catch (err) {
    throw toDecodeError(err);
  }
}
