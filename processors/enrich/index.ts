/**
 * The `enrich` processor: adds fields to events from a keyed table (a product catalogue, a
 * customer segment list): the event's `key` (e.g. `properties.item_id`) is looked up, and the
 * listed `fields` of the row found are copied into the event's properties; with `items`, each map
 * of the event's GA4 `items` list is looked up by its `item_id` and filled the same way, and
 * `value` can be set to the items' sum of price × quantity. The table comes from a
 * local file (CSV, JSON or JSON Lines, reloaded when it changes) or from a compacted Kafka topic
 * (read from its beginning and followed). Lookups are counted by result in
 * `otelytics_enrich_lookups_total{processor,pipeline,result="hit"|"miss"|"no_key"}`; the table's size
 * is the gauge `otelytics_enrich_table_rows{processor,pipeline}`.
 */
import type { Logger } from 'pino';
import type { Consumer, Payload, ProcessorFactory } from '../../src/component.js';
import { duration, nonEmptyString, z } from '../../src/config/schema.js';
import type { AnalyticsEvent } from '../../src/event.js';
import type { JsonValue } from '../../src/pdata.js';
import type { Telemetry } from '../../src/telemetry.js';
import { checkConnection, connectionShape, zodReporter } from '../../src/kafka/client.js';
import { eventPath } from '../../exporters/kafka/config.js';
import { eventGetter } from '../../exporters/kafka/records.js';
import { FileSource, KafkaTopicSource, type TableSource } from './sources.js';
import { formatOf, type Row } from './table.js';

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

const fieldsSchema = z.union([z.array(nonEmptyString()).min(1), z.record(nonEmptyString(), nonEmptyString())]);

const itemsSchema = z.strictObject({
  property: nonEmptyString().default('items').describe('Property holding the items list (an array of maps, as GA4 ecommerce events carry it). Default items.'),
  key: nonEmptyString().default('item_id').describe('Field of each item looked up in the table. Default item_id (GA4).'),
  fields: fieldsSchema.optional().describe('Row fields copied into each item: a list of names, or a map of item field → row field. Omitted: `fields`.'),
  overwrite: z.boolean().optional().describe('Replace fields an item already has. Omitted: `overwrite`.'),
  value: z
    .boolean()
    .default(false)
    .describe('Set the event\'s `value` to the sum of price × quantity of its items (quantity 1 when absent), as GA4 defines value, when the event has none and every item has a numeric price; and its `currency`, when it has none, to the `currency` all the items\' rows share. Default false.'),
});

export const enrichSchema = z
  .strictObject({
    key: eventPath().optional().describe('Event field looked up in the table, e.g. properties.item_id. Omitted: only `items` are looked up (one of key, items is required).'),
    source: z
      .strictObject({
        file: fileSource.optional().describe('A local file.'),
        kafka: kafkaSource.optional().describe('A compacted Kafka topic.'),
      })
      .describe('Where the table comes from: exactly one of file, kafka.'),
    fields: fieldsSchema.describe('Row fields copied into the event\'s properties (and into each item, unless items::fields says otherwise): a list of names, or a map of property name → row field. Required.'),
    overwrite: z.boolean().default(false).describe('Replace properties the event already has. Default false: keep them.'),
    items: itemsSchema
      .optional()
      .describe('Also look up each map of the event\'s items list (GA4 `items`) by its item_id and copy the row\'s fields into it: items: {} for the defaults. Omitted: items are left as they are.'),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.key === undefined && cfg.items === undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: 'give key (an event field), items (the items list\'s item_id), or both' });
    const { file, kafka } = cfg.source;
    if ((file === undefined) === (kafka === undefined)) ctx.addIssue({ code: 'custom', path: ['source'], message: 'give exactly one of file, kafka' });
    if (file && !file.format && !formatOf(file.path)) ctx.addIssue({ code: 'custom', path: ['source', 'file', 'format'], message: 'cannot tell the format from the file name; set csv, json or jsonl' });
    if (file && file.poll_interval <= 0) ctx.addIssue({ code: 'custom', path: ['source', 'file', 'poll_interval'], message: 'must be a positive duration' });
    if (kafka) checkConnection(kafka, zodReporter(ctx, ['source', 'kafka']));
  });

export type EnrichConfig = z.infer<typeof enrichSchema>;

type Fields = z.infer<typeof fieldsSchema>;
const copiesOf = (f: Fields): [string, string][] => (Array.isArray(f) ? f.map((x) => [x, x]) : Object.entries(f));

/** A row key from an item's key field: a non-empty string, or a number as text. */
function itemKey(v: JsonValue | undefined): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

