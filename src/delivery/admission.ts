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
