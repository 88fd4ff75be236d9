/**
 * `otelytics tail`: prints events as they pass a running gateway's exporters, one coloured line
 * each, read from the `status` extension's `/api/tail` stream (Server-Sent Events).
 *
 *   otelytics tail --config F [--set ...]          the status extension's endpoint and token from the config
 *   otelytics tail --endpoint http://127.0.0.1:55679 [--token T]
 *   options: --pipeline ID, --name GLOB, --json (one {"pipeline","event"} per line), --limit N, --no-color
 *
 * The token comes from --token, else OTELYTICS_STATUS_TOKEN, else the config's
 * `auth::bearer_token`. Exit codes: 0 after --limit events or Ctrl-C; 1 when the endpoint cannot
 * be reached, refuses the request or closes the stream; 2 usage error.
 */
import { resolveConfig } from '../config/resolve.js';
import { parseEndpoint } from '../config/schema.js';
import { loadRawConfig } from '../config/sources.js';
import { ConfigErrors, errorMessage } from '../errors.js';
import type { AnalyticsEvent } from '../event.js';
import { defaultRegistry } from '../registry.js';
import { sseMessages } from './sse.js';
import type { StatusConfig } from '../extensions/status/config.js';
import { commandArgs, usageError } from './args.js';
import { eventLine, exitQuietlyOnClosedPipe, palette, useColor } from './format.js';

export const TAIL_USAGE = 'otelytics tail (--config FILE [--set ...] | --endpoint URL) [--token T] [--pipeline ID] [--name GLOB] [--json] [--limit N] [--no-color]';

/** The status endpoint URL and token named by a config (the first enabled `status` extension). */
export function statusEndpointFromConfig(configs: string[], sets: string[], env: NodeJS.ProcessEnv): { url: string; token?: string } {
  const config = resolveConfig(loadRawConfig(configs, sets, env), defaultRegistry());
  const id = config.service.extensions.find((e) => config.extensions.get(e)?.factory.type === 'status');
  if (!id) throw new Error('the config runs no status extension: add `status:` under extensions and to service::extensions, or use --endpoint');
  const cfg = config.extensions.get(id)!.config as StatusConfig;
  const ep = parseEndpoint(cfg.endpoint)!;
  const host = ep.host === '0.0.0.0' || ep.host === '' ? '127.0.0.1' : ep.host === '::' ? '::1' : ep.host;
  // With tls the page is https; its CA is trusted through NODE_EXTRA_CA_CERTS when it is not a public one.
  return { url: `${cfg.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${ep.port}`, ...(cfg.auth.bearer_token ? { token: cfg.auth.bearer_token } : {}) };
}

export async function tailCommand(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe();
  const values = commandArgs('tail', TAIL_USAGE, argv, {
    config: { type: 'string', multiple: true, short: 'c' },
    set: { type: 'string', multiple: true },
    endpoint: { type: 'string' },
    token: { type: 'string' },
    pipeline: { type: 'string' },
    name: { type: 'string' },
    json: { type: 'boolean', default: false },
    limit: { type: 'string' },
    'no-color': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof values === 'number') return values;
  const usage = (msg: string) => usageError('tail', TAIL_USAGE, msg);
  if (!values.endpoint && !values.config?.length) return usage('give --config or --endpoint');
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!(limit > 0) || (limit !== Infinity && !Number.isInteger(limit))) return usage('--limit must be a positive integer');

  let url: string;
  let token = values.token ?? process.env.OTELYTICS_STATUS_TOKEN;
  if (values.endpoint) {
    url = /^https?:\/\//.test(values.endpoint) ? values.endpoint.replace(/\/+$/, '') : `http://${values.endpoint}`;
  } else {
    try {
      const found = statusEndpointFromConfig(values.config!, values.set ?? [], process.env);
      url = found.url;
      token ??= found.token;
    } catch (err) {
      if (err instanceof ConfigErrors) {
        process.stderr.write(`otelytics tail: invalid configuration:\n${err.errors.map((e) => `  ${e.message}\n`).join('')}`);
      } else process.stderr.write(`otelytics tail: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  const q = new URLSearchParams();
  if (values.pipeline) q.set('pipeline', values.pipeline);
  if (values.name) q.set('name', values.name);
  const c = palette(!values.json && useColor(process.stdout, values['no-color']));
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let printed = 0;
  try {
    let res: Response;
    try {
      res = await fetch(`${url}/api/tail?${q}`, { headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }, signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) return 0;
      process.stderr.write(`otelytics tail: cannot reach ${url}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}; is the gateway running with the status extension in service::extensions?\n`);
      return 1;
    }
    if (!res.ok || !res.body) {
      const body = await res.text().catch(() => '');
      const hint = res.status === 401 ? ' (give the token with --token or OTELYTICS_STATUS_TOKEN)' : '';
      process.stderr.write(`otelytics tail: ${url} answered ${res.status}${hint}: ${body.slice(0, 300)}\n`);
      return 1;
    }
    for await (const { type, data } of sseMessages(res.body as unknown as AsyncIterable<Uint8Array>)) {
      const msg = data as { items?: { pipeline: string; event: AnalyticsEvent }[]; count?: number };
      if (type === 'skipped') {
        process.stderr.write(c.warn(`… ${msg.count} events not shown (rate limit or buffer)\n`));
        continue;
      }
      if (type !== 'message') continue;
      let text = '';
      for (const item of msg.items ?? []) {
        text += values.json ? JSON.stringify({ pipeline: item.pipeline, event: item.event }) + '\n' : eventLine(item.pipeline, item.event, c) + '\n';
        if (++printed >= limit) break;
      }
      process.stdout.write(text);
      if (printed >= limit) {
        abort.abort();
        return 0;
      }
    }
    if (abort.signal.aborted) return 0;
    process.stderr.write(`otelytics tail: ${url} closed the stream (the gateway stopped?)\n`);
    return 1;
  } catch (err) {
    if (abort.signal.aborted) return 0;
    process.stderr.write(`otelytics tail: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
