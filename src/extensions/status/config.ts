/** Config of the `status` extension: where the status page is served, its protection, tail and playground limits. */
import { duration, endpoint, parseEndpoint, z } from '../../config/schema.js';
import { isLoopbackHost, tlsServerSchema } from '../../tls/server.js';

/** The collector's zpages port, on localhost. */
export const DEFAULT_STATUS_ENDPOINT = '127.0.0.1:55679';

export const statusSchema = z
  .strictObject({
    endpoint: endpoint(DEFAULT_STATUS_ENDPOINT).describe(
      'host:port to serve the status page and its API on. Default 127.0.0.1:55679 (localhost only). Another address needs tls and auth::bearer_token: the page shows event names and values and runs the playground.',
    ),
    tls: tlsServerSchema.optional().describe('Serve https (cert_file, key_file, ...; as the otlp receiver\'s tls). Required, with auth::bearer_token, beyond localhost. Omitted: plain http.'),
    auth: z
      .strictObject({
        bearer_token: z
          .string()
          .min(16, { message: 'must be at least 16 characters; e.g. `openssl rand -base64 24`, set from the environment: ${env:OTELYTICS_STATUS_TOKEN}' })
          .optional()
          .describe('When set, every /api request needs `Authorization: Bearer <token>` (the page asks for it once per browser tab). Set it from the environment. No default: no token.'),
      })
      .prefault({})
      .describe('Protection besides the localhost binding.'),
    tail: z
      .strictObject({
        buffer_size: z.number().int().min(1).max(10_000).default(200).describe('Recent events kept per events pipeline while someone watches the tail. Default 200.'),
        max_events_per_second: z.number().int().min(1).max(10_000).default(50).describe('Most events sent to one watcher per second; the rest are counted as skipped. Default 50.'),
        show_values_without_privacy: z
          .boolean()
          .default(false)
          .describe('Show property and identity values of pipelines that run no privacy processor. Default false: only names, keys and structural context are shown there.'),
      })
      .prefault({})
      .describe('The live tail of events (after every processor, as exporters get them).'),
    playground: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Offer the rule playground (a dry run in a worker thread; nothing is applied to the gateway). Default true.'),
        timeout: duration('5s')
          .refine((ms) => ms > 0, { message: 'must be more than 0' })
          .describe('Longest one dry run may take before its worker is stopped. Must be > 0. Default 5s.'),
        max_input_bytes: z.number().int().min(1024).default(1_048_576).describe('Largest playground request body (input and both YAML texts), bytes. Default 1048576 (1 MiB).'),
      })
      .prefault({})
      .describe('The rule playground.'),
  })
  .superRefine((c, ctx) => {
    const host = parseEndpoint(c.endpoint)?.host;
    if (host === undefined || isLoopbackHost(host)) return;
    const missing = [c.tls === undefined ? 'tls' : '', c.auth.bearer_token === undefined ? 'auth::bearer_token' : ''].filter(Boolean);
    if (missing.length === 0) return;
    ctx.addIssue({
      code: 'custom',
      path: ['endpoint'],
      message: `${c.endpoint} is beyond localhost, where the status page (event tail, playground) needs tls and auth::bearer_token; ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set. Set ${missing.join(' and ')}, or bind 127.0.0.1 and reach the page through kubectl port-forward or an SSH tunnel`,
    });
  });

export type StatusConfig = z.infer<typeof statusSchema>;
