/**
 * OTLP/HTTP server (fastify), per the OTLP specification's "OTLP/HTTP" section:
 * - POST `/v1/traces`, `/v1/logs`, `/v1/metrics` with `application/x-protobuf` or
 *   `application/json`; the answer uses the request's encoding;
 * - `Content-Encoding: gzip` or `deflate` (or none); the body limit applies after decompression,
 *   and decompression stops as soon as it is passed (a gzip bomb costs at most the limit);
 * - 200 with an empty `Export*ServiceResponse`; 400 with a `google.rpc.Status` for undecodable
 *   data (clients do not retry it); 413 for a body over the limit; 415 for another content type;
 *   405 for another method; 503 with `Retry-After` (seconds) when the pipeline refuses for now;
 *   200 with `partial_success` when some records were over the attribute limits;
 * - while the admission gate refuses (memory limiter over its soft limit), or when the bodies in
 *   flight would pass `admission::request_limit_mib` (counted by `Content-Length`), 503 with
 *   `Retry-After` and `Connection: close` before any byte of the body is read;
 * - slow clients: `read_header_timeout` for the headers, `read_timeout` for the body (408 and the
 *   connection closed), `idle_timeout` between keep-alive requests;
 * - a request line and headers over Node's 16 KiB: 414 or 431, and other requests Node's parser
 *   refuses: 400, answered without resetting the connection (`src/http_client_error.ts`);
 * - with `tls`: https (src/tls/server.ts), the certificate reloaded with `setSecureContext`; with
 *   `client_ca_file` the connection of a client without a certificate its CAs signed is closed as
 *   its handshake ends, before a request is read (counted as an auth failure, reason `tls`);
 * - with `auth`: the authenticator decides in an `onRequest` hook, before the body is read or the
 *   route runs (unknown paths included; CORS preflights, which carry no credentials, excepted):
 *   401 with `WWW-Authenticate` and a `google.rpc.Status` (code 16, UNAUTHENTICATED) in the
 *   request's encoding (OTLP/HTTP: "the response body MUST be the appropriate protobuf-encoded
 *   Status message" for a failure, JSON-encoded for JSON requests), or 503 with `Retry-After`
 *   when the authenticator is busy. A body left unread is discarded when it is declared at most
 *   {@link MAX_UNREAD_DISCARD} bytes; a larger or chunked one closes the connection instead.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type tls from 'node:tls';
import zlib from 'node:zlib';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { encodeExportResponseJson, encodeStatusJson } from '../../src/otlp/json.js';
import { encodeExportResponse, encodeStatus } from '../../src/otlp/proto.js';
import { parseEndpoint } from '../../src/config/schema.js';
import { answerClientError } from '../../src/http_client_error.js';
import type { AuthOutcome } from '../../src/auth/server.js';
import { peerCommonName } from '../../src/tls/server.js';
import type { OtlpHttpConfig } from './config.js';
import type { ExportHandler, ExportOutcome, OtlpSignal, WireEncoding } from './handler.js';
import { clientInfo, RPC_UNAUTHENTICATED, type ProtocolSecurity } from './security.js';
import { FASTIFY_BASE_OPTIONS } from '../../src/fastify_options.js';

/**
 * Largest unread body of a refused request (401) that is read and discarded to keep the
 * connection, bytes; a larger or chunked one closes it. Go's net/http discards up to 256 KiB of a
 * body its handler left unread before reusing a connection (`maxPostHandlerReadBytes`).
 */
export const MAX_UNREAD_DISCARD = 256 * 1024;

/** TLS handshake errors that say nothing of the client's credentials: a connection closed or timed out before the handshake. */
const UNREMARKABLE_TLS_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_SSL_SHUTDOWN_WHILE_IN_INIT']);

/** The headers of a request as `include_metadata` hands them on: lower-case names, each with its values. */
function headerMetadata(headers: http.IncomingHttpHeaders): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v : [v];
  }
  return out;
}

/** google.rpc.Code values used in Status bodies. */
const RpcCode = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14 } as const;

class HttpStatusError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

function wireEncoding(contentType: string | undefined): WireEncoding | undefined {
  if (!contentType) return undefined;
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/x-protobuf' || mime === 'application/protobuf') return 'proto';
  if (mime === 'application/json') return 'json';
  return undefined;
}

/**
 * Reads a request body, decompressing it, and stops with 413 once `limit` bytes are passed, or with
 * 408 when the whole body has not arrived within `timeoutMillis` (0: no limit).
 *
 * Plain listeners rather than `stream.pipeline`: a pipeline costs an AbortController and a
 * DOMException per request, a quarter of the cost of a small request. On an error the rest of the
 * body is discarded, not read into memory (destroying the stream would drop the connection without
 * an answer), and a decompressor is destroyed at once; the caller answers 413 and 408 with
 * `Connection: close`.
 */
