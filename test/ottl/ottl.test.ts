/**
 * The OTTL subset: parsing (grammar, precedence, literals, what is refused and where), compiling
 * against the contexts (paths, enums, functions), and OTTL's comparison rules when evaluated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../src/event.js';
import { compileCondition, compileStatementCondition, OttlError, OttlRuntimeError } from '../../src/ottl/compile.js';
import { eventContext, logContext, resourceContext, spanContext, type LogItem, type SpanItem } from '../../src/ottl/contexts.js';
import { parseCondition, parseStatement } from '../../src/ottl/parse.js';
import { emptyScope, emptySpan, fromJsonValue, type LogRecord } from '../../src/pdata.js';

/** The message and column of the error `f` throws. */
function errorOf(f: () => unknown): { detail: string; column: number } {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof OttlError, String(err));
    return { detail: err.detail, column: err.column };
  }
  assert.fail('no error');
}

const attrs = (o: Record<string, unknown>) => Object.entries(o).map(([key, v]) => ({ key, value: fromJsonValue(v) }));

function spanItem(span: Partial<ReturnType<typeof emptySpan>>, attributes: Record<string, unknown> = {}, resource: Record<string, unknown> = {}): SpanItem {
  return { span: { ...emptySpan(), ...span, attributes: attrs(attributes) }, scope: { ...emptyScope(), name: 'shop' }, resource: { attributes: attrs(resource), droppedAttributesCount: 0 } };
}

function logItem(log: Partial<LogRecord>, resource: Record<string, unknown> = {}): LogItem {
  const base: LogRecord = { timeUnixNano: '0', observedTimeUnixNano: '0', severityNumber: 0, severityText: '', body: {}, attributes: [], droppedAttributesCount: 0, flags: 0, traceId: '', spanId: '', eventName: '' };
  return { log: { ...base, ...log }, scope: emptyScope(), resource: { attributes: attrs(resource), droppedAttributesCount: 0 } };
}

const event = (e: Partial<AnalyticsEvent>): AnalyticsEvent => ({ name: 'view_item', time_unix_nano: '1', insert_id: 'i', properties: {}, context: { source: 'span' }, ...e });

describe('OTTL parser', () => {
  it('parses conditions with not > and > or precedence and parentheses', () => {
    assert.deepEqual(parseCondition('true or false and not true'), {
      type: 'or',
      items: [{ type: 'bool', value: true }, { type: 'and', items: [{ type: 'bool', value: false }, { type: 'not', expr: { type: 'bool', value: true } }] }],
    });
    const grouped = parseCondition('(true or false) and true');
    assert.equal(grouped.type, 'and');
  });

  it('reads literals: strings with \\" and \\\\ (other escapes kept), signed ints and floats, bytes, nil, lists', () => {
    const c = parseCondition('attributes["a"] == "say \\"hi\\" \\\\ \\d"');
    assert.equal(c.type, 'compare');
    assert.deepEqual(c.type === 'compare' && c.right, { type: 'literal', value: 'say "hi" \\ \\d', int: false, pos: 20 });
    const values = ['-1', '+2', '1.5', '-.5', '0x0aff', 'nil', '["a", 1]'].map((v) => {
      const x = parseCondition(`name == ${v}`);
      return x.type === 'compare' ? x.right : undefined;
    });
    assert.deepEqual(values.map((v) => v?.type === 'literal' && [v.value, v.int]), [[-1, true], [2, true], [1.5, false], [-0.5, false], [Uint8Array.from([10, 255]), false], [null, false], false]);
    assert.equal(values[6]?.type, 'list');
  });

  it('reads paths with a context prefix, nested keys and int keys; converters; enums', () => {
    const c = parseCondition('IsMatch(resource.attributes["host.name"]["x"][0], "pod-.*") and kind == SPAN_KIND_SERVER');
    assert.equal(c.type, 'and');
    const [call, cmp] = c.type === 'and' ? c.items : [];
    assert.equal(call?.type, 'call');
    assert.deepEqual(call?.type === 'call' && call.call.args[0], { type: 'path', fields: [{ name: 'resource', keys: [] }, { name: 'attributes', keys: ['host.name', 'x', 0] }], text: 'resource.attributes["host.name"]["x"][0]', pos: 9 });
    assert.deepEqual(cmp?.type === 'compare' && cmp.right, { type: 'enum', name: 'SPAN_KIND_SERVER', pos: 73 });
  });

  it('parses route() statements with and without where', () => {
    assert.equal(parseStatement('route()').where, undefined);
    assert.equal(parseStatement('route() where attributes["X-Tenant"] == "acme"').where?.type, 'compare');
    assert.equal(parseStatement('route() where attributes["X-Tenant"] == "acme"').editor.name, 'route');
  });

  it('refuses what it does not support, naming the column', () => {
    const cases: [string, RegExp, number][] = [
      ['attributes["a"] + 1 == 2', /math expressions/, 17],
      ['attributes["a"] == {"k": 1}', /map literals/, 20],
      ['IsMatch(target="x", pattern="y")', /named arguments/, 9],
      ['attributes["a"]', /a path is not a condition by itself/, 1],
      ['attributes["a"] == "x" attributes["b"] == "y"', /join conditions with "and" or "or"/, 24],
      ['name == "unterminated', /unterminated string literal/, 9],
      ['name == 0xabc', /even number of hex digits/, 9],
      ['set(attributes["a"], 1)', /editor, which is not allowed in a condition/, 1],
      ['Name == "x"', /neither a path \(lowercase\) nor an enum/, 1],
      ['attributes[x] == 1', /a key is a string in double quotes or an integer/, 12],
      ['name ==', /expected a value but found the end of the condition/, 8],
      ['(name == "a"', /expected "\)"/, 13],
      ['name == "a" $', /unexpected character "\$"/, 13],
      ['', /the condition is empty/, 0],
    ];
    for (const [text, re, column] of cases) {
      const e = errorOf(() => parseCondition(text));
      assert.match(e.detail, re, text);
      assert.equal(e.column, column, `${text}: ${e.detail}`);
    }
    assert.match(errorOf(() => parseStatement('Route() where true')).detail, /editor names start with a lowercase letter/);
    assert.match(errorOf(() => parseStatement('route() where true and')).detail, /expected a value/);
  });
});

