/**
 * OTLP/gRPC server (@grpc/grpc-js), per the OTLP specification's "OTLP/gRPC" section: the
 * `opentelemetry.proto.collector.{trace,logs,metrics}.v1.*Service/Export` unary methods, gzip
 * message compression, a message size limit, `INVALID_ARGUMENT` for undecodable data and
 * `UNAVAILABLE` with a `google.rpc.RetryInfo` detail (in `grpc-status-details-bin`) when the
 * pipeline refuses data for now, so that SDKs back off and retry. grpc-js reads a whole message
 * (bounded by `max_recv_msg_size_mib`) before the handler runs; admission (the memory limiter's
 * gate, then `admission::request_limit_mib` of messages in flight) is decided before the message
 * is decoded.
 *
 * The message prefix (gRPC over HTTP/2, "Length-Prefixed-Message": a Compressed-Flag byte, then
 * the length) is read by grpc-js, before any handler sees the message, so its checks are made in
 * the one step of grpc-js that sees the flag (see {@link checkedMessage}).
 *
 * With `tls`, the server speaks gRPC over TLS with {@link TlsServerCredentials}, which hands a
 * reloaded certificate to grpc-js (new connections get it, open ones keep theirs); with
 * `client_ca_file` a client without a certificate its CAs signed fails the handshake. With
 * `auth`, {@link authentication} checks the call's metadata before grpc-js reads the message
 * (`UNAUTHENTICATED`; `UNAVAILABLE` with `RetryInfo` when the authenticator is busy).
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors.js';
import protobuf from 'protobufjs/minimal.js';
import { encodeExportResponse } from '../../src/otlp/proto.js';
import { parseEndpoint } from '../../src/config/schema.js';
import type { AuthFailureReason, AuthOutcome, ServerAuthenticator } from '../../src/auth/server.js';
import { certificateCommonName, type ServerTlsSource } from '../../src/tls/server.js';
import type { OtlpGrpcConfig } from './config.js';
import type { ExportHandler, OtlpSignal } from './handler.js';
import { clientInfo, type ProtocolSecurity } from './security.js';

const SERVICES: Record<OtlpSignal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.TraceService',
  logs: 'opentelemetry.proto.collector.logs.v1.LogsService',
  metrics: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
};

const passThrough = (b: Buffer) => b;

/** A status grpc-js sends for a message it cannot take (`{ code, details }`). */
interface MessageStatus {
  code: grpc.status;
  details: string;
}

/**
 * The step of grpc-js' server call that turns a received length-prefixed message (the 5-byte
 * prefix included) into its bytes, given the call's `grpc-encoding` when the Compressed-Flag is 1
 * (else `identity`). Private to grpc-js (1.14); {@link messageFraming} replaces it per call.
 */
