/**
 * The projection of trace requests (`projectTraces`): for every request the validating scan
 * accepts, each span's kind, status, name, ids, times and the attributes asked for (on the span
 * and on its resource) are what `decodeTracesRequest` gives. Checked on the SDK fixtures, on
 * generated requests (fields in any order, repeated fields and keys, merged resources and
 * statuses, unknown fields and groups, every AnyValue type) and on mutated fixtures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OtlpDecodeError } from '../../src/errors.js';
import { AttributeKeys, projectTraces } from '../../src/otlp/proto/project.js';
import { scanTracesRequest } from '../../src/otlp/proto/scan.js';
import { decodeTracesRequest } from '../../src/otlp/proto/traces.js';
import { findAttribute, type AnyValue, type KeyValue } from '../../src/pdata.js';
import { fixtureBodyPlain, fixtureManifest } from '../helpers.js';
import { mutate, mutation } from '../fuzz/mutate.js';
import { GENERATED_KEYS, len, tracesRequest } from '../fuzz/traces.js';

const SEED = Number(process.env.OTELYTICS_FUZZ_SEED ?? 20240611);
const runs = (n: number) => ({ numRuns: n, seed: SEED });

interface Seen {
  kind: number;
  statusCode: number;
  statusMessage: string;
  name: string;
  traceId: string;
  spanId: string;
  start: string;
  end: string;
  attrs: (AnyValue | undefined)[];
  resource: (AnyValue | undefined)[];
}

function projected(body: Uint8Array, keys: readonly string[]): Seen[] {
  const seen: Seen[] = [];
  projectTraces(body, new AttributeKeys(keys), (s) =>
    seen.push({
      kind: s.kind,
      statusCode: s.statusCode,
      statusMessage: s.statusMessage(),
      name: s.name(),
      traceId: s.traceId(),
      spanId: s.spanId(),
      start: s.startTimeUnixNano(),
      end: s.endTimeUnixNano(),
      attrs: [...s.attrs],
      resource: [...s.resource],
    }),
  );
  return seen;
}

function decoded(body: Uint8Array, keys: readonly string[]): Seen[] {
  const byKey = (attrs: KeyValue[]) => keys.map((k) => findAttribute(attrs, k));
  return decodeTracesRequest(body).resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((s) => ({
        kind: s.kind,
        statusCode: s.status.code,
        statusMessage: s.status.message,
        name: s.name,
        traceId: s.traceId,
        spanId: s.spanId,
        start: s.startTimeUnixNano,
        end: s.endTimeUnixNano,
        attrs: byKey(s.attributes),
        resource: byKey(rs.resource.attributes),
      })),
    ),
  );
}

/** When the scan accepts `body`, projection and decoder agree on it; returns whether it was accepted. */
function assertAgree(body: Uint8Array, keys: readonly string[]): boolean {
  try {
    scanTracesRequest(body);
  } catch {
    return false;
  }
  assert.deepEqual(projected(body, keys), decoded(body, keys), Buffer.from(body).toString('hex').slice(0, 400));
  return true;
}

describe('projectTraces', () => {
  it('gives what the decoder gives on the SDK fixtures (every attribute key of the request, and absent ones)', () => {
    const fixtures = fixtureManifest().filter((f) => f.signal === 'traces' && f.path.endsWith('.pb'));
    assert.ok(fixtures.length >= 2);
    for (const f of fixtures) {
      const body = fixtureBodyPlain(f);
      const data = decodeTracesRequest(body);
      const keys = new Set(['no.such.key', 'http']);
      for (const rs of data.resourceSpans) {
        for (const kv of rs.resource.attributes) keys.add(kv.key);
        for (const ss of rs.scopeSpans) for (const s of ss.spans) for (const kv of s.attributes) keys.add(kv.key);
      }
      assert.ok(keys.size > 10, f.path);
      const seen = projected(body, [...keys]);
      assert.equal(seen.length, scanTracesRequest(body).spans);
      assert.deepEqual(seen, decoded(body, [...keys]), f.path);
    }
  });

  it('gives what the decoder gives on generated requests: any field order, repeats, merged resources, unknown fields', () => {
    let spans = 0;
    fc.assert(
      fc.property(tracesRequest, (body) => {
        assert.ok(assertAgree(body, GENERATED_KEYS), 'generated requests are valid');
        spans += scanTracesRequest(body).spans;
      }),
      runs(2000),
    );
    assert.ok(spans > 2000, `${spans} spans generated`);
  });

  it('gives what the decoder gives on every mutated fixture the scan accepts', () => {
    const bodies = fixtureManifest()
      .filter((f) => f.signal === 'traces' && f.path.endsWith('.pb'))
      .map((f) => fixtureBodyPlain(f));
    const keys = ['http.route', 'http.request.method', 'url.path', 'service.name', 'enduser.id', 'session.id'];
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...bodies), fc.array(mutation, { minLength: 1, maxLength: 3 }), (body, ms) => {
        if (assertAgree(mutate(body, ms), keys)) accepted++;
      }),
      runs(1500),
    );
    assert.ok(accepted > 50, `only ${accepted} mutated bodies were accepted`);
  });

  it('never decodes a string with replacement characters: on bytes the scan did not check, invalid UTF-8 is refused when read', () => {
    const bad = Buffer.from([0x75, 0x2d, 0xc3, 0x28]);
    const body = len(1, len(2, len(2, len(5, bad), len(15, len(2, bad)))));
    assert.throws(() => scanTracesRequest(body), /spans\[0\]\.name: invalid UTF-8/);
    let spans = 0;
    projectTraces(body, new AttributeKeys(['user.id']), (s) => {
      spans++;
      assert.throws(() => s.name(), (err: unknown) => err instanceof OtlpDecodeError && err.message === 'span name: invalid UTF-8');
      assert.throws(() => s.statusMessage(), (err: unknown) => err instanceof OtlpDecodeError && err.message === 'span status message: invalid UTF-8');
    });
    assert.equal(spans, 1);
    // An attribute asked for is read with its span: the walk stops there.
    const withValue = len(1, len(2, len(2, len(9, len(1, Buffer.from('user.id')), len(2, len(1, bad))))));
    assert.throws(() => projectTraces(withValue, new AttributeKeys(['user.id']), () => assert.fail('no span is handed over')), (err: unknown) => err instanceof OtlpDecodeError && err.message === 'attribute value: invalid UTF-8');
    const nested = len(1, len(2, len(2, len(9, len(1, Buffer.from('user.id')), len(2, len(5, len(1, len(1, bad))))))));
    assert.throws(() => projectTraces(nested, new AttributeKeys(['user.id']), () => assert.fail('no span is handed over')), /string_value: invalid UTF-8/);
  });

  it('takes the first of a repeated attribute key, and the last key and value within one KeyValue', () => {
    const str = (value: string) => len(2, len(1, Buffer.from(value)));
    const kv = (key: string, value: string) => Buffer.concat([len(1, Buffer.from(key)), str(value)]);
    const lastWins = Buffer.concat([len(1, Buffer.from('x')), len(1, Buffer.from('b')), str('v1'), str('v2')]);
    const body = len(1, len(2, len(2, len(9, kv('a', 'first')), len(9, kv('a', 'second')), len(9, lastWins))));
    const [s] = projected(body, ['a', 'b', 'x']);
    assert.deepEqual(s!.attrs, [{ stringValue: 'first' }, { stringValue: 'v2' }, undefined]);
  });
});
