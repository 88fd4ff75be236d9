/**
 * The split of a batch into one group per leader broker (exporters/kafka/leaders.ts), with
 * metadata from a stand-in for the brokers: each record goes where kafkajs would put it, a key
 * keeps its partition and group, one leader makes one group with the partitions given, none known
 * one group left to kafkajs, and leaders that cannot be fetched again stay as they were.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ITopicMetadata, PartitionMetadata } from 'kafkajs';
import { kafkajs } from '../../../src/kafka/client.js';
import { METADATA_MAX_AGE_MILLIS, MIN_REFRESH_MILLIS, TopicLeaders } from '../../../exporters/kafka/leaders.js';

interface Rec {
  topic: string;
  key: string | null;
  value: string;
}

function partitions(leaders: number[]): PartitionMetadata[] {
  return leaders.map((leader, partitionId) => ({ partitionErrorCode: 0, partitionId, leader, replicas: [leader], isr: [leader] }));
}

/** Brokers whose answers the test sets: `topics` by name; a name missing fails the fetch. */
function brokers(topics: Record<string, number[]>) {
  const state = { topics, fetches: 0, clock: 1_000_000 };
  const fetch = async (topic: string): Promise<ITopicMetadata> => {
    state.fetches++;
    const leaders = state.topics[topic];
    if (!leaders) throw new Error('LEADER_NOT_AVAILABLE');
    return { name: topic, partitions: partitions(leaders) };
  };
  const leaders = new TopicLeaders(fetch, kafkajs().Partitioners.DefaultPartitioner, () => undefined, () => state.clock);
  return { state, leaders };
}

const flush = () => new Promise((r) => setImmediate(r));

/** As the exporter groups: after waiting for the first fetch of new topics. */
async function grouped<R extends Rec>(leaders: TopicLeaders, records: R[]) {
  await leaders.load(records);
  return leaders.group(records);
}

/** kafkajs' own choice for a keyed record (its DefaultPartitioner, from fresh state). */
function kafkajsPartition(topic: string, key: string, leaders: number[]): number {
  return kafkajs().Partitioners.DefaultPartitioner()({ topic, partitionMetadata: partitions(leaders), message: { key, value: 'x' } });
}

