/** Every built-in component factory: one line per component type. */
import type { Factory } from './component.js';
import { basicAuthFactory } from './extensions/basicauth.js';
import { bearerTokenAuthFactory } from './extensions/bearertokenauth.js';
import { healthCheckFactory } from './extensions/health_check.js';
import { statusFactory } from './extensions/status/index.js';
import { otlpReceiverFactory } from '../receivers/otlp/index.js';
import { kafkaReceiverFactory } from '../receivers/kafka/index.js';
import { analyticsProcessorFactory } from '../processors/analytics/index.js';
import { batchProcessorFactory } from '../processors/batch/index.js';
import { filterProcessorFactory } from '../processors/filter/index.js';
import { memoryLimiterProcessorFactory } from '../processors/memory_limiter/index.js';
import { enrichProcessorFactory } from '../processors/enrich/index.js';
import { privacyProcessorFactory } from '../processors/privacy/index.js';
import { catalogueProcessorFactory } from '../processors/catalogue/index.js';
import { trackingPlanProcessorFactory } from '../processors/tracking_plan/index.js';
import { debugExporterFactory } from '../exporters/debug/index.js';
import { fileExporterFactory } from '../exporters/file/index.js';
import { kafkaExporterFactory } from '../exporters/kafka/index.js';
import { amplitudeExporterFactory } from '../exporters/amplitude/index.js';
import { posthogExporterFactory } from '../exporters/posthog/index.js';
import { mixpanelExporterFactory } from '../exporters/mixpanel/index.js';
import { segmentExporterFactory } from '../exporters/segment/index.js';
import { bigqueryExporterFactory } from '../exporters/bigquery/index.js';
import { nopExporterFactory } from '../exporters/nop/index.js';
import { otlpExporterFactories } from '../exporters/otlp/index.js';
import { forwardConnectorFactory } from '../connectors/forward/index.js';
import { routingConnectorFactory } from '../connectors/routing/index.js';
import { countConnectorFactory } from '../connectors/count/index.js';

export const builtinFactories: readonly Factory[] = [
  otlpReceiverFactory,
  kafkaReceiverFactory,
  analyticsProcessorFactory,
  batchProcessorFactory,
  filterProcessorFactory,
  memoryLimiterProcessorFactory,
  enrichProcessorFactory,
  privacyProcessorFactory,
  catalogueProcessorFactory,
  trackingPlanProcessorFactory,
  debugExporterFactory,
  fileExporterFactory,
  kafkaExporterFactory,
  amplitudeExporterFactory,
  posthogExporterFactory,
  mixpanelExporterFactory,
  segmentExporterFactory,
  bigqueryExporterFactory,
  nopExporterFactory,
  ...otlpExporterFactories,
  forwardConnectorFactory,
  routingConnectorFactory,
  countConnectorFactory,
  healthCheckFactory,
  statusFactory,
  bearerTokenAuthFactory,
  basicAuthFactory,
];
