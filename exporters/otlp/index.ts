/**
 * The `otlp_grpc` and `otlp_http` exporters (also registered under the collector's older type
 * names `otlp` and `otlphttp`): send `traces` and `logs` unchanged, `metrics` as they arrived, and
 * `events` as OTLP log records with `event_name` set (`eventsToLogsData`, src/event.ts), to any
 * OTLP server: an OpenTelemetry Collector, another otelytics, a vendor backend.
 *
 * Outcomes follow the OTLP specification: retryable failures (HTTP 429/502/503/504 with
 * `Retry-After`; gRPC UNAVAILABLE and the other retryable codes; RESOURCE_EXHAUSTED only with a
 * `RetryInfo`; no answer at all) reject with a `RetryableError`, every other failure with a
 * `PermanentError`. A `partial_success` answer is logged at warn level with the rejected count and
 * the server's message, and is not retried (the specification forbids it).
 */
import fs from 'node:fs';
import type { ExporterFactory, Payload } from '../../src/component.js';
import type { SendContext } from '../../src/delivery/sender.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { SIGNAL_ITEM } from '../../src/telemetry.js';
import { otlpGrpcSchema, otlpHttpSchema, type OtlpGrpcConfig, type OtlpHttpConfig } from './config.js';
import { OtlpGrpcTransport } from './grpc.js';
import { OtlpHttpTransport } from './http.js';
import type { OtlpTransport } from './transport.js';

export { otlpGrpcSchema, otlpHttpSchema, parseGrpcEndpoint, type OtlpGrpcConfig, type OtlpHttpConfig } from './config.js';

/** `User-Agent` of requests: `otelytics/<package version>`. */
export const USER_AGENT = (() => {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name?: string; version?: string };
    return `otelytics/${pkg.version ?? '0'}`;
  } catch {
    return 'otelytics';
  }
})();

class OtlpExporter extends BaseExporter {
  constructor(
    settings: ConstructorParameters<typeof BaseExporter>[0],
    helper: ConstructorParameters<typeof BaseExporter>[1],
    private readonly transport: OtlpTransport,
  ) {
    super(settings, helper);
  }

  override async start(): Promise<void> {
    await this.transport.start();
  }

  protected async send(p: Payload, ctx: SendContext): Promise<void> {
    const partial = await ctx.request((signal) => this.transport.export(p, signal));
    if (partial) {
      const items = p.signal === 'events' ? 'events' : SIGNAL_ITEM[p.signal].replace('_', ' ');
      this.logger.warn(
        { signal: p.signal, rejected: partial.rejected, error_message: partial.message, destination: this.transport.describe() },
        `partial success: the destination rejected ${partial.rejected} ${items}${partial.message ? `: ${partial.message}` : ''} (not retried)`,
      );
    }
  }

  override async shutdown(): Promise<void> {
    await this.transport.shutdown();
  }
}

const ACCEPTS = ['traces', 'logs', 'metrics', 'events'] as const;

function grpcFactory(type: string, description: string): ExporterFactory<OtlpGrpcConfig> {
  return {
    kind: 'exporter',
    type,
    description,
    configSchema: otlpGrpcSchema,
    accepts: ACCEPTS,
    mutatesData: false,
    takesEncodedTraces: true,
    create: (settings, config) => new OtlpExporter(settings, config, new OtlpGrpcTransport(settings.id, config, USER_AGENT, settings.logger)),
  };
}

function httpFactory(type: string, description: string): ExporterFactory<OtlpHttpConfig> {
  return {
    kind: 'exporter',
    type,
    description,
    configSchema: otlpHttpSchema,
    accepts: ACCEPTS,
    mutatesData: false,
    takesEncodedTraces: true,
    create: (settings, config) => new OtlpExporter(settings, config, new OtlpHttpTransport(settings.id, config, USER_AGENT, settings.logger)),
  };
}

export const otlpGrpcExporterFactory = grpcFactory('otlp_grpc', 'Sends traces, logs, metrics and events (as log records with an event name) over OTLP/gRPC');
/** The collector's older name of the OTLP/gRPC exporter. */
export const otlpExporterFactory = grpcFactory('otlp', 'Alias of otlp_grpc (the collector\'s older type name)');
export const otlpHttpExporterFactory = httpFactory('otlp_http', 'Sends traces, logs, metrics and events (as log records with an event name) over OTLP/HTTP');
/** The collector's older name of the OTLP/HTTP exporter. */
export const otlphttpExporterFactory = httpFactory('otlphttp', 'Alias of otlp_http (the collector\'s older type name)');

/** The four factories, for the registry. */
export const otlpExporterFactories = [otlpGrpcExporterFactory, otlpExporterFactory, otlpHttpExporterFactory, otlphttpExporterFactory] as const;
