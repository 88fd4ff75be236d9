/**
 * The component registry. Adding a component type = a new folder + one line in `builtinFactories`.
 */
import type { Factory, Kind } from './component.js';
import { builtinFactories } from './components.js';

export class Registry {
  private readonly byKind = new Map<Kind, Map<string, Factory>>();

  constructor(factories: readonly Factory[]) {
    for (const f of factories) {
      let m = this.byKind.get(f.kind);
      if (!m) this.byKind.set(f.kind, (m = new Map()));
      if (m.has(f.type)) throw new Error(`duplicate ${f.kind} type ${f.type}`);
      m.set(f.type, f);
    }
  }

  get(kind: Kind, type: string): Factory | undefined {
    return this.byKind.get(kind)?.get(type);
  }

  types(kind: Kind): string[] {
    return [...(this.byKind.get(kind)?.keys() ?? [])].sort();
  }

  all(kind: Kind): Factory[] {
    return this.types(kind).map((t) => this.get(kind, t)!);
  }
}

export function defaultRegistry(): Registry {
  return new Registry(builtinFactories);
}
