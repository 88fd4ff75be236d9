/**
 * The README's "Securing the gateway" section, run as written: its shell block makes the CA, the
 * gateway's certificate and the token file; its config (`secure.yaml`) runs the gateway; its client
 * block sends the Node example's spans and events with the token and the CA from the SDK's standard
 * environment variables, and a request without the token. Only the ports are changed (to free
 * ones, as test/readme.test.ts does); everything runs in a temporary directory with links to the
 * checkout's example and build.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot, readJsonLines, startGateway, type RunningGateway } from './helpers.js';

const exec = promisify(execFile);
const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
const start = readme.indexOf('\n## Securing the gateway\n');
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
const blocks = [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));

describe('README: securing the gateway, as written', () => {
  const shell = blocks.filter((b) => b.lang === 'sh');
  const config = blocks.find((b) => b.lang === 'yaml');
  let dir: string;
  let gw: RunningGateway;
  let clientOutput = '';

  before(async () => {
    assert.equal(shell.length, 2, 'a block that makes the certificates and tokens, and a client block');
    assert.ok(config, 'the config block');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-readme-secure-'));
    fs.symlinkSync(path.join(projectRoot, 'examples'), path.join(dir, 'examples'));
    await exec('bash', ['-euo', 'pipefail', '-c', shell[0]!.body], { cwd: dir, timeout: 60_000 });
    fs.writeFileSync(path.join(dir, 'secure.yaml'), config!.body);
    gw = await startGateway({ configs: [path.join(dir, 'secure.yaml')], sets: [], dir });
    const ports: Record<string, number> = { 4318: gw.ports.http, 4317: gw.ports.grpc };
    const client = shell[1]!.body.replace(/\blocalhost:(4318|4317)\b/g, (_, p: string) => `localhost:${ports[p]}`);
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
    clientOutput = (await exec('bash', ['-euo', 'pipefail', '-c', client], { cwd: dir, env, timeout: 60_000 })).stdout;
  });

  after(async () => {
    if (gw) await gw.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves OTLP over TLS with bearer tokens on both protocols', () => {
    assert.match(gw.output(), /"http":"127\.0\.0\.1:\d+ \(TLS\) \(auth: bearertokenauth\)","grpc":"127\.0\.0\.1:\d+ \(TLS\) \(auth: bearertokenauth\)"/);
    assert.match(fs.readFileSync(path.join(dir, 'tokens'), 'utf8'), /^team-a [0-9a-f]{64}\n$/);
  });

  it('refuses the request without the token: the client block prints 401', () => {
    assert.equal(clientOutput.trim().split('\n').at(-1), '401');
  });

  it("takes the SDK's spans and events, and puts the token's name into every event's context", async () => {
    const file = path.join(dir, 'data', 'events.jsonl');
    const deadline = Date.now() + 10_000;
    let events = readJsonLines<{ name: string; context: Record<string, unknown> }>(file);
    while (!events.some((e) => e.name === 'cart.free_shipping_reached') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      events = readJsonLines(file);
    }
    assert.ok(events.some((e) => e.name === 'cart.free_shipping_reached'), JSON.stringify(events));
    for (const e of events) assert.equal(e.context.tenant, 'team-a', JSON.stringify(e));
    const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.metrics}/metrics`)).text();
    assert.match(metrics, /^otelytics_receiver_auth_failures\{receiver="otlp",transport="http",reason="missing"\} 1$/m);
  });
});
