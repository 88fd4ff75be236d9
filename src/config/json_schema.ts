/**
 * The JSON Schema (draft-07) of a whole otelytics config file, made from the registry's factories'
 * zod schemas and the service schema, so editors that use yaml-language-server complete and check
 * `config.yaml` (`# yaml-language-server: $schema=<file or URL>`).
 *
 * - Component ids (`type[/name]`) are `patternProperties` per section, one per registered type, with
 *   that type's schema; any other id is an error (`additionalProperties: false`), as at load time.
 * - Schemas describe the *input* (zod's `io: "input"`): defaults are shown, options with defaults
 *   are not required, durations take a string with units (`200ms`, `1m30s`) or 0. Checks that
 *   JSON Schema cannot express (zod refinements, e.g. regex syntax or cross-field rules) are left
 *   to `otelytics validate`.
 * - Every value that is not a plain string (numbers, booleans, enums, patterned strings) also
 *   accepts one `${env:NAME}` / `${env:NAME:-default}` reference, which the loader substitutes.
 */
import { z } from 'zod';
import type { Kind } from '../component.js';
import type { Registry } from '../registry.js';
import { serviceSchema } from './service.js';

export type JsonSchema = { [key: string]: unknown };

/** One `${env:NAME}` or `${env:NAME:-default}` reference (the loader's syntax, see sources.ts). */
export const ENV_REFERENCE: JsonSchema = Object.freeze({
  type: 'string',
  pattern: '^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$',
  description: 'An environment variable reference, replaced when the config is loaded.',
});

const SECTIONS: [section: string, kind: Kind, title: string][] = [
  ['receivers', 'receiver', 'Receivers by id `type[/name]`: how data gets in.'],
  ['processors', 'processor', 'Processors by id `type[/name]`, used in pipelines in the listed order.'],
  ['exporters', 'exporter', 'Exporters by id `type[/name]`: where data goes.'],
  ['connectors', 'connector', 'Connectors by id `type[/name]`: listed as an exporter of one pipeline and a receiver of others, they join pipelines.'],
  ['extensions', 'extension', 'Extensions by id `type[/name]`, run when listed in service::extensions.'],
];

const ID_NAME = '(/[^\\s/][^\\s]*)?$';

/** The JSON Schema of one zod schema, as its input is written; `envRef` is what an `${env:...}` reference must match. */
export function zodInputSchema(schema: z.ZodType, envRef: JsonSchema = ENV_REFERENCE): JsonSchema {
  const s = z.toJSONSchema(schema, { target: 'draft-07', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete s.$schema;
  return allowEnvReferences(withStandardFormats(s), envRef);
}

/** The `format` values draft-07 defines; validators warn about, or reject, any other. */
const DRAFT_07_FORMATS = new Set([
  'date-time', 'date', 'time', 'email', 'idn-email', 'hostname', 'idn-hostname', 'ipv4', 'ipv6', 'uri', 'uri-reference',
  'iri', 'iri-reference', 'uri-template', 'json-pointer', 'relative-json-pointer', 'regex',
]);

/**
 * Removes `format` values that are not JSON Schema formats. zod writes its own check names there
 * (`z.string().startsWith('/')` gives `format: "starts_with"` beside `pattern: "^\\/.*"`); the
 * `pattern` next to them already states the constraint. Returns a new schema.
 */
export function withStandardFormats(s: JsonSchema): JsonSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node !== 'object' || node === null) return node;
    const out: JsonSchema = {};
    for (const [k, v] of Object.entries(node as JsonSchema)) {
      if (k === 'format' && typeof v === 'string' && !DRAFT_07_FORMATS.has(v)) continue;
      // Values, not schemas: a default may well hold a key named format.
      out[k] = k === 'default' || k === 'const' || k === 'enum' || k === 'examples' ? v : walk(v);
    }
    return out;
  };
  return walk(s) as JsonSchema;
}

const ENV_REF: JsonSchema = { $ref: '#/definitions/env_reference' };

