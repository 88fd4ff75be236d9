/**
 * The kafka exporter's send against stand-in brokers (a producer and an admin client that answer
 * as the test says): one request per leader broker; after each acknowledged one, what is left is
 * recorded, so a failed broker leaves only its own records to retry; records the producer left
 * out are sent again; one leader means one request, with each record's partition. The real thing, with brokers
 * stopped and started: cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, RecordMetadata, TopicMessages } from 'kafkajs';
import type { Payload } from '../../../src/component.js';
import { PartialFailure } from '../../../src/errors.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import type { SendContext } from '../../../src/delivery/sender.js';
import { kafkajs } from '../../../src/kafka/client.js';
import { kafkaExporterFactory } from '../../../exporters/kafka/index.js';
import { sendContext } from '../../delivery/send-context.js';
import { eventsOf, fixtureData, settings } from './kafka-helpers.js';

const TOPIC = 'ev';
const base = eventsOf(fixtureData());
const event = (i: number): AnalyticsEvent => ({ ...base[i % base.length]!, insert_id: `ev-${i}`, user_id: `user-${i % 40}` });
const events = (n: number) => Array.from({ length: n }, (_, i) => event(i));
const ids = (p: Payload | undefined) => (p?.data as AnalyticsEvent[] | undefined)?.map((e) => e.insert_id) ?? [];

/** Where kafkajs' partitioner puts an event's record among `partitions`. */
function partitionOf(e: AnalyticsEvent, partitions: number): number {
  const metadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [], isr: [] }));
  return kafkajs().Partitioners.DefaultPartitioner()({ topic: TOPIC, partitionMetadata: metadata, message: { key: e.user_id!, value: '' } });
}

interface Broker {
  /** Fails every request with this error, when set. */
  fail?: Error & { type?: string };
  /** Answers after this many milliseconds; 0 (default): at once. */
  delay?: number;
}

/**
 * An exporter whose producer and admin client are stand-ins: partition `p` of the topic is led by
 * `leaders[p]`; `brokers` says how each answers; `leaveOut` partitions are left out of the
 * producer's answers, as kafkajs does for partitions its metadata does not know.
 */
function standIn(leaders: number[], brokers: Record<number, Broker> = {}, leaveOut: number[] = []) {
  /** Every request: the brokers it went to, its messages, whether it was acknowledged. */
  const calls: { brokers: number[]; messages: { id: string; partition: number | undefined }[]; ok: boolean }[] = [];
  const sendBatch = async ({ topicMessages }: { topicMessages: TopicMessages[] }): Promise<RecordMetadata[]> => {
    const messages = topicMessages.flatMap((t) =>
      t.messages.map((m: Message) => {
        const e = JSON.parse(String(m.value)) as AnalyticsEvent;
        // Without a partition, where kafkajs would put it.
        return { id: e.insert_id, partition: m.partition, to: m.partition ?? partitionOf(e, leaders.length), value: String(m.value) };
      }),
    );
    const to = [...new Set(messages.map((m) => leaders[m.to]!))];
    const call = { brokers: to, messages: messages.map(({ id, partition }) => ({ id, partition })), ok: false };
    calls.push(call);
    const delay = Math.max(0, ...to.map((b) => brokers[b]?.delay ?? 0));
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const failing = to.map((b) => brokers[b]?.fail).find((f) => f);
    if (failing) throw failing;
    const bad = messages.find((m) => m.value.includes('"bad"'));
    if (bad) throw Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE' });
    const written = [...new Set(messages.map((m) => m.to))].filter((p) => !leaveOut.includes(p));
    call.ok = true;
    return written.map((partition) => ({ topicName: TOPIC, partition, errorCode: 0 }));
  };
  const admin = {
    fetchTopicMetadata: async () => ({ topics: [{ name: TOPIC, partitions: leaders.map((leader, partitionId) => ({ partitionErrorCode: 0, partitionId, leader, replicas: [leader], isr: [leader] })) }] }),
    disconnect: async () => undefined,
  };
  const cfg = kafkaExporterFactory.configSchema.parse({ brokers: ['127.0.0.1:9'], events: { topic: TOPIC } });
  const ex = kafkaExporterFactory.create(settings('kafka/stand-in'), cfg);
  Object.assign(ex, { producer: { sendBatch, disconnect: async () => undefined }, connecting: Promise.resolve(), admin: Promise.resolve(admin) });
  const send = (p: Payload, ctx: SendContext) => (ex as unknown as { send(p: Payload, ctx: SendContext): Promise<void> }).send(p, ctx);
  return { send, calls };
}

const down = () => Object.assign(new Error('There is no leader for this topic-partition as we are in the middle of a leadership election'), { name: 'KafkaJSNumberOfRetriesExceeded' });

