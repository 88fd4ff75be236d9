/**
 * Options every Fastify instance of the gateway is built with (the `otlp` receiver's OTLP/HTTP
 * server and the status page), spread before its own.
 *
 * `schemaController`: no route of theirs declares a JSON Schema (the receiver decodes and checks
 * OTLP bodies itself, the status page reads its few parameters by hand), so Fastify's default
 * schema compilers, Ajv for validation and fast-json-stringify for response serialisation, would
 * never run. Given compilers of its own, Fastify does not load them
 * (`fastify/lib/schema-controller.js`): every gateway process holds about 1.2 MiB less heap after
 * a full collection. A route given a schema fails when it is registered, with the reason.
 */
import type { FastifyServerOptions } from 'fastify';

const noSchemas = () => (): never => {
  throw new Error("the gateway's Fastify routes take no JSON Schema (Ajv and fast-json-stringify are not loaded; see src/fastify_options.ts)");
};

export const FASTIFY_BASE_OPTIONS: Pick<FastifyServerOptions, 'schemaController'> = {
  schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
};
