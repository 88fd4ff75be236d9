/**
 * Every `string` field of an ExportTraceServiceRequest and an ExportLogsServiceRequest, at every
 * level the OTLP messages nest it, for the tests of what the codecs do with bytes that are not
 * UTF-8: each case makes a request with a given text in that one field and names the field's
 * proto path as the decoder writes it. `withBytes` then puts other bytes in place of the text.
 */
import type { AnyValue, KeyValue, LogRecord, LogsData, Span, TracesData } from '../../src/pdata.js';
import { emptyResource, emptyScope, emptySpan } from '../../src/pdata.js';

export interface StringFieldCase<T> {
  /** The field's proto path, e.g. `resource_spans[0].scope_spans[0].spans[0].name`. */
  path: string;
  /** The request with `text` in this field (and valid ASCII elsewhere). */
  request(text: string): T;
}

const kv = (key: string, value: AnyValue): KeyValue => ({ key, value });
const str = (s: string): AnyValue => ({ stringValue: s });

function traces(over: { resource?: KeyValue[]; scope?: Partial<{ name: string; version: string; attributes: KeyValue[] }>; span?: Partial<Span>; rsSchema?: string; ssSchema?: string }): TracesData {
  const span: Span = { ...emptySpan(), traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'op', ...over.span };
  return {
    resourceSpans: [
      {
        resource: { ...emptyResource(), attributes: over.resource ?? [kv('service.name', str('shop'))] },
        scopeSpans: [{ scope: { ...emptyScope(), name: 'scope', ...over.scope }, spans: [span], schemaUrl: over.ssSchema ?? '' }],
        schemaUrl: over.rsSchema ?? '',
      },
    ],
  };
}

const SPAN = 'resource_spans[0].scope_spans[0].spans[0]';

export const TRACES_STRING_FIELDS: StringFieldCase<TracesData>[] = [
  { path: 'resource_spans[0].schema_url', request: (t) => traces({ rsSchema: t }) },
  { path: 'resource_spans[0].resource.attributes[1].key', request: (t) => traces({ resource: [kv('a', str('x')), kv(t, str('x'))] }) },
  { path: 'resource_spans[0].resource.attributes[0].value.string_value', request: (t) => traces({ resource: [kv('service.name', str(t))] }) },
  { path: 'resource_spans[0].scope_spans[0].schema_url', request: (t) => traces({ ssSchema: t }) },
  { path: 'resource_spans[0].scope_spans[0].scope.name', request: (t) => traces({ scope: { name: t } }) },
  { path: 'resource_spans[0].scope_spans[0].scope.version', request: (t) => traces({ scope: { version: t } }) },
  { path: 'resource_spans[0].scope_spans[0].scope.attributes[0].key', request: (t) => traces({ scope: { attributes: [kv(t, str('x'))] } }) },
  { path: `${SPAN}.trace_state`, request: (t) => traces({ span: { traceState: t } }) },
  { path: `${SPAN}.name`, request: (t) => traces({ span: { name: t } }) },
  { path: `${SPAN}.attributes[0].key`, request: (t) => traces({ span: { attributes: [kv(t, str('x'))] } }) },
  { path: `${SPAN}.attributes[1].value.string_value`, request: (t) => traces({ span: { attributes: [kv('a', { intValue: 1 }), kv('user.id', str(t))] } }) },
  { path: `${SPAN}.attributes[0].value.array_value.values[1].string_value`, request: (t) => traces({ span: { attributes: [kv('a', { arrayValue: { values: [str('x'), str(t)] } })] } }) },
  { path: `${SPAN}.attributes[0].value.kvlist_value.values[0].key`, request: (t) => traces({ span: { attributes: [kv('m', { kvlistValue: { values: [kv(t, str('x'))] } })] } }) },
  {
    path: `${SPAN}.attributes[0].value.kvlist_value.values[0].value.kvlist_value.values[0].value.string_value`,
    request: (t) => traces({ span: { attributes: [kv('m', { kvlistValue: { values: [kv('n', { kvlistValue: { values: [kv('o', str(t))] } })] } })] } }),
  },
  { path: `${SPAN}.events[0].name`, request: (t) => traces({ span: { events: [{ timeUnixNano: '1', name: t, attributes: [], droppedAttributesCount: 0 }] } }) },
  { path: `${SPAN}.events[1].attributes[0].key`, request: (t) => traces({ span: { events: ['e', 'f'].map((name, i) => ({ timeUnixNano: '1', name, attributes: i ? [kv(t, str('x'))] : [], droppedAttributesCount: 0 })) } }) },
  { path: `${SPAN}.links[0].trace_state`, request: (t) => traces({ span: { links: [{ traceId: '', spanId: '', traceState: t, attributes: [], droppedAttributesCount: 0, flags: 0 }] } }) },
  { path: `${SPAN}.links[0].attributes[0].value.string_value`, request: (t) => traces({ span: { links: [{ traceId: '', spanId: '', traceState: '', attributes: [kv('a', str(t))], droppedAttributesCount: 0, flags: 0 }] } }) },
  { path: `${SPAN}.status.message`, request: (t) => traces({ span: { status: { code: 2, message: t } } }) },
];

