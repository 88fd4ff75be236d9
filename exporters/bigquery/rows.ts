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
 *
 * Absent values are left out of the row (NULL). A value that does not fit its column is sent as it
 * is: BigQuery refuses that row with reason `invalid`, and it is dead-lettered with BigQuery's message.
 */
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import { compileFieldPath, nanosToTimestamp } from '../amplitude/event_fields.js';
import type { ColumnConfig, ColumnType } from './config.js';

export type RowJson = { [column: string]: string | number | boolean };

export interface Row {
  insertId?: string;
  json: RowJson;
}

type Convert = (v: JsonValue, fromTime: boolean) => string | number | boolean | undefined;

const asText = (v: JsonValue): string => (typeof v === 'string' ? v : JSON.stringify(v));

const CONVERT: Record<ColumnType, Convert> = {
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
  JSON: (v) => JSON.stringify(v),
};

/** Compiles the columns once; the returned function makes the row of one event. */
export function compileRows(columns: readonly ColumnConfig[]): (e: AnalyticsEvent) => Row {
  const cols = columns.map((c) => {
    const get = compileFieldPath(c.source);
    if (!get) throw new Error(`column ${c.name}: unknown field path "${c.source}"`);
    return { name: c.name, get, convert: CONVERT[c.type], fromTime: c.source === 'time', json: c.type === 'JSON' };
  });
  return (e) => {
    const json: RowJson = {};
    for (const c of cols) {
      const v = c.get(e);
      if (v === undefined || v === null || (c.json && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)) continue;
      const out = c.convert(v, c.fromTime);
      if (out !== undefined) json[c.name] = out;
    }
    return e.insert_id ? { insertId: e.insert_id, json } : { json };
  };
}

/** The table schema in the REST API's form (`TableSchema.fields`). */
export function schemaFields(columns: readonly ColumnConfig[]): { name: string; type: string; mode: string; description?: string }[] {
  return columns.map((c) => ({ name: c.name, type: c.type, mode: c.mode, ...(c.description ? { description: c.description } : {}) }));
}
