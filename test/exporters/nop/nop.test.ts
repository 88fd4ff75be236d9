import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pino } from 'pino';
import { nopExporterFactory } from '../../../exporters/nop/index.js';
import { Telemetry } from '../../../src/telemetry.js';

it('nop exporter discards and counts as sent; rejects options', async () => {
  const telemetry = new Telemetry();
  const e = nopExporterFactory.create({ id: 'nop', logger: pino({ level: 'silent' }), telemetry }, nopExporterFactory.configSchema.parse({}));
  await e.consume({ signal: 'events', data: [{ name: 'a', time_unix_nano: '1', insert_id: 'x', properties: {}, context: { source: 'log' } }] });
  assert.match(await telemetry.registry.metrics(), /otelcol_exporter_sent_log_records\{exporter="nop"\} 1/);
  assert.equal(nopExporterFactory.configSchema.safeParse({ path: 'x' }).success, false);
});
