/**
 * kafkajs' producer internals that ran per record, replaced for every kafkajs producer in the
 * process: the Produce request body ({@link produceRequestV3} of ./produce.ts), the grouping of a
 * batch by partition without copying ({@link groupMessagesPerPartition}), and the default
 * partitioner's murmur2 hash in 32-bit arithmetic ({@link murmur2}), each writing what kafkajs'
 * own writes (tested against kafkajs' modules). {@link installProducerInternals} puts them in
 * kafkajs' module cache; `kafkajs()` of ./client.ts runs it before it loads kafkajs.
 */
import { createRequire, Module } from 'node:module';
import { produceRequestV3, type ProduceMessage, type ProduceRequest, type ProduceRequestArgs } from './produce.js';

const require = createRequire(import.meta.url);

/**
 * kafkajs' `producer/groupMessagesPerPartition.js` without its quadratic copying (kafkajs copies
 * the partition's array for every message it adds): messages of one topic by the partition
 * `partitioner` picks, each partition's in their order; `{}` when the topic has no partitions.
 */
export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: { topic: string; partitionMetadata: readonly unknown[]; messages: readonly ProduceMessage[]; partitioner: (a: { topic: string; partitionMetadata: readonly unknown[]; message: ProduceMessage }) => number }): Record<number, ProduceMessage[]> {
  const out: Record<number, ProduceMessage[]> = {};
  if (partitionMetadata.length === 0) return out;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (out[partition] ??= []).push(message);
  }
  return out;
}

const MURMUR2_M = 0x5bd1e995;

/**
 * kafkajs' `producer/partitioners/default/murmur2.js` (the Java client's murmur2 of a key, the
 * default partitioner's hash) in 32-bit integer arithmetic. kafkajs computes it with its BigInt
 * `Long`, a few objects per four bytes of key: ending in Kafka, that was a fifth of what the
 * gateway allocated. Only the low 32 bits of kafkajs' products and xors reach the result, so the
 * hash is the same (tested against kafkajs' own).
 */
export function murmur2(key: Buffer | string | null | undefined): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const length4 = Math.floor(length / 4);
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) + ((data[i4 + 1]! & 0xff) << 8) + ((data[i4 + 2]! & 0xff) << 16) + ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, MURMUR2_M);
    k ^= k >>> 24;
    k = Math.imul(k, MURMUR2_M);
    h = Math.imul(h, MURMUR2_M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest > 0) {
    if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
    if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, MURMUR2_M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR2_M);
  h ^= h >>> 15;
  return h | 0;
}

/** Produce request versions whose body is version 3's (4: KIP-112 errors, 5: log start offset, 6: throttling, 7: zstd). */
export const PRODUCE_BODY_V3_VERSIONS = [3, 4, 5, 6, 7] as const;

function replaceModule(id: string, exports: unknown): void {
  const path = require.resolve(id);
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = exports;
  require.cache[path] = m;
}

let installed = false;
let beforeKafkajs = false;

/** Whether {@link installProducerInternals} ran before kafkajs loaded its producer, so kafkajs groups with {@link groupMessagesPerPartition}. */
export function groupingInstalled(): boolean {
  return beforeKafkajs;
}

/**
 * Puts {@link produceRequestV3}, {@link groupMessagesPerPartition} and {@link murmur2} where kafkajs looks them up,
 * for every kafkajs producer in this process, by module-cache entries under kafkajs' own paths.
 * kafkajs requires the Produce request modules (versions 3 to 7) each time it builds a request, so
 * those hold whenever this runs; it binds `groupMessagesPerPartition` and the default
 * partitioner's `murmur2` when it is first loaded, so those hold only when this runs before
 * (`kafkajs()` of ./client.ts runs it before it loads kafkajs).
 * Idempotent.
 */
export function installProducerInternals(): void {
  if (installed) return;
  beforeKafkajs = require.cache[require.resolve('kafkajs/src/producer/sendMessages')] === undefined;
  for (const version of PRODUCE_BODY_V3_VERSIONS) {
    replaceModule(`kafkajs/src/protocol/requests/produce/v${version}/request`, version === 3 ? produceRequestV3 : (a: ProduceRequestArgs): ProduceRequest => Object.assign(produceRequestV3(a), { apiVersion: version }));
  }
  replaceModule('kafkajs/src/producer/groupMessagesPerPartition', groupMessagesPerPartition);
  replaceModule('kafkajs/src/producer/partitioners/default/murmur2', murmur2);
  installed = true;
}
