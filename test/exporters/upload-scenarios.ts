/**
 * The set-up the tests of the upload destinations (amplitude, segment, mixpanel, posthog) share:
 * their local stand-ins started and closed around a describe, and the exporter as the gateway runs
 * it (exporter helper, retries, dead-letter route into a file exporter).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { pino } from 'pino';
import type { Exporter, ExporterFactory, Host } from '../../src/component.js';
import { Telemetry } from '../../src/telemetry.js';
import { fileExporterFactory } from '../../exporters/file/index.js';

interface StandIn {
  reset(): void;
  close(): Promise<void>;
}

/**
 * In the current describe: a stand-in started with no options before the tests (handed to `set`),
 * reset before each test; every stand-in the returned function starts is closed after the tests.
 */
export function standIns<O, F extends StandIn>(start: (o: O) => Promise<F>, set: (fake: F) => void): (o: O) => Promise<F> {
  const servers: F[] = [];
  const server = async (o: O) => {
    const s = await start(o);
    servers.push(s);
    return s;
  };
  before(async () => {
    set(await server({} as O));
  });
  beforeEach(() => servers[0]?.reset());
  after(async () => {
    for (const s of servers) await s.close();
  });
  return server;
}

/**
 * In the current describe: a stand-in and a temporary directory (`<prefix>…`) made before the tests
 * (handed to `set`), closed and removed after them.
 */
export function standInWithDir<F extends StandIn>(start: () => Promise<F>, prefix: string, set: (fake: F, dir: string) => void): void {
  let fake: F | undefined;
  let dir = '';
  before(async () => {
    fake = await start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    set(fake, dir);
  });
  after(async () => {
    await fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

const logger = pino({ level: 'silent' });

/**
 * Starts `factory`'s exporter (its id the factory's type) with `config` and `dead_letter: file/dead`,
 * a file exporter writing `deadFile`; `stop` shuts both down.
 */
export async function withDeadLetter<C>(factory: ExporterFactory<C>, config: Record<string, unknown>, deadFile: string): Promise<{ exporter: Exporter; telemetry: Telemetry; stop(): Promise<void> }> {
  const telemetry = new Telemetry();
  const dead = fileExporterFactory.create({ id: 'file/dead', logger, telemetry }, fileExporterFactory.configSchema.parse({ path: deadFile }));
  const exporter = factory.create({ id: factory.type, logger, telemetry }, factory.configSchema.parse({ dead_letter: 'file/dead', ...config }));
  const host: Host = { getExporter: (id: string): Exporter | undefined => (id === 'file/dead' ? dead : id === factory.type ? exporter : undefined) };
  await dead.start(host);
  await exporter.start(host);
  return {
    exporter,
    telemetry,
    async stop() {
      await exporter.shutdown();
      await dead.shutdown();
    },
  };
}
