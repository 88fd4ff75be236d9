/**
 * The `batch` processor: batches of `send_batch_size` items, or of what arrived within `timeout`,
 * for the destinations (the collector's `batchprocessor` options).
 *
 * The batches are built where nothing can be lost: in the sending queue of each exporter after it
 * (the collector's `sending_queue::batch`, src/delivery/batcher.ts), once the queue holds the data,
 * on disk for a persistent queue. The processor itself holds nothing: it hands every request on as
 * it comes, so a receiver acknowledges a request only once every exporter holds it, never while it
 * waits in a batch in memory that a crash would lose. An exporter's own `sending_queue::batch`
 * wins over these settings; an exporter without a sending queue takes each request as it comes.
 */
import type { ProcessorFactory } from '../../src/component.js';
import { duration, z } from '../../src/config/schema.js';

/** Collector defaults: 8192 items, 200ms, no max size. */
export const DEFAULT_SEND_BATCH_SIZE = 8192;
export const DEFAULT_TIMEOUT = '200ms';

export const batchSchema = z
  .strictObject({
    send_batch_size: z.number().int().nonnegative().default(DEFAULT_SEND_BATCH_SIZE).describe('Items that trigger a send. 0: size never triggers, only the timeout. Default 8192.'),
    send_batch_max_size: z.number().int().nonnegative().default(0).describe('Upper bound of a batch; larger ones are sent in parts. 0: no bound. Default 0.'),
    timeout: duration(DEFAULT_TIMEOUT).describe('Longest an item waits before its batch is sent. 0: send at once. Default 200ms.'),
  })
  .refine((c) => c.send_batch_max_size === 0 || c.send_batch_max_size >= c.send_batch_size, {
    message: 'must be 0 or at least send_batch_size',
    path: ['send_batch_max_size'],
  });

export type BatchConfig = z.infer<typeof batchSchema>;

export const batchProcessorFactory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  description: 'Batches spans, log records, metrics or events by size and time, in the sending queues of the exporters after it',
  configSchema: batchSchema,
  accepts: ['traces', 'logs', 'metrics', 'events'],
  output: (s) => s,
  mutatesData: false,
  takesEncodedTraces: true,
  exporterBatching: (c) => ({
    // timeout 0 ("send at once") and send_batch_size 0 ("only the timeout triggers") in queue terms.
    flush_timeout: c.timeout > 0 ? c.timeout : 1,
    min_size: c.timeout === 0 ? 0 : c.send_batch_size === 0 ? Number.MAX_SAFE_INTEGER : c.send_batch_size,
    max_size: c.send_batch_max_size,
  }),
  create: (_settings, _config, next) => ({
    takesEncodedTraces: next.takesEncodedTraces,
    start: async () => {},
    consume: (p) => next.consume(p),
    shutdown: async () => {},
  }),
};
