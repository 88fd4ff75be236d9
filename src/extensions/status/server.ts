/**
 * The status extension's HTTP server (fastify):
 *
 * | route | answer |
 * |---|---|
 * | `GET /` , `GET /assets/<file>` | the page (built at package time, see scripts/build-status-ui.mjs) |
 * | `GET /api/graph` | `{ graph, pipelines, ready, playground, tail }`: the laid-out pipeline graph |
 * | `GET /api/stats` | {@link StatsSnapshot}: per node rates, totals, queue and last error |
 * | `GET /api/tail?pipeline=&name=` | Server-Sent Events: `data: {"items":[{seq,n,pipeline,event}]}` (and `worker` with several workers), `event: skipped` with `{"count"}` |
 * | `GET /api/catalogue` | `{ catalogues: [{ id, pipelines, catalogue }] }`: each `catalogue` processor's event catalogue (processors/catalogue) |
 * | `GET /api/violations?limit=` | `{ items, totals }`: the latest events that broke a tracking plan, newest first (at most 200; names, pointers and messages, no values), and the violations per kind since start |
 * | `GET /api/playground` | `{ samples, pipelines }`: sample input and the gateway's settings as YAML |
 * | `POST /api/playground` | {@link PlaygroundResponse} for `{ input, analytics, privacy }` (JSON only) |
 *
 * Protection: with `auth::bearer_token`, `/api/*` needs `Authorization: Bearer <token>` (401 with
 * `WWW-Authenticate: Bearer` otherwise); without it, requests must name a loopback host, an IP
 * address or the configured host in `Host` (so a web page cannot reach the API through DNS
 * rebinding). With `tls` (a {@link ServerTlsSource}) the page is served over https. Every answer
 * carries a strict Content-Security-Policy (no inline scripts, same origin).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { errorMessage } from '../../errors.js';
import { answerClientError } from '../../http_client_error.js';
import { createHttpServer, type ServerTlsSource } from '../../tls/server.js';
import type { PipelineGraph } from './graph.js';
import { playgroundPipelines, type PlaygroundRequest } from './playground.js';
import type { PlaygroundRunner } from './runner.js';
import { PLAYGROUND_SAMPLES } from './samples.js';
import type { StatsSnapshot } from './stats.js';
import type { TailMessage, TailSource } from './tail.js';
import type { GatewayConfig } from '../../config/resolve.js';
import type { CatalogueApiAnswer } from '../../commands/catalogue.js';
import type { StatusConfig } from './config.js';
import { FASTIFY_BASE_OPTIONS } from '../../fastify_options.js';
import type { RecentViolation } from '../../../processors/tracking_plan/recent.js';
import type { ViolationKind } from '../../../processors/tracking_plan/plan.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** SSE keep-alive comment interval. */
const KEEPALIVE_MILLIS = 15_000;

/** What `GET /api/violations` answers. */
export interface ViolationsAnswer {
  items: RecentViolation[];
  totals: Record<ViolationKind, number>;
}

export interface StatusServerDeps {
  cfg: StatusConfig;
  config: GatewayConfig;
  graph: PipelineGraph;
  /** The numbers of the graph's nodes (the `GraphStats` of this process, or those of every worker merged). */
  stats: { snapshot(): Promise<StatsSnapshot> };
  tail: TailSource;
  runner: PlaygroundRunner | undefined;
  /** The `limit` most recent violations of the tracking_plan processors, and their totals; undefined when the config has none. */
  violations?: (limit: number) => ViolationsAnswer | Promise<ViolationsAnswer>;
  assetsDir: string;
  ready: () => boolean;
  version: string;
  /** Serve https with this certificate. */
  tls?: ServerTlsSource;
  /** The event catalogues of the gateway's `catalogue` processors; given only when one runs. */
  catalogues?: () => CatalogueApiAnswer | Promise<CatalogueApiAnswer>;
}

