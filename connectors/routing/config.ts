/**
 * Config of the `routing` connector: the collector's routing connector table (`table`,
 * `default_pipelines`, `error_mode`; connector/routingconnector/config.go), with routes written as
 * an OTTL `condition`, an OTTL `statement` (`route() where ...`) or a `match` in the match syntax
 * of the analytics rules and `filter` (src/match.ts).
 */
import type { ConfigIssue, Signal } from '../../src/component.js';
import { z } from '../../src/config/schema.js';
import { checkMatch, matchSchema, type MatchTarget } from '../../src/match.js';
import { compileCondition, compileStatementCondition, OttlError, type OttlContext } from '../../src/ottl/compile.js';
import { eventContext, logContext, resourceContext, spanContext } from '../../src/ottl/contexts.js';
import { parseCondition, parseStatement } from '../../src/ottl/parse.js';

/** OTTL contexts a route may name. */
export const ROUTE_CONTEXTS = ['resource', 'span', 'log', 'event'] as const;
export type RouteContext = (typeof ROUTE_CONTEXTS)[number];

/** The contexts a route may use per signal of the pipeline that exports to the connector; the first is the default. */
export const CONTEXTS_BY_SIGNAL: Partial<Record<Signal, readonly RouteContext[]>> = {
  traces: ['resource', 'span'],
  logs: ['resource', 'log'],
  events: ['event'],
};

/** The collector's contexts that do not apply here, with why. */
const UNSUPPORTED_CONTEXTS: Record<string, string> = {
  request: 'the request context (client metadata and headers) is not supported; route events by a context key set by authentication instead, e.g. context["tenant"]',
  metric: 'metrics are passed through unread; the metric context is not supported',
  datapoint: 'metrics are passed through unread; the datapoint context is not supported',
};

export const routeSchema = z.strictObject({
  context: z
    .string()
    .optional()
    .describe('OTTL context of the condition: resource or span (traces pipelines), resource or log (logs pipelines), event (events pipelines). Default: resource for traces and logs (as the collector), event for events.'),
  condition: z.string().optional().describe('An OTTL condition, e.g. attributes["tenant"] == "acme". One of condition, statement or match.'),
  statement: z.string().optional().describe('An OTTL statement route() where <condition>. One of condition, statement or match.'),
  match: matchSchema.optional().describe('A match in the syntax of the analytics rules and filter (names, categories, privacy_levels, consent, properties, context, attributes, resource, kind, status). One of condition, statement or match.'),
  pipelines: z.array(z.string().min(1)).min(1, { message: 'at least one pipeline is required' }).describe('Pipelines that get the items this route matches (each must list this connector as a receiver).'),
});

export type RouteConfig = z.infer<typeof routeSchema>;

export const routingSchema = z
  .strictObject({
    table: z.array(routeSchema).min(1, { message: 'the routing table needs at least one route' }).describe('Routes in order; each item goes to the first route it matches.'),
    default_pipelines: z.array(z.string().min(1)).default([]).describe('Pipelines that get the items no route matches. Empty (default): those items are dropped (counted).'),
    error_mode: z
      .enum(['propagate', 'ignore', 'silent'])
      .default('propagate')
      .describe('When evaluating a condition fails for an item: propagate (default) refuses the whole payload; ignore sends the item to default_pipelines and logs the error; silent does so without logging.'),
    match_once: z
      .boolean()
      .optional()
      .describe('Accepted for configs written for collectors before v0.120, where it was removed: true is what this connector always does (first matching route wins); false is refused.'),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.match_once === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['match_once'],
        message: 'false (every matching route) was removed in collector v0.120 and is not supported: each item goes to the first route it matches; for several destinations list them in one route\'s pipelines, or use one routing connector per dimension',
      });
    }
    cfg.table.forEach((r, i) => {
      const given = (['condition', 'statement', 'match'] as const).filter((k) => r[k] !== undefined);
      if (given.length !== 1) {
        ctx.addIssue({ code: 'custom', path: ['table', i], message: given.length === 0 ? 'a route needs a condition, a statement or a match' : `a route takes one of condition, statement and match, not ${given.join(' and ')}` });
      }
      if (r.context !== undefined && !(ROUTE_CONTEXTS as readonly string[]).includes(r.context)) {
        ctx.addIssue({ code: 'custom', path: ['table', i, 'context'], message: UNSUPPORTED_CONTEXTS[r.context] ?? `unknown context "${r.context}" (expected ${ROUTE_CONTEXTS.join(', ')})` });
      }
      for (const k of ['condition', 'statement'] as const) {
        const text = r[k];
        if (text === undefined) continue;
        try {
          if (k === 'condition') parseCondition(text);
          else parseStatement(text);
        } catch (err) {
          if (!(err instanceof OttlError)) throw err;
          ctx.addIssue({ code: 'custom', path: ['table', i, k], message: err.message });
        }
      }
    });
  });

export type RoutingConfig = z.infer<typeof routingSchema>;

/** The OTTL context of each route context name. */
export const OTTL_CONTEXTS: Record<RouteContext, OttlContext<never>> = {
  resource: resourceContext as OttlContext<never>,
  span: spanContext as OttlContext<never>,
  log: logContext as OttlContext<never>,
  event: eventContext as OttlContext<never>,
};

/** The context route `r` is evaluated in for items of `signal` (its own, or the signal's default). */
export function routeContext(r: RouteConfig, signal: Signal): RouteContext {
  return (r.context as RouteContext | undefined) ?? CONTEXTS_BY_SIGNAL[signal]![0]!;
}

/**
 * Checks each route against the signals of the pipelines that export to the connector: its context
 * applies to the signal, its condition compiles there (paths, enums, functions), its match keys apply.
 */
export function checkRoutes(cfg: RoutingConfig, inputs: readonly Signal[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const signal of inputs) {
    const allowed = CONTEXTS_BY_SIGNAL[signal];
    if (!allowed) {
      issues.push({ path: [], message: `cannot route ${signal} (it routes traces, logs and events)` });
      continue;
    }
    cfg.table.forEach((r, i) => {
      const context = routeContext(r, signal);
      if (!allowed.includes(context)) {
        issues.push({ path: ['table', i, 'context'], message: `"${context}" does not apply to the ${signal} this connector is given (${allowed.join(' or ')}${signal === 'events' ? ', the default' : ''}); use one routing connector per signal` });
        return;
      }
      try {
        if (r.condition !== undefined) compileCondition(r.condition, OTTL_CONTEXTS[context]);
        if (r.statement !== undefined) compileStatementCondition(r.statement, OTTL_CONTEXTS[context], ['route']);
      } catch (err) {
        if (!(err instanceof OttlError)) throw err;
        issues.push({ path: ['table', i, r.condition !== undefined ? 'condition' : 'statement'], message: err.message });
      }
      if (r.match) for (const m of checkMatch(r.match, context as MatchTarget)) issues.push({ path: ['table', i, 'match', ...m.path], message: m.message });
    });
  }
  // One message per place: a route checked for two signals may fail the same way twice.
  const seen = new Set<string>();
  return issues.filter((x) => {
    const k = `${x.path.join('::')}\u0000${x.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
