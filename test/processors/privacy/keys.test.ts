/** PII detection by key: default lists, glob semantics, allow wins, allow-list-only mode, memo. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ALLOWED_KEYS,
  DEFAULT_BLOCKED_KEYS,
  compileAllowListOnlyMatcher,
  compileDefaultKeyMatcher,
  compileKeyMatcher,
  globToRegExpSource,
} from '../../../processors/privacy/keys.js';

describe('default key lists', () => {
  const m = compileDefaultKeyMatcher();
  const blocked = [
    // fixtures
    'user.email',
    'user.phone',
    'user.name',
    'payment.card.number',
    // contact, address, names
    'email',
    'Email_Address',
    'e-mail',
    'customer.contact_mail',
    'phone_number',
    'mobileNumber',
    'billing.address.street',
    'shipping_address',
    'postal_code',
    'zipCode',
    'geo.latitude',
    'username',
    'first_name',
    'LastName',
    'full_name',
    'customer_name',
    'name',
    // payment
    'credit_card',
    'cardholder',
    'cvv',
    'card_security_code',
    'iban',
    'bank_account_number',
    // secrets
    'password',
    'user.passwd',
    'client_secret',
    'access_token',
    'refresh_token',
    'x-api-key',
    'apiKey',
    'http.request.header.authorization',
    'http.request.header.cookie',
    'http.response.header.set-cookie',
    'csrf',
    // identifiers
    'date_of_birth',
    'dob',
    'user.dob',
    'ssn',
    'customer_ssn',
    'passport_number',
    'tax_id',
    'customer.tax-id',
    'national_id',
    'drivers_licence',
    // e-mail keys named precisely
    'customer_email',
    'mail',
    'Mail',
    'mail.address',
    'user.mail',
    'contact-mail',
    'emailAddress',
    'mailto',
    'mail.to',
    'notification.mail.from',
    // German and other common languages
    'kunde',
    'kunde.email',
    'kunde.geburtsdatum',
    'kunde_name',
    'kundennummer',
    'personalausweis',
    'ausweisnummer',
    'geburtsdatum',
    'Geburtstag',
    'kunde.geburtsort',
    'strasse',
    'straße',
    'rechnung.strasse_hausnummer',
    'vorname',
    'nachname',
    'Familienname',
    'telefon',
    'telefonnummer',
    'handynummer',
    'anschrift',
    'lieferadresse',
    'plz',
    'kunde.plz',
    'liefer_plz',
    'postleitzahl',
    'wohnort',
    'passwort',
    'kennwort',
    'steuer_id',
    'steuernummer',
    'reisepass_nummer',
    'kontonummer',
    'date_de_naissance',
    'fecha_de_nacimiento',
    'prenom',
    'courriel',
    'direccion',
    'voornaam',
    'geboortedatum',
  ];
  const allowed = [
    'client.address',
    'server.address',
    'network.peer.address',
    'network.local.address',
    'source.address',
    'service.name',
    'service.namespace',
    'event.name',
    'telemetry.sdk.name',
    'feature_flag.provider.name',
    'deployment.environment.name',
    'host.name',
    'k8s.pod.name',
    'k8s.namespace.name',
    'db.collection.name',
    'messaging.destination.name',
    'code.function.name',
    'product.name',
    'item_name',
    'item_list_name',
    'promotion_name',
    'gen_ai.usage.input_tokens',
    'metric.cardinality',
    'code.classname',
    'mail.template',
    'email.template',
    'email_campaign_id',
    'email_type',
    'user.email_verified',
  ];
  const neutral = [
    'user.id',
    'enduser.id',
    'session.id',
    'service.version',
    'service.instance.id',
    'http.route',
    'url.full',
    'url.query',
    'search.query',
    'order.id',
    'order.amount',
    'product.sku',
    'cart.sku',
    'currency',
    'payment.method',
    'signup.method',
    'consent.analytics',
    'http.request.header.user-agent',
    'db.query.text',
    'syntax_identifier',
    // mail keys that name no address
    'mail.server',
    'mail.provider',
    'mailbox.size',
    'mail.subject_id',
    // words that only contain a German key's letters
    'applz',
    'explzip',
    'kundenservice_seite',
    'plzfoo.bar',
  ];
  for (const k of blocked) test(`blocks ${k}`, () => assert.equal(m(k), 'blocked'));
  for (const k of allowed) test(`allows ${k}`, () => assert.equal(m(k), 'allowed'));
  for (const k of neutral) test(`leaves ${k} neutral`, () => assert.equal(m(k), 'neutral'));
  test('every default pattern compiles and the lists are frozen', () => {
    assert.ok(Object.isFrozen(DEFAULT_BLOCKED_KEYS));
    assert.ok(Object.isFrozen(DEFAULT_ALLOWED_KEYS));
    for (const p of [...DEFAULT_BLOCKED_KEYS, ...DEFAULT_ALLOWED_KEYS]) new RegExp(globToRegExpSource(p));
  });
});

describe('compileKeyMatcher', () => {
  test('globs are case-insensitive and anchored; plain patterns match exactly', () => {
    const m = compileKeyMatcher({ blocked: ['*email*', 'ssn', 'user.?d', 'a.b(c)+[d]'], allowed: [] });
    assert.equal(m('USER.EMAIL'), 'blocked');
    assert.equal(m('ssn'), 'blocked');
    assert.equal(m('ssn_hash'), 'neutral');
    assert.equal(m('user.id'), 'blocked');
    assert.equal(m('user.idx'), 'neutral');
    assert.equal(m('a.b(c)+[d]'), 'blocked');
    assert.equal(m('axb(c)+[d]'), 'neutral');
  });
  test('the allow list wins over the block list', () => {
    const m = compileKeyMatcher({ blocked: ['*address*'], allowed: ['client.address'] });
    assert.equal(m('client.address'), 'allowed');
    assert.equal(m('home.address'), 'blocked');
  });
  test('allow-list-only mode fails closed', () => {
    const m = compileAllowListOnlyMatcher(['item_id', 'value', 'currency', 'items.*']);
    assert.equal(m('item_id'), 'allowed');
    assert.equal(m('items.price'), 'allowed');
    assert.equal(m('user.email'), 'blocked');
    assert.equal(m('something_new'), 'blocked');
    const none = compileKeyMatcher({ blocked: ['*'], mode: 'allow_list_only' });
    assert.equal(none('item_id'), 'blocked', 'empty allow list blocks every key');
  });
  test('memo is bounded and does not change answers', () => {
    const m = compileKeyMatcher({ blocked: ['*secret*'], allowed: ['public.*'], cacheSize: 2 });
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 10; k++) {
        assert.equal(m(`k${k}.secret`), 'blocked');
        assert.equal(m(`public.${k}.secret`), 'allowed');
        assert.equal(m(`k${k}`), 'neutral');
      }
    }
    const nomemo = compileKeyMatcher({ blocked: ['x'], cacheSize: 0 });
    assert.equal(nomemo('x'), 'blocked');
  });
  test('errors name the list and index', () => {
    assert.throws(() => compileKeyMatcher({ blocked: ['ok', ''] }), /blocked_keys\[1\]: key pattern must be a non-empty string/);
    assert.throws(() => compileKeyMatcher({ allowed: [42 as unknown as string] }), /allowed_keys\[0\]/);
    assert.throws(() => compileKeyMatcher({ blocked: 'x' as unknown as string[] }), /blocked_keys must be a list/);
    assert.throws(() => compileKeyMatcher({ mode: 'deny' as never }), /mode must be/);
    assert.throws(() => compileKeyMatcher({ cacheSize: -1 }), /cache size/);
  });
});
