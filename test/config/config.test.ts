import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseDurationMillis } from '../../src/config/schema.js';
import { applySet, loadRawConfig, mergeTrees, parseConfigText, substituteEnv } from '../../src/config/sources.js';
import { ConfigErrors } from '../../src/errors.js';
import { defaultRegistry } from '../../src/registry.js';
import { projectRoot } from '../helpers.js';
import { errorsOf } from './errors.js';

const registry = defaultRegistry();

const minimal = `
receivers: { otlp: }
processors: { analytics: }
exporters: { file: { path: /tmp/x.jsonl } }
service: { pipelines: { events: { receivers: [otlp], processors: [analytics], exporters: [file] } } }
`;

describe('config sources', () => {
  it('merges maps and replaces lists', () => {
    assert.deepEqual(mergeTrees({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3], e: 2 } }), { a: { b: 1, c: [3], e: 2 }, d: 1 });
  });

  it('applies --set with the :: separator and YAML-typed values', () => {
    const t: Record<string, unknown> = { exporters: { 'file/x': { path: 'a' } } };
    applySet(t, 'exporters::file/x::path=/tmp/e=1.jsonl');
    applySet(t, 'receivers::otlp::protocols::http::max_request_body_size=1024');
    applySet(t, 'service::pipelines::events::exporters=[file/x]');
    assert.deepEqual(t, {
      exporters: { 'file/x': { path: '/tmp/e=1.jsonl' } },
      receivers: { otlp: { protocols: { http: { max_request_body_size: 1024 } } } },
      service: { pipelines: { events: { exporters: ['file/x'] } } },
    });
    assert.throws(() => applySet(t, 'no-equals-sign'), /expected path::to::key=value/);
  });

  it('substitutes ${env:VAR} and ${env:VAR:-default}, typing whole-value references', () => {
    const errors: never[] = [];
    const out = substituteEnv({ a: '${env:PORT}', b: 'x-${env:NAME}-y', c: '${env:MISSING:-dflt}', d: '$${env:LITERAL}' }, { PORT: '4318', NAME: 'n' }, [], errors);
    assert.deepEqual(out, { a: 4318, b: 'x-n-y', c: 'dflt', d: '${env:LITERAL}' });
  });

  it('names the key of an unset variable without default', () => {
    assert.throws(
      () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
        const f = path.join(dir, 'c.yaml');
        fs.writeFileSync(f, 'exporters:\n  file:\n    path: ${env:OTELYTICS_TEST_UNSET_VAR}\n');
        loadRawConfig([f], [], {});
      },
      (err: unknown) => err instanceof ConfigErrors && /exporters::file::path: environment variable OTELYTICS_TEST_UNSET_VAR is not set/.test(err.message),
    );
  });

  it('parses durations', () => {
    assert.equal(parseDurationMillis('200ms'), 200);
    assert.equal(parseDurationMillis('1m30s'), 90_000);
    assert.equal(parseDurationMillis('1.5s'), 1500);
    assert.equal(parseDurationMillis('0'), 0);
    assert.equal(parseDurationMillis(0), 0);
    assert.equal(parseDurationMillis('5 parsecs'), undefined);
    // Without a unit only 0 is a duration: the collector reads 200 as nanoseconds, people mean ms or s.
    assert.equal(parseDurationMillis(200), undefined);
    assert.equal(parseDurationMillis('200'), undefined);
  });

  it('reports a YAML syntax error with the file name', () => {
    assert.throws(() => parseConfigText('a: [1, 2\n', 'broken.yaml'), /broken\.yaml/);
  });
});

