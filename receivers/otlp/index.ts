/** The `otlp` receiver: OTLP over HTTP and gRPC into traces, logs, metrics and events pipelines. */
import type { ReceiverFactory, Signal } from '../../src/component.js';
import { listenError } from '../../src/errors.js';
import { otlpReceiverSchema, type OtlpReceiverConfig } from './config.js';
import { OtlpGrpcServer } from './grpc.js';
import { ExportHandler } from './handler.js';
import { OtlpHttpServer } from './http.js';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  description: 'OTLP/HTTP (:4318) and OTLP/gRPC (:4317) server for traces, logs and metrics; feeds events pipelines with spans and log records',
  configSchema: otlpReceiverSchema,
  pipelineSignals: ['traces', 'logs', 'metrics', 'events'],
  outputs: (signal: Signal) => (signal === 'events' ? ['traces', 'logs'] : [signal]),
  create(settings, config, consumers) {
    const handler = new ExportHandler(settings.id, consumers, settings.telemetry, settings.logger, config.limits, config.admission);
    const http = config.protocols.http ? new OtlpHttpServer(config.protocols.http, handler, settings.logger) : undefined;
    const grpc = config.protocols.grpc ? new OtlpGrpcServer(config.protocols.grpc, handler) : undefined;
    return {
      async start() {
        try {
          await http?.start();
        } catch (err) {
          throw listenError('protocols::http::endpoint', config.protocols.http!.endpoint, err);
        }
        try {
          await grpc?.start();
        } catch (err) {
          await http?.shutdown();
          throw listenError('protocols::grpc::endpoint', config.protocols.grpc!.endpoint, err);
        }
        settings.logger.info(
          { http: http ? `${config.protocols.http!.endpoint.replace(/:\d+$/, '')}:${http.port}` : 'off', grpc: grpc ? `${config.protocols.grpc!.endpoint.replace(/:\d+$/, '')}:${grpc.port}` : 'off' },
          'OTLP receiver listening',
        );
      },
      async shutdown() {
        await Promise.all([http?.shutdown(), grpc?.shutdown()]);
      },
    };
  },
};
