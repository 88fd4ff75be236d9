#!/usr/bin/env node
// Prints the records of Kafka topics as they arrive: partition, offset, key, headers and value.
// JSON values (events) are printed as they are; OTLP protobuf values are summarised (spans or log
// records, and the event names they carry) when the project is built (dist/), else shown by size.
//
//   node scripts/kafka-watch.mjs [--brokers host:port[,host:port]] [--from-beginning] [--count N] TOPIC...
//
// --brokers defaults to $KAFKA_BROKERS, else 127.0.0.1:9092. Without --from-beginning only new
// records are shown. --count N stops after N records. Ctrl-C stops.

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';

const { Kafka, logLevel, CompressionCodecs, CompressionTypes } = kafkajs;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS || '127.0.0.1:9092' },
    'from-beginning': { type: 'boolean', default: false },
    count: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help || positionals.length === 0) {
  process.stderr.write('usage: node scripts/kafka-watch.mjs [--brokers host:port,...] [--from-beginning] [--count N] TOPIC...\n');
  process.exit(positionals.length === 0 && !values.help ? 2 : 0);
}

// Read whatever the producer compressed with (gzip is built into kafkajs).
async function registerCodecs() {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  try {
    CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');
  } catch {}
  try {
    const lz4 = require('lz4-napi');
    CompressionCodecs[CompressionTypes.LZ4] = () => ({ compress: (e) => lz4.compressFrame(e.buffer), decompress: (b) => lz4.decompressFrame(b) });
  } catch {}
  try {
    const zstd = require('@mongodb-js/zstd');
    CompressionCodecs[CompressionTypes.ZSTD] = () => ({ compress: (e) => zstd.compress(e.buffer, 3), decompress: (b) => zstd.decompress(b) });
  } catch {}
}

/** The project's OTLP codec, when built. */
async function loadCodec() {
  try {
    return await import(pathToFileURL(path.join(root, 'dist', 'src', 'otlp', 'proto.js')).href);
  } catch {
    return undefined;
  }
}

function summarise(value, topic, codec) {
  const text = value.toString('utf8');
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.stringify(JSON.parse(text));
    } catch {}
  }
  if (!codec) return `<${value.length} bytes, binary; build the project (npm run build) to decode OTLP protobuf>`;
  const tryDecode = (fn) => {
    try {
      return fn(value);
    } catch {
      return undefined;
    }
  };
  const spans = /log/i.test(topic) ? undefined : tryDecode(codec.decodeTracesRequest);
  if (spans && spans.resourceSpans.length) {
    const list = spans.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    return `OTLP traces: ${list.length} span(s): ${[...new Set(list.map((s) => s.name))].slice(0, 5).join(', ')}`;
  }
  const logs = tryDecode(codec.decodeLogsRequest);
  if (logs && logs.resourceLogs.length) {
    const list = logs.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords));
    const names = [...new Set(list.map((l) => l.eventName).filter(Boolean))];
    return `OTLP logs: ${list.length} log record(s)${names.length ? `, events: ${names.slice(0, 5).join(', ')}` : ''}`;
  }
  return `<${value.length} bytes, not JSON nor OTLP protobuf>`;
}

await registerCodecs();
const codec = await loadCodec();
const brokers = values.brokers.split(',').map((s) => s.trim()).filter(Boolean);
const kafka = new Kafka({ clientId: 'otelytics-watch', brokers, logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: `otelytics-watch-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 250 });
const limit = values.count ? Number(values.count) : Infinity;
let seen = 0;

async function stop(code = 0) {
  await consumer.disconnect().catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

try {
  await consumer.connect();
  await consumer.subscribe({ topics: positionals, fromBeginning: values['from-beginning'] });
  process.stderr.write(`watching ${positionals.join(', ')} on ${brokers.join(',')}${values['from-beginning'] ? ' from the beginning' : ''} (Ctrl-C to stop)\n`);
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const headers = Object.entries(message.headers ?? {})
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.map(String).join('|') : String(v)}`)
        .join(' ');
      const key = message.key === null ? '-' : message.key.toString();
      process.stdout.write(`${topic}/${partition}@${message.offset} key=${key}${headers ? ' ' + headers : ''}\n  ${message.value ? summarise(message.value, topic, codec) : '<tombstone>'}\n`);
      if (++seen >= limit) await stop(0);
    },
  });
} catch (err) {
  process.stderr.write(`kafka-watch: ${err.message} (brokers ${brokers.join(',')})\n`);
  await stop(1);
}
