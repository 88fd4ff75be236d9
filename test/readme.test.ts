/**
 * The README's shell examples that talk to a running gateway (the curl requests with the shop
 * captures, the `grep` of the events file, `rules test`), run as written from a checkout against a
 * gateway started on config.example.yaml. Only the ports are changed to free ones; the commands run
 * in a temporary directory holding links to the checkout's captures, build and example config, so
 * that what they write (data/, events.jsonl) stays out of the checkout.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, projectRoot, readJsonLines, startGateway, type RunningGateway } from './helpers.js';

const exec = promisify(execFile);
const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');

interface Block { lang: string; body: string; at: number }
const blocks: Block[] = [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]!, at: m.index! }));
/** The sh blocks that need a gateway running on the example config, and nothing else (no broker). */
const examples = blocks.filter((b) => b.lang === 'sh' && /127\.0\.0\.1:4318\/v1\/|data\/events\.jsonl|rules test/.test(b.body) && !/kafka/i.test(b.body));

/** A block's commands: continued lines joined, blank lines and comments left out. */
const commands = (body: string) =>
  body
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

/** The first ```json block after `b`: the output the README shows for it. */
const documentedAfter = (b: Block) => JSON.parse(blocks.find((x) => x.at > b.at && x.lang === 'json')!.body) as Record<string, unknown>;

describe('README examples against a running gateway', () => {
  let gw: RunningGateway;
  const ran = new Map<string, string>();

  before(async () => {
    gw = await startGateway({ sets: [] });
    // The checkout's files the commands name, by their paths relative to the checkout.
    fs.symlinkSync(path.join(projectRoot, 'test'), path.join(gw.dir, 'test'));
    fs.symlinkSync(path.join(projectRoot, 'config.example.yaml'), path.join(gw.dir, 'config.example.yaml'));
    fs.symlinkSync(path.resolve(path.dirname(cliPath), '..'), path.join(gw.dir, 'dist'));
    const ports: Record<string, number> = { 4318: gw.ports.http, 4317: gw.ports.grpc, 13133: gw.ports.health, 8888: gw.ports.metrics, 55679: gw.ports.status };
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
    for (const b of examples) {
      for (const command of commands(b.body)) {
        const cmd = command.replace(/\b(?:127\.0\.0\.1|localhost):(4318|4317|13133|8888|55679)\b/g, (_, p: string) => `127.0.0.1:${ports[p]}`);
        // The file exporter writes a batch within its 200 ms timeout: wait for it as a person would.
        const waitsForEvents = /\bdata\/events\.jsonl\b/.test(cmd);
        for (let attempt = 0; ; attempt++) {
          const { stdout } = await exec('bash', ['-c', cmd], { cwd: gw.dir, env, timeout: 30_000 });
          if (!waitsForEvents || stdout.trim() || attempt >= 100) {
            ran.set(command, stdout);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  });

  after(async () => {
    if (gw) {
      await gw.stop();
      fs.rmSync(gw.dir, { recursive: true, force: true });
    }
  });

  it('finds the examples: requests with the shop captures, the events file, rules test; nothing outside the checkout', () => {
    const all = examples.flatMap((b) => commands(b.body));
    assert.ok(all.some((c) => /^curl .*--data-binary @test\/captures\/otlp\/traces-shop-01\.pb/.test(c)), all.join('\n'));
    assert.ok(all.some((c) => /^curl .*\/v1\/logs/.test(c)));
    assert.ok(all.some((c) => c.startsWith('grep view_item data/events.jsonl')));
    assert.ok(all.some((c) => c.startsWith('node dist/src/cli.js rules test')));
    assert.doesNotMatch(readme, /\.\.\/shared|shared\/fixtures/);
    for (const c of all) for (const file of c.matchAll(/@(\S+)|--input (\S+)/g)) assert.ok(fs.existsSync(path.join(projectRoot, file[1] ?? file[2]!)), `${c}: no ${file[1] ?? file[2]}`);
  });

  it('the gateway makes the event the README shows of the first product page view', () => {
    const block = examples.find((b) => b.body.includes('grep view_item data/events.jsonl'))!;
    const grep = [...ran].find(([c]) => c.startsWith('grep view_item'))![1];
    const first = JSON.parse(grep.trim().split('\n')[0]!) as Record<string, unknown>;
    assert.deepEqual(first, documentedAfter(block));
    assert.equal((first.properties as Record<string, unknown>).item_id, 'trq22o064-q11');
  });

  it('the logs request of the example makes events too', async () => {
    const deadline = Date.now() + 5000;
    let events = readJsonLines<{ name: string; context: { source: string } }>(path.join(gw.dir, 'data', 'events.jsonl'));
    while (!events.some((e) => e.name === 'cart.item_added') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      events = readJsonLines(path.join(gw.dir, 'data', 'events.jsonl'));
    }
    assert.ok(events.some((e) => e.context.source === 'log' && e.name === 'cart.item_added'));
  });

  it('rules test prints the same events, one JSON object per line', () => {
    const lines = readJsonLines<{ pipeline: string; input: string; event: Record<string, unknown> }>(path.join(gw.dir, 'events.jsonl'));
    assert.ok(lines.length > 0);
    assert.ok(lines.every((l) => l.pipeline === 'events' && l.input === 'test/captures/otlp/traces-shop-01.json'));
    const views = lines.filter((l) => l.event.name === 'view_item');
    const count = [...ran].find(([c]) => c.startsWith("grep -c '\"name\":\"view_item\"'"))![1];
    assert.equal(Number(count.trim()), views.length);
    assert.ok(views.length > 1);
    const block = examples.find((b) => b.body.includes('grep view_item data/events.jsonl'))!;
    assert.deepEqual(views[0]!.event, documentedAfter(block));
  });
});
