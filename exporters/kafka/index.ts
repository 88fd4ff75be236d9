/**
 * The `kafka` exporter: events, spans and log records to Apache Kafka topics (kafkajs).
 *
 * Records are built by {@link RecordEncoder} (topic, key, value, W3C trace headers) and sent with
 * one `sendBatch` at a time, so records of one key keep their order. kafkajs writes the Produce
 * requests with ./produce.ts's encoder (the same bytes, a fraction of the CPU; installed by
 * ./kafkajs-setup.ts). The producer waits for all in-sync replicas (`acks=-1`) and is
 * idempotent, so its own retries add no duplicates.
 *
 * Failures: a record larger than `producer::max_message_bytes`, or refused by the broker for good
 * (`MESSAGE_TOO_LARGE`, `INVALID_RECORD`, ...), is a `PermanentError` (a `PartialFailure` when
 * other records of the batch were sent); anything else (broker down, leader moving, timeouts, and
 * TLS or SASL settings the brokers refuse, whose message says which option to change) is a
 * `RetryableError` for the exporter helper to retry: nothing is dropped.
 */
import type { CompressionTypes, Message, Producer } from 'kafkajs';
import type { CreateSettings, ExporterFactory, Host, Payload } from '../../src/component.js';
import { PartialFailure, PermanentError, RetryableError } from '../../src/errors.js';
import type { SendContext } from '../../src/delivery/sender.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { classifyKafkaError, connectionProblem, connectionSetupFailure, createKafka, kafkaErrorMessage, Partitioners, useCompression } from './client.js';
import { kafkaExporterSchema, type KafkaExporterConfig } from './config.js';
import { mergePayloads, RecordEncoder, type OutRecord } from './records.js';
import { produceSpanAttributes, produceSpanLinks } from './selftrace.js';
import { inSpan, SpanKind } from '../../src/selftrace.js';

/** kafkajs' own retries of one produce request: short, the exporter helper does the long back-off. */
const PRODUCER_RETRY = { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 };

export class KafkaExporter extends BaseExporter {
  private readonly encoder: RecordEncoder;
  private readonly compression: CompressionTypes;
  private producer: Producer | undefined;
  private connecting: Promise<void> | undefined;
  /** Sends run one after the other: per-key order, and idempotent sequence numbers stay simple. */
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Where the options are in the config, for errors about them. */
  private readonly configPath: string;

  constructor(
    settings: CreateSettings,
    private readonly cfg: KafkaExporterConfig,
  ) {
    super(settings, cfg);
    this.configPath = `exporters::${settings.id}`;
    this.encoder = new RecordEncoder(cfg);
    this.compression = useCompression(cfg.producer.compression);
  }

  override async start(_host: Host): Promise<void> {
    this.producer = this.newProducer();
    // Not awaited, and not fatal: the broker may come up later; every send waits for the connection.
    this.connect().catch((err: unknown) => {
      if (connectionProblem(err)?.retryFixes === false) {
        this.logger.error({ brokers: this.cfg.brokers, err: kafkaErrorMessage(err) }, 'kafka exporter cannot connect to the brokers with its tls or auth settings; sends are retried, and fail, until that is fixed');
      } else this.logger.warn({ brokers: this.cfg.brokers, err: kafkaErrorMessage(err) }, 'kafka exporter cannot reach the brokers yet; will retry on send');
    });
  }