/** The whole config's schema. */
export function configJsonSchema(registry: Registry, version?: string): JsonSchema {
  const properties: JsonSchema = {};
  const definitions: JsonSchema = { env_reference: ENV_REFERENCE };
  for (const [section, kind, description] of SECTIONS) {
    const patternProperties: JsonSchema = {};
    for (const f of registry.all(kind)) {
      patternProperties[`^${escapeRegex(f.type)}${ID_NAME}`] = {
        description: f.description,
        ...orNull(hoistDefinitions(zodInputSchema(f.configSchema as z.ZodType, ENV_REF), `${section}.${f.type}.`, definitions)),
      };
    }
    properties[section] = { type: ['object', 'null'], description, patternProperties, additionalProperties: false };
  }
  const service = zodInputSchema(serviceSchema, ENV_REF);
  const pipelines = (service.properties as JsonSchema | undefined)?.pipelines as JsonSchema | undefined;
  if (pipelines && pipelines.additionalProperties) {
    pipelines.propertyNames = { pattern: `^(traces|logs|metrics|events)${ID_NAME}` };
  }
  properties.service = service;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: `otelytics configuration${version ? ` (${version})` : ''}`,
    description: 'otelytics gateway config: receivers, processors, exporters, connectors, extensions and service::pipelines.',
    type: 'object',
    properties,
    required: ['service'],
    additionalProperties: false,
    definitions,
  };
}

/**
 * Moves a component schema's own `definitions` (zod writes a recursive schema, such as nested
 * columns, as one) into the whole config's, named `prefix` + name, and points its `$ref`s there.
 */
function hoistDefinitions(s: JsonSchema, prefix: string, into: JsonSchema): JsonSchema {
  const own = s.definitions as JsonSchema | undefined;
  if (!own) return s;
  const { definitions: _, ...rest } = s;
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (typeof node !== 'object' || node === null) return node;
    const out: JsonSchema = {};
    for (const [k, v] of Object.entries(node as JsonSchema)) {
      const name = k === '$ref' && typeof v === 'string' && v.startsWith('#/definitions/') ? v.slice('#/definitions/'.length) : undefined;
      out[k] = name !== undefined && name in own ? `#/definitions/${prefix}${name}` : k === 'default' || k === 'const' || k === 'enum' ? v : rewrite(v);
    }
    return out;
  };
  for (const [name, def] of Object.entries(own)) into[prefix + name] = rewrite(def);
  return rewrite(rest) as JsonSchema;
}

/** An empty component entry (`debug:`) means "all defaults": YAML reads it as null. */
function orNull(s: JsonSchema): JsonSchema {
  const { description, ...rest } = s;
  return { ...(description !== undefined ? { description } : {}), anyOf: [rest, { type: 'null' }] };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const CONSTRAINED = ['enum', 'const', 'pattern', 'format'];
const SCALAR_TYPES = new Set(['number', 'integer', 'boolean']);

/**
 * Walks a schema and lets every constrained scalar also be an `${env:...}` reference; the wrapper
 * keeps the description and default for editors' hover texts.
 */
export function allowEnvReferences(s: JsonSchema, envRef: JsonSchema = ENV_REFERENCE): JsonSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node !== 'object' || node === null) return node;
    const n = node as JsonSchema;
    const out: JsonSchema = {};
    for (const [k, v] of Object.entries(n)) {
      if (k === 'properties' || k === 'patternProperties' || k === 'definitions' || k === '$defs') {
        out[k] = Object.fromEntries(Object.entries(v as JsonSchema).map(([pk, pv]) => [pk, walk(pv)]));
      } else if (k === 'items' || k === 'additionalProperties' || k === 'anyOf' || k === 'oneOf' || k === 'allOf' || k === 'not') {
        out[k] = walk(v);
      } else {
        out[k] = v;
      }
    }
    const types = Array.isArray(out.type) ? (out.type as string[]) : out.type === undefined ? [] : [out.type as string];
    const scalar = types.length > 0 && types.every((t) => SCALAR_TYPES.has(t) || t === 'string' || t === 'null');
    const constrained = CONSTRAINED.some((k) => k in out) || (types.some((t) => SCALAR_TYPES.has(t)) && !types.includes('string'));
    if (!scalar && !(types.length === 0 && CONSTRAINED.some((k) => k in out))) return out;
    if (!constrained) return out;
    const { description, default: def, ...rest } = out;
    return { ...(description !== undefined ? { description } : {}), ...(def !== undefined ? { default: def } : {}), anyOf: [rest, envRef] };
  };
  return walk(s) as JsonSchema;
}
