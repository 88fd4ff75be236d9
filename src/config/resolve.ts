/**
 * Validates a raw config tree against the component registry and the service schema.
 *
 * All problems are collected and reported at once, each with its full `::` path
 * (`exporters::file/events::path: must be a non-empty string`). Unknown sections, unknown keys
 * and unknown component types are errors; pipelines are checked for references to components
 * that are not configured and for signal flow (a processor that cannot take what the previous
 * stage gives, an exporter that cannot take what the pipeline carries). How connectors join
 * pipelines is checked in ./connectors.ts; a connector id may not also be an exporter or receiver id.
 */
import type { z } from 'zod';
import type { ConnectorFactory, ExporterFactory, ExtensionFactory, Factory, Kind, ProcessorFactory, ReceiverFactory, Signal } from '../component.js';
import { parseComponentId, SIGNALS } from '../component.js';
import { ConfigError, ConfigErrors } from '../errors.js';
import type { Registry } from '../registry.js';
import type { RawTree } from './sources.js';
import { isMap } from './sources.js';
import { serviceSchema, type ServiceConfig } from './service.js';
import type { QueueBatchConfig } from '../delivery/batcher.js';
import { nearest, knownKeysAt, unknownKeyMessage } from './suggest.js';
import { joinConnectors, pairText, type ConnectorUse } from './connectors.js';

export interface ComponentConfig<F extends Factory = Factory> {
  id: string;
  factory: F;
  config: unknown;
}

export interface PipelineConfig {
  /** Pipeline id, `signal[/name]`. */
  id: string;
  signal: Signal;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface GatewayConfig {
  receivers: Map<string, ComponentConfig<ReceiverFactory>>;
  processors: Map<string, ComponentConfig<ProcessorFactory>>;
  exporters: Map<string, ComponentConfig<ExporterFactory>>;
  connectors: Map<string, ComponentConfig<ConnectorFactory>>;
  /** Connectors used in pipelines, with the pipelines they join. */
  connections: Map<string, ConnectorUse>;
  extensions: Map<string, ComponentConfig<ExtensionFactory>>;
  pipelines: PipelineConfig[];
  service: ServiceConfig;
  /** Per exporter id: the batching the pipelines feeding it ask for (see `ProcessorFactory.exporterBatching`). */
  exporterBatching: Map<string, QueueBatchConfig>;
}

const SECTIONS: Record<string, Kind> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter', connectors: 'connector', extensions: 'extension' };
const ID_RE = /^[a-z][a-z0-9_]*(\/[^\s/][^\s]*)?$/;

/**
 * Turns zod issues into config errors under `base`. Given the `schema` that was validated, an
 * unknown key names the nearest known one (`unknown key; did you mean "send_batch_size"?`) or
 * lists the known keys.
 */
export function zodErrors(base: string[], error: z.ZodError, schema?: z.ZodType): ConfigError[] {
  const out: ConfigError[] = [];
  for (const issue of error.issues) {
    const p = [...base, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      const known = schema ? knownKeysAt(schema, issue.path) : [];
      for (const k of issue.keys) out.push(new ConfigError([...p, k].join('::'), unknownKeyMessage(k, known.filter((x) => !issue.keys.includes(x)))));
      continue;
    }
    let msg = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(msg)) msg = `is required (${issue.expected})`;
    else msg = msg.replace(/^Invalid input: /, '');
    out.push(new ConfigError(p.join('::'), msg));
  }
  return out;
}

/** Validates `value` with `schema`; pushes errors under `path`, returns the parsed value or undefined. */
export function validateWith<T>(schema: z.ZodType<T, unknown>, value: unknown, path: string[], errors: ConfigError[]): T | undefined {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  errors.push(...zodErrors(path, r.error, schema));
  return undefined;
}

