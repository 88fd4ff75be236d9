/**
 * What the stand-ins of the HTTP destinations (`amplitude-server`, `segment-server`,
 * `mixpanel-server`, `posthog-server`) share: listening on 127.0.0.1 (HTTPS with `tls`), the
 * request body read before it is handled, the faults injected for the next requests (an HTTP
 * status with its body and `Retry-After`, a connection reset, a delay after which a request the
 * client gave up on is not ingested), the slow answer of `answerDelayMillis`, the `/_fake/*`
 * control endpoints (`GET /_fake/<view>`, `POST /_fake/faults` with `{"status":503,"times":2}`,
 * `{"reset":true}` or `{"delayMillis":500}`), and running one alone from the command line.
 */
import type http from 'node:http';
import type https from 'node:https';
import { fileURLToPath } from 'node:url';
import { listenLocal, type Listening } from './listen.js';

/** The options every stand-in takes. */
export interface StandInOptions {
  /** 0 or omitted: any free port. */
  port?: number;
  /**
   * A slow destination: every request is handled (its events ingested) at once, and answered this
   * many milliseconds later. Default 0. May be changed while the server runs.
   */
  answerDelayMillis?: number;
  /** Serve HTTPS with this certificate and key (and, for mutual TLS, `requestCert` and `ca`). Omitted: HTTP. */
  tls?: https.ServerOptions;
}

/** An answer with this status (`body` instead of the stand-in's own), a reset connection, or a delay. */
export type Fault<Body = unknown> = { status: number; body?: Body; retryAfter?: string } | { reset: true } | { delayMillis: number };

/** A fault answered with a status. */
export type StatusFault<Body = unknown> = Extract<Fault<Body>, { status: number }>;

/** `Retry-After` of a status fault, as answer headers. */
export function retryAfterHeaders(fault: StatusFault<unknown>): Record<string, string> {
  return fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
}

/** The path of a request, without its query. */
export function pathOf(req: http.IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!;
}

export abstract class StandIn<Options extends StandInOptions, Rec extends { status: number }, Body = unknown> {
  readonly requests: Rec[] = [];
  protected readonly faults: Fault<Body>[] = [];
  private listening: Listening | undefined;
  port = 0;

  constructor(readonly options: Options) {}

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Forgets the requests seen and every pending fault. */
  reset(): void {
    this.requests.length = 0;
    this.faults.length = 0;
  }

  /** Makes the next `times` requests fail with `fault`. */
  inject(fault: Fault<Body>, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  async start(): Promise<this> {
    this.listening = await listenLocal((req, res) => void this.serve(req, res), this.options.port ?? 0, this.options.tls);
    this.port = this.listening.port;
    return this;
  }

  async close(): Promise<void> {
    await this.listening?.close();
  }

  /** Handles a request to the destination's API, its body read. */
  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void>;

  /** What `GET /_fake/<name>` answers, by name (`events`, `requests`, `stats`). */
  protected abstract views(): { [name: string]: () => unknown };

  /**
   * Applies the next fault to the request `record` stands for: a reset cuts the connection (status
   * -1), a delay waits and drops a request the client gave up on meanwhile (-2), a status is
   * answered with `answer`. True when the fault took the request.
   */
  protected async faulted(req: http.IncomingMessage, record: { status: number }, answer: (fault: StatusFault<Body>) => void): Promise<boolean> {
    const fault = this.faults.shift();
    if (fault && 'reset' in fault) {
      record.status = -1;
      req.socket.destroy();
      return true;
    }
    if (fault && 'delayMillis' in fault) {
      await new Promise((r) => setTimeout(r, fault.delayMillis));
      // The client gave up meanwhile: like a server that notices the closed connection, ingest nothing.
      if (req.socket.destroyed) {
        record.status = -2;
        return true;
      }
    }
    if (fault && 'status' in fault) {
      answer(fault);
      return true;
    }
    return false;
  }

  /** Waits `answerDelayMillis` before an answer. */
  protected async answerLater(): Promise<void> {
    const delay = this.options.answerDelayMillis ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const path = pathOf(req);
    if (path.startsWith('/_fake/')) return this.control(req.method ?? 'GET', path, raw, res);
    return this.handle(req, res, raw);
  }

  private control(method: string, path: string, raw: Buffer, res: http.ServerResponse): void {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const views = this.views();
    const name = path.slice('/_fake/'.length);
    if (method === 'GET' && Object.hasOwn(views, name)) return send(200, views[name]!());
    if (method === 'POST' && path === '/_fake/faults') {
      try {
        const f = JSON.parse(raw.toString('utf8')) as Fault<Body> & { times?: number };
        this.inject(f, f.times ?? 1);
        return send(200, { queued: this.faults.length });
      } catch {
        return send(400, { error: 'body must be a fault as JSON' });
      }
    }
    send(404, { error: 'unknown control path' });
  }
}

/**
 * When the module at `moduleUrl` is the one node runs: starts the stand-in, prints
 * `<variable>=<its URL>` and closes it on SIGTERM or SIGINT.
 */
export async function runAlone(moduleUrl: string, variable: string, start: () => Promise<{ url: string; close(): Promise<void> }>): Promise<void> {
  if (!process.argv[1] || fileURLToPath(moduleUrl) !== process.argv[1]) return;
  const fake = await start();
  process.stdout.write(`${variable}=${fake.url}\n`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
