/** Every built-in component factory: one line per component type. */
import type { Factory } from './component.js';
import { healthCheckFactory } from './extensions/health_check.js';
import { otlpReceiverFactory } from '../receivers/otlp/index.js';
import { analyticsProcessorFactory } from '../processors/analytics/index.js';
import { batchProcessorFactory } from '../processors/batch/index.js';
import { filterProcessorFactory } from '../processors/filter/index.js';
import { debugExporterFactory } from '../exporters/debug/index.js';
import { fileExporterFactory } from '../exporters/file/index.js';
import { nopExporterFactory } from '../exporters/nop/index.js';

export const builtinFactories: readonly Factory[] = [
  otlpReceiverFactory,
  analyticsProcessorFactory,
  batchProcessorFactory,
  filterProcessorFactory,
  debugExporterFactory,
  fileExporterFactory,
  nopExporterFactory,
  healthCheckFactory,
];
