/** What the OTLP exporter needs from a transport (gRPC or HTTP). */
import type { Payload } from '../../src/component.js';
import type { PartialSuccess } from '../../src/otlp/proto.js';

export interface OtlpTransport {
  /** Reads TLS files and opens clients. @throws Error with a clear message (the gateway does not start). */
  start(): Promise<void>;
  /**
   * Sends one export request. Resolves with the `partial_success` of the answer (undefined on
   * full success); rejects with a `RetryableError` or `PermanentError` classified per the OTLP
   * specification. `signal` aborts the request (the attempt timed out, or the exporter is stopping).
   */
  export(p: Payload, signal: AbortSignal): Promise<PartialSuccess | undefined>;
  /** Where data goes, for log messages (URLs or `host:port`). */
  describe(): string;
  /** Closes connections. */
  shutdown(): Promise<void>;
}
