/**
 * The `bigquery` exporter: streams events into a BigQuery table with `tabledata.insertAll`
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll) through the
 * official client, `@google-cloud/bigquery` (`apiEndpoint` for an emulator).
 *
 * On start (and again before a send after a 404) it makes sure the dataset and the table exist,
 * creating them when `create_if_missing` with the configured or default schema (`config.ts`),
 * partitioned by day on `event_time` and clustered by `event_name`; RECORD columns are created with
 * their nested columns. An existing table is used as it is; configured columns it lacks, nested
 * ones included, are reported once at start-up (their rows would be refused).
 * Rows: `rows.ts`; requests, per-row errors and their classification: `sender.ts`. The Storage
 * Write API (default stream) would fit behind the same `InsertContext.insert`.
 */
import http from 'node:http';
import type { BigQueryOptions, Dataset, Table } from '@google-cloud/bigquery';
import type { ExporterFactory, Host, Payload } from '../../src/component.js';
import { PermanentError } from '../../src/errors.js';
import type { SendContext } from '../../src/delivery/sender.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { ClientTls, ClientTlsAgent, connectionErrorText, warnIfInsecureIgnored } from '../../src/tls/client.js';
import { bigquerySchema, tableLayout, type AnyColumn, type BigQueryConfig } from './config.js';
import { compileRows, schemaFields, type Row } from './rows.js';
import { classifyInsertError, classifyInsertResponse, insertEvents, type InsertContext, type InsertResult } from './sender.js';
import { sendThrough, type TransportAgents } from './transport.js';

export { bigquerySchema, type BigQueryConfig } from './config.js';

/** Client options for a config: endpoint, credentials, and no retries of its own (the exporter helper retries). */
export function clientOptions(cfg: BigQueryConfig): BigQueryOptions {
  const o: BigQueryOptions = { autoRetry: false, maxRetries: 0 };
  if (cfg.project) o.projectId = cfg.project;
  if (cfg.location) o.location = cfg.location;
  if (cfg.api_endpoint) o.apiEndpoint = cfg.api_endpoint.replace(/\/+$/, '');
  if (cfg.key_file) o.keyFilename = cfg.key_file;
  if (cfg.timeout > 0) (o as { timeout?: number }).timeout = cfg.timeout;
  if (cfg.no_auth) {
    // An emulator takes requests without credentials: an auth client that adds no headers.
    o.authClient = { getRequestHeaders: async () => new Headers(), getProjectId: async () => cfg.project } as unknown as BigQueryOptions['authClient'];
  }
  return o;
}

/** Longest start-up waits for the dataset and table check. */
const START_WAIT_MILLIS = 15_000;

/** Error codes the client reports when the resource already exists. */
const ALREADY_EXISTS = 409;

