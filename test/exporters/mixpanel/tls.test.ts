/** The mixpanel exporter's `tls` against the local Mixpanel server over HTTPS (test/exporters/tls-scenarios.ts). */
import { mixpanelExporterFactory } from '../../../exporters/mixpanel/index.js';
import { startMixpanelServer } from '../../fakes/mixpanel-server.js';
import { describeTlsScenarios, httpsServerOptions } from '../tls-scenarios.js';

const TOKEN = 'tls-test-token';

describeTlsScenarios('mixpanel', {
  factory: mixpanelExporterFactory,
  async serve(t) {
    const fake = await startMixpanelServer({ tokens: [TOKEN], tls: httpsServerOptions(t) });
    return { config: { project_token: TOKEN, endpoint: fake.url }, received: () => fake.ingested.size, close: () => fake.close() };
  },
});