describe('kafka exporter: progress per leader broker', () => {
  it('sends one request per leader at once; when one fails, the other\'s events are recorded as done and only the failed one\'s are retried', async () => {
    const leaders = [1, 2, 1, 2];
    const { send, calls } = standIn(leaders, { 2: { fail: down() } });
    const batch = events(200);
    const onBroker = (b: number) => batch.filter((e) => leaders[partitionOf(e, 4)] === b).map((e) => e.insert_id);
    assert.ok(onBroker(1).length > 0 && onBroker(2).length > 0);
    const ctx = sendContext();
    const err = await send({ signal: 'events', data: batch }, ctx).then(
      () => assert.fail('broker 2 failed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PartialFailure, String(err));
    assert.match(err.message, /^kafka: \d+ of 200 record\(s\) written, \d+ left to retry: .*no leader/);
    assert.deepEqual(err.rejected, []);
    assert.deepEqual(ids(err.retry as Payload), onBroker(2), "broker 2's events, in order, to retry");
    assert.deepEqual(ctx.progressed.map(ids), [onBroker(2)], 'recorded once broker 1 acknowledged');
    assert.deepEqual(calls.map((c) => c.brokers).sort(), [[1], [2]], 'one request per broker');
    assert.deepEqual(calls.find((c) => c.brokers[0] === 1)!.messages.map((m) => m.id), onBroker(1));
    for (const c of calls) for (const m of c.messages) assert.equal(m.partition, partitionOf(batch.find((e) => e.insert_id === m.id)!, 4), 'the partition kafkajs would choose');

    // The retry sends broker 2's events only.
    const again = standIn(leaders);
    await again.send(err.retry as Payload, sendContext());
    assert.deepEqual(again.calls.map((c) => c.brokers), [[2]]);
    assert.deepEqual(again.calls[0]!.messages.map((m) => m.id), onBroker(2));
  });

  it('records what is left after each acknowledgement, and nothing once all are in, in whatever order they come', async () => {
    for (const delays of [
      [0, 0],
      [0, 20],
      [20, 0],
    ]) {
      const { send, calls } = standIn([1, 2, 1, 2], { 1: { delay: delays[0] }, 2: { delay: delays[1] } });
      const ctx = sendContext();
      await send({ signal: 'events', data: events(100) }, ctx);
      assert.equal(calls.length, 2);
      assert.ok(ctx.progressed.length <= 1, `${ctx.progressed.length} progress calls`);
      // The one acknowledged last: the slower broker, or, answering alike, either.
      const last = calls.filter((c) => delays[0] === delays[1] || c.brokers[0] === (delays[0]! > delays[1]! ? 1 : 2)).map((c) => c.messages.map((m) => m.id));
      for (const p of ctx.progressed) assert.ok(last.some((l) => JSON.stringify(l) === JSON.stringify(ids(p))), `what the broker acknowledged last had not acknowledged yet (delays ${delays.join(', ')})`);
    }
  });

  it('refuses a record a broker refuses for good, and sends the rest of every group', async () => {
    const { send, calls } = standIn([1, 2, 1, 2]);
    const batch = events(40);
    batch[7] = { ...batch[7]!, properties: { ...batch[7]!.properties, size: 'bad' } };
    const ctx = sendContext();
    const err = await send({ signal: 'events', data: batch }, ctx).then(
      () => assert.fail('refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PartialFailure, String(err));
    assert.deepEqual(err.rejected.map((r) => ids(r.payload as Payload)), [[batch[7]!.insert_id]]);
    assert.match(err.rejected[0]!.reason, /MESSAGE|larger than the max message size/);
    assert.equal(err.retry, undefined);
    const written = calls.filter((c) => c.ok).flatMap((c) => c.messages.map((m) => m.id));
    assert.deepEqual(written.sort(), batch.filter((_, i) => i !== 7).map((e) => e.insert_id).sort(), 'every other record once');
  });

  it('sends again, to kafkajs\' choice of partition, the records of partitions the producer left out', async () => {
    const { send, calls } = standIn([1, 2, 1, 2], {}, [3]);
    const batch = events(100);
    const onThree = batch.filter((e) => partitionOf(e, 4) === 3).map((e) => e.insert_id);
    assert.ok(onThree.length > 0);
    await send({ signal: 'events', data: batch }, sendContext());
    const resent = calls.find((c) => c.messages.every((m) => m.partition === undefined))!;
    assert.ok(resent, 'a request without partitions');
    assert.deepEqual(resent.messages.map((m) => m.id), onThree);
  });

  it('sends one request when one broker leads every partition, each record with its partition, and records no progress', async () => {
    const { send, calls } = standIn([1, 1, 1]);
    const ctx = sendContext();
    await send({ signal: 'events', data: events(50) }, ctx);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.messages.length, 50);
    assert.deepEqual(new Set(calls[0]!.messages.map((m) => m.partition)), new Set([0, 1, 2]), 'partitions given, so a retry inside kafkajs sends the same batch');
    assert.deepEqual(ctx.progressed, []);
  });
});
