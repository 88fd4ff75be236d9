/**
 * An in-process gateway for connector tests: the built-in components plus a `feed` receiver (the
 * test hands payloads to the pipelines that list it, in the pipeline's own signal, so events
 * pipelines take events without `analytics`) and a `capture` exporter that keeps what it is given.
 */
import pino from 'pino';
import type { ExporterFactory, Payload, ReceiverConsumers, ReceiverFactory, Signal } from '../../src/component.js';
import { SIGNALS } from '../../src/component.js';
import { builtinFactories } from '../../src/components.js';
import { resolveConfig, type GatewayConfig } from '../../src/config/resolve.js';
import { z } from '../../src/config/schema.js';
import { parseConfigText } from '../../src/config/sources.js';
import type { AnalyticsEvent } from '../../src/event.js';
import { Gateway } from '../../src/gateway.js';
import { Registry } from '../../src/registry.js';

export const silent = pino({ level: 'silent' });

export interface Harness {
  gateway: Gateway;
  config: GatewayConfig;
  /** Hands `p` to the pipelines fed by `feed` receiver `id` (default `feed`); rejects as they do. */
  send(p: Payload, id?: string): Promise<void>;
  /** What the `capture` exporter `id` was given, in order. */
  captured(id: string): Payload[];
  /** The events the `capture` exporter `id` was given. */
  events(id: string): AnalyticsEvent[];
  /** The gateway's metrics, as Prometheus text. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Builds, starts and returns a gateway for `yaml` (metrics endpoint off unless the YAML sets it). */
export async function harness(yaml: string): Promise<Harness> {
  const feeds = new Map<string, ReceiverConsumers>();
  const captures = new Map<string, Payload[]>();
  const feedFactory: ReceiverFactory<Record<string, never>> = {
    kind: 'receiver',
    type: 'feed',
    description: 'test input',
    configSchema: z.strictObject({}),
    pipelineSignals: SIGNALS,
    outputs: (s: Signal) => [s],
    create(settings, _cfg, consumers) {
      feeds.set(settings.id, consumers);
      return { start: async () => undefined, shutdown: async () => undefined };
    },
  };
  const captureFactory: ExporterFactory<Record<string, never>> = {
    kind: 'exporter',
    type: 'capture',
    description: 'test output',
    configSchema: z.strictObject({}),
    accepts: SIGNALS,
    mutatesData: false,
    create(settings) {
      const list: Payload[] = [];
      captures.set(settings.id, list);
      return { start: async () => undefined, shutdown: async () => undefined, consume: async (p: Payload) => void list.push(p) };
    },
  };
  const registry = new Registry([...builtinFactories, feedFactory, captureFactory]);
  const tree = parseConfigText(yaml, 'test.yaml');
  const service = tree.service as { telemetry?: unknown } | undefined;
  if (service && service.telemetry === undefined) service.telemetry = { metrics: { level: 'none' } };
  const config = resolveConfig(tree, registry);
  const gateway = new Gateway(config, silent);
  await gateway.start();
  return {
    gateway,
    config,
    async send(p, id = 'feed') {
      const c = feeds.get(id)?.[p.signal];
      if (!c) throw new Error(`receiver ${id} feeds no ${p.signal} pipeline`);
      await c.consume(p);
    },
    captured: (id) => captures.get(id) ?? [],
    events: (id) => (captures.get(id) ?? []).flatMap((p) => (p.signal === 'events' ? p.data : [])),
    metrics: () => gateway.telemetry.registry.metrics(),
    stop: () => gateway.shutdown(),
  };
}

/** A minimal event. */
export function ev(name: string, extra: Partial<AnalyticsEvent> = {}): AnalyticsEvent {
  return { name, time_unix_nano: '1795600800000000000', insert_id: `${name}-${Math.random().toString(36).slice(2)}`, properties: {}, context: { source: 'log', 'service.name': 'shop' }, ...extra };
}

/** The value of one series in Prometheus text (`name{labels}`), or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}
