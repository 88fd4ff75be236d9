/** Config of the `analytics` processor: rules that turn spans and log records into events. */
import { z } from '../../src/config/schema.js';
import { SPAN_KINDS, STATUS_CODES, valueTestSchema } from '../../src/match.js';

export { SPAN_KINDS, STATUS_CODES };

const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.infer<T>[]);

/**
 * A condition on one attribute: the shared value test of the match syntax (src/match.ts). A bare
 * scalar means "equals" (compared as strings, so `200` matches the integer attribute 200).
 * Objects combine tests, all of which must hold.
 */
export const conditionSchema = valueTestSchema;

export const matchSchema = z.strictObject({
  kind: oneOrMany(z.enum(SPAN_KINDS)).optional().describe('Span kinds (spans only), e.g. server.'),
  name: oneOrMany(z.string()).optional().describe('Globs on the span name or the log record\'s event name.'),
  status: oneOrMany(z.enum(STATUS_CODES)).optional().describe('Span status codes (spans only).'),
  attributes: z.record(z.string(), conditionSchema).default({}).describe('Conditions on attributes of the span or log record (then its resource).'),
});

const valueSourceShape = {
  from: z.string().optional(),
  value: z.unknown().optional(),
  transform: z.enum(['lowercase', 'uppercase', 'number', 'string']).optional(),
  default: z.unknown().optional(),
};

/**
 * Where one value comes from: `attributes.<key>`, `resource.<key>`, `capture.<group>`,
 * `query.<param>` (from `url.query`, `url.full` or `http.target`, form-decoded), `name`, `body`,
 * `body.<key>` (a key of a map body), `status.message`, `duration_ms`, and in the fields of an
 * items list with `each` also `item` / `item.<key>` (the list's element); or an object with
 * `from` (same forms), `value` (a constant), `transform` (`lowercase`, `uppercase`, `number`,
 * `string`) and `default`.
 */
export const valueSourceSchema = z.union([z.string(), z.strictObject(valueSourceShape)]);

/**
 * A property's source: a value source ({@link valueSourceSchema}), or an items list, the GA4
 * ecommerce `items` array (https://developers.google.com/analytics/devguides/collection/ga4/reference/events):
 * `fields` maps each item field (`item_id`, `item_name`, `price`, `quantity`, ...) to a value
 * source; list values are zipped, item i taking element i of each (parallel array attributes such
 * as `cart.items.sku: ["A", "B"]`). With `each` (a source of a list, e.g. an attribute or body
 * key holding a list of maps) the list gives one item per element, the fields reading it with
 * `item.<key>`; without `fields`, each map is copied as it is.
 */
export const sourceSchema = z.union([
  z.string(),
  z.strictObject({
    ...valueSourceShape,
    each: z.string().min(1).optional(),
    fields: z.record(z.string().min(1), valueSourceSchema).optional(),
  }),
]);

export const ruleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, { message: 'must be letters, digits, _ . : or -' }).describe('Unique rule id; recorded in the event context as `rule`.'),
  source: z.enum(['span', 'log']).default('span').describe('What the rule looks at: spans (default) or log records.'),
  event: z.string().min(1).optional().describe('Name of the event made; for log rules, defaults to the record\'s event name.'),
  drop: z.boolean().default(false).describe('Log rules: matching records make no event.'),
  match: matchSchema.prefault({}).describe('All conditions must hold.'),
  capture: z
    .record(z.string(), z.string())
    .default({})
    .describe('Attribute key → regular expression with named groups; every one must match, and each named group becomes a property.'),
  properties: z.record(z.string(), sourceSchema).optional().describe('Property name → source, or an items list ({fields}, {each, fields}: GA4 items from list attributes or a list of maps). Log rules without it keep every attribute as a property.'),
  category: z.string().optional().describe('Governance category set on the event (for `filter` and routing).'),
  privacy_level: z.string().optional().describe('Governance privacy level set on the event.'),
});

export const analyticsSchema = z.strictObject({
  rules: z.array(ruleSchema).default([]).describe('Span and log rules, in order. Every matching span rule makes an event; the first matching log rule decides for a log record.'),
  logs: z
    .strictObject({
      events: z.boolean().default(true).describe('Log records with an event name (`event_name`, else the `event.name` attribute) become events when no log rule matches. Default true.'),
      include_body: z.boolean().default(false).describe('Copy the log body into the `message` property. Default false (bodies often hold personal data).'),
    })
    .prefault({}),
  identity: z
    .strictObject({
      user_id: z.array(z.string()).default(['enduser.id', 'user.id', 'user_id', 'customer_id']).describe('Attributes read for user_id, first present wins.'),
      session_id: z.array(z.string()).default(['session.id', 'session_id']).describe('Attributes read for session_id.'),
      device_id: z.array(z.string()).default(['device.id', 'app.installation.id', 'device_id']).describe('Attributes read for device_id (also looked up on the resource).'),
    })
    .prefault({}),
  consent_attributes: z
    .record(z.string(), z.string())
    .default({ 'consent.analytics': 'analytics', 'consent.marketing': 'marketing' })
    .describe('Attribute key → consent purpose; the value (a boolean, or "granted"/"denied", "true"/"false", "yes"/"no", 1/0 as consent tools send it, src/consent.ts) is copied into the event\'s `consent` as true or false.'),
  context_attributes: z
    .array(z.string())
    .default(['client.address', 'user_agent.original'])
    .describe('Attributes copied into the event context (e.g. the client IP, which `privacy` truncates).'),
  from_context: z
    .record(
      z.string().min(1).regex(/^(?!(?:source|rule|trace_id|span_id)$)/, { message: 'is a context key the gateway sets itself' }),
      z
        .string()
        .regex(/^(?:auth|metadata)\.\S+$/, { message: 'must be auth.<attribute> (auth.subject, auth.username) or metadata.<header> (with the receiver\'s include_metadata: true)' }),
    )
    .default({})
    .describe(
      'Event context key → what the receiver knows of the request, as the collector\'s from_context: auth.subject (the authenticated identity: a bearer token\'s name, a basic-auth user, a client certificate\'s CN), auth.<attribute>, or metadata.<header> (several values joined with ";"). E.g. { tenant: auth.subject }. Absent values set nothing. Default: none.',
    ),
});

export type AnalyticsConfig = z.infer<typeof analyticsSchema>;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type ConditionConfig = z.infer<typeof conditionSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type ValueSourceConfig = z.infer<typeof valueSourceSchema>;
