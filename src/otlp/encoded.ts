/**
 * Traces kept in the OTLP/protobuf bytes they arrived in, for pipelines that only forward them.
 *
 * A pass-through pipeline (`otlp` receiver → `otlp_http`/`otlp_grpc`, optionally behind
 * `memory_limiter`) reads nothing of a span: decoding a request into pdata and encoding it again
 * would be all its work. The receiver checks such a request with a validating scan instead (the
 * same inputs are refused as by the decoder, see `proto/scan.ts`) and hands on an
 * `EncodedTraces`; exporters send {@link EncodedTraces.bytes} as the request body.
 *
 * It is `TracesData` all the same: the first read of `resourceSpans` decodes the bytes (and drops
 * them, since what was read may be changed), so a component that does read spans sees ordinary
 * pdata and stays correct.
 */
import type { ResourceSpans, TracesData } from '../pdata.js';
import { decodeTracesRequest } from './proto/traces.js';

export class EncodedTraces implements TracesData {
  #bytes: Uint8Array | undefined;
  #decoded: ResourceSpans[] | undefined;

  /**
   * @param bytes an `ExportTraceServiceRequest` that passed the validating scan (not copied).
   * @param spans the number of spans it holds.
   */
  constructor(
    bytes: Uint8Array,
    readonly spans: number,
  ) {
    this.#bytes = bytes;
  }

  /** The request bytes while nothing has read the decoded form; undefined after. */
  get bytes(): Uint8Array | undefined {
    return this.#bytes;
  }

  get resourceSpans(): ResourceSpans[] {
    if (this.#decoded === undefined) {
      this.#decoded = decodeTracesRequest(this.#bytes!).resourceSpans;
      this.#bytes = undefined;
    }
    return this.#decoded;
  }

  set resourceSpans(v: ResourceSpans[]) {
    this.#decoded = v;
    this.#bytes = undefined;
  }

  /** An independent copy: the same bytes (never written to) while undecoded, else a deep copy. */
  clone(): TracesData {
    return this.#bytes ? new EncodedTraces(this.#bytes, this.spans) : { resourceSpans: structuredClone(this.resourceSpans) };
  }
}
