/**
 * The `health_check` extension: GET `path` (default `/`) on `endpoint` (default 127.0.0.1:13133)
 * answers 200 `{"status":"Server available",...}` once every pipeline has started, and 503
 * `{"status":"Server not available"}` while starting or draining (the collector's
 * `healthcheckextension` contract, so load balancers and Kubernetes probes work unchanged).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExtensionFactory } from '../component.js';
import { endpoint, parseEndpoint, z } from '../config/schema.js';

export const DEFAULT_HEALTH_ENDPOINT = '127.0.0.1:13133';

export const healthCheckSchema = z.strictObject({
  endpoint: endpoint(DEFAULT_HEALTH_ENDPOINT).describe('host:port to serve on. Default 127.0.0.1:13133.'),
  path: z.string().startsWith('/').default('/').describe('URL path of the check. Default /.'),
});

export type HealthCheckConfig = z.infer<typeof healthCheckSchema>;

export const healthCheckFactory: ExtensionFactory<HealthCheckConfig> = {
  kind: 'extension',
  type: 'health_check',
  description: 'HTTP health check: 200 when ready, 503 while starting or draining',
  configSchema: healthCheckSchema,
  create(settings, config) {
    let ready = false;
    let since: Date | undefined;
    const server = http.createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (url !== config.path || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const body = ready
        ? { status: 'Server available', upSince: since!.toISOString(), uptime: `${((Date.now() - since!.getTime()) / 1000).toFixed(3)}s` }
        : { status: 'Server not available' };
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    return {
      async start() {
        const ep = parseEndpoint(config.endpoint)!;
        await new Promise<void>((resolve, reject) => {
          server.once('error', (err) => reject(new Error(`endpoint: cannot listen on ${config.endpoint}: ${err.message}`)));
          server.listen(ep.port, ep.host, () => resolve());
        });
        settings.logger.debug({ port: (server.address() as AddressInfo).port }, 'health check listening');
      },
      onReadyChange(r: boolean) {
        ready = r;
        if (r) since = new Date();
      },
      async shutdown() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },
};
