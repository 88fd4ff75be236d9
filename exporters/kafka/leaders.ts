/**
 * Which broker leads each partition of the `kafka` exporter's topics, and the split of a batch of
 * records into one group per leader broker, so that each group is one Produce request whose
 * acknowledgement can be recorded on its own (see ./index.ts).
 *
 * The leaders come from the brokers' metadata, fetched with kafkajs' public admin API
 * (`fetchTopicMetadata`) one topic at a time, and are kept until they are older than
 * {@link METADATA_MAX_AGE_MILLIS} or {@link TopicLeaders.invalidate} is called (a send failed);
 * both start a refresh in the background, so no send waits for one, and a refresh that fails
 * keeps what was known. That matters: while a partition has no leader at all (its only replica's
 * broker is down), the brokers answer the topic's metadata with `LEADER_NOT_AVAILABLE` and kafkajs
 * refuses the whole answer, so the last good leaders are what the healthy partitions are grouped by.
 * Only a topic never seen is waited for, once per {@link MIN_REFRESH_MILLIS}; while it cannot be
 * fetched (not created yet, no broker reachable), its records form a group of their own that
 * kafkajs partitions itself.
 *
 * Partitions are chosen as kafkajs chooses them, with the exporter's partitioner (kafkajs'
 * `DefaultPartitioner`: murmur2 of the key, as the Java client; round robin without a key), so a
 * key keeps its partition, hence its broker and its group, and they are given to kafkajs with the
 * records, so that its own retries send each record to the same partition again.
 */
import type { ICustomPartitioner, ITopicMetadata, Message, PartitionMetadata } from 'kafkajs';

/** How long fetched leaders are used before a refresh (kafkajs' and the Java client's `metadata.max.age.ms`). */
export const METADATA_MAX_AGE_MILLIS = 300_000;
/** Least time between two fetches of one topic's metadata. */
export const MIN_REFRESH_MILLIS = 1_000;

/** Fetches the metadata of one topic (kafkajs' `admin.fetchTopicMetadata({ topics: [topic] })`); rejects when the brokers cannot tell. */
export type FetchTopicMetadata = (topic: string) => Promise<ITopicMetadata>;

interface Known {
  partitions: PartitionMetadata[];
  /** Leader broker id by partition id. */
  leaders: Map<number, number>;
  /** The leader of every partition when one broker leads them all, else undefined. */
  single: number | undefined;
  fetchedAt: number;
}

/** The records of one leader broker, in their order. */
export interface LeaderGroup<R> {
  /** The leader's broker id; undefined for records of topics whose leaders are not known. */
  leader: number | undefined;
  records: readonly R[];
  /** `partitions[i]` is the partition of `records[i]`, undefined (or no list) to let kafkajs choose. */
  partitions?: readonly (number | undefined)[];
}

export class TopicLeaders {
  private readonly known = new Map<string, Known>();
  /** When each topic's last fetch started (successful or not). */
  private readonly tried = new Map<string, number>();
  private readonly fetching = new Map<string, Promise<void>>();
  private invalidatedAt = 0;
  private readonly partitioner: ReturnType<ICustomPartitioner>;

