/**
 * Attributes and links of the kafka exporter's PRODUCER span (one per send batch) when the
 * gateway's own traces are on (src/selftrace.ts). Attribute names follow the OpenTelemetry
 * messaging semantic conventions for Kafka
 * (https://opentelemetry.io/docs/specs/semconv/messaging/kafka/).
 */
import type { Attributes, Link } from '@opentelemetry/api';
import { LinkSet } from '../../src/selftrace.js';
import type { OutRecord } from './records.js';
import { parseTraceparent } from '../../src/kafka/traceparent.js';

/**
 * `messaging.system: kafka`, `messaging.operation.type: send`, `messaging.operation.name: send`,
 * `messaging.destination.name` (when the batch goes to one topic), `messaging.batch.message_count`,
 * and `messaging.kafka.message.key` when every record of the batch has the same key.
 */
export function produceSpanAttributes(exporter: string, topics: readonly string[], records: readonly OutRecord[]): Attributes {
  const a: Attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
    'messaging.batch.message_count': records.length,
    'otelytics.exporter': exporter,
  };
  if (topics.length === 1) a['messaging.destination.name'] = topics[0];
  const key = records[0]?.key;
  if (key != null && records.every((r) => r.key === key)) a['messaging.kafka.message.key'] = key;
  return a;
}

/** Links to the user spans named by the records' `traceparent` headers (one per trace). */
export function produceSpanLinks(records: readonly OutRecord[]): Link[] {
  const links = new LinkSet();
  for (const r of records) {
    const tp = r.headers.traceparent ? parseTraceparent(r.headers.traceparent) : undefined;
    if (tp) links.add(tp.traceId, tp.spanId, tp.flags);
  }
  return links.links;
}
