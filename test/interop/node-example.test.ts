/**
 * Node: examples/node/app.mjs, the OpenTelemetry JS SDK, run as a user runs it (OTEL_EXPORTER_OTLP_*
 * variables), over HTTP/protobuf and gRPC, against config.example.yaml as `npm start` runs it: the
 * events its README shows arrive, one made by a rule of its span, one emitted through the logs API.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { run } from './interop.js';

interface Ev { name: string; properties: Record<string, unknown>; context: Record<string, string>; user_id?: string; session_id?: string; consent?: Record<string, boolean> }

const protocols = ['http/protobuf', 'grpc'] as const;

describe('examples/node → gateway (config.example.yaml)', () => {
  let gw: RunningGateway;
  let events: Ev[] = [];
  const traceIds = new Map<string, string>();

  before(async () => {
    gw = await startGateway();
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
    events = readJsonLines<Ev>(path.join(gw.dir, 'events.jsonl'));
  });

  after(() => {
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
  });

  for (const protocol of protocols) {
    it(`${protocol}: add_to_cart from the span's rule and cart.free_shipping_reached from the logs API, with pseudonymised identity and one trace`, () => {
      const mine = events.filter((e) => e.context['service.name'] === `cart-node-${protocol}`);
      assert.deepEqual(mine.map((e) => e.name).sort(), ['add_to_cart', 'cart.free_shipping_reached']);
      const byName = new Map(mine.map((e) => [e.name, e]));
      assert.deepEqual(byName.get('add_to_cart')!.properties, { item_id: 'trq22o064-q11', quantity: 1 });
      assert.deepEqual({ source: byName.get('add_to_cart')!.context.source, rule: byName.get('add_to_cart')!.context.rule }, { source: 'span', rule: 'add-to-cart' });
      assert.deepEqual(byName.get('cart.free_shipping_reached')!.properties, { 'cart.value': 59.99, 'cart.currency': 'EUR', 'shipping.threshold': 50 });
      assert.equal(byName.get('cart.free_shipping_reached')!.context.source, 'log');
      for (const e of mine) {
        assert.equal(e.context.trace_id, traceIds.get(protocol));
        assert.equal(e.context['service.version'], '2.0.1');
        assert.deepEqual(e.consent, { analytics: true });
        // Keyed pseudonyms (`<key id>:<hmac>`), the same for both events of the visitor.
        assert.match(e.user_id ?? '', /^[0-9a-f]{8}:[\w-]+$/);
        assert.match(e.session_id ?? '', /^[0-9a-f]{8}:[\w-]+$/);
        assert.notEqual(e.user_id, 'u-2001');
      }
      assert.equal(new Set(mine.map((e) => `${e.user_id} ${e.session_id}`)).size, 1);
    });
  }
});
