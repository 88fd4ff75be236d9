/**
 * Config of the `privacy` processor. Every option is documented here and in README.md; unknown keys
 * are rejected. The checks that need several options at once (a key is required as soon as
 * anything is pseudonymised; `allowed_level` must be one of `levels`) run in `superRefine`, so
 * `otelytics validate` reports them with their full path.
 */
import { z } from '../../src/config/schema.js';
import { DEFAULT_IPV4_PREFIX_BITS, DEFAULT_IPV6_PREFIX_BITS, type DetectorName } from './detectors.js';
import { DEFAULT_PSEUDONYM_BYTES, DEFAULT_PSEUDONYM_CACHE_SIZE } from './pseudonym.js';

/**
 * The development key `config.example.yaml` falls back to when `OTELYTICS_PSEUDONYM_KEY` is unset.
 * It is public, so pseudonyms made with it can be recomputed by anyone: the processor logs a
 * warning at start-up whenever it is in use.
 */
export const DEVELOPMENT_PSEUDONYM_KEY = 'otelytics-development-key-NOT-FOR-PRODUCTION';

/** Keys shorter than this many bytes (UTF-8) get a start-up warning. RFC 2104 §3: at least the hash output (32 bytes) is recommended. */
export const SHORT_KEY_BYTES = 16;

/** Attributes and properties that carry identity; pseudonymised like `user_id` (globs, case-insensitive). */
export const DEFAULT_IDENTITY_ATTRIBUTES: readonly string[] = Object.freeze([
  'enduser.id',
  'enduser.pseudo.id',
  'user.id',
  'user_id',
  'userId',
  'customer_id',
  'customer.id',
  'session.id',
  'session_id',
  'device.id',
  'device_id',
  'app.installation.id',
  'http.request.header.x-user-id',
  'http.request.header.x-session-id',
  'http.request.header.x-device-id',
]);

/** Keys whose string values are URLs or URL parts, scrubbed structurally (path segments, query parameters with key rules). */
export const DEFAULT_URL_KEYS: readonly string[] = Object.freeze([
  'url.full',
  'url.original',
  'url.path',
  'http.url',
  'http.target',
  'http.request.header.referer',
  'page_location',
  'page_referrer',
  'page_path',
]);

/**
 * Keys whose values are versions (`service.version`, `os.version`, `app.build_version`,
 * `app.build`): the ipv4 detector does not run on them, so `2.14.0.7` is not truncated to
 * `2.14.0.0`. Keys that only contain "version" inside another word are excepted in the scrubber
 * ({@link VERSION_KEY_EXCEPTIONS}).
 */
export const DEFAULT_VERSION_KEYS: readonly string[] = Object.freeze(['*version*', 'build', 'build.*', 'build_*', '*.build*', '*_build*']);

/** Keys never taken for version keys although a version glob matches them: words that contain "version". */
export const VERSION_KEY_EXCEPTIONS: readonly string[] = Object.freeze(['*conversion*', '*inversion*', '*diversion*', '*aversion*']);

/** Keys whose string values are query strings (`a=b&c=d`). */
export const DEFAULT_QUERY_KEYS: readonly string[] = Object.freeze(['url.query']);

/** Removed from anonymised items besides the identity fields: the client IP and the user agent (a fingerprinting input). */
export const DEFAULT_ANONYMIZE_REMOVE: readonly string[] = Object.freeze(['client.address', 'user_agent.original', 'http.request.header.user-agent']);

/** Governance levels, least to most sensitive. */
export const DEFAULT_LEVELS: readonly string[] = Object.freeze(['public', 'internal', 'sensitive']);

/** Event identity fields. */
export const IDENTITY_FIELDS = ['user_id', 'device_id', 'session_id'] as const;
export type IdentityField = (typeof IDENTITY_FIELDS)[number];

const KEY_ID_RE = /^[A-Za-z0-9_.-]{1,32}$/;

