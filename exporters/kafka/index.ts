/**
 * The `kafka` exporter: events, spans and log records to Apache Kafka topics (kafkajs).
 *
 * Records are built by {@link RecordEncoder} (topic, key, value, W3C trace headers). A batch is
 * sent as one `sendBatch` per leader broker (./leaders.ts: each record's partition, chosen as
 * kafkajs would, and that partition's leader, from the topic's metadata), all at once; after each
 * one the brokers acknowledged, what is left of the batch is recorded (`SendContext.progress`), so
 * a broker that stays down longer than kafkajs' own retries fails only its share: a retry sends
 * that share again, never the records other brokers acknowledged. With one broker, a batch is one
 * `sendBatch`, its records' partitions given as well (a retry inside kafkajs is then the same
 * batch); with no metadata yet, kafkajs partitions it. Batches are sent one at a time,
 * so records of one key keep their order (a key has one partition, hence one leader). kafkajs
 * writes the Produce requests with src/kafka/produce.ts's encoder (the same bytes, a fraction of the CPU;
 * installed by src/kafka/producer_internals.ts before kafkajs loads). Records and Produce requests are written in slices of about a
 * millisecond with a turn of the event loop between them (src/kafka/slices.ts), so handing a batch to
 * Kafka never holds up requests for the whole of it. The producer waits for all in-sync replicas (`acks=-1`) and
 * is idempotent, so its own retries add no duplicates.
 *
 * kafkajs takes back the sequence numbers of a failed Produce request, but a request whose answer
 * was lost (a timeout, a connection cut, a broker stopping) may have been written. Sent again,
 * the same records get the same sequence numbers and the broker answers for the copy it has
 * without writing them twice. Other records would get them too, and the broker would take a batch
 * of as many records for a duplicate of the written one and acknowledge it without writing it, an
 * acknowledged loss. So after a send that failed for any reason but a record refused for good,
 * the next send keeps the producer only when it is the retry of the same payload, and sends each
 * record to the partition it went to before (also those without a key, which the partitioner
 * would put elsewhere, round robin); any other send gets a new producer (a new producer id,
 * sequence numbers from 0) first, and so does the retry when a record's partition was left to
 * kafkajs (its topic's leaders not known). The failed payload, when it comes after a new producer,
 * may then be written twice (same `insert_id`: at least once).
 *
 * Failures: a record larger than `producer::max_message_bytes`, or refused by the broker for good
 * (`MESSAGE_TOO_LARGE`, `INVALID_RECORD`, ...), is a `PermanentError` (a `PartialFailure` when
 * other records of the batch were sent); anything else (broker down, leader moving, timeouts, and
 * TLS or SASL settings the brokers refuse, whose message says which option to change) is a
 * `RetryableError` for the exporter helper to retry (a `PartialFailure` whose `retry` holds the
 * failed brokers' records when other brokers acknowledged theirs): nothing is dropped.
 */
import type { Admin, CompressionTypes, ITopicMetadata, Message, Producer } from 'kafkajs';
import type { CreateSettings, ExporterFactory, Host, Payload } from '../../src/component.js';
import { PartialFailure, PermanentError, RetryableError } from '../../src/errors.js';
import type { SendContext } from '../../src/delivery/sender.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { classifyKafkaError, connectionProblem, connectionSetupFailure, createKafka, kafkaErrorMessage, kafkajs, useCompression } from '../../src/kafka/client.js';
import { kafkaExporterSchema, type KafkaExporterConfig } from './config.js';
import { TopicLeaders, type LeaderGroup } from './leaders.js';
import { mergePayloads, RecordEncoder, type OutRecord } from './records.js';
import { produceSpanAttributes, produceSpanLinks } from './selftrace.js';
import { inSpan, SpanKind } from '../../src/selftrace.js';

/** kafkajs' own retries of one produce request: short, the exporter helper does the long back-off. */
const PRODUCER_RETRY = { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 };
/** None for a topic's metadata: a failed fetch keeps the leaders known before (./leaders.ts). */
const METADATA_RETRY = { retries: 0, initialRetryTime: 100, maxRetryTime: 100 };

/** What became of the records of one group (./leaders.ts). */
interface GroupOutcome {
  /** Records the brokers refused for good, with the reason. */
  rejected: { record: OutRecord; reason: string }[];
  /** Records not written, to send again. */
  retry: OutRecord[];
  /** Why `retry` is not empty. */
  error?: unknown;
  /** The error was an idempotent-producer state error: the next send needs a new producer. */
  resetProducer?: boolean;
}

