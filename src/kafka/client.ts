/**
 * What the `kafka` exporter, the `kafka` receiver and the `enrich` processor's Kafka source share:
 * connection options (brokers, client id, SASL, TLS, timeouts) with the collector's names, the
 * kafkajs client built from them, kafkajs log lines routed to the component's pino logger, the
 * compression codecs, and the classification of kafkajs errors into permanent and retryable.
 *
 * kafkajs: https://kafka.js.org/docs/configuration (client), /docs/producing (compression codecs).
 */
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import type kafkajsModule from 'kafkajs';
import type { KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { duration, nonEmptyString, z } from '../config/schema.js';
import { installProducerInternals } from './producer_internals.js';
import { checkClientTls, clientTlsOptions, clientTlsShape, tlsProblemOf, wantsPlaintext, warnIfSkipVerify } from '../tls/client.js';

type CompressionTypes = kafkajsModule.CompressionTypes;
type Kafka = kafkajsModule.Kafka;

const require = createRequire(import.meta.url);
let loaded: typeof kafkajsModule | undefined;

/**
 * kafkajs, loaded on first use (a gateway without Kafka components never loads it), after
 * ./producer_internals.ts's replacements are in kafkajs' module cache (they must be there before
 * kafkajs binds them).
 */
export function kafkajs(): typeof kafkajsModule {
  if (!loaded) {
    installProducerInternals();
    loaded = require('kafkajs') as typeof kafkajsModule;
  }
  return loaded;
}

/** `brokers`: a list of `host:port`, or one string with comma-separated addresses (handy with `${env:KAFKA_BROKERS}`). */
export const brokersOption = () =>
  z
    .union([z.string(), z.array(z.string())])
    .default(['localhost:9092'])
    .transform((v, ctx) => {
      const list = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
      if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one broker as host:port' });
      for (const b of list) if (!/^[^\s:]+:\d{1,5}$/.test(b) && !/^\[[^\]]+\]:\d{1,5}$/.test(b)) ctx.addIssue({ code: 'custom', message: `broker ${JSON.stringify(b)} is not host:port` });
      return list;
    })
    .describe('Bootstrap brokers, `host:port` each (a string may hold several, comma-separated). Default [localhost:9092].');

export const saslSchema = z.strictObject({
  mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']).describe('SASL mechanism. Required.'),
  username: nonEmptyString().describe('User name. Required.'),
  password: z.string().describe('Password. Required; use ${env:VAR} rather than writing it in the file.'),
});

/**
 * `tls`: the shared client TLS keys (src/tls/client.ts) without `reload_interval`: the files are
 * read whenever a client is made (component start, a new producer).
 */
export const tlsSchema = z
  .strictObject(
    clientTlsShape('true without ca_file or ca_pem: plaintext despite this section (the collector\'s `configtls` meaning; with a CA, TLS is used all the same). Default false.'),
  )
  .superRefine(checkClientTls);

/** Connection options shared by every Kafka client of otelytics (spread into a zod object). */
export const connectionShape = {
  brokers: brokersOption(),
  client_id: nonEmptyString().default('otelytics').describe('Client id sent with every request (broker logs and quotas). Default "otelytics".'),
  auth: z
    .strictObject({ sasl: saslSchema.optional().describe('SASL authentication (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).') })
    .optional()
    .describe('Authentication. Omitted: none.'),
  tls: tlsSchema.optional().describe('TLS to the brokers. Omitted: plaintext.'),
  connection_timeout: duration('5s').describe('Longest wait for a TCP (and TLS) connection to a broker. Default 5s; 0 is not allowed.'),
  request_timeout: duration('30s').describe('Longest wait for a broker\'s answer to one request. Default 30s; 0 is not allowed.'),
};

const connectionSchema = z.strictObject(connectionShape);
export type ConnectionConfig = z.infer<typeof connectionSchema>;