interface DecompressStep {
  decompressMessage(message: Buffer, encoding: string): Buffer | Promise<Buffer>;
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/**
 * The bytes of one received gRPC message, `message` being its 5-byte prefix and body; a rejection
 * with the status to answer when it cannot be taken (gRPC over HTTP/2, "Length-Prefixed-Message",
 * and the gRPC compression spec, `doc/compression.md`):
 * - a Compressed-Flag other than 0 or 1: `INTERNAL`, as grpc-go answers;
 * - a Compressed-Flag of 1 without a `grpc-encoding` other than `identity`: `INTERNAL` (the
 *   compression spec's test case for "an ill-constructed message with its Compressed-Flag bit
 *   set"; grpc-go and grpc-java answer so too). grpc-js would take the bytes as uncompressed;
 * - `gzip` or `deflate` bytes that do not decompress: `INVALID_ARGUMENT` with zlib's reason, as
 *   the OTLP/HTTP receiver answers 400 for such a body; the data is the client's, retrying it
 *   cannot help (grpc-js answers `INTERNAL`, "Failed to decompress message");
 * - more than `maxBytes` once decompressed: `RESOURCE_EXHAUSTED`, as for a message over the
 *   limit as sent; decompression stops at the limit.
 * Anything else is left to grpc-js (`grpcJs`): uncompressed messages, and `UNIMPLEMENTED` for an
 * encoding it does not know.
 */
export function checkedMessage(message: Buffer, encoding: string, maxBytes: number, grpcJs: DecompressStep['decompressMessage']): Buffer | Promise<Buffer> {
  const flag = message[0]!;
  if (flag > 1) return Promise.reject<Buffer>({ code: grpc.status.INTERNAL, details: `invalid Compressed-Flag ${flag} in the message prefix (0 or 1)` } satisfies MessageStatus);
  if (flag === 1 && encoding === 'identity') {
    return Promise.reject<Buffer>({ code: grpc.status.INTERNAL, details: 'message has Compressed-Flag 1 but the call has no grpc-encoding (or identity): a compressed message needs its encoding' } satisfies MessageStatus);
  }
  if (flag === 0 || (encoding !== 'gzip' && encoding !== 'deflate')) return grpcJs(message, encoding);
  const body = message.subarray(5);
  return (encoding === 'gzip' ? gunzip(body, { maxOutputLength: maxBytes }) : inflate(body, { maxOutputLength: maxBytes })).catch((err: NodeJS.ErrnoException) => {
    const status: MessageStatus =
      err.code === 'ERR_BUFFER_TOO_LARGE'
        ? { code: grpc.status.RESOURCE_EXHAUSTED, details: `message decompresses to more than ${maxBytes} bytes (max_recv_msg_size_mib)` }
        : { code: grpc.status.INVALID_ARGUMENT, details: `cannot decompress the ${encoding} message: ${err.message}` };
    throw status;
  });
}

/**
 * A server interceptor, the server's first, that puts {@link checkedMessage} in place of grpc-js'
 * own step for each call (the call it is given is grpc-js' base call, before any message is read).
 *
 * @throws Error when grpc-js has no such step (a version whose internals differ): the checks
 *   would be lost without it.
 */
export function messageFraming(maxBytes: number): grpc.ServerInterceptor {
  if (typeof (BaseServerInterceptingCall.prototype as unknown as Partial<DecompressStep>).decompressMessage !== 'function') {
    throw new Error('@grpc/grpc-js has no BaseServerInterceptingCall.decompressMessage; the gRPC message checks need it');
  }
  return (_method, call) => {
    const base = call as unknown as DecompressStep;
    const grpcJs = base.decompressMessage.bind(base);
    base.decompressMessage = (message, encoding) => checkedMessage(message, encoding, maxBytes, grpcJs);
    return new grpc.ServerInterceptingCall(call);
  };
}

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

/**
 * gRPC server credentials of a `tls` section that follow its reloads: grpc-js watches a
 * credentials object for new secure-context options and applies them to its HTTP/2 server with
 * `setSecureContext` (the same path as grpc-js' own certificate-provider credentials, which take
 * no TLS versions; these carry `min_version` and `max_version` in the options).
 */
export class TlsServerCredentials extends grpc.ServerCredentials {
  constructor(source: ServerTlsSource) {
    const m = source.current;
    super({ requestCert: m.mutual, rejectUnauthorized: m.mutual }, m.context);
    source.watch((next) => this.updateSecureContextOptions(next.context));
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * A server interceptor that lets a call go on only when `auth` lets its metadata pass: it holds
 * the metadata back from the handler until then, so grpc-js starts reading the message only for
 * an authenticated call (the unary handler asks for the message once it has the metadata). A
 * refused call is answered `UNAUTHENTICATED` (or `UNAVAILABLE` with `RetryInfo` when `busy`);
 * what the client sends after is discarded by grpc-js, not decoded. `passed` gets the
 * authenticator's attributes of each call's metadata (the object the handler sees as `call.metadata`).
 */
export function authentication(
  auth: ServerAuthenticator,
  passed: WeakMap<grpc.Metadata, Readonly<Record<string, string>>>,
  refused: (reason: AuthFailureReason, peer: string, message: string) => void,
): grpc.ServerInterceptor {
  return (_method, call) => {
    const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, go) => {
            const decide = (o: AuthOutcome): void => {
              if (o.ok) {
                passed.set(metadata, o.attributes);
                return go(metadata);
              }
              refused(o.reason, call.getPeer(), o.message);
              if (o.reason === 'busy') {
                const trailers = new grpc.Metadata();
                trailers.set('grpc-status-details-bin', encodeRetryStatus(grpc.status.UNAVAILABLE, o.message, 1000));
                intercepting.sendStatus({ code: grpc.status.UNAVAILABLE, details: o.message, metadata: trailers });
              } else intercepting.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: `unauthenticated: ${o.message}`, metadata: null });
            };
            const value = metadata.get(auth.header)[0];
            const out = auth.authenticate(typeof value === 'string' ? value : undefined);
            if (out instanceof Promise) out.then(decide, () => decide({ ok: false, reason: 'invalid', message: 'the credentials could not be verified' }));
            else decide(out);
          },
        }),
    });
    return intercepting;
  };
}

/** The metadata of a call as `include_metadata` hands it on: lower-case keys, each with its values (binary ones in base64). */
function callMetadata(metadata: grpc.Metadata): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) out[key] = values.map((v) => (typeof v === 'string' ? v : v.toString('base64')));
  return out;
}

export class OtlpGrpcServer {
  private server: grpc.Server | undefined;
  port = 0;
  private security: ProtocolSecurity = {};
  /** What the authenticator said of each call it let pass, by the call's metadata. */
  private readonly passed = new WeakMap<grpc.Metadata, Readonly<Record<string, string>>>();

  constructor(
    private readonly config: OtlpGrpcConfig,
    private readonly handler: ExportHandler,
  ) {}

  /** Listens on `endpoint`, over TLS with `security.tls`, authenticating with `security.authenticator`. */
  async start(security: ProtocolSecurity = {}): Promise<void> {
    this.security = security;
    const maxBytes = Math.floor(this.config.max_recv_msg_size_mib * 1024 * 1024);
    const interceptors = [messageFraming(maxBytes)];
    if (security.authenticator) interceptors.push(authentication(security.authenticator, this.passed, (reason, peer, message) => security.failures?.record('grpc', reason, peer, message)));
    const server = new grpc.Server({ 'grpc.max_receive_message_length': maxBytes, interceptors });
    const mutual = security.tls?.current.mutual === true;
    const knowsClients = security.authenticator !== undefined || mutual || this.config.include_metadata;
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
          const client = knowsClients
            ? clientInfo(this.passed.get(call.metadata), mutual ? certificateCommonName(call.getAuthContext().sslPeerCertificate) : undefined, this.config.include_metadata ? callMetadata(call.metadata) : undefined)
            : undefined;
          const exported = refused ? Promise.resolve(refused) : this.handler.export('grpc', signal, call.request, 'proto', client).finally(() => this.handler.release(bytes));
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
      server.bindAsync(`${host}:${ep.port}`, security.tls ? new TlsServerCredentials(security.tls) : grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
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
    this.security.tls?.stop();
  }
}