export class KafkaExporter extends BaseExporter {
  private readonly encoder: RecordEncoder;
  private readonly compression: CompressionTypes;
  private producer: Producer | undefined;
  private connecting: Promise<void> | undefined;
  /** Partition leaders of the topics written, for sending a batch per leader broker. */
  private readonly leaders: TopicLeaders;
  /** The admin client that fetches them (made on first use). */
  private admin: Promise<Admin> | undefined;
  /**
   * The payload whose last send failed on {@link producer} with an outcome not known (it may have
   * been written), and the partition each of its records went to: only its retry, with each record
   * in the same partition, may use the producer's sequence numbers again.
   */
  private uncertain: { payload: Payload; partitions: readonly number[] } | undefined;
  /** Sends run one after the other: per-key order, and idempotent sequence numbers stay simple. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Sends whose {@link chain} has not ended yet. */
  private sending = 0;
  /** Produce requests not settled yet, including those whose send gave up on them (timeout): the next send waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
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
    this.leaders = new TopicLeaders(
      (topic) => this.fetchTopicMetadata(topic),
      kafkajs().Partitioners.DefaultPartitioner,
      (topic, err) => this.logger.debug({ topic, err: kafkaErrorMessage(err) }, 'kafka: topic metadata not fetched; the leaders known before stay'),
    );
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
    return kafka.producer({ createPartitioner: kafkajs().Partitioners.DefaultPartitioner, idempotent, maxInFlightRequests: idempotent ? 1 : undefined, allowAutoTopicCreation: true, retry: PRODUCER_RETRY });
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

  /** One topic's partitions and their leaders, through an admin client of its own (public kafkajs API). */
  private async fetchTopicMetadata(topic: string): Promise<ITopicMetadata> {
    if (this.stopped) throw new Error('kafka exporter is not running');
    this.admin ??= (async () => {
      const admin = createKafka(this.cfg, this.logger, METADATA_RETRY, this.configPath).admin();
      await admin.connect();
      return admin;
    })().catch((err: unknown) => {
      this.admin = undefined;
      throw err;
    });
    const admin = await this.admin;
    // Stopped while connecting: shutdown() may have passed this client by.
    if (this.stopped) {
      await admin.disconnect().catch(() => undefined);
      throw new Error('kafka exporter is not running');
    }
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const found = topics.find((t) => t.name === topic);
    if (!found) throw new Error(`no metadata for topic ${topic}`);
    return found;
  }

  /** Drops the producer so the next send gets a new producer id and sequence numbers from 0. */
  private async resetProducer(): Promise<void> {
    const old = this.producer;
    this.uncertain = undefined;
    this.producer = this.newProducer();
    this.connecting = undefined;
    await old?.disconnect().catch(() => undefined);
  }

  /**
   * Sends run one after the other; one waits for those before it at most `timeout` (as long as a
   * request may take), then makes its requests, each under `timeout`.
   */
  protected send(p: Payload, ctx: SendContext): Promise<void> {
    const previous = this.chain;
    const idle = this.sending === 0;
    this.sending++;
    const run = idle ? this.sendNow(p, ctx) : ctx.request(() => previous).then(() => this.sendNow(p, ctx));
    // The next send waits for this one's requests to end for real, even those given up on.
    this.chain = Promise.allSettled([previous, run])
      .then(() => Promise.allSettled([...this.inFlight]))
      .then(() => void this.sending--);
    return run;
  }

