/**
 * The options every exporter takes from the exporter helper (the collector's `exporterhelper`
 * settings): `timeout`, `sending_queue` (with its `batch`), `retry_on_failure`, `dead_letter` and
 * `consent`, with the collector's names and defaults. An exporter spreads
 * {@link exporterHelperShape} into its schema; src/exporterhelper.ts acts on them.
 */
import { duration, z } from './config/schema.js';
import { consentRequirementSchema } from './consent.js';

/** Default `queue_size` per sizer: 100 000 items, 1000 requests (the collector's), 256 MiB. */
export const DEFAULT_QUEUE_SIZE = { items: 100_000, requests: 1000, bytes: 256 * 1024 * 1024 } as const;
/** Default `sending_queue::drain_timeout`. */
export const DEFAULT_DRAIN_TIMEOUT = '10s';

/**
 * The `sending_queue` options. `enabled` defaults to true; an exporter whose destination is local
 * and fast (file, debug) may default it to false, so that a request is acknowledged only once written.
 */
export function sendingQueueSchema(defaults: { enabled?: boolean } = {}) {
  const enabled = defaults.enabled ?? true;
  return z
    .strictObject({
      enabled: z.boolean().default(enabled).describe(`Queue data between the pipeline and the destination; false sends in the caller's request and retries there. Default ${enabled}.`),
      num_consumers: z.number().int().positive().default(10).describe('Sends in parallel from the queue. Default 10.'),
      sizer: z.enum(['items', 'requests', 'bytes']).default('items').describe('Unit of queue_size: items (spans, log records, data points, events), requests, or bytes of the stored encoding. Default items.'),
      queue_size: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('Most the queue holds (waiting, being sent, or waiting for a retry), in the unit of sizer; when full, new data is refused (receivers answer 503 / UNAVAILABLE). Default 100000 items, 1000 requests or 268435456 bytes.'),
      storage: z.string().min(1).optional().describe('Directory of a persistent on-disk queue (LMDB) that survives restarts and crashes; each exporter uses a subdirectory named after its id. Omitted: in memory.'),
      drain_timeout: duration(DEFAULT_DRAIN_TIMEOUT).describe('On shutdown, longest the exporter keeps sending what it holds, counted from when the first exporter starts draining; what is left stays on disk (storage) or is dead-lettered / counted as dropped. 0: do not wait. Default 10s.'),
      batch: queueBatchSchema
        .optional()
        .describe('Batch queued requests before sending (after the queue holds them, so acknowledgements never wait for a batch). Omitted: the batch settings of a `batch` processor in the pipelines feeding this exporter, else none (each request sent as it was queued). `batch: {}` takes the defaults.'),
    })
    .prefault({})
    .transform((q) => ({ ...q, queue_size: q.queue_size ?? DEFAULT_QUEUE_SIZE[q.sizer] }))
    .describe('Bounded queue in front of the destination.');
}

/** `sending_queue::batch`, the collector's keys and defaults (200ms, 8192 items, no maximum). */
export const queueBatchSchema = z
  .strictObject({
    flush_timeout: duration('200ms').describe('Longest the first request of a batch waits for more before the batch is sent. Must be above 0. Default 200ms.'),
    min_size: z.number().int().nonnegative().default(8192).describe('Items (spans, log records, data points, events) at which a batch is sent at once. Default 8192.'),
    max_size: z.number().int().nonnegative().default(0).describe('Most items sent in one request; a larger batch is sent in parts, each recorded as done once accepted. 0: no limit. Default 0.'),
    sizer: z.literal('items').default('items').describe('Unit of min_size and max_size: items (the only one supported). Default items.'),
  })
  .refine((b) => b.flush_timeout > 0, { message: 'must be above 0', path: ['flush_timeout'] })
  .refine((b) => b.max_size === 0 || b.max_size >= b.min_size, { message: 'must be 0 or at least min_size', path: ['max_size'] });

/** Collector defaults (`exporterhelper`): 5s timeout; 10 consumers; retry 5s → 30s, ×1.5, ±50%, 5m. */
export const exporterHelperShape = {
  timeout: duration('5s').describe('Longest one request to the destination may take before it counts as a retryable failure; a send made of several requests applies it to each. 0: no limit. Default 5s.'),
  sending_queue: sendingQueueSchema(),
  retry_on_failure: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Retry retryable failures. Default true.'),
      initial_interval: duration('5s').describe('Wait before the first retry. Default 5s.'),
      max_interval: duration('30s').describe('Upper bound of the wait between retries. Default 30s.'),
      multiplier: z.number().min(1).default(1.5).describe('Factor by which the wait grows. Default 1.5.'),
      randomization_factor: z.number().min(0).max(1).default(0.5).describe('Jitter: each wait is randomised by ± this fraction. Default 0.5.'),
      max_elapsed_time: duration('300s').describe('Give up (dead-letter, or count as dropped) after this long. 0: retry forever. Default 300s.'),
    })
    .prefault({})
    .describe('Exponential back-off with jitter; a destination\'s Retry-After is honoured.'),
  dead_letter: z.string().min(1).optional().describe('Exporter id (e.g. file/dead) that receives what the destination rejects for good or what runs out of retries, marked with the reason and time. It runs even when no pipeline lists it.'),
  consent: consentRequirementSchema
    .optional()
    .describe('Consent purposes an event must carry to reach this destination: a purpose (analytics), a list (all of them), or {all: [...], any: [...]}. Events without it are dropped here (deny by default), whichever pipeline or route hands them over. Events only. Omitted: no requirement.'),
};

/** The helper's options alone (an exporter built without them gets their defaults). */
export const helperSchema = z.strictObject(exporterHelperShape);
export type ExporterHelperConfig = z.infer<typeof helperSchema>;
