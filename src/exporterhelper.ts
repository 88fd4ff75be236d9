/**
 * The base of every exporter, shared delivery behaviour included (the collector's
 * `exporterhelper`): counts what was sent and what failed with the collector's metric names
 * (`otelcol_exporter_sent_*`, `otelcol_exporter_send_failed_*`), so each exporter only implements
 * `send`, classifying its failures as `PermanentError`, `RetryableError` or `PartialFailure`.
 *
 * Options every exporter takes (spread {@link exporterHelperShape} into its schema):
 * - `timeout`: longest one `send` may take (default 5s; 0 = no limit);
 * - `sending_queue`: `enabled`, `num_consumers`, `queue_size` (items), `storage` (directory of an
 *   on-disk queue that survives restarts);
 * - `retry_on_failure`: `enabled`, `initial_interval`, `max_interval`, `multiplier`,
 *   `randomization_factor`, `max_elapsed_time` (0 = retry forever);
 * - `dead_letter`: id of an exporter that receives what this one rejects for good.
 */
import type { Logger } from 'pino';
import type { CreateSettings, Exporter, Host, Payload } from './component.js';
import { itemCount } from './component.js';
import { duration, z } from './config/schema.js';
import type { Telemetry } from './telemetry.js';

/** Collector defaults (`exporterhelper`): 5s timeout; queue of 1000 batches, 10 consumers; retry 5s → 30s, ×1.5, ±50%, 5m. */
export const exporterHelperShape = {
  timeout: duration('5s').describe('Longest one send may take before it counts as a retryable failure. 0: no limit. Default 5s.'),
  sending_queue: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Queue data between the pipeline and the destination. Default true.'),
      num_consumers: z.number().int().positive().default(10).describe('Sends in parallel from the queue. Default 10.'),
      queue_size: z.number().int().positive().default(1000).describe('Most batches held; when full, new data is refused (receivers answer 503 / UNAVAILABLE). Default 1000.'),
      storage: z.string().min(1).optional().describe('Directory of a persistent on-disk queue that survives restarts and crashes. Omitted: in memory.'),
    })
    .prefault({})
    .describe('Bounded queue in front of the destination.'),
  retry_on_failure: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Retry retryable failures. Default true.'),
      initial_interval: duration('5s').describe('Wait before the first retry. Default 5s.'),
      max_interval: duration('30s').describe('Upper bound of the wait between retries. Default 30s.'),
      multiplier: z.number().min(1).default(1.5).describe('Factor by which the wait grows. Default 1.5.'),
      randomization_factor: z.number().min(0).max(1).default(0.5).describe('Jitter: each wait is randomised by ± this fraction. Default 0.5.'),
      max_elapsed_time: duration('300s').describe('Give up (dead-letter) after this long. 0: retry forever. Default 300s.'),
    })
    .prefault({})
    .describe('Exponential back-off with jitter; a destination\'s Retry-After is honoured.'),
  dead_letter: z.string().min(1).optional().describe('Exporter id (e.g. file/dead) that receives what the destination rejects for good, with the reason and time.'),
};

const helperSchema = z.strictObject(exporterHelperShape);
export type ExporterHelperConfig = z.infer<typeof helperSchema>;

export abstract class BaseExporter implements Exporter {
  protected readonly id: string;
  protected readonly logger: Logger;
  protected readonly telemetry: Telemetry;

  constructor(settings: CreateSettings) {
    this.id = settings.id;
    this.logger = settings.logger;
    this.telemetry = settings.telemetry;
  }

  async start(_host: Host): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Delivers the payload; rejects with a PermanentError, a RetryableError or a PartialFailure. */
  protected abstract send(p: Payload): Promise<void>;

  async consume(p: Payload): Promise<void> {
    const n = itemCount(p);
    try {
      await this.send(p);
    } catch (err) {
      this.telemetry.exporterSendFailed(this.id, p.signal, n);
      throw err;
    }
    this.telemetry.exporterSent(this.id, p.signal, n);
  }
}
