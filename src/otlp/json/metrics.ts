/**
 * OTLP/JSON metrics: an `ExportMetricsServiceRequest` is converted to its protobuf encoding by a
 * walk over a schema of `metrics/v1/metrics.proto`, counting data points on the way.
 */
import type { MetricsData } from '../../pdata.js';
import { createWriter, tag, writeFixed64, writeId, writeKeyValues, writeResource, writeScope, writeSfixed64, writeUint64, type Writer } from '../proto/writer.js';
import { I64, LEN, VARINT } from '../wire.js';
import { guard, keyValues, parseRoot, resource, scope } from './common.js';
import { asArray, asObject, dbl, enumValue, fail, get, hexId, i32, i64, path, str, u32, u64, type Obj } from './values.js';

const TEMPORALITIES: Record<string, number> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

/** How a metrics field is written (`opentelemetry/proto/metrics/v1/metrics.proto`). */
type Kind =
  | 'string'
  | 'bool'
  | 'uint32'
  | 'sint32'
  | 'enum'
  | 'fixed64'
  | 'sfixed64'
  | 'double'
  | 'traceId'
  | 'spanId'
  | 'attributes'
  | 'resource'
  | 'scope'
  | 'message'
  | 'packedFixed64'
  | 'packedUint64'
  | 'packedDouble';

interface FieldSpec {
  json: string;
  snake: string;
  no: number;
  kind: Kind;
  /** Written even when default-valued (oneof members, `optional` fields, message presence). */
  presence?: boolean;
  repeated?: boolean;
  message?: readonly FieldSpec[];
  enumNames?: Readonly<Record<string, number>>;
  /** The elements of this field are data points (counted). */
  points?: boolean;
}

function f(json: string, no: number, kind: Kind, extra: Partial<FieldSpec> = {}): FieldSpec {
  const snake = json.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return { json, snake, no, kind, ...extra };
}

const EXEMPLAR = [
  f('timeUnixNano', 2, 'fixed64'),
  f('asDouble', 3, 'double', { presence: true }),
  f('spanId', 4, 'spanId'),
  f('traceId', 5, 'traceId'),
  f('asInt', 6, 'sfixed64', { presence: true }),
  f('filteredAttributes', 7, 'attributes'),
];
const NUMBER_POINT = [
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('asDouble', 4, 'double', { presence: true }),
  f('exemplars', 5, 'message', { repeated: true, message: EXEMPLAR }),
  f('asInt', 6, 'sfixed64', { presence: true }),
  f('attributes', 7, 'attributes'),
  f('flags', 8, 'uint32'),
];
const HISTOGRAM_POINT = [
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('count', 4, 'fixed64'),
  f('sum', 5, 'double', { presence: true }),
  f('bucketCounts', 6, 'packedFixed64'),
  f('explicitBounds', 7, 'packedDouble'),
  f('exemplars', 8, 'message', { repeated: true, message: EXEMPLAR }),
  f('attributes', 9, 'attributes'),
  f('flags', 10, 'uint32'),
  f('min', 11, 'double', { presence: true }),
  f('max', 12, 'double', { presence: true }),
];
const BUCKETS = [f('offset', 1, 'sint32'), f('bucketCounts', 2, 'packedUint64')];
const EXP_HISTOGRAM_POINT = [
  f('attributes', 1, 'attributes'),
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('count', 4, 'fixed64'),
  f('sum', 5, 'double', { presence: true }),
  f('scale', 6, 'sint32'),
  f('zeroCount', 7, 'fixed64'),
  f('positive', 8, 'message', { message: BUCKETS, presence: true }),
  f('negative', 9, 'message', { message: BUCKETS, presence: true }),
  f('flags', 10, 'uint32'),
  f('exemplars', 11, 'message', { repeated: true, message: EXEMPLAR }),
  f('min', 12, 'double', { presence: true }),
  f('max', 13, 'double', { presence: true }),
  f('zeroThreshold', 14, 'double'),
];
const QUANTILE = [f('quantile', 1, 'double'), f('value', 2, 'double')];
const SUMMARY_POINT = [
  f('startTimeUnixNano', 2, 'fixed64'),
  f('timeUnixNano', 3, 'fixed64'),
  f('count', 4, 'fixed64'),
  f('sum', 5, 'double'),
  f('quantileValues', 6, 'message', { repeated: true, message: QUANTILE }),
  f('attributes', 7, 'attributes'),
  f('flags', 8, 'uint32'),
];
const points = (message: readonly FieldSpec[]): FieldSpec =>
  f('dataPoints', 1, 'message', { repeated: true, message, points: true });
