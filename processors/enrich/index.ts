/**
 * The `enrich` processor: adds fields to events from a keyed table (a product catalogue, a
 * customer segment list): the event's `key` (e.g. `properties.item_id`) is looked up, and the
 * listed `fields` of the row found are copied into the event's properties. The table comes from a
 * local file (CSV, JSON or JSON Lines, reloaded when it changes) or from a compacted Kafka topic
 * (read from its beginning and followed). Lookups are counted by result in
 * `otelytics_enrich_lookups_total{processor,pipeline,result="hit"|"miss"|"no_key"}`; the table's size
 * is the gauge `otelytics_enrich_table_rows{processor,pipeline}`.
 */
import type { Logger } from 'pino';
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import { duration, nonEmptyString, z } from '../../src/config/schema.js';
import type { AnalyticsEvent } from '../../src/event.js';
import type { Telemetry } from '../../src/telemetry.js';
import { checkConnection, connectionShape, zodReporter } from '../../exporters/kafka/client.js';
import { eventPath } from '../../exporters/kafka/config.js';
import { eventGetter } from '../../exporters/kafka/records.js';
import { FileSource, KafkaTopicSource, type TableSource } from './sources.js';
import { formatOf } from './table.js';

const fileSource = z.strictObject({
  path: nonEmptyString().describe('The table file. Required.'),
  format: z.enum(['csv', 'json', 'jsonl']).optional().describe('csv, json or jsonl. Omitted: from the extension (.csv, .json, .jsonl/.ndjson).'),
  key_field: nonEmptyString().optional().describe('Column or field holding each row\'s key. Omitted: the last part of `key` (item_id for properties.item_id).'),
  number_fields: z.array(nonEmptyString()).default([]).describe('CSV columns read as numbers (other cells stay strings). Default [].'),
  poll_interval: duration('2s').describe('How often the file is checked for changes. Default 2s; 0 is not allowed.'),
});

const kafkaSource = z.strictObject({
  ...connectionShape,
  topic: nonEmptyString().describe('Compacted topic holding the table: record key = row key, value = the row as a JSON object, empty value = deleted. Required.'),
  key_field: nonEmptyString().optional().describe('Take the row key from this field of the value instead of the record key. Omitted: the record key.'),
  start_timeout: duration('30s').describe('Longest the start waits to read the topic to its end. Default 30s.'),
});

export const enrichSchema = z
  .strictObject({
    key: eventPath().describe('Event field looked up in the table, e.g. properties.item_id. Required.'),
    source: z
      .strictObject({
        file: fileSource.optional().describe('A local file.'),
        kafka: kafkaSource.optional().describe('A compacted Kafka topic.'),
      })
      .describe('Where the table comes from: exactly one of file, kafka.'),
    fields: z
      .union([z.array(nonEmptyString()).min(1), z.record(nonEmptyString(), nonEmptyString())])
      .describe('Row fields copied into the event\'s properties: a list of names, or a map of property name → row field. Required.'),
    overwrite: z.boolean().default(false).describe('Replace properties the event already has. Default false: keep them.'),
  })
  .superRefine((cfg, ctx) => {
    const { file, kafka } = cfg.source;
    if ((file === undefined) === (kafka === undefined)) ctx.addIssue({ code: 'custom', path: ['source'], message: 'give exactly one of file, kafka' });
    if (file && !file.format && !formatOf(file.path)) ctx.addIssue({ code: 'custom', path: ['source', 'file', 'format'], message: 'cannot tell the format from the file name; set csv, json or jsonl' });
    if (file && file.poll_interval <= 0) ctx.addIssue({ code: 'custom', path: ['source', 'file', 'poll_interval'], message: 'must be a positive duration' });
    if (kafka) checkConnection(kafka, zodReporter(ctx, ['source', 'kafka']));
  });

export type EnrichConfig = z.infer<typeof enrichSchema>;

export class EnrichProcessor {
  private readonly source: TableSource;
  private readonly getKey: (e: AnalyticsEvent) => string | undefined;
  private readonly copies: [string, string][];
  private readonly lookups;
  private readonly rows;

  constructor(
    private readonly cfg: EnrichConfig,
    private readonly next: Consumer,
    logger: Logger,
    telemetry: Telemetry,
    id: string,
    pipeline: string,
  ) {
    this.getKey = eventGetter(cfg.key);
    this.copies = Array.isArray(cfg.fields) ? cfg.fields.map((f) => [f, f]) : Object.entries(cfg.fields);
    const labels = { processor: id, pipeline };
    const counter = telemetry.counter('otelytics_enrich_lookups_total', 'Lookups of the enrich processor, by result (hit, miss, no_key).', ['processor', 'pipeline', 'result']);
    this.lookups = { hit: counter.labels({ ...labels, result: 'hit' }), miss: counter.labels({ ...labels, result: 'miss' }), noKey: counter.labels({ ...labels, result: 'no_key' }) };
    this.rows = telemetry.gauge('otelytics_enrich_table_rows', 'Rows in the enrich processor\'s table.', ['processor', 'pipeline']).labels(labels);
    const onLoad = (n: number) => this.rows.set(n);
    const { file, kafka } = cfg.source;
    const lastPart = cfg.key.slice(cfg.key.lastIndexOf('.') + 1);
    this.source = file ? new FileSource(file, file.key_field ?? lastPart, logger, onLoad) : new KafkaTopicSource(kafka!, logger, onLoad, `processors::${id}::source::kafka`);
  }

  async start(): Promise<void> {
    await this.source.start();
  }

  async shutdown(): Promise<void> {
    await this.source.stop();
  }

  async consume(p: Payload): Promise<void> {
    if (p.signal !== 'events') return this.next.consume(p);
    const table = this.source.table;
    let hit = 0;
    let miss = 0;
    let noKey = 0;
    for (const e of p.data) {
      const key = this.getKey(e);
      if (key === undefined) {
        noKey++;
        continue;
      }
      const row = table.get(key);
      if (!row) {
        miss++;
        continue;
      }
      hit++;
      for (const [to, from] of this.copies) {
        const v = row[from];
        if (v === undefined || v === null || v === '') continue;
        if (!this.cfg.overwrite && e.properties[to] !== undefined) continue;
        e.properties[to] = v;
      }
    }
    if (hit) this.lookups.hit.inc(hit);
    if (miss) this.lookups.miss.inc(miss);
    if (noKey) this.lookups.noKey.inc(noKey);
    await this.next.consume(p);
  }
}

export const enrichProcessorFactory: ProcessorFactory<EnrichConfig> = {
  kind: 'processor',
  type: 'enrich',
  description: 'Adds fields to events from a keyed table: a CSV/JSON/JSONL file (reloaded on change) or a compacted Kafka topic',
  configSchema: enrichSchema,
  accepts: ['events'],
  output: (s) => s,
  mutatesData: true,
  create: (settings, config, next) => new EnrichProcessor(config, next, settings.logger, settings.telemetry, settings.id, settings.pipeline),
};
