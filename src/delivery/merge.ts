/**
 * Merging and splitting payloads by item count, keeping resource and scope grouping: how the
 * sending queue's batcher (`sending_queue::batch`, ./batcher.ts) turns queued requests into batches.
 */
import type { Payload } from '../component.js';
import type { AnalyticsEvent } from '../event.js';
import { EncodedTraces } from '../otlp/encoded.js';
import type { ResourceLogs, ResourceSpans } from '../pdata.js';

/** Concatenates payloads of one signal (metrics bodies are concatenated protobuf messages). */
export function mergePayloads(list: Payload[]): Payload {
  if (list.length === 1) return list[0]!;
  const first = list[0]!;
  switch (first.signal) {
    case 'events': {
      // A plain copy loop: flatMap over a batch of 8192 events costs several times as much.
      const data: AnalyticsEvent[] = [];
      for (const p of list) {
        if (p.signal !== 'events') continue;
        for (let i = 0; i < p.data.length; i++) data.push(p.data[i]!);
      }
      return { signal: 'events', data };
    }
    case 'traces': {
      // Requests still in their protobuf bytes merge as bytes: repeated fields of concatenated
      // messages concatenate (protobuf encoding, "Concatenating messages").
      const bytes = list.map((p) => (p.data instanceof EncodedTraces ? p.data.bytes : undefined));
      if (bytes.every((b) => b !== undefined)) {
        const spans = list.reduce((n, p) => n + (p.data as EncodedTraces).spans, 0);
        return { signal: 'traces', data: new EncodedTraces(Buffer.concat(bytes as Uint8Array[]), spans) };
      }
      return { signal: 'traces', data: { resourceSpans: list.flatMap((p) => (p.signal === 'traces' ? p.data.resourceSpans : [])) } };
    }
    case 'logs':
      return { signal: 'logs', data: { resourceLogs: list.flatMap((p) => (p.signal === 'logs' ? p.data.resourceLogs : [])) } };
    case 'metrics': {
      // Repeated fields of concatenated protobuf messages concatenate (protobuf encoding spec, "Last One Wins" / merging).
      const parts = list.map((p) => (p.signal === 'metrics' ? p.data : undefined)!);
      return { signal: 'metrics', data: { ...parts[0]!, body: Buffer.concat(parts.map((m) => m.body)), dataPointCount: parts.reduce((n, m) => n + m.dataPointCount, 0) } };
    }
  }
}

/** Splits a payload into parts of at most `max` items (metrics are not split). */
export function splitPayload(p: Payload, max: number): Payload[] {
  switch (p.signal) {
    case 'events': {
      if (p.data.length <= max) return [p];
      const out: Payload[] = [];
      for (let i = 0; i < p.data.length; i += max) out.push({ signal: 'events', data: p.data.slice(i, i + max) });
      return out;
    }
    case 'traces':
      return splitNested(p.data.resourceSpans, max, (rs) => rs.scopeSpans, (ss) => ss.spans, (resourceSpans) => ({ signal: 'traces', data: { resourceSpans } }), (rs, scopeSpans) => ({ ...rs, scopeSpans }), (ss, spans) => ({ ...ss, spans }));
    case 'logs':
      return splitNested(p.data.resourceLogs, max, (rl) => rl.scopeLogs, (sl) => sl.logRecords, (resourceLogs) => ({ signal: 'logs', data: { resourceLogs } }), (rl, scopeLogs) => ({ ...rl, scopeLogs }), (sl, logRecords) => ({ ...sl, logRecords }));
    case 'metrics':
      return [p];
  }
}

function splitNested<R extends ResourceSpans | ResourceLogs, S, I>(
  resources: R[],
  max: number,
  scopesOf: (r: R) => S[],
  itemsOf: (s: S) => I[],
  wrap: (rs: R[]) => Payload,
  withScopes: (r: R, scopes: S[]) => R,
  withItems: (s: S, items: I[]) => S,
): Payload[] {
  let total = 0;
  for (const r of resources) for (const s of scopesOf(r)) total += itemsOf(s).length;
  if (total <= max) return [wrap(resources)];
  const out: Payload[] = [];
  let cur: R[] = [];
  let room = max;
  for (const r of resources) {
    let scopes: S[] = [];
    for (const s of scopesOf(r)) {
      let items = itemsOf(s);
      while (items.length > 0) {
        const take = items.slice(0, room);
        items = items.slice(room);
        scopes.push(withItems(s, take));
        room -= take.length;
        if (room === 0) {
          cur.push(withScopes(r, scopes));
          out.push(wrap(cur));
          cur = [];
          scopes = [];
          room = max;
        }
      }
    }
    if (scopes.length > 0) cur.push(withScopes(r, scopes));
  }
  if (cur.length > 0) out.push(wrap(cur));
  return out;
}
