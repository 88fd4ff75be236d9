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
 * How long the event loop has been busy without reaching its timers phase, in ms: a heartbeat
 * timer records when it last ran, and the time since then is the delay every request read in the
 * meantime has waited for. A request that arrives while the gateway is saturated waits in the
 * kernel's socket buffers until the loop reads it, and the loop reads every ready connection in one
 * turn: without a bound, each turn does the decoding of all of them and latency grows with the
 * number of clients (seconds, past the SDKs' 10 s export timeout). Refusing what arrives once the
 * turn has run longer than a bound keeps each turn short, answers the rest at once (cheaply:
 * before decoding), and so lets clients back off instead of time out.
 */
export class LoopBusyClock {
  private lastTick = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private users = 0;

  /** Starts the heartbeat (every `tickMillis`, unref'd); counted, so each user calls {@link release}. */
  acquire(tickMillis = 10): void {
    if (this.users++ === 0) {
      this.lastTick = performance.now();
      this.timer = setInterval(() => {
        this.lastTick = performance.now();
      }, tickMillis);
      this.timer.unref();
    }
  }

  release(): void {
    if (--this.users === 0) clearInterval(this.timer);
  }

  /** Milliseconds since the heartbeat last ran. */
  busyMillis(): number {
    return performance.now() - this.lastTick;
  }
}

/** The process's one event loop, shared by every receiver. */
export const loopBusyClock = new LoopBusyClock();