export function resolveConfig(raw: RawTree, registry: Registry): GatewayConfig {
  const errors: ConfigError[] = [];
  for (const key of Object.keys(raw)) {
    if (!(key in SECTIONS) && key !== 'service') {
      const near = nearest(key, [...Object.keys(SECTIONS), 'service']);
      errors.push(new ConfigError(key, `unknown section${near ? `; did you mean "${near}"?` : ''} (expected receivers, processors, exporters, connectors, extensions, service)`));
    }
  }

  const sections = {} as Record<Kind, Map<string, ComponentConfig>>;
  for (const [section, kind] of Object.entries(SECTIONS)) {
    const map = new Map<string, ComponentConfig>();
    sections[kind] = map;
    const tree = raw[section];
    if (tree === undefined || tree === null) continue;
    if (!isMap(tree)) {
      errors.push(new ConfigError(section, 'must be a map of component ids to their config'));
      continue;
    }
    for (const [id, value] of Object.entries(tree)) {
      const path = [section, id];
      if (!ID_RE.test(id)) {
        errors.push(new ConfigError(path.join('::'), 'invalid component id; expected type[/name], e.g. kafka/events'));
        continue;
      }
      const { type } = parseComponentId(id);
      const factory = registry.get(kind, type);
      if (!factory) {
        const near = nearest(type, registry.types(kind));
        errors.push(new ConfigError(path.join('::'), `unknown ${kind} type "${type}"${near ? `; did you mean "${near}"?` : ''} (known: ${registry.types(kind).join(', ') || 'none'})`));
        continue;
      }
      if (value !== null && value !== undefined && !isMap(value)) {
        errors.push(new ConfigError(path.join('::'), 'must be a map of options (or empty for the defaults)'));
        continue;
      }
      const config = validateWith(factory.configSchema, value, path, errors);
      if (config !== undefined) map.set(id, { id, factory, config });
    }
  }

  for (const [id, e] of sections.exporter) {
    const dl = (e.config as { dead_letter?: unknown }).dead_letter;
    if (typeof dl !== 'string') continue;
    const path = ['exporters', id, 'dead_letter'].join('::');
    if (dl === id) errors.push(new ConfigError(path, 'an exporter cannot be its own dead-letter route'));
    else if (!sections.exporter.has(dl) && !(isMap(raw.exporters) && dl in raw.exporters)) errors.push(new ConfigError(path, `references exporter "${dl}" which is not configured under exporters`));
  }

  for (const [id, pc] of sections.processor as Map<string, ComponentConfig<ProcessorFactory>>) {
    for (const ref of pc.factory.exporterReferences?.(pc.config) ?? []) {
      const path = ['processors', id, ...ref.path.map(String)].join('::');
      const target = sections.exporter.get(ref.exporter) as ComponentConfig<ExporterFactory> | undefined;
      if (!target && !(isMap(raw.exporters) && ref.exporter in raw.exporters)) errors.push(new ConfigError(path, `references exporter "${ref.exporter}" which is not configured under exporters`));
      else if (target && !target.factory.accepts.includes('events')) errors.push(new ConfigError(path, `exporter "${ref.exporter}" does not take events (it takes ${target.factory.accepts.join(', ')})`));
    }
  }

  for (const [id] of sections.connector) {
    for (const other of ['exporters', 'receivers'] as const) {
      const tree = raw[other];
      if (isMap(tree) && id in tree) {
        errors.push(new ConfigError(['connectors', id].join('::'), `"${id}" is configured under ${other} too; a pipeline's list could not tell which is meant: rename one (e.g. ${id.includes('/') ? id : `${id}/connector`})`));
      }
    }
  }
  checkAllOfType(sections, errors);

  const service = validateWith(serviceSchema, raw.service, ['service'], errors);
  const pipelines: PipelineConfig[] = [];
  const connections = new Map<string, ConnectorUse>();
  if (service) {
    checkReferences(service.extensions, 'extensions', [raw.extensions], ['service', 'extensions'], errors);
    checkAuthenticators(sections, raw.extensions, service.extensions, registry, errors);
    if (Object.keys(service.pipelines).length === 0) errors.push(new ConfigError('service::pipelines', 'at least one pipeline is required'));
    for (const [id, p] of Object.entries(service.pipelines)) {
      const path = ['service', 'pipelines', id];
      const signal = parseComponentId(id).type as Signal;
      if (!SIGNALS.includes(signal)) {
        errors.push(new ConfigError(path.join('::'), `unknown pipeline signal "${signal}" (expected ${SIGNALS.join(', ')}, optionally with /name)`));
        continue;
      }
      const ok =
        checkReferences(p.receivers, 'receivers', [raw.receivers, raw.connectors], [...path, 'receivers'], errors) &&
        checkReferences(p.processors, 'processors', [raw.processors], [...path, 'processors'], errors) &&
        checkReferences(p.exporters, 'exporters', [raw.exporters, raw.connectors], [...path, 'exporters'], errors);
      const pipeline: PipelineConfig = { id, signal, ...p };
      if (ok) checkSignalFlow(pipeline, sections as GatewaySections, path, errors);
      pipelines.push(pipeline);
    }
    for (const [id, use] of joinConnectors(pipelines, (sections as GatewaySections).connector, errors)) connections.set(id, use);
    checkExporterConsent(pipelines, sections as GatewaySections, errors);
  }

  const exporterBatching = errors.length === 0 ? batchingOfExporters(pipelines, connections, sections as GatewaySections, errors) : new Map<string, QueueBatchConfig>();
  if (errors.length > 0) throw new ConfigErrors(errors);
  return {
    exporterBatching,
    receivers: sections.receiver as Map<string, ComponentConfig<ReceiverFactory>>,
    processors: sections.processor as Map<string, ComponentConfig<ProcessorFactory>>,
    exporters: sections.exporter as Map<string, ComponentConfig<ExporterFactory>>,
    connectors: sections.connector as Map<string, ComponentConfig<ConnectorFactory>>,
    connections,
    extensions: sections.extension as Map<string, ComponentConfig<ExtensionFactory>>,
    pipelines,
    service: service!,
  };
}

