/**
 * The status extension in a real gateway (the CLI with config.example.yaml): graph, live numbers,
 * the tail as Server-Sent Events and through `otelytics tail`, the playground API, protection.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, fixtureManifest, postFixture, readJsonLines } from '../../helpers.js';
import { readSse, startStatusGateway, type StatusGateway } from './helpers.js';

const run = promisify(execFile);
let gw: StatusGateway;
const traces = fixtureManifest().find((f) => f.signal === 'traces' && f.contentType === 'application/json' && f.contentEncoding === 'identity')!;

before(async () => {
  gw = await startStatusGateway();
});
after(async () => {
  await gw?.stop();
});

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMillis = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('graph, live numbers and the tail agree with what the exporters wrote', async () => {
  const info = (await (await fetch(`${gw.statusUrl}/api/graph`)).json()) as { ready: boolean; graph: { nodes: { id: string; kind: string; component: string }[] } };
  assert.equal(info.ready, true);
  const id = (kind: string, c: string) => info.graph.nodes.find((n) => n.kind === kind && n.component === c)!.id;

  // Watch the tail first: the gateway copies events only while someone watches.
  const tail = readSse(`${gw.statusUrl}/api/tail?name=view_*`, (ev) => ev.filter((e) => e.type === 'message').flatMap((e) => e.data.items).length >= 1, 8000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await postFixture(gw.ports.http, traces)).status, 200);
  const written = await waitFor('events in the file', async () => {
    const lines = readJsonLines<{ name: string; insert_id: string }>(gw.eventsFile);
    return lines.length > 0 ? lines : undefined;
  });
  const seen = (await tail).filter((e) => e.type === 'message').flatMap((e) => e.data.items) as { pipeline: string; event: { name: string; insert_id: string } }[];
  const views = written.filter((e) => e.name.startsWith('view_'));
  assert.ok(seen.length >= 1 && seen.every((i) => i.event.name.startsWith('view_')), 'the name filter applies');
  for (const i of seen) assert.ok(views.some((w) => w.insert_id === i.event.insert_id), 'the tail shows what the exporters got');

  const stats = await waitFor('exporter totals', async () => {
    const s = (await (await fetch(`${gw.statusUrl}/api/stats`)).json()) as { nodes: Record<string, { totals: Record<string, number> }> };
    return s.nodes[id('exporter', 'file')]!.totals.out >= written.length ? s : undefined;
  });
  assert.equal(stats.nodes[id('receiver', 'otlp')]!.totals.in, traces.spanCount);
  assert.equal(stats.nodes[id('processor', 'analytics')]!.totals.in, traces.spanCount);
  assert.equal(stats.nodes[id('exporter', 'file')]!.totals.in, written.length);
  assert.equal(stats.nodes[id('exporter', 'file')]!.totals.out, written.length);
});

test('otelytics tail prints one line per event from the running gateway', async () => {
  const child = run(process.execPath, [cliPath, 'tail', '--endpoint', gw.statusUrl, '--limit', '2', '--json'], { timeout: 15_000 });
  await new Promise((r) => setTimeout(r, 500));
  await postFixture(gw.ports.http, traces);
  const { stdout } = await child;
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { pipeline: string; event: { name: string } });
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.pipeline === 'events' && typeof l.event.name === 'string'));
  const pretty = await run(process.execPath, [cliPath, 'tail', '--endpoint', gw.statusUrl, '--limit', '1', '--no-color'], { timeout: 15_000 });
  assert.match(pretty.stdout, /^\d\d:\d\d:\d\d\.\d{3} events \S+ /);
  const refused = await run(process.execPath, [cliPath, 'tail', '--endpoint', 'http://127.0.0.1:9'], { timeout: 15_000 }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((refused as { code: number }).code, 1);
  assert.match((refused as { stderr: string }).stderr, /cannot reach/);
});

test('the playground API runs the rules and refuses what is not JSON', async () => {
  const { samples, pipelines } = (await (await fetch(`${gw.statusUrl}/api/playground`)).json()) as { samples: { id: string; json: string }[]; pipelines: { analytics: string; privacy: string }[] };
  const body = JSON.stringify({ input: samples.find((s) => s.id === 'search-email')!.json, analytics: pipelines[0]!.analytics, privacy: pipelines[0]!.privacy });
  const r = (await (await fetch(`${gw.statusUrl}/api/playground`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json()) as { ok: boolean; result: { events: { exported: { name: string; properties: Record<string, unknown> } }[] } };
  assert.equal(r.ok, true);
  assert.deepEqual(r.result.events.map((e) => [e.exported.name, e.exported.properties.search_term]), [['search', '[email]']]);
  const form = await fetch(`${gw.statusUrl}/api/playground`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
  assert.equal(form.status, 415);
});

test('protected: a foreign Host is refused without a token; with a token, /api needs it', async () => {
  // fetch() does not send a Host of its choosing; node:http does (as a DNS-rebinding page's browser would).
  const status = (host: string) =>
    new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port: gw.statusPort, path: '/api/graph', headers: { host } }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject));
  assert.equal(await status('evil.example.com'), 403);
  assert.equal(await status(`localhost:${gw.statusPort}`), 200);
  const page = await fetch(`${gw.statusUrl}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);

  const token = 'test-token-0123456789abcdef';
  const secured = await startStatusGateway([`extensions::status::auth::bearer_token=${token}`]);
  try {
    assert.equal((await fetch(`${secured.statusUrl}/api/graph`)).status, 401);
    assert.equal((await fetch(`${secured.statusUrl}/api/graph`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.equal((await fetch(`${secured.statusUrl}/api/graph`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const denied = await run(process.execPath, [cliPath, 'tail', '--endpoint', secured.statusUrl], { timeout: 15_000 }).catch((e: { code: number; stderr: string }) => e);
    assert.match((denied as { stderr: string }).stderr, /401/);
  } finally {
    await secured.stop();
  }
});
