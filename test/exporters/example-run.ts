/**
 * An example config as a user runs it, for the exporter end-to-end tests: the real CLI on
 * config.example.yaml + `examples/<example>.yaml`, with the `file` exporter added to the events
 * pipeline beside `exporter` to record what that exporter was given, and every JSON fixture of the
 * OTel JS SDK posted over OTLP/HTTP.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { AnalyticsEvent } from '../../src/event.js';
import { fixtureManifest, postFixture, projectRoot, readJsonLines, startGateway } from '../helpers.js';

/** What the events pipeline handed to its exporters (the `file` copy), and the dead letters. */
export interface ExampleRun {
  pipeline: AnalyticsEvent[];
  dead: AnalyticsEvent[];
}

/**
 * Runs the example until every fixture is acknowledged and the gateway has stopped (exit 0).
 * `env`: the example's own variables (a pseudonym key and the dead-letter file are set here);
 * `beforePost`: called once the gateway is up, before the first fixture.
 */
export async function runExample(example: string, exporter: string, env: NodeJS.ProcessEnv, extraSets: readonly string[] = [], beforePost: () => void = () => undefined): Promise<ExampleRun> {
  const gw = await startGateway({
    configs: [path.join(projectRoot, 'config.example.yaml'), path.join(projectRoot, `examples/${example}.yaml`)],
    env: { ...env, OTELYTICS_PSEUDONYM_KEY: 'e2e-test-key-0123456789abcdef0123456789', OTELYTICS_DEAD_LETTER_FILE: 'dead-letter.jsonl' },
    sets: [`service::pipelines::events::exporters=[${exporter},file]`, 'exporters::file::path=events.jsonl', 'service::telemetry::logs::level=warn', ...extraSets],
  });
  try {
    beforePost();
    for (const f of fixtureManifest().filter((x) => x.path.endsWith('.json'))) {
      const r = await postFixture(gw.ports.http, f);
      assert.equal(r.status, 200, await r.text());
    }
  } finally {
    assert.equal(await gw.stop(), 0, gw.output());
  }
  const pipeline = readJsonLines<AnalyticsEvent>(path.join(gw.dir, 'events.jsonl'));
  const dead = readJsonLines<AnalyticsEvent>(path.join(gw.dir, 'dead-letter.jsonl'));
  fs.rmSync(gw.dir, { recursive: true, force: true });
  return { pipeline, dead };
}
