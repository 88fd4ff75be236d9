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
 *   refuses: 400, answered without resetting the connection (`src/http_client_error.ts`).
 */
import http from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { encodeExportResponseJson, encodeStatusJson } from '../../src/otlp/json.js';
import { encodeExportResponse, encodeStatus } from '../../src/otlp/proto.js';
import { parseEndpoint } from '../../src/config/schema.js';
import { answerClientError } from '../../src/http_client_error.js';
import type { OtlpHttpConfig } from './config.js';
import type { ExportHandler, ExportOutcome, OtlpSignal, WireEncoding } from './handler.js';

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

  constructor(
    private readonly config: OtlpHttpConfig,
    private readonly handler: ExportHandler,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const cfg = this.config;
    const app = Fastify({
      logger: false,
      // 414 / 431 / 408 / 400 for what Node's parser refuses, without resetting the connection.
      clientErrorHandler: (err, socket) => answerClientError(err, socket),
      bodyLimit: cfg.max_request_body_size,
      forceCloseConnections: 'idle',
      return503OnClosing: true,
      keepAliveTimeout: cfg.idle_timeout,
      // Node's own limits on a request: the headers, and the whole request (a backstop behind read_timeout).
      serverFactory: (handler) =>
        http.createServer(
          {
            headersTimeout: cfg.read_header_timeout,
            requestTimeout: cfg.read_timeout > 0 ? Math.max(cfg.read_timeout, cfg.read_header_timeout) + 1000 : 0,
            connectionsCheckingInterval: Math.min(1000, Math.max(100, cfg.read_header_timeout)),
            keepAliveTimeout: cfg.idle_timeout,
          },
          handler,
        ),
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
      const outcome = await this.handler.export('http', signal, body, encoding);
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
  }
}
