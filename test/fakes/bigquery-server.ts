/**
 * A local stand-in for the part of the BigQuery REST API v2 the `bigquery` exporter uses, following
 * the reference (https://cloud.google.com/bigquery/docs/reference/rest): `datasets.get/insert`,
 * `tables.get/insert`, `tabledata.insertAll`, `tabledata.list` (to read rows back; RECORD cells as
 * `{f: [{v}, ...]}`, REPEATED cells as `[{v}, ...]`), under
 * `/bigquery/v2/projects/{project}/...`, errors as `{error: {code, message, errors: [{reason, message}]}}`.
 *
 * insertAll checks each row against the table schema, nested and repeated columns included (unknown
 * field, missing REQUIRED value, a value that does not fit its type, a RECORD that is not an object,
 * an array for a column that is not REPEATED or a null element in one that is; the location of a
 * nested column is dotted, `items.price`) and answers as BigQuery does: with `skipInvalidRows: false` an
 * invalid row makes the whole request fail, the invalid rows with reason `invalid` and every other
 * row with reason `stopped`; with `skipInvalidRows: true` the valid rows are inserted. Rows are
 * de-duplicated on `insertId`. A request over 10 MB gets 400 "Request payload size exceeds the
 * limit", over 50,000 rows 400 "too many rows".
 *
 * Faults can be injected for the next API requests: an HTTP status with a Google error body, a
 * delay, a connection reset, or per-row errors (`{rowErrors: {index: reason}}`) for the next insertAll.
 */
import http from 'node:http';
import type https from 'node:https';
import { listenLocal, type Listening } from './listen.js';
import zlib from 'node:zlib';

export interface Field {
  name: string;
  type: string;
  mode?: string;
  /** Nested columns of a RECORD (STRUCT). */
  fields?: Field[];
}

export interface StoredTable {
  schema: Field[];
  timePartitioning?: unknown;
  clustering?: unknown;
  rows: Record<string, unknown>[];
  insertIds: Set<string>;
}

export type BigQueryFault = { status: number; reason?: string; message?: string } | { reset: true } | { delayMillis: number } | { rowErrors: Record<number, string> };

export interface InsertRecord {
  table: string;
  rows: number;
  bytes: number;
  status: number;
  insertErrors: number;
}

export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
export const MAX_ROWS = 50_000;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Why a value does not fit a column type, or undefined when it does. */
function typeProblem(type: string, v: unknown): string | undefined {
  switch (type.toUpperCase()) {
    case 'STRING':
      return typeof v === 'string' ? undefined : 'Cannot convert value to string.';
    case 'INTEGER':
    case 'INT64':
      return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)) ? undefined : 'Cannot convert value to integer.';
    case 'FLOAT':
    case 'FLOAT64':
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) ? undefined : 'Cannot convert value to floating point.';
    case 'BOOLEAN':
    case 'BOOL':
      return typeof v === 'boolean' || v === 'true' || v === 'false' ? undefined : 'Cannot convert value to boolean.';
    case 'TIMESTAMP':
      return typeof v === 'number' || (typeof v === 'string' && !Number.isNaN(Date.parse(v))) ? undefined : 'Cannot convert value to timestamp.';
    case 'DATE':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? undefined : 'Cannot convert value to date.';
    case 'DATETIME':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? undefined : 'Cannot convert value to datetime.';
    case 'JSON':
      if (typeof v !== 'string') return isObject(v) || Array.isArray(v) ? undefined : 'Cannot convert value to JSON.';
      try {
        JSON.parse(v);
        return undefined;
      } catch {
        return 'Invalid JSON string.';
      }
    default:
      return undefined;
  }
}

const isRecord = (f: Field) => ['RECORD', 'STRUCT'].includes(f.type.toUpperCase());

/** A problem of a row's value, with the location BigQuery names (dotted for nested columns). */
interface Problem {
  location: string;
  message: string;
}

/**
 * Checks the values of a row or a record against its columns, as insertAll does for nested and
 * repeated columns (https://cloud.google.com/bigquery/docs/nested-repeated): a REPEATED column takes
 * an array without null elements, any other column no array; a RECORD takes an object whose keys
 * are its nested columns; scalars by {@link typeProblem}; REQUIRED columns present.
 */