  private async sendNow(p: Payload, ctx: SendContext): Promise<void> {
    if (p.signal === 'metrics') throw new PermanentError('the kafka exporter does not take metrics');
    if (this.stopped || !this.producer) throw new RetryableError('kafka exporter is not running');
    // After a send whose outcome is not known, only its retry may reuse the sequence numbers, with
    // each record where it went before.
    let given = this.uncertain?.payload === p ? this.uncertain.partitions : undefined;
    if (this.uncertain !== undefined && given === undefined) await this.resetProducer();
    // In slices: the event loop answers requests between them (src/kafka/slices.ts).
    const { records, rejected } = await this.encoder.encodeSliced(p);
    if (given !== undefined && given.length !== records.length) {
      given = undefined;
      await this.resetProducer();
    }
    let outcomes: GroupOutcome[] = [];
    let progressError: unknown;
    if (records.length > 0) {
      // Without acknowledgements (acks=0) there is no progress to keep: one send, as kafkajs splits it.
      const acked = this.cfg.producer.required_acks !== 0;
      // Fetching a topic's leaders the first time is a request too.
      const loading = acked ? this.leaders.load(records) : undefined;
      if (loading) await ctx.request(() => loading);
      const groups: LeaderGroup<OutRecord>[] = acked ? this.leaders.group(records, given) : [{ leader: undefined, records }];
      if (groups.length === 1) outcomes = [await this.produce(records, groups[0]!.partitions, ctx)];
      else ({ outcomes, progressError } = await this.produceGroups(groups, records, rejected, ctx));
      const unknown = outcomes.some((o) => o.error !== undefined);
      // A record left to kafkajs' partitioner may go elsewhere on the retry: then a new producer.
      const partitions = unknown ? partitionsOf(groups, records) : undefined;
      if (outcomes.some((o) => o.resetProducer) || (unknown && partitions === undefined)) await this.resetProducer();
      else this.uncertain = partitions && { payload: p, partitions };
      if (outcomes.some((o) => o.error !== undefined)) this.leaders.invalidate();
    }
    if (progressError !== undefined) throw progressError;
    const failed = rejected.concat(outcomes.flatMap((o) => o.rejected.map(({ record, reason }) => ({ payload: record.payload, reason }))));
    const retry = outcomes.flatMap((o) => o.retry);
    if (failed.length === 0 && retry.length === 0) return;
    const error = outcomes.find((o) => o.error !== undefined)?.error;
    const delivered = records.length - (failed.length - rejected.length) - retry.length;
    if (delivered === 0 && failed.length === 0) throw new RetryableError(`kafka (${this.cfg.brokers.join(',')}): ${kafkaErrorMessage(error)}`, undefined, { cause: error });
    if (delivered === 0 && retry.length === 0) {
      throw new PermanentError(failed.length === 1 ? failed[0]!.reason : `all ${failed.length} records refused for good, e.g. ${failed[0]!.reason}`);
    }
    const parts = [`${delivered} of ${records.length + rejected.length} record(s) written`];
    if (failed.length > 0) parts.push(`${failed.length} refused for good, e.g. ${failed[0]!.reason}`);
    if (retry.length > 0) parts.push(`${retry.length} left to retry: ${kafkaErrorMessage(error)}`);
    throw new PartialFailure(`kafka: ${parts.join(', ')}`, { rejected: failed, retry: mergePayloads(retry.map((r) => r.payload)) });
  }

  /**
   * Sends the groups of each leader broker at once, each a request under `timeout`. After each
   * group the brokers acknowledged, records with `ctx.progress` what is left of the payload (the
   * records of the groups not acknowledged yet or failed, and those refused): a retry then sends
   * only what failed. Resolves once every group has settled, with the error of recording
   * progress, if any.
   */
  private async produceGroups(
    groups: readonly LeaderGroup<OutRecord>[],
    records: readonly OutRecord[],
    rejected: readonly { payload: Payload }[],
    ctx: SendContext,
  ): Promise<{ outcomes: GroupOutcome[]; progressError?: unknown }> {
    const accepted = new Set<OutRecord>();
    const rest = () => mergePayloads([...records.filter((r) => !accepted.has(r)).map((r) => r.payload), ...rejected.map((r) => r.payload)]);
    // One progress at a time, each with what is left when it runs (nothing, when the other groups
    // were acknowledged meanwhile: the send is about to resolve).
    let recorded: Promise<void> = Promise.resolve();
    const outcomes = await Promise.all(
      groups.map(async (g) => {
        const o = await this.produce(g.records, g.partitions, ctx);
        const notWritten = new Set<OutRecord>(o.retry);
        for (const r of o.rejected) notWritten.add(r.record);
        const before = accepted.size;
        for (const r of g.records) if (!notWritten.has(r)) accepted.add(r);
        if (accepted.size > before && (accepted.size < records.length || rejected.length > 0)) {
          recorded = recorded.then(() => {
            const left = rest();
            return left && ctx.progress(left);
          });
        }
        return o;
      }),
    );
    let progressError: unknown;
    await recorded.catch((err: unknown) => (progressError = err));
    return { outcomes, progressError };
  }