function logs(over: { record?: Partial<LogRecord>; scopeName?: string; rlSchema?: string }): LogsData {
  const record: LogRecord = {
    timeUnixNano: '1',
    observedTimeUnixNano: '0',
    severityNumber: 9,
    severityText: 'INFO',
    body: {},
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: 'cart.item_added',
    ...over.record,
  };
  const others: LogRecord[] = [1, 2].map(() => ({ ...record, ...over.record, severityText: 'INFO', body: {}, attributes: [], eventName: 'e' }));
  return {
    resourceLogs: [
      {
        resource: emptyResource(),
        scopeLogs: [{ scope: { ...emptyScope(), name: over.scopeName ?? 'cart' }, logRecords: [...others, record], schemaUrl: '' }],
        schemaUrl: over.rlSchema ?? '',
      },
    ],
  };
}

const RECORD = 'resource_logs[0].scope_logs[0].log_records[2]';

export const LOGS_STRING_FIELDS: StringFieldCase<LogsData>[] = [
  { path: 'resource_logs[0].schema_url', request: (t) => logs({ rlSchema: t }) },
  { path: 'resource_logs[0].scope_logs[0].scope.name', request: (t) => logs({ scopeName: t }) },
  { path: `${RECORD}.severity_text`, request: (t) => logs({ record: { severityText: t } }) },
  { path: `${RECORD}.body.string_value`, request: (t) => logs({ record: { body: str(t) } }) },
  { path: `${RECORD}.body.kvlist_value.values[0].key`, request: (t) => logs({ record: { body: { kvlistValue: { values: [kv(t, str('x'))] } } } }) },
  { path: `${RECORD}.attributes[1].key`, request: (t) => logs({ record: { attributes: [kv('a', str('x')), kv(t, str('x'))] } }) },
  { path: `${RECORD}.attributes[1].value.string_value`, request: (t) => logs({ record: { attributes: [kv('product.sku', str('x')), kv('user.id', str(t))] } }) },
  { path: `${RECORD}.event_name`, request: (t) => logs({ record: { eventName: t } }) },
];

/** `bytes` with each occurrence of the UTF-8 of `marker` replaced by `replacement`, of the same length. */
export function withBytes(bytes: Uint8Array, marker: string, replacement: readonly number[]): Buffer {
  const m = Buffer.from(marker);
  if (m.length !== replacement.length) throw new Error('the replacement must be as long as the marker');
  const out = Buffer.from(bytes);
  let found = 0;
  for (let at = out.indexOf(m); at >= 0; at = out.indexOf(m, at + m.length)) {
    out.set(replacement, at);
    found++;
  }
  if (found === 0) throw new Error(`marker ${JSON.stringify(marker)} not found`);
  return out;
}

/**
 * Byte sequences that are not UTF-8, each with a marker of its length: a truncated two-byte
 * sequence, a lone continuation byte, overlong forms, an encoded surrogate, a code point above
 * U+10FFFF, a byte that never occurs in UTF-8, and a sequence cut short at the end.
 */
export const INVALID_UTF8: readonly (readonly number[])[] = [
  [0x75, 0x2d, 0xc3, 0x28], // u-Ã(
  [0x75, 0x2d, 0x80, 0x31],
  [0xc0, 0xaf, 0x31, 0x32], // overlong '/'
  [0xe0, 0x80, 0xaf, 0x31], // overlong '/', three bytes
  [0xed, 0xa0, 0x80, 0x31], // U+D800
  [0xf4, 0x90, 0x80, 0x80], // U+110000
  [0x31, 0x32, 0x33, 0xff],
  [0x31, 0x32, 0xe2, 0x82], // '€' cut short
];
