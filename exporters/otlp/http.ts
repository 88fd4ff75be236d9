/**
 * OTLP/HTTP client (node:http / node:https), per the OTLP specification's "OTLP/HTTP" section:
 * POST to `<endpoint>/v1/{traces,logs,metrics}` (or the per-signal `*_endpoint` URLs) with
 * `application/x-protobuf` or `application/json`, optionally `Content-Encoding: gzip`, over kept-
 * alive connections. A 2xx answer may carry a `partial_success`; other answers are classified by
 * {@link httpFailure}; no answer at all (refused, reset, TLS failure, aborted by the exporter
 * helper's `timeout`) is retryable.
 */
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Payload } from '../../src/component.js';
import { PermanentError } from '../../src/errors.js';
import type { PartialSuccess } from '../../src/otlp/proto.js';
import { ClientTls, ClientTlsAgent, warnIfInsecureIgnored } from '../../src/tls/client.js';
import type { Logger } from 'pino';
import type { OtlpHttpConfig } from './config.js';
import { encodeJson, encodeProtoBuffer, otlpSignalOf, type OtlpSignal } from './encode.js';
import { decodeExportResponse, decodeExportResponseJson, httpFailure, transportFailure } from './response.js';
import type { OtlpTransport } from './transport.js';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

/** Most bytes of an answer body read (answers are small; a larger one is cut, not buffered whole). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

const SIGNAL_PATH: Record<OtlpSignal, string> = { traces: '/v1/traces', logs: '/v1/logs', metrics: '/v1/metrics' };

/** The URL each signal is sent to: its `*_endpoint` as it is, else `endpoint` + `/v1/<signal>`. */
export function signalUrls(cfg: Pick<OtlpHttpConfig, 'endpoint' | 'traces_endpoint' | 'logs_endpoint' | 'metrics_endpoint'>): Record<OtlpSignal, string | undefined> {
  const base = cfg.endpoint?.replace(/\/+$/, '');
  const join = (s: OtlpSignal) => (base === undefined ? undefined : base + SIGNAL_PATH[s]);
  return {
    traces: cfg.traces_endpoint ?? join('traces'),
    logs: cfg.logs_endpoint ?? join('logs'),
    metrics: cfg.metrics_endpoint ?? join('metrics'),
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class OtlpHttpTransport implements OtlpTransport {
  private readonly urls: Record<OtlpSignal, string | undefined>;
  private httpAgent: http.Agent | undefined;
  private httpsAgent: https.Agent | undefined;

  constructor(
    private readonly id: string,
    private readonly cfg: OtlpHttpConfig,
    private readonly userAgent: string,
    private readonly logger?: Logger,
  ) {
    this.urls = signalUrls(cfg);
  }

  describe(): string {
    return [...new Set(Object.values(this.urls).filter((u) => u !== undefined))].join(', ');
  }

  /**
   * Reads the `tls` files (also with only http:// URLs, so that a broken setting fails the start
   * either way) and opens kept-alive agents; warns about `insecure_skip_verify`, and about
   * `insecure` on an https:// URL, where it changes nothing.
   */
  async start(): Promise<void> {
    const at = `exporters::${this.id}`;
    const httpsUrls = Object.values(this.urls).filter((u): u is string => u?.startsWith('https:') === true);
    const tls = ClientTls.load(this.cfg.tls, at, httpsUrls.length > 0 ? this.logger : undefined);
    if (this.logger && httpsUrls[0] !== undefined) warnIfInsecureIgnored(this.cfg.tls, at, httpsUrls[0], this.logger);
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.httpsAgent = new ClientTlsAgent(tls);
  }

  async export(p: Payload, signal: AbortSignal): Promise<PartialSuccess | undefined> {
    const otlpSignal = otlpSignalOf(p);
    const url = this.urls[otlpSignal];
    if (url === undefined) throw new PermanentError(`exporter ${this.id} has no URL for ${otlpSignal}: set endpoint or ${otlpSignal}_endpoint`);
    const json = this.cfg.encoding === 'json' ? encodeJson(p) : undefined;
    let body: Buffer = json !== undefined ? Buffer.from(json, 'utf8') : encodeProtoBuffer(p);
    const headers: Record<string, string> = {
      ...this.cfg.headers,
      'content-type': json !== undefined ? 'application/json' : 'application/x-protobuf',
      'user-agent': this.userAgent,
    };
    if (this.cfg.compression === 'gzip') {
      body = await gzip(body);
      headers['content-encoding'] = 'gzip';
    }
    const answer = await this.post(url, body, headers, signal);
    if (answer.status >= 200 && answer.status < 300) return readPartialSuccess(answer);
    throw httpFailure(answer.status, url, answer.body, header(answer.headers['content-type']), header(answer.headers['retry-after']));
  }

  private post(url: string, body: Buffer, headers: Record<string, string>, signal: AbortSignal): Promise<Answer> {
    const target = new URL(url);
    const isHttps = target.protocol === 'https:';
    const request = isHttps ? https.request : http.request;
    return new Promise<Answer>((resolve, reject) => {
      const fail = (err: unknown) => reject(transportFailure(signal.aborted ? (signal.reason ?? err) : err, url));
      const req = request(target, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, agent: isHttps ? this.httpsAgent : this.httpAgent, signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('error', fail);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const enc = header(res.headers['content-encoding'])?.toLowerCase();
          const decoded = enc === 'gzip' && size <= MAX_RESPONSE_BYTES ? gunzip(raw) : Promise.resolve(raw);
          decoded.then(
            (b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }),
            () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0) }),
          );
        });
      });
      req.on('error', fail);
      req.end(body);
    });
  }

  async shutdown(): Promise<void> {
    this.httpAgent?.destroy();
    this.httpsAgent?.destroy();
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The `partial_success` of a 2xx answer, in the answer's encoding; an empty or unreadable body is full success. */
function readPartialSuccess(answer: Answer): PartialSuccess | undefined {
  if (answer.body.length === 0) return undefined;
  const json = (header(answer.headers['content-type']) ?? '').toLowerCase().includes('json');
  try {
    return json ? decodeExportResponseJson(answer.body.toString('utf8')) : decodeExportResponse(answer.body);
  } catch {
    return undefined;
  }
}
