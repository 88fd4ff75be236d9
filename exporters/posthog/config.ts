/**
 * Config of the `posthog` exporter. Endpoints and limits follow PostHog's capture documentation
 * (https://posthog.com/docs/api/capture, "Batch events"):
 * - `POST {host}/batch/` with `{api_key, historical_migration, batch: [...]}`;
 * - hosts `https://us.i.posthog.com` (US Cloud), `https://eu.i.posthog.com` (EU Cloud), or a
 *   self-hosted instance's own domain;
 * - "There is no limit on the number of events you can send in a batch, but the entire request
 *   body must be less than 20MB by default";
 * - an event over 1 MB is discarded by PostHog ("Discarded event exceeding 1MB limit",
 *   https://posthog.com/docs/data/ingestion-warnings).
 */
import { nonEmptyString, optionalHttpUrl, z } from '../../src/config/schema.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';
import { clientTlsSchema } from '../../src/tls/client.js';
import { fieldPathsOption as paths } from '../amplitude/event_fields.js';

export const POSTHOG_HOSTS = { us: 'https://us.i.posthog.com', eu: 'https://eu.i.posthog.com' } as const;
export const BATCH_PATH = '/batch/';

/** Request body limit: "less than 20MB" (decimal megabytes, the stricter reading). */
export const MAX_REQUEST_BYTES = 20_000_000 - 1;
/** Event limit: PostHog discards an event "exceeding 1 megabyte in size"; its JSON must stay at or under 1,000,000 bytes. */
export const MAX_EVENT_BYTES = 1_000_000;
/** PostHog documents no event count limit; this bounds a request (and the work a 400 bisection repeats). */
export const DEFAULT_MAX_EVENTS_PER_REQUEST = 1000;
export const MAX_EVENTS_PER_REQUEST = 10_000;


export const posthogSchema = z
  .strictObject({
    api_key: nonEmptyString().describe('PostHog project API key (phc_...), sent as api_key in each request body. Required; set it from the environment: `${env:POSTHOG_API_KEY}`.'),
    region: z.enum(['us', 'eu']).default('us').describe('PostHog Cloud region: us (us.i.posthog.com) or eu (eu.i.posthog.com). Ignored when endpoint is set. Default us.'),
    endpoint: optionalHttpUrl()
      .describe('A self-hosted PostHog, a proxy or a test server. A URL without a path gets /batch/. Omitted or "": from region.'),
    distinct_id: paths(['user_id', 'device_id', 'session_id'], 'Event fields read for distinct_id, first present wins. Default [user_id, device_id, session_id].'),
    identified: paths(['user_id'], 'Fields whose value, when it gave the distinct_id, makes the event identified (a person profile is processed); other events get $process_person_profile: false. Default [user_id].'),
    session_id: paths(['session_id'], 'Event fields read for the $session_id property. Default [session_id].'),
    historical_migration: z
      .boolean()
      .default(false)
      .describe('Sent as historical_migration: true, for imports of past events (PostHog routes them to its historical pipeline; see https://posthog.com/docs/migrate). Default false.'),
    max_events_per_request: z
      .number()
      .int()
      .min(1)
      .max(MAX_EVENTS_PER_REQUEST)
      .default(DEFAULT_MAX_EVENTS_PER_REQUEST)
      .describe('Most events in one /batch/ request, 1-10000. Requests also stay under the 20 MB body limit. Default 1000.'),
    tls: clientTlsSchema('No effect: the endpoint\'s scheme decides (PostHog Cloud is https://; an http:// endpoint, e.g. a local proxy, is plaintext). Default false.')
      .prefault({})
      .describe('TLS of the capture requests (the collector\'s configtls client keys): the CA that verifies the endpoint, a client certificate, server_name_override, min_version. Default: the system roots, TLS 1.2 or later.'),
    ...exporterHelperShape,
  })
  .superRefine((cfg, ctx) => {
    if (cfg.api_key.trim() !== cfg.api_key || /\s/.test(cfg.api_key)) ctx.addIssue({ code: 'custom', path: ['api_key'], message: 'must not contain whitespace (check the environment variable)' });
  });

export type PosthogConfig = z.infer<typeof posthogSchema>;

/** The capture URL: `endpoint` (with /batch/ added when it has no path) or the region's host + /batch/. */
export function batchUrl(cfg: Pick<PosthogConfig, 'endpoint' | 'region'>): string {
  if (cfg.endpoint) {
    const u = new URL(cfg.endpoint);
    if (u.pathname === '' || u.pathname === '/') u.pathname = BATCH_PATH;
    return u.toString();
  }
  return POSTHOG_HOSTS[cfg.region] + BATCH_PATH;
}
