/**
 * The `health_check` extension, on `endpoint` (default 127.0.0.1:13133):
 * - readiness, GET `path` (default `/`, the collector's `healthcheckextension` contract) and GET
 *   `ready_path` (default `/readyz`): 200 `{"status":"Server available",...}` once every pipeline
 *   has started; 503 `{"status":"Server not available","state":"starting"|"draining"}` before,
 *   and from the moment a shutdown (SIGTERM) begins, so load balancers stop sending new data
 *   while the gateway drains;
 * - liveness, GET `live_path` (default `/livez`): 200 `{"status":"Server alive","state":...}` as
 *   long as the process answers, draining included (a liveness probe must not kill a gateway that
 *   is flushing its queues).
 * With `tls` it serves https (src/tls/server.ts); probes then use `scheme: HTTPS` (the kubelet does
 * not check the certificate). Unlike the status page and the metrics endpoint it may be bound
 * beyond localhost without TLS: it tells nothing but whether the gateway is up.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Extension, ExtensionFactory } from '../component.js';
import { endpoint, parseEndpoint, z } from '../config/schema.js';
import { listenError } from '../errors.js';
import { answerClientErrors } from '../http_client_error.js';
import { createHttpServer, ServerTlsSource, tlsServerSchema } from '../tls/server.js';

export const DEFAULT_HEALTH_ENDPOINT = '127.0.0.1:13133';

export const healthCheckSchema = z.strictObject({
  endpoint: endpoint(DEFAULT_HEALTH_ENDPOINT).describe('host:port to serve on. Default 127.0.0.1:13133.'),
  path: z.string().startsWith('/').default('/').describe('URL path of the readiness check (collector compatible). Default /.'),
  ready_path: z.string().startsWith('/').default('/readyz').describe('Another URL path of the readiness check: 200 when ready, 503 while starting or draining. Default /readyz.'),
  live_path: z.string().startsWith('/').default('/livez').describe('URL path of the liveness check: 200 while the process runs, draining included. Default /livez.'),
  tls: tlsServerSchema.optional().describe('Serve https (cert_file, key_file, ...; as the otlp receiver\'s tls). Omitted: plain http.'),
});

export type HealthCheckConfig = z.infer<typeof healthCheckSchema>;

export const healthCheckFactory: ExtensionFactory<HealthCheckConfig> = {
  kind: 'extension',
  type: 'health_check',
  description: 'HTTP health check: readiness (200 when ready, 503 while starting or draining) and liveness',
  configSchema: healthCheckSchema,
  create: (settings, config) => createHealthCheck(settings, config),
};

/** Readiness states of the health check. */
export type HealthState = 'starting' | 'ready' | 'draining';

/**
 * The health check itself; besides the extension's `onReadyChange`, `setState` sets the state
 * directly (the supervisor of several workers: `starting` again while a worker restarts).
 */
export function createHealthCheck(settings: Parameters<ExtensionFactory<HealthCheckConfig>['create']>[0], config: HealthCheckConfig): Extension & { setState(s: HealthState): void } {
  {
    let state: 'starting' | 'ready' | 'draining' = 'starting';
    let since: Date | undefined;
    let tls: ServerTlsSource | undefined;
    let server: http.Server | undefined;
    const handler: http.RequestListener = (req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      const readiness = url === config.path || url === config.ready_path;
      if ((!readiness && url !== config.live_path) || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const up = since ? { upSince: since.toISOString(), uptime: `${((Date.now() - since.getTime()) / 1000).toFixed(3)}s` } : {};
      if (!readiness) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'Server alive', state, ...up }));
        return;
      }
      const ready = state === 'ready';
      const body = ready ? { status: 'Server available', ...up } : { status: 'Server not available', state };
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    return {
      async start() {
        // Reads and checks the certificate files: a SettingError names the option (`tls::cert_file`).
        tls = config.tls ? new ServerTlsSource(config.tls, 'tls', settings.logger) : undefined;
        const s = createHttpServer(tls, {}, handler);
        server = s;
        answerClientErrors(s);
        const ep = parseEndpoint(config.endpoint)!;
        await new Promise<void>((resolve, reject) => {
          s.once('error', (err) => {
            tls?.stop();
            reject(listenError('endpoint', config.endpoint, err));
          });
          s.listen(ep.port, ep.host, () => resolve());
        });
        settings.logger.debug({ port: (s.address() as AddressInfo).port, tls: tls !== undefined }, 'health check listening');
      },
      onReadyChange(r: boolean) {
        if (r) since = new Date();
        state = r ? 'ready' : since ? 'draining' : 'starting';
      },
      setState(s: HealthState) {
        if (s === 'ready' && state !== 'ready') since = new Date();
        state = s;
      },
      async shutdown() {
        tls?.stop();
        const s = server;
        if (!s) return;
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      },
    };
  }
}
