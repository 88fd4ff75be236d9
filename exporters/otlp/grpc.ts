/**
 * OTLP/gRPC client (@grpc/grpc-js generic client, no generated stubs): unary calls to
 * `opentelemetry.proto.collector.{trace,logs,metrics}.v1.*Service/Export` carrying the protobuf
 * request bytes; gzip message compression; `headers` as call metadata; `timeout` as the call
 * deadline (the exporter helper's abort signal cancels the call too). Failures are classified by status code and `RetryInfo` ({@link grpcFailure}).
 */
import * as grpc from '@grpc/grpc-js';
import type { Payload } from '../../src/component.js';
import type { PartialSuccess } from '../../src/otlp/proto.js';
import { parseGrpcEndpoint, type OtlpGrpcConfig } from './config.js';
import { encodeProtoBuffer, otlpSignalOf, type OtlpSignal } from './encode.js';
import { decodeExportResponse, grpcFailure } from './response.js';
import { loadTls } from './tls.js';
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
  private readonly target: string;
  private readonly useTls: boolean;

  constructor(
    private readonly id: string,
    private readonly cfg: OtlpGrpcConfig,
    private readonly userAgent: string,
  ) {
    const ep = parseGrpcEndpoint(cfg.endpoint)!;
    this.target = ep.target;
    // Collector rule: an explicit scheme decides; without one, TLS unless tls::insecure.
    this.useTls = ep.tls ?? !cfg.tls.insecure;
  }

  describe(): string {
    return `${this.useTls ? 'https' : 'http'}://${this.target}`;
  }

  async start(): Promise<void> {
    let credentials: grpc.ChannelCredentials;
    if (this.useTls) {
      const tls = loadTls(this.id, this.cfg.tls);
      const verify: grpc.VerifyOptions = tls.rejectUnauthorized ? {} : { rejectUnauthorized: false, checkServerIdentity: () => undefined };
      credentials = grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, verify);
    } else {
      credentials = grpc.credentials.createInsecure();
    }
    this.client = new grpc.Client(this.target, credentials, {
      'grpc.default_compression_algorithm': this.cfg.compression === 'gzip' ? GZIP : IDENTITY,
      'grpc.primary_user_agent': this.userAgent,
    });
  }

  export(p: Payload, signal: AbortSignal): Promise<PartialSuccess | undefined> {
    const client = this.client;
    if (!client) return Promise.reject(new Error(`exporter ${this.id} is not started`));
    const otlpSignal = otlpSignalOf(p);
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.cfg.headers)) metadata.set(k.toLowerCase(), v);
    const options: grpc.CallOptions = this.cfg.timeout > 0 ? { deadline: Date.now() + this.cfg.timeout } : {};
    const body = encodeProtoBuffer(p);
    return new Promise((resolve, reject) => {
      const call = client.makeUnaryRequest(METHODS[otlpSignal], passThrough, passThrough, body, metadata, options, (err, response) => {
        signal.removeEventListener('abort', cancel);
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
  }
}
