/**
 * The `kafka` receiver: a consumer group member that reads spans, log records or events from
 * Kafka topics into pipelines (kafkajs).
 *
 * At-least-once: a batch of records (one partition's share of a fetch) is decoded into one payload
 * and handed to the pipeline; its offsets are resolved and committed only after the pipeline
 * accepted it. When the pipeline refuses with a `RetryableError` (a full queue, memory limit), the
 * partition is paused, and after a back-off (the error's `retryAfterMillis`, else 100 ms doubling
 * to 5 s) resumed from the last committed record, so the same records are read again: nothing is
 * buffered meanwhile. Records that cannot be decoded, and batches the pipeline refuses for good
 * (`PermanentError`), are logged with their topic, partition and offset, counted as refused
 * (`otelcol_receiver_refused_*{transport="kafka"}`) and committed past, so one bad record cannot
 * block a partition.
 *
 * `otelytics_kafka_consumer_lag{receiver,topic,partition}` is set per batch to the partition's high
 * watermark minus the next offset to process (after the batch when the pipeline took it or refused
 * it for good, its first offset when it will be read again).
 *
 * `otelytics_kafka_receiver_lag{receiver,group,topic,partition}` is the group's view, off the hot
 * path: every `lag_interval` an admin connection reads the group's committed offsets and the
 * topics' high watermarks, for every partition whichever member holds it (a partition of a member
 * that died shows its lag growing until the group gives it to another one);
 * `otelytics_kafka_receiver_partition_assigned` tells which of them this member holds.
 */
