/** Config of the `otlp` receiver (option names follow the collector's `otlpreceiver` and `confighttp`). */
import { duration, endpoint, z } from '../../src/config/schema.js';
import { tlsServerSchema } from '../../src/tls/server.js';

/** Default OTLP/gRPC endpoint: localhost only, as the collector binds by default. */
export const DEFAULT_GRPC_ENDPOINT = '127.0.0.1:4317';
/** Default OTLP/HTTP endpoint. */
export const DEFAULT_HTTP_ENDPOINT = '127.0.0.1:4318';
/** Request body limit after decompression, bytes (the collector's 20 MiB). */
export const DEFAULT_MAX_REQUEST_BODY_SIZE = 20 * 1024 * 1024;
/** gRPC message limit, MiB (the collector's default). */
export const DEFAULT_MAX_RECV_MSG_SIZE_MIB = 4;

/** Default attribute limits per span, span event, span link, log record, resource or scope. */
export const DEFAULT_ATTRIBUTE_COUNT_LIMIT = 1024;
export const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT = 65_536;
/**
 * Default longest attribute key, characters. Semantic-convention keys are under 64 characters
 * (`http.request.header.<name>` among the longest); 256 leaves room for custom keys.
 */
export const DEFAULT_ATTRIBUTE_KEY_LENGTH_LIMIT = 256;
/**
 * Default longest name-like string, characters: span, span event and log event names, scope name
 * and version, severity text, trace state and schema URL. Span names are meant to be short and
 * low in cardinality; 4096 still takes a route, a URL path or a short SQL statement used as one.
 */
export const DEFAULT_NAME_LENGTH_LIMIT = 4096;

const orDefaults = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? {} : v), schema.optional());

/** A protocol's `auth` (the collector's `configauth.Config`). */
export const authSchema = z
  .strictObject({
    authenticator: z
      .string()
      .min(1)
      .describe('Id of an authenticator extension (bearertokenauth, basicauth) listed in service::extensions; requests it does not let pass get 401 / UNAUTHENTICATED before their body is read.'),
  })
  .describe('Authenticate every request with an authenticator extension. Omitted: no authentication.');

const tls = () =>
  tlsServerSchema.optional().describe('Serve over TLS (https / gRPC over TLS): cert_file and key_file (or cert_pem, key_pem), client_ca_file for mutual TLS, min_version, reload_interval. Omitted: plain text.');

const includeMetadata = () =>
  z
    .boolean()
    .default(false)
    .describe("Hand the request's headers (HTTP) or metadata (gRPC) on with its data, for analytics' from_context (metadata.<name>). Default false.");

export const httpSchema = z.strictObject({
  endpoint: endpoint(DEFAULT_HTTP_ENDPOINT).describe('host:port to listen on. Default 127.0.0.1:4318 (use 0.0.0.0:4318 to accept remote SDKs).'),
  max_request_body_size: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_MAX_REQUEST_BODY_SIZE)
    .describe('Largest request body accepted, in bytes, after decompression; larger bodies get 413. Default 20 MiB.'),
  traces_url_path: z.string().startsWith('/').default('/v1/traces').describe('URL path for traces. Default /v1/traces.'),
  logs_url_path: z.string().startsWith('/').default('/v1/logs').describe('URL path for logs. Default /v1/logs.'),
  metrics_url_path: z.string().startsWith('/').default('/v1/metrics').describe('URL path for metrics. Default /v1/metrics.'),
  read_header_timeout: duration('10s').describe('Longest a client may take to send the request line and headers; then the connection is closed (408). Default 10s.'),
  read_timeout: duration('30s').describe('Longest a client may take to send a whole request body (slow-loris protection); then 408 and the connection is closed. 0: no limit. Default 30s.'),
  idle_timeout: duration('60s').describe('Longest a keep-alive connection may stay idle between requests. Default 60s.'),
  shutdown_timeout: duration('10s').describe('On shutdown, longest to wait for requests in flight before their connections are closed (unanswered requests are retried by clients). Default 10s.'),
  cors: z
    .strictObject({
      allowed_origins: z.array(z.string()).default([]).describe('Origins browsers may send from; `*` wildcards allowed (https://*.example.com). Empty: CORS off.'),
      allowed_headers: z.array(z.string()).default([]).describe('Extra request headers allowed besides the CORS-safelisted ones and Content-Type/Content-Encoding.'),
      max_age: z.number().int().nonnegative().default(7200).describe('Seconds a browser may cache a preflight answer. Default 7200.'),
    })
    .optional(),
  tls: tls(),
  auth: authSchema.optional(),
  include_metadata: includeMetadata(),
});

