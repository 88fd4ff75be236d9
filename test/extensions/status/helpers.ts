/** Helpers of the status extension's tests: configs, the built page, a gateway with the status page on. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig, type GatewayConfig } from '../../../src/config/resolve.js';
import { loadRawConfig, parseConfigText } from '../../../src/config/sources.js';
import { defaultRegistry } from '../../../src/registry.js';
import { sseMessages } from '../../../src/commands/sse.js';
import { freePort, projectRoot, startGateway, type RunningGateway } from '../../helpers.js';

/** The compiled output directory these tests run from (`dist`, `dist-<name>`). */
export const distDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** config.example.yaml, resolved. */
export function exampleConfig(): GatewayConfig {
  return resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry());
}

/** A config from YAML text, resolved. */
export function configFrom(yaml: string): GatewayConfig {
  return resolveConfig(parseConfigText(yaml, 'test.yaml'), defaultRegistry());
}

/** Builds the status page into the compiled output when `npm run build` has not (e.g. a bare tsc build). */
export function ensureStatusAssets(): string {
  const dir = path.join(distDir, 'src', 'extensions', 'status', 'assets');
  if (!fs.existsSync(path.join(dir, 'app.js'))) {
    execFileSync(process.execPath, [path.join(projectRoot, 'scripts', 'build-status-ui.mjs'), '--outdir', path.relative(projectRoot, distDir)], { cwd: projectRoot, stdio: 'pipe' });
  }
  return dir;
}

export interface StatusGateway extends RunningGateway {
  statusPort: number;
  statusUrl: string;
  /** Where config.example.yaml's file exporter writes (relative to the gateway's working directory). */
  eventsFile: string;
}

/** config.example.yaml run by the CLI with the status extension on a free port. */
export async function startStatusGateway(extraSets: string[] = []): Promise<StatusGateway> {
  ensureStatusAssets();
  const statusPort = await freePort();
  const gw = await startGateway({
    sets: [
      `extensions::status::endpoint=127.0.0.1:${statusPort}`,
      'service::extensions=[health_check,status]',
      'exporters::debug::verbosity=basic',
      ...extraSets,
    ],
  });
  return Object.assign(gw, { statusPort, statusUrl: `http://127.0.0.1:${statusPort}`, eventsFile: path.join(gw.dir, 'data', 'events.jsonl') });
}

/** Reads Server-Sent Events from `url` until `until(events)` is true or `timeoutMillis` passes. */
export async function readSse(url: string, until: (events: { type: string; data: any }[]) => boolean, timeoutMillis = 5000, headers: Record<string, string> = {}): Promise<{ type: string; data: any }[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMillis);
  const events: { type: string; data: any }[] = [];
  try {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    for await (const m of sseMessages(res.body as unknown as AsyncIterable<Uint8Array>)) {
      events.push(m);
      if (until(events)) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}
