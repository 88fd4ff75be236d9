/** A dead-letter route that no pipeline lists still runs and receives what its source gives up on. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { decodeLogsRequest } from '../../src/otlp/proto.js';
import { fixtureManifest, postFixture, readFixture, readJsonLines, startGateway } from '../helpers.js';

interface Ev { name: string; insert_id: string; dead_letter?: { exporter: string; reason: string; time: string } }

it('events a destination refuses for good land in the dead-letter exporter with the reason', async () => {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'dl-'));
  const full = path.join(dir, 'full.jsonl');
  fs.symlinkSync('/dev/full', full); // every write fails with ENOSPC
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    `receivers: { otlp: }
processors: { analytics: }
exporters:
  file/broken:
    path: ${full}
    sending_queue: { enabled: true }
    retry_on_failure: { max_elapsed_time: 50ms, initial_interval: 10ms }
    dead_letter: file/dead
  file/dead:
    path: ${path.join(dir, 'dead.jsonl')}
extensions: { health_check: }
service:
  extensions: [health_check]
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [file/broken] }
`,
  );
  const gw = await startGateway({ configs: [config], sets: [] });
  const f = fixtureManifest().find((x) => x.path === 'logs-shop-01.pb')!;
  try {
    assert.equal((await postFixture(gw.ports.http, f)).status, 200);
  } finally {
    assert.equal(await gw.stop(), 0, gw.output());
  }
  const dead = readJsonLines<Ev>(path.join(dir, 'dead.jsonl'));
  // One event per log record with an event name; the plain log lines make none.
  const named = decodeLogsRequest(readFixture(f.path)).resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).filter((r) => r.eventName);
  assert.ok(named.length > 0 && named.length < f.logCount!);
  assert.equal(dead.length, named.length);
  for (const e of dead) {
    assert.equal(e.dead_letter?.exporter, 'file/broken');
    assert.match(e.dead_letter!.reason, /ENOSPC|no space/i);
    assert.ok(!Number.isNaN(Date.parse(e.dead_letter!.time)));
  }
});
