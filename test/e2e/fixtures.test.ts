/**
 * Every fixture body through a gateway started from config.example.yaml, over HTTP (each encoding
 * and compression) and gRPC, checked at the file exporter's output.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { fixtureBodyPlain, fixtureManifest, postFixture, readJsonLines, startGateway, type FixtureFile, type RunningGateway } from '../helpers.js';

interface JsonKV { key: string; value: Record<string, unknown> }
interface JsonSpan { name: string; kind: number; traceId: string; spanId: string; attributes: JsonKV[] }

const attr = (kvs: JsonKV[], key: string): unknown => {
  const v = kvs.find((kv) => kv.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
};

/** What the example rules should make of a fixture batch, worked out from the JSON fixture itself. */
function expectedFromFixtures(files: FixtureFile[]) {
  const spans: JsonSpan[] = [];
  const logNames: string[] = [];
  for (const f of files.filter((x) => x.path.endsWith('.json'))) {
    const body = JSON.parse(fixtureBodyPlain(f).toString('utf8'));
    for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    for (const rl of body.resourceLogs ?? []) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) if (r.eventName) logNames.push(r.eventName);
  }
  const ok = (s: JsonSpan) => s.kind === 2 && Number(attr(s.attributes, 'http.response.status_code')) < 400;
  const route = (s: JsonSpan, method: string, r: string) => ok(s) && attr(s.attributes, 'http.request.method') === method && attr(s.attributes, 'http.route') === r;
  return {
    viewItem: spans.filter((s) => route(s, 'GET', '/pdp/:slug')),
    search: spans.filter((s) => route(s, 'GET', '/search')),
    addToCart: spans.filter((s) => route(s, 'POST', '/cart')),
    purchase: spans.filter((s) => route(s, 'POST', '/checkout')),
    beginCheckout: spans.filter((s) => route(s, 'GET', '/checkout')),
    signUp: spans.filter((s) => route(s, 'POST', '/signup')),
    logEvents: logNames.filter((n) => !n.startsWith('feature_flag.')),
    flagEvaluations: logNames.filter((n) => n.startsWith('feature_flag.')).length,
  };
}

interface Ev { name: string; insert_id: string; properties: Record<string, unknown>; context: Record<string, unknown>; session_id?: string }