type GatewaySections = {
  receiver: Map<string, ComponentConfig<ReceiverFactory>>;
  processor: Map<string, ComponentConfig<ProcessorFactory>>;
  exporter: Map<string, ComponentConfig<ExporterFactory>>;
  connector: Map<string, ComponentConfig<ConnectorFactory>>;
  extension: Map<string, ComponentConfig<ExtensionFactory>>;
};

const SECTION_OF: Record<Kind, string> = { receiver: 'receivers', processor: 'processors', exporter: 'exporters', connector: 'connectors', extension: 'extensions' };

/** Runs each factory's `checkAll` over every configured component of its type. */
function checkAllOfType(sections: Record<Kind, Map<string, ComponentConfig>>, errors: ConfigError[]): void {
  for (const [kind, map] of Object.entries(sections) as [Kind, Map<string, ComponentConfig>][]) {
    const byFactory = new Map<Factory, { id: string; config: unknown }[]>();
    for (const c of map.values()) {
      let list = byFactory.get(c.factory);
      if (!list) byFactory.set(c.factory, (list = []));
      list.push({ id: c.id, config: c.config });
    }
    for (const [factory, instances] of byFactory) {
      for (const issue of factory.checkAll?.(instances) ?? []) errors.push(new ConfigError([SECTION_OF[kind], issue.id, ...issue.path.map(String)].join('::'), issue.message));
    }
  }
}

/** An exporter's `consent` requirement gates events: an exporter that has one may be used in events pipelines only. */
function checkExporterConsent(pipelines: readonly PipelineConfig[], sections: GatewaySections, errors: ConfigError[]): void {
  const reported = new Set<string>();
  for (const p of pipelines) {
    if (p.signal === 'events') continue;
    for (const id of p.exporters) {
      const e = sections.exporter.get(id);
      if (!e || (e.config as { consent?: unknown }).consent === undefined || reported.has(id)) continue;
      reported.add(id);
      errors.push(new ConfigError(`exporters::${id}::consent`, `applies to events, but exporter "${id}" is also used in the ${p.signal} pipeline "${p.id}"; use a separate exporter there`));
    }
  }
}

