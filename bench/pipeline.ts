/**
 * In-process hot path, one core: OTLP protobuf traces → analytics rules (config.example.yaml)
 * for the scaled shop traces, without any network. Prints spans/s for decode alone, for decode +
 * analytics, and for what the gateway does when the analytics processor is the first stage to
 * read spans (validating scan, then the rules on a projection of the request, no decode), and
 * the events made per second, per second of CPU time.
 *
 * The cost of a routing table of 10 routes (connectors/routing, events pipeline; half OTTL
 * conditions, half the match syntax; most events pass every route to the default pipelines) is
 * measured on the same path, with and without the routing connector after analytics, and for the
 * connector alone on events made beforehand.
 *
 * The cost of the event catalogue (processors/catalogue, default limits) is measured the same way:
 * with and without a `catalogue` processor after analytics, and the processor alone.
 *
 * The cost of a tracking plan of 20 events (processors/tracking_plan: the shop's plan,
 * examples/tracking-plan/shop-plan.yaml, and 7 more GA4 events; every event made here is planned
 * and follows it) is measured the same way: with and without the processor after analytics, and
 * the processor alone.
 *
 * Run: `npm run build && node dist/bench/pipeline.js [seconds]`.
 */
import path from 'node:path';
import { resolveConfig } from '../src/config/resolve.js';
import { loadRawConfig } from '../src/config/sources.js';
import type { AnalyticsEvent } from '../src/event.js';
import { decodeTracesRequest, EncodedTraces, scanTracesRequest } from '../src/otlp/proto.js';
import { defaultRegistry } from '../src/registry.js';
import { EventMaker } from '../processors/analytics/index.js';
import type { AnalyticsConfig } from '../processors/analytics/config.js';
import { projectRoot } from '../test/helpers.js';
import { scaledTracesBody } from './scaled.js';
import type { Connector, Payload } from '../src/component.js';
import { parseConfigText } from '../src/config/sources.js';
import { Telemetry } from '../src/telemetry.js';
import pino from 'pino';
import { routingConnectorFactory, routingSchema } from '../connectors/routing/index.js';
import { catalogueProcessorFactory } from '../processors/catalogue/index.js';
import fs from 'node:fs';
import YAML from 'yaml';
import { trackingPlanProcessorFactory } from '../processors/tracking_plan/index.js';

const seconds = Number(process.argv[2] ?? 3);
const config = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), defaultRegistry());
const maker = new EventMaker(config.processors.get('analytics')!.config as AnalyticsConfig);
const { body, spans } = scaledTracesBody(500, 0);

function measure(name: string, fn: () => number): { name: string; spans_per_s: number; events_per_s: number } {
  const warm = performance.now() + 300;
  while (performance.now() < warm) fn();
  let n = 0;
  let events = 0;
  // CPU time, not wall time: the figure is per busy core even on a shared machine.
  const cpu0 = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    events += fn();
    n++;
  }
  const used = process.cpuUsage(cpu0);
  const s = (used.user + used.system) / 1e6;
  const r = { name, spans_per_s: Math.round((n * spans) / s), events_per_s: Math.round(events / s) };
  console.log(`${name.padEnd(28)} ${r.spans_per_s.toLocaleString('en-US').padStart(11)} spans/s ${r.events_per_s.toLocaleString('en-US').padStart(11)} events/s`);
  return r;
}

/** A routing table of 10 routes in front of 11 pipelines that discard what they get. */
const TEN_ROUTES = `
default_pipelines: [events/default]
table:
  - { match: { context: { tenant: acme } }, pipelines: [events/0] }
  - { condition: 'category == "commerce" and consent["analytics"] == true', pipelines: [events/1] }
  - { match: { names: [sign_up, "user.*"], consent: marketing }, pipelines: [events/2] }
  - { condition: 'IsMatch(name, "^checkout_")', pipelines: [events/3] }
  - { match: { privacy_levels: [sensitive] }, pipelines: [events/4] }
  - { condition: 'attributes["currency"] == "USD"', pipelines: [events/5] }
  - { match: { properties: { item_id: { glob: "zz*" } } }, pipelines: [events/6] }
  - { condition: 'context["service.name"] == "billing"', pipelines: [events/7] }
  - { match: { categories: [marketing] }, pipelines: [events/8] }
  - { condition: 'name == "purchase" and attributes["value"] > 1000', pipelines: [events/9] }
`;