describe('fixtures end to end through config.example.yaml', () => {
  let gw: RunningGateway;
  let events: Ev[] = [];
  const manifest = fixtureManifest();
  const expected = expectedFromFixtures(manifest);
  const pbFiles = manifest.filter((f) => f.path.endsWith('.pb'));

  before(async () => {
    gw = await startGateway();
    for (const f of manifest) {
      const r = await postFixture(gw.ports.http, f);
      const text = await r.text();
      assert.equal(r.status, 200, `${f.path}: ${r.status} ${text}`);
      assert.equal(r.headers.get('content-type')?.split(';')[0], f.contentType);
    }
    for (const f of pbFiles) {
      const service = f.signal === 'traces' ? 'opentelemetry.proto.collector.trace.v1.TraceService' : 'opentelemetry.proto.collector.logs.v1.LogsService';
      const id = (b: Buffer) => b;
      const Client = grpc.makeGenericClientConstructor(
        { Export: { path: `/${service}/Export`, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
        'Otlp',
      );
      const client = new Client(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
      await new Promise<void>((resolve, reject) =>
        (client as unknown as { Export: (b: Buffer, cb: (e: Error | null) => void) => void }).Export(fixtureBodyPlain(f), (err) => (err ? reject(err) : resolve())),
      );
      client.close();
    }
    assert.equal(await gw.stop(), 0, gw.output());
    events = readJsonLines<Ev>(path.join(gw.dir, 'events.jsonl'));
  });

  after(() => gw?.child.exitCode === null && gw.child.kill('SIGKILL'));

  // Each batch was sent 4 times over HTTP (json, json.gz, pb, pb.gz) and once over gRPC.
  const sends = 5;

  it('makes view_item with the item id captured from the URL', () => {
    const views = events.filter((e) => e.name === 'view_item');
    assert.equal(views.length, expected.viewItem.length * sends);
    const ids = new Set(views.map((e) => e.properties.item_id));
    const wantIds = new Set(expected.viewItem.map((s) => /-([a-z0-9]{9}-[a-z0-9]{3})\.html$/.exec(String(attr(s.attributes, 'url.path')))![1]));
    assert.deepEqual(ids, wantIds);
    assert.ok(ids.has('trq22o064-q11'));
  });

  it('makes search with the decoded search term, add_to_cart, purchase and sign_up', () => {
    const searches = events.filter((e) => e.name === 'search');
    assert.equal(searches.length, expected.search.length * sends);
    assert.ok(searches.some((e) => e.properties.search_term === 'sneaker weiss'));
    assert.ok(searches.some((e) => e.properties.search_term === 'gürtel leder'));
    const carts = events.filter((e) => e.name === 'add_to_cart');
    assert.equal(carts.length, expected.addToCart.length * sends);
    const wantCart = expected.addToCart.map((s) => `${String(attr(s.attributes, 'cart.sku')).toLowerCase()}x${attr(s.attributes, 'cart.quantity')}`).sort();
    const gotCart = carts.map((e) => `${e.properties.item_id}x${e.properties.quantity}`).sort();
    assert.deepEqual(gotCart, wantCart.flatMap((c) => Array(sends).fill(c)).sort());
    assert.equal(events.filter((e) => e.name === 'purchase').length, expected.purchase.length * sends);
    assert.equal(events.filter((e) => e.name === 'sign_up').length, expected.signUp.length * sends);
    assert.ok(expected.beginCheckout.length > 0);
    assert.equal(events.filter((e) => e.name === 'begin_checkout').length, expected.beginCheckout.length * sends);
  });

  it('turns log records with an event name into events, and filters flag evaluations', () => {
    const fromLogs = events.filter((e) => e.context.source === 'log');
    assert.equal(fromLogs.length, expected.logEvents.length * sends);
    assert.ok(expected.flagEvaluations > 0);
    assert.equal(events.filter((e) => e.name.startsWith('feature_flag.')).length, 0);
    const viewed = fromLogs.find((e) => e.name === 'product.viewed')!;
    assert.equal(viewed.properties['product.sku'], 'TRQ22O064-Q11');
    assert.equal(viewed.context['service.name'], 'shop-web');
  });

  it('makes no event of failed or technical requests', () => {
    for (const e of events.filter((x) => x.context.source === 'span')) {
      assert.ok(['view_item', 'search', 'add_to_cart', 'purchase', 'sign_up', 'begin_checkout'].includes(e.name), e.name);
    }
    const total = expected.viewItem.length + expected.search.length + expected.addToCart.length + expected.purchase.length + expected.beginCheckout.length + expected.signUp.length;
    assert.equal(events.filter((x) => x.context.source === 'span').length, total * sends);
  });

  it('gives every event a deterministic insert_id, the same whichever way the batch came', () => {
    const counts = new Map<string, number>();
    for (const e of events) counts.set(e.insert_id, (counts.get(e.insert_id) ?? 0) + 1);
    assert.ok(counts.size > 0);
    for (const [id, n] of counts) assert.equal(n % sends, 0, `insert_id ${id} seen ${n} times`);
    assert.equal(counts.size * sends, events.length, 'two different source records shared an insert_id');
  });

  // JSON bodies are decoded; protobuf trace bodies reach the analytics rules undecoded (projected).
  it('makes the very same event of a record whichever encoding, compression or transport it came in', () => {
    const byId = new Map<string, string[]>();
    for (const e of events) {
      let list = byId.get(e.insert_id);
      if (!list) byId.set(e.insert_id, (list = []));
      list.push(JSON.stringify(e));
    }
    for (const [id, copies] of byId) for (const c of copies) assert.equal(c, copies[0], `insert_id ${id}`);
  });

  it('carries trace context on span events', () => {
    const v = events.find((e) => e.name === 'view_item')!;
    assert.match(String(v.context.trace_id), /^[0-9a-f]{32}$/);
    assert.match(String(v.context.span_id), /^[0-9a-f]{16}$/);
    assert.equal(v.context.rule, 'product-page');
  });
});
