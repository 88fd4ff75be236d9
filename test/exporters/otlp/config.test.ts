/** Config of the OTLP exporters: the four type names, defaults, and errors with their full path. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGrpcEndpoint } from '../../../exporters/otlp/config.js';
import { signalUrls } from '../../../exporters/otlp/http.js';
import { resolveConfig } from '../../../src/config/resolve.js';
import { parseConfigText } from '../../../src/config/sources.js';
import { defaultRegistry } from '../../../src/registry.js';
import { errorsOf } from '../../config/errors.js';

const registry = defaultRegistry();

function configWith(exporters: string, used: string): string {
  return `
receivers: { otlp: }
exporters: ${exporters}
service: { pipelines: { traces: { receivers: [otlp], exporters: [${used}] }, events: { receivers: [otlp], processors: [analytics], exporters: [${used}] } } }
processors: { analytics: }
`;
}

describe('otlp exporters config', () => {
  it('registers otlp_grpc, otlp_http and the collector\'s older names otlp and otlphttp', () => {
    for (const type of ['otlp_grpc', 'otlp', 'otlp_http', 'otlphttp']) {
      const f = registry.get('exporter', type);
      assert.ok(f && f.kind === 'exporter', type);
      assert.deepEqual([...f.accepts].sort(), ['events', 'logs', 'metrics', 'traces']);
    }
  });

  it('accepts collector-style blocks for traces and events pipelines', () => {
    const yaml = configWith(
      `{ otlp: { endpoint: "collector:4317", tls: { insecure: true } }, otlphttp/vendor: { endpoint: "https://otlp.example.com", headers: { x-api-key: secret }, compression: none, timeout: 10s }, otlp_grpc/tls: { endpoint: "https://collector:4317", tls: { ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/k.pem } } }`,
      'otlp, otlphttp/vendor, otlp_grpc/tls',
    );
    assert.deepEqual(errorsOf(yaml), []);
    const cfg = resolveConfig(parseConfigText(yaml, 'test.yaml'), registry);
    const vendor = cfg.exporters.get('otlphttp/vendor')!.config as { timeout: number; encoding: string; compression: string };
    assert.equal(vendor.timeout, 10_000);
    assert.equal(vendor.encoding, 'proto');
    assert.equal(vendor.compression, 'none');
    const grpc = cfg.exporters.get('otlp')!.config as { compression: string; timeout: number };
    assert.equal(grpc.compression, 'gzip');
    assert.equal(grpc.timeout, 5000);
  });

  it('reports missing and malformed options with their full path, all at once', () => {
    const errors = errorsOf(configWith(`{ otlp_grpc: {}, otlp_http: { endpoint: "collector:4318", compression: zstd }, otlp/b: { endpoint: "c:4317", tls: { cert_file: /c.pem }, insecure: true } }`, 'otlp_grpc, otlp_http, otlp/b'));
    const text = errors.join('\n');
    assert.match(text, /exporters::otlp_grpc::endpoint: is required/);
    assert.match(text, /exporters::otlp_http::endpoint: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(text, /exporters::otlp_http::compression/);
    assert.match(text, /exporters::otlp\/b::tls::key_file: is needed with cert_file/);
    assert.match(text, /exporters::otlp\/b.*insecure/);
  });

  it('parses gRPC endpoints the way the collector does', () => {
    assert.deepEqual(parseGrpcEndpoint('collector:4317'), { target: 'collector:4317', tls: undefined });
    assert.deepEqual(parseGrpcEndpoint('http://127.0.0.1:4317'), { target: '127.0.0.1:4317', tls: false });
    assert.deepEqual(parseGrpcEndpoint('https://[::1]:4317/'), { target: '[::1]:4317', tls: true });
    for (const bad of ['collector', 'collector:0', 'collector:70000', 'grpc://c:4317', 'http://c:4317/v1/traces']) assert.equal(parseGrpcEndpoint(bad), undefined, bad);
  });

  it('derives one URL per signal from endpoint, and takes *_endpoint as it is', () => {
    assert.deepEqual(signalUrls({ endpoint: 'https://c:4318/otlp/' }), { traces: 'https://c:4318/otlp/v1/traces', logs: 'https://c:4318/otlp/v1/logs', metrics: 'https://c:4318/otlp/v1/metrics' });
    assert.deepEqual(signalUrls({ endpoint: 'http://c:4318', logs_endpoint: 'http://d/ingest' }), { traces: 'http://c:4318/v1/traces', logs: 'http://d/ingest', metrics: 'http://c:4318/v1/metrics' });
    assert.deepEqual(signalUrls({ traces_endpoint: 'http://t/x' }), { traces: 'http://t/x', logs: undefined, metrics: undefined });
  });
});
