/** The bigquery exporter's `tls` against the local BigQuery stand-in over HTTPS (test/exporters/tls-scenarios.ts). */
import { bigqueryExporterFactory } from '../../../exporters/bigquery/index.js';
import { startFakeBigQuery } from '../../fakes/bigquery-server.js';
import { describeTlsScenarios, httpsServerOptions } from '../tls-scenarios.js';

const PROJECT = 'otelytics-tls';

describeTlsScenarios('bigquery', {
  factory: bigqueryExporterFactory,
  async serve(t) {
    const fake = await startFakeBigQuery(0, httpsServerOptions(t));
    return {
      config: { project: PROJECT, dataset: 'analytics', table: 'events', api_endpoint: fake.endpoint, no_auth: true },
      received: () => fake.table(PROJECT, 'analytics', 'events')?.rows.length ?? 0,
      close: () => fake.close(),
    };
  },
});