/** Static files of the page, read once. Empty when the page was not built. */
export function loadAssets(dir: string): Map<string, { type: string; body: Buffer; etag: string }> {
  const out = new Map<string, { type: string; body: Buffer; etag: string }>();
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (!type) continue;
    const body = fs.readFileSync(path.join(dir, name));
    out.set(name, { type, body, etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return out;
}

function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/** Whether a `Host` header may reach an unauthenticated API on `boundHost`. */
export function allowedHost(header: string | undefined, boundHost: string): boolean {
  if (!header) return false;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(header.trim());
  if (!m) return false;
  const host = (m[1] ?? m[2]!).toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || net.isIP(host) !== 0 || host === boundHost.toLowerCase();
}

export function buildStatusServer(d: StatusServerDeps): { app: FastifyInstance; closeStreams(): void } {
  const assets = loadAssets(d.assetsDir);
  const token = d.cfg.auth.bearer_token;
  const boundHost = d.cfg.endpoint.slice(0, d.cfg.endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  const streams = new Set<ServerResponse>();
  const app = Fastify({
    ...FASTIFY_BASE_OPTIONS,
    logger: false,
    bodyLimit: d.cfg.playground.max_input_bytes,
    forceCloseConnections: true,
    clientErrorHandler: (err, socket) => answerClientError(err, socket),
    serverFactory: (handler) => createHttpServer(d.tls, {}, handler),
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.headers(SECURITY_HEADERS);
    const url = req.url;
    if (!url.startsWith('/api/')) return;
    if (token === undefined) {
      if (!allowedHost(req.headers.host, boundHost)) {
        return reply.code(403).send({ error: 'this Host is not allowed without auth::bearer_token; open the page by IP address or localhost' });
      }
      return;
    }
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (!m || !sameSecret(m[1]!.trim(), token)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="otelytics status"').send({ error: 'a bearer token is required (auth::bearer_token)' });
    }
  });

  const sendAsset = (name: string, req: FastifyRequest, reply: FastifyReply) => {
    const a = assets.get(name);
    if (!a) {
      if (name === 'index.html') {
        return reply
          .code(503)
          .type('text/html; charset=utf-8')
          .send('<!doctype html><title>otelytics status</title><p>The status page was not built. Run <code>npm run build</code> (it runs <code>scripts/build-status-ui.mjs</code>). The API under <code>/api/</code> works.</p>');
      }
      return reply.code(404).send({ error: 'not found' });
    }
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.header('etag', a.etag).header('cache-control', 'no-cache').type(a.type).send(a.body);
  };
  app.get('/', (req, reply) => sendAsset('index.html', req, reply));
  app.get<{ Params: { name: string } }>('/assets/:name', (req, reply) => sendAsset(req.params.name, req, reply));

  app.get('/api/graph', async () => ({
    version: d.version,
    ready: d.ready(),
    graph: d.graph,
    tail: { pipelines: d.tail.pipelines, buffer_size: d.cfg.tail.buffer_size, max_events_per_second: d.cfg.tail.max_events_per_second },
    playground: d.runner !== undefined,
    catalogue: d.catalogues !== undefined,
    violations: d.violations !== undefined,
  }));

  app.get('/api/catalogue', async () => d.catalogues?.() ?? { catalogues: [] });

  app.get('/api/stats', async () => d.stats.snapshot());

  app.get<{ Querystring: { pipeline?: string; name?: string } }>('/api/tail', (req, reply) => {
    const { pipeline, name } = req.query;
    if (pipeline !== undefined && pipeline !== '' && !d.tail.pipelines.includes(pipeline)) {
      return reply.code(404).send({ error: `no events pipeline "${pipeline}" (events pipelines: ${d.tail.pipelines.join(', ') || 'none'})` });
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    streams.add(res);
    const write = (m: TailMessage) => {
      if (m.type === 'events') res.write(`data: ${JSON.stringify({ items: m.items })}\n\n`);
      else res.write(`event: skipped\ndata: ${JSON.stringify({ count: m.count })}\n\n`);
    };
    res.write(`event: hello\ndata: ${JSON.stringify({ pipelines: d.tail.pipelines, filter: { pipeline: pipeline || null, name: name || null } })}\n\n`);
    const stop = d.tail.watch({ ...(pipeline ? { pipeline } : {}), ...(name ? { name } : {}) }, write);
    const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MILLIS);
    keepalive.unref();
    res.on('close', () => {
      clearInterval(keepalive);
      streams.delete(res);
      stop();
    });
  });

  app.get<{ Querystring: { limit?: string } }>('/api/violations', async (req, reply) => {
    if (!d.violations) return reply.code(404).send({ error: 'no tracking_plan processor in the config' });
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1) return reply.code(400).send({ error: 'limit must be a positive integer' });
    return d.violations(limit);
  });

  app.get('/api/playground', async (_req, reply) => {
    if (!d.runner) return reply.code(404).send({ error: 'the playground is off (playground::enabled: false)' });
    d.runner.warm();
    return { samples: PLAYGROUND_SAMPLES, pipelines: playgroundPipelines(d.config) };
  });

  app.post<{ Body: unknown }>('/api/playground', async (req, reply) => {
    if (!d.runner) return reply.code(404).send({ error: 'the playground is off (playground::enabled: false)' });
    const b = req.body as Partial<PlaygroundRequest> | undefined;
    if (!req.headers['content-type']?.startsWith('application/json') || !b || typeof b !== 'object') {
      return reply.code(415).send({ error: 'send a JSON object { input, analytics, privacy }' });
    }
    const bad = (['input', 'analytics', 'privacy'] as const).filter((k) => b[k] !== undefined && typeof b[k] !== 'string');
    if (bad.length > 0 || typeof b.input !== 'string') return reply.code(400).send({ error: `input (required), analytics and privacy must be strings${bad.length ? `; not: ${bad.join(', ')}` : ''}` });
    try {
      return await d.runner.run({ input: b.input, analytics: b.analytics ?? '', privacy: b.privacy ?? '' });
    } catch (err) {
      return reply.code(422).send({ ok: false, errors: { input: [{ path: '', message: errorMessage(err) }], analytics: [], privacy: [] } });
    }
  });

  return {
    app,
    closeStreams() {
      for (const s of streams) s.end();
      streams.clear();
    },
  };
}
