/**
 * The `privacy` processor on traces and logs pipelines: resource, scope, span, span event, link and
 * log record attributes (nested maps and arrays), span names, status messages, log bodies (string
 * and map), consent per record, and the shop fixtures (real OTel JS SDK requests) end to end.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeLogsJson, decodeTracesJson } from '../../../src/otlp/json.js';
import type { AnyValue, KeyValue, LogRecord, LogsData, Span, TracesData } from '../../../src/pdata.js';
import { attributesToObject, emptyScope, emptySpan, fromJsonValue } from '../../../src/pdata.js';
import { createPseudonymizer } from '../../../processors/privacy/pseudonym.js';
import { fixtureManifest, fixturesDir } from '../../helpers.js';
import { TEST_KEY, makePrivacy, metricValue, type Harness } from './harness.js';

const pseudo = createPseudonymizer({ key: TEST_KEY });
const attrs = (o: Record<string, unknown>): KeyValue[] => Object.entries(o).map(([key, v]) => ({ key, value: fromJsonValue(v) }));

function span(name: string, a: Record<string, unknown>, extra: Partial<Span> = {}): Span {
  return {
    ...emptySpan(),
    traceId: '3a77750a3bfd0ed5799b74f042dc5201',
    spanId: 'd44e52ca6b1db906',
    flags: 1,
    name,
    kind: 2,
    startTimeUnixNano: '1795288699557000000',
    endTimeUnixNano: '1795288699560000000',
    attributes: attrs(a),
    ...extra,
  };
}

function traces(spans: Span[], resource: Record<string, unknown> = { 'service.name': 'shop-web' }): TracesData {
  return { resourceSpans: [{ resource: { attributes: attrs(resource), droppedAttributesCount: 0 }, scopeSpans: [{ scope: emptyScope(), spans, schemaUrl: '' }], schemaUrl: '' }] };
}

function log(body: AnyValue, a: Record<string, unknown>): LogRecord {
  return { timeUnixNano: '1795288699557000000', observedTimeUnixNano: '1795288699557000000', severityNumber: 9, severityText: 'INFO', body, attributes: attrs(a), droppedAttributesCount: 0, flags: 0, traceId: '', spanId: '', eventName: 'user.signed_up' };
}

function logs(records: LogRecord[], resource: Record<string, unknown> = { 'service.name': 'shop-web' }): LogsData {
  return { resourceLogs: [{ resource: { attributes: attrs(resource), droppedAttributesCount: 0 }, scopeLogs: [{ scope: emptyScope(), logRecords: records, schemaUrl: '' }], schemaUrl: '' }] };
}

async function runTraces(h: Harness, data: TracesData): Promise<TracesData | undefined> {
  const before = h.out.length;
  await h.processor.consume({ signal: 'traces', data });
  const p = h.out[before];
  return p?.signal === 'traces' ? p.data : undefined;
}

async function runLogs(h: Harness, data: LogsData): Promise<LogsData | undefined> {
  const before = h.out.length;
  await h.processor.consume({ signal: 'logs', data });
  const p = h.out[before];
  return p?.signal === 'logs' ? p.data : undefined;
}

const firstSpan = (d: TracesData | undefined) => d!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;

describe('privacy on spans', () => {
  it('treats span names, attributes (nested), events, links and status messages', async () => {
    const s = span(
      'GET /users/jane.doe@example.com',
      {
        'user.id': 'u-1001',
        'http.request.header.x-user-id': ['u-1001'],
        'client.address': '203.0.113.7',
        'url.full': 'https://shop.example/search?q=sneaker+weiss&email=jane%40example.com',
        'url.query': 'q=jane.doe%40example.com',
        'app.order': { id: 'o-22974', customer: { email: 'jane.doe@example.com', country: 'DE' }, notes: ['ring +49 151 23456789', 'gift'] },
        'user.password': 'hunter2',
        'consent.analytics': true,
        'http.response.status_code': 200,
      },
      {
        events: [{ timeUnixNano: '1', name: 'exception', attributes: attrs({ 'exception.message': 'card 4000 0000 0000 0002 declined for john.smith@example.com' }), droppedAttributesCount: 0 }],
        links: [{ traceId: '', spanId: '', traceState: '', attributes: attrs({ 'peer.ip': '192.0.2.10' }), droppedAttributesCount: 0, flags: 0 }],
        status: { code: 2, message: 'payment failed for jane.doe@example.com' },
      },
    );
    const out = firstSpan(await runTraces(makePrivacy(), traces([s])));
    assert.equal(out.name, 'GET /users/[email]');
    assert.deepEqual(attributesToObject(out.attributes), {
      'user.id': pseudo('u-1001'),
      'http.request.header.x-user-id': [pseudo('u-1001')],
      'client.address': '203.0.113.0',
      'url.full': 'https://shop.example/search?q=sneaker+weiss',
      'url.query': 'q=[email]',
      'app.order': { id: 'o-22974', customer: { country: 'DE' }, notes: ['ring [phone]', 'gift'] },
      'consent.analytics': true,
      'http.response.status_code': 200,
    });
    assert.equal(attributesToObject(out.events[0]!.attributes)['exception.message'], 'card [card] declined for [email]');
    assert.deepEqual(attributesToObject(out.links[0]!.attributes), { 'peer.ip': '192.0.2.0' });
    assert.equal(out.status.message, 'payment failed for [email]');
    assert.equal(out.traceId, '3a77750a3bfd0ed5799b74f042dc5201');
  });

  it('anonymises or drops spans without consent; a resource without consent loses its identity', async () => {
    const make = () =>
      traces(
        [span('a', { 'consent.analytics': true, 'user.id': 'u-1', 'client.address': '203.0.113.7' }), span('b', { 'consent.analytics': 'false', 'user.id': 'u-2', 'client.address': '203.0.113.42', 'user_agent.original': 'Mozilla' }), span('c', { 'user.id': 'u-3' })],
        { 'service.name': 'shop-web', 'device.id': 'dev-9' },
      );
    const h = makePrivacy();
    const anon = (await runTraces(h, make()))!;
    const [a, b, c] = anon.resourceSpans[0]!.scopeSpans[0]!.spans.map((x) => attributesToObject(x.attributes));
    assert.deepEqual(a, { 'consent.analytics': true, 'user.id': pseudo('u-1'), 'client.address': '203.0.113.0' });
    assert.deepEqual(b, { 'consent.analytics': 'false' });
    assert.deepEqual(c, {});
    assert.deepEqual(attributesToObject(anon.resourceSpans[0]!.resource.attributes), { 'service.name': 'shop-web' });
    assert.equal(metricValue(await h.metrics(), 'otelytics_privacy_items', { signal: 'traces', reason: 'consent', action: 'anonymize' }), 2);

    const withResourceConsent = (await runTraces(makePrivacy(), traces([span('x', { 'user.id': 'u-4' })], { 'consent.analytics': true, 'device.id': 'dev-9' })))!;
    assert.deepEqual(attributesToObject(withResourceConsent.resourceSpans[0]!.resource.attributes), { 'consent.analytics': true, 'device.id': pseudo('dev-9') });
    assert.deepEqual(attributesToObject(firstSpan(withResourceConsent).attributes), { 'user.id': pseudo('u-4') }, 'the resource consent covers its spans');

    const hd = makePrivacy({ consent: { action: 'drop' } });
    const dropped = (await runTraces(hd, make()))!;
    assert.deepEqual(dropped.resourceSpans[0]!.scopeSpans[0]!.spans.map((x) => x.name), ['a']);
    assert.equal(await runTraces(hd, traces([span('c', {})])), undefined, 'an empty request is not passed on');
  });

  it('adds summary attributes to treated spans', async () => {
    const out = firstSpan(await runTraces(makePrivacy({ summary_attributes: true, consent: { required: false } }), traces([span('s', { 'user.id': 'u-1', note: 'x@y.example', 'client.address': '203.0.113.7' })])));
    const o = attributesToObject(out.attributes);
    assert.equal(o['privacy.masked.count'], 1);
    assert.equal(o['privacy.pseudonymized.count'], 1);
    assert.equal(o['privacy.truncated.count'], 1);
  });
});

describe('privacy on log records', () => {
  it('scans string bodies and treats map bodies by key and value; attributes as for spans', async () => {
    const h = makePrivacy({ consent: { required: false } });
    const out = (await runLogs(
      h,
      logs([
        log({ stringValue: 'New signup jane.doe@example.com from 203.0.113.7' }, { 'user.email': 'jane.doe@example.com', 'signup.method': 'email' }),
        log(fromJsonValue({ email: 'john.smith@example.com', message: 'call +1 415 555 0199', items: ['AD115O0K2-A11'] }), {}),
        log(fromJsonValue(['IBAN GB82 WEST 1234 5698 7654 32', 'ok']), {}),
      ]),
    ))!;
    const [a, b, c] = out.resourceLogs[0]!.scopeLogs[0]!.logRecords;
    assert.deepEqual(a!.body, { stringValue: 'New signup [email] from 203.0.113.0' });
    assert.deepEqual(attributesToObject(a!.attributes), { 'signup.method': 'email' });
    assert.equal(a!.eventName, 'user.signed_up');
    assert.deepEqual(attributesToObject([{ key: 'b', value: b!.body }]).b, { message: 'call [phone]', items: ['AD115O0K2-A11'] });
    assert.deepEqual(attributesToObject([{ key: 'c', value: c!.body }]).c, ['IBAN [iban]', 'ok']);
  });
});

describe('privacy on the shop fixtures (traces and logs pipelines)', () => {
  const files = fixtureManifest().filter((f) => f.contentEncoding === 'identity' && f.path.endsWith('.json'));
  const personal = ['jane.doe@example.com', 'john.smith@example.com', 'jane.doe%40example.com', '203.0.113.7', '203.0.113.42', '192.0.2.10', '+49 151 23456789', '%2B49', '+1 415 555 0199', '4000 0000 0000 0002', 'u-1001', 'u-1002', 'Jane Doe', 'John Smith'];

  for (const consentRequired of [true, false]) {
    it(`leaves no personal data and keeps the rest (consent required: ${consentRequired})`, async () => {
      const h = makePrivacy({ consent: { required: consentRequired } });
      let input = '';
      let output = '';
      for (const f of files) {
        const text = fs.readFileSync(path.join(fixturesDir, f.path), 'utf8');
        input += text;
        if (f.signal === 'traces') output += JSON.stringify(await runTraces(h, decodeTracesJson(text)));
        else output += JSON.stringify(await runLogs(h, decodeLogsJson(text)));
      }
      for (const s of personal.filter((p) => input.includes(p))) assert.ok(!output.includes(s), `${s} in the output`);
      assert.ok(input.includes('jane.doe%40example.com') && input.includes('4000 0000 0000 0002'), 'the fixtures hold the personal data under test');
      const traceIds = [...input.matchAll(/"traceId":\s*"([0-9a-f]{32})"/g)].map((m) => m[1]!);
      assert.ok(traceIds.length > 0);
      for (const s of ['TRQ22O064-Q11', 'o-22974', '229.74', 'q=sneaker+weiss', 'gürtel leder', 'T-Shirt Print schwarz', '/pdp/t-shirt-print-schwarz-trq22o064-q11.html', 'shop-web', '203.0.113.0', ...traceIds]) {
        assert.ok(output.includes(s), `${s} kept`);
      }
      // Log records of u-1001 carry consent.analytics=true: pseudonymised either way.
      assert.ok(output.includes(pseudo('u-1001')));
    });
  }
});
