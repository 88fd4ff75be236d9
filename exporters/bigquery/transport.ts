/**
 * The BigQuery client's requests over connections with the exporter's `tls` settings.
 *
 * `@google-cloud/bigquery` sends its REST requests through `@google-cloud/common`, which hands them
 * to `teeny-request` (node-fetch) with a connection pool shared by the whole process, and takes no
 * agent or CA of its own; `gaxios` (google-auth-library) only fetches the credentials' tokens. So
 * with a `tls` section, {@link sendThrough} keeps the client for everything but the connection: it
 * replaces the client's `makeAuthenticatedRequest` with one that lets the client authorise and
 * decorate each request as usual (its `onAuthenticated` hook), sends it through the exporter's
 * agents, and hands the answer to the client's own `util.handleResp`, so that answers and
 * `ApiError`s are what the client makes of them. Streaming and multipart requests (the exporter
 * makes none) keep the client's own path.
 *
 * What the client's path does and this one does not: `HTTP(S)_PROXY` (the exporter's `tls` applies
 * to a direct connection); and when default credentials cannot be found, a 401 is reported as the
 * API's 401 rather than as the credentials' error.
 */
import http from 'node:http';
import https from 'node:https';
import querystring from 'node:querystring';
import zlib from 'node:zlib';
import type { BigQuery } from '@google-cloud/bigquery';
import type { util as CommonUtil } from '@google-cloud/common';

/** The fields of a decorated request (teeny-request's options) this path reads. */
interface DecoratedRequest {
  uri?: string;
  url?: string;
  method?: string;
  qs?: Record<string, unknown>;
  useQuerystring?: boolean;
  json?: unknown;
  body?: unknown;
  headers?: Record<string, string> | Headers;
  /** Milliseconds; the whole request, answer included. */
  timeout?: number;
  multipart?: unknown;
}

/** An answer in the shape `util.handleResp` reads (request's `Response`). */
interface ResponseLike {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
  body: unknown;
  request: { href: string; headers: Record<string, string> };
  toJSON(): { headers: Record<string, string> };
}

type Callback = (err: Error | null, body?: unknown, res?: unknown) => void;

/** The connection pools the client's requests take: `https` carries the `tls` settings. */
export interface TransportAgents {
  http: http.Agent;
  https: https.Agent;
}

/** Most bytes of an answer read; insertAll and table answers are far smaller. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

function plainHeaders(h: DecoratedRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (typeof Headers !== 'undefined' && h instanceof Headers) h.forEach((v, k) => (out[k] = v));
  else for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = String(v);
  return out;
}

/** Sends one decorated request; `done` gets (error, answer, body) as teeny-request gives them. Returns a handle that aborts it. */
function send(opts: DecoratedRequest, agents: TransportAgents, done: (err: Error | null, res: ResponseLike | null, body: unknown) => void): { abort(): void } {
  let uri = opts.uri ?? opts.url;
  if (!uri) {
    done(new Error('Missing uri or url in reqOpts.'), null, null);
    return { abort() {} };
  }
  if (opts.useQuerystring === true || (opts.qs && typeof opts.qs === 'object')) uri += `?${querystring.stringify(opts.qs as querystring.ParsedUrlQueryInput)}`;
  const headers = plainHeaders(opts.headers);
  let body: string | Buffer | undefined;
  if (opts.json !== undefined && typeof opts.json === 'object' && opts.json !== null) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (Buffer.isBuffer(opts.body) || typeof opts.body === 'string') body = opts.body;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  headers['Accept-Encoding'] = 'gzip';
  const target = new URL(uri);
  const secure = target.protocol === 'https:';
  let settled = false;
  const finish = (err: Error | null, res: ResponseLike | null, b: unknown) => {
    if (settled) return;
    settled = true;
    done(err, res, b);
  };
  const req = (secure ? https : http).request(target, { method: opts.method ?? 'GET', headers, agent: secure ? agents.https : agents.http }, (res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stream = /gzip/i.test(String(res.headers['content-encoding'] ?? '')) ? res.pipe(zlib.createGunzip()) : res;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER_BYTES) return void req.destroy(new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
      chunks.push(c);
    });
    res.on('error', (err: Error) => finish(err, null, null));
    if (stream !== res) stream.on('error', (err: Error) => finish(err, null, null));
    stream.on('end', () => {
      const resHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) resHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: unknown = text;
      if (/^application\/json\b/i.test(resHeaders['content-type'] ?? '') && text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      const response: ResponseLike = {
        statusCode: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        headers: resHeaders,
        body: parsed,
        request: { href: uri, headers },
        toJSON: () => ({ headers: resHeaders }),
      };
      finish(null, response, parsed);
    });
  });
  if (opts.timeout && opts.timeout > 0) {
    const ms = opts.timeout;
    req.setTimeout(ms, () => req.destroy(Object.assign(new Error(`no answer within ${ms} ms`), { code: 'ETIMEDOUT' })));
  }
  req.on('error', (err) => finish(err, null, null));
  req.end(body);
  return { abort: () => req.destroy(Object.assign(new Error('request aborted'), { code: 'ABORT_ERR' })) };
}

/**
 * Makes `client` send its (callback) requests through `agents` (see the module's description).
 * Call once, right after the client is made. `util`: `@google-cloud/common`'s, passed in so that
 * the package is loaded with the client, only when a bigquery exporter is used (loaded at start,
 * it took 9 MiB of heap in every gateway).
 */
export function sendThrough(client: BigQuery, agents: TransportAgents, util: typeof CommonUtil): void {
  const own = client.makeAuthenticatedRequest;
  const replaced = (reqOpts: DecoratedRequest, optionsOrCallback?: unknown): unknown => {
    if (typeof optionsOrCallback !== 'function' || reqOpts.multipart !== undefined) {
      return (own as (o: unknown, x?: unknown) => unknown)(reqOpts, optionsOrCallback);
    }
    const callback = optionsOrCallback as Callback;
    let active: { abort(): void } | undefined;
    let aborted = false;
    (own as (o: unknown, x: unknown) => unknown)(reqOpts, {
      onAuthenticated: (err: Error | null, authorised?: DecoratedRequest) => {
        if (err) return callback(err);
        if (aborted) return;
        active = send(authorised ?? reqOpts, agents, (e, res, body) => util.handleResp(e, res as never, body as never, callback as never));
      },
    });
    return {
      abort() {
        aborted = true;
        active?.abort();
      },
    };
  };
  Object.assign(replaced, { getCredentials: own.getCredentials, authClient: own.authClient });
  client.makeAuthenticatedRequest = replaced as unknown as typeof own;
}
