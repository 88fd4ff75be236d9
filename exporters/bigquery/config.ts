/**
 * Config of the `bigquery` exporter. Limits follow the BigQuery documentation:
 * - `tabledata.insertAll`, https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll;
 * - streaming insert quotas, https://cloud.google.com/bigquery/quotas#streaming_inserts : at most
 *   10 MB per HTTP request and 50,000 rows per request, 500 rows recommended;
 * - nested and repeated columns, https://cloud.google.com/bigquery/docs/nested-repeated : a RECORD
 *   (STRUCT) column has nested columns, at most 15 levels deep; any column may be REPEATED (an ARRAY).
 */
import { nonEmptyString, optionalHttpUrl, z } from '../../src/config/schema.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';
import { clientTlsSchema } from '../../src/tls/client.js';
import { invalidPaths } from '../amplitude/event_fields.js';

/** Documented per-request limits of insertAll. */
export const MAX_REQUEST_BYTES = 10_000_000;
export const MAX_ROWS_PER_REQUEST = 50_000;
export const DEFAULT_ROWS_PER_REQUEST = 500;

/** Column types the exporter converts values to (GoogleSQL names and their legacy aliases; RECORD and STRUCT hold nested columns). */
export const COLUMN_TYPES = ['STRING', 'INTEGER', 'INT64', 'FLOAT', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC', 'BOOLEAN', 'BOOL', 'TIMESTAMP', 'DATE', 'DATETIME', 'JSON', 'RECORD', 'STRUCT'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];
/** The types of a value that is not nested. */
export type ScalarType = Exclude<ColumnType, 'RECORD' | 'STRUCT'>;
export const COLUMN_MODES = ['NULLABLE', 'REQUIRED', 'REPEATED'] as const;
export type ColumnMode = (typeof COLUMN_MODES)[number];

/** Whether a column holds nested columns (`RECORD`, GoogleSQL's `STRUCT`). */
export const isRecordType = (t: ColumnType): t is 'RECORD' | 'STRUCT' => t === 'RECORD' || t === 'STRUCT';

/** Most levels of nested RECORD columns in a schema (https://cloud.google.com/bigquery/docs/nested-repeated#limitations). */
export const MAX_RECORD_DEPTH = 15;

/**
 * Types a clustering column may have; it must also be a top-level column that is not REPEATED
 * (https://cloud.google.com/bigquery/docs/clustered-tables#limitations).
 */
const CLUSTERING_TYPES = new Set<ColumnType>(['STRING', 'INTEGER', 'INT64', 'NUMERIC', 'BIGNUMERIC', 'BOOLEAN', 'BOOL', 'DATE', 'DATETIME', 'TIMESTAMP']);

/** BigQuery's naming rules: dataset ids are letters, digits and underscores (≤ 1024); column names start with a letter or underscore (≤ 300). */
const DATASET_RE = /^[A-Za-z0-9_]{1,1024}$/;
const TABLE_RE = /^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]{1,1024}$/u;
const COLUMN_RE = /^[A-Za-z_][A-Za-z0-9_]{0,299}$/;
/** A nested column's source: a key of the element, or dot-separated keys into nested maps. */
const ELEMENT_PATH_RE = /^[^.]+(\.[^.]+)*$/;

const columnName = z.string().regex(COLUMN_RE, { message: 'must start with a letter or underscore and hold only letters, digits and underscores (≤ 300)' });
const columnType = z
  .string()
  .transform((t) => t.toUpperCase())
  .pipe(z.enum(COLUMN_TYPES))
  .describe('BigQuery type: STRING, INTEGER/INT64, FLOAT/FLOAT64, NUMERIC, BIGNUMERIC, BOOLEAN/BOOL, TIMESTAMP, DATE, DATETIME, JSON, or RECORD/STRUCT (with fields). Required.');
const columnMode = z
  .enum(COLUMN_MODES)
  .default('NULLABLE')
  .describe('NULLABLE, REQUIRED or REPEATED (an array of the type: a list value gives one element per item, any other value one element). A row without a REQUIRED value is refused by BigQuery and dead-lettered. Default NULLABLE.');

/** A nested column of a RECORD: its value is read from the record's element (a map) by `source`, default its name. */
export interface NestedColumnConfig {
  name: string;
  type: ColumnType;
  mode: ColumnMode;
  source?: string;
  description?: string;
  fields?: NestedColumnConfig[];
}