  /**
   * Sends the records in one request. When the broker refuses a record for good, sends them one
   * by one to tell the bad from the good; a transient failure then leaves the rest to retry.
   * `partitions[i]`: the partition of `records[i]` (undefined, or no list: kafkajs' partitioner).
   * Never rejects: a failure is in the outcome.
   */
  private async produce(records: readonly OutRecord[], partitions: readonly (number | undefined)[] | undefined, ctx: SendContext): Promise<GroupOutcome> {
    try {
      await this.sendRecords(records, partitions, ctx);
      return { rejected: [], retry: [] };
    } catch (err) {
      const kind = classifyKafkaError(err);
      if (kind !== 'record') return { rejected: [], retry: [...records], error: err, resetProducer: kind === 'producer' };
      if (records.length === 1) return { rejected: [{ record: records[0]!, reason: `kafka refused the record: ${kafkaErrorMessage(err)}` }], retry: [] };
    }
    const rejected: GroupOutcome['rejected'] = [];
    for (let i = 0; i < records.length; i++) {
      try {
        await this.sendRecords([records[i]!], partitions && [partitions[i]], ctx);
      } catch (err) {
        const kind = classifyKafkaError(err);
        if (kind === 'record') {
          rejected.push({ record: records[i]!, reason: `kafka refused the record: ${kafkaErrorMessage(err)}` });
          continue;
        }
        return { rejected, retry: records.slice(i), error: err, resetProducer: kind === 'producer' };
      }
    }
    return { rejected, retry: [] };
  }

  /**
   * One `sendBatch` of the records (to the partitions given, else kafkajs' choice), a request under
   * `timeout`. The producer writes only to partitions its own metadata knows and leaves out the
   * others without an error (a topic whose partitions were added after it last fetched metadata,
   * while ./leaders.ts already knows them): records given a partition the brokers did not
   * acknowledge are sent again, to kafkajs' choice of partition.
   */
  private async sendRecords(records: readonly OutRecord[], partitions: readonly (number | undefined)[] | undefined, ctx: SendContext): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    let explicit = false;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      let list = byTopic.get(r.topic);
      if (!list) byTopic.set(r.topic, (list = []));
      const partition = partitions?.[i];
      if (partition === undefined) list.push(r); // an OutRecord is a kafkajs Message: key, value, headers
      else {
        list.push({ key: r.key, value: r.value, headers: r.headers, partition });
        explicit = true;
      }
    }
    const send = async () => {
      await this.connect();
      return this.producer!.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        acks: this.cfg.producer.required_acks,
        timeout: this.cfg.request_timeout,
        compression: this.compression,
      });
    };
    // One PRODUCER span per send batch when own traces are on (./selftrace.ts).
    const topics = [...byTopic.keys()];
    const written = await ctx.request(() => this.track(inSpan(`send ${topics.length === 1 ? topics[0] : 'kafka'}`, SpanKind.PRODUCER, () => produceSpanAttributes(this.id, topics, records), () => produceSpanLinks(records), send)));
    if (!explicit || this.cfg.producer.required_acks === 0) return;
    const acknowledged = new Set(written.map((w) => `${w.partition}/${w.topicName}`));
    const unsent = records.filter((r, i) => partitions![i] !== undefined && !acknowledged.has(`${partitions![i]}/${r.topic}`));
    if (unsent.length === 0) return;
    this.leaders.invalidate();
    await this.sendRecords(unsent, undefined, ctx);
  }

  /** Keeps `request` in {@link inFlight} until it settles, and returns it. */
  private track<T>(request: Promise<T>): Promise<T> {
    this.inFlight.add(request);
    const done = () => void this.inFlight.delete(request);
    request.then(done, done);
    return request;
  }

  override async shutdown(): Promise<void> {
    await this.chain;
    this.stopped = true;
    await this.producer?.disconnect().catch(() => undefined);
    const admin = await this.admin?.catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
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

/** The partition of each of `records` in `groups` (which hold them), in their order; undefined when one was left to kafkajs. */
function partitionsOf(groups: readonly LeaderGroup<OutRecord>[], records: readonly OutRecord[]): number[] | undefined {
  const of = new Map<OutRecord, number | undefined>();
  for (const g of groups) g.records.forEach((r, i) => of.set(r, g.partitions?.[i]));
  const out: number[] = [];
  for (const r of records) {
    const partition = of.get(r);
    if (partition === undefined) return undefined;
    out.push(partition);
  }
  return out;
}