describe('OTTL compiler', () => {
  it('refuses unknown paths, enums and functions, with the known ones', () => {
    assert.match(errorOf(() => compileCondition('attributes["a"] == Foo(1)', spanContext)).detail, /unsupported function Foo \(supported: IsMatch, IsString, IsInt, IsDouble, IsBool, IsMap, IsList\)/);
    assert.match(errorOf(() => compileCondition('severity == 1', logContext)).detail, /unknown path severity in the log context \(known: body, attributes\["k"\]/);
    assert.match(errorOf(() => compileCondition('kind == SEVERITY_NUMBER_ERROR', spanContext)).detail, /unknown enum SEVERITY_NUMBER_ERROR in the span context/);
    assert.match(errorOf(() => compileCondition('attributes == nil', spanContext)).detail, /attributes needs a key/);
    assert.match(errorOf(() => compileCondition('name["x"] == nil', spanContext)).detail, /name takes no key/);
    assert.match(errorOf(() => compileCondition('IsMatch(name, attributes["p"])', spanContext)).detail, /IsMatch's pattern must be a string literal/);
    assert.match(errorOf(() => compileCondition('IsMatch(name, "(")', spanContext)).detail, /invalid regular expression/);
    assert.match(errorOf(() => compileCondition('IsString(name, 1)', spanContext)).detail, /IsString takes 1 argument, not 2/);
    assert.match(errorOf(() => compileCondition('IsMatch(name, "a")[0]', spanContext)).detail, /indexing the result of IsMatch\(\) is not supported/);
    assert.match(errorOf(() => compileStatementCondition('drop() where true', spanContext, ['route'])).detail, /unsupported editor drop\(\) here \(supported: route\(\)\)/);
    assert.match(errorOf(() => compileStatementCondition('route(1)', spanContext, ['route'])).detail, /route\(\) takes no arguments/);
  });

  it('span context: name, kind enums, status, attributes, resource and the span. prefix', () => {
    const s = spanItem({ name: 'GET /pdp/:slug', kind: 2, status: { code: 2, message: 'boom' }, traceId: '0af7651916cd43dd8448eb211c80319c' }, { 'http.route': '/pdp/:slug', 'http.response.status_code': 200 }, { 'service.name': 'shop-web' });
    const t = (c: string) => compileCondition(c, spanContext)(s);
    assert.equal(t('name == "GET /pdp/:slug" and kind == SPAN_KIND_SERVER'), true);
    assert.equal(t('span.attributes["http.route"] == "/pdp/:slug"'), true);
    assert.equal(t('status.code == STATUS_CODE_ERROR and status.message == "boom"'), true);
    assert.equal(t('resource.attributes["service.name"] == "shop-web"'), true);
    assert.equal(t('trace_id.string == "0af7651916cd43dd8448eb211c80319c"'), true);
    assert.equal(t('instrumentation_scope.name == "shop"'), true);
    assert.equal(t('attributes["http.response.status_code"] >= 200 and attributes["http.response.status_code"] < 300'), true);
  });

  it('OTTL comparison rules: types differ → only != holds; nil equals only nil; numbers across int and float; bools ordered', () => {
    const s = spanItem({}, { code: 200, ratio: 0.5, ok: true, tags: ['a', 'b'], m: { k: 'v' }, s: 'abc' });
    const t = (c: string) => compileCondition(c, spanContext)(s);
    assert.equal(t('attributes["code"] == "200"'), false, 'an int is not a string');
    assert.equal(t('attributes["code"] != "200"'), true);
    assert.equal(t('attributes["code"] > "100"'), false);
    assert.equal(t('attributes["code"] == 200.0'), true, 'int and float compare as numbers');
    assert.equal(t('attributes["ratio"] < 1'), true);
    assert.equal(t('attributes["missing"] == nil'), true);
    assert.equal(t('attributes["missing"] != nil'), false);
    assert.equal(t('attributes["missing"] <= nil'), false, 'nil equals nil, but is not ordered');
    assert.equal(t('attributes["missing"] != "x"'), true);
    assert.equal(t('attributes["missing"] < 1'), false);
    assert.equal(t('attributes["ok"] == true and attributes["ok"] > false'), true);
    assert.equal(t('attributes["tags"] == ["a", "b"]'), true, 'lists compare deeply');
    assert.equal(t('attributes["tags"] < ["a", "c"]'), false, 'lists are not ordered');
    assert.equal(t('attributes["m"]["k"] == "v"'), true);
    assert.equal(t('attributes["tags"][1] == "b"'), true);
    assert.equal(t('attributes["s"] < "abd" and attributes["s"] >= "abc"'), true);
    assert.equal(t('not (attributes["s"] == "x" or attributes["s"] == "y")'), true);
  });

  it('IsMatch and type tests; (?i) becomes a flag; non-strings are matched as their string form', () => {
    const s = spanItem({ name: 'GET /Cart' }, { code: 404, v: 1.5, b: true, m: { a: 1 }, l: [1] });
    const t = (c: string) => compileCondition(c, spanContext)(s);
    assert.equal(t('IsMatch(name, "^GET /cart$")'), false);
    assert.equal(t('IsMatch(name, "(?i)^get /cart$")'), true);
    assert.equal(t('IsMatch(attributes["code"], "^4\\\\d\\\\d$")'), true);
    assert.equal(t('IsMatch(attributes["missing"], ".*")'), false, 'nil never matches');
    assert.equal(t('IsInt(attributes["code"]) and IsDouble(attributes["v"]) and IsBool(attributes["b"]) and IsMap(attributes["m"]) and IsList(attributes["l"]) and IsString(name)'), true);
    assert.equal(t('IsString(attributes["code"])'), false);
    assert.equal(t('IsInt(1) and IsDouble(1.0) and not IsString(nil)'), true);
  });

  it('indexing a value that cannot be indexed fails at run time', () => {
    const s = spanItem({}, { s: 'abc', l: [1] });
    assert.throws(() => compileCondition('attributes["s"]["k"] == 1', spanContext)(s), (e: unknown) => e instanceof OttlRuntimeError && /a string value cannot be indexed with \["k"\]/.test(e.message));
    assert.throws(() => compileCondition('attributes["l"][3] == 1', spanContext)(s), (e: unknown) => e instanceof OttlRuntimeError && /index 3 is out of range/.test(e.message));
    assert.equal(compileCondition('attributes["missing"]["k"] == nil', spanContext)(s), true, 'nil stays nil');
  });

  it('log context: body maps, severity enums, event_name', () => {
    const l = logItem({ body: fromJsonValue({ items: [{ sku: 'A1' }] }), severityNumber: 17, eventName: 'order.completed' }, { 'service.name': 'shop' });
    const t = (c: string) => compileCondition(c, logContext)(l);
    assert.equal(t('body["items"][0]["sku"] == "A1"'), true);
    assert.equal(t('severity_number >= SEVERITY_NUMBER_ERROR and severity_number < SEVERITY_NUMBER_FATAL'), true);
    assert.equal(t('log.event_name == "order.completed"'), true);
    assert.equal(compileCondition('attributes["service.name"] == "shop"', resourceContext)(l), true, 'the resource context reads the item\'s resource');
    assert.equal(compileCondition('resource.attributes["service.name"] == "shop"', resourceContext)(l), true);
  });

  it('event context: fields, properties as attributes, context and resource attributes, consent', () => {
    const e = event({ name: 'purchase', category: 'commerce', privacy_level: 'internal', properties: { value: 59.9, currency: 'EUR', items: [{ id: 'x' }] }, context: { source: 'span', 'service.name': 'shop', tenant: 'acme' }, consent: { analytics: true, marketing: false } });
    const t = (c: string) => compileCondition(c, eventContext)(e);
    assert.equal(t('name == "purchase" and event_name == "purchase" and category == "commerce" and privacy_level == "internal"'), true);
    assert.equal(t('attributes["value"] > 50 and properties["currency"] == "EUR" and attributes["items"][0]["id"] == "x"'), true);
    assert.equal(t('context["tenant"] == "acme" and resource.attributes["service.name"] == "shop"'), true);
    assert.equal(t('consent["analytics"] == true and consent["marketing"] != true and consent["ads"] == nil'), true);
    assert.equal(t('user_id == nil'), true);
  });
});