export const grpcSchema = z.strictObject({
  endpoint: endpoint(DEFAULT_GRPC_ENDPOINT).describe('host:port to listen on. Default 127.0.0.1:4317.'),
  max_recv_msg_size_mib: z.number().positive().default(DEFAULT_MAX_RECV_MSG_SIZE_MIB).describe('Largest request message, MiB (after decompression). Default 4.'),
  tls: tls(),
  auth: authSchema.optional(),
  include_metadata: includeMetadata(),
});

export const limitsSchema = z.strictObject({
  attribute_count_limit: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_ATTRIBUTE_COUNT_LIMIT)
    .describe('Most attributes on one span, span event, span link, log record, resource or scope, counting the entries of nested maps and arrays. Records over it are rejected (partial success). 0: no limit. Default 1024.'),
  attribute_value_length_limit: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT)
    .describe('Longest string (characters) or bytes value of an attribute, at any depth; also applies to log bodies and span status messages. Records over it are rejected (partial success). 0: no limit. Default 65536.'),
  attribute_key_length_limit: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_ATTRIBUTE_KEY_LENGTH_LIMIT)
    .describe('Longest attribute key, in characters, at any depth (keys of nested maps and of map-valued log bodies included). Records over it are rejected (partial success). 0: no limit. Default 256.'),
  name_length_limit: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_NAME_LENGTH_LIMIT)
    .describe('Longest name-like string, in characters: span name, span event name, log record event_name and severity_text, scope name and version, span and link trace_state, resource and scope schema_url. Records over it are rejected (partial success). 0: no limit. Default 4096.'),
});

/** Default bound on request bytes in flight, MiB. */
export const DEFAULT_REQUEST_LIMIT_MIB = 32;

export const admissionSchema = z.strictObject({
  max_event_loop_delay: duration('200ms').describe(
    'Longest the gateway may be busy without a break before it refuses what arrives (503 with Retry-After / UNAVAILABLE with RetryInfo, before decoding): under a load above what one core can process, requests are answered at once instead of waiting in socket buffers. 0: no limit. Default 200ms.',
  ),
  request_limit_mib: z
    .number()
    .nonnegative()
    .default(DEFAULT_REQUEST_LIMIT_MIB)
    .describe(
      'Most request bytes (bodies as sent, by Content-Length over HTTP, message size over gRPC) the receiver holds at once, from admission until the answer. A request that would pass it gets 503 with Retry-After / UNAVAILABLE with RetryInfo before its body is read; one request is always admitted when none is in flight. 0: no limit. Default 32.',
    ),
});

export const otlpReceiverSchema = z
  .strictObject({
    protocols: z
      .strictObject({
        grpc: orDefaults(grpcSchema).describe('OTLP/gRPC server; present (even empty) to enable.'),
        http: orDefaults(httpSchema).describe('OTLP/HTTP server; present (even empty) to enable.'),
      })
      .optional()
      .describe('Protocols to serve. Omitted: both, on their default endpoints.'),
    limits: limitsSchema.prefault({}).describe('Limits on spans and log records; records over them are rejected with a partial success (400 when every record is over).'),
    admission: admissionSchema.prefault({}).describe('Bound on the request data the receiver holds at once, so a flood is refused early instead of queued in memory.'),
  })
  .transform((c) => {
    const protocols = c.protocols ?? { grpc: grpcSchema.parse({}), http: httpSchema.parse({}) };
    return { protocols, limits: c.limits, admission: c.admission };
  })
  .refine((c) => c.protocols.grpc !== undefined || c.protocols.http !== undefined, { message: 'at least one of protocols::grpc, protocols::http is required', path: ['protocols'] });

export type OtlpReceiverConfig = z.infer<typeof otlpReceiverSchema>;
export type OtlpHttpConfig = z.infer<typeof httpSchema>;
export type OtlpGrpcConfig = z.infer<typeof grpcSchema>;
export type OtlpLimits = z.infer<typeof limitsSchema>;
export type OtlpAdmission = z.infer<typeof admissionSchema>;
