/**
 * PII corpus for the value detectors: positive and negative cases for every detector (spaces,
 * dashes, dots, mixed case), near misses that must survive, the shop fixtures' personal data, and
 * the actions (mask, drop, pseudonymize, truncate).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DETECTOR_NAMES,
  canonicalForm,
  compileValueScanner,
  createHitCounter,
  ibanValid,
  luhnValid,
  truncateIPv4,
  truncateIPv6,
  type DetectorName,
  type ValueScanner,
} from '../../../processors/privacy/detectors.js';
import { createPseudonymizer } from '../../../processors/privacy/pseudonym.js';

const all = compileValueScanner();

/** Compiles a scanner with only `name` on, masking. */
function only(name: DetectorName): ValueScanner {
  return compileValueScanner({ detectors: { [name]: { action: 'mask' } } });
}

function scanned(sc: ValueScanner, s: string): string | null {
  return sc.scan(s)?.value ?? null;
}

/** Asserts that every case is found by `name` alone and masked completely. */
function positives(name: DetectorName, mask: string, cases: string[]): void {
  const sc = only(name);
  for (const c of cases) {
    test(`${name} finds ${JSON.stringify(c)}`, () => {
      assert.equal(scanned(sc, c), mask, `alone: ${c}`);
      const inText = `before ${c} after`;
      assert.equal(scanned(sc, inText), `before ${mask} after`, `in text: ${c}`);
    });
  }
}

/** Asserts that no case is found by `name` (and, where `alsoAll`, by any detector). */
function negatives(name: DetectorName, cases: string[], alsoAll = true): void {
  const sc = only(name);
  for (const c of cases) {
    test(`${name} leaves ${JSON.stringify(c)}`, () => {
      assert.equal(sc.scan(c), null, `alone: ${c}`);
      assert.equal(sc.scan(`before ${c} after`), null, `in text: ${c}`);
      if (alsoAll) assert.equal(all.scan(c), null, `all detectors: ${c}`);
    });
  }
}

