/**
 * OTLP/gRPC server (@grpc/grpc-js), per the OTLP specification's "OTLP/gRPC" section: the
 * `opentelemetry.proto.collector.{trace,logs,metrics}.v1.*Service/Export` unary methods, gzip
 * message compression, a message size limit, `INVALID_ARGUMENT` for undecodable data and
 * `UNAVAILABLE` with a `google.rpc.RetryInfo` detail (in `grpc-status-details-bin`) when the
 * pipeline refuses data for now, so that SDKs back off and retry. grpc-js reads a whole message
 * (bounded by `max_recv_msg_size_mib`) before the handler runs; admission (the memory limiter's
 * gate, then `admission::request_limit_mib` of messages in flight) is decided before the message
 * is decoded.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import { encodeExportResponse } from '../../src/otlp/proto.js';
import { parseEndpoint } from '../../src/config/schema.js';
import type { OtlpGrpcConfig } from './config.js';
import type { ExportHandler, OtlpSignal } from './handler.js';

const SERVICES: Record<OtlpSignal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.TraceService',
  logs: 'opentelemetry.proto.collector.logs.v1.LogsService',
  metrics: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
};

const passThrough = (b: Buffer) => b;

/**
 * `google.rpc.Status { code=1, message=2, details=3: Any { type_url=1, value=2 } }` carrying one
 * `google.rpc.RetryInfo { retry_delay=1: google.protobuf.Duration { seconds=1, nanos=2 } }`.
 */
export function encodeRetryStatus(code: number, message: string, retryAfterMillis: number): Buffer {
  const duration = protobuf.Writer.create();
  const seconds = Math.floor(retryAfterMillis / 1000);
  if (seconds) duration.uint32(8).int64(seconds);
  const nanos = Math.round((retryAfterMillis % 1000) * 1e6);
  if (nanos) duration.uint32(16).int32(nanos);
  const retryInfo = protobuf.Writer.create().uint32(10).bytes(duration.finish()).finish();
  const any = protobuf.Writer.create().uint32(10).string('type.googleapis.com/google.rpc.RetryInfo').uint32(18).bytes(retryInfo).finish();
  const status = protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).uint32(26).bytes(any).finish();
  return Buffer.from(status);
}

export class OtlpGrpcServer {
  private server: grpc.Server | undefined;
  port = 0;

  constructor(
    private readonly config: OtlpGrpcConfig,
    private readonly handler: ExportHandler,
  ) {}

  async start(): Promise<void> {
    const maxBytes = Math.floor(this.config.max_recv_msg_size_mib * 1024 * 1024);
    const server = new grpc.Server({ 'grpc.max_receive_message_length': maxBytes });
    for (const signal of ['traces', 'logs', 'metrics'] as const) {
      if (!this.handler.consumer(signal)) continue;
      const definition: grpc.ServiceDefinition = {
        Export: {
          path: `/${SERVICES[signal]}/Export`,
          requestStream: false,
          responseStream: false,
          requestSerialize: passThrough,
          requestDeserialize: passThrough,
          responseSerialize: passThrough,
          responseDeserialize: passThrough,
        },
      };
      server.addService(definition, {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const bytes = call.request.length;
          const refused = this.handler.admit('grpc', bytes);
          const exported = refused ? Promise.resolve(refused) : this.handler.export('grpc', signal, call.request, 'proto').finally(() => this.handler.release(bytes));
          exported.then(
            (outcome) => {
              switch (outcome.kind) {
                case 'ok':
                  return callback(null, Buffer.from(encodeExportResponse(signal, outcome.partial)));
                case 'invalid':
                  return callback({ code: grpc.status.INVALID_ARGUMENT, details: outcome.message });
                case 'retryable': {
                  const metadata = new grpc.Metadata();
                  metadata.set('grpc-status-details-bin', encodeRetryStatus(grpc.status.UNAVAILABLE, outcome.message, outcome.retryAfterMillis));
                  return callback({ code: grpc.status.UNAVAILABLE, details: outcome.message, metadata });
                }
                case 'internal':
                  return callback({ code: grpc.status.INTERNAL, details: outcome.message });
              }
            },
            (err: unknown) => callback({ code: grpc.status.INTERNAL, details: String(err) }),
          );
        },
      });
    }
    const ep = parseEndpoint(this.config.endpoint)!;
    const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${ep.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
  }

  /** Stops taking calls and waits for calls in flight (forcing after `graceMillis`). */
  async shutdown(graceMillis = 10_000): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMillis);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
