#!/usr/bin/env node
// What the tests and examples fetch or build outside npm (an OpenTelemetry Collector, telemetrygen,
// the Python SDK, Kafka's jars, Chromium, k8s-validate): one line on stderr before each is fetched
// or built (what, why, where, roughly how long), one when it is ready (how long it took, how big it
// is), and a record of it for the summary at the end of `npm test` (scripts/test.mjs).
//
// Library: import { announce, installed, dirBytes } from '.../scripts/installs.mjs';
//          announce({ what, why, where, eta });               // before the work starts
//          installed({ what, where, seconds, bytes, note });   // once it is in place
// CLI (for shell scripts):
//          node scripts/installs.mjs announce --what W --why Y --where P --eta E
//          node scripts/installs.mjs installed --what W --where P --seconds S [--bytes B | --size-of PATH] [--note N]
//          node scripts/installs.mjs summary FILE              // the summary lines of a record file
//
// The record: when OTELYTICS_INSTALL_LOG names a file, `installed` appends one JSON line to it,
// `{what, where, seconds, bytes, note?}` (seconds and bytes are numbers).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** `~/...` for paths under the home directory, for shorter lines. */
export function shortPath(p) {
  const home = os.homedir();
  return p === home || p.startsWith(home + path.sep) ? `~${p.slice(home.length)}` : p;
}

/** Bytes of the files under `p` (a file or a directory; symbolic links not followed); 0 when missing. */
export function dirBytes(p) {
  let st;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of fs.readdirSync(p)) total += dirBytes(path.join(p, e));
  return total;
}

/** `512 B`, `48.1 MiB`, `1.9 GiB`. */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** `45 s`, `9 min 12 s`. */
export function formatSeconds(s) {
  const r = Math.round(s);
  return r < 60 ? `${r} s` : `${Math.floor(r / 60)} min ${r % 60} s`;
}

/**
 * Says, before the work starts, that `what` is fetched or built now, for `why`, into `where`,
 * and about how long it takes (`eta`, free text such as "about 1 minute").
 */
export function announce({ what, why, where, eta }) {
  process.stderr.write(`otelytics: installing ${what} for ${why} into ${shortPath(where)}, once (${eta}) ...\n`);
}

/**
 * Says that `what` is ready in `where` after `seconds`, taking `bytes` (measured from `where` when
 * not given), with an optional `note`, and records it in OTELYTICS_INSTALL_LOG when that is set.
 */
export function installed({ what, where, seconds, bytes, note }) {
  const size = bytes ?? dirBytes(where);
  process.stderr.write(`otelytics: ${what} ready in ${formatSeconds(seconds)}: ${formatBytes(size)} in ${shortPath(where)}${note ? `; ${note}` : ''}\n`);
  const log = process.env.OTELYTICS_INSTALL_LOG;
  if (log) fs.appendFileSync(log, JSON.stringify({ what, where, seconds: Math.round(seconds), bytes: size, ...(note ? { note } : {}) }) + '\n');
}

/** The summary of a record file: a heading and one line per install; [] when nothing was installed. */
export function summaryLines(file) {
  let records = [];
  try {
    records = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
  if (records.length === 0) return [];
  const total = records.reduce((s, r) => s + r.bytes, 0);
  const seconds = records.reduce((s, r) => s + r.seconds, 0);
  return [
    `Installed for the tests during this run (${formatBytes(total)}, ${formatSeconds(seconds)}; kept for later runs):`,
    ...records.map((r) => `  ${r.what}: ${formatBytes(r.bytes)} in ${shortPath(r.where)}, ${formatSeconds(r.seconds)}${r.note ? ` (${r.note})` : ''}`),
  ];
}

function cli(argv) {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      what: { type: 'string' },
      why: { type: 'string' },
      where: { type: 'string' },
      eta: { type: 'string' },
      seconds: { type: 'string' },
      bytes: { type: 'string' },
      'size-of': { type: 'string' },
      note: { type: 'string' },
    },
  });
  if (cmd === 'announce') announce({ what: values.what, why: values.why, where: values.where, eta: values.eta });
  else if (cmd === 'installed') {
    const bytes = values.bytes !== undefined ? Number(values.bytes) : values['size-of'] ? dirBytes(values['size-of']) : undefined;
    installed({ what: values.what, where: values.where, seconds: Number(values.seconds ?? 0), bytes, note: values.note });
  } else if (cmd === 'summary') for (const l of summaryLines(positionals[0])) process.stdout.write(`${l}\n`);
  else {
    process.stderr.write('usage: node scripts/installs.mjs announce|installed|summary ...\n');
    return 2;
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = cli(process.argv.slice(2));
