/**
 * Events → insertAll rows (`{insertId, json}`, https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll),
 * one column per configured column, values in the JSON forms the streaming API takes:
 *
 * | type | value sent |
 * |---|---|
 * | STRING | strings as they are; numbers and booleans as text; objects and arrays as JSON text |
 * | INTEGER, INT64 | integers as decimal strings (64-bit safe); numeric strings as they are |
 * | FLOAT, FLOAT64, NUMERIC, BIGNUMERIC | numbers; numeric strings as they are |
 * | BOOLEAN, BOOL | booleans; "true"/"false" |
 * | TIMESTAMP | the event time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds); other values as they are |
 * | DATE, DATETIME | the event time's UTC date / date-time; other values as they are |
 * | JSON | JSON text, which BigQuery parses (https://cloud.google.com/bigquery/docs/json-data, "Use the legacy streaming API") |
 * | RECORD, STRUCT | a map: a JSON object of its nested columns, each read from the map by its `source` (default its name) and converted by these rules |
 *
 * Mode REPEATED (https://cloud.google.com/bigquery/docs/nested-repeated): a list gives a JSON array
 * of its elements, each converted as above; any other value gives an array of one. BigQuery's
 * arrays hold no NULL (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#array_type),
 * so null elements are left out; an empty array is left out like an absent value (BigQuery reads
 * both back as `[]`).
 *
 * Absent values (and null, and `{}` for JSON) are left out of the row or record (NULL). A value that
 * does not fit its column (e.g. a string for a RECORD) is sent as it is: BigQuery refuses that row
 * with reason `invalid`, and it is dead-lettered with BigQuery's message.
 *
 * Each column's converter is built once, by {@link compileRows}; making a row walks only the
 * configured columns.
 */
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import { compileFieldPath, nanosToTimestamp } from '../amplitude/event_fields.js';
import { isRecordType, type AnyColumn, type ColumnConfig, type ScalarType } from './config.js';

/** A value in a row: a scalar, a record (JSON object) or a repeated column (JSON array). */
export type RowValue = string | number | boolean | RowValue[] | { [field: string]: RowValue };
export type RowJson = { [column: string]: RowValue };

export interface Row {
  insertId?: string;
  json: RowJson;
}

/** Converts one present (not null) value of a column; undefined leaves it out. */
type Convert = (v: JsonValue) => RowValue | undefined;
type ScalarConvert = (v: JsonValue, fromTime: boolean) => string | number | boolean | undefined;

const asText = (v: JsonValue): string => (typeof v === 'string' ? v : JSON.stringify(v));
const isMap = (v: JsonValue): v is { [key: string]: JsonValue } => v !== null && typeof v === 'object' && !Array.isArray(v);

const CONVERT: Record<ScalarType, ScalarConvert> = {
  STRING: (v) => asText(v),
  INTEGER: (v) => (typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' || typeof v === 'number' ? v : asText(v)),
  INT64: (v, t) => CONVERT.INTEGER(v, t),
  FLOAT: (v) => (typeof v === 'number' || typeof v === 'string' ? v : asText(v)),
  FLOAT64: (v, t) => CONVERT.FLOAT(v, t),
  NUMERIC: (v, t) => CONVERT.FLOAT(v, t),
  BIGNUMERIC: (v, t) => CONVERT.FLOAT(v, t),
  BOOLEAN: (v) => (typeof v === 'boolean' ? v : asText(v)),
  BOOL: (v, t) => CONVERT.BOOLEAN(v, t),
  TIMESTAMP: (v, fromTime) => (fromTime && typeof v === 'string' ? nanosToTimestamp(v) : typeof v === 'number' || typeof v === 'string' ? v : asText(v)),
  DATE: (v, fromTime) => (fromTime && typeof v === 'string' ? nanosToTimestamp(v)?.slice(0, 10) : asText(v)),
  DATETIME: (v, fromTime) => (fromTime && typeof v === 'string' ? nanosToTimestamp(v)?.slice(0, 26) : asText(v)),
  JSON: (v) => (isMap(v) && Object.keys(v).length === 0 ? undefined : JSON.stringify(v)),
};

/**
 * A getter of a nested column's source in its element: the key as written, else dot-separated
 * keys into nested maps (as the event field paths read `properties.a.b`).
 */
function compileElementPath(path: string): (element: { [key: string]: JsonValue }) => JsonValue | undefined {
  const parts = path.split('.');
  if (parts.length === 1) return (el) => el[path];
  return (el) => {
    const direct = el[path];
    if (direct !== undefined) return direct;
    let v: JsonValue | undefined = el;
    for (const p of parts) {
      if (v === undefined || !isMap(v)) return undefined;
      v = v[p];
    }
    return v;
  };
}

/** The converter of one column at any level: its type, then its mode. `fromTime`: the event time, for a top-level column whose source is `time`. */
function compileColumn(c: AnyColumn, fromTime: boolean): Convert {
  let one: Convert;
  if (isRecordType(c.type)) {
    const fields = (c.fields ?? []).map((f) => ({ name: f.name, get: compileElementPath(f.source ?? f.name), convert: compileColumn(f, false) }));
    one = (v) => {
      // Not a map: sent as it is, for BigQuery to refuse the row with its reason.
      if (!isMap(v)) return v as RowValue;
      const out: { [field: string]: RowValue } = {};
      for (const f of fields) {
        const x = f.get(v);
        if (x === undefined || x === null) continue;
        const y = f.convert(x);
        if (y !== undefined) out[f.name] = y;
      }
      return out;
    };
  } else {
    const scalar = CONVERT[c.type];
    one = (v) => scalar(v, fromTime);
  }
  if (c.mode !== 'REPEATED') return one;
  return (v) => {
    if (!Array.isArray(v)) {
      const y = one(v);
      return y === undefined ? undefined : [y];
    }
    const out: RowValue[] = [];
    for (const x of v) {
      if (x === null) continue;
      const y = one(x);
      if (y !== undefined) out.push(y);
    }
    return out.length > 0 ? out : undefined;
  };
}

/** Compiles the columns once; the returned function makes the row of one event. */
export function compileRows(columns: readonly ColumnConfig[]): (e: AnalyticsEvent) => Row {
  const cols = columns.map((c) => {
    const get = compileFieldPath(c.source);
    if (!get) throw new Error(`column ${c.name}: unknown field path "${c.source}"`);
    return { name: c.name, get, convert: compileColumn(c, c.source === 'time') };
  });
  return (e) => {
    const json: RowJson = {};
    for (const c of cols) {
      const v = c.get(e);
      if (v === undefined || v === null) continue;
      const out = c.convert(v);
      if (out !== undefined) json[c.name] = out;
    }
    return e.insert_id ? { insertId: e.insert_id, json } : { json };
  };
}

/** A column in the REST API's form (`TableFieldSchema`), nested columns under `fields`. */
export interface SchemaField {
  name: string;
  type: string;
  mode: string;
  description?: string;
  fields?: SchemaField[];
}

/** The table schema in the REST API's form (`TableSchema.fields`), RECORD columns with their nested `fields`. */
export function schemaFields(columns: readonly AnyColumn[]): SchemaField[] {
  return columns.map((c) => ({
    name: c.name,
    type: c.type,
    mode: c.mode,
    ...(c.description ? { description: c.description } : {}),
    ...(c.fields ? { fields: schemaFields(c.fields) } : {}),
  }));
}
