/**
 * A `SendContext` for calling an exporter's `send` (or the senders behind it) directly, as the
 * exporter helper does: requests run under `timeoutMillis` (0 = none) and stop with `stop`; every
 * `progress` call is recorded in `progressed`.
 */
import type { Payload } from '../../src/component.js';
import { runRequest, type SendContext } from '../../src/delivery/sender.js';

export function sendContext(opts: { timeoutMillis?: number; stop?: AbortSignal } = {}): SendContext & { progressed: Payload[] } {
  const stop = opts.stop ?? new AbortController().signal;
  const progressed: Payload[] = [];
  return {
    stopped: stop,
    request: (fn) => runRequest(fn, opts.timeoutMillis ?? 0, stop),
    progress: async (rest) => void progressed.push(rest),
    progressed,
  };
}
