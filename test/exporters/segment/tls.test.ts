/** The segment exporter's `tls` against the local Segment server over HTTPS (test/exporters/tls-scenarios.ts). */
import { segmentExporterFactory } from '../../../exporters/segment/index.js';
import { startSegmentServer } from '../../fakes/segment-server.js';
import { describeTlsScenarios, httpsServerOptions } from '../tls-scenarios.js';

const KEY = 'tls-test-write-key';

describeTlsScenarios('segment', {
  factory: segmentExporterFactory,
  async serve(t) {
    const fake = await startSegmentServer({ writeKeys: [KEY], tls: httpsServerOptions(t) });
    return { config: { write_key: KEY, endpoint: fake.url, anonymous_id: ['device_id', 'session_id', 'insert_id'] }, received: () => fake.ingested.size, close: () => fake.close() };
  },
});
