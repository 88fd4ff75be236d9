/** EncodedTraces: traces kept as their request bytes until something reads the spans. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clonePayload, itemCount } from '../../src/component.js';
import { decodeTracesRequest, EncodedTraces, encodeTracesRequest } from '../../src/otlp/proto.js';
import { spanCount, type TracesData } from '../../src/pdata.js';
import { readFixture } from '../helpers.js';

const body = readFixture('traces-shop-01.pb');
const decoded = decodeTracesRequest(body);

describe('EncodedTraces', () => {
  it('encodes to its own bytes and counts spans without decoding', () => {
    const t = new EncodedTraces(body, spanCount(decoded));
    assert.equal(encodeTracesRequest(t), body, 'the same bytes, not a copy');
    assert.equal(itemCount({ signal: 'traces', data: t }), spanCount(decoded));
    assert.equal(t.bytes, body, 'still undecoded');
  });

  it('decodes on the first read of resourceSpans, then drops the bytes and encodes what was changed', () => {
    const t = new EncodedTraces(body, spanCount(decoded));
    assert.deepEqual(t.resourceSpans, decoded.resourceSpans);
    assert.equal(t.bytes, undefined);
    t.resourceSpans[0]!.scopeSpans[0]!.spans.pop();
    assert.equal(spanCount(t), spanCount(decoded) - 1, 'counted from the spans once decoded');
    assert.equal(spanCount(decodeTracesRequest(encodeTracesRequest(t))), spanCount(decoded) - 1);
  });

  it('clones independently for a mutating consumer of a fan-out, sharing bytes only while undecoded', () => {
    const original = new EncodedTraces(body, spanCount(decoded));
    const copy = clonePayload({ signal: 'traces', data: original }).data as TracesData;
    assert.ok(copy instanceof EncodedTraces && copy !== original);
    copy.resourceSpans[0]!.scopeSpans[0]!.spans.length = 0;
    assert.equal(original.bytes, body, 'the original is untouched and still encoded');
    assert.equal(spanCount(original), spanCount(decoded));

    const read = new EncodedTraces(body, spanCount(decoded));
    void read.resourceSpans;
    const deep = clonePayload({ signal: 'traces', data: read }).data as TracesData;
    deep.resourceSpans[0]!.scopeSpans[0]!.spans.length = 0;
    assert.equal(spanCount(read), spanCount(decoded), 'a decoded original is deep-copied');
  });
});
