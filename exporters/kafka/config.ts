/**
 * Config of the `kafka` exporter. Names follow the collector's kafka exporter (`brokers`,
 * `client_id`, `topic`, `encoding`, `topic_from_attribute`, `partition_traces_by_id`,
 * `partition_logs_by_trace_id`, `traces::topic`, `logs::topic`, `auth::sasl`, `tls`,
 * `producer::max_message_bytes`, `producer::required_acks`, `producer::compression`) plus the
 * exporter helper's `timeout`, `sending_queue`, `retry_on_failure` and `dead_letter`.
 */
import { nonEmptyString, z } from '../../src/config/schema.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';
import { checkConnection, COMPRESSIONS, connectionShape, zodReporter } from '../../src/kafka/client.js';

/** Collector defaults: otlp_spans / otlp_logs; events get their own topic. */
export const DEFAULT_TOPICS = { traces: 'otlp_spans', logs: 'otlp_logs', events: 'otelytics_events' } as const;
/** Kafka's default `message.max.bytes` of a broker (1,000,000) and the collector's default. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;
/** Default record key of events: the (pseudonymous) user id, else the session id. */
export const DEFAULT_EVENT_KEY = ['user_id', 'session_id'];

const otlpEncoding = z.enum(['otlp_proto', 'otlp_json']);
const anyEncoding = z.enum(['otlp_proto', 'otlp_json', 'json']);

/** A path into an event: a top-level field, or `properties.`, `context.`, `user_properties.` + a name. */
const EVENT_FIELDS = new Set(['name', 'insert_id', 'user_id', 'device_id', 'session_id', 'time_unix_nano', 'category', 'privacy_level']);
export const eventPath = () =>
  nonEmptyString().refine((p) => EVENT_FIELDS.has(p) || /^(properties|context|user_properties)\..+/.test(p), {
    message: `must be an event field (${[...EVENT_FIELDS].join(', ')}) or properties.<name>, context.<name>, user_properties.<name>`,
  });

export const kafkaExporterSchema = z
  .strictObject({
    ...connectionShape,
    topic: nonEmptyString().optional().describe('Topic for every signal unless its own section names one. Omitted: otlp_spans, otlp_logs, otelytics_events.'),
    encoding: anyEncoding.optional().describe('Encoding for every signal unless its own section names one: otlp_proto, otlp_json, or json (applies to events; traces and logs then keep otlp_proto). Omitted: otlp_proto for traces and logs, json for events.'),
    topic_from_attribute: nonEmptyString().optional().describe('Take the topic from this resource attribute (traces, logs) or event context key, then property (events), when present. Omitted: off.'),
    partition_traces_by_id: z.boolean().default(false).describe('One record per trace id, keyed by the hex trace id, so a trace stays in one partition. Default false: one record per request, no key.'),
    partition_logs_by_trace_id: z.boolean().default(false).describe('One record per trace id of the log records, keyed by it (records without one share an unkeyed record). Default false.'),
    traces: z
      .strictObject({
        topic: nonEmptyString().optional().describe('Topic of spans. Default: `topic`, else otlp_spans.'),
        encoding: otlpEncoding.optional().describe('otlp_proto or otlp_json (an ExportTraceServiceRequest per record). Default: `encoding`, else otlp_proto.'),
      })
      .prefault({})
      .describe('Traces pipelines.'),
    logs: z
      .strictObject({
        topic: nonEmptyString().optional().describe('Topic of log records. Default: `topic`, else otlp_logs.'),
        encoding: otlpEncoding.optional().describe('otlp_proto or otlp_json (an ExportLogsServiceRequest per record). Default: `encoding`, else otlp_proto.'),
      })
      .prefault({})
      .describe('Logs pipelines.'),
    events: z
      .strictObject({
        topic: nonEmptyString().optional().describe('Topic of events. Default: `topic`, else otelytics_events.'),
        encoding: anyEncoding.optional().describe('json (the event model\'s fields), or otlp_proto / otlp_json (an ExportLogsServiceRequest holding the event as a log record). Default: `encoding`, else json.'),
        key: z
          .array(eventPath())
          .default(DEFAULT_EVENT_KEY)
          .describe('Record key: the first of these event fields that is set (e.g. user_id, session_id, properties.item_id). Default [user_id, session_id]; [] = no key.'),
      })
      .prefault({})
      .describe('Events pipelines: one record per event.'),
    producer: z
      .strictObject({
        max_message_bytes: z.number().int().positive().default(DEFAULT_MAX_MESSAGE_BYTES).describe('Largest record (value + key + headers, before compression), bytes; larger ones are refused for good. Default 1000000.'),
        required_acks: z
          .union([z.literal(-1), z.literal(0), z.literal(1)])
          .default(-1)
          .describe('-1: all in-sync replicas (and an idempotent producer); 1: the leader; 0: none. Default -1 (the collector defaults to 1).'),
        compression: z.enum(COMPRESSIONS).default('none').describe('none, gzip, snappy, lz4 or zstd. Default none.'),
      })
      .prefault({})
      .describe('Producer settings.'),
    ...exporterHelperShape,
  })
  .superRefine((cfg, ctx) => checkConnection(cfg, zodReporter(ctx)));

export type KafkaExporterConfig = z.infer<typeof kafkaExporterSchema>;

/** Topic and encoding per signal after defaults. */
export function signalSettings(cfg: KafkaExporterConfig, signal: 'traces' | 'logs' | 'events'): { topic: string; encoding: 'otlp_proto' | 'otlp_json' | 'json' } {
  const own = cfg[signal];
  return {
    topic: own.topic ?? cfg.topic ?? DEFAULT_TOPICS[signal],
    // A top-level `json` is about events; traces and logs then keep their OTLP default.
    encoding: own.encoding ?? (cfg.encoding === 'json' && signal !== 'events' ? undefined : cfg.encoding) ?? (signal === 'events' ? 'json' : 'otlp_proto'),
  };
}
