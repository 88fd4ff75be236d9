/** URLs and query strings: `scrubUrl` / `scrubQuery` with key rules and value detectors. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileValueScanner, createHitCounter, percentDecode, type KeyAction } from '../../../processors/privacy/detectors.js';
import { DEFAULT_ALLOWED_KEYS, DEFAULT_BLOCKED_KEYS, compileAllowListOnlyMatcher, compileKeyMatcher } from '../../../processors/privacy/keys.js';
import { createPseudonymizer } from '../../../processors/privacy/pseudonym.js';

const keys = compileKeyMatcher({ blocked: DEFAULT_BLOCKED_KEYS, allowed: DEFAULT_ALLOWED_KEYS });

function scanner(action: KeyAction = 'drop') {
  return compileValueScanner({ queryKeys: { match: keys, action }, pseudonymize: createPseudonymizer({ key: 'url-test-key', keyId: 'k1' }) });
}

describe('scrubQuery (url.query)', () => {
  const sc = scanner();
  test('clean query strings are left alone (null, no re-encoding)', () => {
    for (const q of ['q=sneaker+weiss', 'q=jacke', 'q=g%C3%BCrtel+leder', 'q=sommerkleid+blau&page=2&sort=price', '', '?', 'a&&b=', 'x=%zz']) {
      assert.equal(sc.scrubQuery(q), null, q);
    }
  });
  test('values are decoded (+ is a space) before detection and re-encoded after', () => {
    assert.deepEqual(sc.scrubQuery('q=jane.doe%40example.com'), { value: 'q=[email]', drop: false, hits: 1 });
    assert.equal(sc.scrubQuery('q=jane+doe+%2B49+151+23456789')?.value, 'q=jane+doe+[phone]');
    assert.equal(sc.scrubQuery('?q=john.smith%40example.com&page=2')?.value, '?q=[email]&page=2');
    assert.equal(sc.scrubQuery('q=0049+151+23456789')?.value, 'q=[phone]');
    assert.equal(sc.scrubQuery('q=jane.doe@example.com')?.value, 'q=[email]');
    assert.equal(sc.scrubQuery('ip=203.0.113.7')?.value, 'ip=203.0.113.0');
    assert.equal(sc.scrubQuery('note=paid+with+4111+1111+1111+1111+today')?.value, 'note=paid+with+[card]+today');
  });
  test('blocked keys: drop removes the parameter', () => {
    assert.deepEqual(sc.scrubQuery('q=sneaker+weiss&email=jane%40example.com'), { value: 'q=sneaker+weiss', drop: false, hits: 1 });
    assert.equal(sc.scrubQuery('access_token=abc123&page=1')?.value, 'page=1');
    assert.equal(sc.scrubQuery('first_name=Jane&last_name=Doe&item_name=Sneaker')?.value, 'item_name=Sneaker');
    assert.equal(sc.scrubQuery('Password=x')?.value, '');
  });
  test('blocked keys: mask and pseudonymize', () => {
    assert.equal(scanner('mask').scrubQuery('q=x&email=jane%40example.com')?.value, 'q=x&email=[redacted]');
    const p = scanner('pseudonymize').scrubQuery('user_name=Jane+Doe')?.value;
    assert.match(p!, /^user_name=k1:[A-Za-z0-9_-]{22}$/);
    assert.equal(scanner('pseudonymize').scrubQuery('user_name=Jane%20Doe')?.value, p, 'same decoded value, same pseudonym');
  });
  test('allowed keys still get value detection', () => {
    assert.equal(sc.scrubQuery('client.address=203.0.113.7')?.value, 'client.address=203.0.113.0');
  });
  test('allow-list-only key rules fail closed', () => {
    const strict = compileValueScanner({ queryKeys: { match: compileAllowListOnlyMatcher(['q', 'page']) } });
    assert.equal(strict.scrubQuery('q=sneaker&page=2&utm_source=newsletter&uid=u-1001')?.value, 'q=sneaker&page=2');
  });
  test('a detector with the drop action removes the parameter, not the whole query', () => {
    const sc2 = compileValueScanner({ detectors: { email: { action: 'drop' } } });
    assert.deepEqual(sc2.scrubQuery('q=jane.doe%40example.com&page=2'), { value: 'page=2', drop: false, hits: 1 });
  });
  test('key rules count through queryKeys.onHit, detectors through onHit', () => {
    const counter = createHitCounter();
    const keyHits: KeyAction[] = [];
    const sc2 = compileValueScanner({ onHit: counter.onHit, queryKeys: { match: keys, onHit: (a) => keyHits.push(a) } });
    sc2.scrubQuery('email=a%40b.com&q=jane.doe%40example.com');
    assert.deepEqual(keyHits, ['drop']);
    assert.equal(counter.get('email', 'mask'), 1);
  });
});

describe('scrubUrl (url.full, http.target, url.path)', () => {
  const sc = scanner();
  test('fixture URLs', () => {
    assert.equal(sc.scrubUrl('http://127.0.0.1:39551/internal/payment')?.value, 'http://127.0.0.0:39551/internal/payment');
    assert.equal(sc.scrubUrl('/search?q=jane.doe%40example.com')?.value, '/search?q=[email]');
    assert.equal(sc.scrubUrl('/search?q=jane+doe+%2B49+151+23456789')?.value, '/search?q=jane+doe+[phone]');
    assert.equal(sc.scrubUrl('/pdp/t-shirt-print-schwarz-trq22o064-q11.html'), null);
    assert.equal(sc.scrubUrl('/search?q=g%C3%BCrtel+leder'), null);
    assert.equal(sc.scrubUrl('https://shop.example/pdp/sneaker-low-weiss-ad115o0k2-a11.html?ref=home#reviews'), null);
  });
  test('path segments are decoded and scanned', () => {
    assert.equal(sc.scrubUrl('/users/jane.doe@example.com/orders')?.value, '/users/[email]/orders');
    assert.equal(sc.scrubUrl('/users/jane.doe%40example.com/orders?page=1')?.value, '/users/[email]/orders?page=1');
    assert.equal(sc.scrubUrl('https://api.example/v1/iban/DE89370400440532013000')?.value, 'https://api.example/v1/iban/[iban]');
    // In a path "+" is a literal plus.
    assert.equal(sc.scrubUrl('/call/+4915123456789')?.value, '/call/[phone]');
  });
  test('user-info is removed whole (user and password); host IPs are truncated', () => {
    assert.equal(sc.scrubUrl('https://jane:s3cret@shop.example/')?.value, 'https://shop.example/');
    assert.equal(sc.scrubUrl('https://bob:secret@host.example/orders?page=2')?.value, 'https://host.example/orders?page=2');
    assert.equal(sc.scrubUrl('https://bob@host.example/')?.value, 'https://host.example/');
    assert.equal(sc.scrubUrl('ftp://jane.doe%40example.com:pw@files.example/x')?.value, 'ftp://files.example/x');
    assert.equal(sc.scrubUrl('https://user:pw@203.0.113.7:8443/')?.value, 'https://203.0.113.0:8443/');
    assert.equal(sc.scrubUrl('https://host.example/a@b'), null, 'an @ in the path is no userinfo');
    assert.equal(sc.scrubUrl('http://[2001:db8:85a3::8a2e:370:7334]:8080/x')?.value, 'http://[2001:db8:85a3::]:8080/x');
    assert.equal(sc.scrubUrl('http://203.0.113.7/')?.value, 'http://203.0.113.0/');
  });
  test('query parameters get key rules and detectors; the fragment too when it has parameters', () => {
    assert.equal(
      sc.scrubUrl('https://shop.example/cb?email=jane%40example.com&state=xyz#access_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln&token_type=Bearer&expires_in=3600')?.value,
      'https://shop.example/cb?state=xyz#expires_in=3600',
    );
    assert.equal(sc.scrubUrl('/p#mail:jane.doe@example.com')?.value, '/p#mail:[email]');
  });
  test('a query or fragment left empty loses its "?" / "#", and no "&" dangles', () => {
    assert.equal(sc.scrubUrl('https://shop.example/cb?email=jane%40example.com')?.value, 'https://shop.example/cb');
    assert.equal(sc.scrubUrl('https://shop.example/cb?email=jane%40example.com&access_token=x')?.value, 'https://shop.example/cb');
    assert.equal(sc.scrubUrl('https://shop.example/cb?page=2&email=jane%40example.com')?.value, 'https://shop.example/cb?page=2');
    assert.equal(sc.scrubUrl('https://shop.example/cb?page=2&email=jane%40example.com&')?.value, 'https://shop.example/cb?page=2');
    assert.equal(sc.scrubUrl('/cb?email=a%40b.com#frag')?.value, '/cb#frag');
    assert.equal(sc.scrubUrl('https://shop.example/cb#access_token=abc&expires_in=3600')?.value, 'https://shop.example/cb#expires_in=3600');
    assert.equal(sc.scrubUrl('https://shop.example/cb#access_token=abc')?.value, 'https://shop.example/cb');
    assert.equal(sc.scrubQuery('?email=jane%40example.com')?.value, '');
    assert.equal(sc.scrubUrl('/users/jane.doe@example.com/?')?.value, '/users/[email]/?', 'a "?" as sent, with nothing removed from it, stays');
    assert.equal(sc.scrubUrl('https://shop.example/cb?'), null);
  });
  test('a bare query string is recognised', () => {
    assert.equal(sc.scrubUrl('q=jane.doe%40example.com')?.value, 'q=[email]');
  });
  test('a drop match outside the query marks the whole URL for dropping', () => {
    const sc2 = compileValueScanner({ detectors: { email: { action: 'drop' } } });
    assert.equal(sc2.scrubUrl('/users/jane.doe@example.com/orders')?.drop, true);
  });
  test('unchanged parts keep their exact text', () => {
    const u = 'https://shop.example/a%20b/c?x=%7E&q=jane.doe%40example.com&y=1+2#top';
    assert.equal(sc.scrubUrl(u)?.value, 'https://shop.example/a%20b/c?x=%7E&q=[email]&y=1+2#top');
  });
  test('percentDecode is lenient', () => {
    assert.equal(percentDecode('a+b%20c', true), 'a b c');
    assert.equal(percentDecode('a+b', false), 'a+b');
    assert.equal(percentDecode('100%', false), '100%');
    assert.equal(percentDecode('%E2%82%AC%zz', false), '€%zz');
    assert.equal(percentDecode('%ff', false), '\uFFFD');
  });
});