/**
 * What each exporter's sending queue batches, from the processors of the pipelines feeding it that
 * ask for batching (`batch`), through connectors too (a `batch` before a connector applies to the
 * exporters of the pipelines it feeds). Two pipelines asking one exporter for different batches is
 * an error, unless the exporter sets its own `sending_queue::batch`.
 */
function batchingOfExporters(pipelines: readonly PipelineConfig[], connections: ReadonlyMap<string, ConnectorUse>, sections: GatewaySections, errors: ConfigError[]): Map<string, QueueBatchConfig> {
  const byId = new Map(pipelines.map((p) => [p.id, p]));
  /** The exporters `p` hands data to, directly or through connectors. */
  const exportersOf = (p: PipelineConfig, seen = new Set<string>()): string[] => {
    if (seen.has(p.id)) return [];
    seen.add(p.id);
    return p.exporters.flatMap((e) => (sections.exporter.has(e) ? [e] : (connections.get(e)?.links.get(p.id) ?? []).flatMap((to) => exportersOf(byId.get(to)!, seen))));
  };
  const out = new Map<string, { batch: QueueBatchConfig; from: string }>();
  for (const p of pipelines) {
    p.processors.forEach((id, i) => {
      const pc = sections.processor.get(id)!;
      const batch = pc.factory.exporterBatching?.(pc.config);
      if (!batch) return;
      const from = `service::pipelines::${p.id}::processors::${i}`;
      for (const e of new Set(exportersOf(p))) {
        if ((sections.exporter.get(e)!.config as { sending_queue?: { batch?: unknown } }).sending_queue?.batch !== undefined) continue;
        const seen = out.get(e);
        if (!seen) out.set(e, { batch, from });
        else if (JSON.stringify(seen.batch) !== JSON.stringify(batch)) {
          errors.push(new ConfigError(from, `"${id}" asks exporter "${e}" for other batches than ${seen.from} does; set exporters::${e}::sending_queue::batch to choose`));
        }
      }
    });
  }
  return new Map([...out].map(([e, v]) => [e, v.batch]));
}

/**
 * Checks that each id is listed once and configured in one of `trees` (the sections it may come
 * from: receivers or connectors, exporters or connectors, ...).
 */
function checkReferences(ids: readonly string[], section: string, trees: readonly unknown[], path: string[], errors: ConfigError[]): boolean {
  let ok = true;
  const seen = new Set<string>();
  const also = section === 'receivers' || section === 'exporters' ? ' or connectors' : '';
  ids.forEach((id, i) => {
    if (seen.has(id)) {
      errors.push(new ConfigError([...path, String(i)].join('::'), `"${id}" is listed twice`));
      ok = false;
    }
    seen.add(id);
    if (!trees.some((tree) => isMap(tree) && id in tree)) {
      errors.push(new ConfigError([...path, String(i)].join('::'), `references ${section.replace(/s$/, '')} "${id}" which is not configured under ${section}${also}`));
      ok = false;
    }
  });
  return ok;
}

/**
 * The authenticators components name (`auth::authenticator`) must be configured under
 * `extensions`, be of an authenticator type, and be enabled in `service::extensions`: the
 * collector resolves an authenticator among the running extensions, and fails to start a receiver
 * whose authenticator is not one of them (`configauth`: "failed to resolve authenticator").
 */
