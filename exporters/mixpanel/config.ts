/**
 * Config of the `mixpanel` exporter. Limits, endpoints and authentication follow Mixpanel's
 * documentation of the Import Events API, https://docs.mixpanel.com/reference/import-events :
 * - `POST /import?strict=1`, at most 2000 events and 10 MB of uncompressed JSON per request, each
 *   event smaller than 1 MB (https://docs.mixpanel.com/troubleshooting/errors/413-payload-too-large);
 * - a project token as the basic-auth user with an empty password, or a service account
 *   (`username:secret`) with the `project_id` query parameter;
 * - hosts `api.mixpanel.com`, `api-eu.mixpanel.com` (EU residency), `api-in.mixpanel.com` (India
 *   residency), https://docs.mixpanel.com/reference/overview .
 */
import { nonEmptyString, optionalHttpUrl, z } from '../../src/config/schema.js';
import { exporterHelperShape } from '../../src/exporterhelper_config.js';
import { clientTlsSchema } from '../../src/tls/client.js';
import { contextPropertiesOption, fieldPathsOption as paths } from '../amplitude/event_fields.js';

export const MIXPANEL_HOSTS = { us: 'https://api.mixpanel.com', eu: 'https://api-eu.mixpanel.com', in: 'https://api-in.mixpanel.com' } as const;
export const MIXPANEL_IMPORT_PATH = '/import';

/** Most events per request ("up to 2000 events"). */
export const MAX_EVENTS_PER_REQUEST = 2000;
/** Most bytes of uncompressed JSON per request ("10MB uncompressed"; decimal megabytes, the stricter reading). */
export const MAX_REQUEST_BYTES = 10_000_000;
/** An event must be smaller than 1 MB of uncompressed JSON (decimal, the stricter reading). */
export const MAX_EVENT_BYTES = 1_000_000 - 1;


const noWhitespace = (v: string | undefined, path: (string | number)[], ctx: z.RefinementCtx) => {
  if (v !== undefined && /\s/.test(v)) ctx.addIssue({ code: 'custom', path, message: 'must not contain whitespace (check the environment variable)' });
};

export const mixpanelSchema = z
  .strictObject({
    project_token: nonEmptyString()
      .optional()
      .describe('Project token, sent as the basic-auth user with an empty password. Set it from the environment: `${env:MIXPANEL_PROJECT_TOKEN}`. Either this or service_account.'),
    service_account: z
      .strictObject({
        username: nonEmptyString().describe('Service account username (Owner or Admin role).'),
        secret: nonEmptyString().describe('Service account secret: `${env:MIXPANEL_SERVICE_ACCOUNT_SECRET}`.'),
      })
      .optional()
      .describe('Service account credentials, sent as basic auth `username:secret`; needs project_id. Either this or project_token.'),
    project_id: z
      .union([z.number().int().positive(), z.string().regex(/^\d+$/, { message: 'must be the numeric project id' })])
      .transform((v) => String(v))
      .optional()
      .describe('Numeric project id, sent as the project_id query parameter; required with service_account, not used with project_token.'),
    region: z.enum(['us', 'eu', 'in']).default('us').describe('Data residency of the project: us (api.mixpanel.com), eu (api-eu.mixpanel.com) or in (api-in.mixpanel.com). Ignored when endpoint is set. Default us.'),
    endpoint: optionalHttpUrl()
      .describe('Explicit base URL (a proxy, a test server); a URL without a path gets /import. Omitted or "": from region.'),
    user_id: paths(['user_id'], 'Event fields read for $user_id (and distinct_id), first present wins. Default [user_id].'),
    device_id: paths(['device_id', 'session_id'], 'Event fields read for $device_id (distinct_id when there is no user id), first present wins. Default [device_id, session_id].'),
    session_id: paths(['session_id'], 'Event fields sent as the event property session_id. Default [session_id].'),
    context_properties: contextPropertiesOption('Context keys copied into the event properties (e.g. deployment.environment, service.version), under the same key unless a property has it. Default [].'),
    send_ip: z
      .boolean()
      .default(false)
      .describe('Send the context\'s client.address (as left by privacy, e.g. truncated) as the property ip, which Mixpanel geolocates. Default false.'),
    max_events_per_request: z
      .number()
      .int()
      .min(1)
      .max(MAX_EVENTS_PER_REQUEST)
      .default(MAX_EVENTS_PER_REQUEST)
      .describe('Most events in one request, 1-2000; requests also stay under 10 MB of uncompressed JSON. Default 2000.'),
    compression: z
      .enum(['gzip', 'none'])
      .default('gzip')
      .describe('Request body compression; Mixpanel accepts Content-Encoding: gzip and recommends it for /import (the limits count the uncompressed body). Default gzip.'),
    tls: clientTlsSchema('No effect: the endpoint\'s scheme decides (Mixpanel is https://; an http:// endpoint, e.g. a local proxy, is plaintext). Default false.')
      .prefault({})
      .describe('TLS of the import requests (the collector\'s configtls client keys): the CA that verifies the endpoint, a client certificate, server_name_override, min_version. Default: the system roots, TLS 1.2 or later.'),
    ...exporterHelperShape,
  })
  .superRefine((cfg, ctx) => {
    const token = cfg.project_token !== undefined;
    const account = cfg.service_account !== undefined;
    if (!token && !account) ctx.addIssue({ code: 'custom', path: ['project_token'], message: 'required: set project_token (or service_account with project_id)' });
    if (token && account) ctx.addIssue({ code: 'custom', path: ['service_account'], message: 'set either project_token or service_account, not both' });
    if (account && cfg.project_id === undefined) ctx.addIssue({ code: 'custom', path: ['project_id'], message: 'required with service_account' });
    if (token && !account && cfg.project_id !== undefined) ctx.addIssue({ code: 'custom', path: ['project_id'], message: 'only used with service_account (with project_id, Mixpanel authenticates a service account, not the project token)' });
    noWhitespace(cfg.project_token, ['project_token'], ctx);
    noWhitespace(cfg.service_account?.username, ['service_account', 'username'], ctx);
    noWhitespace(cfg.service_account?.secret, ['service_account', 'secret'], ctx);
  });

export type MixpanelConfig = z.infer<typeof mixpanelSchema>;

/** The import URL for a config: `endpoint` (with /import added when it has no path) or the region's host, with strict=1 and project_id. */
export function importUrl(cfg: Pick<MixpanelConfig, 'endpoint' | 'region' | 'project_id' | 'service_account'>): string {
  const u = new URL(cfg.endpoint ?? MIXPANEL_HOSTS[cfg.region]);
  if (u.pathname === '' || u.pathname === '/') u.pathname = MIXPANEL_IMPORT_PATH;
  u.searchParams.set('strict', '1');
  if (cfg.service_account && cfg.project_id) u.searchParams.set('project_id', cfg.project_id);
  return u.toString();
}

/** The `Authorization` header: basic auth with the project token and an empty password, or the service account's username and secret. */
export function authorization(cfg: Pick<MixpanelConfig, 'project_token' | 'service_account'>): string {
  const pair = cfg.service_account ? `${cfg.service_account.username}:${cfg.service_account.secret}` : `${cfg.project_token ?? ''}:`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}