export function readBody(stream: Readable, contentEncoding: string | undefined, limit: number, timeoutMillis = 0): Promise<Buffer> {
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  let inflater: zlib.Gunzip | zlib.Inflate | undefined;
  if (enc === 'gzip' || enc === 'x-gzip') inflater = zlib.createGunzip();
  else if (enc === 'deflate') inflater = zlib.createInflate();
  else if (enc !== 'identity' && enc !== '' && enc !== 'none') return Promise.reject(new HttpStatusError(415, `unsupported Content-Encoding "${enc}" (use gzip, deflate or none)`));
  if (stream.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let compressed = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onReadError);
      stream.off('close', onClose);
      if (inflater) {
        inflater.off('data', onBody);
        inflater.off('end', onInflated);
        inflater.off('drain', onDrain);
        if (err) inflater.destroy();
      }
      if (!err) return resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      stream.resume();
      reject(err);
    };
    const onBody = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return finish(new HttpStatusError(413, `request body exceeds the limit of ${limit} bytes${inflater ? ' after decompression' : ''}`));
      chunks.push(chunk);
    };
    const onDrain = (): void => void stream.resume();
    const onData = inflater
      ? (chunk: Buffer): void => {
          compressed += chunk.length;
          if (compressed > limit) return finish(new HttpStatusError(413, `compressed request body exceeds the limit of ${limit} bytes`));
          if (!inflater!.write(chunk)) stream.pause();
        }
      : onBody;
    const onEnd = inflater ? (): void => void inflater!.end() : (): void => finish();
    const onInflated = (): void => finish();
    const onReadError = (err: Error): void => finish(new HttpStatusError(400, `cannot read the request body: ${err.message}`));
    const onClose = (): void => {
      if (!stream.readableEnded) finish(new HttpStatusError(400, 'cannot read the request body: the client closed the connection before the end of the body'));
    };
    if (inflater) {
      inflater.on('data', onBody);
      inflater.on('end', onInflated);
      inflater.on('drain', onDrain);
      inflater.on('error', (err: Error) => finish(new HttpStatusError(400, `cannot decompress the ${enc} body: ${err.message}`)));
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onReadError);
    stream.on('close', onClose);
    if (timeoutMillis > 0) timer = setTimeout(() => finish(new HttpStatusError(408, `the request body did not arrive within ${timeoutMillis}ms (read_timeout)`)), timeoutMillis);
  });
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
}

export class OtlpHttpServer {
  private app: FastifyInstance | undefined;
  /** Bound port, after start. */
  port = 0;
  /** What the authenticator said of each request it let pass. */
  private readonly passed = new WeakMap<http.IncomingMessage, Readonly<Record<string, string>>>();
  /** The verified client certificate's subject CN of each connection, with mutual TLS. */
  private readonly peers = new WeakMap<tls.TLSSocket, string | null>();
  private security: ProtocolSecurity = {};
  /** Whether requests carry a client (identity, certificate or headers) to their payloads. */
  private knowsClients = false;

  constructor(
    private readonly config: OtlpHttpConfig,
    private readonly handler: ExportHandler,
    private readonly logger: Logger,
  ) {}

