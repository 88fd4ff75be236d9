/**
 * The Produce request body (versions 3 to 7) that kafkajs' per-record encoding wrote, built with
 * one exactly-sized buffer per partition instead.
 *
 * kafkajs 2.2.4 encodes each record with a fresh 512-byte `Encoder` per record and per header, and
 * each varint through a `Buffer.from` of a byte array; with three headers a record that came to
 * about 12 µs on this project's benchmark machine, a third of the gateway's CPU when ending in
 * Kafka. {@link produceRequestV3} writes the same bytes (the equivalence is tested against kafkajs'
 * own module); ./producer_internals.ts puts it where kafkajs looks it up, with the grouping of a
 * batch by partition and the partitioner's hash. Fetching, idempotence, the partitioner's choice,
 * retries and everything else stay kafkajs' own.
 *
 * Layout (Kafka protocol guide, "Produce API" and "Record Batch"; record format v2, KIP-98):
 *
 *   request   = transactional_id:nullable string16, acks:int16, timeout:int32,
 *               [topic:string16, [partition:int32, record_set:bytes32]]
 *   record_set = base_offset:int64 (0), batch_length:int32, partition_leader_epoch:int32 (0),
 *               magic:int8 (2), crc:uint32 (CRC-32C of what follows), attributes:int16,
 *               last_offset_delta:int32, base_timestamp:int64, max_timestamp:int64,
 *               producer_id:int64, producer_epoch:int16, base_sequence:int32, records_count:int32,
 *               records (compressed as one block when the batch is compressed)
 *   record    = length:varint, attributes:int8 (0), timestamp_delta:varlong, offset_delta:varint,
 *               key:varint-length bytes (-1: null), value:varint-length bytes (-1: null),
 *               [header_key:varint-length string, header_value:varint-length bytes] (varint count)
 *
 * Varints are zigzag-encoded base-128 (protobuf's `sint32`/`sint64`).
 */
import { createRequire } from 'node:module';
import { CHECK_EVERY_MASK, LoopShare, slicing } from './slices.js';

const require = createRequire(import.meta.url);

/** A kafkajs `Long` (BigInt inside), as kafkajs passes producer ids. */
interface KafkaLong {
  getHighBits(): number;
  getLowBits(): number;
}
interface LongClass {
  fromValue(v: unknown): KafkaLong;
}
/** kafkajs' byte writer: what its request framing accepts as an encoded request body. */
interface KafkaEncoder {
  buf: Buffer;
  offset: number;
}
interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
}

const Long = require('kafkajs/src/utils/long') as LongClass;
const Encoder = require('kafkajs/src/protocol/encoder') as new (initialSize?: number) => KafkaEncoder;
const { Produce: PRODUCE_API_KEY } = require('kafkajs/src/protocol/requests/apiKeys') as { Produce: number };
const { lookupCodec, COMPRESSION_CODEC_MASK } = require('kafkajs/src/protocol/message/compression') as { lookupCodec(type: number): Codec | null; COMPRESSION_CODEC_MASK: number };

type Bytes = Buffer | string | null | undefined;

/** One message as kafkajs' `send`/`sendBatch` take it. */
export interface ProduceMessage {
  key?: Bytes;
  value: Bytes;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  timestamp?: string | number;
}

export interface ProducePartition {
  partition: number;
  firstSequence?: number;
  messages: readonly ProduceMessage[];
}

export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  /** kafkajs `CompressionTypes` value; 0 = none. */
  compression?: number;
  topicData: readonly { topic: string; partitions: readonly ProducePartition[] }[];
}

/** What kafkajs' request modules return: the request's identity and its body encoder. */
export interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: 'Produce';
  expectResponse(): boolean;
  encode(): Promise<KafkaEncoder>;
}

const zigzag32 = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;

