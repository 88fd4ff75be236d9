/**
 * The committed captures are what the project's own programs send: the JS SDK shop
 * (scripts/interop/js/shop.mjs) and the Java and Go SDK shops (scripts/interop/java, scripts/interop/go,
 * built by scripts/interop/tools.mjs into the cache), run again against a recording server, send
 * request for request the bodies in test/captures/otlp (gzip bodies compared decompressed, since
 * their bytes depend on the compressor's build). A changed program or pinned SDK fails here until
 * `node scripts/interop/capture.mjs` is run again.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { captureManifest, fixtureBodyPlain, projectRoot } from '../helpers.js';
import { run, tools } from './interop.js';

interface Sent { signal: string; contentType: string; contentEncoding: string; userAgent: string; body: Buffer }

describe('the shops send the committed captures again', () => {
  let sent: Sent[] = [];
  let server: http.Server;
  let sink = '';

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]!;
        const raw = Buffer.concat(chunks);
        const contentEncoding = req.headers['content-encoding'] ?? 'identity';
        sent.push({ signal: req.url === '/v1/traces' ? 'traces' : 'logs', contentType, contentEncoding, userAgent: req.headers['user-agent'] ?? '', body: contentEncoding === 'gzip' ? zlib.gunzipSync(raw) : raw });
        res.writeHead(200, { 'content-type': contentType });
        res.end(contentType === 'application/json' ? '{}' : '');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    sink = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  /** Compares what one program sent with the manifest's bodies of that SDK, request by request. */
  function compare(source: string): void {
    const want = captureManifest().filter((f) => f.source === source);
    assert.equal(sent.length, want.length, `${source}: requests sent`);
    for (const f of want) {
      const same = sent.filter((s) => s.signal === f.signal && s.contentType === f.contentType && s.contentEncoding === f.contentEncoding);
      const got = same[f.batch - 1];
      assert.ok(got, `${f.path}: no such request`);
      assert.equal(got.userAgent, f.userAgent, f.path);
      assert.ok(got.body.equals(fixtureBodyPlain(f)), `${f.path}: other bytes than the committed capture`);
    }
  }

  it('the JS SDK shop', async () => {
    sent = [];
    const r = await run(process.execPath, [path.join(projectRoot, 'scripts', 'interop', 'js', 'shop.mjs'), '--endpoint', sink], { cwd: projectRoot });
    assert.equal(r.code, 0, r.stderr);
    compare('js');
  });

  it('the Java SDK shop', async () => {
    const { java, args } = await (await tools()).ensureJavaShop();
    sent = [];
    const r = await run(java, [...args, sink], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    compare('java');
  });

  it('the Go SDK shop', async () => {
    const { bin } = await (await tools()).ensureGoShop();
    sent = [];
    const r = await run(bin, [sink]);
    assert.equal(r.code, 0, r.stderr);
    compare('go');
  });
});
