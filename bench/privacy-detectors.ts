/**
 * Micro-benchmark of the privacy value detectors on one core.
 *
 * Scans the string values of the shop fixtures (the JS SDK shop's OTLP/JSON requests in
 * `test/captures/otlp`: attribute values, span names, log bodies; URLs through `scrubUrl`,
 * `url.query` through `scrubQuery`) with all detectors on, repeatedly for about 3 s, and prints
 * strings/s and MiB/s.
 *
 *     npx tsc -p tsconfig.json && node dist/bench/privacy-detectors.js [seconds]
 */
import fs from 'node:fs';
import path from 'node:path';
import { compileValueScanner, createHitCounter } from '../processors/privacy/detectors.js';
import { compileDefaultKeyMatcher } from '../processors/privacy/keys.js';
import { fixtureManifest, fixturesDir } from '../test/helpers.js';

const seconds = Number(process.argv[2] ?? '3');

type Kind = 'text' | 'url' | 'query';
const URL_KEYS = new Set(['url.full', 'http.target', 'http.url', 'url.path']);

/** Collects [kind, string] pairs the way the processor meets them. */
function collect(node: unknown, key: string, out: [Kind, string][]): void {
  if (Array.isArray(node)) {
    for (const x of node) collect(x, key, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (typeof o.key === 'string' && 'value' in o) {
    collect(o.value, o.key, out);
    return;
  }
  if (typeof o.stringValue === 'string') {
    out.push([URL_KEYS.has(key) ? 'url' : key === 'url.query' ? 'query' : 'text', o.stringValue]);
    return;
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'name' && typeof v === 'string') out.push(['text', v]);
    else collect(v, k, out);
  }
}

const mix: [Kind, string][] = [];
for (const f of fixtureManifest()) {
  if (f.contentType !== 'application/json' || f.contentEncoding !== 'identity') continue;
  collect(JSON.parse(fs.readFileSync(path.join(fixturesDir, f.path), 'utf8')), '', mix);
}
if (mix.length === 0) throw new Error(`no fixture strings found in ${fixturesDir}`);
const kinds = mix.map(([k]) => k);
const strings = mix.map(([, s]) => s);
const chars = strings.reduce((n, s) => n + s.length, 0);

const counter = createHitCounter();
const sc = compileValueScanner({ onHit: counter.onHit, queryKeys: { match: compileDefaultKeyMatcher() } });

function pass(): number {
  let found = 0;
  for (let k = 0; k < strings.length; k++) {
    const s = strings[k]!;
    const kind = kinds[k]!;
    const r = kind === 'text' ? sc.scan(s) : kind === 'url' ? sc.scrubUrl(s) : sc.scrubQuery(s);
    if (r !== null) found++;
  }
  return found;
}

// Warm-up, so the figure is for optimised code.
const withFindings = pass();
for (let k = 0; k < 200; k++) pass();

let passes = 0;
const start = process.hrtime.bigint();
const budget = BigInt(Math.round(seconds * 1e9));
let elapsed = 0n;
while (elapsed < budget) {
  for (let k = 0; k < 50; k++) pass();
  passes += 50;
  elapsed = process.hrtime.bigint() - start;
}
const secs = Number(elapsed) / 1e9;
const perSec = (passes * strings.length) / secs;
const mibPerSec = (passes * chars * 2) / secs / (1024 * 1024);

console.log(`privacy detectors: ${strings.length} fixture strings per pass (${withFindings} with findings, ${chars} chars), ${passes} passes in ${secs.toFixed(2)} s`);
console.log(`privacy detectors: ${Math.round(perSec).toLocaleString('en-US')} strings/s, ${mibPerSec.toFixed(1)} MiB/s (UTF-16), ${((secs / (passes * strings.length)) * 1e9).toFixed(0)} ns/string`);
