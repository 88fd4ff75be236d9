/** Request bodies for benchmarks: the shop fixture's spans scaled up to a target size. */
import fs from 'node:fs';
import path from 'node:path';
import { decodeTracesRequest, encodeTracesRequest } from '../src/otlp/proto.js';
import { spanCount, type Span, type TracesData } from '../src/pdata.js';
import { fixturesDir } from '../test/helpers.js';

/** The fixture's spans repeated (with fresh span ids) until a request holds at least `target`. */
export function scaledTracesBody(target: number, variant: number): { body: Buffer; spans: number } {
  const base = decodeTracesRequest(fs.readFileSync(path.join(fixturesDir, 'traces-shop-02.pb')));
  const spans: Span[] = base.resourceSpans[0]!.scopeSpans.flatMap((s) => s.spans);
  const out: Span[] = [];
  for (let copy = 0; out.length < target; copy++) {
    for (const s of spans) {
      const id = (variant * 1_000_003 + copy * 4099 + out.length).toString(16).padStart(16, '0').slice(-16);
      out.push({ ...s, spanId: id });
    }
  }
  const data: TracesData = { resourceSpans: [{ ...base.resourceSpans[0]!, scopeSpans: [{ ...base.resourceSpans[0]!.scopeSpans[0]!, spans: out }] }] };
  return { body: Buffer.from(encodeTracesRequest(data)), spans: spanCount(data) };
}

