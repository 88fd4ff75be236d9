/** The `otlp` receiver: OTLP over HTTP and gRPC into traces, logs, metrics and events pipelines. */
import type { Host, ReceiverFactory, Signal } from '../../src/component.js';
import { AuthFailures, isServerAuthenticator } from '../../src/auth/server.js';
import { listenError, SettingError } from '../../src/errors.js';
import { ServerTlsSource } from '../../src/tls/server.js';
import { otlpReceiverSchema, type OtlpGrpcConfig, type OtlpHttpConfig, type OtlpReceiverConfig } from './config.js';
import { OtlpGrpcServer } from './grpc.js';
import { ExportHandler } from './handler.js';
import { OtlpHttpServer } from './http.js';
import type { ProtocolSecurity } from './security.js';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  description: 'OTLP/HTTP (:4318) and OTLP/gRPC (:4317) server for traces, logs and metrics; feeds events pipelines with spans and log records',
  configSchema: otlpReceiverSchema,
  pipelineSignals: ['traces', 'logs', 'metrics', 'events'],
  outputs: (signal: Signal) => (signal === 'events' ? ['traces', 'logs'] : [signal]),
  authenticators: (config) =>
    (['http', 'grpc'] as const).flatMap((p) => {
      const id = config.protocols[p]?.auth?.authenticator;
      return id === undefined ? [] : [{ key: ['protocols', p, 'auth', 'authenticator'], id }];
    }),
  create(settings, config, consumers) {
    const handler = new ExportHandler(settings.id, consumers, settings.telemetry, settings.logger, config.limits, config.admission);
    const http = config.protocols.http ? new OtlpHttpServer(config.protocols.http, handler, settings.logger) : undefined;
    const grpc = config.protocols.grpc ? new OtlpGrpcServer(config.protocols.grpc, handler) : undefined;
    const failures = new AuthFailures(settings.id, settings.telemetry, settings.logger);
    /** A protocol's TLS (files read and checked now) and authenticator, or a SettingError naming the option. */
    const security = (host: Host, protocol: 'http' | 'grpc', cfg: OtlpHttpConfig | OtlpGrpcConfig): ProtocolSecurity => {
      const out: ProtocolSecurity = { failures };
      if (cfg.auth !== undefined) {
        const ext = host.getExtension?.(cfg.auth.authenticator);
        if (!isServerAuthenticator(ext)) {
          throw new SettingError(`protocols::${protocol}::auth::authenticator`, `"${cfg.auth.authenticator}" is not a running authenticator extension; configure it under extensions and list it in service::extensions`);
        }
        out.authenticator = ext;
      }
      if (cfg.tls !== undefined) out.tls = new ServerTlsSource(cfg.tls, `protocols::${protocol}::tls`, settings.logger);
      return out;
    };
    return {
      async start(host: Host) {
        const httpSecurity = http ? security(host, 'http', config.protocols.http!) : undefined;
        let grpcSecurity: ProtocolSecurity | undefined;
        try {
          grpcSecurity = grpc ? security(host, 'grpc', config.protocols.grpc!) : undefined;
        } catch (err) {
          httpSecurity?.tls?.stop();
          throw err;
        }
        try {
          await http?.start(httpSecurity);
        } catch (err) {
          httpSecurity?.tls?.stop();
          grpcSecurity?.tls?.stop();
          throw listenError('protocols::http::endpoint', config.protocols.http!.endpoint, err);
        }
        try {
          await grpc?.start(grpcSecurity);
        } catch (err) {
          await http?.shutdown();
          grpcSecurity?.tls?.stop();
          throw listenError('protocols::grpc::endpoint', config.protocols.grpc!.endpoint, err);
        }
        const described = (cfg: OtlpHttpConfig | OtlpGrpcConfig, port: number) =>
          `${cfg.endpoint.replace(/:\d+$/, '')}:${port}${cfg.tls ? (cfg.tls.client_ca_file ? ' (mutual TLS)' : ' (TLS)') : ''}${cfg.auth ? ` (auth: ${cfg.auth.authenticator})` : ''}`;
        settings.logger.info(
          { http: http ? described(config.protocols.http!, http.port) : 'off', grpc: grpc ? described(config.protocols.grpc!, grpc.port) : 'off' },
          'OTLP receiver listening',
        );
      },
      async shutdown() {
        await Promise.all([http?.shutdown(), grpc?.shutdown()]);
        failures.close();
      },
    };
  },
};
