/**
 * Config of the `segment` exporter. Endpoints and limits follow Segment's HTTP Tracking API
 * (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/):
 * - `POST /v1/batch`, at most 500 KB per request and 2500 calls, each call under 32 KB
 *   ("Max request size", "Batch", "Errors");
 * - the write key as the user of HTTP basic authentication, the password empty ("Basic authentication");
 * - hosts `api.segment.io` and, for EU workspaces, `events.eu1.segmentapis.com`
 *   (https://segment.com/docs/guides/regional-segment/).
 *
 * With `endpoint`, the same body goes to a Segment-compatible data plane: RudderStack's HTTP API
 * (https://www.rudderstack.com/docs/api/http-api/: `<DATA_PLANE_URL>/v1/batch`, the same basic
 * authentication, 4 MB per batch and 32 KB per call) or Jitsu's ingest.
 */
import { nonEmptyString, optionalHttpUrl, z } from '../../src/config/schema.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';
import { clientTlsSchema } from '../../src/tls/client.js';
import { contextPropertiesOption, fieldPathsOption as paths } from '../amplitude/event_fields.js';

export const SEGMENT_HOSTS = { us: 'https://api.segment.io', eu: 'https://events.eu1.segmentapis.com' } as const;
export const SEGMENT_BATCH_PATH = '/v1/batch';

/** Most calls in one batch request: "each batch request can only have up to 2500 events". */
export const MAX_EVENTS_PER_REQUEST = 2500;
/** "500KB per batch request", read as decimal kilobytes (the stricter reading): bytes of the JSON body. */
export const DEFAULT_MAX_REQUEST_BYTES = 500_000;
/** The largest `max_request_bytes` accepted: RudderStack's documented 4 MB per batch. */
export const MAX_REQUEST_BYTES_LIMIT = 4_000_000;
/** "each batched event needs to be less than 32KB": bytes of one call's JSON, decimal (the stricter reading). */
export const MAX_EVENT_BYTES = 32_000;
/** "ensure all events have unique messageId values with fewer than 100 characters". */
export const MAX_MESSAGE_ID_LENGTH = 99;


const integrationValue = z.union([z.boolean(), z.record(z.string(), z.unknown())]);

export const segmentSchema = z
  .strictObject({
    write_key: nonEmptyString().describe('Write key of the Segment source (an HTTP API source), sent as the basic-auth user with an empty password. Required; set it from the environment: `${env:SEGMENT_WRITE_KEY}`.'),
    region: z.enum(['us', 'eu']).default('us').describe('Workspace region: us (api.segment.io) or eu (events.eu1.segmentapis.com). Ignored when endpoint is set. Default us.'),
    endpoint: optionalHttpUrl()
      .describe('Explicit URL of the batch endpoint: a proxy, a test server, or a Segment-compatible data plane (RudderStack, Jitsu). A URL without a path gets /v1/batch. Omitted or "": from region.'),
    user_id: paths(['user_id'], 'Event fields read for userId, first present wins. Default [user_id].'),
    anonymous_id: paths(['device_id', 'session_id'], 'Event fields read for anonymousId, first present wins; add insert_id to give events without any identity (e.g. anonymised by privacy) an anonymousId of their own. Default [device_id, session_id].'),
    session_id: paths(['session_id'], 'Event fields read for the property session_id (the Segment spec has no session field), unless the event has a property of that name. [] leaves it out. Default [session_id].'),
    context_properties: contextPropertiesOption('Context keys copied into properties (e.g. deployment.environment, trace_id), under the same key unless a property has it. Default [].'),
    send_ip: z.boolean().default(false).describe('Send the context\'s client.address (as left by privacy, e.g. truncated) as context.ip, which Segment and its destinations geolocate. Default false.'),
    send_user_agent: z.boolean().default(true).describe('Send the context\'s user_agent.original (when privacy left it) as context.userAgent. Default true.'),
    integrations: z
      .record(z.string(), integrationValue)
      .optional()
      .describe('Sent as each call\'s integrations: which Segment destinations get the events (e.g. {All: false, Mixpanel: true}). Omitted: not sent (all enabled destinations).'),
    max_events_per_request: z
      .number()
      .int()
      .min(1)
      .max(MAX_EVENTS_PER_REQUEST)
      .default(MAX_EVENTS_PER_REQUEST)
      .describe('Most calls in one batch request, 1-2500. Default 2500.'),
    max_request_bytes: z
      .number()
      .int()
      .min(MAX_EVENT_BYTES + 100)
      .max(MAX_REQUEST_BYTES_LIMIT)
      .default(DEFAULT_MAX_REQUEST_BYTES)
      .describe('Most bytes of one batch request\'s JSON body: Segment accepts 500 KB; RudderStack documents 4 MB (4000000). Default 500000.'),
    tls: clientTlsSchema('No effect: the endpoint\'s scheme decides (Segment is https://; an http:// endpoint, e.g. a local data plane, is plaintext). Default false.')
      .prefault({})
      .describe('TLS of the batch requests (the collector\'s configtls client keys): the CA that verifies the endpoint, a client certificate, server_name_override, min_version. Default: the system roots, TLS 1.2 or later.'),
    ...exporterHelperShape,
  })
  .superRefine((cfg, ctx) => {
    if (cfg.write_key.trim() !== cfg.write_key || /\s/.test(cfg.write_key)) ctx.addIssue({ code: 'custom', path: ['write_key'], message: 'must not contain whitespace (check the environment variable)' });
    if (cfg.integrations) {
      for (const [name, v] of Object.entries(cfg.integrations)) {
        if (name === '') ctx.addIssue({ code: 'custom', path: ['integrations'], message: 'a destination name must not be empty' });
        else if (name === 'All' && typeof v !== 'boolean') ctx.addIssue({ code: 'custom', path: ['integrations', name], message: 'All must be true or false' });
      }
    }
  });

export type SegmentConfig = z.infer<typeof segmentSchema>;

/** The batch URL for a config: `endpoint` (with /v1/batch added when it has no path) or the region's host. */
export function batchUrl(cfg: Pick<SegmentConfig, 'endpoint' | 'region'>): string {
  if (cfg.endpoint) {
    const u = new URL(cfg.endpoint);
    if (u.pathname === '' || u.pathname === '/') u.pathname = SEGMENT_BATCH_PATH;
    return u.toString();
  }
  return SEGMENT_HOSTS[cfg.region] + SEGMENT_BATCH_PATH;
}