  private newProducer(): Producer {
    const kafka = createKafka(this.cfg, this.logger, PRODUCER_RETRY, this.configPath);
    const idempotent = this.cfg.producer.required_acks === -1;
    // The Java client's partitioner (murmur2 of the key), so keys land where Java producers put them.
    return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent, maxInFlightRequests: idempotent ? 1 : undefined, allowAutoTopicCreation: true, retry: PRODUCER_RETRY });
  }

  /**
   * Connects the producer once (later sends reuse the connection; kafkajs reconnects by itself). A
   * TLS or SASL setting the brokers refuse fails at once, without kafkajs' retries of the connection.
   */
  private connect(): Promise<void> {
    const producer = this.producer!;
    this.connecting ??= (async () => {
      const refused = await connectionSetupFailure(this.cfg, this.logger, this.configPath);
      if (refused) throw refused;
      await producer.connect();
    })().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  /** Drops the producer (after an idempotence state error) so the next send gets a new producer id. */
  private async resetProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    this.connecting = undefined;
    await old?.disconnect().catch(() => undefined);
  }

  protected send(p: Payload, ctx: SendContext): Promise<void> {
    return ctx.request((signal) => {
      const run = this.chain.then(() => {
        if (signal.aborted) throw new RetryableError('kafka exporter: the send was cancelled before it started');
        return this.sendNow(p);
      });
      // The next send waits for this one to finish for real, even when its caller gave up waiting.
      this.chain = run.catch(() => undefined);
      return run;
    });
  }

  private async sendNow(p: Payload): Promise<void> {
    if (p.signal === 'metrics') throw new PermanentError('the kafka exporter does not take metrics');
    if (this.stopped || !this.producer) throw new RetryableError('kafka exporter is not running');
    const { records, rejected } = this.encoder.encode(p);
    let failed = rejected;
    let retry: { payload: Payload; count: number } | undefined;
    if (records.length > 0) {
      const result = await this.produce(records);
      failed = failed.concat(result.rejected);
      retry = result.retry;
    }
    if (failed.length === 0 && !retry) return;
    const delivered = records.length - (failed.length - rejected.length) - (retry?.count ?? 0);
    if (delivered === 0 && failed.length === 0) throw new RetryableError('kafka: no record of the batch was sent; retrying all');
    if (delivered === 0 && !retry) {
      throw new PermanentError(failed.length === 1 ? failed[0]!.reason : `all ${failed.length} records refused for good, e.g. ${failed[0]!.reason}`);
    }
    throw new PartialFailure(`${failed.length} record(s) refused for good${retry ? `, ${retry.count} left to retry` : ''}${failed[0] ? `, e.g. ${failed[0].reason}` : ''}`, {
      rejected: failed,
      retry: retry?.payload,
    });
  }

  /**
   * Sends the records in one request. When the broker refuses a record for good, sends them one
   * by one to tell the bad from the good; a transient failure then leaves the rest to retry.
   */
  private async produce(records: OutRecord[]): Promise<{ rejected: { payload: Payload; reason: string }[]; retry?: { payload: Payload; count: number } }> {
    try {
      await this.sendRecords(records);
      return { rejected: [] };
    } catch (err) {
      const kind = classifyKafkaError(err);
      if (kind !== 'record') throw await this.retryable(err, kind);
      if (records.length === 1) return { rejected: [{ payload: records[0]!.payload, reason: `kafka refused the record: ${kafkaErrorMessage(err)}` }] };
    }
    const rejected: { payload: Payload; reason: string }[] = [];
    for (let i = 0; i < records.length; i++) {
      try {
        await this.sendRecords([records[i]!]);
      } catch (err) {
        const kind = classifyKafkaError(err);
        if (kind === 'record') {
          rejected.push({ payload: records[i]!.payload, reason: `kafka refused the record: ${kafkaErrorMessage(err)}` });
          continue;
        }
        if (kind === 'producer') await this.resetProducer();
        return { rejected, retry: { payload: mergePayloads(records.slice(i).map((r) => r.payload))!, count: records.length - i } };
      }
    }
    return { rejected };
  }

  private async retryable(err: unknown, kind: 'producer' | 'transient'): Promise<RetryableError> {
    if (kind === 'producer') await this.resetProducer();
    return new RetryableError(`kafka (${this.cfg.brokers.join(',')}): ${kafkaErrorMessage(err)}`, undefined, { cause: err });
  }

  private async sendRecords(records: OutRecord[]): Promise<void> {
    await this.connect();
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (!list) byTopic.set(r.topic, (list = []));
      list.push(r); // an OutRecord is a kafkajs Message: key, value, headers
    }
    const send = () =>
      this.producer!.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        acks: this.cfg.producer.required_acks,
        timeout: this.cfg.request_timeout,
        compression: this.compression,
      });
    // One PRODUCER span per send batch when own traces are on (./selftrace.ts).
    const topics = [...byTopic.keys()];
    await inSpan(`send ${topics.length === 1 ? topics[0] : 'kafka'}`, SpanKind.PRODUCER, () => produceSpanAttributes(this.id, topics, records), () => produceSpanLinks(records), send);
  }

  override async shutdown(): Promise<void> {
    await this.chain;
    this.stopped = true;
    await this.producer?.disconnect().catch(() => undefined);
  }
}

export const kafkaExporterFactory: ExporterFactory<KafkaExporterConfig> = {
  kind: 'exporter',
  type: 'kafka',
  description: 'Writes events (json or OTLP log records), spans and log records (OTLP protobuf/JSON) to Kafka topics',
  configSchema: kafkaExporterSchema,
  accepts: ['traces', 'logs', 'events'],
  mutatesData: false,
  create: (settings, config) => new KafkaExporter(settings, config),
};