const pattern = () => z.string().min(1, { message: 'must be a non-empty key pattern' });
const patterns = (def: readonly string[], what: string) => z.array(pattern()).default([...def]).describe(what);

const textActions = ['mask', 'drop', 'pseudonymize'] as const;
/** Secrets are never pseudonymised: a keyed hash of a secret is still derived from it. */
const secretActions = ['mask', 'drop'] as const;
const ipActions = ['truncate', 'mask', 'drop', 'pseudonymize'] as const;

function detector(def: (typeof textActions)[number], what: string) {
  return z
    .strictObject({
      enabled: z.boolean().default(true).describe('Whether the detector runs. Default true.'),
      action: z.enum(textActions).default(def).describe(`mask: replace the match by its mask; drop: remove the attribute or property (in a query string only the parameter); pseudonymize: replace it by the keyed pseudonym of its canonical form. Default ${def}.`),
    })
    .prefault({})
    .describe(what);
}

function secretDetector(what: string) {
  return z
    .strictObject({
      enabled: z.boolean().default(true).describe('Whether the detector runs. Default true.'),
      action: z
        .enum(secretActions)
        .default('mask')
        .describe('mask: replace the match by "[secret]" (URL userinfo is removed); drop: remove the attribute or property (in a query string only the parameter). Never pseudonymize: a keyed hash of a secret is still derived from the secret. Default mask.'),
    })
    .prefault({})
    .describe(what);
}

function ipDetector(maxBits: number, defBits: number, what: string) {
  return z
    .strictObject({
      enabled: z.boolean().default(true).describe('Whether the detector runs. Default true.'),
      action: z.enum(ipActions).default('truncate').describe('truncate: zero the host bits (keep prefix_bits); mask, drop, pseudonymize as for the other detectors. Default truncate.'),
      prefix_bits: z.number().int().min(0).max(maxBits).default(defBits).describe(`Bits kept by truncate, 0-${maxBits}; 0 keeps nothing (all zeros). Default ${defBits}.`),
    })
    .prefault({})
    .describe(what);
}