function tenRoutes(): Connector {
  const cfg = routingSchema.parse(parseConfigText(TEN_ROUTES, 'bench'));
  const pipelines = [...Array.from({ length: 10 }, (_, i) => `events/${i}`), 'events/default'];
  const discard = { consume: async () => undefined };
  return routingConnectorFactory.create({ id: 'routing', logger: pino({ level: 'silent' }), telemetry: new Telemetry(), inputs: ['events'] }, cfg, { pipelines: () => pipelines, consumer: () => discard });
}

/** The shop's plan and 7 more GA4 events: 20 planned events, each with a schema of its properties. */
function twentyEventPlan() {
  const shop = YAML.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'tracking-plan', 'shop-plan.yaml'), 'utf8')) as { events: Record<string, unknown> };
  const item = { type: 'object', required: ['item_id'], properties: { item_id: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } }, additionalProperties: false };
  const events: Record<string, unknown> = { ...shop.events };
  for (const name of ['view_cart', 'remove_from_cart', 'add_payment_info', 'add_shipping_info', 'refund', 'login', 'share']) events[name] = { category: 'commerce', properties: item };
  if (Object.keys(events).length !== 20) throw new Error(`the plan has ${Object.keys(events).length} events, not 20`);
  const cfg = trackingPlanProcessorFactory.configSchema.parse({ plan: { events } });
  const discard = { consume: async () => undefined };
  return trackingPlanProcessorFactory.create({ id: 'tracking_plan', pipeline: 'events', logger: pino({ level: 'silent' }), telemetry: new Telemetry() }, cfg, discard);
}

/** Like {@link measure}, for work that ends in a promise (awaited each time); `spansPerCall` 0 when no span is read. */
async function measureAsync(name: string, fn: () => Promise<number>, spansPerCall = spans): Promise<{ name: string; spans_per_s: number; events_per_s: number }> {
  const warm = performance.now() + 300;
  while (performance.now() < warm) await fn();
  let n = 0;
  let events = 0;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    events += await fn();
    n++;
  }
  const used = process.cpuUsage(cpu0);
  const s = (used.user + used.system) / 1e6;
  const r = { name, spans_per_s: Math.round((n * spansPerCall) / s), events_per_s: Math.round(events / s) };
  console.log(`${name.padEnd(28)} ${r.spans_per_s.toLocaleString('en-US').padStart(11)} spans/s ${r.events_per_s.toLocaleString('en-US').padStart(11)} events/s`);
  return r;
}

const routing = tenRoutes();
const catalogue = catalogueProcessorFactory.create(
  { id: 'catalogue', pipeline: 'events', logger: pino({ level: 'silent' }), telemetry: new Telemetry() },
  catalogueProcessorFactory.configSchema.parse({}),
  { consume: async () => undefined },
);
const trackingPlan = twentyEventPlan();
const made: AnalyticsEvent[] = [];
maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), made);

const results = [
  measure('decode', () => (decodeTracesRequest(body), 0)),
  measure('decode + analytics', () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(decodeTracesRequest(body), out);
    return out.length;
  }),
  measure('scan + projected analytics', () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), out);
    return out.length;
  }),
  await measureAsync('scan + analytics + routing', async () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), out);
    await routing.consume({ signal: 'events', data: out } as Payload);
    return out.length;
  }),
  await measureAsync('routing alone (10 routes)', async () => {
    await routing.consume({ signal: 'events', data: made } as Payload);
    return made.length;
  }, 0),
  await measureAsync('scan + analytics (async)', async () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), out);
    return out.length;
  }),
  await measureAsync('scan + analytics + catalogue', async () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), out);
    await catalogue.consume({ signal: 'events', data: out });
    return out.length;
  }),
  await measureAsync('catalogue alone', async () => {
    await catalogue.consume({ signal: 'events', data: made });
    return made.length;
  }, 0),
  await measureAsync('scan + analytics + plan', async () => {
    const out: AnalyticsEvent[] = [];
    maker.fromTraces(new EncodedTraces(body, scanTracesRequest(body).spans), out);
    await trackingPlan.consume({ signal: 'events', data: out } as Payload);
    return out.length;
  }),
  await measureAsync('tracking plan alone (20)', async () => {
    await trackingPlan.consume({ signal: 'events', data: made } as Payload);
    return made.length;
  }, 0),
];
console.log('BENCH ' + JSON.stringify({ name: 'pipeline', spans_per_request: spans, results }));