const temporality = f('aggregationTemporality', 2, 'enum', { enumNames: TEMPORALITIES });
const METRIC = [
  f('name', 1, 'string'),
  f('description', 2, 'string'),
  f('unit', 3, 'string'),
  f('gauge', 5, 'message', { presence: true, message: [points(NUMBER_POINT)] }),
  f('sum', 7, 'message', { presence: true, message: [points(NUMBER_POINT), temporality, f('isMonotonic', 3, 'bool')] }),
  f('histogram', 9, 'message', { presence: true, message: [points(HISTOGRAM_POINT), temporality] }),
  f('exponentialHistogram', 10, 'message', { presence: true, message: [points(EXP_HISTOGRAM_POINT), temporality] }),
  f('summary', 11, 'message', { presence: true, message: [points(SUMMARY_POINT)] }),
  f('metadata', 12, 'attributes'),
];
const SCOPE_METRICS = [
  f('scope', 1, 'scope'),
  f('metrics', 2, 'message', { repeated: true, message: METRIC }),
  f('schemaUrl', 3, 'string'),
];
const RESOURCE_METRICS = [
  f('resource', 1, 'resource'),
  f('scopeMetrics', 2, 'message', { repeated: true, message: SCOPE_METRICS }),
  f('schemaUrl', 3, 'string'),
];
const METRICS_REQUEST = [f('resourceMetrics', 1, 'message', { repeated: true, message: RESOURCE_METRICS })];

/** Writes the JSON object `o` as the fields of a message of schema `spec`. */
function writeMessageJson(w: Writer, spec: readonly FieldSpec[], o: Obj): void {
  for (const fs of spec) {
    const v = get(o, fs.json, fs.snake);
    if (v === undefined) continue;
    const key = fs.json;
    const no = fs.no;
    switch (fs.kind) {
      case 'string': {
        const s = str(v, key);
        if (s || fs.presence) w.uint32(tag(no, LEN)).string(s);
        break;
      }
      case 'bool':
        if (typeof v !== 'boolean') fail(key, 'expected a boolean');
        if (v || fs.presence) w.uint32(tag(no, VARINT)).bool(v);
        break;
      case 'uint32': {
        const n = u32(v, key);
        if (n || fs.presence) w.uint32(tag(no, VARINT)).uint32(n);
        break;
      }
      case 'sint32': {
        const n = i32(v, key);
        if (n || fs.presence) w.uint32(tag(no, VARINT)).sint32(n);
        break;
      }
      case 'enum': {
        const n = enumValue(v, key, fs.enumNames ?? {});
        if (n || fs.presence) w.uint32(tag(no, VARINT)).int32(n);
        break;
      }
      case 'fixed64': {
        const s = u64(v, key);
        if (s !== '0' || fs.presence) {
          w.uint32(tag(no, I64));
          writeFixed64(w, s);
        }
        break;
      }
      case 'sfixed64': {
        const n = i64(v, key);
        if (n !== 0 || fs.presence) {
          w.uint32(tag(no, I64));
          writeSfixed64(w, n);
        }
        break;
      }
      case 'double': {
        const n = dbl(v, key);
        if (n !== 0 || Object.is(n, -0) || fs.presence) w.uint32(tag(no, I64)).double(n);
        break;
      }
      case 'traceId':
        writeId(w, no, hexId(v, key, 16), 16);
        break;
      case 'spanId':
        writeId(w, no, hexId(v, key, 8), 8);
        break;
      case 'attributes':
        writeKeyValues(w, no, keyValues(v, key, 1));
        break;
      case 'resource':
        writeResource(w, no, resource(v, key));
        break;
      case 'scope':
        writeScope(w, no, scope(v, key));
        break;
      case 'message':
        if (fs.repeated) {
          const list = asArray(v, key);
          path.push(key);
          for (let i = 0; i < list.length; i++) {
            path.push(i);
            const item = asObject(list[i], undefined);
            w.uint32(tag(no, LEN)).fork();
            writeMessageJson(w, fs.message!, item);
            w.ldelim();
            path.pop();
          }
          path.pop();
          if (fs.points) pointCount += list.length;
        } else {
          const item = asObject(v, key);
          path.push(key);
          w.uint32(tag(no, LEN)).fork();
          writeMessageJson(w, fs.message!, item);
          w.ldelim();
          path.pop();
        }
        break;
      case 'packedFixed64':
      case 'packedUint64':
      case 'packedDouble': {
        const list = asArray(v, key);
        if (list.length === 0) break;
        path.push(key);
        w.uint32(tag(no, LEN)).fork();
        for (let i = 0; i < list.length; i++) {
          path.push(i);
          if (fs.kind === 'packedDouble') w.double(dbl(list[i], ''));
          else if (fs.kind === 'packedFixed64') writeFixed64(w, u64(list[i], ''));
          else writeUint64(w, u64(list[i], ''));
          path.pop();
        }
        w.ldelim();
        path.pop();
        break;
      }
    }
  }
}

let pointCount = 0;

/**
 * Decodes an OTLP/JSON `ExportMetricsServiceRequest` and converts it to its protobuf encoding.
 *
 * Returns `{ body, dataPointCount }` like `decodeMetricsRequest`: `body` is the protobuf
 * `ExportMetricsServiceRequest` (fields at their proto3 default omitted; unknown JSON fields
 * dropped), `dataPointCount` the number of data points of every metric.
 *
 * @throws OtlpDecodeError for invalid JSON or a malformed value, naming its JSON path; for a body
 *   that is not UTF-8 or a string with a lone surrogate (see `decodeTracesJson`).
 */
export function decodeMetricsJson(text: string | Uint8Array): MetricsData {
  return guard(() => {
    const root = parseRoot(text);
    pointCount = 0;
    const w = createWriter();
    writeMessageJson(w, METRICS_REQUEST, root);
    const body = w.finish();
    return { body, dataPointCount: pointCount };
  });
}
