/**
 * Config of the `otlp_grpc` and `otlp_http` exporters. Option names follow the collector's
 * `otlpexporter` / `otlphttpexporter` (`endpoint`, `headers`, `compression`, `timeout`, `tls`,
 * `encoding`, `traces_endpoint`, `logs_endpoint`, `metrics_endpoint`) and its `configtls` client
 * settings (`insecure`, `insecure_skip_verify`, `ca_file`/`ca_pem`, `cert_file`/`cert_pem`,
 * `key_file`/`key_pem`, `server_name_override`, `min_version`, `max_version`, `reload_interval`,
 * `include_system_ca_certs_pool`), so a collector exporter block can be copied over as it is.
 */
import { z } from '../../src/config/schema.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';
import { clientTlsSchema } from '../../src/tls/client.js';

/** Request compression, as in the collector (default gzip; `none` sends bodies as they are). */
export const compressionSchema = z
  .enum(['gzip', 'none'])
  .default('gzip')
  .describe('Compression of request bodies (HTTP Content-Encoding, gRPC message compression): gzip or none. Default gzip.');

/** TLS client settings: the collector's `configtls` client keys (src/tls/client.ts). */
export const tlsSchema = clientTlsSchema(
  'otlp_grpc: plaintext gRPC (no TLS) when the endpoint has no https:// and neither ca_file nor ca_pem is set. otlp_http: no effect (the URL scheme decides: http:// is plaintext, https:// is TLS). Default false.',
)
  .prefault({})
  .describe('TLS settings (the collector\'s configtls client keys).');

export type TlsConfig = z.infer<typeof tlsSchema>;

const headersSchema = z
  .record(z.string().min(1), z.string())
  .default({})
  .describe('Headers (HTTP) or metadata (gRPC) added to every request, e.g. an API key. Default none.');

/** `host:port`, optionally with an `http://` (plaintext) or `https://` (TLS) scheme, as the collector's otlp exporter takes it. */
const GRPC_ENDPOINT_RE = /^(?:(https?):\/\/)?(\[[^\]]+\]|[^:/\s[\]]+):(\d{1,5})\/?$/;

/** Splits a gRPC endpoint into its `host:port` target and the TLS choice implied by its scheme (undefined: none given). */
export function parseGrpcEndpoint(v: string): { target: string; tls: boolean | undefined } | undefined {
  const m = GRPC_ENDPOINT_RE.exec(v.trim());
  if (!m || Number(m[3]) > 65535 || Number(m[3]) === 0) return undefined;
  return { target: `${m[2]}:${m[3]}`, tls: m[1] === undefined ? undefined : m[1] === 'https' };
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && !u.search && !u.hash;
  } catch {
    return false;
  }
}

const httpUrl = () => z.string().refine(isHttpUrl, { message: 'must be an http:// or https:// URL without query or fragment, e.g. "https://collector:4318"' });

export const otlpGrpcSchema = z.strictObject({
  endpoint: z
    .string({ message: 'is required: "host:port" of the OTLP/gRPC server, e.g. "collector:4317"' })
    .refine((v) => parseGrpcEndpoint(v) !== undefined, { message: 'must be "host:port" (optionally prefixed by http:// or https://) with a port from 1 to 65535' })
    .describe('host:port of the OTLP/gRPC server; an http:// prefix means plaintext, https:// means TLS. Without a prefix TLS is used unless tls::insecure is true (and no CA is given). Required.'),
  headers: headersSchema,
  compression: compressionSchema,
  tls: tlsSchema,
  ...exporterHelperShape,
});

export const otlpHttpSchema = z.strictObject({
  endpoint: httpUrl().describe('Base URL of the OTLP/HTTP server; /v1/traces, /v1/logs and /v1/metrics are appended. Required unless every signal this exporter serves has its own *_endpoint.').optional(),
  traces_endpoint: httpUrl().optional().describe('Full URL for spans, used as it is. Omitted: endpoint + /v1/traces.'),
  logs_endpoint: httpUrl().optional().describe('Full URL for log records and events, used as it is. Omitted: endpoint + /v1/logs.'),
  metrics_endpoint: httpUrl().optional().describe('Full URL for metrics, used as it is. Omitted: endpoint + /v1/metrics.'),
  encoding: z.enum(['proto', 'json']).default('proto').describe('Body encoding: proto (application/x-protobuf) or json (application/json). Metrics are always sent as protobuf. Default proto.'),
  headers: headersSchema,
  compression: compressionSchema,
  tls: tlsSchema,
  ...exporterHelperShape,
}).refine((c) => c.endpoint !== undefined || c.traces_endpoint !== undefined || c.logs_endpoint !== undefined || c.metrics_endpoint !== undefined, {
  message: 'is required: the base URL of the OTLP/HTTP server, e.g. "http://collector:4318" (or traces_endpoint / logs_endpoint / metrics_endpoint)',
  path: ['endpoint'],
});

export type OtlpGrpcConfig = z.infer<typeof otlpGrpcSchema>;
export type OtlpHttpConfig = z.infer<typeof otlpHttpSchema>;
