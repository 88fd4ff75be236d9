/**
 * Connectors in the config: the collector's rules (used on both sides, supported signal pairs, no
 * cycles), the routing connector's table (pipelines it names, OTTL and match errors with their
 * paths, match_once), the count connector's names, and `otelytics validate` reporting all of them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseConfigText } from '../../src/config/sources.js';
import { defaultRegistry } from '../../src/registry.js';
import { cliPath } from '../helpers.js';
import { errorsOf } from './errors.js';

const head = `
receivers: { otlp: }
processors: { analytics: , batch: }
exporters: { file/a: { path: /tmp/a.jsonl }, file/b: { path: /tmp/b.jsonl }, nop: }
`;

describe('connectors in the config', () => {
  it('accepts a connector used on both sides, and ignores one used nowhere', () => {
    assert.deepEqual(
      errorsOf(`${head}
connectors: { forward: , forward/unused: }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [forward] }
    events/a: { receivers: [forward], exporters: [file/a] }
`),
      [],
    );
  });

  it('refuses a connector used on one side only, at each place it is used', () => {
    assert.deepEqual(
      errorsOf(`${head}
connectors: { forward: , forward/in: }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [forward, file/a] }
    events/b: { receivers: [forward/in], exporters: [file/b] }
`),
      [
        'service::pipelines::events::exporters::0: connector "forward" is used as an exporter here but is the receiver of no pipeline; a connector must be used on both sides: list it under the receivers of the pipelines it feeds',
        'service::pipelines::events/b::receivers::0: connector "forward/in" is used as a receiver here but is the exporter of no pipeline; a connector must be used on both sides: list it under the exporters of the pipelines it takes data from',
      ],
    );
  });

  it('refuses signal pairs a connector does not join, naming the pairs it does', () => {
    assert.deepEqual(
      errorsOf(`${head}
connectors: { forward: , count: , routing: { table: [{ condition: 'true', pipelines: [events/a] }] } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [forward, routing] }
    events/a: { receivers: [forward, routing], exporters: [file/a] }
    metrics: { receivers: [otlp], exporters: [count] }
    traces/counted: { receivers: [count], exporters: [nop] }
`),
      [
        'service::pipelines::metrics::exporters::0: connector "count" cannot take metrics ("count" joins traces → metrics, logs → metrics, events → metrics)',
        'service::pipelines::traces/counted::receivers::0: connector "count" cannot feed a traces pipeline ("count" joins traces → metrics, logs → metrics, events → metrics)',
        'service::pipelines::traces::exporters::0: connector "forward" takes traces here but feeds no pipeline it can hand them to (it feeds events/a; "forward" joins traces → traces, logs → logs, metrics → metrics, events → events)',
        'service::pipelines::events/a::receivers::0: connector "forward" cannot feed this events pipeline from the pipelines it takes data from (traces; "forward" joins traces → traces, logs → logs, metrics → metrics, events → events)',
        'service::pipelines::traces::exporters::1: connector "routing" takes traces here but feeds no pipeline it can hand them to (it feeds events/a; "routing" joins traces → traces, logs → logs, events → events)',
        'service::pipelines::events/a::receivers::1: connector "routing" cannot feed this events pipeline from the pipelines it takes data from (traces; "routing" joins traces → traces, logs → logs, events → events)',
        'connectors::routing::table::0::pipelines::0: pipeline "events/a" cannot take what connector "routing" is given ("routing" joins traces → traces, logs → logs, events → events)',
      ],
    );
  });

  it('refuses cycles of pipelines through connectors', () => {
    const errs = errorsOf(`${head}
connectors: { forward/a: , forward/b: , forward/self: }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [forward/a] }
    events/x: { receivers: [forward/a, forward/b], exporters: [forward/b, file/a] }
    events/loop: { receivers: [otlp, forward/self], processors: [analytics], exporters: [forward/self] }
`);
    assert.deepEqual(errs, [
      'service::pipelines::events/x::exporters::0: pipelines form a cycle through connectors: events/x → forward/b → events/x; data would go round for ever',
      'service::pipelines::events/loop::exporters::0: pipelines form a cycle through connectors: events/loop → forward/self → events/loop; data would go round for ever',
    ]);
    const longer = errorsOf(`${head}
connectors: { forward/a: , forward/b: }
service:
  pipelines:
    events/1: { receivers: [otlp, forward/b], processors: [analytics], exporters: [forward/a] }
    events/2: { receivers: [forward/a], exporters: [forward/b] }
`);
    assert.deepEqual(longer, ['service::pipelines::events/1::exporters::0: pipelines form a cycle through connectors: events/1 → forward/a → events/2 → forward/b → events/1; data would go round for ever']);
  });

  it('refuses a connector id that is also an exporter or receiver id, and references to nothing', () => {
    assert.deepEqual(
      errorsOf(`
receivers: { otlp: }
processors: { analytics: }
exporters: { file/a: { path: /tmp/a.jsonl }, forward: {} }
connectors: { forward: }
service:
  pipelines:
    events: { receivers: [otlp, forward/x], processors: [analytics], exporters: [file/a] }
`).filter((e) => !e.startsWith('exporters::forward:')),
      [
        'connectors::forward: "forward" is configured under exporters too; a pipeline\'s list could not tell which is meant: rename one (e.g. forward/connector)',
        'service::pipelines::events::receivers::1: references receiver "forward/x" which is not configured under receivers or connectors',
      ],
    );
  });

  it('routing: pipelines of the table must be pipelines it feeds; conditions are checked for the signal with their paths', () => {
    const errs = errorsOf(`${head}
connectors:
  routing:
    default_pipelines: [events/missing]
    table:
      - condition: attributes["x"] == Lookup("y")
        pipelines: [events/a, events/b]
      - context: span
        condition: name == "x"
        pipelines: [events/a]
      - condition: category == "commerce" and
        pipelines: [events/a]
      - context: request
        condition: request["X-Tenant"] == "acme"
        pipelines: [events/a]
      - match: { kind: server, categories: [commerce] }
        pipelines: [events/a]
      - match: { names: [a] }
        condition: name == "a"
        pipelines: [events/a]
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [routing] }
    events/a: { receivers: [routing], exporters: [file/a] }
    events/b: { receivers: [otlp], processors: [analytics], exporters: [file/b] }
`);
    assert.deepEqual(errs, [
      'connectors::routing::table::2::condition: expected a value but found the end of the condition (at column 27)',
      'connectors::routing::table::3::context: the request context (client metadata and headers) is not supported; route events by a context key set by authentication instead, e.g. context["tenant"]',
      'connectors::routing::table::5: a route takes one of condition, statement and match, not condition and match',
    ]);
    // Once those parse, the checks against the pipelines follow.
    const errs2 = errorsOf(`${head}
connectors:
  routing:
    default_pipelines: [events/missing]
    table:
      - condition: attributes["x"] == Lookup("y")
        pipelines: [events/a, events/b]
      - context: span
        condition: name == "x"
        pipelines: [events/a]
      - match: { kind: server, categories: [commerce], properties: { total: { regex: "(" } } }
        pipelines: [events/a]
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [routing] }
    events/a: { receivers: [routing], exporters: [file/a] }
    events/b: { receivers: [otlp], processors: [analytics], exporters: [file/b] }
`);
    assert.deepEqual(errs2, [
      'connectors::routing::table::0::pipelines::1: pipeline "events/b" does not take data from connector "routing"; add "routing" to service::pipelines::events/b::receivers',
      'connectors::routing::default_pipelines::0: references pipeline "events/missing" which is not configured under service::pipelines',
      'connectors::routing::table::0::condition: unsupported function Lookup (supported: IsMatch, IsString, IsInt, IsDouble, IsBool, IsMap, IsList) (at column 20)',
      'connectors::routing::table::1::context: "span" does not apply to the events this connector is given (event, the default); use one routing connector per signal',
      'connectors::routing::table::2::match::kind: applies to spans, not to events (here: names, categories, privacy_levels, consent, properties, context, resource)',
      'connectors::routing::table::2::match::properties::total::regex: invalid regular expression: Invalid regular expression: /(/: Unterminated group',
    ]);
  });

  it('routing: match_once true is accepted (what it always does), false refused with what to do instead', () => {
    const yaml = (v: string) => `${head}
connectors:
  routing: { match_once: ${v}, table: [{ condition: 'true', pipelines: [events/a] }] }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [routing] }
    events/a: { receivers: [routing], exporters: [file/a] }
`;
    assert.deepEqual(errorsOf(yaml('true')), []);
    assert.deepEqual(errorsOf(yaml('false')), [
      'connectors::routing::match_once: false (every matching route) was removed in collector v0.120 and is not supported: each item goes to the first route it matches; for several destinations list them in one route\'s pipelines, or use one routing connector per dimension',
    ]);
  });

  it('count: reserved names, one Prometheus metric with two sets of attributes, sections for signals it is not given', () => {
    assert.deepEqual(
      errorsOf(`${head}
connectors:
  count:
    events:
      otelytics.events: {}
      event.count: { attributes: [{ key: event.name }, { key: event_name }] }
    spans: { span.count: {} }
  count/2:
    events:
      event.count: { attributes: [{ key: tenant }] }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [count, count/2] }
    metrics: { receivers: [count, count/2], exporters: [nop] }
`),
      [
        'connectors::count::events::otelytics.events: "otelytics_events" (its Prometheus name) is reserved for the gateway\'s own metrics; choose another name',
        'connectors::count::events::event.count::attributes: two attributes give the Prometheus label "event_name"',
      ],
    );
    assert.deepEqual(
      errorsOf(`${head}
connectors:
  count:
    events: { event.count: { attributes: [{ key: event.name }] } }
    spans: { span.count: { conditions: ['kind == SPAN_KIND_SERVER', 'severity_number > 1'] } }
  count/2:
    events:
      event.count: { attributes: [{ key: tenant }] }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [count, count/2] }
    metrics: { receivers: [count, count/2], exporters: [nop] }
`),
      [
        'connectors::count::spans::span.count::conditions::1: unknown path severity_number in the span context (known: name, kind, status.code, status.message, attributes["k"], resource.attributes["k"], instrumentation_scope.name, instrumentation_scope.version, instrumentation_scope.attributes["k"], trace_id.string, span_id.string, parent_span_id.string, trace_state) (at column 1)',
      ],
    );
    assert.deepEqual(
      errorsOf(`${head}
connectors:
  count:
    events: { event.count: { attributes: [{ key: event.name }] } }
    spans: { span.count: {} }
  count/2:
    events:
      event.count: { attributes: [{ key: tenant }] }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [count, count/2] }
    metrics: { receivers: [count, count/2], exporters: [nop] }
`),
      [
        'connectors::count/2::events::event.count::attributes: the Prometheus metric "event_count" is also defined at connectors::count::events::event.count with other attributes (event_name); one name, one set of attributes',
        'connectors::count::spans: counts spans, but no pipeline that exports to this connector carries them (it is given events)',
      ],
    );
  });

  it('an exporter\'s consent requirement applies to events only', () => {
    assert.deepEqual(
      errorsOf(`
receivers: { otlp: }
processors: { analytics: }
exporters: { file/a: { path: /tmp/a.jsonl, consent: analytics } }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [file/a] }
    traces: { receivers: [otlp], exporters: [file/a] }
`),
      ['exporters::file/a::consent: applies to events, but exporter "file/a" is also used in the traces pipeline "traces"; use a separate exporter there'],
    );
    assert.deepEqual(
      errorsOf(`
receivers: { otlp: }
processors: { analytics: }
exporters: { file/a: { path: /tmp/a.jsonl, consent: { all: [analytics], any: [] } }, file/b: { path: /tmp/b.jsonl, consent: {} } }
service: { pipelines: { events: { receivers: [otlp], processors: [analytics], exporters: [file/a, file/b] } } }
`),
      ['exporters::file/a::consent::any: at least one consent purpose is required', 'exporters::file/b::consent: needs all or any (or both)'],
    );
  });

  it('a batch processor before a connector batches for the exporters of the pipelines it feeds', () => {
    const cfg = resolveConfig(
      parseConfigText(
        `${head}
connectors: { forward: }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics, batch], exporters: [forward] }
    events/a: { receivers: [forward], exporters: [file/a] }
`,
        't',
      ),
      defaultRegistry(),
    );
    assert.deepEqual(cfg.exporterBatching.get('file/a'), { flush_timeout: 200, min_size: 8192, max_size: 0 });
    assert.deepEqual(cfg.connections.get('forward'), { from: ['events'], to: ['events/a'], links: new Map([['events', ['events/a']]]) });
  });

  it('otelytics validate reports every connector error with its path and exits 1', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-validate-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(
      file,
      `${head}
connectors:
  forward: {}
  routing: { table: [{ condition: 'name == "a" and Unknown()', pipelines: [events/a] }] }
service:
  pipelines:
    events: { receivers: [otlp], processors: [analytics], exporters: [forward, routing] }
    events/a: { receivers: [routing], exporters: [file/a] }
`,
    );
    const r = spawnSync(process.execPath, [cliPath, 'validate', '--config', file], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.trim().split('\n'), [
      'otelytics: invalid configuration (2 errors):',
      '  service::pipelines::events::exporters::0: connector "forward" is used as an exporter here but is the receiver of no pipeline; a connector must be used on both sides: list it under the receivers of the pipelines it feeds',
      '  connectors::routing::table::0::condition: unsupported function Unknown (supported: IsMatch, IsString, IsInt, IsDouble, IsBool, IsMap, IsList) (at column 17)',
    ]);
  });
});
