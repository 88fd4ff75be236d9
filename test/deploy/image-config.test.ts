/**
 * The image's default command run as the image runs it (no container engine runs here: the
 * Dockerfile's CMD is read, its /etc/otelytics paths mapped to the files the Dockerfile copies
 * there): OTLP on every interface only over TLS and with a bearer token. Without the mounted
 * certificate it does not start and names the missing file; with it, a request without the token
 * is refused with 401 and one with it is taken, its events carrying the token's name.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerfileParser } from 'dockerfile-ast';
import { projectRoot, readJsonLines, startGateway, type RunningGateway } from '../helpers.js';
import { makeCa, type TestCa } from '../tls/pki.js';

const df = DockerfileParser.parse(fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8'));
const cmd = JSON.parse(df.getInstructions().filter((i) => i.getKeyword() === 'CMD').at(-1)!.getArgumentsContent()!) as string[];

/**
 * Where each file the runtime stage copies to /etc/otelytics comes from in the checkout: the build
 * stage's `/src/<path>` is `<path>` of the build context, which the build stage copies in.
 */
function imageFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of df.getCOPYs().filter((x) => x.getFromFlag())) {
    const [src, dest] = [c.getArguments()[0]!.getValue(), c.getArguments().at(-1)!.getValue()];
    if (dest.startsWith('/etc/otelytics/') && src.startsWith('/src/')) out.set(dest, path.join(projectRoot, src.slice('/src/'.length)));
  }
  return out;
}

function post(port: number, ca: Buffer, body: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: 'localhost', path: '/v1/logs', method: 'POST', ca, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe("the image's default command", () => {
  const files = imageFiles();
  const configs = cmd.filter((_, i) => cmd[i - 1] === '--config').map((c) => files.get(c) ?? c);
  let ca: TestCa;
  let dir: string;
  let gw: RunningGateway | undefined;
  const token = 'd6f1c0b4a8e2937c5f0e1a2b3c4d5e6f';

  before(() => {
    ca = makeCa();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-image-'));
  });
  after(async () => {
    await gw?.stop();
    ca.rm();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lays the secure overlay over the example config, both copied into the image', () => {
    assert.deepEqual(cmd, ['--config', '/etc/otelytics/config.yaml', '--config', '/etc/otelytics/secure.yaml']);
    assert.deepEqual(configs, [path.join(projectRoot, 'config.example.yaml'), path.join(projectRoot, 'deploy', 'docker', 'secure.yaml')]);
    const context = df.getCOPYs().filter((c) => !c.getFromFlag()).flatMap((c) => c.getArguments().slice(0, -1).map((a) => a.getValue()));
    for (const c of ['config.example.yaml', 'deploy/docker/secure.yaml']) assert.ok(context.includes(c), `the build stage copies ${c}`);
  });

  it('does not start without the mounted token file or certificate, and says which file is missing', async () => {
    const tokens = path.join(dir, 'tokens');
    const missing = async (env: NodeJS.ProcessEnv, where: RegExp) =>
      assert.rejects(startGateway({ configs, env }), (err: Error) => {
        assert.match(err.message, /gateway exited with [1-9]/);
        assert.match(err.message, where);
        return true;
      });
    await missing({ OTELYTICS_TLS_DIR: path.join(dir, 'none'), OTELYTICS_TOKENS_FILE: tokens }, /extensions::bearertokenauth::filename: cannot read .*tokens/);
    fs.writeFileSync(tokens, `team-a ${token}\n`);
    await missing({ OTELYTICS_TLS_DIR: path.join(dir, 'none'), OTELYTICS_TOKENS_FILE: tokens }, /receivers::otlp::protocols::http::tls::cert_file/);
  });

  it('takes OTLP over TLS only with a token, and puts its name into the events', async () => {
    const tlsDir = path.join(dir, 'tls');
    fs.mkdirSync(tlsDir);
    const server = ca.sign('gateway', { cn: 'localhost', server: true });
    fs.copyFileSync(server.certFile, path.join(tlsDir, 'tls.crt'));
    fs.copyFileSync(server.keyFile, path.join(tlsDir, 'tls.key'));
    gw = await startGateway({ configs, env: { OTELYTICS_TLS_DIR: tlsDir, OTELYTICS_TOKENS_FILE: path.join(dir, 'tokens') } });
    const body = fs.readFileSync(path.join(projectRoot, 'test', 'captures', 'otlp', 'logs-shop-01.json'), 'utf8');
    const caPem = fs.readFileSync(ca.caFile);
    assert.equal(await post(gw.ports.http, caPem, body), 401);
    assert.equal(await post(gw.ports.http, caPem, body, 'wrong-token-0123456789'), 401);
    assert.equal(await post(gw.ports.http, caPem, body, token), 200);
    const file = path.join(gw.dir, 'events.jsonl');
    const deadline = Date.now() + 10_000;
    while (readJsonLines(file).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const events = readJsonLines<{ context: Record<string, unknown> }>(file);
    assert.ok(events.length > 0, gw.output());
    for (const e of events) assert.equal(e.context.tenant, 'team-a');
  });
});
