/**
 * How connectors join pipelines, checked when a config is resolved.
 *
 * Connectors follow the collector's rules (connector/README.md): a connector id is listed under a
 * pipeline's `exporters` and under other pipelines' `receivers`; it must be used on both sides, each
 * pipeline exporting to it must reach a pipeline it feeds by a pair of signals it supports (and
 * each pipeline it feeds must be reached so), and the pipelines joined through connectors must not
 * form a cycle. A connector id may not also be an exporter or receiver id. A connector configured
 * but used in no pipeline is not started, like an unused receiver or exporter.
 */
import type { ConnectorFactory, Signal } from '../component.js';
import { ConfigError } from '../errors.js';
import type { ComponentConfig, PipelineConfig } from './resolve.js';

/** How one connector joins pipelines. */
export interface ConnectorUse {
  /** Pipelines that list it under `exporters`, in config order. */
  from: string[];
  /** Pipelines that list it under `receivers`, in config order. */
  to: string[];
  /** Per pipeline of `from`: the pipelines of `to` it feeds with that pipeline's data (the supported pairs). */
  links: Map<string, string[]>;
}

/** Pairs of signals as `traces → events, logs → events`, for error messages. */
export const pairText = (pairs: readonly (readonly [Signal, Signal])[]) => pairs.map(([a, b]) => `${a} → ${b}`).join(', ');

/**
 * Checks how connectors join pipelines (the collector's rules, see the module comment) and returns
 * each used connector's links. Errors name the place in `service::pipelines` (or the connector's
 * config, for the pipelines it names).
 */
export function joinConnectors(pipelines: readonly PipelineConfig[], connectors: ReadonlyMap<string, ComponentConfig<ConnectorFactory>>, errors: ConfigError[]): Map<string, ConnectorUse> {
  const uses = new Map<string, ConnectorUse>();
  const use = (id: string) => {
    let u = uses.get(id);
    if (!u) uses.set(id, (u = { from: [], to: [], links: new Map() }));
    return u;
  };
  for (const p of pipelines) {
    for (const id of p.exporters) if (connectors.has(id)) use(id).from.push(p.id);
    for (const id of p.receivers) if (connectors.has(id)) use(id).to.push(p.id);
  }
  const byId = new Map(pipelines.map((p) => [p.id, p]));
  const where = (pipeline: string, side: 'exporters' | 'receivers', id: string) => `service::pipelines::${pipeline}::${side}::${byId.get(pipeline)![side].indexOf(id)}`;
  for (const [id, u] of uses) {
    const c = connectors.get(id)!;
    const supports = (from: Signal, to: Signal) => c.factory.pairs.some(([a, b]) => a === from && b === to);
    if (u.to.length === 0) {
      for (const from of u.from) errors.push(new ConfigError(where(from, 'exporters', id), `connector "${id}" is used as an exporter here but is the receiver of no pipeline; a connector must be used on both sides: list it under the receivers of the pipelines it feeds`));
      continue;
    }
    if (u.from.length === 0) {
      for (const to of u.to) errors.push(new ConfigError(where(to, 'receivers', id), `connector "${id}" is used as a receiver here but is the exporter of no pipeline; a connector must be used on both sides: list it under the exporters of the pipelines it takes data from`));
      continue;
    }
    // A pipeline whose signal the connector cannot take or give at all was reported by the signal flow check.
    const takes = (s: Signal) => c.factory.pairs.some(([a]) => a === s);
    const gives = (s: Signal) => c.factory.pairs.some(([, b]) => b === s);
    for (const from of u.from) {
      const signal = byId.get(from)!.signal;
      const targets = u.to.filter((to) => supports(signal, byId.get(to)!.signal));
      u.links.set(from, targets);
      if (!takes(signal)) continue;
      if (targets.length === 0) {
        errors.push(new ConfigError(where(from, 'exporters', id), `connector "${id}" takes ${signal} here but feeds no pipeline it can hand them to (it feeds ${u.to.join(', ')}; "${c.factory.type}" joins ${pairText(c.factory.pairs)})`));
      }
    }
    for (const to of u.to) {
      const signal = byId.get(to)!.signal;
      if (gives(signal) && !u.from.some((from) => supports(byId.get(from)!.signal, signal))) {
        errors.push(new ConfigError(where(to, 'receivers', id), `connector "${id}" cannot feed this ${signal} pipeline from the pipelines it takes data from (${u.from.join(', ')}; "${c.factory.type}" joins ${pairText(c.factory.pairs)})`));
      }
    }
    const fed = new Set([...u.links.values()].flat());
    for (const ref of c.factory.pipelineReferences?.(c.config) ?? []) {
      if (fed.has(ref.pipeline)) continue;
      const path = ['connectors', id, ...ref.path.map(String)].join('::');
      if (!byId.has(ref.pipeline)) errors.push(new ConfigError(path, `references pipeline "${ref.pipeline}" which is not configured under service::pipelines`));
      else if (!u.to.includes(ref.pipeline)) errors.push(new ConfigError(path, `pipeline "${ref.pipeline}" does not take data from connector "${id}"; add "${id}" to service::pipelines::${ref.pipeline}::receivers`));
      else errors.push(new ConfigError(path, `pipeline "${ref.pipeline}" cannot take what connector "${id}" is given ("${c.factory.type}" joins ${pairText(c.factory.pairs)})`));
    }
    const inputs = [...new Set(u.from.map((f) => byId.get(f)!.signal))];
    for (const issue of c.factory.checkInputs?.(c.config, inputs) ?? []) errors.push(new ConfigError(['connectors', id, ...issue.path.map(String)].join('::'), issue.message));
  }
  for (const cycle of connectorCycles(pipelines, uses)) {
    const [first, via] = [cycle[0]!, cycle[1]!];
    errors.push(new ConfigError(where(first, 'exporters', via), `pipelines form a cycle through connectors: ${cycle.join(' → ')}; data would go round for ever`));
  }
  return uses;
}

/**
 * Cycles of pipelines joined by connectors, each as `[pipeline, connector, pipeline, …, pipeline]`
 * starting and ending at the same pipeline; each cycle reported once.
 */
function connectorCycles(pipelines: readonly PipelineConfig[], uses: ReadonlyMap<string, ConnectorUse>): string[][] {
  const next = new Map<string, [connector: string, pipeline: string][]>();
  for (const p of pipelines) {
    const out: [string, string][] = [];
    for (const id of p.exporters) for (const to of uses.get(id)?.links.get(p.id) ?? []) out.push([id, to]);
    next.set(p.id, out);
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (p: string) => {
    state.set(p, 'open');
    stack.push(p);
    for (const [connector, to] of next.get(p) ?? []) {
      if (state.get(to) === 'open') {
        const at = stack.lastIndexOf(to);
        const loop: string[] = [];
        for (let i = at; i < stack.length; i += 2) loop.push(stack[i]!, stack[i + 1] ?? connector);
        loop.push(to);
        cycles.push(loop);
      } else if (!state.has(to)) {
        stack.push(connector);
        visit(to);
        stack.pop();
      }
    }
    stack.pop();
    state.set(p, 'done');
  };
  for (const p of pipelines) if (!state.has(p.id)) visit(p.id);
  return cycles;
}
