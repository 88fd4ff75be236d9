/**
 * The `privacy` processor on analytics events: identity pseudonymisation, key and value rules on
 * context, properties and user properties (nested too), consent, governance, key rotation,
 * accounting (metrics and summary attributes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Payload } from '../../../src/component.js';
import type { AnalyticsEvent } from '../../../src/event.js';
import { Telemetry } from '../../../src/telemetry.js';
import { filterProcessorFactory } from '../../../processors/filter/index.js';
import { createPseudonymizer, keyFingerprint } from '../../../processors/privacy/pseudonym.js';
import { TEST_KEY, ev, makePrivacy, metricValue, pseudonymRe, runEvents } from './harness.js';

const pseudo = createPseudonymizer({ key: TEST_KEY });
const KID = keyFingerprint(TEST_KEY);
const granted = { consent: { analytics: true } };

describe('privacy on events: identity', () => {
  it('pseudonymises user_id, device_id and session_id with a keyed, key-id-prefixed HMAC', async () => {
    const h = makePrivacy();
    const [a, b, c] = await runEvents(h, [
      ev({ ...granted, user_id: 'u-1001', device_id: 'd-42', session_id: 's-9f2c1a7e' }),
      ev({ ...granted, user_id: 'u-1001' }),
      ev({ ...granted, user_id: 'u-1002' }),
    ]);
    assert.match(a!.user_id!, pseudonymRe(KID));
    assert.equal(a!.user_id, pseudo('u-1001'));
    assert.equal(a!.device_id, pseudo('d-42'));
    assert.equal(a!.session_id, pseudo('s-9f2c1a7e'));
    assert.equal(b!.user_id, a!.user_id, 'same input and key, same pseudonym');
    assert.notEqual(c!.user_id, a!.user_id);
  });

  it('treats identity attributes among the properties like the identity fields', async () => {
    const h = makePrivacy();
    const [e] = await runEvents(h, [ev({ ...granted, properties: { 'user.id': 'u-1001', customer_id: 1001, 'http.request.header.x-user-id': ['u-1001'], item_id: 'trq22o064-q11' } })]);
    assert.equal(e!.properties['user.id'], pseudo('u-1001'));
    assert.equal(e!.properties.customer_id, pseudo('1001'));
    assert.deepEqual(e!.properties['http.request.header.x-user-id'], [pseudo('u-1001')]);
    assert.equal(e!.properties.item_id, 'trq22o064-q11');
  });

  it('identity action drop removes identity, keep leaves it (value detection still applies)', async () => {
    const [dropped] = await runEvents(makePrivacy({ identity: { action: 'drop' } }), [ev({ ...granted, user_id: 'u-1001', properties: { 'user.id': 'u-1001', q: 'x' } })]);
    assert.equal(dropped!.user_id, undefined);
    assert.deepEqual(dropped!.properties, { q: 'x' });
    const [kept] = await runEvents(makePrivacy({ identity: { action: 'keep' } }), [ev({ ...granted, user_id: 'jane.doe@example.com', session_id: 's-1' })]);
    assert.equal(kept!.user_id, '[email]');
    assert.equal(kept!.session_id, 's-1');
  });
});

describe('privacy on events: key and value rules', () => {
  it('truncates the client IP in the context and leaves ids and structural keys alone', async () => {
    const [e] = await runEvents(makePrivacy(), [
      ev({ ...granted, context: { source: 'span', rule: 'r-1', trace_id: '3a77750a3bfd0ed5799b74f042dc5201', span_id: 'd44e52ca6b1db906', 'client.address': '203.0.113.7', 'service.version': '1.4.2' } }),
    ]);
    assert.deepEqual(e!.context, { source: 'span', rule: 'r-1', trace_id: '3a77750a3bfd0ed5799b74f042dc5201', span_id: 'd44e52ca6b1db906', 'client.address': '203.0.113.0', 'service.version': '1.4.2' });
    const [v6] = await runEvents(makePrivacy(), [ev({ ...granted, context: { source: 'span', 'client.address': '2001:db8:85a3:8d3:1319:8a2e:370:7348' } })]);
    assert.equal(v6!.context['client.address'], '2001:db8:85a3::');
  });

  it('removes properties named like personal data and scans every other value, nested too', async () => {
    const h = makePrivacy();
    const [e] = await runEvents(h, [
      ev({
        ...granted,
        properties: {
          'user.email': 'jane.doe@example.com',
          'user.name': 'Jane Doe',
          'payment.card.number': '4000 0000 0000 0002',
          'product.name': 'T-Shirt Print schwarz',
          note: 'call +49 151 23456789 or mail JANE.DOE@EXAMPLE.COM, IBAN DE89 3704 0044 0532 0130 00',
          customer: { email: 'john.smith@example.com', tier: 'gold', remark: 'card 4111-1111-1111-1111' },
          items: [{ item_id: 'trq22o064-q11', item_name: 'Sneaker', price: 19.99 }, { item_id: 'ad115o0k2-a11', comment: 'from 192.0.2.10' }],
          tags: ['vip', 'token Bearer abcdef0123456789abcdef'],
          big: 4111111111111111,
        },
        user_properties: { plan: 'pro', phone_number: '+1 415 555 0199', bio: 'reach me at jane.doe@example.com' },
      }),
    ]);
    assert.deepEqual(e!.properties, {
      'product.name': 'T-Shirt Print schwarz',
      note: 'call [phone] or mail [email], IBAN [iban]',
      customer: { tier: 'gold', remark: 'card [card]' },
      items: [{ item_id: 'trq22o064-q11', item_name: 'Sneaker', price: 19.99 }, { item_id: 'ad115o0k2-a11', comment: 'from 192.0.2.0' }],
      tags: ['vip', 'token Bearer [token]'],
      big: '[card]',
    });
    assert.deepEqual(e!.user_properties, { plan: 'pro', bio: 'reach me at [email]' });
  });

  it('leaves SKUs, order ids, UUIDs, prices, timestamps and trace ids alone', async () => {
    const properties = {
      item_id: 'TRQ22O064-Q11',
      transaction_id: 'o-22974',
      order_ref: 'ORD-2024-000123',
      uuid: '123e4567-e89b-12d3-a456-426614174000',
      value: 229.74,
      price_text: '1,299.00 EUR',
      ts: 1795288699557,
      ts_ns: '1795288699557000000',
      iso: '2026-11-21T19:52:11Z',
      trace: '3a77750a3bfd0ed5799b74f042dc5201',
      version: '1.4.2',
      quantity: 2,
      ok: true,
      empty: null,
    };
    const [e] = await runEvents(makePrivacy(), [ev({ ...granted, properties: structuredClone(properties) })]);
    assert.deepEqual(e!.properties, properties);
  });

  it('scrubs URL properties part by part and query strings by key and value', async () => {
    const [e] = await runEvents(makePrivacy(), [
      ev({
        ...granted,
        properties: {
          page_location: 'https://shop.example/search?q=jane.doe%40example.com&email=john%40example.com&page=2&user_id=u-1001',
          'url.query': 'q=sneaker+weiss&token=abc123&phone=%2B49+151+23456789',
          search_term: 'jane doe +49 151 23456789',
        },
      }),
    ]);
    assert.equal(e!.properties.page_location, 'https://shop.example/search?q=[email]&page=2');
    assert.equal(e!.properties['url.query'], 'q=sneaker+weiss');
    assert.equal(e!.properties.search_term, 'jane doe [phone]');
  });

  it('masks the event name when it carries personal data', async () => {
    const [e] = await runEvents(makePrivacy(), [ev({ ...granted, name: 'mail sent to jane.doe@example.com' })]);
    assert.equal(e!.name, 'mail sent to [email]');
  });

  it('allow-list-only mode keeps only listed properties and identity (fails closed)', async () => {
    const [e] = await runEvents(makePrivacy({ keys: { mode: 'allow_list_only', default_lists: false, allowed_keys: ['item_id', 'value', 'items', 'items.item_id'] } }), [
      ev({ ...granted, user_id: 'u-1', properties: { item_id: 'x', value: 1, utm_source: 'newsletter', items: [{ item_id: 'a', coupon: 'SUMMER' }], free_text: 'hello', 'user.id': 'u-1' }, context: { source: 'span', 'service.name': 'shop', 'client.address': '203.0.113.7' } }),
    ]);
    assert.deepEqual(e!.properties, { item_id: 'x', value: 1, items: [{ item_id: 'a' }], 'user.id': pseudo('u-1') });
    assert.deepEqual(e!.context, { source: 'span', 'service.name': 'shop', 'client.address': '203.0.113.0' }, 'the context is the gateway\'s: value rules only');
  });

  it('key actions mask and pseudonymize; detector actions drop and pseudonymize', async () => {
    const [m] = await runEvents(makePrivacy({ keys: { action: 'mask' } }), [ev({ ...granted, properties: { 'user.email': 'a@b.example', x: 1 } })]);
    assert.deepEqual(m!.properties, { 'user.email': '[redacted]', x: 1 });
    const [p] = await runEvents(makePrivacy({ keys: { action: 'pseudonymize' } }), [ev({ ...granted, properties: { 'user.email': 'a@b.example' } })]);
    assert.equal(p!.properties['user.email'], pseudo('a@b.example'));
    const [d] = await runEvents(makePrivacy({ detectors: { email: { action: 'drop' }, ipv4: { action: 'pseudonymize' } } }), [
      ev({ ...granted, properties: { note: 'mail Jane.Doe@Example.com', ip: 'from 203.0.113.7', keep: 'x' } }),
    ]);
    assert.deepEqual(d!.properties, { ip: `from ${pseudo('203.0.113.7')}`, keep: 'x' });
    const [off] = await runEvents(makePrivacy({ detectors: { email: { enabled: false } } }), [ev({ ...granted, properties: { note: 'jane.doe@example.com' } })]);
    assert.equal(off!.properties.note, 'jane.doe@example.com');
  });
});

describe('privacy on events: consent (deny by default)', () => {
  const identified = (consent?: { analytics: boolean }): AnalyticsEvent =>
    ev({
      ...(consent ? { consent } : {}),
      user_id: 'u-1002',
      device_id: 'd-1002',
      session_id: 's-41be88d0',
      category: 'commerce',
      properties: { item_id: 'trq22o064-q11', value: 19.99, 'user.id': 'u-1002', note: 'mail jane.doe@example.com' },
      user_properties: { plan: 'pro' },
      context: { source: 'log', 'service.name': 'shop-web', 'client.address': '203.0.113.42', 'user_agent.original': 'Mozilla/5.0 (iPhone)' },
    });

  const assertAnonymous = (e: AnalyticsEvent) => {
    assert.equal(e.user_id, undefined);
    assert.equal(e.device_id, undefined);
    assert.equal(e.session_id, undefined);
    assert.equal(e.user_properties, undefined);
    assert.equal(e.context['client.address'], undefined);
    assert.equal(e.context['user_agent.original'], undefined);
    assert.deepEqual(e.properties, { item_id: 'trq22o064-q11', value: 19.99, note: 'mail [email]' });
    assert.equal(e.category, 'commerce');
    assert.equal(e.name, 'view_item');
    const text = JSON.stringify(e);
    assert.ok(!text.includes(`${KID}:`), 'no pseudonym on an anonymised event');
    for (const s of ['u-1002', 'd-1002', 's-41be88d0', '203.0.113', 'iPhone']) assert.ok(!text.includes(s), s);
  };

  it('anonymises events without consent and events whose consent is false, by default', async () => {
    const h = makePrivacy();
    const [missing, denied, ok] = await runEvents(h, [identified(), identified({ analytics: false }), identified({ analytics: true })]);
    assertAnonymous(missing!);
    assertAnonymous(denied!);
    assert.equal(ok!.user_id, pseudo('u-1002'));
    assert.equal(ok!.context['client.address'], '203.0.113.0');
    assert.deepEqual(ok!.user_properties, { plan: 'pro' });
    const m = await h.metrics();
    assert.equal(metricValue(m, 'otelytics_privacy_items', { signal: 'events', reason: 'consent', action: 'anonymize' }), 2);
  });

  it('drops events without consent when configured, and counts them', async () => {
    const h = makePrivacy({ consent: { action: 'drop' } });
    const out = await runEvents(h, [identified(), identified({ analytics: false }), identified({ analytics: true })]);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.user_id, pseudo('u-1002'));
    const m = await h.metrics();
    assert.equal(metricValue(m, 'otelytics_privacy_items', { signal: 'events', reason: 'consent', action: 'drop' }), 2);
    assert.equal(metricValue(m, 'otelytics_events_dropped', { component: 'privacy', reason: 'privacy_consent' }), 2);
    assert.deepEqual(await runEvents(h, [identified()]), [], 'nothing is passed on when every event is dropped');
    assert.equal(h.out.length, 1);
  });

  it('honours a configured purpose, a default of granted, and consent not being required', async () => {
    const [m] = await runEvents(makePrivacy({ consent: { purpose: 'marketing' } }), [ev({ consent: { analytics: true, marketing: false }, user_id: 'u-1' })]);
    assert.equal(m!.user_id, undefined);
    const [g] = await runEvents(makePrivacy({ consent: { default: 'granted' } }), [ev({ user_id: 'u-1' })]);
    assert.equal(g!.user_id, pseudo('u-1'));
    const [gd] = await runEvents(makePrivacy({ consent: { default: 'granted' } }), [ev({ consent: { analytics: false }, user_id: 'u-1' })]);
    assert.equal(gd!.user_id, undefined, 'an explicit false still denies');
    const [n] = await runEvents(makePrivacy({ consent: { required: false } }), [ev({ consent: { analytics: false }, user_id: 'u-1' })]);
    assert.equal(n!.user_id, pseudo('u-1'));
    const [f] = await runEvents(makePrivacy({ identity: { fields: ['user_id'] } }), [ev({ consent: { analytics: true }, user_id: 'u-1', session_id: 's-1' }), ev({ user_id: 'u-1', session_id: 's-1' })]);
    assert.equal(f!.session_id, 's-1', 'fields not listed are left as sent with consent');
    const [, fa] = await runEvents(makePrivacy({ identity: { fields: [] , attributes: [] }, pseudonymization: { key: undefined } }), [ev({ consent: { analytics: true }, user_id: 'u-1' }), ev({ user_id: 'u-1', session_id: 's-1' })]);
    assert.equal(fa!.user_id, undefined, 'anonymisation removes every identity field');
    assert.equal(fa!.session_id, undefined);
  });

  it('anonymised events get no pseudonyms even when detectors and keys pseudonymise', async () => {
    const [e] = await runEvents(makePrivacy({ keys: { action: 'pseudonymize' }, detectors: { email: { action: 'pseudonymize' } } }), [
      ev({ user_id: 'u-1', properties: { 'user.email': 'a@b.example', note: 'jane.doe@example.com', page_location: 'https://x.example/?email=a%40b.example&q=1' } }),
    ]);
    assert.deepEqual(e!.properties, { note: '[email]', page_location: 'https://x.example/?q=1' });
  });
});

describe('privacy on events: governance', () => {
  it('drops or anonymises events above the allowed privacy level; category stays for filter', async () => {
    const levels = [undefined, 'public', 'internal', 'sensitive', 'secret-unknown'];
    const events = () => levels.map((l, i) => ev({ ...granted, user_id: `u-${i}`, insert_id: `i-${i}`, category: i % 2 ? 'commerce' : 'account', ...(l ? { privacy_level: l } : {}) }));
    const dropped = await runEvents(makePrivacy({ governance: { allowed_level: 'internal' } }), events());
    assert.deepEqual(dropped.map((e) => e.insert_id), ['i-0', 'i-1', 'i-2']);
    const anon = await runEvents(makePrivacy({ governance: { allowed_level: 'internal', action: 'anonymize' } }), events());
    assert.deepEqual(anon.map((e) => e.user_id === undefined), [false, false, false, true, true]);
    assert.deepEqual(anon.map((e) => e.category), ['account', 'commerce', 'account', 'commerce', 'account']);
    const open = await runEvents(makePrivacy(), events());
    assert.equal(open.length, 5, 'no allowed_level: no limit');

    // privacy → filter: categories route events after privacy.
    const kept: AnalyticsEvent[] = [];
    const filter = filterProcessorFactory.create(
      { id: 'filter/commerce', pipeline: 'events', logger: pino({ level: 'silent' }), telemetry: new Telemetry() },
      filterProcessorFactory.configSchema.parse({ events: { include: { categories: ['commerce'] } } }),
      { consume: async (p: Payload) => void kept.push(...(p.data as AnalyticsEvent[])) },
    );
    await filter.consume({ signal: 'events', data: anon });
    assert.deepEqual(kept.map((e) => e.insert_id), ['i-1', 'i-3']);
  });
});

describe('privacy on events: keys and accounting', () => {
  it('key rotation: two keys give different pseudonyms with different key ids', async () => {
    const e = () => [ev({ ...granted, user_id: 'u-1001' })];
    const [a] = await runEvents(makePrivacy({ pseudonymization: { key: 'first-key-0123456789abcdef0123456789' } }), e());
    const [b] = await runEvents(makePrivacy({ pseudonymization: { key: 'second-key-0123456789abcdef012345678' } }), e());
    const [c] = await runEvents(makePrivacy({ pseudonymization: { key: 'second-key-0123456789abcdef012345678', key_id: 'k2026b' } }), e());
    const [again] = await runEvents(makePrivacy({ pseudonymization: { key: 'first-key-0123456789abcdef0123456789' } }), e());
    const [idA, hA] = a!.user_id!.split(':');
    const [idB, hB] = b!.user_id!.split(':');
    assert.notEqual(idA, idB);
    assert.notEqual(hA, hB);
    assert.equal(idA, keyFingerprint('first-key-0123456789abcdef0123456789'));
    assert.match(c!.user_id!, pseudonymRe('k2026b'));
    assert.equal(c!.user_id!.split(':')[1], hB, 'the key id names the key; the HMAC depends on the key only');
    assert.equal(again!.user_id, a!.user_id, 'deterministic across processor instances');
  });

  it('counts hits per detector and action on the metrics endpoint', async () => {
    const h = makePrivacy({}, { id: 'privacy/all', pipeline: 'events/x' });
    await runEvents(h, [
      ev({ ...granted, user_id: 'u-1', properties: { a: 'x@y.example and z@y.example', 'user.email': 'q@y.example' }, context: { source: 'log', 'client.address': '203.0.113.7' } }),
      ev({ ...granted, user_id: 'u-2', properties: { b: '+49 151 23456789' } }),
    ]);
    const m = await h.metrics();
    const v = (detector: string, action: string) => metricValue(m, 'otelytics_privacy_hits', { processor: 'privacy/all', pipeline: 'events/x', detector, action });
    assert.equal(v('email', 'mask'), 2);
    assert.equal(v('phone', 'mask'), 1);
    assert.equal(v('ipv4', 'truncate'), 1);
    assert.equal(v('key', 'drop'), 1);
    assert.equal(v('identity', 'pseudonymize'), 2);
    assert.ok(!m.includes('y.example') && !m.includes('u-1'), 'metrics carry no values');
  });

  it('summary attributes carry counts only', async () => {
    const [e, clean] = await runEvents(makePrivacy({ summary_attributes: true }), [
      ev({ ...granted, user_id: 'u-1', properties: { a: 'x@y.example', 'user.phone': '+49 151 23456789' }, context: { source: 'log', 'client.address': '203.0.113.7' } }),
      ev({ ...granted, properties: { item_id: 'x' } }),
    ]);
    assert.equal(e!.context['privacy.masked.count'], 1);
    assert.equal(e!.context['privacy.dropped.count'], 1);
    assert.equal(e!.context['privacy.pseudonymized.count'], 1);
    assert.equal(e!.context['privacy.truncated.count'], 1);
    assert.ok(!JSON.stringify(e).includes('user.phone'), 'no removed key names');
    assert.equal(Object.keys(clean!.context).some((k) => k.startsWith('privacy.')), false);
  });
});

describe('privacy on events: versions, mail keys, secrets, dates of birth', () => {
  it('does not truncate dotted quads under version keys; addresses elsewhere still are', async () => {
    const [e] = await runEvents(makePrivacy(), [
      ev({
        ...granted,
        properties: { 'app.build_version': '2.14.0.7', 'app.build': '10.0.19045.1', build_number: '1.2.3.4', 'os.version': '10.0.0.1', peer: '203.0.113.7', conversion_ip: '203.0.113.8' },
        context: { source: 'span', 'service.version': '2.14.0.7', 'client.address': '203.0.113.9' },
      }),
    ]);
    assert.deepEqual(e!.properties, { 'app.build_version': '2.14.0.7', 'app.build': '10.0.19045.1', build_number: '1.2.3.4', 'os.version': '10.0.0.1', peer: '203.0.113.0', conversion_ip: '203.0.113.0' });
    assert.equal(e!.context['service.version'], '2.14.0.7');
    assert.equal(e!.context['client.address'], '203.0.113.0');
  });
  it('version keys still get the other detectors, and keys::version_keys: [] turns the exception off', async () => {
    const [e] = await runEvents(makePrivacy(), [ev({ ...granted, properties: { 'app.version': '2.14.0.7 by jane.doe@example.com' } })]);
    assert.equal(e!.properties['app.version'], '2.14.0.7 by [email]');
    const [f] = await runEvents(makePrivacy({ keys: { version_keys: [] } }), [ev({ ...granted, properties: { 'app.build_version': '2.14.0.7' } })]);
    assert.equal(f!.properties['app.build_version'], '2.14.0.0');
  });
  it('keeps mail keys that name no address, removes those that do', async () => {
    const [e] = await runEvents(makePrivacy(), [
      ev({
        ...granted,
        properties: { 'mail.template': 'order_confirmation', 'mail.provider': 'ses', 'user.email': 'jane@example.com', customer_email: 'jane@example.com', mail: 'jane@example.com', 'mail.template_note': 'to jane.doe@example.com' },
      }),
    ]);
    assert.deepEqual(e!.properties, { 'mail.template': 'order_confirmation', 'mail.provider': 'ses', 'mail.template_note': 'to [email]' });
  });
  it('removes German personal keys', async () => {
    const [e] = await runEvents(makePrivacy(), [
      ev({ ...granted, properties: { 'kunde.vorname': 'Jana', nachname: 'Schmidt', geburtsdatum: '12.03.1985', strasse: 'Hauptstr. 1', plz: '10115', ausweisnummer: 'L01X00T47', telefon: '030 1234567', bestellung: 'o-1' } }),
    ]);
    assert.deepEqual(e!.properties, { bestellung: 'o-1' });
  });
  it('masks secrets and dates of birth in free text, never with a pseudonym', async () => {
    const h = makePrivacy({ keys: { action: 'pseudonymize' }, detectors: { email: { action: 'pseudonymize' } } });
    const aws = 'AKIA' + 'IOSFODNN7ABCDEFG';
    const [e] = await runEvents(h, [ev({ ...granted, properties: { note: `key ${aws} for jane@example.com`, log: 'Kunde geboren am 12.03.1985, bestellt am 02.01.2024', 'url.full': 'https://bob:pw@shop.example/cb?email=jane%40example.com' } })]);
    assert.match(e!.properties.note as string, /^key \[secret\] for [0-9a-f]{8}:/);
    assert.equal(e!.properties.log, 'Kunde geboren am [birthdate], bestellt am 02.01.2024');
    assert.match(e!.properties['url.full'] as string, /^https:\/\/shop\.example\/cb\?email=[0-9a-f]{8}:/);
    const text = await h.metrics();
    assert.equal(metricValue(text, 'otelytics_privacy_hits', { detector: 'secret', action: 'mask' }), 2);
    assert.equal(metricValue(text, 'otelytics_privacy_hits', { detector: 'birthdate', action: 'mask' }), 1);
  });
  it('a url.full whose every query parameter was removed has no "?" left', async () => {
    const [e] = await runEvents(makePrivacy(), [ev({ ...granted, properties: { 'url.full': 'https://shop.example/checkout?email=jane%40example.com&phone=%2B4915123456789' } })]);
    assert.equal(e!.properties['url.full'], 'https://shop.example/checkout');
  });
});