import type { Admin, Consumer as KafkaConsumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { Consumer, Payload, ReceiverFactory, Signal } from '../../src/component.js';
import { itemCount } from '../../src/component.js';
import { errorMessage, isPermanent, isRetryable } from '../../src/errors.js';
import type { AnalyticsEvent } from '../../src/event.js';
import type { ResourceLogs, ResourceSpans } from '../../src/pdata.js';
import type { Telemetry } from '../../src/telemetry.js';
import { connectionSetupFailure, createKafka, kafkaErrorMessage, kafkaErrorType, useAllCodecs } from '../../src/kafka/client.js';
import { kafkaReceiverSchema, type KafkaReceiverConfig } from './config.js';
import { decodeEvents, decodeLogs, decodeTraces, headerString, type Encoding, type SectionSignal } from './decode.js';
import { consumeSpanContext } from './selftrace.js';
import { inSpan, selfTracingEnabled, SpanKind } from '../../src/selftrace.js';

/** Back-off after a retryable refusal when the pipeline names no delay: 100 ms doubling to 5 s. */
const BACKOFF_INITIAL_MILLIS = 100;
const BACKOFF_MAX_MILLIS = 5000;

const CONSUMER_RETRY = { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 };
/** Longest the start waits for topics that do not exist yet. */
const TOPIC_WAIT_MILLIS = 15_000;

interface Section {
  signal: SectionSignal;
  encoding: Encoding;
  consumer: Consumer;
}

export class KafkaReceiver {
  private consumer: KafkaConsumer | undefined;
  private readonly sections = new Map<string, Section>();
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private admin: Admin | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private lagRunning = false;
  /** Partitions this member holds, by topic (from the last group join). */
  private assigned = new Map<string, Set<number>>();

  constructor(
    private readonly id: string,
    private readonly cfg: KafkaReceiverConfig,
    private readonly consumers: Partial<Record<Signal, Consumer>>,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry,
  ) {}

  async start(): Promise<void> {
    for (const signal of ['traces', 'logs', 'events'] as const) {
      const consumer = this.consumers[signal];
      if (!consumer) continue;
      const section = this.cfg[signal];
      if (!section) throw new Error(`it feeds a ${signal} pipeline but has no ${signal} section naming the topics to read`);
      for (const topic of section.topics) this.sections.set(topic, { signal, encoding: section.encoding, consumer });
    }
    if (this.sections.size === 0) throw new Error('no topic to read for the pipelines it feeds');
    useAllCodecs();
    // A TLS or SASL setting the brokers refuse fails the start at once, not after the client's retries.
    const refused = await connectionSetupFailure(this.cfg, this.logger, `receivers::${this.id}`);
    if (refused) throw new Error(`cannot consume from ${this.cfg.brokers.join(',')}: ${kafkaErrorMessage(refused)}`);
    // Topics that do not exist yet (auto-created on first use, or by the producer side starting
    // later) answer UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE for a moment: wait for them.
    const deadline = Date.now() + TOPIC_WAIT_MILLIS;
    for (;;) {
      const consumer = this.newConsumer();
      this.consumer = consumer;
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...this.sections.keys()], fromBeginning: this.cfg.initial_offset === 'earliest' });
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
        break;
      } catch (err) {
        await consumer.disconnect().catch(() => undefined);
        const type = kafkaErrorType(err);
        if ((type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'LEADER_NOT_AVAILABLE') && Date.now() < deadline && !this.stopping) {
          this.logger.debug({ err: kafkaErrorMessage(err) }, 'topics not ready yet; retrying');
          await new Promise((r) => setTimeout(r, 300));
          continue;
        }
        throw new Error(`cannot consume from ${this.cfg.brokers.join(',')}: ${kafkaErrorMessage(err)}`);
      }
    }
    this.logger.info({ brokers: this.cfg.brokers, group_id: this.cfg.group_id, topics: [...this.sections.keys()] }, 'Kafka receiver consuming');
    if (this.cfg.lag_interval > 0) {
      this.lagTimer = setInterval(() => void this.readLag(), this.cfg.lag_interval);
      this.lagTimer.unref();
    }
  }

  /**
   * Reads the group's committed offsets and the high watermarks of its topics over an admin
   * connection of its own and sets `otelytics_kafka_receiver_lag` per partition. A partition
   * without a committed offset counts from the start of the topic with `initial_offset: earliest`
   * (low watermark), else as caught up. One read at a time; failures are logged at debug level
   * and the next interval tries again.
   */
  async readLag(): Promise<void> {
    if (this.lagRunning || this.stopping) return;
    this.lagRunning = true;
    try {
      if (!this.admin) {
        const admin = createKafka(this.cfg, this.logger, CONSUMER_RETRY, `receivers::${this.id}`).admin({ retry: { retries: 2 } });
        this.admin = admin;
        await admin.connect().catch((err: unknown) => {
          this.admin = undefined;
          throw err;
        });
        if (this.stopping) return;
      }
      const topics = [...this.sections.keys()];
      const committed = new Map<string, Map<number, bigint>>();
      for (const t of await this.admin.fetchOffsets({ groupId: this.cfg.group_id, topics })) committed.set(t.topic, new Map(t.partitions.map((p) => [p.partition, BigInt(p.offset)])));
      for (const topic of topics) {
        const held = this.assigned.get(topic);
        for (const p of await this.admin.fetchTopicOffsets(topic)) {
          const high = BigInt(p.high);
          const c = committed.get(topic)?.get(p.partition) ?? -1n;
          const from = c >= 0n ? c : this.cfg.initial_offset === 'earliest' ? BigInt(p.low) : high;
          const lag = Number(high > from ? high - from : 0n);
          this.telemetry.kafkaReceiverLag(this.id, this.cfg.group_id, topic, p.partition, lag);
          this.telemetry.kafkaReceiverAssigned(this.id, topic, p.partition, held?.has(p.partition) ?? false);
        }
      }
    } catch (err) {
      this.logger.debug({ err: kafkaErrorMessage(err) }, 'cannot read the consumer group lag yet');
    } finally {
      this.lagRunning = false;
    }
  }

  private newConsumer(): KafkaConsumer {
    const kafka = createKafka(this.cfg, this.logger, CONSUMER_RETRY, `receivers::${this.id}`);
    const consumer = kafka.consumer({
      groupId: this.cfg.group_id,
      sessionTimeout: this.cfg.session_timeout,
      heartbeatInterval: this.cfg.heartbeat_interval,
      minBytes: this.cfg.min_fetch_size,
      maxBytes: this.cfg.max_fetch_size,
      maxBytesPerPartition: this.cfg.max_partition_fetch_size,
      maxWaitTimeInMs: this.cfg.max_fetch_wait,
      allowAutoTopicCreation: true,
      retry: { ...CONSUMER_RETRY, restartOnFailure: async () => !this.stopping },
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.assigned = new Map(Object.entries(e.payload.memberAssignment).map(([topic, partitions]) => [topic, new Set(partitions)]));
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!this.stopping) this.logger.warn({ err: kafkaErrorMessage(e.payload.error), restart: e.payload.restart }, 'kafka consumer stopped on an error');
    });
    return consumer;
  }

  private async onBatch({ batch, resolveOffset, commitOffsetsIfNecessary, pause, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const section = this.sections.get(batch.topic);
    if (!section || batch.messages.length === 0) return;
    const { payload, bad } = this.decodeBatch(batch.topic, batch.partition, batch.messages, section);
    if (bad > 0) this.telemetry.receiverRefused(this.id, 'kafka', section.signal, bad);
    const tp = `${batch.topic}/${batch.partition}`;
    const n = payload ? itemCount(payload) : 0;
    if (payload && n > 0) {
      try {
        // One CONSUMER span per batch when own traces are on (./selftrace.ts).
        const sc = selfTracingEnabled() ? consumeSpanContext(this.id, batch.topic, batch.partition, batch.messages) : undefined;
        await inSpan(`process ${batch.topic}`, SpanKind.CONSUMER, () => sc?.attributes ?? {}, () => sc?.links ?? [], () => section.consumer.consume(payload), sc?.parent);
        this.telemetry.receiverAccepted(this.id, 'kafka', section.signal, n);
      } catch (err) {
        if (isPermanent(err)) {
          this.telemetry.receiverRefused(this.id, 'kafka', section.signal, n);
          this.logger.error({ topic: batch.topic, partition: batch.partition, first_offset: batch.firstOffset(), last_offset: batch.lastOffset(), err: errorMessage(err) }, 'pipeline refused records for good; skipping them');
        } else {
          // Retryable (or unexpected): read the same records again later; commit nothing.
          if (!isRunning() || isStale()) return;
          const attempt = (this.attempts.get(tp) ?? 0) + 1;
          this.attempts.set(tp, attempt);
          const suggested = isRetryable(err) ? err.retryAfterMillis : undefined;
          const wait = suggested ?? Math.min(BACKOFF_INITIAL_MILLIS * 2 ** (attempt - 1), BACKOFF_MAX_MILLIS);
          if (!isRetryable(err)) this.logger.error({ topic: batch.topic, partition: batch.partition, err: errorMessage(err) }, 'pipeline failed on records; retrying them');
          else this.logger.debug({ topic: batch.topic, partition: batch.partition, wait_ms: wait, err: errorMessage(err) }, 'pipeline refused records for now; pausing the partition');
          this.setLag(batch.topic, batch.partition, batch.highWatermark, batch.firstOffset());
          const resume = pause();
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            if (!this.stopping) resume();
          }, wait);
          this.timers.add(timer);
          return;
        }
      }
    }
    this.attempts.delete(tp);
    resolveOffset(batch.lastOffset());
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    this.setLag(batch.topic, batch.partition, batch.highWatermark, next);
    try {
      await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
    } catch (err) {
      // The records were accepted; the next commit of this partition covers them. Should the
      // partition move to another member first, that member reads them again (at least once).
      this.logger.warn({ topic: batch.topic, partition: batch.partition, offset: next, err: kafkaErrorMessage(err) }, 'cannot commit the offset yet');
    }
  }

  /** Sets the lag gauge: `highWatermark` − `nextOffset` (offsets as kafkajs gives them, decimal strings), never below 0. */
  private setLag(topic: string, partition: number, highWatermark: string, nextOffset: string | null): void {
    if (nextOffset === null) return;
    const lag = Number(highWatermark) - Number(nextOffset);
    if (Number.isFinite(lag)) this.telemetry.kafkaConsumerLag(this.id, topic, partition, Math.max(0, lag));
  }

  /** Decodes every record of a batch into one payload; undecodable records are logged and counted. */
  private decodeBatch(topic: string, partition: number, messages: KafkaMessage[], section: Section): { payload: Payload | undefined; bad: number } {
    let bad = 0;
    const spans: ResourceSpans[] = [];
    const logs: ResourceLogs[] = [];
    const events: AnalyticsEvent[] = [];
    for (const m of messages) {
      if (!m.value || m.value.length === 0) continue; // a tombstone carries no data
      const where = `${topic}/${partition}@${m.offset}`;
      try {
        if (section.signal === 'traces') spans.push(...decodeTraces(m.value, section.encoding).resourceSpans);
        else if (section.signal === 'logs') logs.push(...decodeLogs(m.value, section.encoding).resourceLogs);
        else events.push(...decodeEvents(m.value, section.encoding, headerString(m.headers?.traceparent), where));
      } catch (err) {
        bad++;
        this.logger.warn({ topic, partition, offset: m.offset, encoding: section.encoding, err: errorMessage(err) }, 'cannot decode a Kafka record; skipping it');
      }
    }
    let payload: Payload | undefined;
    if (section.signal === 'traces') payload = spans.length ? { signal: 'traces', data: { resourceSpans: spans } } : undefined;
    else if (section.signal === 'logs') payload = logs.length ? { signal: 'logs', data: { resourceLogs: logs } } : undefined;
    else payload = events.length ? { signal: 'events', data: events } : undefined;
    return { payload, bad };
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.lagTimer);
    await this.admin?.disconnect().catch(() => undefined);
    await this.consumer?.disconnect().catch((err: unknown) => this.logger.warn({ err: kafkaErrorMessage(err) }, 'kafka consumer did not leave the group cleanly'));
  }
}

export const kafkaReceiverFactory: ReceiverFactory<KafkaReceiverConfig> = {
  kind: 'receiver',
  type: 'kafka',
  description: 'Consumes spans, log records (OTLP protobuf/JSON) or events from Kafka topics as a consumer group member; commits after the pipeline accepted',
  configSchema: kafkaReceiverSchema,
  pipelineSignals: ['traces', 'logs', 'events'],
  outputs(signal, cfg) {
    if (signal !== 'events') return [signal];
    return (['traces', 'logs', 'events'] as const).filter((s) => cfg[s] !== undefined);
  },
  create: (settings, config, consumers) => new KafkaReceiver(settings.id, config, consumers, settings.logger, settings.telemetry),
};