export const nestedColumnSchema: z.ZodType<NestedColumnConfig, unknown> = z.strictObject({
  name: columnName.describe('Nested column name, unique in its RECORD (case-insensitive). Required.'),
  type: columnType,
  mode: columnMode,
  source: z
    .string()
    .regex(ELEMENT_PATH_RE, { message: 'must be a key of the element, or keys separated by dots (no empty key)' })
    .optional()
    .describe('Key of the element the value comes from (`sku`; `dimensions.size` reads key size of the map at dimensions, unless the element has a key "dimensions.size"). Default: the column name.'),
  description: z.string().optional().describe('Column description set when the table is created.'),
  get fields() {
    return z.array(nestedColumnSchema).min(1).optional().describe('Nested columns of a RECORD (STRUCT) column; required for one, refused on any other type.');
  },
});

export const columnSchema = z.strictObject({
  name: columnName.describe('Column name. Required.'),
  type: columnType,
  mode: columnMode,
  source: z
    .string()
    .min(1)
    .superRefine((v, ctx) => {
      const msg = invalidPaths([v]);
      if (msg) ctx.addIssue({ code: 'custom', message: msg });
    })
    .describe('Event field the value comes from, e.g. name, time, user_id, properties.item_id, context.service.name, properties (the whole object), properties.items (a list, for a REPEATED column). Required.'),
  description: z.string().optional().describe('Column description set when the table is created.'),
  fields: z.array(nestedColumnSchema).min(1).optional().describe('Nested columns of a RECORD (STRUCT) column, each read from the value (a map; with REPEATED, each element of the list): [{name, type, mode, source, description, fields}]. Required for a RECORD, refused on any other type.'),
});

export type ColumnConfig = z.infer<typeof columnSchema>;

/** A column at any level, as the checks and the row compiler see it. */
export type AnyColumn = ColumnConfig | NestedColumnConfig;

/**
 * The rules of nested and repeated columns (https://cloud.google.com/bigquery/docs/nested-repeated,
 * https://cloud.google.com/bigquery/docs/schemas): a RECORD has fields and only a RECORD has them;
 * at most 15 levels of RECORD; names unique within their RECORD, case-insensitively. Calls
 * `issue(path, message)` for each break, `path` relative to `columns`.
 */
export function checkNestedColumns(columns: readonly AnyColumn[], issue: (path: (string | number)[], message: string) => void, at: (string | number)[] = [], depth = 0): void {
  const names = new Set<string>();
  columns.forEach((c, i) => {
    const here = [...at, i];
    const lower = c.name.toLowerCase();
    if (depth > 0 && names.has(lower)) issue([...here, 'name'], `duplicate nested column "${c.name}" (names are case-insensitive)`);
    names.add(lower);
    if (isRecordType(c.type)) {
      if (!c.fields) issue([...here, 'fields'], `required for a ${c.type} column: its nested columns`);
      else if (depth + 1 > MAX_RECORD_DEPTH) issue([...here, 'fields'], `more than ${MAX_RECORD_DEPTH} levels of nested RECORD columns (BigQuery's limit)`);
      else checkNestedColumns(c.fields, issue, [...here, 'fields'], depth + 1);
    } else if (c.fields) {
      issue([...here, 'fields'], `only a RECORD (STRUCT) column has fields; this one is ${c.type}`);
    }
  });
}

/**
 * The default table schema, derived from the event model. `event_time` is the partitioning column
 * (by day) and `event_name` the clustering column of a table the exporter creates.
 */
