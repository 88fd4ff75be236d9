/**
 * The base of every exporter: counts what was sent and what failed with the collector's metric
 * names (`otelcol_exporter_sent_*`, `otelcol_exporter_send_failed_*`), so each exporter only
 * implements `send`.
 */
import type { Logger } from 'pino';
import type { CreateSettings, Exporter, Host, Payload } from './component.js';
import { itemCount } from './component.js';
import type { Telemetry } from './telemetry.js';

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

  /** Delivers the payload; rejects with a PermanentError or a RetryableError. */
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
