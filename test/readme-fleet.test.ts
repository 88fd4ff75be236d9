/**
 * The README's fleet walk-through ("A fleet: three extractors, one of them killed"), run as written
 * in one shell: a broker, topics of 6 partitions, gateway A, three extractor gateways B, the shop
 * captures, one extractor killed with SIGKILL, the counts. Changed: the ports (free ones), the
 * broker's data directory (a temporary one, not the shared one of `npm run kafka:start`) and
 * `npm run build` (the tests run built). It runs in a temporary directory holding links to the
 * checkout's build, configs, captures and scripts, so that what it writes stays out of the checkout.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { cliPath, freePort, projectRoot } from './helpers.js';
import { expectedShopEvents, noKafka } from './exporters/kafka/kafka-helpers.js';
import { describeUnless } from './skip.js';

const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### A fleet: three extractors, one of them killed'));
const block = /^```sh\n([\s\S]*?)^```$/m.exec(section)![1]!;
const output = /^```text\n([\s\S]*?)^```$/m.exec(section)![1]!;

describeUnless(noKafka, 'the README fleet walk-through', { timeout: 240_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-fleet-readme-'));
  const kafkaDir = path.join(dir, 'kafka');
  const kafkaScript = path.join(projectRoot, 'scripts', 'kafka', 'kafka.mjs');

  after(() => {
    spawnSync(process.execPath, [kafkaScript, 'stop', '--dir', kafkaDir, '--purge'], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs as written: every event of the shop captures once, by insert_id, after one extractor was killed', async (t) => {
    for (const f of ['test', 'examples', 'scripts', 'config.example.yaml']) fs.symlinkSync(path.join(projectRoot, f), path.join(dir, f));
    fs.symlinkSync(path.resolve(path.dirname(cliPath), '..'), path.join(dir, 'dist'));
    // Free ports for the fixed ones of the block.
    const ports = new Map<string, number>();
    for (const p of ['4318', '4317', '13133', '13134', '13135', '13136', '8888', '8889', '8890', '8891', '55680', '55681', '55682']) ports.set(p, await freePort());
    const port = (p: string) => String(ports.get(p)!);
    let script = block
      .replace('npm run build\n', '')
      .replace('npm run -s kafka:start', `node scripts/kafka/kafka.mjs start --dir ${kafkaDir}`)
      .replace('npm run kafka:stop', `node scripts/kafka/kafka.mjs stop --dir ${kafkaDir}`)
      // The loop's ports are made from $i: give each extractor its free ones.
      .replace('127.0.0.1:1313$((3 + i))', '127.0.0.1:$(eval echo \\$HEALTH_$i)')
      .replace('127.0.0.1:88$((88 + i))', '127.0.0.1:$(eval echo \\$METRICS_$i)')
      .replace('127.0.0.1:5568$((i - 1))', '127.0.0.1:$(eval echo \\$STATUS_$i)')
      .replace(/\b(4318|13133|13134|13135|13136|8890)\b/g, (p) => port(p));
    // gateway A's own ports come from its config: set them the way the config lets a user.
    const env = {
      ...process.env,
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
      OTELYTICS_HTTP_ENDPOINT: `127.0.0.1:${port('4318')}`,
      OTELYTICS_GRPC_ENDPOINT: `127.0.0.1:${port('4317')}`,
      HEALTH_1: port('13134'),
      HEALTH_2: port('13135'),
      HEALTH_3: port('13136'),
      METRICS_1: port('8889'),
      METRICS_2: port('8890'),
      METRICS_3: port('8891'),
      STATUS_1: port('55680'),
      STATUS_2: port('55681'),
      STATUS_3: port('55682'),
    };
    // A's health and metrics ports are in examples/kafka-pipeline-ingest.yaml: change them with --set.
    script = script.replace(
      'node dist/src/cli.js --config examples/kafka-pipeline-ingest.yaml',
      `node dist/src/cli.js --config examples/kafka-pipeline-ingest.yaml --set extensions::health_check::endpoint=127.0.0.1:${port('13133')} --set service::telemetry::metrics::address=127.0.0.1:${port('8888')}`,
    );
    const child = spawn('bash', ['-e', '-c', script], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 200_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    // Whatever the block left running (it kills its gateways; not when it failed half-way).
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.pid'))) {
      try {
        process.kill(Number(fs.readFileSync(path.join(dir, f), 'utf8')), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const logs = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').slice(-3000)}`).join('\n');
    assert.equal(code, 0, `the block failed:\n${out}\n${logs}`);

    // The counts as the README shows them; the number of events is the shop's, after the filter.
    const want = expectedShopEvents().length;
    const m = /otelytics_events: (\d+) records, (\d+) distinct insert_ids, (\d+) copies/.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[2]), want, 'every event of the shop captures');
    assert.equal(Number(m[1]) - Number(m[3]), want);
    assert.match(out, /group otelytics-events: 2 members, every raw record committed/);
    assert.match(out, /otlp_spans: \d+ records in 6 partitions, lag 0 0 0 0 0 0/);
    const documented = /otelytics_events: \S+ records, (\S+) distinct insert_ids/.exec(output)!;
    assert.equal(documented[1], String(want), `the README states the number of events:\n${out}`);
    // The lag metric read by the block from extractor 2: 0 on every partition of both raw topics.
    const lag = out.split('\n').filter((l) => l.startsWith('otelytics_kafka_receiver_lag{'));
    assert.equal(lag.length, 12, out);
    assert.ok(lag.every((l) => l.endsWith(' 0')), lag.join('\n'));
    t.diagnostic(out.split('\n').filter((l) => /^(group|  otlp|otelytics_events|  per partition)/.test(l)).join(' | '));
  });
});
