/**
 * OTLP/JSON codec (OTLP specification, "JSON Protobuf Encoding":
 * https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
 *
 * The proto3 JSON mapping with OTLP's exceptions: trace and span ids are hex strings (not base64),
 * enums are integers, keys are lowerCamelCase. Decoding is lenient where the specification lets a
 * receiver be: snake_case proto field names are accepted, as are enum names
 * (`"SPAN_KIND_SERVER"`), 64-bit integers given as strings or numbers, `null` for an absent field,
 * and unknown fields (ignored). Everything else that does not fit the schema is an
 * `OtlpDecodeError` naming its JSON path, e.g.
 * `resourceSpans[0].scopeSpans[0].spans[2].attributes[1].value: expected an object`.
 *
 * Traces and logs decode into pdata (`../pdata.ts`), so a request reads the same whether it came
 * as protobuf or as JSON. Metrics are converted to their protobuf encoding (`MetricsData.body`).
 */
export { decodeTracesJson, encodeTracesJson } from './json/traces.js';
export { decodeLogsJson, encodeLogsJson } from './json/logs.js';
export { decodeMetricsJson } from './json/metrics.js';
export { encodeExportResponseJson, encodeStatusJson } from './json/response.js';