/** Bytes of an unsigned varint below 2^53. */
function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeUvarint(buf: Buffer, o: number, v: number): number {
  while (v >= 0x80) {
    buf[o++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[o++] = v;
  return o;
}

/** A varlong's zigzag value: a number when it stays below 2^53 (any time delta of real clocks), else a BigInt. */
function zigzag64(v: number): number | bigint {
  if (Number.isSafeInteger(v) && Math.abs(v) < 2 ** 51) return v >= 0 ? v * 2 : -v * 2 - 1;
  const l = Long.fromValue(v);
  const big = BigInt.asIntN(64, (BigInt(l.getHighBits()) << 32n) | BigInt(l.getLowBits() >>> 0));
  return BigInt.asUintN(64, (big << 1n) ^ (big >> 63n));
}

function uvarlongSize(v: number | bigint): number {
  if (typeof v === 'number') return uvarintSize(v);
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function writeUvarlong(buf: Buffer, o: number, v: number | bigint): number {
  if (typeof v === 'number') return writeUvarint(buf, o, v);
  while (v >= 0x80n) {
    buf[o++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[o++] = Number(v);
  return o;
}

function writeInt64(buf: Buffer, o: number, v: unknown): number {
  const l = Long.fromValue(v);
  buf.writeInt32BE(l.getHighBits(), o);
  buf.writeInt32BE(l.getLowBits(), o + 4);
  return o + 8;
}

/** Byte length of a key, value or header (kafkajs: a Buffer as is, anything else as its string); -1 for null. */
const bytesLength = (b: Bytes): number => (b == null ? -1 : Buffer.isBuffer(b) ? b.length : Buffer.byteLength(String(b)));

/** Size of a varint-length-prefixed field of `len` bytes (-1: null). */
const fieldSize = (len: number): number => uvarintSize(zigzag32(len)) + Math.max(len, 0);

function writeField(buf: Buffer, o: number, b: Bytes, len: number): number {
  o = writeUvarint(buf, o, zigzag32(len));
  if (len <= 0) return o;
  return Buffer.isBuffer(b) ? o + b.copy(buf, o) : o + buf.write(String(b), o, len);
}

/**
 * The records of one partition in one buffer: sizes first, so it is allocated once. Both passes
 * give the event loop a turn whenever `share`'s slice is used up (./slices.ts).
 */
async function encodeRecords(messages: readonly ProduceMessage[], base: unknown, now: number, share: LoopShare): Promise<Buffer> {
  const n = messages.length;
  const deltas: (number | bigint)[] = new Array(n);
  const bodies = new Array<number>(n);
  /** Per record: header count; then, for key, value and each header's key and value, the field and its length. */
  const counts = new Array<number>(n);
  const fields: Bytes[] = [];
  const lens: number[] = [];
  const baseTime = Number(base);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if ((i & CHECK_EVERY_MASK) === CHECK_EVERY_MASK && share.due()) await share.turn();
    const m = messages[i]!;
    const delta = zigzag64(Number(m.timestamp || now) - baseTime);
    const keyLen = bytesLength(m.key);
    const valueLen = bytesLength(m.value);
    fields.push(m.key, m.value);
    lens.push(keyLen, valueLen);
    let body = 1 + uvarlongSize(delta) + uvarintSize(zigzag32(i)) + fieldSize(keyLen) + fieldSize(valueLen);
    let count = 0;
    const headers = m.headers;
    // kafkajs' order: keys in order, an array value's items in order.
    if (headers) {
      for (const k of Object.keys(headers)) {
        const hv = headers[k];
        const many = Array.isArray(hv);
        const kl = Buffer.byteLength(k);
        for (let h = 0, items = many ? hv.length : 1; h < items; h++) {
          const v = many ? hv[h] : hv;
          const vl = bytesLength(v);
          fields.push(k, v);
          lens.push(kl, vl);
          body += fieldSize(kl) + fieldSize(vl);
          count++;
        }
      }
    }
    body += uvarintSize(zigzag32(count));
    deltas[i] = delta;
    counts[i] = count;
    bodies[i] = body;
    total += uvarintSize(zigzag32(body)) + body;
  }
  const buf = Buffer.allocUnsafe(total);
  let o = 0;
  let f = 0;
  for (let i = 0; i < n; i++) {
    if ((i & CHECK_EVERY_MASK) === CHECK_EVERY_MASK && share.due()) await share.turn();
    o = writeUvarint(buf, o, zigzag32(bodies[i]!));
    buf[o++] = 0; // attributes
    o = writeUvarlong(buf, o, deltas[i]!);
    o = writeUvarint(buf, o, zigzag32(i));
    o = writeField(buf, o, fields[f], lens[f++]!); // key
    o = writeField(buf, o, fields[f], lens[f++]!); // value
    o = writeUvarint(buf, o, zigzag32(counts[i]!));
    for (const end = f + 2 * counts[i]!; f < end; f++) o = writeField(buf, o, fields[f], lens[f]!);
  }
  return buf;
}

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) table, as kafkajs' `crc32C`. */
const CRC32C_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** Bytes of a CRC computed between two looks at the clock. */
const CRC_CHUNK = 64 * 1024;

/** CRC-32C of `b` (kafkajs' `crc32C`), in chunks that give the event loop a turn when `share`'s slice is used up. */
export async function crc32cSliced(b: Uint8Array, share: LoopShare): Promise<number> {
  let crc = -1;
  for (let at = 0; at < b.length; at += CRC_CHUNK) {
    if (at > 0 && share.due()) await share.turn();
    for (let i = at, end = Math.min(b.length, at + CRC_CHUNK); i < end; i++) crc = CRC32C_TABLE[(crc ^ b[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ -1) >>> 0;
}

const RECORD_BATCH_HEADER = 8 + 4 + 4 + 1 + 4; // base offset, length, leader epoch, magic, crc
const BATCH_BODY_HEADER = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4; // attributes .. records count

/** One partition's records, uncompressed, with the base and max timestamps of its batch. */
async function partitionRecords(p: ProducePartition, share: LoopShare): Promise<{ records: Buffer; first: unknown; max: unknown }> {
  const now = Date.now();
  // kafkajs' choice of base and max timestamp: the sorted timestamps given, else now.
  const stamps = p.messages.map((m) => m.timestamp).filter((t) => t != null).sort();
  const first = stamps.length === 0 ? now : stamps[0];
  const max = stamps.length === 0 ? now : stamps[stamps.length - 1];
  return { records: await encodeRecords(p.messages, first, now, share), first, max };
}

/** One partition's `record_set` around its records, compressed as the request says. */
async function recordSet(p: ProducePartition, encoded: { records: Buffer; first: unknown; max: unknown }, compression: number, transactional: boolean, producerId: unknown, producerEpoch: number, share: LoopShare): Promise<Buffer> {
  const { first, max } = encoded;
  let records = encoded.records;
  const codec = compression & COMPRESSION_CODEC_MASK;
  if (codec !== 0) {
    const c = lookupCodec(compression);
    if (!c) throw new Error(`kafka: no codec for compression type ${compression}`);
    records = await c.compress({ buffer: records });
  }
  const batchLength = 4 + 1 + 4 + BATCH_BODY_HEADER + records.length;
  const out = Buffer.allocUnsafe(RECORD_BATCH_HEADER + BATCH_BODY_HEADER + records.length);
  let o = writeInt64(out, 0, 0);
  o = out.writeInt32BE(batchLength, o);
  o = out.writeInt32BE(0, o); // partition leader epoch
  o = out.writeInt8(2, o); // magic
  const crcAt = o;
  o += 4;
  const bodyAt = o;
  o = out.writeInt16BE(codec | (transactional ? 16 : 0), o);
  o = out.writeInt32BE(p.messages.length - 1, o);
  o = writeInt64(out, o, first);
  o = writeInt64(out, o, max);
  o = writeInt64(out, o, producerId);
  o = out.writeInt16BE(producerEpoch, o);
  o = out.writeInt32BE(p.firstSequence ?? 0, o);
  o = out.writeInt32BE(p.messages.length, o);
  records.copy(out, o);
  out.writeUInt32BE(await crc32cSliced(out.subarray(bodyAt), share), crcAt);
  return out;
}

const string16Size = (s: string | null): number => 2 + (s === null ? 0 : Buffer.byteLength(s));

function writeString16(buf: Buffer, o: number, s: string | null): number {
  if (s === null) return buf.writeInt16BE(-1, o);
  const len = Buffer.byteLength(s);
  o = buf.writeInt16BE(len, o);
  return o + buf.write(s, o, len);
}

/**
 * A Produce request of version 3 with the same arguments, defaults and bytes as kafkajs 2.2.4's
 * `protocol/requests/produce/v3/request.js` (versions 4 to 7 reuse it with their own number).
 * Written in slices that give the event loop a turn (./slices.ts); partitions are compressed
 * concurrently. Throws (rejects `encode`) when the compression type has
 * no registered codec.
 */
export function produceRequestV3({ acks, timeout, transactionalId = null, producerId = Long.fromValue(-1), producerEpoch = 0, compression = 0, topicData }: ProduceRequestArgs): ProduceRequest {
  return {
    apiKey: PRODUCE_API_KEY,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const transactional = !!transactionalId;
      const share = new LoopShare(slicing.sliceMillis);
      // Partitions' records are written one partition after the other (each in slices), and
      // compressed while the next one is written.
      const pending: Promise<Buffer>[][] = [];
      for (const t of topicData) {
        const row: Promise<Buffer>[] = [];
        pending.push(row);
        for (const p of t.partitions) {
          const set = recordSet(p, await partitionRecords(p, share), compression, transactional, producerId, producerEpoch, share);
          set.catch(() => undefined); // awaited below; not left unhandled while later partitions are written
          row.push(set);
        }
      }
      const sets = await Promise.all(pending.map((row) => Promise.all(row)));
      let size = string16Size(transactionalId) + 2 + 4 + 4;
      topicData.forEach((t, i) => {
        size += string16Size(t.topic) + 4;
        for (const s of sets[i]!) size += 4 + 4 + s.length;
      });
      const buf = Buffer.allocUnsafe(size);
      let o = writeString16(buf, 0, transactionalId);
      o = buf.writeInt16BE(acks, o);
      o = buf.writeInt32BE(timeout, o);
      o = buf.writeInt32BE(topicData.length, o);
      topicData.forEach((t, i) => {
        o = writeString16(buf, o, t.topic);
        o = buf.writeInt32BE(t.partitions.length, o);
        t.partitions.forEach((p, j) => {
          const s = sets[i]![j]!;
          o = buf.writeInt32BE(p.partition, o);
          o = buf.writeInt32BE(s.length, o);
          o += s.copy(buf, o);
        });
      });
      const e = new Encoder(0);
      e.buf = buf;
      e.offset = buf.length;
      return e;
    },
  };
}