export const DEFAULT_COLUMNS: readonly ColumnConfig[] = Object.freeze([
  { name: 'event_name', type: 'STRING', mode: 'REQUIRED', source: 'name', description: 'Event type, e.g. view_item.' },
  { name: 'event_time', type: 'TIMESTAMP', mode: 'REQUIRED', source: 'time', description: 'When it happened (span start or log record time), microseconds.' },
  { name: 'insert_id', type: 'STRING', mode: 'REQUIRED', source: 'insert_id', description: 'Deterministic de-duplication id; also the insertAll insertId.' },
  { name: 'user_id', type: 'STRING', mode: 'NULLABLE', source: 'user_id', description: 'User id (a keyed pseudonym after privacy).' },
  { name: 'device_id', type: 'STRING', mode: 'NULLABLE', source: 'device_id' },
  { name: 'session_id', type: 'STRING', mode: 'NULLABLE', source: 'session_id' },
  { name: 'properties', type: 'JSON', mode: 'NULLABLE', source: 'properties', description: 'Event properties.' },
  { name: 'user_properties', type: 'JSON', mode: 'NULLABLE', source: 'user_properties' },
  { name: 'service_name', type: 'STRING', mode: 'NULLABLE', source: 'context.service.name' },
  { name: 'service_version', type: 'STRING', mode: 'NULLABLE', source: 'context.service.version' },
  { name: 'deployment_environment', type: 'STRING', mode: 'NULLABLE', source: 'context.deployment.environment' },
  { name: 'source', type: 'STRING', mode: 'NULLABLE', source: 'context.source', description: 'span or log.' },
  { name: 'rule', type: 'STRING', mode: 'NULLABLE', source: 'context.rule', description: 'Id of the analytics rule that made the event.' },
  { name: 'trace_id', type: 'STRING', mode: 'NULLABLE', source: 'context.trace_id' },
  { name: 'span_id', type: 'STRING', mode: 'NULLABLE', source: 'context.span_id' },
  { name: 'context', type: 'JSON', mode: 'NULLABLE', source: 'context', description: 'The whole event context.' },
  { name: 'consent', type: 'JSON', mode: 'NULLABLE', source: 'consent' },
  { name: 'privacy_level', type: 'STRING', mode: 'NULLABLE', source: 'privacy_level' },
  { name: 'category', type: 'STRING', mode: 'NULLABLE', source: 'category' },
] satisfies ColumnConfig[]);

