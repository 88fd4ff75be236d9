/**
 * The `forward` connector (the collector's `forwardconnector`): hands what a pipeline exports to
 * it, unchanged, to every pipeline that lists it as a receiver and has the same signal. Used
 * between pipelines of one signal to fan in (several pipelines export to it) and fan out (several
 * pipelines receive from it), e.g. one `events` pipeline that makes and cleans events feeding
 * `events/amplitude` and `events/warehouse` pipelines with processors of their own.
 *
 * Pairs: traces → traces, logs → logs, metrics → metrics, events → events. No options.
 */
import type { Consumer, ConnectorFactory, Payload, Signal } from '../../src/component.js';
import { SIGNALS } from '../../src/component.js';
import { z } from '../../src/config/schema.js';

export const forwardSchema = z.strictObject({}).describe('No options.');

export type ForwardConfig = z.infer<typeof forwardSchema>;

export const forwardConnectorFactory: ConnectorFactory<ForwardConfig> = {
  kind: 'connector',
  type: 'forward',
  description: 'Joins pipelines of one signal: fan-in and fan-out, data passed on unchanged',
  configSchema: forwardSchema,
  pairs: SIGNALS.map((s) => [s, s] as const),
  mutatesData: false,
  passesEncodedTraces: true,
  create(settings, _config, router) {
    const bySignal = new Map<Signal, Consumer>(settings.inputs.map((s) => [s, router.consumer(router.pipelines(s))]));
    return {
      async start() {},
      async shutdown() {},
      consume(p: Payload): Promise<void> {
        const next = bySignal.get(p.signal);
        return next ? next.consume(p) : Promise.resolve();
      },
    };
  },
};