/** Independent Luhn implementation, to build test numbers. */
function luhnCheckDigit(body: string): string {
  let sum = 0;
  for (let k = 0; k < body.length; k++) {
    let d = Number(body[body.length - 1 - k]);
    if (k % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

describe('email (RFC 5322 lite)', () => {
  positives('email', '[email]', [
    'jane.doe@example.com',
    'john.smith@example.com',
    'JANE.DOE@EXAMPLE.COM',
    'Jane.Doe@Example.Com',
    'jane+newsletter@example.co.uk',
    'j_doe-1@mail.shop.example.org',
    'jürgen.müller@beispiel.de',
    'x@xn--mller-kva.example',
  ]);
  test('email keeps its surroundings', () => {
    assert.equal(scanned(all, '<jane.doe@example.com>'), '<[email]>');
    assert.equal(scanned(all, 'mailto:jane.doe@example.com'), 'mailto:[email]');
    assert.equal(scanned(all, 'contact: jane.doe@example.com.'), 'contact: [email].');
    assert.equal(scanned(all, '"user":"jane.doe@example.com"'), '"user":"[email]"');
    assert.equal(scanned(all, 'a@example.com,b@example.org'), '[email],[email]');
  });
  negatives('email', [
    '@opentelemetry/instrumentation-http',
    'user@localhost',
    'logo@2x.png',
    'icons/arrow@3x.svg',
    'lodash@4.17.21',
    'jane at example dot com',
    '@',
    'a@b',
    'foo@.com',
  ]);
});

describe('ipv4 (dotted quad)', () => {
  positives('ipv4', '[ipv4]', ['203.0.113.7', '203.0.113.42', '192.0.2.10', '127.0.0.1', '10.0.0.1', '255.255.255.255', '0.0.0.0']);
  test('ipv4 with port, in brackets, after "="', () => {
    assert.equal(scanned(only('ipv4'), 'peer 203.0.113.7:443'), 'peer [ipv4]:443');
    assert.equal(scanned(only('ipv4'), 'ip=203.0.113.7;'), 'ip=[ipv4];');
    assert.equal(scanned(only('ipv4'), '(203.0.113.7)'), '([ipv4])');
    assert.equal(scanned(only('ipv4'), 'from 203.0.113.7.'), 'from [ipv4].');
  });
  negatives('ipv4', [
    '1.4.2',
    '2.12.1',
    '1.1',
    '1.2.3.4.5',
    '256.1.1.1',
    '203.0.113.256',
    '01.02.03.04',
    'v1.2.3.4',
    '10.0.19041.1',
    'Windows NT 10.0',
    'Chrome/126.0',
    '21.11.2025',
    '1.234.567',
  ]);
  test('withoutIPv4: the same scanner without the ipv4 detector', () => {
    const v = all.withoutIPv4;
    assert.deepEqual(v.detectors, all.detectors.filter((d) => d !== 'ipv4'));
    assert.equal(v.scan('2.14.0.7'), null);
    assert.equal(scanned(v, 'build 2.14.0.7 by jane.doe@example.com'), 'build 2.14.0.7 by [email]');
    assert.equal(scanned(v, 'build%202.14.0.7%20jane.doe%40example.com'), 'build%202.14.0.7%20[email]');
    assert.equal(v.scrubUrl('https://203.0.113.7/a?ip=203.0.113.7&to=jane.doe%40example.com')?.value, 'https://203.0.113.7/a?ip=203.0.113.7&to=[email]');
    assert.equal(scanned(all, '2.14.0.7'), '2.14.0.0');
    assert.equal(v.withoutIPv4, v);
    const noV4 = compileValueScanner({ detectors: { email: { action: 'mask' } } });
    assert.equal(noV4.withoutIPv4, noV4);
  });
});

describe('ipv6 (RFC 4291)', () => {
  positives('ipv6', '[ipv6]', [
    '2001:db8:85a3:8d3:1319:8a2e:370:7348',
    '2001:0db8:0000:0000:0000:ff00:0042:8329',
    '2001:DB8::1',
    '2001:db8::',
    'fe80::1',
    '::1',
    '::ffff:203.0.113.7',
    '64:ff9b::192.0.2.10',
  ]);
  test('ipv6 in brackets with a port, and with a zone id', () => {
    assert.equal(scanned(only('ipv6'), '[2001:db8::1]:8080'), '[[ipv6]]:8080');
    assert.equal(scanned(only('ipv6'), 'fe80::1%eth0'), '[ipv6]%eth0');
    assert.equal(scanned(only('ipv6'), 'addr 2001:db8::1.'), 'addr [ipv6].');
  });
  negatives('ipv6', [
    '12:30:45',
    '12:30:45.123',
    '00:1a:2b:3c:4d:5e',
    'std::string',
    'Foo::bar()',
    '::',
    'a:b',
    '1:2:3',
    '2001:db8:1:2:3:4:5:6:7',
    '2001:db8::1::2',
    '12345::1',
    '2026-11-21T10:38:19.524Z',
    'fe80::1g',
  ]);
});

describe('card (ISO/IEC 7812, Luhn + brand)', () => {
  positives('card', '[card]', [
    '4111 1111 1111 1111',
    '4111111111111111',
    '4111-1111-1111-1111',
    '4000 0000 0000 0002',
    '4012 8888 8888 1881',
    '4222222222222', // Visa, 13 digits
    '5555 5555 5555 4444',
    '5105-1051-0510-5100',
    '2223 0031 2200 3222', // Mastercard 2-series
    '3782 822463 10005', // American Express, 4-6-5
    '371449635398431',
    '6011 1111 1111 1117', // Discover
    '3056 9309 0259 04', // Diners Club, 14 digits
    '3530 1113 3330 0000', // JCB
    '6200 0000 0000 0005', // UnionPay
    '6759 6498 2643 8453', // Maestro
    `4111 1111 1111 1111 00${luhnCheckDigit('411111111111111100')}`, // Visa, 19 digits
  ]);
  test('card followed by another number group is still found', () => {
    assert.equal(scanned(only('card'), 'card 4111 1111 1111 1111 12/29'), 'card [card] 12/29');
    assert.equal(scanned(only('card'), 'pan:4111111111111111,exp:1229'), 'pan:[card],exp:1229');
  });
  const luhnValidNoBrand = `179528869952400000${luhnCheckDigit('179528869952400000')}`;
  negatives('card', [
    '4111 1111 1111 1112', // Luhn fails
    '4111111111111112',
    '4000 0000 0000 0001',
    '5555 5555 5555 4445',
    '1795288699524000000', // nanosecond timestamp
    luhnValidNoBrand, // Luhn-valid 19 digits, no brand starts with 1
    `9${'0'.repeat(14)}${luhnCheckDigit('9' + '0'.repeat(14))}`, // Luhn-valid, no brand
    '1795288699524', // millisecond timestamp
    '1795288699524000', // microseconds
    '4111 1111 1111', // too short
    '0.4111111111111111', // a decimal
    '4111111111111111111111', // 22 digits
    '4111 1111 1111 1111x', // glued to a word
    '41234567-1234-1234-1234-123456789012', // a digits-only UUID
    '1111 2222 3333 4444', // no brand starts with 1
  ]);
  test('luhnValid', () => {
    assert.equal(luhnValid('4111 1111 1111 1111'), true);
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('79927398710'), false);
    assert.equal(luhnValid('not digits'), false);
  });
});

describe('iban (ISO 13616, mod-97)', () => {
  positives('iban', '[iban]', [
    'DE89 3704 0044 0532 0130 00',
    'DE89370400440532013000',
    'de89 3704 0044 0532 0130 00',
    'De89370400440532013000',
    'GB82 WEST 1234 5698 7654 32',
    'gb82west12345698765432',
    'FR14 2004 1010 0505 0001 3M02 606',
    'NL91 ABNA 0417 1643 00',
    'BE68 5390 0754 7034',
    'CH93 0076 2011 6238 5295 7',
    'AT61 1904 3002 3457 3201',
    'ES91 2100 0418 4502 0005 1332',
    'IT60 X054 2811 1010 0000 0123 456',
    'NO93 8601 1117 947',
  ]);
  test('iban followed by a word, a BIC, or punctuation', () => {
    assert.equal(scanned(only('iban'), 'IBAN: DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX'), 'IBAN: [iban], BIC COBADEFFXXX');
    assert.equal(scanned(only('iban'), 'BE68 5390 0754 7034 from Jane'), '[iban] from Jane');
  });
  negatives('iban', [
    'DE88 3704 0044 0532 0130 00', // wrong check digits
    'DE89 3704 0044 0532 0130 01', // wrong check (last digit)
    'GB83 WEST 1234 5698 7654 32',
    'DE89 3704 0044 0532 0130 0', // too short for DE
    'DE89370400440532013000X', // glued
    'XX89370400440532013000', // no such country
    'DE89 3704 0044 0532 0130 00 00'.replace(/ /g, ''), // too long, unspaced
    'BE68 5390 0754 703A', // BE has a numeric BBAN
    'DE89  3704 0044 0532 0130 00', // double space
  ]);
  test('ibanValid', () => {
    assert.equal(ibanValid('GB82 WEST 1234 5698 7654 32'), true);
    assert.equal(ibanValid('GB82WEST12345698765433'), false);
    assert.equal(ibanValid('1234'), false);
  });
});

describe('phone (E.164, international format)', () => {
  positives('phone', '[phone]', [
    '+49 151 23456789',
    '+1 415 555 0199',
    '+44 (0)20 7946 0958',
    '+49 (0) 151 23456789',
    '+1 (415) 555-0199',
    '+1-415-555-0199',
    '+1.415.555.0199',
    '+33 6 12 34 56 78',
    '+4915123456789',
    '0049 151 23456789',
    '0044 20 7946 0958',
    '+353 1 234 5678',
  ]);
  test('phone inside text and query-decoded text', () => {
    assert.equal(scanned(all, 'jane doe +49 151 23456789'), 'jane doe [phone]');
    assert.equal(scanned(all, 'call +1 415 555 0199.'), 'call [phone].');
    assert.equal(scanned(all, 'tel:+4915123456789'), 'tel:[phone]');
  });
  negatives('phone', [
    '030 1234567', // national format
    '0151 23456789',
    '+1 234', // too short
    '+12345678', // unseparated, fewer than 10 digits
    '+1.234.567.890', // thousands separators
    '+49 1512345678901234', // more than 15 digits
    '2024-05-01T12:30:45+01:00',
    '00123456789', // zero-padded id
    '0000 1234 5678', // 00 + 0
    'DE89 3704 0044 0532 0130 01', // groups of a longer number
    'x+49 151 23456789', // glued to a word
  ], false);
});

describe('bearer (RFC 6750, RFC 7617)', () => {
  const sc = only('bearer');
  test('credentials after Bearer/Basic are replaced, the scheme stays', () => {
    assert.equal(scanned(sc, 'Authorization: Bearer abc.def'), 'Authorization: Bearer [token]');
    assert.equal(scanned(sc, 'authorization=bearer x'), 'authorization=bearer [token]');
    assert.equal(scanned(sc, '{"Authorization":"Bearer 0123abcd"}'), '{"Authorization":"Bearer [token]"}');
    assert.equal(scanned(sc, 'Proxy-Authorization: Bearer abc'), 'Proxy-Authorization: Bearer [token]');
    assert.equal(scanned(sc, 'sent Bearer 3a7f9c2e1b4d8f6a0c5e to upstream'), 'sent Bearer [token] to upstream');
    assert.equal(scanned(sc, 'BEARER gho_16C7e42F292c6912E7710c838347Ae178B4a'), 'BEARER [token]');
    assert.equal(scanned(sc, 'Authorization: Basic dXNlcjpwYXNz'), 'Authorization: Basic [token]');
    assert.equal(scanned(sc, 'basic amFuZTpzM2NyZXQh'), 'basic [token]');
  });
  negatives('bearer', [
    'Bearer authentication',
    'the bearer of bad news',
    'Bearer tokens are opaque',
    'WWW-Authenticate: Bearer realm="example"',
    'Basic plan',
    'Basic authentication',
    'Basic QUJDREVGR0g=', // decodes to "ABCDEFGH": no user:pass
    'Bearer',
  ]);
});

describe('jwt (RFC 7519)', () => {
  const jwt =
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIn0.4Adcj3UFYzPUVaVF43FmMab6RlaQD8A9V8wFzzht-KQ';
  const unsigned = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1LTEwMDEifQ.';
  const jwe = 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ';
  positives('jwt', '[jwt]', [jwt, unsigned, jwe]);
  test('jwt in a sentence, in a query value, after Bearer', () => {
    assert.equal(scanned(only('jwt'), `token ${jwt}.`), 'token [jwt].');
    assert.equal(scanned(only('jwt'), `id_token=${jwt}&x=1`), 'id_token=[jwt]&x=1');
    assert.equal(scanned(all, `Authorization: Bearer ${jwt}`), 'Authorization: Bearer [token]');
  });
  negatives('jwt', [
    'eyJhbGciOiJIUzI1NiJ9', // one segment
    'eyJzb21lIjoianNvbiJ9.eyJzdWIiOiIxIn0.c2ln', // header without "alg"
    'eyJub3QganNvbg.eyJzdWIiOiIxIn0.c2ln', // header is not JSON
    'xeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln', // glued
  ]);
});

describe('near misses survive every detector', () => {
  const nearMisses = [
    'TRQ22O064-Q11',
    'LE222N0AB-K11',
    'AD115O0K2-A11',
    'o-22974',
    'o-1998',
    'u-1001',
    's-9f2c1a7e',
    '550e8400-e29b-41d4-a716-446655440000',
    '4bf92f3577b34da6a3ce929d0e0e4736',
    '00f067aa0ba902b7',
    'be12345678901234',
    '229.74',
    '19.99',
    '89.95',
    '1.234,56 €',
    '1.4.2',
    '2.12.1',
    'HTTP/1.1',
    '1795288699524000000',
    '1795288699524',
    '2026-11-21T10:38:19.524Z',
    '2026-11-21T10:38:19.524+01:00',
    '21.11.2025 10:38',
    'gürtel leder',
    'sneaker weiss',
    'sommerkleid blau',
    '/pdp/t-shirt-print-schwarz-trq22o064-q11.html',
    '/pdp/jeans-slim-fit-blau-le222n0ab-k11.html',
    'q=g%C3%BCrtel+leder',
    'q=sneaker+weiss',
    'shop-web-7d9f8c-abcde',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1',
    'SELECT * FROM products WHERE sku = $1',
    'Error: card declined: insufficient funds\n    at Object.shopHandle [as handle] (/app/scenarios.js:110:19)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    'GET /pdp/:slug',
    '@opentelemetry/instrumentation-http',
    'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'order o-22974 total 229.74 EUR, 3 items',
    'results: 12345678',
    'feature_flag.evaluated pdp-gallery-v2 new-gallery',
    'ab',
    '',
  ];
  for (const s of nearMisses) {
    test(`survives ${JSON.stringify(s)}`, () => assert.equal(all.scan(s), null));
  }
  test('random trace ids, span ids and UUIDs survive', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{16}$/), fc.uuid(), (t, s, u) => {
        assert.equal(all.scan(`trace ${t} span ${s} id ${u}`), null);
      }),
      { numRuns: 2000 },
    );
  });
  test('random SKUs, order ids, prices, versions and nanosecond timestamps survive', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z]{2,3}[0-9]{3}[A-Z0-9]{4}-[A-Z][0-9]{2}$/),
        fc.integer({ min: 1, max: 9_999_999 }),
        fc.integer({ min: 1, max: 99_999_99 }),
        fc.tuple(fc.nat(30), fc.nat(30), fc.nat(30)),
        fc.bigInt({ min: 1_000_000_000_000_000_000n, max: 1_999_999_999_999_999_999n }),
        (sku, order, cents, [a, b, c], nanos) => {
          const s = `sku ${sku} order o-${order} price ${(cents / 100).toFixed(2)} v${a}.${b}.${c} ${a}.${b}.${c} at ${nanos} ms ${nanos / 1_000_000n}`;
          assert.equal(all.scan(s), null, s);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("the shop fixtures' personal data", () => {
  const cases: [string, string][] = [
    ['jane.doe@example.com', '[email]'],
    ['john.smith@example.com', '[email]'],
    ['203.0.113.7', '203.0.113.0'],
    ['203.0.113.42', '203.0.113.0'],
    ['192.0.2.10', '192.0.2.0'],
    ['127.0.0.1', '127.0.0.0'],
    ['+49 151 23456789', '[phone]'],
    ['+1 415 555 0199', '[phone]'],
    ['4111 1111 1111 1111', '[card]'],
    ['4111111111111111', '[card]'],
    ['4000 0000 0000 0002', '[card]'],
    ['Payment declined for john.smith@example.com card 4000 0000 0000 0002', 'Payment declined for [email] card [card]'],
    ['New signup jane.doe@example.com from 203.0.113.7', 'New signup [email] from 203.0.113.0'],
    ['New signup john.smith@example.com from 203.0.113.42', 'New signup [email] from 203.0.113.0'],
    ['jane doe +49 151 23456789', 'jane doe [phone]'],
    ['http://127.0.0.1:39551/internal/payment', 'http://127.0.0.0:39551/internal/payment'],
  ];
  for (const [input, want] of cases) {
    test(`default scanner: ${JSON.stringify(input)}`, () => assert.equal(all.scan(input)?.value, want));
  }
});

describe('word boundaries and structured text', () => {
  test('non-ASCII letters glue, non-ASCII spaces and symbols separate', () => {
    assert.equal(all.scan('ü4111111111111111'), null);
    assert.equal(all.scan('Betrag:\u00a04111 1111 1111 1111')?.value, 'Betrag:\u00a0[card]');
    assert.equal(all.scan('€4111111111111111')?.value, '€[card]');
    assert.equal(all.scan('Größe 203.0.113.7')?.value, 'Größe 203.0.113.0');
    assert.equal(all.scan('gürtel@example.com')?.value, '[email]');
  });
  test('JSON and key=value log bodies', () => {
    const body = '{"msg":"signup","email":"jane.doe@example.com","ip":"203.0.113.7","card":"4111-1111-1111-1111","ts":1795288699524000000}';
    assert.equal(
      all.scan(body)?.value,
      '{"msg":"signup","email":"[email]","ip":"203.0.113.0","card":"[card]","ts":1795288699524000000}',
    );
    assert.equal(
      all.scan('level=info user=jane.doe@example.com phone=+1-415-555-0199 order=o-22974 amount=229.74')?.value,
      'level=info user=[email] phone=[phone] order=o-22974 amount=229.74',
    );
  });
  test('several findings of several kinds, back to back', () => {
    const r = all.scan('jane.doe@example.com,john.smith@example.com;203.0.113.7|+49 151 23456789/DE89370400440532013000');
    assert.deepEqual(r, { value: '[email],[email];203.0.113.0|[phone]/[iban]', drop: false, hits: 5 });
  });
});

describe('percent-encoded text', () => {
  const cases: [string, string][] = [
    ['jane.doe%40example.com', '[email]'],
    ['%2B49%20151%2023456789', '[phone]'],
    ['q=jane.doe%40example.com', 'q=[email]'],
    ['q=jane+doe+%2B49+151+23456789', 'q=jane+doe+[phone]'],
    ['/search?q=jane.doe%40example.com&page=2', '/search?q=[email]&page=2'],
    ['GET https://shop.example/search?q=john.smith%40example.com HTTP/1.1', 'GET https://shop.example/search?q=[email] HTTP/1.1'],
    ['/users/jane.doe%40example.com/orders', '/users/[email]/orders'],
    ['iban=DE89%203704%200044%200532%200130%2000', 'iban=[iban]'],
    ['card=4111%201111%201111%201111&exp=12%2F29', 'card=[card]&exp=12%2F29'],
    ['redirect=https%3A%2F%2Fshop.example%2F%3Femail%3Djane.doe%2540example.com', 'redirect=https%3A%2F%2Fshop.example%2F%3Femail%3Djane.doe%2540example.com'],
  ];
  for (const [input, want] of cases) {
    test(`scan(${JSON.stringify(input)})`, () => assert.equal(all.scan(input)?.value ?? input, want));
  }
  test('unchanged encoded text stays byte for byte', () => {
    assert.equal(all.scan('q=g%C3%BCrtel+leder'), null);
    assert.equal(all.scan('/search?q=g%C3%BCrtel+leder&page=2'), null);
    assert.equal(all.scan('100%'), null);
    assert.equal(all.scan('bad %zz escape %e0%a4 x'), null);
  });
  test('only the changed run is re-encoded', () => {
    const s = 'GET /a%20b?q=jane.doe%40example.com&lang=de%2Dat from 203.0.113.7';
    assert.equal(all.scan(s)?.value, 'GET /a%20b?q=[email]&lang=de%2Dat from 203.0.113.0');
  });
});

describe('actions', () => {
  const pseudo = createPseudonymizer({ key: 'test-key-0123456789abcdef', keyId: 'k1' });
  test('pseudonymize uses the canonical form, so spellings of one identifier agree', () => {
    const sc = compileValueScanner({
      detectors: { email: { action: 'pseudonymize' }, phone: { action: 'pseudonymize' }, card: { action: 'pseudonymize' }, iban: { action: 'pseudonymize' } },
      pseudonymize: pseudo,
    });
    const a = sc.scan('jane.doe@example.com')!.value;
    assert.match(a, /^k1:[A-Za-z0-9_-]{22}$/);
    assert.equal(sc.scan('JANE.DOE@Example.com')!.value, a);
    assert.equal(sc.scan('+49 151 23456789')!.value, sc.scan('0049 151 23456789')!.value);
    assert.equal(sc.scan('+44 (0)20 7946 0958')!.value, sc.scan('+442079460958')!.value);
    assert.equal(sc.scan('4111 1111 1111 1111')!.value, sc.scan('4111-1111-1111-1111')!.value);
    assert.equal(sc.scan('DE89 3704 0044 0532 0130 00')!.value, sc.scan('de89370400440532013000')!.value);
    assert.notEqual(sc.scan('john.smith@example.com')!.value, a);
    assert.equal(sc.scan('mail jane.doe@example.com now')!.value, `mail ${a} now`);
  });
  test('canonicalForm', () => {
    assert.equal(canonicalForm('email', 'Jane.Doe@Example.COM'), 'jane.doe@example.com');
    assert.equal(canonicalForm('ipv6', '2001:0DB8:0:0::1'), '2001:db8::1');
    assert.equal(canonicalForm('phone', '+44 (0)20 7946 0958'), '+442079460958');
    assert.equal(canonicalForm('phone', '0049 151 23456789'), '+4915123456789');
    assert.equal(canonicalForm('card', '4111-1111-1111-1111'), '4111111111111111');
    assert.equal(canonicalForm('iban', 'de89 3704 0044 0532 0130 00'), 'DE89370400440532013000');
  });
  test('drop masks and flags the value', () => {
    const sc = compileValueScanner({ detectors: { email: { action: 'drop' }, ipv4: { action: 'mask' } } });
    assert.deepEqual(sc.scan('from jane.doe@example.com at 203.0.113.7'), { value: 'from [email] at [ipv4]', drop: true, hits: 2 });
    assert.deepEqual(sc.scan('at 203.0.113.7'), { value: 'at [ipv4]', drop: false, hits: 1 });
  });
  test('truncate: IPv4 /24 and IPv6 /48 by default, configurable', () => {
    assert.equal(all.scan('203.0.113.7')!.value, '203.0.113.0');
    assert.equal(all.scan('2001:db8:85a3:8d3:1319:8a2e:370:7348')!.value, '2001:db8:85a3::');
    assert.equal(all.scan('::ffff:203.0.113.7')!.value, '::ffff:203.0.113.0');
    const sc = compileValueScanner({ detectors: { ipv4: { action: 'truncate' }, ipv6: { action: 'truncate' } }, ipv4PrefixBits: 16, ipv6PrefixBits: 56 });
    assert.equal(sc.scan('203.0.113.7')!.value, '203.0.0.0');
    assert.equal(sc.scan('2001:db8:85a3:8d3:1319:8a2e:370:7348')!.value, '2001:db8:85a3:800::');
    assert.equal(truncateIPv4('203.0.113.7', 0), '0.0.0.0');
    assert.equal(truncateIPv4('203.0.113.7', 32), '203.0.113.7');
    assert.equal(truncateIPv4('203.0.113.7', 20), '203.0.112.0');
    assert.equal(truncateIPv6('2001:db8:0:0:1:0:0:1', 128), '2001:db8::1:0:0:1');
    assert.equal(truncateIPv6('fe80::1ff:fe23:4567:890a', 64), 'fe80::');
    assert.equal(truncateIPv6('2001:db8::1', 0), '::');
    assert.throws(() => truncateIPv4('1.2.3'), /not an IPv4 address/);
    assert.throws(() => truncateIPv6('1:2'), /not an IPv6 address/);
  });
  test('onHit counts per detector and action', () => {
    const counter = createHitCounter();
    const sc = compileValueScanner({ detectors: { email: { action: 'mask' }, ipv4: { action: 'truncate' } }, onHit: counter.onHit });
    sc.scan('New signup jane.doe@example.com from 203.0.113.7');
    sc.scan('john.smith@example.com');
    sc.scan('nothing here');
    assert.equal(counter.get('email', 'mask'), 2);
    assert.equal(counter.get('ipv4', 'truncate'), 1);
    assert.equal(counter.get('card', 'mask'), 0);
    assert.deepEqual(counter.entries(), [
      { detector: 'email', action: 'mask', count: 2 },
      { detector: 'ipv4', action: 'truncate', count: 1 },
    ]);
  });
  test('disabled detectors find nothing', () => {
    const sc = compileValueScanner({ detectors: { card: { action: 'mask' } } });
    assert.deepEqual(sc.detectors, ['card']);
    assert.equal(sc.scan('jane.doe@example.com 203.0.113.7 +49 151 23456789'), null);
    const none = compileValueScanner({ detectors: {} });
    assert.equal(none.scan('jane.doe@example.com 4111 1111 1111 1111'), null);
  });
  test('all detectors are on by default', () => {
    assert.deepEqual(all.detectors, DETECTOR_NAMES);
  });
});

describe('configuration errors', () => {
  test('unknown detector, unknown action, truncate on a non-IP, pseudonymize without a key, bad prefix', () => {
    assert.throws(() => compileValueScanner({ detectors: { ssn: { action: 'mask' } } as never }), /detectors::ssn: unknown detector/);
    assert.throws(() => compileValueScanner({ detectors: { email: { action: 'hide' } } as never }), /detectors::email::action: must be one of/);
    assert.throws(() => compileValueScanner({ detectors: { email: { action: 'truncate' } } }), /truncate applies to ipv4 and ipv6 only/);
    assert.throws(() => compileValueScanner({ detectors: { email: { action: 'pseudonymize' } } }), /pseudonymize needs a pseudonymisation key/);
    assert.throws(() => compileValueScanner({ ipv4PrefixBits: 33 }), /ipv4 prefix length/);
    assert.throws(() => compileValueScanner({ ipv6PrefixBits: -1 }), /ipv6 prefix length/);
    assert.throws(() => compileValueScanner({ ipv6PrefixBits: 1.5 }), /ipv6 prefix length/);
  });
});

describe('properties', () => {
  test('any IPv4 address in text is truncated to its /24', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const want = ip.split('.').slice(0, 3).join('.') + '.0';
        assert.equal(all.scan(`client ${ip} connected`)?.value, `client ${want} connected`);
      }),
      { numRuns: 1000 },
    );
  });
  test('any IPv6 address in text is found', () => {
    fc.assert(
      fc.property(
        fc.ipV6().filter((ip) => ip !== '::'),
        (ip) => {
          assert.equal(only('ipv6').scan(`client ${ip} connected`)?.value, 'client [ipv6] connected', ip);
        },
      ),
      { numRuns: 1000 },
    );
  });
  test('any Luhn-valid Visa/Mastercard number, grouped or not, is found', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('4', '51', '52', '53', '54', '55', '2221', '2720'),
        fc.stringMatching(/^[0-9]{14}$/),
        fc.constantFrom('', ' ', '-'),
        (prefix, rest, sep) => {
          const body = (prefix + rest).slice(0, 15);
          const pan = body + luhnCheckDigit(body);
          const grouped = pan.match(/.{4}/g)!.join(sep);
          assert.equal(only('card').scan(`card ${grouped} declined`)?.value, 'card [card] declined', grouped);
          const broken = pan.slice(0, 15) + String((Number(pan[15]) + 1) % 10);
          assert.equal(only('card').scan(`card ${broken} declined`), null, broken);
        },
      ),
      { numRuns: 1000 },
    );
  });
  test('any e-mail address of the lite grammar is found', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9]([a-z0-9._+-]{0,20}[a-z0-9])?$/),
        fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/),
        fc.constantFrom('com', 'de', 'org', 'co.uk', 'shop'),
        (local, domain, tld) => {
          const email = `${local}@${domain}.${tld}`;
          assert.equal(only('email').scan(`from ${email} today`)?.value, 'from [email] today', email);
        },
      ),
      { numRuns: 1000 },
    );
  });
  test('scan never throws and returns null or a changed string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (s) => {
        const r = all.scan(s);
        if (r !== null) {
          assert.ok(r.hits >= 1);
          assert.equal(typeof r.value, 'string');
        }
        all.scrubUrl(s);
        all.scrubQuery(s);
      }),
      { numRuns: 3000 },
    );
  });
});
