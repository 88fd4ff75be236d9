/**
 * Admission: a process-wide question receivers ask before they read or decode a request body,
 * "may I take data now?". Components that protect the process (the `memory_limiter` processor)
 * register a gate; while any gate refuses, receivers answer at once without reading the body:
 * OTLP/HTTP 503 with `Retry-After` and `Connection: close`, OTLP/gRPC `UNAVAILABLE` with a
 * `RetryInfo` detail. Memory is a property of the process, so the answer is the same for every
 * receiver and pipeline.
 */

/** Why data is refused for now, and when to try again. */
export interface Refusal {
  message: string;
  retryAfterMillis: number;
}

/** Answers undefined to admit, or a refusal. Called on every request: must be cheap (no allocation, no I/O). */
export type AdmissionGate = () => Refusal | undefined;

const gates = new Set<AdmissionGate>();

/** Registers a gate; returns the function that removes it. */
export function registerAdmissionGate(gate: AdmissionGate): () => void {
  gates.add(gate);
  return () => {
    gates.delete(gate);
  };
}

/** The first refusal of a registered gate, or undefined when data may be taken. */
export function admissionRefusal(): Refusal | undefined {
  for (const gate of gates) {
    const r = gate();
    if (r) return r;
  }
  return undefined;
}

/**
 * How long the current turn of the event loop has been taking requests, in ms: from the first
 * request asked about in this turn (a `setImmediate` marks the turn's end, when the loop reaches its
 * check phase). A request that arrives while the gateway is saturated waits in the kernel's socket
 * buffers until the loop reads it, and one turn reads every connection with a request ready:
 * without a bound, the turn decodes all of them and latency grows with the number of clients
 * (seconds, past the SDKs' 10 s export timeout). Refusing what arrives once the turn has run longer
 * than a bound keeps turns short, answers the rest at once (cheaply: before decoding), and so lets
 * clients back off instead of time out. Nothing runs while the gateway is idle.
 */
export class LoopBusyClock {
  private streakStart = 0;
  private inTurn = false;
  private readonly endTurn = (): void => {
    this.inTurn = false;
  };

  /** Milliseconds since the first call in this turn of the event loop (0 for that first call). */
  busyMillis(): number {
    const now = performance.now();
    if (!this.inTurn) {
      this.inTurn = true;
      this.streakStart = now;
      setImmediate(this.endTurn);
      return 0;
    }
    return now - this.streakStart;
  }
}

/** The process's one event loop, shared by every receiver. */
export const loopBusyClock = new LoopBusyClock();
