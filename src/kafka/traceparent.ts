/**
 * W3C Trace Context headers on Kafka records, so a trace continues across the asynchronous hop.
 *
 * `traceparent` = `version "-" trace-id "-" parent-id "-" trace-flags`, lowercase hex, version 00
 * (W3C Trace Context Level 1, section 3.2): trace-id 32 hex digits and parent-id 16, neither all
 * zeros; version `ff` is invalid. `tracestate` (section 3.3) is carried as it was given.
 */

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** `traceparent` for a span context; undefined when the ids are not valid W3C ids. `flags`: W3C trace flags (bit 0 = sampled). */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string | undefined {
  if (!/^[0-9a-f]{32}$/.test(traceId) || traceId === ZERO_TRACE) return undefined;
  if (!/^[0-9a-f]{16}$/.test(spanId) || spanId === ZERO_SPAN) return undefined;
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Parses a `traceparent` header; undefined when it is malformed (section 3.2.2.x rules). */
export function parseTraceparent(header: string): { traceId: string; spanId: string; flags: number } | undefined {
  const m = TRACEPARENT_RE.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff') return undefined;
  // Version 00 has exactly four fields; later versions may append more.
  if (version === '00' && rest !== undefined) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, spanId: spanId!, flags: parseInt(flags!, 16) };
}

/**
 * W3C flags of an OTLP span or log record: the low 8 bits of its `flags` field
 * (opentelemetry-proto `SpanFlags`). Records exported by an SDK were recorded and sampled, so
 * when a producer left the field at 0 the sampled bit is set.
 */
export function w3cFlags(otlpFlags: number): number {
  const f = otlpFlags & 0xff;
  return f === 0 ? 1 : f;
}