const isMap = (v: JsonValue | undefined): v is { [k: string]: JsonValue } => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * GA4's `value` of an items list: Σ price × quantity (quantity 1 when absent), rounded to 6
 * decimals so that binary fractions do not show (19.99 + 2 × 59.9 = 139.79, not
 * 139.79000000000002); undefined when an item has no numeric price or a quantity that is not a
 * number, or there is no item.
 */
export function itemsValue(items: readonly JsonValue[]): number | undefined {
  let sum = 0;
  let n = 0;
  for (const item of items) {
    if (!isMap(item)) continue;
    const price = item.price;
    const quantity = item.quantity ?? 1;
    if (typeof price !== 'number' || !Number.isFinite(price) || typeof quantity !== 'number' || !Number.isFinite(quantity)) return undefined;
    sum += price * quantity;
    n++;
  }
  return n === 0 ? undefined : Math.round(sum * 1e6) / 1e6;
}

export class EnrichProcessor {
  private readonly source: TableSource;
  private readonly getKey: ((e: AnalyticsEvent) => string | undefined) | undefined;
  private readonly copies: [string, string][];
  private readonly items: { property: string; key: string; copies: [string, string][]; overwrite: boolean; value: boolean } | undefined;
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
    this.getKey = cfg.key === undefined ? undefined : eventGetter(cfg.key);
    this.copies = copiesOf(cfg.fields);
    const it = cfg.items;
    this.items = it && { property: it.property, key: it.key, copies: it.fields ? copiesOf(it.fields) : this.copies, overwrite: it.overwrite ?? cfg.overwrite, value: it.value };
    const labels = { processor: id, pipeline };
    const counter = telemetry.counter('otelytics_enrich_lookups_total', 'Lookups of the enrich processor, by result (hit, miss, no_key).', ['processor', 'pipeline', 'result']);
    this.lookups = { hit: counter.labels({ ...labels, result: 'hit' }), miss: counter.labels({ ...labels, result: 'miss' }), noKey: counter.labels({ ...labels, result: 'no_key' }) };
    this.rows = telemetry.gauge('otelytics_enrich_table_rows', 'Rows in the enrich processor\'s table.', ['processor', 'pipeline']).labels(labels);
    const onLoad = (n: number) => this.rows.set(n);
    const { file, kafka } = cfg.source;
    const keyField = cfg.key !== undefined ? cfg.key.slice(cfg.key.lastIndexOf('.') + 1) : cfg.items!.key;
    this.source = file ? new FileSource(file, file.key_field ?? keyField, logger, onLoad) : new KafkaTopicSource(kafka!, logger, onLoad, `processors::${id}::source::kafka`);
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
    const items = this.items;
    for (const e of p.data) {
      if (this.getKey) {
        const key = this.getKey(e);
        const row = key === undefined ? undefined : table.get(key);
        if (key === undefined) noKey++;
        else if (!row) miss++;
        else {
          hit++;
          copyInto(e.properties, row, this.copies, this.cfg.overwrite);
        }
      }
      if (!items) continue;
      const list = e.properties[items.property];
      if (!Array.isArray(list)) continue;
      let currency: JsonValue | undefined;
      let sameCurrency = list.length > 0;
      for (const item of list) {
        if (!isMap(item)) continue;
        const key = itemKey(item[items.key]);
        const row = key === undefined ? undefined : table.get(key);
        if (key === undefined) noKey++;
        else if (!row) miss++;
        else {
          hit++;
          copyInto(item, row, items.copies, items.overwrite);
        }
        const c = row?.currency;
        if (typeof c !== 'string' || c === '' || (currency !== undefined && c !== currency)) sameCurrency = false;
        else currency = c;
      }
      if (items.value && e.properties.value === undefined) {
        const value = itemsValue(list);
        if (value !== undefined) {
          e.properties.value = value;
          if (e.properties.currency === undefined && sameCurrency && currency !== undefined) e.properties.currency = currency;
        }
      }
    }
    if (hit) this.lookups.hit.inc(hit);
    if (miss) this.lookups.miss.inc(miss);
    if (noKey) this.lookups.noKey.inc(noKey);
    await this.next.consume(p);
  }
}

/** Copies the row's fields (`[to, from]`) into `into`; empty values (`""`, null) are not copied. */
function copyInto(into: { [k: string]: JsonValue }, row: Row, copies: readonly [string, string][], overwrite: boolean): void {
  for (const [to, from] of copies) {
    const v = row[from];
    if (v === undefined || v === null || v === '') continue;
    if (!overwrite && into[to] !== undefined) continue;
    into[to] = v;
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
