/**
 * `npm start` as the README has it: npm, the shell of the script and the gateway are one process
 * for signals. SIGTERM sent to npm's pid, and Ctrl-C (SIGINT to the whole foreground process
 * group, which npm also forwards), stop the gateway: it drains, exits 0 and frees its ports.
 * Ports are overridden with free ones (the example config's OTELYTICS_*_ENDPOINT variables and
 * `npm start -- --set ...`), and events go to a temporary file, so the run leaves no `./data`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, projectRoot } from './helpers.js';

/** npm as the test runner was started by (`npm test`), else the one on PATH. */
function npmCommand(): { cmd: string; args: string[] } {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.js$/.test(execPath)) return { cmd: process.execPath, args: [execPath] };
  return { cmd: 'npm', args: [] };
}

/** Whether a TCP port on 127.0.0.1 can be bound (nothing holds it). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Runs `npm start` on free ports until healthy, calls `stop(pid)` with npm's pid (npm leads its own
 * process group), and checks the exit and the ports. Resolves with everything npm and the gateway printed.
 */
async function startAndStop(stop: (pid: number) => void): Promise<string> {
  const ports = { http: await freePort(), grpc: await freePort(), health: await freePort(), status: await freePort(), metrics: await freePort() };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-npm-start-'));
  const hadData = fs.existsSync(path.join(projectRoot, 'data'));
  const npm = npmCommand();
  const args = [
    ...npm.args,
    'start',
    '--silent',
    '--',
    '--set', `exporters::file::path=${path.join(dir, 'events.jsonl')}`,
    '--set', `extensions::health_check::endpoint=127.0.0.1:${ports.health}`,
    '--set', `extensions::status::endpoint=127.0.0.1:${ports.status}`,
    '--set', `service::telemetry::metrics::address=127.0.0.1:${ports.metrics}`,
  ];
  const env = { ...process.env, OTELYTICS_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`, OTELYTICS_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}` };
  // Its own process group: Ctrl-C's target, and what is ended if the test fails.
  const child = spawn(npm.cmd, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    // npm start builds first: allow for a cold TypeScript build on a busy machine.
    const deadline = Date.now() + 180_000;
    for (;;) {
      assert.equal(child.exitCode, null, `npm start exited early:\n${out}`);
      const ok = await fetch(`http://127.0.0.1:${ports.health}/`).then((r) => r.status === 200, () => false);
      if (ok) break;
      assert.ok(Date.now() < deadline, `the gateway was not healthy within 180 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const [name, port] of Object.entries(ports)) assert.equal(await canBind(port), false, `${name} port ${port} is not held while running`);

    stop(child.pid!);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, out);
    for (const [name, port] of Object.entries(ports)) assert.equal(await canBind(port), true, `${name} port ${port} is still held after npm exited:\n${out}`);
    assert.equal(fs.existsSync(path.join(projectRoot, 'data')), hadData, 'npm start left ./data in the checkout');
    return out;
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* the group is gone */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('npm start: SIGTERM to npm stops the gateway, which drains, exits 0 and frees its five ports', { timeout: 240_000 }, async () => {
  const out = await startAndStop((pid) => process.kill(pid, 'SIGTERM'));
  assert.match(out, /"signal":"SIGTERM","msg":"shutting down/);
  assert.match(out, /"msg":"stopped"/);
});

test('npm start: Ctrl-C (SIGINT to the process group, forwarded by npm too) drains once and exits 0', { timeout: 240_000 }, async () => {
  const out = await startAndStop((pid) => process.kill(-pid, 'SIGINT'));
  assert.equal(out.match(/"msg":"shutting down/g)?.length, 1, out);
  assert.doesNotMatch(out, /without draining/);
  assert.match(out, /"msg":"stopped"/);
});
