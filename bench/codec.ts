/**
 * Codec throughput: decodes `traces-shop-02` (58 spans) as protobuf and as OTLP/JSON, scans it
 * (the validating check that pass-through pipelines use instead of a decode), and encodes it back,
 * each for about 3 seconds on one core, and prints spans per second.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/codec.js [seconds]`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeTracesJson, encodeTracesJson } from '../src/otlp/json.js';
import { decodeTracesRequest, encodeTracesRequest, scanTracesRequest } from '../src/otlp/proto.js';
import { spanCount } from '../src/pdata.js';
import { fixturesDir as fixtures } from '../test/helpers.js';

const seconds = Number(process.argv[2] ?? 3);

const pb = fs.readFileSync(path.join(fixtures, 'traces-shop-02.pb'));
const json = fs.readFileSync(path.join(fixtures, 'traces-shop-02.json'), 'utf8');
const data = decodeTracesRequest(pb);
const spans = spanCount(data);

/** Runs `fn` repeatedly for `seconds` (after a short warm-up); returns spans per second. */
function measure(name: string, bytes: number, fn: () => unknown): void {
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) fn();
  let calls = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) fn();
    calls += 50;
    now = performance.now();
  }
  const elapsed = (now - start) / 1000;
  const rate = (calls * spans) / elapsed;
  const mbs = (calls * bytes) / elapsed / 1e6;
  console.log(`${name.padEnd(14)} ${Math.round(rate).toLocaleString('en-US').padStart(11)} spans/s  ${mbs.toFixed(1).padStart(6)} MB/s  (${calls} requests of ${spans} spans in ${elapsed.toFixed(2)} s)`);
}

console.log(`traces-shop-02: ${spans} spans, ${pb.length} bytes protobuf, ${Buffer.byteLength(json)} bytes JSON; node ${process.version}`);
measure('proto decode', pb.length, () => decodeTracesRequest(pb));
measure('json decode', Buffer.byteLength(json), () => decodeTracesJson(json));
measure('proto scan', pb.length, () => scanTracesRequest(pb));
measure('proto encode', pb.length, () => encodeTracesRequest(data));
measure('json encode', Buffer.byteLength(json), () => encodeTracesJson(data));
