/**
 * Config of the `amplitude` exporter. Limits and endpoints follow Amplitude's documentation:
 * - HTTP V2 API, https://amplitude.com/docs/apis/analytics/http-v2 : `POST /2/httpapi`, fewer
 *   than 2000 events and under 1 MB per request (else 413);
 * - Batch Event Upload API, https://amplitude.com/docs/apis/analytics/batch-event-upload :
 *   `POST /batch`, the same body, at most 20 MB per request;
 * - hosts `api2.amplitude.com` (default data residency) and `api.eu.amplitude.com` (EU).
 */
import { duration, nonEmptyString, optionalHttpUrl, z } from '../../src/config/schema.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';
import { clientTlsSchema } from '../../src/tls/client.js';
import { contextPropertiesOption, fieldPathsOption as paths, invalidPaths } from './event_fields.js';

export const AMPLITUDE_HOSTS = { us: 'https://api2.amplitude.com', eu: 'https://api.eu.amplitude.com' } as const;
export const AMPLITUDE_PATHS = { http_v2: '/2/httpapi', batch: '/batch' } as const;

/** Most events per request: HTTP V2 documents 2000; the Batch API documents only the size limit, 2000 is kept as a sane bound. */
export const MAX_EVENTS_PER_REQUEST = 2000;
/** Request size limits, bytes of the JSON body: HTTP V2 "under 1 MB", Batch "must not exceed 20MB" (decimal megabytes, the stricter reading). */
export const MAX_REQUEST_BYTES = { http_v2: 1_000_000 - 1, batch: 20_000_000 } as const;
/** How long events of throttled users and devices are held back after a 429; the documentation says to pause for 30 s. */
export const DEFAULT_THROTTLE_BACKOFF = '30s';


const path = (def: string | undefined, what: string) => {
  const s = z.string().min(1).superRefine((v, ctx) => {
    const msg = invalidPaths([v]);
    if (msg) ctx.addIssue({ code: 'custom', message: msg });
  });
  return (def === undefined ? s.optional() : s.default(def)).describe(what);
};

export const amplitudeSchema = z
  .strictObject({
    api_key: nonEmptyString().describe('Amplitude project API key. Required; set it from the environment: `${env:AMPLITUDE_API_KEY}`.'),
    api: z.enum(['http_v2', 'batch']).default('http_v2').describe('http_v2: /2/httpapi (real time, ≤ 2000 events and < 1 MB per request, 30 events/s per user or device); batch: /batch (≤ 20 MB per request, 1000 events/s per user or device). Default http_v2.'),
    region: z.enum(['us', 'eu']).default('us').describe('Data residency: us (api2.amplitude.com) or eu (api.eu.amplitude.com). Ignored when endpoint is set. Default us.'),
    endpoint: optionalHttpUrl()
      .describe('Explicit upload URL (a proxy, a test server). A URL without a path gets the API\'s path (/2/httpapi or /batch). Omitted or "": from region and api.'),
    min_id_length: z.number().int().positive().optional().describe('Sent as options.min_id_length: the shortest user_id/device_id Amplitude accepts. Omitted: Amplitude\'s default, 5 characters.'),
    user_id: paths(['user_id'], 'Event fields read for Amplitude\'s user_id, first present wins. Default [user_id].'),
    user_id_prefix: z.string().default('').describe('Prepended to every user_id (e.g. "shop:"), counted in the id length. Default "".'),
    device_id: paths(['device_id', 'session_id'], 'Event fields read for device_id, first present wins; add insert_id to give events without any identity (e.g. anonymised by privacy) a device of their own. Default [device_id, session_id].'),
    session_id: paths(['session_id'], 'Event fields read for session_id. Amplitude wants the session start in integer milliseconds; other values are sent as the event property session_id. Default [session_id].'),
    app_version: paths(['context.service.version'], 'Event fields read for app_version. Default [context.service.version].'),
    platform: paths(['context.platform'], 'Event fields read for platform. Default [context.platform].'),
    context_properties: contextPropertiesOption('Context keys copied into event_properties (e.g. deployment.environment, trace_id), under the same key unless a property has it. Default [].'),
    send_ip: z
      .boolean()
      .default(false)
      .describe('Send the context\'s client.address (as left by privacy, e.g. truncated) as ip, which Amplitude geolocates. Default false: ip is not sent, and "$remote" (the address of the upload request, i.e. the gateway\'s) is never sent.'),
    revenue: z
      .strictObject({
        events: z.array(z.string().min(1)).default(['purchase']).describe('Event names that carry revenue. [] turns revenue off. Default [purchase].'),
        revenue: path('properties.value', 'Field of revenue (price × quantity, negative for refunds). Default properties.value.'),
        price: path('properties.price', 'Field of price. Default properties.price.'),
        quantity: path('properties.quantity', 'Field of quantity (integer). Default properties.quantity.'),
        product_id: path('properties.item_id', 'Field of productId. Default properties.item_id.'),
        revenue_type: path(undefined, 'Field of revenueType (e.g. "Purchase", "Refund"). Omitted: not sent.'),
      })
      .prefault({})
      .describe('Amplitude revenue fields (price, quantity, revenue, productId, revenueType) for purchase events; sent only when revenue or price is a number.'),
    max_events_per_request: z
      .number()
      .int()
      .min(1)
      .max(MAX_EVENTS_PER_REQUEST)
      .default(MAX_EVENTS_PER_REQUEST)
      .describe('Most events in one upload request, 1-2000. Requests are also kept under the API\'s size limit (1 MB http_v2, 20 MB batch). Default 2000.'),
    compression: z
      .enum(['none', 'gzip'])
      .default('none')
      .describe('Request body compression. Amplitude\'s upload documentation does not list Content-Encoding, so the default is none; gzip is for proxies that accept it. Default none.'),
    tls: clientTlsSchema('No effect: the endpoint\'s scheme decides (Amplitude is https://; an http:// endpoint, e.g. a local proxy, is plaintext). Default false.')
      .prefault({})
      .describe('TLS of the upload requests (the collector\'s configtls client keys): the CA that verifies the endpoint, a client certificate, server_name_override, min_version. Default: the system roots, TLS 1.2 or later.'),
    throttle_backoff: duration(DEFAULT_THROTTLE_BACKOFF).describe('How long events of throttled users and devices (429) are held back before they are sent again; the rest of the request is sent at once. Default 30s.'),
    ...exporterHelperShape,
  })
  .superRefine((cfg, ctx) => {
    if (cfg.api_key.trim() !== cfg.api_key || /\s/.test(cfg.api_key)) ctx.addIssue({ code: 'custom', path: ['api_key'], message: 'must not contain whitespace (check the environment variable)' });
  });

export type AmplitudeConfig = z.infer<typeof amplitudeSchema>;

/** The upload URL for a config: `endpoint` (with the API's path added when it has none) or region + api. */
export function uploadUrl(cfg: Pick<AmplitudeConfig, 'endpoint' | 'region' | 'api'>): string {
  if (cfg.endpoint) {
    const u = new URL(cfg.endpoint);
    if (u.pathname === '' || u.pathname === '/') u.pathname = AMPLITUDE_PATHS[cfg.api];
    return u.toString();
  }
  return AMPLITUDE_HOSTS[cfg.region] + AMPLITUDE_PATHS[cfg.api];
}
