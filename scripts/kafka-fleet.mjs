#!/usr/bin/env node
// Two helpers for a fleet of gateways on Kafka (README, "Kafka: a fleet of gateways joined by topics").
//
//   node scripts/kafka-fleet.mjs topics --partitions N TOPIC...
//       creates the topics with N partitions (a topic that exists with fewer gets more; one with
//       more is left as it is) and prints each topic's partition count.
//   node scripts/kafka-fleet.mjs count --group GROUP --raw TOPIC[,TOPIC] --events TOPIC [--timeout SECS]
//       waits until GROUP has committed every record of the raw topics (lag 0 on every partition,
//       twice a second apart), then reads the events topic from its beginning to its end and
//       prints: records, distinct insert_ids, copies (records beyond the first of an insert_id),
//       and the group's committed offsets against the high watermarks per partition.
//
// --brokers defaults to $KAFKA_BROKERS, else 127.0.0.1:9092. Exit 1 when the group does not catch
// up within --timeout (default 120 s).

import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';

const { Kafka, logLevel, CompressionCodecs, CompressionTypes } = kafkajs;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS || '127.0.0.1:9092' },
    partitions: { type: 'string' },
    group: { type: 'string' },
    raw: { type: 'string' },
    events: { type: 'string' },
    timeout: { type: 'string', default: '120' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const USAGE = 'usage: node scripts/kafka-fleet.mjs topics --partitions N TOPIC...\n       node scripts/kafka-fleet.mjs count --group GROUP --raw TOPIC[,TOPIC] --events TOPIC [--timeout SECS] [--brokers host:port,...]\n';
const [cmd, ...topics] = positionals;
if (values.help || !cmd) {
  process.stderr.write(USAGE);
  process.exit(values.help ? 0 : 2);
}

const kafka = new Kafka({ clientId: 'otelytics-fleet', brokers: values.brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function createTopics(admin) {
  const n = Number(values.partitions);
  if (!Number.isInteger(n) || n < 1 || topics.length === 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  const existing = new Set(await admin.listTopics());
  const fresh = topics.filter((t) => !existing.has(t));
  if (fresh.length) await admin.createTopics({ topics: fresh.map((topic) => ({ topic, numPartitions: n })), waitForLeaders: true });
  const meta = await admin.fetchTopicMetadata({ topics });
  const grow = meta.topics.filter((t) => t.partitions.length < n).map((t) => ({ topic: t.name, count: n }));
  if (grow.length) await admin.createPartitions({ topicPartitions: grow });
  for (const t of (await admin.fetchTopicMetadata({ topics })).topics) process.stdout.write(`${t.name}: ${t.partitions.length} partitions\n`);
  return 0;
}

/** Per raw partition: the group's committed offset and the high watermark. */
async function groupState(admin, group, raw) {
  const committed = new Map();
  for (const t of await admin.fetchOffsets({ groupId: group, topics: raw })) for (const p of t.partitions) committed.set(`${t.topic}/${p.partition}`, BigInt(p.offset));
  const rows = [];
  for (const topic of raw) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const c = committed.get(`${topic}/${p.partition}`) ?? -1n;
      const high = BigInt(p.high);
      rows.push({ topic, partition: p.partition, committed: c, high, lag: c < 0n ? high - BigInt(p.low) : high - c });
    }
  }
  return rows;
}

async function readAll(topic) {
  // Read what the topic holds now, from its beginning to its end offsets.
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  await admin.disconnect();
  const records = [];
  const remaining = new Set([...ends].filter(([, h]) => h > 0n).map(([p]) => p));
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `otelytics-fleet-count-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${records.length} records of ${topic}; the rest did not come within 60 s`)), 60_000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition) ?? 0n;
          if (BigInt(message.offset) >= end) return;
          records.push({ partition, value: message.value });
          if (BigInt(message.offset) === end - 1n) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return records;
}

async function count(admin) {
  const group = values.group;
  const raw = (values.raw ?? '').split(',').filter(Boolean);
  if (!group || raw.length === 0 || !values.events) {
    process.stderr.write(USAGE);
    return 2;
  }
  const deadline = Date.now() + Number(values.timeout) * 1000;
  let rows;
  for (let stable = 0; stable < 2; ) {
    rows = await groupState(admin, group, raw);
    stable = rows.every((r) => r.lag === 0n) ? stable + 1 : 0;
    if (stable < 2) {
      if (Date.now() > deadline) {
        process.stdout.write(`group ${group} has not caught up within ${values.timeout} s:\n`);
        for (const r of rows) process.stdout.write(`  ${r.topic}/${r.partition}: committed ${r.committed} of ${r.high} (lag ${r.lag})\n`);
        return 1;
      }
      await sleep(1000);
    }
  }
  const { groups } = await admin.describeGroups([group]);
  process.stdout.write(`group ${group}: ${groups[0]?.members.length ?? 0} members, every raw record committed\n`);
  for (const topic of raw) {
    const mine = rows.filter((r) => r.topic === topic);
    process.stdout.write(`  ${topic}: ${mine.reduce((n, r) => n + r.high, 0n)} records in ${mine.length} partitions, lag ${mine.map((r) => r.lag).join(' ')}\n`);
  }
  const records = await readAll(values.events);
  const ids = new Map();
  for (const r of records) {
    let id;
    try {
      id = JSON.parse(r.value.toString('utf8')).insert_id;
    } catch {
      id = undefined;
    }
    if (typeof id === 'string') ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  const perPartition = new Map();
  for (const r of records) perPartition.set(r.partition, (perPartition.get(r.partition) ?? 0) + 1);
  process.stdout.write(`${values.events}: ${records.length} records, ${ids.size} distinct insert_ids, ${records.length - ids.size} copies\n`);
  process.stdout.write(`  per partition: ${[...perPartition].sort((a, b) => a[0] - b[0]).map(([p, n]) => `${p}:${n}`).join(' ')}\n`);
  return 0;
}

// Read whatever the gateways compressed with (gzip is built into kafkajs).
try {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');
  const lz4 = require('lz4-napi');
  CompressionCodecs[CompressionTypes.LZ4] = () => ({ compress: (e) => lz4.compressFrame(e.buffer), decompress: (b) => lz4.decompressFrame(b) });
  const zstd = require('@mongodb-js/zstd');
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({ compress: (e) => zstd.compress(e.buffer, 3), decompress: (b) => zstd.decompress(b) });
} catch {}

const admin = kafka.admin();
await admin.connect();
let code;
try {
  code = cmd === 'topics' ? await createTopics(admin) : cmd === 'count' ? await count(admin) : (process.stderr.write(`unknown command ${cmd}\n${USAGE}`), 2);
} catch (err) {
  process.stderr.write(`kafka-fleet: ${err.message}\n`);
  code = 1;
} finally {
  await admin.disconnect();
}
process.exit(code);
