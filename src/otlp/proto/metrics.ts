/**
 * OTLP/protobuf metrics: an `ExportMetricsServiceRequest` (`collector/metrics/v1/metrics_service.proto`,
 * `metrics/v1/metrics.proto`) is validated and its data points counted; the bytes stay opaque.
 */
import type { MetricsData } from '../../pdata.js';
import { F_RESOURCE, F_SCOPE, readRequest } from './common.js';
import { enter, fieldNo, leave, names, readTag, skip, skipMessage, type FieldNames, type Reader } from './reader.js';

const F_METRICS_REQ = names({ 1: 'resource_metrics' });
const F_RESOURCE_METRICS = names({ 1: 'resource', 2: 'scope_metrics', 3: 'schema_url' });
const F_SCOPE_METRICS = names({ 1: 'scope', 2: 'metrics', 3: 'schema_url' });
const F_METRIC = names({
  1: 'name', 2: 'description', 3: 'unit', 5: 'gauge', 7: 'sum', 9: 'histogram', 10: 'exponential_histogram',
  11: 'summary', 12: 'metadata',
});
const F_POINTS = names({ 1: 'data_points', 2: 'aggregation_temporality', 3: 'is_monotonic' });
const F_DATA_POINT: FieldNames = [];

function countPoints(r: Reader): number {
  let n = 0;
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 1) {
      const saved = enter(r, wt, 'data_points', n, F_DATA_POINT);
      skipMessage(r);
      leave(r, saved);
      n++;
    } else skip(r, wt);
  }
  return n;
}

const METRIC_KINDS: Record<number, string> = {
  5: 'gauge',
  7: 'sum',
  9: 'histogram',
  10: 'exponential_histogram',
  11: 'summary',
};

function countMetric(r: Reader): number {
  let n = 0;
  while (r.pos < r.len) {
    const wt = readTag(r);
    const kind = METRIC_KINDS[fieldNo];
    if (kind !== undefined) {
      const saved = enter(r, wt, kind, -1, F_POINTS);
      n += countPoints(r);
      leave(r, saved);
    } else skip(r, wt);
  }
  return n;
}

/**
 * Walks the body of a `ResourceMetrics` or `ScopeMetrics`: field 1 (`headName`) is checked and
 * skipped, each element of field 2 (`itemName`) is counted by `countItem`; returns the sum.
 */
function countGroup(r: Reader, headName: string, headFields: FieldNames, itemName: string, itemFields: FieldNames, countItem: (r: Reader) => number): number {
  let n = 0;
  let i = 0;
  while (r.pos < r.len) {
    const wt = readTag(r);
    if (fieldNo === 2) {
      const saved = enter(r, wt, itemName, i++, itemFields);
      n += countItem(r);
      leave(r, saved);
    } else if (fieldNo === 1) {
      const saved = enter(r, wt, headName, -1, headFields);
      skipMessage(r);
      leave(r, saved);
    } else skip(r, wt);
  }
  return n;
}

const countScopeMetrics = (r: Reader): number => countGroup(r, 'scope', F_SCOPE, 'metrics', F_METRIC, countMetric);
const countResourceMetrics = (r: Reader): number =>
  countGroup(r, 'resource', F_RESOURCE, 'scope_metrics', F_SCOPE_METRICS, countScopeMetrics);

/**
 * Validates an `ExportMetricsServiceRequest` (`opentelemetry.proto.collector.metrics.v1`) and
 * counts its data points (`ResourceMetrics.scope_metrics` → `ScopeMetrics.metrics` → the
 * `gauge`/`sum`/`histogram`/`exponential_histogram`/`summary` of each `Metric` → `data_points`).
 *
 * Returns `{ body: buf, dataPointCount }`; `body` is the input itself, not a copy. The framing of
 * every message down to the data points' own fields is checked; field contents are not.
 *
 * @throws OtlpDecodeError naming the proto path, for malformed framing.
 */
export function decodeMetricsRequest(buf: Uint8Array): MetricsData {
  const counts: number[] = [];
  readRequest(buf, F_METRICS_REQ, 'resource_metrics', F_RESOURCE_METRICS, countResourceMetrics, counts);
  let n = 0;
  for (const c of counts) n += c;
  return { body: buf, dataPointCount: n };
}
