/**
 * The kafka receiver's CONSUMER span (one per batch handed to the pipeline) when the gateway's
 * own traces are on (src/selftrace.ts). Attribute names follow the OpenTelemetry messaging
 * semantic conventions for Kafka (https://opentelemetry.io/docs/specs/semconv/messaging/kafka/).
 *
 * Context: the records' W3C `traceparent` headers. When every record of the batch names the same
 * span, the consume span is its child (one trace continues across the hop); otherwise it links
 * to each distinct span, one per trace (semantic conventions: batch receiving uses links).
 */
import type { Attributes, Context, Link } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { LinkSet, remoteParent } from '../../src/selftrace.js';
import { parseTraceparent } from '../../src/kafka/traceparent.js';
import { headerString } from './decode.js';

export interface ConsumeSpanContext {
  attributes: Attributes;
  links: Link[];
  parent: Context | undefined;
}

export function consumeSpanContext(receiver: string, topic: string, partition: number, messages: readonly KafkaMessage[]): ConsumeSpanContext {
  const attributes: Attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': topic,
    'messaging.destination.partition.id': String(partition),
    'messaging.batch.message_count': messages.length,
    'otelytics.receiver': receiver,
  };
  if (messages.length > 0) attributes['messaging.kafka.offset'] = Number(messages[0]!.offset);
  const distinct = new Map<string, { traceId: string; spanId: string; flags: number }>();
  for (const m of messages) {
    const h = headerString(m.headers?.traceparent);
    const tp = h ? parseTraceparent(h) : undefined;
    if (tp && !distinct.has(`${tp.traceId}-${tp.spanId}`)) distinct.set(`${tp.traceId}-${tp.spanId}`, tp);
  }
  if (distinct.size === 1) {
    const [tp] = distinct.values();
    return { attributes, links: [], parent: remoteParent({ traceId: tp!.traceId, spanId: tp!.spanId, traceFlags: tp!.flags & 0xff }) };
  }
  const links = new LinkSet();
  for (const tp of distinct.values()) links.add(tp.traceId, tp.spanId, tp.flags);
  return { attributes, links: links.links, parent: undefined };
}
