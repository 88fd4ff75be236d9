/** Schema of the `service` section: pipelines, enabled extensions and self-telemetry. */
import { isLoopbackHost, tlsServerSchema } from '../tls/server.js';
import { endpoint, parseEndpoint, z } from './schema.js';

const componentList = (what: string, min: number) =>
  z.array(z.string().min(1)).min(min, { message: `at least ${min} ${what} required` });

export const pipelineSchema = z.strictObject({
  receivers: componentList('receiver is', 1).describe('Receiver ids feeding this pipeline.'),
  processors: z.array(z.string().min(1)).default([]).describe('Processor ids, in order.'),
  exporters: componentList('exporter is', 1).describe('Exporter ids this pipeline fans out to.'),
});

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export const serviceSchema = z.strictObject({
  workers: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .optional()
    .describe(
      'Processes serving the gateway, each a whole pipeline sharing the OTLP ports. 1: one process, no supervisor. Default: the CPUs the process may use (CPU affinity, capped by the cgroup v2 CPU quota, rounded up).',
    ),
  extensions: z.array(z.string().min(1)).default([]).describe('Extension ids to run, e.g. [health_check].'),
  pipelines: z.record(z.string(), pipelineSchema).describe('Pipelines by id `signal[/name]`, signal one of traces, logs, metrics, events.'),
  telemetry: z
    .strictObject({
      metrics: z
        .strictObject({
          address: endpoint('127.0.0.1:8888').describe('Where Prometheus metrics are served (`/metrics`). Default 127.0.0.1:8888. Beyond localhost it needs tls and auth::bearer_token.'),
          level: z.enum(['none', 'basic', 'normal', 'detailed']).default('basic').describe('`none` turns the endpoint off.'),
          tls: tlsServerSchema.optional().describe('Serve the metrics over https (cert_file, key_file, ...; as the otlp receiver\'s tls). Required, with auth::bearer_token, beyond localhost. Omitted: plain http.'),
          auth: z
            .strictObject({
              bearer_token: z
                .string()
                .min(16, { message: 'must be at least 16 characters; e.g. `openssl rand -base64 24`, set from the environment: ${env:OTELYTICS_METRICS_TOKEN}' })
                .describe('Every scrape needs `Authorization: Bearer <token>` (Prometheus: authorization: { credentials_file: ... }). Set it from the environment.'),
            })
            .optional()
            .describe('Protection of the metrics endpoint. Omitted: none.'),
        })
        .superRefine((m, ctx) => {
          const host = parseEndpoint(m.address)?.host;
          if (m.level === 'none' || host === undefined || isLoopbackHost(host)) return;
          const missing = [m.tls === undefined ? 'tls' : '', m.auth === undefined ? 'auth::bearer_token' : ''].filter(Boolean);
          if (missing.length === 0) return;
          ctx.addIssue({
            code: 'custom',
            path: ['address'],
            message: `${m.address} is beyond localhost, where the metrics endpoint (component names, rates, queue sizes, errors) needs tls and auth::bearer_token; ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set. Set ${missing.join(' and ')}, or bind 127.0.0.1 and scrape through a sidecar or port-forward`,
          });
        })
        .prefault({}),
      logs: z
        .strictObject({
          level: z.enum(LOG_LEVELS).default('info').describe('Minimum level of the gateway\'s own JSON logs (stderr).'),
        })
        .prefault({}),
      traces: z
        .strictObject({
          endpoint: z.string().min(1).describe('OTLP endpoint the gateway\'s own spans go to: for http/protobuf a base URL (`http://host:4318`, `/v1/traces` is appended) or `host:port`; for grpc `host:port`. Required.'),
          protocol: z.enum(['http/protobuf', 'grpc']).default('http/protobuf').describe('OTLP transport. Default http/protobuf.'),
          sampler_ratio: z.number().min(0).max(1).default(1).describe('Fraction of the gateway\'s root spans kept (trace id ratio; spans with a sampled parent follow it). 0: none. Default 1.0.'),
        })
        .optional()
        .describe('The gateway\'s own traces (receive, export, Kafka produce/consume spans), exported over OTLP. Off when absent.'),
    })
    .prefault({}),
});

export type ServiceConfig = z.infer<typeof serviceSchema>;
