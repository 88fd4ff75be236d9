/**
 * How the pipeline graph (src/gateway.ts) hands data from one stage to several: a fan-out that
 * gives read-only consumers the same payload and mutating ones their own copy, and whether traces
 * may travel a pipeline as the protobuf bytes they arrived in.
 */
import type { Consumer, Payload, ProcessorFactory } from './component.js';
import { clonePayload } from './component.js';

/** A stage data is handed to, and whether it changes what it is given. */
export interface Target {
  consumer: Consumer;
  mutates: boolean;
}

/** A consumer that takes everything and hands it nowhere. */
const discard: Consumer = { takesEncodedTraces: true, consume: async () => undefined };

/** A consumer that hands the same payload to several consumers, copying for mutating ones. */
export function fanOut(targets: readonly Target[]): Consumer {
  if (targets.length === 0) return discard;
  if (targets.length === 1) return targets[0]!.consumer;
  const shared = targets.filter((t) => !t.mutates).map((t) => t.consumer);
  const mutating = targets.filter((t) => t.mutates).map((t) => t.consumer);
  return {
    takesEncodedTraces: targets.every((t) => t.consumer.takesEncodedTraces === true),
    async consume(p: Payload): Promise<void> {
      const calls: Promise<void>[] = [];
      mutating.forEach((c, i) => {
        const last = i === mutating.length - 1 && shared.length === 0;
        calls.push(c.consume(last ? p : clonePayload(p)));
      });
      for (const c of shared) calls.push(c.consume(p));
      const results = await Promise.allSettled(calls);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/**
 * Whether traces may enter a pipeline of these processors and exporters as the protobuf bytes they
 * arrived in (see `Consumer.takesEncodedTraces`): every stage takes them so, up to the first
 * processor that turns them into another signal (`analytics`: events), or through to the exporters
 * (exporter factories, or the consumers of connectors, which say whether they take them so).
 */
export function tracesStayEncoded(processors: readonly ProcessorFactory<unknown>[], exporters: readonly { takesEncodedTraces?: boolean }[]): boolean {
  for (const f of processors) {
    if (f.takesEncodedTraces !== true) return false;
    if (f.output('traces') !== 'traces') return true;
  }
  return exporters.every((f) => f.takesEncodedTraces === true);
}
