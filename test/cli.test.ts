/** The otelytics command as a user runs it. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, postFixture, fixtureManifest, projectRoot, readJsonLines, startGateway } from './helpers.js';

const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cliPath, ...args], { cwd: projectRoot, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

const tmpFile = (text: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f, text);
  return f;
};

describe('otelytics CLI', () => {
  it('validate: exit 0 on the example config', async () => {
    const r = await run(['validate', '--config', 'config.example.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration is valid: 1 pipeline\(s\): events/);
  });

  it('validate: exit 1 listing every broken key with its path', async () => {
    const f = tmpFile(`
receivers:
  otlp:
    protocols: { http: { endpoint: 4318 } }
exporters:
  file: { path: "", rotate: true }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [file] }
`);
    const r = await run(['validate', '--config', f]);
    assert.equal(r.code, 1);
    for (const re of [
      /receivers::otlp::protocols::http::endpoint: expected string/,
      /exporters::file::path: must be a non-empty string/,
      /exporters::file::rotate: unknown key/,
      /service::pipelines::events::processors::0: references processor "analytics" which is not configured/,
    ]) {
      assert.match(r.stderr, re);
    }
    assert.match(r.stderr, /invalid configuration \(4 errors\)/);
  });

  it('merges several --config files in order and applies --set last', async () => {
    const base = tmpFile('receivers: { otlp: }\nprocessors: { analytics: }\nexporters: { file: { path: a.jsonl } }\nservice: { pipelines: { events: { receivers: [otlp], processors: [analytics], exporters: [file] } } }\n');
    const broken = tmpFile('exporters: { file: { path: "" } }\n');
    assert.equal((await run(['validate', '--config', base, '--config', broken])).code, 1);
    assert.equal((await run(['validate', '--config', base, '--config', broken, '--set', 'exporters::file::path=b.jsonl'])).code, 0);
  });

  it('components lists every kind and type', async () => {
    const r = await run(['components']);
    assert.equal(r.code, 0);
    const sections = Object.fromEntries(
      r.stdout.split(/\n(?=\w)/).map((block) => {
        const [title, ...lines] = block.trim().split('\n');
        return [title!.replace(/:$/, ''), lines.map((l) => l.trim().split(/\s+/)[0])];
      }),
    );
    assert.ok(sections.receivers?.includes('otlp'), r.stdout);
    for (const t of ['analytics', 'batch', 'filter']) assert.ok(sections.processors?.includes(t), t);
    for (const t of ['file', 'debug', 'nop']) assert.ok(sections.exporters?.includes(t), t);
    assert.ok(sections.extensions?.includes('health_check'));
  });

  it('usage errors exit 2', async () => {
    assert.equal((await run([])).code, 2);
    assert.equal((await run(['frobnicate', '--config', 'x'])).code, 2);
    assert.equal((await run(['--no-such-flag'])).code, 2);
  });

  it('a port already in use stops start-up with exit 1, reported once with the full key', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const keys = [
      'receivers::otlp::protocols::http::endpoint',
      'receivers::otlp::protocols::grpc::endpoint',
      'extensions::health_check::endpoint',
      'extensions::status::endpoint',
      'service::telemetry::metrics::address',
    ];
    try {
      for (const key of keys) {
        const sets = [...keys.map((k) => `${k}=127.0.0.1:0`), `${key}=127.0.0.1:${port}`, `exporters::file::path=${path.join(os.tmpdir(), 'never.jsonl')}`];
        const r = await run(['--config', 'config.example.yaml', ...sets.flatMap((s) => ['--set', s])]);
        assert.equal(r.code, 1, r.stderr);
        const mentions = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(String(port)));
        assert.deepEqual(mentions, [`otelytics: ${key}: 127.0.0.1:${port} is already in use`]);
      }
    } finally {
      blocker.close();
    }
  });

  it('SIGTERM drains what was accepted and exits 0; health and metrics answer while running', async () => {
    const gw = await startGateway();
    const f = fixtureManifest().find((x) => x.path === 'traces-shop-02.pb')!;
    const r = await postFixture(gw.ports.http, f);
    assert.equal(r.status, 200);
    const health = await fetch(`http://127.0.0.1:${gw.ports.health}/`);
    assert.equal(((await health.json()) as { status: string }).status, 'Server available');
    const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
    assert.match(metrics, new RegExp(`otelcol_receiver_accepted_spans\\{receiver="otlp",transport="http"\\} ${f.spanCount}`));
    assert.match(metrics, /otelytics_events_created\{pipeline="events"\} \d+/);
    // The batch processor holds the events (200ms timeout); SIGTERM must flush them, not lose them.
    assert.equal(await gw.stop('SIGTERM'), 0);
    const events = readJsonLines(path.join(gw.dir, 'events.jsonl'));
    assert.ok(events.length > 0, 'the batched events were written on shutdown');
    assert.match(gw.output(), /shutting down/);
  });

  it('a second stop signal within a second of the first (Ctrl-C from the terminal and from npm) does not cut the drain short', async () => {
    // A destination that takes requests and never answers: the drain lasts its drain_timeout.
    const held: http.ServerResponse[] = [];
    const sink = http.createServer((_req, res) => held.push(res));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const sinkPort = (sink.address() as net.AddressInfo).port;
    const gw = await startGateway({
      sets: [
        `exporters::file::path=${path.join(os.tmpdir(), 'never.jsonl')}`,
        `exporters::otlp_http={"endpoint":"http://127.0.0.1:${sinkPort}","sending_queue":{"drain_timeout":"2s"}}`,
        'service::pipelines::events::exporters=[otlp_http]',
      ],
    });
    try {
      const body = { resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ logRecords: [{ timeUnixNano: `${Date.now()}000000`, eventName: 'cart.item_added', attributes: [] }] }] }] };
      const r = await fetch(`http://127.0.0.1:${gw.ports.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 200);
      gw.child.kill('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(gw.child.exitCode, null, 'still draining');
      assert.equal(await gw.stop('SIGINT'), 0, gw.output());
      assert.doesNotMatch(gw.output(), /without draining/);
      assert.equal(gw.output().match(/shutting down/g)?.length, 1);
    } finally {
      for (const res of held) res.destroy();
      sink.close();
    }
  });
});