/** Checks of the connection options that zod cannot express field by field; `report` gets each problem. */
export function checkConnection(cfg: ConnectionConfig, report: (path: string[], message: string) => void): void {
  if (cfg.connection_timeout <= 0) report(['connection_timeout'], 'must be a positive duration');
  if (cfg.request_timeout <= 0) report(['request_timeout'], 'must be a positive duration');
}

/** `report` for {@link checkConnection} adding zod issues under `prefix`. */
export function zodReporter(ctx: z.RefinementCtx, prefix: string[] = []): (path: string[], message: string) => void {
  return (path, message) => ctx.addIssue({ code: 'custom', path: [...prefix, ...path], message });
}

/**
 * The kafkajs `ssl` option of a `tls` section: undefined for plaintext (no section, or
 * `insecure: true` without a CA, as the collector's `configtls`), else Node's TLS options of the
 * shared client TLS settings (`clientTlsOptions` in src/tls/client.ts): the PEM files read and
 * checked, `ca` replacing the system roots, `cert`/`key` sent when the broker asks for a client
 * certificate, `server_name_override` as the name checked (and SNI), `insecure_skip_verify`
 * turning verification off, `min_version`/`max_version`.
 *
 * Read when a client is made (component start, or a new producer), so replaced files are picked up
 * then. Throws an Error starting with the option's path (`at`, the path of the connection options
 * in the config, e.g. `exporters::kafka/events`, then `tls::ca_file`) when a file cannot be read,
 * holds no PEM certificate or key, the key is encrypted, or is not the key of `cert_file`.
 */
export function tlsOptions(cfg: ConnectionConfig['tls'], at = ''): ConnectionOptions | undefined {
  if (!cfg || wantsPlaintext(cfg)) return undefined;
  return clientTlsOptions(cfg, at);
}

function saslOptions(sasl: z.infer<typeof saslSchema> | undefined): SASLOptions | undefined {
  if (!sasl) return undefined;
  const mechanism = sasl.mechanism.toLowerCase() as 'plain' | 'scram-sha-256' | 'scram-sha-512';
  return { mechanism, username: sasl.username, password: sasl.password };
}

/**
 * kafkajs' own log lines go to the component's logger: errors at debug level (kafkajs logs every
 * failed attempt while a broker is down; the component reports the outcome itself), warnings as
 * warnings, the rest at trace level.
 */
function logCreator(logger: Logger): KafkaConfig['logCreator'] {
  const { logLevel } = kafkajs();
  return () => (entry: LogEntry) => {
    const { message, timestamp: _t, logger: _l, ...extra } = entry.log;
    const fields = { kafka: entry.namespace, ...extra };
    if (entry.level === logLevel.WARN) {
      // Retries are bounded on purpose: the exporter helper retries with back-off instead.
      if (/Limiting retries for the idempotent producer/.test(message)) return;
      logger.warn(fields, `kafka: ${message}`);
    } else if (entry.level === logLevel.ERROR) logger.debug(fields, `kafka: ${message}`);
    else logger.trace(fields, `kafka: ${message}`);
  };
}

/** `tls` sections whose `insecure_skip_verify` warning was logged: once per component, not per client made. */
const skipVerifyWarned = new WeakSet<object>();

/**
 * A kafkajs client for the options; `retries` bounds kafkajs' own retries of one request; `at` is
 * the path of the options in the config (e.g. `receivers::kafka/raw`), for the errors of
 * {@link tlsOptions}, which this throws.
 */
