/** The otlp_http and otlp_grpc exporters' `tls` against local OTLP servers (test/exporters/tls-scenarios.ts). */
import * as grpc from '@grpc/grpc-js';
import { otlpGrpcExporterFactory, otlpHttpExporterFactory } from '../../../exporters/otlp/index.js';
import { decodeLogsRequest } from '../../../src/otlp/proto.js';
import { describeTlsScenarios, httpsServerOptions } from '../tls-scenarios.js';
import { startGrpcServer, startHttpServer } from './servers.js';

/** Log records in OTLP request bodies. */
const logRecords = (bodies: Buffer[]) => bodies.reduce((n, b) => n + decodeLogsRequest(b).resourceLogs.reduce((m, rl) => m + rl.scopeLogs.reduce((k, sl) => k + sl.logRecords.length, 0), 0), 0);

describeTlsScenarios('otlp_http', {
  factory: otlpHttpExporterFactory,
  async serve(t) {
    const server = await startHttpServer(httpsServerOptions(t));
    return { config: { endpoint: server.url }, received: () => logRecords(server.requests.map((r) => r.body)), close: () => server.close() };
  },
});

describeTlsScenarios('otlp_grpc', {
  factory: otlpGrpcExporterFactory,
  async serve(t) {
    const server = await startGrpcServer(grpc.ServerCredentials.createSsl(t.clientCa ?? null, [{ cert_chain: t.cert, private_key: t.key }], t.clientCa !== undefined));
    // By name: grpc-js sends the target's host as SNI, which Node refuses for an IP address with a warning.
    const endpoint = server.target.replace(/^127\.0\.0\.1:/, 'localhost:');
    return { config: { endpoint }, received: () => logRecords(server.calls.map((c) => c.body)), close: () => server.close() };
  },
});
