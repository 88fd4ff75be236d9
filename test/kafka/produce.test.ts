/**
 * The Produce request encoder against kafkajs' own: the same bytes for any topics, partitions,
 * keys, values, headers, timestamps, producer state and compression; and kafkajs picks it up once
 * installed.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { kafkajs as loadKafkajs, useCompression } from '../../src/kafka/client.js';
import { produceRequestV3, type ProduceMessage, type ProduceRequestArgs } from '../../src/kafka/produce.js';
import { groupingInstalled, groupMessagesPerPartition, installProducerInternals, murmur2, PRODUCE_BODY_V3_VERSIONS } from '../../src/kafka/producer_internals.js';

const require = createRequire(import.meta.url);
const modulePath = require.resolve('kafkajs/src/protocol/requests/produce/v3/request');
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): unknown };

/** kafkajs' module at `path` as shipped, whatever the module cache holds now. */
function kafkajsModule(path: string): unknown {
  const cached = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as unknown;
  } finally {
    if (cached) require.cache[path] = cached;
    else delete require.cache[path];
  }
}

const bytes = (): fc.Arbitrary<string | Buffer | null> =>
  fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)), fc.constant(null));
const headerValue = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u)));
const message: fc.Arbitrary<ProduceMessage> = fc.record(
  {
    key: bytes(),
    value: bytes(),
    headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 })), { maxKeys: 4 }),
    timestamp: fc.oneof(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }).map(String)),
  },
  { requiredKeys: ['value'] },
);
const args = (compression: number): fc.Arbitrary<ProduceRequestArgs> =>
  fc.record({
    acks: fc.constantFrom(-1, 0, 1),
    timeout: fc.integer({ min: 0, max: 60_000 }),
    transactionalId: fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: null }),
    producerId: fc.bigInt({ min: -1n, max: 2n ** 62n }).map((v) => Long.fromValue(v)),
    producerEpoch: fc.integer({ min: 0, max: 32767 }),
    compression: fc.constant(compression),
    topicData: fc.array(
      fc.record({
        topic: fc.string({ minLength: 1, maxLength: 20 }),
        partitions: fc.array(fc.record({ partition: fc.nat(50), firstSequence: fc.nat(1_000_000), messages: fc.array(message, { minLength: 1, maxLength: 12 }) }), { minLength: 1, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  });

async function encoded(make: typeof produceRequestV3, a: ProduceRequestArgs): Promise<Buffer> {
  const e = await make(a).encode();
  return e.buf.subarray(0, e.offset);
}

describe('kafka Produce request encoder', () => {
  const kafkajs = kafkajsModule(modulePath) as typeof produceRequestV3;

  for (const [name, compression] of [
    ['uncompressed', useCompression('none')],
    ['gzip', useCompression('gzip')],
    ['lz4', useCompression('lz4')],
  ] as const) {
    it(`writes the bytes kafkajs writes, ${name}`, async (t) => {
      t.mock.method(Date, 'now', () => 1_700_000_000_123);
      await fc.assert(
        fc.asyncProperty(args(compression), async (a) => {
          const ours = await encoded(produceRequestV3, a);
          const theirs = await encoded(kafkajs, a);
          assert.ok(ours.equals(theirs), `${ours.length} bytes against kafkajs' ${theirs.length}`);
          const r = produceRequestV3(a);
          assert.deepEqual([r.apiKey, r.apiVersion, r.apiName, r.expectResponse()], [0, 3, 'Produce', a.acks !== 0]);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('takes the defaults kafkajs takes: no transactional id, producer id -1, messages without key, headers or timestamp', async (t) => {
    t.mock.method(Date, 'now', () => 1_700_000_000_123);
    const a = { acks: -1, timeout: 30000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v' }, { value: Buffer.from('w'), key: 'k' }] }] }] };
    assert.ok((await encoded(produceRequestV3, a)).equals(await encoded(kafkajs, a)));
  });

  it('groups messages by partition as kafkajs does', () => {
    const kafkajsGroup = kafkajsModule(require.resolve('kafkajs/src/producer/groupMessagesPerPartition')) as typeof groupMessagesPerPartition;
    fc.assert(
      fc.property(fc.array(fc.record({ value: fc.string(), key: fc.nat(30).map(String) }), { maxLength: 50 }), fc.integer({ min: 0, max: 5 }), (messages, partitions) => {
        const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i }));
        const partitioner = ({ message }: { message: ProduceMessage }) => Number(message.key) % Math.max(partitions, 1);
        assert.deepEqual(groupMessagesPerPartition({ topic: 't', partitionMetadata, messages, partitioner }), kafkajsGroup({ topic: 't', partitionMetadata, messages, partitioner }));
      }),
    );
  });

  it("hashes keys as kafkajs' murmur2 does, and kafkajs' default partitioner picks the same partitions with it", () => {
    const kafkajsMurmur2 = kafkajsModule(require.resolve('kafkajs/src/producer/partitioners/default/murmur2')) as typeof murmur2;
    const key = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), fc.constantFrom('', 'user-1', '7f3a9c1e-2b4d-4e8f-9a6b-1c2d3e4f5a6b'));
    fc.assert(
      fc.property(key, (k) => assert.equal(murmur2(k), kafkajsMurmur2(k))),
      { numRuns: 2000 },
    );
    for (const k of [null, undefined, 12345]) assert.equal(murmur2(k as never), kafkajsMurmur2(k as never));
    // Fixed figures, so a change to both would show.
    assert.equal(murmur2('21'), -973932308);
    assert.equal(murmur2('foobar'), -790332482);
    const { Partitioners } = loadKafkajs();
    const partitionMetadata = Array.from({ length: 6 }, (_, i) => ({ partitionId: i, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
    const partition = Partitioners.DefaultPartitioner();
    for (const k of ['21', 'foobar', 'user-1', 'a-much-longer-key-of-some-user']) {
      assert.equal(partition({ topic: 't', partitionMetadata, message: { key: k, value: 'v' } }), (murmur2(k) & 0x7fffffff) % 6);
    }
  });

  it('is what kafkajs uses, installed by the kafka client module before kafkajs loads', () => {
    assert.ok(groupingInstalled(), 'installed before kafkajs bound its producer modules');
    installProducerInternals();
    assert.equal(require(require.resolve('kafkajs/src/producer/groupMessagesPerPartition')), groupMessagesPerPartition);
    assert.equal(require(require.resolve('kafkajs/src/producer/partitioners/default/murmur2')), murmur2);
    const produce = require('kafkajs/src/protocol/requests/produce') as { protocol(v: { version: number }): (a: ProduceRequestArgs) => { request: { apiVersion: number; encode(): Promise<{ buf: Buffer }> } } };
    for (const version of PRODUCE_BODY_V3_VERSIONS) {
      const path = require.resolve(`kafkajs/src/protocol/requests/produce/v${version}/request`);
      if (version === 3) assert.equal(require(path), produceRequestV3);
      assert.notEqual(require(path), kafkajsModule(path), `v${version} is not kafkajs' own`);
      assert.equal(produce.protocol({ version })({ acks: 1, timeout: 1000, topicData: [] }).request.apiVersion, version);
    }
  });
});
