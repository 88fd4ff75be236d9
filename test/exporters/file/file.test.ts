import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { fileExporterFactory } from '../../../exporters/file/index.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { decodeTracesRequest } from '../../../src/otlp/proto.js';
import { decodeTracesJson } from '../../../src/otlp/json.js';
import { Telemetry } from '../../../src/telemetry.js';
import { readFixture, readJsonLines } from '../../helpers.js';

const ev = (i: number): AnalyticsEvent => ({ name: 'view_item', time_unix_nano: String(i), insert_id: `id-${i}`, properties: { item_id: 'x'.repeat(200) }, context: { source: 'span' } });
const host = { getExporter: () => undefined };

function make(raw: Record<string, unknown>) {
  const cfg = fileExporterFactory.configSchema.parse(raw);
  return fileExporterFactory.create({ id: 'file', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, cfg);
}

describe('file exporter', () => {
  it('writes one event per line, creating the directory', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-'));
    const file = path.join(dir, 'sub', 'events.jsonl');
    const e = make({ path: file });
    await e.start(host);
    await e.consume({ signal: 'events', data: [ev(1), ev(2)] });
    await e.shutdown();
    assert.deepEqual(readJsonLines(file), [ev(1), ev(2)]);
  });

  it('writes traces as OTLP/JSON requests that decode to the same spans', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-'));
    const file = path.join(dir, 'traces.jsonl');
    const data = decodeTracesRequest(readFixture('traces-shop-01.pb'));
    const e = make({ path: file });
    await e.start(host);
    await e.consume({ signal: 'traces', data });
    await e.shutdown();
    const line = fs.readFileSync(file, 'utf8').trim();
    assert.deepEqual(decodeTracesJson(line), data);
  });

  it('rotates by size and keeps max_backups', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-'));
    const file = path.join(dir, 'events.jsonl');
    const e = make({ path: file, rotation: { max_megabytes: 0.001, max_backups: 2 } });
    await e.start(host);
    for (let i = 0; i < 6; i++) {
      await e.consume({ signal: 'events', data: [ev(i), ev(i + 100), ev(i + 200), ev(i + 300), ev(i + 400)] });
      await new Promise((r) => setTimeout(r, 2)); // distinct rotation timestamps
    }
    await e.shutdown();
    const files = fs.readdirSync(dir).sort();
    assert.equal(files.filter((f) => f !== 'events.jsonl').length, 2, files.join(','));
    assert.ok(files.every((f) => /^events(-\d{4}-\d{2}-\d{2}T[\d-]+\.\d+Z)?\.jsonl$/.test(f)), files.join(','));
  });
});
