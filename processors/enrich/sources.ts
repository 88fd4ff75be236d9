/**
 * Where the `enrich` processor's table comes from, kept current while the gateway runs:
 * - a local file, read at start and read again when its size or modification time changes
 *   (polled every `poll_interval`; a file that fails to parse keeps the previous table in use);
 * - a compacted Kafka topic, read from its beginning at start (start waits until the end offsets
 *   seen at start are reached) and followed afterwards: a record's value (a JSON object) is the
 *   row for its key, an empty value (tombstone) deletes the key. This is the stream-table join of
 *   Kafka Streams, with the table held in memory.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Consumer as KafkaConsumer } from 'kafkajs';
import type { Logger } from 'pino';
import { createKafka, kafkaErrorMessage, useAllCodecs, type ConnectionConfig } from '../../src/kafka/client.js';
import { formatOf, loadTableFile, type FileFormat, type Row, type Table } from './table.js';

export interface TableSource {
  /** Loads the table; rejects when it cannot (the processor does not start). */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly table: Table;
}

export class FileSource implements TableSource {
  table: Table = new Map();
  private readonly format: FileFormat;
  private last = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cfg: { path: string; format?: FileFormat; poll_interval: number; number_fields: string[] },
    private readonly keyField: string,
    private readonly logger: Logger,
    private readonly onLoad: (rows: number) => void,
  ) {
    this.format = cfg.format ?? formatOf(cfg.path)!;
  }

  async start(): Promise<void> {
    this.load();
    // Polled against the stamp taken when the table was read, not against the watcher's own first
    // look: a change made right after start is seen even when it lands before that first look.
    this.timer = setInterval(() => this.poll(), this.cfg.poll_interval);
    this.timer.unref();
  }

  private poll(): void {
    const st = fs.statSync(this.cfg.path, { throwIfNoEntry: false });
    if (!st) return; // gone: keep the table until the file is back
    const stamp = `${st.size}:${st.mtimeMs}`;
    if (stamp === this.last) return;
    try {
      this.load();
      this.logger.info({ path: this.cfg.path, rows: this.table.size }, 'enrichment table reloaded');
    } catch (err) {
      this.last = stamp; // do not retry the same broken content on every poll
      this.logger.error({ err: (err as Error).message }, 'cannot reload the enrichment table; keeping the previous one');
    }
  }

  private load(): void {
    const st = fs.statSync(this.cfg.path, { throwIfNoEntry: false });
    this.table = loadTableFile(this.cfg.path, this.format, this.keyField, this.cfg.number_fields);
    if (st) this.last = `${st.size}:${st.mtimeMs}`;
    this.onLoad(this.table.size);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

export interface KafkaSourceConfig extends ConnectionConfig {
  topic: string;
  key_field?: string;
  start_timeout: number;
}

export class KafkaTopicSource implements TableSource {
  readonly table: Table = new Map();
  private consumer: KafkaConsumer | undefined;
  private groupId = '';

  /** `at`: where the options are in the config (`processors::<id>::source::kafka`), for errors about them. */
  constructor(
    private readonly cfg: KafkaSourceConfig,
    private readonly logger: Logger,
    private readonly onLoad: (rows: number) => void,
    private readonly at = '',
  ) {}

  async start(): Promise<void> {
    useAllCodecs();
    const kafka = createKafka(this.cfg, this.logger, { retries: 3, initialRetryTime: 200, maxRetryTime: 1000 }, this.at);
    const admin = kafka.admin();
    let ends: Map<number, bigint>;
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(this.cfg.topic);
      ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    } catch (err) {
      throw new Error(`cannot read topic ${this.cfg.topic} from ${this.cfg.brokers.join(',')}: ${kafkaErrorMessage(err)}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    // A group of its own: every gateway reads the whole table; nothing is committed.
    this.groupId = `${this.cfg.client_id}-enrich-${crypto.randomBytes(6).toString('hex')}`;
    const consumer = kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 250, retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 } });
    this.consumer = consumer;
    const behind = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (behind.size === 0) caughtUp();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.cfg.topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) this.apply(m.key, m.value, `${batch.topic}/${batch.partition}@${m.offset}`);
          this.onLoad(this.table.size);
          const end = ends.get(batch.partition);
          if (behind.has(batch.partition) && end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) {
            behind.delete(batch.partition);
            if (behind.size === 0) caughtUp();
          }
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`table not read to its end within ${this.cfg.start_timeout} ms (${this.table.size} rows so far)`)), this.cfg.start_timeout);
      });
      await Promise.race([ready, timeout]).finally(() => clearTimeout(timer));
    } catch (err) {
      await this.stop();
      throw new Error(`cannot load the enrichment table from topic ${this.cfg.topic}: ${kafkaErrorMessage(err)}`);
    }
    this.logger.info({ topic: this.cfg.topic, rows: this.table.size }, 'enrichment table loaded; following the topic');
  }

  /** Applies one record: a JSON object value sets the row of its key, an empty value deletes it. */
  private apply(key: Buffer | null, value: Buffer | null, where: string): void {
    const k = key?.toString();
    if (!value || value.length === 0) {
      if (k !== undefined) this.table.delete(k);
      return;
    }
    let row: unknown;
    try {
      row = JSON.parse(value.toString('utf8'));
    } catch (err) {
      this.logger.warn({ record: where, err: (err as Error).message }, 'enrichment record is not JSON; ignored');
      return;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      this.logger.warn({ record: where }, 'enrichment record is not a JSON object; ignored');
      return;
    }
    const r = row as Row;
    const field = this.cfg.key_field;
    const rowKey = field !== undefined ? r[field] : k;
    if (rowKey === undefined || rowKey === null || typeof rowKey === 'object') {
      this.logger.warn({ record: where }, field !== undefined ? `enrichment record has no ${field}; ignored` : 'enrichment record has no key; ignored');
      return;
    }
    this.table.set(String(rowKey), r);
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    await consumer.disconnect().catch(() => undefined);
  }
}