export class BigQueryExporter extends BaseExporter {
  /** The client's dataset and table handles; the client library is loaded on first use. */
  private handles: Promise<{ dataset: Dataset; table: Table }> | undefined;
  private readonly layout: ReturnType<typeof tableLayout>;
  private readonly ctx: InsertContext;
  private ready: Promise<void> | undefined;
  /** With a `tls` section: the connections the client's requests take (made at start). */
  private agents: TransportAgents | undefined;

  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    private readonly cfg: BigQueryConfig,
  ) {
    super(settings, cfg);
    this.layout = tableLayout(cfg);
    this.ctx = {
      maxRows: cfg.max_rows_per_request,
      maxBytes: cfg.max_request_bytes,
      skipInvalidRows: cfg.skip_invalid_rows,
      recreates: cfg.create_if_missing,
      toRow: compileRows(this.layout.columns),
      insert: (rows, signal) => this.insert(rows, signal),
    };
  }

  private bigquery(): Promise<{ dataset: Dataset; table: Table }> {
    // Loaded on first use: the client's packages are large, and most gateways have no bigquery exporter.
    this.handles ??= Promise.all([import('@google-cloud/bigquery'), import('@google-cloud/common')]).then(([{ BigQuery }, { util }]) => {
      const client = new BigQuery(clientOptions(this.cfg));
      if (this.agents) sendThrough(client, this.agents, util);
      const dataset = client.dataset(this.cfg.dataset, this.cfg.location ? { location: this.cfg.location } : {});
      return { dataset, table: dataset.table(this.cfg.table) };
    });
    return this.handles;
  }

  private get where(): string {
    return `${this.cfg.project ? this.cfg.project + '.' : ''}${this.cfg.dataset}.${this.cfg.table}`;
  }

  override async start(_host: Host): Promise<void> {
    if (this.cfg.tls) {
      // A `tls` file that cannot be read or used fails the start, naming the option.
      const at = `exporters::${this.id}`;
      const endpoint = this.cfg.api_endpoint ?? 'https://bigquery.googleapis.com';
      const tls = ClientTls.load(this.cfg.tls, at, endpoint.startsWith('https:') ? this.logger : undefined);
      warnIfInsecureIgnored(this.cfg.tls, at, endpoint, this.logger);
      this.agents = { http: new http.Agent({ keepAlive: true }), https: new ClientTlsAgent(tls) };
    }
    // Not fatal: BigQuery may be unreachable for now; the first send tries again. Start-up waits at most START_WAIT_MILLIS.
    try {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${START_WAIT_MILLIS} ms`)), START_WAIT_MILLIS);
      });
      await Promise.race([this.ensureTable(), late]).finally(() => clearTimeout(timer));
      this.logger.info({ table: this.where, endpoint: this.cfg.api_endpoint ?? 'https://bigquery.googleapis.com' }, 'streaming events to BigQuery');
    } catch (err) {
      this.logger.warn({ table: this.where, err: connectionErrorText(err) }, 'BigQuery table not ready; will try again before the first insert');
    }
  }

  /** Creates the dataset and the table when missing (once; again after a failure or a 404). */
  private ensureTable(): Promise<void> {
    this.ready ??= this.doEnsureTable().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async doEnsureTable(): Promise<void> {
    const { dataset, table } = await this.bigquery();
    if (this.cfg.create_if_missing) {
      const [dsExists] = await dataset.exists();
      if (!dsExists) await ignoreExisting(dataset.create(this.cfg.location ? { location: this.cfg.location } : {}));
    }
    const [exists] = await table.exists();
    if (!exists) {
      if (!this.cfg.create_if_missing) throw new PermanentError(`table ${this.where} does not exist and create_if_missing is false`);
      const l = this.layout;
      await ignoreExisting(
        table.create({
          schema: { fields: schemaFields(l.columns) },
          ...(l.timePartitioning ? { timePartitioning: l.timePartitioning } : {}),
          ...(l.clustering && l.clustering.length > 0 ? { clustering: { fields: l.clustering } } : {}),
        }),
      );
      this.logger.info({ table: this.where, columns: l.columns.length }, 'created the BigQuery table');
      return;
    }
    const [meta] = await table.getMetadata();
    const missing = missingColumns(this.layout.columns, (meta as { schema?: { fields?: TableField[] } }).schema?.fields ?? []);
    if (missing.length > 0 && !this.cfg.ignore_unknown_values) {
      this.logger.error({ table: this.where, missing }, 'the existing table lacks configured columns; rows with values for them will be refused (add the columns, or set ignore_unknown_values)');
    }
  }

  private async insert(rows: Row[], signal: AbortSignal): Promise<InsertResult> {
    try {
      await this.ensureTable();
    } catch (err) {
      if (err instanceof PermanentError) return { kind: 'refused', error: err.message };
      return classifyInsertError(err);
    }
    const json = { skipInvalidRows: this.cfg.skip_invalid_rows, ignoreUnknownValues: this.cfg.ignore_unknown_values, rows };
    let result: InsertResult;
    try {
      const { table } = await this.bigquery();
      const [body] = await abortable(table.request({ method: 'POST', uri: '/insertAll', json }), signal);
      result = classifyInsertResponse(body, rows.length);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      result = classifyInsertError(err);
    }
    if (result.kind === 'not_found') this.ready = undefined;
    return result;
  }

  protected async send(p: Payload, ctx: SendContext): Promise<void> {
    if (p.signal !== 'events') throw new PermanentError(`the bigquery exporter takes events, not ${p.signal}`);
    await insertEvents(p.data, this.ctx, ctx);
  }

  override async shutdown(): Promise<void> {
    this.agents?.http.destroy();
    this.agents?.https.destroy();
  }
}

interface TableField {
  name: string;
  fields?: TableField[];
}

/** Configured columns the table lacks, nested ones as `record.field` (names compared case-insensitively). */
export function missingColumns(columns: readonly AnyColumn[], have: readonly TableField[], prefix = ''): string[] {
  const byName = new Map(have.map((f) => [f.name.toLowerCase(), f]));
  return columns.flatMap((c) => {
    const f = byName.get(c.name.toLowerCase());
    if (!f) return [prefix + c.name];
    return c.fields ? missingColumns(c.fields, f.fields ?? [], `${prefix}${c.name}.`) : [];
  });
}

async function ignoreExisting<T>(p: Promise<T>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: unknown }).code !== ALREADY_EXISTS) throw err;
  }
}

/** Rejects with the signal's reason when it aborts first (the client library takes no AbortSignal). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export const bigqueryExporterFactory: ExporterFactory<BigQueryConfig> = {
  kind: 'exporter',
  type: 'bigquery',
  description: 'Streams events into a BigQuery table (tabledata.insertAll), creating dataset and table when missing',
  configSchema: bigquerySchema,
  accepts: ['events'],
  mutatesData: false,
  create: (settings, config) => new BigQueryExporter(settings, config),
};