describe('kafka exporter: groups by leader broker', () => {
  it('puts each keyed record in the group of its partition\'s leader, in order, as kafkajs partitions it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 8 }).filter((l) => new Set(l).size > 1),
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 200 }),
        async (leaderOf, keys) => {
          const { leaders } = brokers({ t: leaderOf });
          const records: Rec[] = keys.map((key, i) => ({ topic: 't', key, value: String(i) }));
          const groups = await grouped(leaders, records);
          const seen: Rec[] = [];
          for (const g of groups) {
            assert.ok(g.partitions, 'partitions chosen');
            g.records.forEach((r, i) => {
              const p = g.partitions![i]!;
              assert.equal(p, kafkajsPartition('t', r.key!, leaderOf), 'the partition kafkajs would choose');
              assert.equal(leaderOf[p], g.leader, 'led by the group\'s broker');
            });
            // In their order within the group.
            const idx = g.records.map((r) => Number(r.value));
            assert.deepEqual(idx, [...idx].sort((a, b) => a - b));
            seen.push(...g.records);
          }
          assert.equal(seen.length, records.length);
          assert.equal(new Set(groups.map((g) => g.leader)).size, groups.length, 'one group per leader');
        },
      ),
      { numRuns: 50 },
    );
  });

  it('sends records without a key round robin over the partitions, each to its leader', async () => {
    const { leaders } = brokers({ t: [1, 2, 1, 2] });
    const records: Rec[] = Array.from({ length: 40 }, (_, i) => ({ topic: 't', key: null, value: String(i) }));
    const groups = await grouped(leaders, records);
    assert.deepEqual(new Set(groups.map((g) => g.leader)), new Set([1, 2]));
    for (const g of groups) for (const p of g.partitions!) assert.equal([1, 2, 1, 2][p!], g.leader);
    const counts = groups.flatMap((g) => g.partitions!).reduce((m, p) => m.set(p, (m.get(p) ?? 0) + 1), new Map<number | undefined, number>());
    assert.deepEqual([...counts.values()], [10, 10, 10, 10]);
  });

  it('makes one group when one broker leads every partition, each record with its partition; one left to kafkajs when nothing is known', async () => {
    const { leaders, state } = brokers({ a: [3, 3, 3], b: [3] });
    const records: Rec[] = [
      { topic: 'a', key: 'k1', value: '1' },
      { topic: 'b', key: 'k2', value: '2' },
      { topic: 'a', key: null, value: '3' },
      { topic: 'a', key: null, value: '4' },
      { topic: 'a', key: null, value: '5' },
    ];
    const [one, ...more] = await grouped(leaders, records);
    assert.equal(more.length, 0);
    assert.equal(one!.leader, 3);
    assert.deepEqual(one!.records, records);
    const [p1, p2, ...roundRobin] = one!.partitions!;
    assert.equal(p1, kafkajsPartition('a', 'k1', [3, 3, 3]));
    assert.equal(p2, 0, 'the only partition of b');
    assert.deepEqual(new Set(roundRobin), new Set([0, 1, 2]), 'records without a key: round robin over the partitions, fixed before kafkajs sends');

    const unknown = await grouped(leaders, [{ topic: 'missing', key: 'k', value: '1' }]);
    assert.deepEqual(unknown.map((g) => [g.leader, g.partitions]), [[undefined, [undefined]]], 'kafkajs partitions them');
    const fetches = state.fetches;
    await grouped(leaders, [{ topic: 'missing', key: 'k', value: '1' }]);
    assert.equal(state.fetches, fetches, `a topic that failed is fetched again after ${MIN_REFRESH_MILLIS} ms, not before`);
    state.clock += MIN_REFRESH_MILLIS;
    await grouped(leaders, [{ topic: 'missing', key: 'k', value: '1' }]);
    assert.equal(state.fetches, fetches + 1);
    assert.equal(leaders.load(records), undefined, 'nothing to wait for once known');
  });

  it('gives records of a topic it cannot fetch a group of their own beside the leaders\' groups', async () => {
    const { leaders } = brokers({ t: [1, 2] });
    const groups = await grouped(leaders, [
      { topic: 't', key: 'a', value: '1' },
      { topic: 'new', key: 'a', value: '2' },
      { topic: 't', key: 'b', value: '3' },
    ]);
    const other = groups.find((g) => g.leader === undefined)!;
    assert.deepEqual(other.records.map((r) => r.value), ['2']);
    assert.deepEqual(other.partitions, [undefined]);
    assert.equal(groups.reduce((n, g) => n + g.records.length, 0), 3);
  });

  it('keeps the last leaders when a refresh fails, and takes new ones once the brokers tell', async () => {
    const { leaders, state } = brokers({ t: [1, 2] });
    const rec: Rec[] = [{ topic: 't', key: 'k', value: '1' }];
    await grouped(leaders, rec);
    assert.deepEqual([...leaders.leadersOf('t')!], [[0, 1], [1, 2]]);

    // Broker 2 down: the topic's metadata fails (a partition without a leader).
    delete state.topics.t;
    state.clock += MIN_REFRESH_MILLIS;
    leaders.invalidate();
    await flush();
    assert.deepEqual([...leaders.leadersOf('t')!], [[0, 1], [1, 2]], 'the last leaders stay');
    const keys = ['k', ...Array.from({ length: 20 }, (_, i) => `key-${i}`)];
    const other = keys.find((k) => kafkajsPartition('t', k, [1, 2]) !== kafkajsPartition('t', 'k', [1, 2]))!;
    assert.equal((await grouped(leaders, [...rec, { topic: 't', key: other, value: '2' }])).length, 2, 'grouped by the last leaders');

    // Back, with partition 1 moved to broker 3: the next group after a refresh uses it.
    state.topics.t = [1, 3];
    state.clock += MIN_REFRESH_MILLIS;
    await grouped(leaders, rec); // starts a refresh (invalidated before), does not wait for it
    await flush();
    assert.deepEqual([...leaders.leadersOf('t')!], [[0, 1], [1, 3]]);
  });

  it(`refreshes leaders older than ${METADATA_MAX_AGE_MILLIS} ms in the background`, async () => {
    const { leaders, state } = brokers({ t: [1, 2] });
    await grouped(leaders, [{ topic: 't', key: 'k', value: '1' }]);
    const fetches = state.fetches;
    state.topics.t = [2, 2];
    state.clock += METADATA_MAX_AGE_MILLIS - 1;
    await grouped(leaders, [{ topic: 't', key: 'k', value: '1' }]);
    assert.equal(state.fetches, fetches, 'not before');
    state.clock += 2;
    const [g] = await grouped(leaders, [{ topic: 't', key: 'k', value: '1' }]);
    assert.equal(g!.partitions![0], kafkajsPartition('t', 'k', [1, 2]), 'this group with the leaders known');
    await flush();
    assert.equal(state.fetches, fetches + 1);
    assert.deepEqual((await grouped(leaders, [{ topic: 't', key: 'k', value: '1' }])).map((x) => [x.leader, x.partitions]), [[2, [kafkajsPartition('t', 'k', [2, 2])]]]);
  });
});
