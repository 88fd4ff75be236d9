/**
 * Config of the `kafka` receiver, with the collector's kafka receiver names (`brokers`,
 * `client_id`, `group_id`, `initial_offset`, `traces::topics`, `logs::topics`, `encoding`,
 * `session_timeout`, `heartbeat_interval`, `min_fetch_size`, `max_fetch_size`,
 * `max_partition_fetch_size`, `max_fetch_wait`, `auth::sasl`, `tls`) and an `events` section
 * for topics of analytics events.
 */
import { duration, nonEmptyString, z } from '../../src/config/schema.js';
import { checkConnection, connectionShape, zodReporter } from '../../src/kafka/client.js';
import { DEFAULT_TOPICS } from '../../exporters/kafka/config.js';

const topics = (def: string) =>
  z
    .array(nonEmptyString())
    .min(1, { message: 'must list at least one topic' })
    .default([def])
    .describe(`Topics to consume. Default [${def}].`);

const otlpEncoding = z.enum(['otlp_proto', 'otlp_json']).default('otlp_proto');

export const kafkaReceiverSchema = z
  .strictObject({
    ...connectionShape,
    group_id: nonEmptyString().default('otelytics').describe('Consumer group: receivers with the same group share the partitions. Default "otelytics".'),
    initial_offset: z.enum(['latest', 'earliest']).default('latest').describe('Where a group without a committed offset starts: latest or earliest. Default latest.'),
    traces: z
      .strictObject({ topics: topics(DEFAULT_TOPICS.traces), encoding: otlpEncoding.describe('otlp_proto or otlp_json: an ExportTraceServiceRequest per record. Default otlp_proto.') })
      .optional()
      .describe('Topics of spans (into traces and events pipelines). Omitted: none.'),
    logs: z
      .strictObject({ topics: topics(DEFAULT_TOPICS.logs), encoding: otlpEncoding.describe('otlp_proto or otlp_json: an ExportLogsServiceRequest per record. Default otlp_proto.') })
      .optional()
      .describe('Topics of log records (into logs and events pipelines). Omitted: none.'),
    events: z
      .strictObject({
        topics: topics(DEFAULT_TOPICS.events),
        encoding: z
          .enum(['json', 'otlp_proto', 'otlp_json'])
          .default('json')
          .describe('json (an event, or an array of events, with the event model\'s fields) or otlp_proto / otlp_json (events as OTLP log records). Default json.'),
      })
      .optional()
      .describe('Topics of analytics events (into events pipelines). Omitted: none.'),
    session_timeout: duration('10s').describe('The group coordinator drops a member silent this long. Default 10s.'),
    heartbeat_interval: duration('3s').describe('Heartbeats to the group coordinator. Default 3s.'),
    min_fetch_size: z.number().int().positive().default(1).describe('Bytes a fetch waits for (up to max_fetch_wait). Default 1.'),
    max_fetch_size: z.number().int().positive().default(10_485_760).describe('Largest fetch response, bytes. Default 10485760.'),
    max_partition_fetch_size: z.number().int().positive().default(1_048_576).describe('Largest part of a fetch from one partition, bytes (a larger single batch is still returned). Default 1048576.'),
    max_fetch_wait: duration('250ms').describe('Longest the broker holds a fetch waiting for min_fetch_size. Default 250ms.'),
    lag_interval: duration('5s').describe("How often the group's lag per partition (high watermark minus committed offset) is read from the brokers for otelytics_kafka_receiver_lag and the status page. 0: never. Default 5s."),
  })
  .superRefine((cfg, ctx) => {
    checkConnection(cfg, zodReporter(ctx));
    if (!cfg.traces && !cfg.logs && !cfg.events) {
      ctx.addIssue({ code: 'custom', path: [], message: 'name what to consume: a traces, logs or events section (e.g. `traces: { topics: [otlp_spans] }`)' });
    }
    const seen = new Map<string, string>();
    for (const s of ['traces', 'logs', 'events'] as const) {
      for (const t of cfg[s]?.topics ?? []) {
        const other = seen.get(t);
        if (other) ctx.addIssue({ code: 'custom', path: [s, 'topics'], message: `topic ${t} is already read as ${other}; a topic carries one kind of data` });
        seen.set(t, s);
      }
    }
    if (cfg.heartbeat_interval >= cfg.session_timeout) ctx.addIssue({ code: 'custom', path: ['heartbeat_interval'], message: 'must be shorter than session_timeout' });
  });

export type KafkaReceiverConfig = z.infer<typeof kafkaReceiverSchema>;
