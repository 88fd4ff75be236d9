/**
 * Local OTLP servers for the exporter tests: an HTTP(S) server and a gRPC server that record what
 * they receive and answer what a test tells them to (success, partial success, any status).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import type { Exporter, ExporterFactory, Payload } from '../../../src/component.js';
import { Telemetry } from '../../../src/telemetry.js';

export interface HttpAnswer {
  status: number;
  /** Wait this long before answering, ms. */
  delayMillis?: number;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export interface HttpRequestSeen {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Decompressed body. */
  body: Buffer;
  /** The common name of the client certificate presented (mutual TLS). */
  clientCertificate?: string;
}

export interface FakeHttpServer {
  url: string;
  requests: HttpRequestSeen[];
  /** Answers given in order; when empty, 200 with an empty body. */
  answers: HttpAnswer[];
  close(): Promise<void>;
}

/** An OTLP/HTTP server on 127.0.0.1 (HTTPS when `tls` is given). */
export async function startHttpServer(tls?: https.ServerOptions): Promise<FakeHttpServer> {
  const requests: HttpRequestSeen[] = [];
  const answers: HttpAnswer[] = [];
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
      const peer = 'getPeerCertificate' in req.socket ? (req.socket as TLSSocket).getPeerCertificate() : undefined;
      requests.push({ path: req.url ?? '', headers: req.headers, body, clientCertificate: peer?.subject?.CN as string | undefined });
      const a = answers.shift() ?? { status: 200, headers: { 'content-type': String(req.headers['content-type']) } };
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(a.status, a.headers ?? {});
        res.end(a.body === undefined ? undefined : Buffer.from(a.body));
      };
      if (a.delayMillis) setTimeout(answer, a.delayMillis).unref();
      else answer();
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface GrpcCallSeen {
  method: string;
  metadata: grpc.Metadata;
  body: Buffer;
  /** The common name of the client certificate presented (mutual TLS). */
  clientCertificate?: string;
}

export type GrpcAnswer = { response: Buffer } | { error: { code: grpc.status; details: string; metadata?: grpc.Metadata } };

export interface FakeGrpcServer {
  target: string;
  calls: GrpcCallSeen[];
  /** Answers given in order; when empty, an empty Export*ServiceResponse. */
  answers: GrpcAnswer[];
  close(): Promise<void>;
}

const SERVICES = ['opentelemetry.proto.collector.trace.v1.TraceService', 'opentelemetry.proto.collector.logs.v1.LogsService', 'opentelemetry.proto.collector.metrics.v1.MetricsService'];
const passThrough = (b: Buffer) => b;

/** An OTLP/gRPC server on 127.0.0.1 (TLS when `credentials` is given). */
export async function startGrpcServer(credentials = grpc.ServerCredentials.createInsecure()): Promise<FakeGrpcServer> {
  const calls: GrpcCallSeen[] = [];
  const answers: GrpcAnswer[] = [];
  const server = new grpc.Server();
  for (const service of SERVICES) {
    const method = `/${service}/Export`;
    server.addService(
      { Export: { path: method, requestStream: false, responseStream: false, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough } },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          calls.push({ method, metadata: call.metadata, body: call.request, clientCertificate: call.getAuthContext().sslPeerCertificate?.subject?.CN as string | undefined });
          const a = answers.shift() ?? { response: Buffer.alloc(0) };
          if ('response' in a) callback(null, a.response);
          else callback({ code: a.error.code, details: a.error.details, metadata: a.error.metadata });
        },
      },
    );
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  return {
    target: `127.0.0.1:${port}`,
    calls,
    answers,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** A self-signed certificate for 127.0.0.1 / localhost (also usable as its own CA and as a client certificate). */
export interface TestCert {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export function makeCert(): TestCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  return { dir, certFile, keyFile, cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
}

/** Log lines a pino logger wrote, parsed. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

export const host = { getExporter: () => undefined };

/**
 * An exporter made by `factory` from `raw` config, with the sending queue and retries off so
 * that `consume` reports the outcome of exactly one attempt.
 */
export function makeExporter(factory: ExporterFactory<unknown>, raw: Record<string, unknown>, logger: Logger = pino({ level: 'silent' })): Exporter {
  const cfg = factory.configSchema.parse({ sending_queue: { enabled: false }, retry_on_failure: { enabled: false }, ...raw });
  return factory.create({ id: factory.type, logger, telemetry: new Telemetry() }, cfg);
}

/** Sends one payload through a started exporter and shuts it down. */
export async function sendOnce(e: Exporter, p: Payload): Promise<void> {
  await e.start(host);
  try {
    await e.consume(p);
  } finally {
    await e.shutdown();
  }
}