function checkAuthenticators(sections: Record<Kind, Map<string, ComponentConfig>>, tree: unknown, enabled: readonly string[], registry: Registry, errors: ConfigError[]): void {
  const types = registry
    .all('extension')
    .filter((f) => (f as ExtensionFactory).serverAuthenticator === true)
    .map((f) => f.type)
    .join(', ');
  for (const [section, kind] of Object.entries(SECTIONS)) {
    for (const [id, c] of sections[kind]) {
      const refs = c.factory.authenticators?.(c.config) ?? [];
      for (const ref of refs) {
        const path = [section, id, ...ref.key].join('::');
        const ext = sections.extension.get(ref.id);
        if (!ext) {
          // Configured but invalid: its own errors are reported.
          if (isMap(tree) && ref.id in tree) continue;
          errors.push(new ConfigError(path, `references extension "${ref.id}" which is not configured under extensions (authenticator types: ${types})`));
        } else if ((ext.factory as ExtensionFactory).serverAuthenticator !== true) {
          errors.push(new ConfigError(path, `extension "${ref.id}" is not an authenticator (authenticator types: ${types})`));
        } else if (!enabled.includes(ref.id)) {
          errors.push(new ConfigError(path, `extension "${ref.id}" is not enabled: add it to service::extensions (an authenticator runs only as an enabled extension)`));
        }
      }
    }
  }
}

/** Walks the signals through the pipeline's stages; every mismatch is an error naming the stage. */
function checkSignalFlow(p: PipelineConfig, sections: GatewaySections, path: string[], errors: ConfigError[]): void {
  let carried = new Set<Signal>();
  for (const [i, id] of p.receivers.entries()) {
    const c = sections.connector.get(id);
    if (c) {
      // A connector hands on data of the signal of the pipeline it feeds.
      if (!c.factory.pairs.some(([, to]) => to === p.signal)) {
        errors.push(new ConfigError([...path, 'receivers', String(i)].join('::'), `connector "${id}" cannot feed a ${p.signal} pipeline ("${c.factory.type}" joins ${pairText(c.factory.pairs)})`));
        return;
      }
      carried.add(p.signal);
      continue;
    }
    const r = sections.receiver.get(id);
    if (!r) return; // its own config was invalid, already reported
    if (!r.factory.pipelineSignals.includes(p.signal)) {
      errors.push(new ConfigError([...path, 'receivers', String(i)].join('::'), `receiver "${id}" cannot feed a ${p.signal} pipeline (it supports ${r.factory.pipelineSignals.join(', ')})`));
      return;
    }
    for (const s of r.factory.outputs(p.signal, r.config)) carried.add(s);
  }
  for (const [i, id] of p.processors.entries()) {
    const proc = sections.processor.get(id);
    if (!proc) return;
    const bad = [...carried].filter((s) => !proc.factory.accepts.includes(s));
    if (bad.length > 0) {
      errors.push(
        new ConfigError(
          [...path, 'processors', String(i)].join('::'),
          `processor "${id}" takes ${proc.factory.accepts.join(', ')} but is given ${bad.join(', ')} here${p.signal === 'events' && bad.some((s) => s !== 'events') ? '; an events pipeline needs the analytics processor first' : ''}`,
        ),
      );
      return;
    }
    carried = new Set([...carried].map((s) => proc.factory.output(s)));
  }
  const expected = p.signal;
  const wrong = [...carried].filter((s) => s !== expected);
  if (wrong.length > 0) {
    errors.push(
      new ConfigError(
        [...path, 'processors'].join('::'),
        `a ${p.signal} pipeline must end with ${expected} but carries ${wrong.join(', ')}${p.signal === 'events' ? '; add the analytics processor to turn spans and log records into events' : ''}`,
      ),
    );
    return;
  }
  for (const [i, id] of p.exporters.entries()) {
    const c = sections.connector.get(id);
    if (c && !c.factory.pairs.some(([from]) => from === expected)) {
      errors.push(new ConfigError([...path, 'exporters', String(i)].join('::'), `connector "${id}" cannot take ${expected} ("${c.factory.type}" joins ${pairText(c.factory.pairs)})`));
    }
    const e = sections.exporter.get(id);
    if (e && !e.factory.accepts.includes(expected)) {
      errors.push(new ConfigError([...path, 'exporters', String(i)].join('::'), `exporter "${id}" cannot take ${expected} (it takes ${e.factory.accepts.join(', ')})`));
    }
  }
}