function rowProblem(columns: readonly Field[], json: Record<string, unknown>, ignoreUnknown: boolean, at = ''): Problem | undefined {
  const byName = new Map(columns.map((f) => [f.name.toLowerCase(), f]));
  for (const [k, v] of Object.entries(json)) {
    const f = byName.get(k.toLowerCase());
    const location = at + k;
    if (!f) {
      if (!ignoreUnknown) return { location, message: `no such field: ${location}.` };
      continue;
    }
    if (v === null) continue;
    if (f.mode?.toUpperCase() === 'REPEATED') {
      if (!Array.isArray(v)) return { location, message: `Expected an array for repeated field: ${location}.` };
      for (const x of v) {
        if (x === null) return { location, message: `Array specified for field ${location} contains a null element.` };
        const p = valueProblem(f, x, location, ignoreUnknown);
        if (p) return p;
      }
      continue;
    }
    if (Array.isArray(v) && f.type.toUpperCase() !== 'JSON') return { location, message: `Array specified for non-repeated field: ${location}.` };
    const p = valueProblem(f, v, location, ignoreUnknown);
    if (p) return p;
  }
  for (const f of columns) {
    if (f.mode === 'REQUIRED' && (json[f.name] === undefined || json[f.name] === null)) return { location: at + f.name, message: `Missing required field: ${at + f.name}.` };
  }
  return undefined;
}

/** A problem of one value (one element of a REPEATED column) of column `f`. */
function valueProblem(f: Field, v: unknown, location: string, ignoreUnknown: boolean): Problem | undefined {
  if (isRecord(f)) return isObject(v) ? rowProblem(f.fields ?? [], v, ignoreUnknown, `${location}.`) : { location, message: `This field: ${location} is not a record.` };
  const message = typeProblem(f.type, v);
  return message ? { location, message } : undefined;
}

/** A cell of tabledata.list (`{v}` values: text for scalars, `{f: [...]}` for a record, `[{v}, ...]` for a REPEATED column). */
function listCell(f: Field, v: unknown, int64Timestamps: boolean): unknown {
  if (f.mode?.toUpperCase() === 'REPEATED') return (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).map((x) => ({ v: listValue(f, x, int64Timestamps) }));
  return v === undefined || v === null ? null : listValue(f, v, int64Timestamps);
}

