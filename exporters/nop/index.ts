/**
 * The `nop` exporter: accepts everything and discards it (like the collector's `nopexporter`).
 * For benchmarks and for pipelines whose only purpose is a side effect such as metrics.
 */
import type { ExporterFactory } from '../../src/component.js';
import { z } from '../../src/config/schema.js';
import { BaseExporter } from '../../src/exporterhelper.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';

/** No options; the delivery options are parsed (queue off) so that the base class gets its defaults. */
export const nopSchema = z.strictObject({}).transform(() => z.strictObject(exporterHelperShape).parse({ sending_queue: { enabled: false } }));

class NopExporter extends BaseExporter {
  protected async send(): Promise<void> {}
}

export const nopExporterFactory: ExporterFactory<z.infer<typeof nopSchema>> = {
  kind: 'exporter',
  type: 'nop',
  description: 'Discards everything it is given (benchmarks, metrics-only pipelines)',
  configSchema: nopSchema,
  accepts: ['traces', 'logs', 'metrics', 'events'],
  mutatesData: false,
  takesEncodedTraces: true,
  create: (settings, config) => new NopExporter(settings, config),
};