  /**
   * Listens on `endpoint`, over TLS with `security.tls`, authenticating with `security.authenticator`.
   */
  async start(security: ProtocolSecurity = {}): Promise<void> {
    const cfg = this.config;
    this.security = security;
    const tlsSource = security.tls;
    const mutual = tlsSource?.current.mutual === true;
    this.knowsClients = security.authenticator !== undefined || mutual || cfg.include_metadata;
    // Node's own limits on a request: the headers, and the whole request (a backstop behind read_timeout).
    const limits: http.ServerOptions = {
      headersTimeout: cfg.read_header_timeout,
      requestTimeout: cfg.read_timeout > 0 ? Math.max(cfg.read_timeout, cfg.read_header_timeout) + 1000 : 0,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, cfg.read_header_timeout)),
      keepAliveTimeout: cfg.idle_timeout,
    };
    const app = Fastify({
      ...FASTIFY_BASE_OPTIONS,
      logger: false,
      // 414 / 431 / 408 / 400 for what Node's parser refuses, without resetting the connection.
      clientErrorHandler: (err, socket) => answerClientError(err, socket),
      bodyLimit: cfg.max_request_body_size,
      forceCloseConnections: 'idle',
      return503OnClosing: true,
      keepAliveTimeout: cfg.idle_timeout,
      serverFactory: (handler) => {
        if (!tlsSource) return http.createServer(limits, handler);
        const m = tlsSource.current;
        // With mutual TLS the client's certificate is checked here rather than by Node, which drops
        // a connection whose certificate no CA signed without telling (only a missing one is a
        // `tlsClientError`): this listener runs before the HTTP server's, and closes the
        // connection before a byte of a request is read.
        const server = https.createServer({ ...limits, ...m.context, requestCert: m.mutual, rejectUnauthorized: false, handshakeTimeout: cfg.read_header_timeout }, handler);
        if (m.mutual) {
          server.prependListener('secureConnection', (socket: tls.TLSSocket) => {
            if (socket.authorized) return;
            const none = Object.keys(socket.getPeerCertificate()).length === 0;
            security.failures?.record('http', 'tls', socket.remoteAddress, none ? 'the client sent no certificate (client_ca_file is set)' : `the client certificate is not trusted: ${String(socket.authorizationError)}`);
            socket.destroy();
          });
        }
        // New connections get the reloaded certificate; open ones keep theirs.
        tlsSource.watch((next) => server.setSecureContext(next.context));
        server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
          if (!UNREMARKABLE_TLS_ERRORS.has(err.code ?? '')) security.failures?.record('http', 'tls', socket.remoteAddress, `TLS handshake failed: ${err.message}`);
        });
        return server as unknown as http.Server;
      },
    });
    this.app = app;
    if (cfg.cors && cfg.cors.allowed_origins.length > 0) {
      const origins = cfg.cors.allowed_origins.map((o) => (o === '*' ? /.*/ : globToRegExp(o)));
      await app.register(cors, {
        origin: origins,
        methods: ['POST'],
        allowedHeaders: ['Content-Type', 'Content-Encoding', 'Accept', ...cfg.cors.allowed_headers],
        maxAge: cfg.cors.max_age,
      });
    }
    // After CORS, so that a refusal carries the CORS headers a browser needs to read it.
    if (security.authenticator) this.authenticate(app);
    app.removeAllContentTypeParsers();
    // The body is read in the handler, so the content type is checked before any byte is read.
    app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const routes: [OtlpSignal, string][] = [
      ['traces', cfg.traces_url_path],
      ['logs', cfg.logs_url_path],
      ['metrics', cfg.metrics_url_path],
    ];
    for (const [signal, url] of routes) {
      if (!this.handler.consumer(signal)) continue;
      app.post(url, (req, reply) => this.onExport(signal, req, reply));
      app.route({
        method: ['GET', 'PUT', 'DELETE', 'PATCH'],
        url,
        handler: (_req, reply) => {
          reply.code(405).header('allow', 'POST').type('application/json').send(encodeStatusJson(RpcCode.UNIMPLEMENTED, `method not allowed; OTLP/HTTP takes POST on ${url}`));
        },
      });
    }
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).type('application/json').send(encodeStatusJson(RpcCode.UNIMPLEMENTED, `no OTLP endpoint at ${req.method} ${req.url}`));
    });
    app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) this.logger.error({ err: err.message }, 'OTLP/HTTP request failed');
      reply.code(status).type('application/json').send(encodeStatusJson(status === 500 ? RpcCode.INTERNAL : RpcCode.INVALID_ARGUMENT, err.message));
    });
    const ep = parseEndpoint(cfg.endpoint)!;
    await app.listen({ host: ep.host, port: ep.port });
    const addr = app.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : ep.port;
  }

  /** Lets only requests the authenticator lets pass reach a route (see the module's description). */
  private authenticate(app: FastifyInstance): void {
    const auth = this.security.authenticator!;
    app.addHook('onRequest', (req, reply, done) => {
      // A CORS preflight carries no credentials (Fetch standard, "CORS-preflight request").
      if (req.method === 'OPTIONS' && this.config.cors !== undefined) return done();
      const raw = req.headers[auth.header];
      const out = auth.authenticate(Array.isArray(raw) ? raw[0] : raw);
      if (out instanceof Promise) {
        out.then(
          (o) => this.authenticated(o, req, reply, done),
          () => this.authenticated({ ok: false, reason: 'invalid', message: 'the credentials could not be verified' }, req, reply, done),
        );
      } else this.authenticated(out, req, reply, done);
    });
  }

  private authenticated(out: AuthOutcome, req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (out.ok) {
      this.passed.set(req.raw, out.attributes);
      return done();
    }
    this.security.failures?.record('http', out.reason, req.socket.remoteAddress, out.message);
    const encoding = wireEncoding(req.headers['content-type']) ?? 'json';
    // The body is not read: discarded when small, else the connection is closed.
    if (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > MAX_UNREAD_DISCARD) reply.header('connection', 'close');
    if (out.reason === 'busy') {
      reply.header('retry-after', '1');
      return this.sendStatus(reply, encoding, 503, RpcCode.UNAVAILABLE, out.message);
    }
    reply.header('www-authenticate', this.security.authenticator!.challenge);
    this.sendStatus(reply, encoding, 401, RPC_UNAUTHENTICATED, `unauthenticated: ${out.message}`);
  }

  /** Who sent `req`: the authenticator's attributes, the client certificate's CN, the headers with include_metadata. */
  private client(req: FastifyRequest) {
    if (!this.knowsClients) return undefined;
    let cn: string | undefined;
    if (this.security.tls?.current.mutual) {
      const socket = req.socket as tls.TLSSocket;
      let known = this.peers.get(socket);
      if (known === undefined) this.peers.set(socket, (known = peerCommonName(socket) ?? null));
      cn = known ?? undefined;
    }
    return clientInfo(this.passed.get(req.raw), cn, this.config.include_metadata ? headerMetadata(req.headers) : undefined);
  }

  private async onExport(signal: OtlpSignal, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const encoding = wireEncoding(req.headers['content-type']);
    if (!encoding) {
      this.drain(req);
      reply
        .code(415)
        .type('application/json')
        .send(encodeStatusJson(RpcCode.INVALID_ARGUMENT, `unsupported Content-Type "${req.headers['content-type'] ?? ''}"; use application/x-protobuf or application/json`));
      return;
    }
    const declared = Number(req.headers['content-length']) || 0;
    const refused = this.handler.admit('http', declared);
    if (refused) {
      // Without reading the body the connection cannot be reused; else the body is discarded.
      if (refused.closeConnection) reply.header('connection', 'close');
      else this.drain(req);
      return this.answer(reply, signal, encoding, refused);
    }
    let counted = declared;
    try {
      let body: Buffer;
      try {
        if (declared > this.config.max_request_body_size && !req.headers['content-encoding']) {
          throw new HttpStatusError(413, `request body of ${declared} bytes exceeds the limit of ${this.config.max_request_body_size} bytes`);
        }
        body = req.body
          ? await readBody(req.body as Readable, req.headers['content-encoding'] as string | undefined, this.config.max_request_body_size, this.config.read_timeout)
          : Buffer.alloc(0);
      } catch (err) {
        const status = err instanceof HttpStatusError ? err.statusCode : 400;
        if (status === 413 || status === 408) reply.header('connection', 'close');
        this.sendStatus(reply, encoding, status, RpcCode.INVALID_ARGUMENT, (err as Error).message);
        return;
      }
      if (body.length > counted) {
        this.handler.grow(body.length - counted);
        counted = body.length;
      }
      const outcome = await this.handler.export('http', signal, body, encoding, this.client(req));
      this.answer(reply, signal, encoding, outcome);
    } finally {
      this.handler.release(counted);
    }
  }

  private answer(reply: FastifyReply, signal: OtlpSignal, encoding: WireEncoding, outcome: ExportOutcome): void {
    switch (outcome.kind) {
      case 'ok':
        reply.code(200);
        if (encoding === 'proto') reply.type('application/x-protobuf').send(Buffer.from(encodeExportResponse(signal, outcome.partial)));
        else reply.type('application/json').send(encodeExportResponseJson(signal, outcome.partial));
        return;
      case 'invalid':
        return this.sendStatus(reply, encoding, 400, RpcCode.INVALID_ARGUMENT, outcome.message);
      case 'retryable':
        reply.header('retry-after', String(Math.max(1, Math.ceil(outcome.retryAfterMillis / 1000))));
        return this.sendStatus(reply, encoding, 503, RpcCode.UNAVAILABLE, outcome.message);
      case 'internal':
        return this.sendStatus(reply, encoding, 500, RpcCode.INTERNAL, outcome.message);
    }
  }

  private sendStatus(reply: FastifyReply, encoding: WireEncoding, http: number, code: number, message: string): void {
    reply.code(http);
    if (encoding === 'proto') reply.type('application/x-protobuf').send(Buffer.from(encodeStatus(code, message)));
    else reply.type('application/json').send(encodeStatusJson(code, message));
  }

  /** Discards an unread body so the connection can be reused. */
  private drain(req: FastifyRequest): void {
    const body = req.body as Readable | undefined;
    if (body && typeof body.resume === 'function') body.resume();
  }

  /**
   * Stops accepting connections and waits for requests in flight, at most `shutdown_timeout`;
   * then closes the remaining connections (their requests were not acknowledged: clients retry).
   */
  async shutdown(): Promise<void> {
    const app = this.app;
    if (!app) return;
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.warn({ timeout_ms: this.config.shutdown_timeout }, 'requests still in flight at the shutdown deadline; closing their connections');
        app.server.closeAllConnections();
        resolve();
      }, this.config.shutdown_timeout);
    });
    await Promise.race([app.close(), forced]);
    clearTimeout(timer);
    this.security.tls?.stop();
  }
}
