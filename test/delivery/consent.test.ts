/** An exporter's `consent` requirement (every exporter's delivery options): events without it never reach the destination. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { fileExporterFactory } from '../../exporters/file/index.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { Telemetry } from '../../src/telemetry.js';
import { readJsonLines } from '../helpers.js';

const ev = (id: string, consent?: AnalyticsEvent['consent']): AnalyticsEvent => ({ name: 'newsletter', time_unix_nano: '1', insert_id: id, properties: {}, context: { source: 'log' }, ...(consent ? { consent } : {}) });

async function written(consent: unknown, events: AnalyticsEvent[]): Promise<{ ids: string[]; metrics: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'consent-'));
  const file = path.join(dir, 'out.jsonl');
  const telemetry = new Telemetry();
  const e = fileExporterFactory.create({ id: 'file/marketing', logger: pino({ level: 'silent' }), telemetry }, fileExporterFactory.configSchema.parse({ path: file, consent }));
  await e.start({ getExporter: () => undefined });
  await e.consume({ signal: 'events', data: events });
  await e.shutdown();
  const ids = readJsonLines<AnalyticsEvent>(file).map((x) => x.insert_id);
  fs.rmSync(dir, { recursive: true, force: true });
  return { ids, metrics: await telemetry.registry.metrics() };
}

describe('exporter consent requirement', () => {
  const events = [ev('none'), ev('analytics', { analytics: true }), ev('marketing', { marketing: true }), ev('both', { analytics: true, marketing: true }), ev('denied', { marketing: false, email: true }), ev('email', { marketing: true, email: true })];

  it('one purpose, a list (all), {all, any}; missing or false is denied; what is kept out is counted', async () => {
    const one = await written('marketing', events);
    assert.deepEqual(one.ids, ['marketing', 'both', 'email']);
    assert.match(one.metrics, /otelytics_events_dropped\{component="file\/marketing",reason="no_consent"\} 3/);
    assert.deepEqual((await written(['analytics', 'marketing'], events)).ids, ['both']);
    assert.deepEqual((await written({ all: ['marketing'], any: ['email', 'sms'] }, events)).ids, ['email']);
    assert.deepEqual((await written({ any: ['analytics', 'email'] }, events)).ids, ['analytics', 'both', 'denied', 'email']);
  });

  it('without a requirement everything passes', async () => {
    assert.deepEqual((await written(undefined, events)).ids, events.map((e) => e.insert_id));
  });
});