function listValue(f: Field, v: unknown, int64Timestamps: boolean): unknown {
  if (isRecord(f)) {
    const o = isObject(v) ? v : {};
    return { f: (f.fields ?? []).map((sub) => ({ v: listCell(sub, o[sub.name], int64Timestamps) })) };
  }
  // TIMESTAMP cells: microseconds as int64 text with formatOptions.useInt64Timestamp, else seconds as a float.
  if (f.type.toUpperCase() === 'TIMESTAMP') {
    const micros = timestampMicros(v);
    return int64Timestamps ? String(micros) : String(Number(micros) / 1e6);
  }
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A TIMESTAMP value (RFC 3339 text with up to microseconds, or seconds since the epoch) as microseconds. */
function timestampMicros(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(Math.round(v * 1e6));
  const s = String(v);
  if (/^-?\d+(\.\d+)?$/.test(s)) return BigInt(Math.round(Number(s) * 1e6));
  const m = /\.(\d{1,6})\d*(Z|[+-]\d\d:?\d\d)?$/.exec(s);
  const fraction = m ? BigInt(m[1]!.padEnd(6, '0')) % 1000n : 0n;
  return BigInt(Date.parse(s)) * 1000n + fraction;
}

export class FakeBigQuery {
  readonly datasets = new Map<string, { location?: string }>();
  readonly tables = new Map<string, StoredTable>();
  readonly inserts: InsertRecord[] = [];
  private readonly faults: BigQueryFault[] = [];
  private listening: Listening | undefined;
  private secure = false;
  port = 0;

  get endpoint(): string {
    return `${this.secure ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Makes the next `times` API requests fail with `fault` (`rowErrors` applies to the next insertAll). */
  inject(fault: BigQueryFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  table(project: string, dataset: string, table: string): StoredTable | undefined {
    return this.tables.get(`${project}.${dataset}.${table}`);
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); HTTPS with `tls` (certificate, key, and for mutual TLS `requestCert`, `ca`). */
  async start(port = 0, tls?: https.ServerOptions): Promise<this> {
    this.secure = tls !== undefined;
    this.listening = await listenLocal((req, res) => void this.handle(req, res), port, tls);
    this.port = this.listening.port;
    return this;
  }

  async close(): Promise<void> {
    await this.listening?.close();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let raw = Buffer.concat(chunks);
    if (/gzip/i.test(String(req.headers['content-encoding'] ?? ''))) raw = zlib.gunzipSync(raw);
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, reason: string, message: string) => send(status, { error: { code: status, message, errors: [{ reason, message, domain: 'global' }], status: reason } });

    let rowFault: Record<number, string> | undefined;
    const fault = this.faults[0];
    if (fault && !('rowErrors' in fault && !url.pathname.endsWith('/insertAll'))) this.faults.shift();
    if (fault && 'reset' in fault) return void req.socket.destroy();
    if (fault && 'delayMillis' in fault) {
      await new Promise((r) => setTimeout(r, fault.delayMillis));
      if (req.socket.destroyed) return;
    }
    if (fault && 'status' in fault) return fail(fault.status, fault.reason ?? (fault.status >= 500 ? 'backendError' : 'invalid'), fault.message ?? http.STATUS_CODES[fault.status] ?? 'error');
    if (fault && 'rowErrors' in fault && url.pathname.endsWith('/insertAll')) rowFault = fault.rowErrors;

    const m = /^\/bigquery\/v2\/projects\/([^/]+)\/datasets(?:\/([^/]+)(?:\/tables(?:\/([^/]+)(?:\/(insertAll|data))?)?)?)?\/?$/.exec(url.pathname);
    if (!m) return fail(404, 'notFound', `Not found: URL ${url.pathname}`);
    const [, project, dataset, tableId, op] = m.map((x) => (x === undefined ? undefined : decodeURIComponent(x))) as (string | undefined)[];
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      if (raw.length > MAX_REQUEST_BYTES) return fail(400, 'invalid', `Request payload size exceeds the limit: ${MAX_REQUEST_BYTES} bytes.`);
      try {
        const parsed = JSON.parse(raw.toString('utf8'));
        if (isObject(parsed)) body = parsed;
      } catch {
        return fail(400, 'parseError', 'Parse Error');
      }
    }
    const dsKey = `${project}.${dataset}`;
    const method = req.method ?? 'GET';

    if (!dataset) {
      if (method !== 'POST') return fail(405, 'invalid', 'Method not allowed');
      const ref = (body.datasetReference ?? {}) as { datasetId?: string };
      if (!ref.datasetId) return fail(400, 'invalid', 'Missing datasetReference.datasetId');
      const key = `${project}.${ref.datasetId}`;
      if (this.datasets.has(key)) return fail(409, 'duplicate', `Already Exists: Dataset ${project}:${ref.datasetId}`);
      this.datasets.set(key, { location: typeof body.location === 'string' ? body.location : undefined });
      return send(200, { kind: 'bigquery#dataset', id: `${project}:${ref.datasetId}`, datasetReference: { projectId: project, datasetId: ref.datasetId }, location: body.location ?? 'US' });
    }
    if (!this.datasets.has(dsKey)) return fail(404, 'notFound', `Not found: Dataset ${project}:${dataset}`);
    if (tableId === undefined) {
      if (method === 'GET') return send(200, { kind: 'bigquery#dataset', id: `${project}:${dataset}`, datasetReference: { projectId: project, datasetId: dataset }, location: this.datasets.get(dsKey)!.location ?? 'US' });
      if (method !== 'POST') return fail(405, 'invalid', 'Method not allowed');
      // tables.insert (POST .../tables)
      const ref = (body.tableReference ?? {}) as { tableId?: string };
      const schema = ((body.schema ?? {}) as { fields?: Field[] }).fields;
      if (!ref.tableId) return fail(400, 'invalid', 'Missing tableReference.tableId');
      const key = `${dsKey}.${ref.tableId}`;
      if (this.tables.has(key)) return fail(409, 'duplicate', `Already Exists: Table ${project}:${dataset}.${ref.tableId}`);
      this.tables.set(key, { schema: schema ?? [], timePartitioning: body.timePartitioning, clustering: body.clustering, rows: [], insertIds: new Set() });
      return send(200, this.tableResource(project!, dataset, ref.tableId));
    }
    const key = `${dsKey}.${tableId}`;
    const table = this.tables.get(key);
    if (!table) return fail(404, 'notFound', `Not found: Table ${project}:${dataset}.${tableId}`);
    if (!op && method === 'GET') return send(200, this.tableResource(project!, dataset, tableId));
    if (op === 'data' && method === 'GET') {
      const int64 = url.searchParams.get('formatOptions.useInt64Timestamp') === 'true';
      const rows = table.rows.map((r) => ({ f: table.schema.map((f) => ({ v: listCell(f, r[f.name], int64) })) }));
      return send(200, { kind: 'bigquery#tableDataList', totalRows: String(rows.length), rows });
    }
    if (op === 'insertAll' && method === 'POST') return this.insertAll(key, table, body, raw.length, rowFault, send, fail);
    return fail(405, 'invalid', 'Method not allowed');
  }

  private tableResource(project: string, dataset: string, table: string) {
    const t = this.tables.get(`${project}.${dataset}.${table}`)!;
    return {
      kind: 'bigquery#table',
      id: `${project}:${dataset}.${table}`,
      tableReference: { projectId: project, datasetId: dataset, tableId: table },
      schema: { fields: t.schema },
      ...(t.timePartitioning ? { timePartitioning: t.timePartitioning } : {}),
      ...(t.clustering ? { clustering: t.clustering } : {}),
      numRows: String(t.rows.length),
      type: 'TABLE',
    };
  }

  private insertAll(
    key: string,
    table: StoredTable,
    body: Record<string, unknown>,
    bytes: number,
    rowFault: Record<number, string> | undefined,
    send: (s: number, b: unknown) => void,
    fail: (s: number, r: string, m: string) => void,
  ): void {
    const record: InsertRecord = { table: key, rows: 0, bytes, status: 200, insertErrors: 0 };
    this.inserts.push(record);
    const rows = body.rows;
    if (!Array.isArray(rows) || rows.length === 0) {
      record.status = 400;
      return fail(400, 'invalid', 'No rows present in the request.');
    }
    record.rows = rows.length;
    if (rows.length > MAX_ROWS) {
      record.status = 400;
      return fail(400, 'invalid', `too many rows present in the request, limit: ${MAX_ROWS} row count: ${rows.length}.`);
    }
    const skipInvalid = body.skipInvalidRows === true;
    const ignoreUnknown = body.ignoreUnknownValues === true;
    const errors = new Map<number, { reason: string; location: string; message: string }>();
    rows.forEach((r: unknown, i: number) => {
      const json = isObject(r) && isObject(r.json) ? r.json : undefined;
      if (!json) return void errors.set(i, { reason: 'invalid', location: '', message: 'Missing row json.' });
      if (rowFault?.[i]) return void errors.set(i, { reason: rowFault[i]!, location: '', message: `${rowFault[i]} (injected)` });
      const problem = rowProblem(table.schema, json, ignoreUnknown);
      if (problem) errors.set(i, { reason: 'invalid', ...problem });
    });
    const failsAll = errors.size > 0 && !skipInvalid;
    const insertErrors: unknown[] = [];
    rows.forEach((r: { insertId?: unknown; json?: Record<string, unknown> }, i: number) => {
      const e = errors.get(i);
      if (e) return void insertErrors.push({ index: i, errors: [e] });
      if (failsAll) return void insertErrors.push({ index: i, errors: [{ reason: 'stopped', location: '', message: '' }] });
      const id = typeof r.insertId === 'string' ? r.insertId : undefined;
      if (id !== undefined && table.insertIds.has(id)) return;
      if (id !== undefined) table.insertIds.add(id);
      table.rows.push({ ...r.json });
    });
    record.insertErrors = insertErrors.length;
    send(200, insertErrors.length > 0 ? { kind: 'bigquery#tableDataInsertAllResponse', insertErrors } : { kind: 'bigquery#tableDataInsertAllResponse' });
  }
}

/** Starts the stand-in on 127.0.0.1 (HTTPS with `tls`). */
export function startFakeBigQuery(port = 0, tls?: https.ServerOptions): Promise<FakeBigQuery> {
  return new FakeBigQuery().start(port, tls);
}
