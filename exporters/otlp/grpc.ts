/**
 * OTLP/gRPC client (@grpc/grpc-js generic client, no generated stubs): unary calls to
 * `opentelemetry.proto.collector.{trace,logs,metrics}.v1.*Service/Export` carrying the protobuf
 * request bytes; gzip message compression; `headers` as call metadata; `timeout` as the call
 * deadline (the exporter helper's abort signal cancels the call too). Failures are classified by status code and `RetryInfo` ({@link grpcFailure}).
 *
 * TLS follows the collector: an `https://` endpoint, or one without a scheme unless `tls::insecure`
 * is set without a CA, uses TLS with the shared client settings (src/tls/client.ts);
 * `server_name_override` is the name checked and sent as SNI (`grpc.ssl_target_name_override`).
 * With `reload_interval`, a reload that changed the files makes a new channel; the old one is
 * closed once its calls are done.
 */
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Payload } from '../../src/component.js';
import type { PartialSuccess } from '../../src/otlp/proto.js';
import { ClientTls, wantsPlaintext } from '../../src/tls/client.js';
import { parseGrpcEndpoint, type OtlpGrpcConfig } from './config.js';
import { encodeProtoBuffer, otlpSignalOf, type OtlpSignal } from './encode.js';
import { decodeExportResponse, grpcFailure } from './response.js';
import type { OtlpTransport } from './transport.js';

const METHODS: Record<OtlpSignal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};

/** grpc-js `CompressionAlgorithms`: 0 identity, 2 gzip. */
const GZIP = 2;
const IDENTITY = 0;

const passThrough = (b: Buffer) => b;

export class OtlpGrpcTransport implements OtlpTransport {
  private client: grpc.Client | undefined;
  /** The TLS generation `client` was made with. */
  private clientGeneration = 0;
  /** Calls in flight per channel, so that a channel replaced after a reload is closed once idle. */
  private readonly inFlight = new Map<grpc.Client, number>();
  private readonly retired = new Set<grpc.Client>();
  private tls: ClientTls | undefined;
  private readonly target: string;
  private readonly useTls: boolean;

  constructor(
    private readonly id: string,
    private readonly cfg: OtlpGrpcConfig,
    private readonly userAgent: string,
    private readonly logger?: Logger,
  ) {
    const ep = parseGrpcEndpoint(cfg.endpoint)!;
    this.target = ep.target;
    // Collector rule: https:// means TLS; without a scheme TLS unless tls::insecure without a CA.
    // (otelytics also reads http:// as plaintext.)
    this.useTls = ep.tls ?? !wantsPlaintext(cfg.tls);
  }

  describe(): string {
    return `${this.useTls ? 'https' : 'http'}://${this.target}`;
  }

  /** Reads the `tls` files (with TLS) and makes the channel; warns about `insecure_skip_verify`. */
  async start(): Promise<void> {
    if (this.useTls) this.tls = ClientTls.load(this.cfg.tls, `exporters::${this.id}`, this.logger);
    this.client = this.newClient();
    this.clientGeneration = this.tls?.generation ?? 0;
  }

  private newClient(): grpc.Client {
    const options: grpc.ChannelOptions = {
      'grpc.default_compression_algorithm': this.cfg.compression === 'gzip' ? GZIP : IDENTITY,
      'grpc.primary_user_agent': this.userAgent,
    };
    if (!this.tls) return new grpc.Client(this.target, grpc.credentials.createInsecure(), options);
    const o = this.tls.options;
    const context = tls.createSecureContext({ ca: o.ca, cert: o.cert, key: o.key, minVersion: o.minVersion, maxVersion: o.maxVersion });
    const verify: grpc.VerifyOptions = o.rejectUnauthorized === false ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : o.checkServerIdentity ? { checkServerIdentity: o.checkServerIdentity } : {};
    if (o.servername) options['grpc.ssl_target_name_override'] = o.servername;
    return new grpc.Client(this.target, grpc.credentials.createFromSecureContext(context, verify), options);
  }

  /** The channel for a new call: a new one when a reload changed the TLS files. */
  private channel(): grpc.Client | undefined {
    const current = this.client;
    if (!current || !this.tls || this.tls.generation === this.clientGeneration) return current;
    this.client = this.newClient();
    this.clientGeneration = this.tls.generation;
    this.retire(current);
    return this.client;
  }

  private retire(client: grpc.Client): void {
    if ((this.inFlight.get(client) ?? 0) === 0) client.close();
    else this.retired.add(client);
  }

  private callDone(client: grpc.Client): void {
    const n = (this.inFlight.get(client) ?? 1) - 1;
    if (n > 0) return void this.inFlight.set(client, n);
    this.inFlight.delete(client);
    if (this.retired.delete(client)) client.close();
  }

  export(p: Payload, signal: AbortSignal): Promise<PartialSuccess | undefined> {
    const client = this.channel();
    if (!client) return Promise.reject(new Error(`exporter ${this.id} is not started`));
    const otlpSignal = otlpSignalOf(p);
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.cfg.headers)) metadata.set(k.toLowerCase(), v);
    const options: grpc.CallOptions = this.cfg.timeout > 0 ? { deadline: Date.now() + this.cfg.timeout } : {};
    const body = encodeProtoBuffer(p);
    this.inFlight.set(client, (this.inFlight.get(client) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      const call = client.makeUnaryRequest(METHODS[otlpSignal], passThrough, passThrough, body, metadata, options, (err, response) => {
        signal.removeEventListener('abort', cancel);
        this.callDone(client);
        if (err) {
          const bin = err.metadata?.get('grpc-status-details-bin')[0];
          return reject(grpcFailure(err.code, err.details, this.describe(), Buffer.isBuffer(bin) ? bin : undefined));
        }
        try {
          resolve(response && response.length ? decodeExportResponse(response) : undefined);
        } catch {
          resolve(undefined);
        }
      });
      const cancel = () => call.cancel();
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    });
  }

  async shutdown(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    for (const c of this.retired) c.close();
    this.retired.clear();
  }
}