export const privacySchema = z
  .strictObject({
    pseudonymization: z
      .strictObject({
        key: z
          .string()
          .optional()
          .describe('HMAC-SHA256 key (UTF-8). Required when anything is pseudonymised; set it from the environment: `${env:OTELYTICS_PSEUDONYM_KEY}`. 32+ random bytes recommended. No default.'),
        key_id: z
          .string()
          .regex(KEY_ID_RE, { message: 'must be 1-32 characters of [A-Za-z0-9_.-] (no ":")' })
          .optional()
          .describe('Prefix naming the key in every pseudonym (`<key_id>:<hmac>`), so keys can be rotated. Default: 8 hex characters of HMAC(key, "otelytics-key-id").'),
        encoding: z.enum(['base64url', 'hex']).default('base64url').describe('Encoding of the HMAC bytes. Default base64url.'),
        bytes: z.number().int().min(16).max(32).default(DEFAULT_PSEUDONYM_BYTES).describe(`HMAC bytes kept, 16-32. Default ${DEFAULT_PSEUDONYM_BYTES}.`),
        cache_size: z.number().int().nonnegative().default(DEFAULT_PSEUDONYM_CACHE_SIZE).describe(`Recent pseudonyms remembered (entries); 0 disables the cache. Default ${DEFAULT_PSEUDONYM_CACHE_SIZE}.`),
      })
      .prefault({})
      .describe('The keyed pseudonymiser (HMAC-SHA256, never a plain hash).'),
    identity: z
      .strictObject({
        action: z
          .enum(['pseudonymize', 'drop', 'keep'])
          .default('pseudonymize')
          .describe('What happens to identity fields and attributes of items with consent: pseudonymize (keyed pseudonym), drop (remove), keep (leave as sent). Default pseudonymize.'),
        fields: z.array(z.enum(IDENTITY_FIELDS)).default([...IDENTITY_FIELDS]).describe('Event identity fields treated. Default [user_id, device_id, session_id].'),
        attributes: patterns(DEFAULT_IDENTITY_ATTRIBUTES, 'Attribute/property key globs (case-insensitive, whole key; `*` any run, `?` one character) treated as identity. Default: enduser.id, user.id, user_id, customer_id, session.id, device.id, app.installation.id, x-user-id/x-session-id headers, ...'),
      })
      .prefault({})
      .describe('Identifiers: pseudonymised with consent, removed without.'),
    keys: z
      .strictObject({
        mode: z
          .enum(['block_list', 'allow_list_only'])
          .default('block_list')
          .describe('block_list: keys matching blocked_keys are treated, unless allowed; allow_list_only: only keys matching allowed_keys survive (fails closed). Default block_list.'),
        default_lists: z.boolean().default(true).describe('Include the built-in blocked and allowed key lists (see keys.ts). Default true.'),
        blocked_keys: z.array(pattern()).default([]).describe('Extra globs of keys that name personal data (email, phone, card, password, token, address, name, ...). Default [].'),
        allowed_keys: z.array(pattern()).default([]).describe('Extra globs of keys that never count as blocked (wins over blocked_keys). Default [].'),
        action: z.enum(['drop', 'mask', 'pseudonymize']).default('drop').describe('What happens to a blocked key: drop it, mask its value ("[redacted]"), or pseudonymize its value. Default drop.'),
        url_keys: patterns(DEFAULT_URL_KEYS, 'Globs of keys whose values are URLs: scrubbed part by part, query parameter names through the key rules. Default url.full, url.original, url.path, http.url, http.target, referer, page_location, page_referrer, page_path.'),
        query_keys: patterns(DEFAULT_QUERY_KEYS, 'Globs of keys whose values are query strings. Default [url.query].'),
        version_keys: patterns(
          DEFAULT_VERSION_KEYS,
          'Globs of keys whose values are versions: the ipv4 detector leaves them alone (2.14.0.7 is a version, not an address); every other detector still applies. Default *version* (not *conversion*, *inversion*, *diversion*, *aversion*), build, build.*, build_*, *.build*, *_build*.',
        ),
      })
      .prefault({})
      .describe('PII detection by key. Allowed keys still get value detection.'),
    detectors: z
      .strictObject({
        email: detector('mask', 'E-mail addresses (mask "[email]").'),
        ipv4: ipDetector(32, DEFAULT_IPV4_PREFIX_BITS, 'IPv4 addresses (truncated to /24 by default).'),
        ipv6: ipDetector(128, DEFAULT_IPV6_PREFIX_BITS, 'IPv6 addresses (truncated to /48 by default).'),
        card: detector('mask', 'Payment card numbers, Luhn- and IIN-checked (mask "[card]").'),
        iban: detector('mask', 'IBANs, mod-97-checked (mask "[iban]").'),
        phone: detector('mask', 'Phone numbers in international format (mask "[phone]").'),
        bearer: detector('mask', 'Bearer and Basic credentials (mask "[token]").'),
        jwt: detector('mask', 'JSON Web Tokens (mask "[jwt]").'),
        secret: secretDetector('API keys and tokens of Stripe, Slack, AWS, GitHub and Google by their published shapes (gitleaks rules), credentials in name=value pairs named like a password, token, secret or key, and URL userinfo (mask "[secret]").'),
        birthdate: detector('mask', 'Dates right after a birth word (birth, born, dob, geboren, Geburtsdatum, ...) (mask "[birthdate]").'),
      })
      .prefault({})
      .describe('PII detection by value, in every string value, span name, log body, URL and query string. All on by default.'),
    consent: z
      .strictObject({
        required: z.boolean().default(true).describe('Whether identity needs consent. false: every item keeps its (pseudonymised) identity. Default true.'),
        purpose: z.string().min(1).default('analytics').describe('Events: the consent purpose read from `event.consent[purpose]`. Default analytics.'),
        attributes: z
          .array(z.string().min(1))
          .default(['consent.analytics'])
          .describe('Spans and log records: attributes holding the consent (true/false or "true"/"false"), first present wins, record then resource. Default [consent.analytics].'),
        default: z.enum(['denied', 'granted']).default('denied').describe('Consent of an item that carries none. Default denied.'),
        action: z
          .enum(['anonymize', 'drop'])
          .default('anonymize')
          .describe('What happens to an item without consent: anonymize (remove identity, IP and user agent, keep the item for counts) or drop it. Default anonymize.'),
      })
      .prefault({})
      .describe('Consent, deny by default.'),
    governance: z
      .strictObject({
        levels: z.array(z.string().min(1)).min(1).default([...DEFAULT_LEVELS]).describe('Privacy levels, least to most sensitive. Default [public, internal, sensitive].'),
        allowed_level: z
          .string()
          .optional()
          .describe('Highest `privacy_level` an event may have in this pipeline; above it (or a level not in `levels`) the action applies. Unset: no limit. Events without a level pass.'),
        action: z.enum(['drop', 'anonymize']).default('drop').describe('What happens to an event above allowed_level. Default drop.'),
      })
      .prefault({})
      .describe('Governance: privacy_level limits per pipeline (the category field is left for filter and routing).'),
    anonymize: z
      .strictObject({
        remove: patterns(DEFAULT_ANONYMIZE_REMOVE, 'Globs of context keys (events) and attributes (spans, log records) removed from anonymised items, besides the identity fields and attributes. Default [client.address, user_agent.original, http.request.header.user-agent].'),
        keep_user_properties: z.boolean().default(false).describe('Keep user_properties on anonymised events (still scrubbed). Default false: removed.'),
      })
      .prefault({})
      .describe('What anonymisation removes.'),
    summary_attributes: z
      .boolean()
      .default(false)
      .describe('Add counts of what was treated to each changed item: privacy.masked.count, privacy.dropped.count, privacy.pseudonymized.count, privacy.truncated.count (event context; span/log record attributes). Counts only, never keys or values. Default false.'),
  })
  .superRefine((cfg, ctx) => {
    const uses = pseudonymizationUses(cfg);
    if (uses.length > 0) {
      const key = cfg.pseudonymization.key;
      if (key === undefined || key.trim() === '') {
        ctx.addIssue({
          code: 'custom',
          path: ['pseudonymization', 'key'],
          message: `required: pseudonymisation is on (${uses.join(', ')}); set it from the environment, e.g. key: \${env:OTELYTICS_PSEUDONYM_KEY}, or turn pseudonymisation off`,
        });
      }
    }
    const allowed = cfg.governance.allowed_level;
    if (allowed !== undefined && !cfg.governance.levels.includes(allowed)) {
      ctx.addIssue({ code: 'custom', path: ['governance', 'allowed_level'], message: `must be one of the levels (${cfg.governance.levels.join(', ')}), got ${JSON.stringify(allowed)}` });
    }
  });

export type PrivacyConfig = z.infer<typeof privacySchema>;

/** The options that turn pseudonymisation on (empty: none), named by their config path. */
export function pseudonymizationUses(cfg: PrivacyConfig): string[] {
  const uses: string[] = [];
  if (cfg.identity.action === 'pseudonymize' && (cfg.identity.fields.length > 0 || cfg.identity.attributes.length > 0)) uses.push('identity::action: pseudonymize');
  if (cfg.keys.action === 'pseudonymize') uses.push('keys::action: pseudonymize');
  for (const [name, d] of Object.entries(cfg.detectors) as [DetectorName, { enabled: boolean; action: string }][]) {
    if (d.enabled && d.action === 'pseudonymize') uses.push(`detectors::${name}::action: pseudonymize`);
  }
  return uses;
}
