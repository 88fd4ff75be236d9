import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { healthCheckFactory, healthCheckSchema } from '../../src/extensions/health_check.js';
import { Telemetry } from '../../src/telemetry.js';
import { freePort } from '../helpers.js';

describe('health_check extension', () => {
  it('answers readiness on path and ready_path (503 starting, 200 ready, 503 draining) and liveness on live_path throughout', async () => {
    const port = await freePort();
    const ext = healthCheckFactory.create({ id: 'health_check', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, healthCheckSchema.parse({ endpoint: `127.0.0.1:${port}` }));
    await ext.start({ getExporter: () => undefined });
    const get = async (p: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${p}`);
      return { status: r.status, body: (await r.json()) as { status: string; state?: string } };
    };
    try {
      assert.deepEqual(await get('/readyz'), { status: 503, body: { status: 'Server not available', state: 'starting' } });
      assert.equal((await get('/livez')).status, 200);
      ext.onReadyChange!(true);
      for (const p of ['/', '/readyz']) {
        const r = await get(p);
        assert.equal(r.status, 200);
        assert.equal(r.body.status, 'Server available');
      }
      ext.onReadyChange!(false);
      assert.deepEqual(await get('/'), { status: 503, body: { status: 'Server not available', state: 'draining' } });
      const live = await get('/livez');
      assert.equal(live.status, 200);
      assert.equal(live.body.state, 'draining');
      assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
    } finally {
      await ext.shutdown();
    }
  });
});
