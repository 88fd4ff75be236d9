/** The amplitude exporter's `tls` against the local Amplitude server over HTTPS (test/exporters/tls-scenarios.ts). */
import { amplitudeExporterFactory } from '../../../exporters/amplitude/index.js';
import { startAmplitudeServer } from '../../fakes/amplitude-server.js';
import { describeTlsScenarios, httpsServerOptions } from '../tls-scenarios.js';

const KEY = 'tls-test-key';

describeTlsScenarios('amplitude', {
  factory: amplitudeExporterFactory,
  async serve(t) {
    const fake = await startAmplitudeServer({ apiKeys: [KEY], tls: httpsServerOptions(t) });
    return { config: { api_key: KEY, endpoint: fake.url }, received: () => fake.ingested.size, close: () => fake.close() };
  },
});
