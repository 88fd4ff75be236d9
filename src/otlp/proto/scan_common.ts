/**
 * The validating scan's messages of `common/v1/common.proto` (`AnyValue`, `ArrayValue`,
 * `KeyValueList`, `KeyValue`, `InstrumentationScope`) and `resource/v1/resource.proto`
 * (`Resource`), as `./common.ts` decodes them, for `./scan.ts`, which walks the trace messages
 * around them. Like `./scan_wire.ts`, it keeps the scan's state in module variables: the longest
 * attribute key and name-like string of the current scan, reset by {@link resetLengths}.
 */
import { I64, MAX_ANY_VALUE_DEPTH, VARINT } from '../wire.js';
import { fail, fixedField, lenField, message, nx, pop, push, readTag, skipInt64, skipUnknown, stringField, varintField, wrongWireType } from './scan_wire.js';
import { K_ARRAY, K_ARRAY_ELEMENT, K_ATTRIBUTE, K_KVLIST, K_KVLIST_ELEMENT, K_VALUE } from './scan_wire.js';

/** Longest attribute key and name-like string seen so far in the current scan, bytes. */
export let longestKey = 0;
export let longestName = 0;

/** Starts a scan's counts of key and name lengths at 0. */
export function resetLengths(): void {
  longestKey = 0;
  longestName = 0;
}

/** An attribute key: a `string` field whose length is kept in `longestKey`. */
function keyField(p: number, end: number, wt: number, field: number): number {
  const e = stringField(p, end, wt, field);
  if (e - nx > longestKey) longestKey = e - nx;
  return e;
}

/** A name-like `string` field, whose length is kept in `longestName`. */
export function nameField(p: number, end: number, wt: number, field: number): number {
  const e = stringField(p, end, wt, field);
  if (e - nx > longestName) longestName = e - nx;
  return e;
}

// Messages, each scanning the body [p, end) of one message as those of ./scan.ts do.

/** `AnyValue` at nesting `level` (common.proto: 1 string, 2 bool, 3 int64, 4 double, 5 array, 6 kvlist, 7 bytes). */
function scanAnyValue(p: number, end: number, level: number): void {
  if (level > MAX_ANY_VALUE_DEPTH) fail(0, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    switch (f) {
      case 1:
        p = stringField(p, end, wt, f);
        break;
      case 7:
        p = lenField(p, end, wt, f);
        break;
      case 2:
        p = varintField(p, end, wt, f);
        break;
      case 3:
        if (wt !== VARINT) wrongWireType(f, wt, VARINT);
        p = skipInt64(p, end, f);
        break;
      case 4:
        p = fixedField(p, end, wt, f, I64, 8);
        break;
      case 5: {
        const e = message(p, end, wt, f);
        push(K_ARRAY, -1);
        scanValues(nx, e, level, K_ARRAY_ELEMENT, scanAnyValue);
        pop();
        p = e;
        break;
      }
      case 6: {
        const e = message(p, end, wt, f);
        push(K_KVLIST, -1);
        scanValues(nx, e, level, K_KVLIST_ELEMENT, scanKeyValue);
        pop();
        p = e;
        break;
      }
      default:
        p = skipUnknown(p, end, wt, f);
    }
  }
}

/**
 * `ArrayValue` or `KeyValueList` (common.proto: 1 repeated AnyValue / KeyValue values) of an
 * AnyValue at `level`: each element (path kind `kind`) is checked by `item`.
 */
function scanValues(p: number, end: number, level: number, kind: number, item: (p: number, end: number, level: number) => void): void {
  let count = 0;
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1) {
      const e = message(p, end, wt, f);
      push(kind, count++);
      item(nx, e, level + 1);
      pop();
      p = e;
    } else p = skipUnknown(p, end, wt, f);
  }
}

/** `KeyValue` (common.proto: 1 string key, 2 AnyValue value) whose value is at `level`. */
function scanKeyValue(p: number, end: number, level: number): void {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1) p = keyField(p, end, wt, f);
    else if (f === 2) {
      const e = message(p, end, wt, f);
      push(K_VALUE, -1);
      scanAnyValue(nx, e, level);
      pop();
      p = e;
    } else p = skipUnknown(p, end, wt, f);
  }
}

/** One `attributes` entry (a KeyValue, element `index`); returns the position after it. */
export function attribute(p: number, end: number, wt: number, field: number, index: number): number {
  const e = message(p, end, wt, field);
  push(K_ATTRIBUTE, index);
  scanKeyValue(nx, e, 1);
  pop();
  return e;
}

/**
 * `Resource` (resource.proto: 1 repeated KeyValue attributes, 2 uint32 dropped_attributes_count);
 * attributes are numbered from `attrs` (a repeated Resource merges). Returns the attribute count.
 */
export function scanResource(p: number, end: number, attrs: number): number {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1) p = attribute(p, end, wt, f, attrs++);
    else if (f === 2) p = varintField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return attrs;
}

/**
 * `InstrumentationScope` (common.proto: 1 string name, 2 string version, 3 repeated KeyValue
 * attributes, 4 uint32 dropped_attributes_count); attributes numbered from `attrs`. Returns the
 * attribute count.
 */
export function scanScope(p: number, end: number, attrs: number): number {
  while (p < end) {
    const t = readTag(p, end);
    p = nx;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 1 || f === 2) p = nameField(p, end, wt, f);
    else if (f === 3) p = attribute(p, end, wt, f, attrs++);
    else if (f === 4) p = varintField(p, end, wt, f);
    else p = skipUnknown(p, end, wt, f);
  }
  return attrs;
}
