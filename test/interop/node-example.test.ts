/**
 * Node: examples/node/app.mjs, the OpenTelemetry JS SDK emitting events through the logs API with
 * an event name, run as a user runs it (OTEL_EXPORTER_OTLP_* variables), over HTTP/protobuf and gRPC.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { eventsToFileConfig, run, writeConfig } from './interop.js';

interface Ev { name: string; properties: Record<string, unknown>; context: Record<string, string>; user_id?: string; session_id?: string }

const protocols = ['http/protobuf', 'grpc'] as const;

describe('examples/node → gateway', () => {
  let gw: RunningGateway;
  let dir: string;
  let events: Ev[] = [];
  const traceIds = new Map<string, string>();

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-node-'));
    const config = writeConfig(
      dir,
      'gateway.yaml',
      eventsToFileConfig(dir),
    );
    gw = await startGateway({ configs: [config], sets: [] });
    for (const protocol of protocols) {
      const endpoint = protocol === 'grpc' ? `http://127.0.0.1:${gw.ports.grpc}` : `http://127.0.0.1:${gw.ports.http}`;
      const r = await run(process.execPath, [path.join(projectRoot, 'examples', 'node', 'app.mjs')], {
        env: { OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: `cart-node-${protocol}` },
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.stderr);
      traceIds.set(protocol, (JSON.parse(r.stdout.trim()) as { trace_id: string }).trace_id);
    }
    assert.equal(await gw.stop(), 0, gw.output());
    events = readJsonLines<Ev>(path.join(dir, 'events.jsonl'));
  });

  after(() => {
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const protocol of protocols) {
    it(`${protocol}: events emitted through the logs API arrive with their name, attributes, identity and trace`, () => {
      const mine = events.filter((e) => e.context['service.name'] === `cart-node-${protocol}`);
      assert.deepEqual(mine.map((e) => e.name).sort(), ['cart.item_added', 'cart.viewed']);
      for (const e of mine) {
        assert.equal(e.context.trace_id, traceIds.get(protocol));
        assert.equal(e.context['service.version'], '2.0.1');
        assert.equal(e.user_id, 'u-2001');
        assert.equal(e.session_id, 's-88');
      }
      assert.deepEqual(mine.find((e) => e.name === 'cart.item_added')!.properties, { 'product.sku': 'TRQ22O064-Q11', 'cart.quantity': 1, 'product.price': 24.99 });
      assert.deepEqual(mine.find((e) => e.name === 'cart.viewed')!.properties, { 'cart.items': 3 });
    });
  }
});