export function createKafka(cfg: ConnectionConfig, logger: Logger, retry: { retries: number; initialRetryTime: number; maxRetryTime: number }, at = ''): Kafka {
  if (cfg.tls && !skipVerifyWarned.has(cfg.tls)) {
    skipVerifyWarned.add(cfg.tls);
    warnIfSkipVerify(cfg.tls, at, logger);
  }
  const { Kafka, logLevel } = kafkajs();
  return new Kafka({
    clientId: cfg.client_id,
    brokers: cfg.brokers,
    ssl: tlsOptions(cfg.tls, at),
    sasl: saslOptions(cfg.auth?.sasl),
    connectionTimeout: cfg.connection_timeout,
    requestTimeout: cfg.request_timeout,
    retry,
    logLevel: logLevel.DEBUG,
    logCreator: logCreator(logger),
  });
}

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/**
 * Registers the codec for `compression` with kafkajs (gzip is built in) and returns kafkajs'
 * compression type. snappy: `kafkajs-snappy` (snappyjs, pure JS); lz4: the LZ4 frame format of
 * KIP-57 through `lz4-napi`; zstd: `@mongodb-js/zstd`. Throws when the codec package is missing.
 * Registration is process-wide and also lets consumers read records compressed that way.
 */
export function useCompression(compression: Compression): CompressionTypes {
  const { CompressionTypes } = kafkajs();
  switch (compression) {
    case 'none':
      return CompressionTypes.None;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'snappy':
      registerCodec(CompressionTypes.Snappy, 'kafkajs-snappy', () => (require('kafkajs-snappy') as () => Codec)());
      return CompressionTypes.Snappy;
    case 'lz4':
      registerCodec(CompressionTypes.LZ4, 'lz4-napi', () => {
        const lz4 = require('lz4-napi') as { compressFrame(b: Buffer): Promise<Buffer>; decompressFrame(b: Buffer): Promise<Buffer> };
        return { compress: (e) => lz4.compressFrame(e.buffer), decompress: (b) => lz4.decompressFrame(b) };
      });
      return CompressionTypes.LZ4;
    case 'zstd':
      registerCodec(CompressionTypes.ZSTD, '@mongodb-js/zstd', () => {
        const zstd = require('@mongodb-js/zstd') as { compress(b: Buffer, level?: number): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
        return { compress: (e) => zstd.compress(e.buffer, 3), decompress: (b) => zstd.decompress(b) };
      });
      return CompressionTypes.ZSTD;
  }
}

/** Registers every codec whose package is installed, so a consumer reads whatever a producer chose. */
export function useAllCodecs(): void {
  for (const c of ['snappy', 'lz4', 'zstd'] as const) {
    try {
      useCompression(c);
    } catch {
      /* the package is not installed; records compressed this way fail to decode with kafkajs' message */
    }
  }
}

const registered = new Set<CompressionTypes>();
function registerCodec(type: CompressionTypes, pkg: string, make: () => Codec): void {
  if (registered.has(type)) return;
  let codec: Codec;
  try {
    codec = make();
  } catch (err) {
    throw new Error(`compression needs the npm package ${pkg}, which cannot be loaded: ${(err as Error).message.split('\n')[0]}`);
  }
  (kafkajs().CompressionCodecs as Record<number, () => Codec>)[type] = () => codec;
  registered.add(type);
}

/** kafkajs error types that no retry can fix: the record itself is refused. */
const RECORD_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TOPIC_EXCEPTION', 'UNSUPPORTED_COMPRESSION_TYPE', 'INVALID_TIMESTAMP']);
/** Idempotent-producer states that a new producer (new producer id) gets out of. */
const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

/** The innermost cause of a kafkajs error (kafkajs wraps the last attempt's error on giving up). */
export function rootCause(err: unknown): unknown {
  let e = err as { cause?: unknown; originalError?: unknown } | undefined;
  for (let i = 0; i < 5 && e && (e.cause || e.originalError); i++) e = (e.cause ?? e.originalError) as typeof e;
  return e;
}

/** The Kafka protocol error type (e.g. `UNKNOWN_TOPIC_OR_PARTITION`) of a kafkajs error or its cause, if any. */
export function kafkaErrorType(err: unknown): string | undefined {
  return (rootCause(err) as { type?: string } | undefined)?.type ?? (err as { type?: string } | undefined)?.type;
}

/** How a failed produce should be treated: `record` = permanent, `producer` = retry with a new producer, `transient` = retry. */
export function classifyKafkaError(err: unknown): 'record' | 'producer' | 'transient' {
  const type = kafkaErrorType(err);
  if (type && RECORD_ERRORS.has(type)) return 'record';
  if (type && PRODUCER_STATE_ERRORS.has(type)) return 'producer';
  return 'transient';
}

/** The error and its causes, outermost first (kafkajs wraps the last attempt's error on giving up). */
function errorChain(err: unknown): { name?: string; code?: string; type?: string; message?: string }[] {
  const chain: { name?: string; code?: string; type?: string; message?: string; cause?: unknown; originalError?: unknown }[] = [];
  let e = err as (typeof chain)[number] | undefined;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    chain.push(e);
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return chain;
}

/**
 * What a failed connection says about the connection options: `kind` names the problem, `hint` what
 * to change (option paths as in the config), `retryFixes` is false for the problems no quick
 * retry fixes (the broker's certificate not trusted, expired or not for the name; the client
 * certificate missing or refused; SASL credentials or mechanism refused; SASL on a listener
 * without it). Undefined when the error is none of these (broker down, timeouts, ...).
 */
export function connectionProblem(err: unknown): { kind: string; hint: string; retryFixes: boolean } | undefined {
  for (const e of errorChain(err)) {
    const code = e.code ?? '';
    const message = e.message ?? '';
    const certificate = tlsProblemOf(e, 'broker');
    if (certificate && certificate.kind !== 'tls_refused') return { kind: certificate.kind, retryFixes: false, hint: certificate.hint };
    if (e.name === 'KafkaJSSASLAuthenticationError' && /mechanism is not supported/i.test(message)) {
      return { kind: 'sasl_mechanism', retryFixes: false, hint: 'the listener does not enable this SASL mechanism: set auth::sasl::mechanism to one it does' };
    }
    if (e.name === 'KafkaJSSASLAuthenticationError') {
      return { kind: 'sasl_authentication', retryFixes: false, hint: 'the broker refused the credentials: check auth::sasl::username, password and mechanism (SCRAM credentials exist per mechanism)' };
    }
    if (e.type === 'ILLEGAL_SASL_STATE') {
      return { kind: 'sasl_not_enabled', retryFixes: false, hint: "the listener takes no SASL: leave out auth::sasl, or use the brokers' SASL_PLAINTEXT or SASL_SSL listener" };
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /disconnected before secure TLS connection was established/.test(message)) {
      return { kind: 'tls_refused', retryFixes: true, hint: 'the listener does not seem to speak TLS: leave out tls for a PLAINTEXT or SASL_PLAINTEXT listener' };
    }
  }
  return undefined;
}

/** A short description of a kafkajs error and its cause, with what to change when it tells ({@link connectionProblem}). */
export function kafkaErrorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = rootCause(err);
  const causeMsg = cause instanceof Error && cause !== err ? cause.message : '';
  const text = causeMsg && causeMsg !== msg ? `${msg} (${causeMsg})` : msg;
  const problem = connectionProblem(err);
  return problem ? `${text}; ${problem.hint}` : text;
}

/**
 * One connection to the brokers with the options and no kafkajs retries, when there is TLS or SASL
 * to check: resolves with the error when it is a problem of the options that no quick retry fixes
 * ({@link connectionProblem}), else (connected, or no broker reachable yet) with undefined. For a
 * start that should fail at once on such a problem rather than after the client's retries.
 */
export async function connectionSetupFailure(cfg: ConnectionConfig, logger: Logger, at = ''): Promise<unknown> {
  if (!cfg.auth?.sasl && !tlsOptions(cfg.tls, at)) return undefined;
  const admin = createKafka(cfg, logger, { retries: 0, initialRetryTime: 100, maxRetryTime: 100 }, at).admin();
  try {
    await admin.connect();
    return undefined;
  } catch (err) {
    return connectionProblem(err)?.retryFixes === false ? err : undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