  /**
   * `fetch` gets one topic's metadata; `partitioner` is made once (kafkajs' `Partitioners.DefaultPartitioner`);
   * `onError` hears of each failed fetch (for a debug log line); `now` is the clock (milliseconds).
   */
  constructor(
    private readonly fetch: FetchTopicMetadata,
    partitioner: ICustomPartitioner,
    private readonly onError: (topic: string, err: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.partitioner = partitioner();
  }

  /** The leaders of `topic` last fetched, or undefined. */
  leadersOf(topic: string): ReadonlyMap<number, number> | undefined {
    return this.known.get(topic)?.leaders;
  }

  /**
   * The next sends should use fresh leaders (a send failed: the broker may be down, the leader may
   * have moved): refreshes every known topic in the background; until then, and if that fails,
   * the last leaders stay.
   */
  invalidate(): void {
    this.invalidatedAt = this.now();
    for (const topic of this.known.keys()) void this.refresh(topic);
  }

  /**
   * The first fetch of the topics of `records` whose leaders are not known yet (at most one per
   * topic every {@link MIN_REFRESH_MILLIS}), to wait for before {@link group}; undefined when there
   * is none to wait for. Never rejects.
   */
  load(records: readonly { topic: string }[]): Promise<void> | undefined {
    const fetches = distinctTopics(records)
      .filter((t) => !this.known.has(t))
      .map((t) => this.refresh(t));
    return fetches.length === 0 ? undefined : Promise.all(fetches).then(() => undefined);
  }

  /**
   * Splits `records` (of any topics) into groups by the leader of the partition each goes to, in
   * their order within each group, with the leaders known now ({@link load} first fetches those of
   * new topics). Each record of a known topic gets its partition here, also when one broker leads
   * them all: kafkajs partitions a retry of its own anew, and records without a key (round robin)
   * would move to other partitions under the sequence numbers of a request that was written but
   * not answered; the broker refuses that as out of order and the batch is written again under a
   * new producer id. Given partitions, the retry is the same batch and the broker writes it once.
   * Records of a topic whose leaders are not known form a group of their own (leader and
   * partitions undefined), partitioned by kafkajs.
   *
   * `given[i]`, when set, is the partition of `records[i]` instead of the partitioner's choice:
   * the partitions of an earlier send of the same records, so that its retry sends each record
   * where it went before.
   */
  group<R extends Message & { topic: string }>(records: readonly R[], given?: readonly (number | undefined)[]): LeaderGroup<R>[] {
    const groups = new Map<number | undefined, { leader: number | undefined; records: R[]; partitions: (number | undefined)[] }>();
    let lastTopic: string | undefined;
    let k: Known | undefined;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.topic !== lastTopic) {
        lastTopic = r.topic;
        k = this.current(r.topic);
      }
      let partition = given?.[i];
      let to: number | undefined;
      if (k !== undefined) {
        partition ??= this.partitioner({ topic: r.topic, partitionMetadata: k.partitions, message: r });
        to = k.single ?? k.leaders.get(partition);
      }
      let g = groups.get(to);
      if (!g) groups.set(to, (g = { leader: to, records: [], partitions: [] }));
      g.records.push(r);
      g.partitions.push(partition);
    }
    return [...groups.values()];
  }

  /** The known leaders of `topic`, starting a background refresh when they are old or invalidated. */
  private current(topic: string): Known | undefined {
    const k = this.known.get(topic);
    if (k !== undefined && (this.now() - k.fetchedAt > METADATA_MAX_AGE_MILLIS || k.fetchedAt < this.invalidatedAt)) void this.refresh(topic);
    return k;
  }

  /** Fetches `topic`'s leaders (one fetch at a time per topic, at most one per {@link MIN_REFRESH_MILLIS}); never rejects. */
  private refresh(topic: string): Promise<void> {
    const running = this.fetching.get(topic);
    if (running) return running;
    const last = this.tried.get(topic);
    if (last !== undefined && this.now() - last < MIN_REFRESH_MILLIS) return Promise.resolve();
    this.tried.set(topic, this.now());
    const started = this.now();
    const p = (async () => {
      try {
        const m = await this.fetch(topic);
        const partitions = [...m.partitions].sort((a, b) => a.partitionId - b.partitionId);
        if (partitions.length === 0) throw new Error(`topic ${topic} has no partitions`);
        const leaders = new Map<number, number>();
        for (const p of partitions) leaders.set(p.partitionId, p.leader);
        const first = partitions[0]!.leader;
        const single = partitions.every((p) => p.leader === first) && first >= 0 ? first : undefined;
        this.known.set(topic, { partitions, leaders, single, fetchedAt: started });
      } catch (err) {
        this.onError(topic, err);
      } finally {
        this.fetching.delete(topic);
      }
    })();
    this.fetching.set(topic, p);
    return p;
  }
}

function distinctTopics(records: readonly { topic: string }[]): string[] {
  const out: string[] = [];
  let last: string | undefined;
  for (const r of records) {
    if (r.topic === last) continue;
    last = r.topic;
    if (!out.includes(last)) out.push(last);
  }
  return out;
}