export const bigquerySchema = z
  .strictObject({
    project: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()).describe('Google Cloud project id. Omitted: the project of the credentials (application default credentials or key_file).'),
    dataset: z.string().regex(DATASET_RE, { message: 'must be 1-1024 letters, digits or underscores' }).describe('Dataset id. Required.'),
    table: z.string().regex(TABLE_RE, { message: 'must be 1-1024 letters, marks, digits, connectors, dashes or spaces' }).describe('Table id. Required.'),
    location: z.string().min(1).optional().describe('Location of a dataset the exporter creates (e.g. EU, US, europe-west3). Omitted: BigQuery\'s default (US).'),
    key_file: z.preprocess((v) => (v === '' ? undefined : v), nonEmptyString().optional()).describe('Service-account JSON key file. Omitted: application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server).'),
    api_endpoint: optionalHttpUrl()
      .describe('BigQuery API root, e.g. http://127.0.0.1:9050 for an emulator. Omitted or "": https://bigquery.googleapis.com.'),
    tls: clientTlsSchema('No effect: the scheme of api_endpoint decides (https:// is TLS, an emulator\'s http:// is plaintext). Default false.')
      .optional()
      .describe('TLS of the requests to api_endpoint (the collector\'s configtls client keys): the CA that verifies it, a client certificate, server_name_override, min_version. Requests then go over the exporter\'s own connections, without HTTP(S)_PROXY. Omitted: the client library\'s connections (the system roots, TLS 1.2 or later, HTTP(S)_PROXY honoured).'),
    no_auth: z.boolean().default(false).describe('Send requests without credentials; only with api_endpoint (an emulator). Default false.'),
    create_if_missing: z.boolean().default(true).describe('Create the dataset and the table when missing (with schema, time_partitioning and clustering). Default true.'),
    schema: z
      .array(columnSchema)
      .min(1)
      .optional()
      .describe('Columns and the event field each takes; RECORD columns with nested fields, REPEATED columns from lists (e.g. GA4 items). Omitted: the documented default schema (see README: event_name, event_time, insert_id, ids, properties as JSON, context columns).'),
    time_partitioning: z
      .strictObject({
        field: z.string().regex(COLUMN_RE).describe('TIMESTAMP or DATE column to partition on.'),
        type: z.enum(['HOUR', 'DAY', 'MONTH', 'YEAR']).default('DAY').describe('Partition granularity. Default DAY.'),
      })
      .optional()
      .describe('Partitioning of a table the exporter creates. Omitted: by day on event_time with the default schema; none with a user schema.'),
    clustering: z.array(z.string().regex(COLUMN_RE)).max(4).optional().describe('Up to 4 clustering columns of a table the exporter creates. Omitted: [event_name] with the default schema; none with a user schema.'),
    max_rows_per_request: z
      .number()
      .int()
      .min(1)
      .max(MAX_ROWS_PER_REQUEST)
      .default(DEFAULT_ROWS_PER_REQUEST)
      .describe('Most rows in one insertAll request, 1-50000 (BigQuery recommends 500). Default 500.'),
    max_request_bytes: z
      .number()
      .int()
      .min(1024)
      .max(MAX_REQUEST_BYTES)
      .default(MAX_REQUEST_BYTES)
      .describe('Most bytes of JSON in one insertAll request, up to the documented 10 MB. A row that alone exceeds it is dead-lettered. Default 10000000.'),
    skip_invalid_rows: z
      .boolean()
      .default(false)
      .describe('insertAll skipInvalidRows: false makes BigQuery refuse a whole request with an invalid row (the other rows come back "stopped" and are sent again at once); true inserts the valid rows. Invalid rows are dead-lettered either way. Default false.'),
    ignore_unknown_values: z.boolean().default(false).describe('insertAll ignoreUnknownValues: drop values of columns the table does not have instead of refusing the row. Default false.'),
    ...exporterHelperShape,
  })
  .superRefine((cfg, ctx) => {
    if (cfg.no_auth && !cfg.api_endpoint) ctx.addIssue({ code: 'custom', path: ['no_auth'], message: 'only with api_endpoint (an emulator): Google\'s API needs credentials' });
    if (cfg.no_auth && !cfg.project) ctx.addIssue({ code: 'custom', path: ['project'], message: 'required with no_auth: true (without credentials there is no project to default to)' });
    if (cfg.no_auth && cfg.key_file) ctx.addIssue({ code: 'custom', path: ['key_file'], message: 'cannot be used with no_auth: true' });
    const columns = cfg.schema ?? DEFAULT_COLUMNS;
    const names = new Set<string>();
    columns.forEach((c, i) => {
      const lower = c.name.toLowerCase();
      if (names.has(lower)) ctx.addIssue({ code: 'custom', path: ['schema', i, 'name'], message: `duplicate column "${c.name}" (names are case-insensitive)` });
      names.add(lower);
    });
    if (cfg.schema) checkNestedColumns(cfg.schema, (path, message) => ctx.addIssue({ code: 'custom', path: ['schema', ...path], message }));
    const column = (name: string) => columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    const tp = cfg.time_partitioning;
    if (tp) {
      const col = column(tp.field);
      if (!col) ctx.addIssue({ code: 'custom', path: ['time_partitioning', 'field'], message: `no column "${tp.field}" in the table schema` });
      else if (!['TIMESTAMP', 'DATE', 'DATETIME'].includes(col.type)) ctx.addIssue({ code: 'custom', path: ['time_partitioning', 'field'], message: `column "${tp.field}" is ${col.type}; partitioning needs TIMESTAMP, DATE or DATETIME` });
      else if (col.mode === 'REPEATED') ctx.addIssue({ code: 'custom', path: ['time_partitioning', 'field'], message: `column "${tp.field}" is REPEATED; partitioning needs a column that is not` });
    }
    for (const [i, f] of (cfg.clustering ?? []).entries()) {
      const col = column(f);
      if (!col) ctx.addIssue({ code: 'custom', path: ['clustering', i], message: `no column "${f}" in the table schema` });
      else if (col.mode === 'REPEATED') ctx.addIssue({ code: 'custom', path: ['clustering', i], message: `column "${f}" is REPEATED; clustering needs a column that is not` });
      else if (!CLUSTERING_TYPES.has(col.type)) ctx.addIssue({ code: 'custom', path: ['clustering', i], message: `column "${f}" is ${col.type}; clustering needs STRING, INTEGER, NUMERIC, BIGNUMERIC, BOOLEAN, DATE, DATETIME or TIMESTAMP` });
    }
  });

/** The effective table layout of a config: columns, partitioning and clustering. */
export function tableLayout(cfg: BigQueryConfig): { columns: readonly ColumnConfig[]; timePartitioning?: { field: string; type: string }; clustering?: string[] } {
  if (!cfg.schema) {
    return { columns: DEFAULT_COLUMNS, timePartitioning: cfg.time_partitioning ?? { field: 'event_time', type: 'DAY' }, clustering: cfg.clustering ?? ['event_name'] };
  }
  return { columns: cfg.schema, timePartitioning: cfg.time_partitioning, clustering: cfg.clustering };
}

export type BigQueryConfig = z.infer<typeof bigquerySchema>;