describe('config validation', () => {
  it('accepts config.example.yaml and applies the collector defaults', () => {
    const cfg = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), registry);
    assert.equal(cfg.pipelines[0]!.signal, 'events');
    const otlp = cfg.receivers.get('otlp')!.config as { protocols: { http: { endpoint: string; max_request_body_size: number }; grpc: { endpoint: string } } };
    assert.equal(otlp.protocols.http.endpoint, '127.0.0.1:4318');
    assert.equal(otlp.protocols.grpc.endpoint, '127.0.0.1:4317');
    assert.equal(otlp.protocols.http.max_request_body_size, 20 * 1024 * 1024);
    assert.equal(cfg.service.telemetry.metrics.address, '127.0.0.1:8888');
    assert.equal((cfg.extensions.get('health_check')!.config as { endpoint: string }).endpoint, '127.0.0.1:13133');
  });

  it('defaults: empty otlp receiver serves both protocols; batch 8192 / 200ms', () => {
    const cfg = resolveConfig(parseConfigText(minimal.replace('processors: { analytics: }', 'processors: { analytics: , batch: }').replace('[analytics]', '[analytics, batch]'), 't'), registry);
    const otlp = cfg.receivers.get('otlp')!.config as { protocols: { http?: unknown; grpc?: unknown } };
    assert.ok(otlp.protocols.http && otlp.protocols.grpc);
    assert.deepEqual(cfg.processors.get('batch')!.config, { send_batch_size: 8192, send_batch_max_size: 0, timeout: 200 });
  });

  it('batching of a batch processor goes to the sending queues of the exporters after it; their own sending_queue::batch wins', () => {
    const cfg = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], [], {}), registry);
    assert.deepEqual(cfg.exporterBatching.get('file'), { flush_timeout: 200, min_size: 8192, max_size: 0 });
    assert.deepEqual(cfg.exporterBatching.get('debug'), { flush_timeout: 200, min_size: 8192, max_size: 0 });
    const own = resolveConfig(loadRawConfig([path.join(projectRoot, 'config.example.yaml')], ['exporters::file::sending_queue::batch={min_size: 10}'], {}), registry);
    assert.equal(own.exporterBatching.get('file'), undefined, 'the exporter\'s own setting is used');
    assert.deepEqual((own.exporters.get('file')!.config as { sending_queue: { batch: unknown } }).sending_queue.batch, { flush_timeout: 200, min_size: 10, max_size: 0, sizer: 'items' });
  });

  it('refuses two pipelines asking one exporter for different batches, naming where', () => {
    const yaml = `
receivers: { otlp: }
processors: { batch/a: { send_batch_size: 10 }, batch/b: { send_batch_size: 20 } }
exporters: { file: { path: /tmp/x.jsonl } }
service: { pipelines: { traces: { receivers: [otlp], processors: [batch/a], exporters: [file] }, logs: { receivers: [otlp], processors: [batch/b], exporters: [file] } } }
`;
    assert.deepEqual(errorsOf(yaml), ['service::pipelines::logs::processors::0: "batch/b" asks exporter "file" for other batches than service::pipelines::traces::processors::0 does; set exporters::file::sending_queue::batch to choose']);
    assert.deepEqual(errorsOf(yaml.replace('exporters: { file: { path: /tmp/x.jsonl } }', 'exporters: { file: { path: /tmp/x.jsonl, sending_queue: { batch: {} } } }')), []);
  });

  it('reports every error at once, each with its full path', () => {
    const errs = errorsOf(`
receivers:
  otlp:
    protocols:
      http: { endpoint: "nope", bogus: 1 }
  zipkin: {}
processors:
  batch: { timeout: forever }
  analytics:
    rules:
      - { id: r1, event: x, capture: { url.path: "(?<broken" } }
exporters:
  file: { path: "" }
  file/other: { paht: x }
  file/dl: { path: /tmp/x, dead_letter: file/nowhere }
unknown_section: {}
service:
  pipelines:
    events: { receivers: [otlp], processors: [batch, analytics], exporters: [file, kafka/events] }
`);
    const expected = [
      /^unknown_section: unknown section/,
      /^receivers::otlp::protocols::http::endpoint: must be "host:port"/,
      /^receivers::otlp::protocols::http::bogus: unknown key/,
      /^receivers::zipkin: unknown receiver type "zipkin"/,
      /^processors::batch::timeout: must be a duration/,
      /^processors::analytics::rules::0::capture::url\.path: invalid regular expression/,
      /^exporters::file::path: must be a non-empty string/,
      /^exporters::file\/other::paht: unknown key/,
      /^exporters::file\/other::path: is required/,
      /^service::pipelines::events::exporters::1: references exporter "kafka\/events" which is not configured/,
      /^exporters::file\/dl::dead_letter: references exporter "file\/nowhere" which is not configured/,
    ];
    for (const re of expected) assert.ok(errs.some((e) => re.test(e)), `missing ${re} in:\n${errs.join('\n')}`);
  });

  it('refuses a duration without a unit, asking for one; 0 needs none', () => {
    const batch = (timeout: string) => minimal.replace('processors: { analytics: }', `processors: { analytics: , batch: { timeout: ${timeout} } }`).replace('[analytics]', '[analytics, batch]');
    for (const t of ['200', '"200"', '1.5']) assert.deepEqual(errorsOf(batch(t)), ['processors::batch::timeout: a duration needs a unit, e.g. "200ms" or "5s"'], t);
    assert.deepEqual(errorsOf(batch('5 parsecs')), ['processors::batch::timeout: must be a duration like "200ms", "5s" or "1m30s", got "5 parsecs"']);
    for (const t of ['0', '"0"', '200ms', '1m30s']) assert.deepEqual(errorsOf(batch(t)), [], t);
    // The same through --set and a whole ${env:...} reference (both read as YAML scalars).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const f = path.join(dir, 'c.yaml');
    fs.writeFileSync(f, batch('"${env:BATCH_TIMEOUT}"'));
    const failing = (sets: string[], env: NodeJS.ProcessEnv) => assert.throws(
      () => resolveConfig(loadRawConfig([f], sets, env), registry),
      (err: unknown) => err instanceof ConfigErrors && err.errors.map((e) => e.message).join() === 'processors::batch::timeout: a duration needs a unit, e.g. "200ms" or "5s"',
    );
    failing([], { BATCH_TIMEOUT: '200' });
    failing(['processors::batch::timeout=5'], { BATCH_TIMEOUT: '1s' });
    assert.equal((resolveConfig(loadRawConfig([f], [], { BATCH_TIMEOUT: '5s' }), registry).processors.get('batch')!.config as { timeout: number }).timeout, 5000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an unknown key names the nearest known one, or lists the known keys', () => {
    const errs = errorsOf(`
receivers: { otlp: { protocols: { htp: {}, grpc: { endpont: "127.0.0.1:4317" } } } }
processors:
  analytics: { rules: [ { id: r, event: e, mach: { kind: server } } ] }
  batch: { send_batch_sise: 100 }
exporters:
  file: { path: /tmp/x.jsonl, sending_queue: { num_consumer: 2 }, compression: gzip }
  fiel: {}
extension: {}
service:
  pipelines: { events: { receivers: [otlp], processors: [analytics, batch], exporters: [file] } }
  telemetry: { metric: {} }
`);
    assert.deepEqual(errs.sort(), [
      'exporters::fiel: unknown exporter type "fiel"; did you mean "file"? (known: amplitude, bigquery, debug, file, kafka, mixpanel, nop, otlp, otlp_grpc, otlp_http, otlphttp, posthog, segment)',
      'exporters::file::compression: unknown key (known: consent, dead_letter, path, retry_on_failure, rotation, sending_queue, timeout)',
      'exporters::file::sending_queue::num_consumer: unknown key; did you mean "num_consumers"?',
      'extension: unknown section; did you mean "extensions"? (expected receivers, processors, exporters, connectors, extensions, service)',
      'processors::analytics::rules::0::mach: unknown key; did you mean "match"?',
      'processors::batch::send_batch_sise: unknown key; did you mean "send_batch_size"?',
      'receivers::otlp::protocols::grpc::endpont: unknown key; did you mean "endpoint"?',
      'receivers::otlp::protocols::htp: unknown key; did you mean "http"?',
      'service::telemetry::metric: unknown key; did you mean "metrics"?',
    ]);
  });

  it('refuses a mis-ordered events pipeline at load time', () => {
    const errs = errorsOf(minimal.replace('processors: { analytics: }', 'processors: { analytics: , filter: }').replace('[analytics]', '[filter, analytics]'));
    assert.equal(errs.length, 1);
    assert.match(errs[0]!, /^service::pipelines::events::processors::0: processor "filter" takes events but is given traces, logs here; an events pipeline needs the analytics processor first/);
  });

  it('refuses an events pipeline without analytics', () => {
    const errs = errorsOf(minimal.replace('processors: [analytics]', 'processors: []'));
    assert.match(errs[0]!, /^service::pipelines::events::processors: a events pipeline must end with events but carries traces, logs; add the analytics processor/);
  });

  it('refuses an exporter that cannot take the pipeline signal', () => {
    const errs = errorsOf(`
receivers: { otlp: }
exporters: { file: { path: /tmp/x } }
service: { pipelines: { metrics: { receivers: [otlp], exporters: [file] } } }
`);
    assert.match(errs[0]!, /^service::pipelines::metrics::exporters::0: exporter "file" cannot take metrics/);
  });

  it('refuses unknown pipeline signals, bad ids, and missing pipelines', () => {
    assert.match(errorsOf(minimal.replace('events: {', 'spans: {'))[0]!, /^service::pipelines::spans: unknown pipeline signal "spans"/);
    assert.match(errorsOf(minimal.replace('file: {', 'File: {'))[0]!, /^exporters::File: invalid component id/);
    assert.match(errorsOf('receivers: { otlp: }\nservice: { pipelines: {} }')[0]!, /^service::pipelines: at least one pipeline is required/);
    assert.match(errorsOf('receivers: { otlp: }')[0]!, /^service::pipelines: is required/);
  });

  it('checks analytics rules: duplicate ids, unknown sources, span rules without event', () => {
    const errs = errorsOf(
      minimal.replace(
        'processors: { analytics: }',
        `processors:
  analytics:
    rules:
      - { id: a, event: e, properties: { x: attributes.k, y: nowhere.k } }
      - { id: a }
      - { id: b, event: e, match: { attributes: { k: {} } } }
`,
      ),
    );
    for (const re of [
      /^processors::analytics::rules::0::properties::y: unknown source "nowhere\.k"/,
      /^processors::analytics::rules::1::id: duplicate rule id "a"/,
      /^processors::analytics::rules::1::event: span rules need the name of the event/,
      /^processors::analytics::rules::2::match::attributes::k: a condition object needs at least one test/,
    ]) {
      assert.ok(errs.some((e) => re.test(e)), `missing ${re} in:\n${errs.join('\n')}`);
    }
  });
});
