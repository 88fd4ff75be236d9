/**
 * Which pipelines take protobuf traces undecoded (`tracesStayEncoded`), with the real factories:
 * every stage must take them so, up to the first processor that turns traces into another signal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExporterFactory, ProcessorFactory } from '../src/component.js';
import { tracesStayEncoded } from '../src/fan_out.js';
import { defaultRegistry } from '../src/registry.js';

const registry = defaultRegistry();
const processors = (...types: string[]) => types.map((t) => registry.get('processor', t) as ProcessorFactory<unknown>);
const exporters = (...types: string[]) => types.map((t) => registry.get('exporter', t) as ExporterFactory<unknown>);

describe('tracesStayEncoded', () => {
  it('holds for pass-through pipelines: memory_limiter and batch (which batches in the queue, as bytes), OTLP or nop exporters', () => {
    assert.equal(tracesStayEncoded(processors(), exporters('otlp_http')), true);
    assert.equal(tracesStayEncoded(processors('memory_limiter'), exporters('otlp_grpc', 'nop')), true);
    assert.equal(tracesStayEncoded(processors('memory_limiter', 'batch'), exporters('otlp_http')), true);
  });

  it('holds up to analytics, whatever comes after it (it reads spans from the bytes and makes events)', () => {
    assert.equal(tracesStayEncoded(processors('memory_limiter', 'analytics', 'privacy', 'filter', 'batch'), exporters('file', 'debug')), true);
    assert.equal(tracesStayEncoded(processors('analytics'), exporters('kafka')), true);
  });

  it('fails when a stage before that reads or changes spans', () => {
    assert.equal(tracesStayEncoded(processors('batch', 'privacy'), exporters('otlp_http')), false);
    assert.equal(tracesStayEncoded(processors('memory_limiter', 'privacy', 'analytics'), exporters('file')), false);
    assert.equal(tracesStayEncoded(processors('memory_limiter'), exporters('otlp_http', 'file')), false);
  });
});
