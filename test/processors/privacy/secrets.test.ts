/**
 * The `secret` detector (issuer token shapes, name=value credentials, URL userinfo) and the
 * `birthdate` detector: positives, near misses that must survive, actions and counts.
 *
 * Test tokens are put together from pieces, so that this file holds nothing a secret scanner
 * would take for a leaked credential.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileValueScanner, createHitCounter, type DetectorName, type ValueScanner } from '../../../processors/privacy/detectors.js';
import { entropyBits } from '../../../processors/privacy/detect/secret.js';
import { privacySchema } from '../../../processors/privacy/config.js';

const all = compileValueScanner();

function only(name: DetectorName): ValueScanner {
  return compileValueScanner({ detectors: { [name]: { action: 'mask' } } });
}

const ALNUM = 'aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xY';
/** `n` characters cycling through a mixed alphabet. */
function body(n: number, alphabet = ALNUM): string {
  let s = '';
  for (let k = 0; k < n; k++) s += alphabet[(k * 7) % alphabet.length];
  return s;
}
const p = (...parts: string[]) => parts.join('');

const tokens: Record<string, string> = {
  'Stripe secret key': p('sk', '_live_', body(24)),
  'Stripe restricted key': p('rk', '_live_', body(24)),
  'Stripe test key': p('sk', '_test_', body(10)),
  'Stripe prod key': p('sk', '_prod_', body(99)),
  'Slack bot token': p('xo', 'xb-', '7812365427', '-', '2364535789652', '-', body(24)),
  'Slack user token': p('xo', 'xp-', '4168437291', '-', '1320496754', '-', '4560996830', '-', body(32)),
  'Slack app/workspace token': p('xo', 'xa-2-', '511111111', '-', body(12)),
  'Slack refresh token': p('xo', 'xr-', body(12)),
  'Slack legacy token': p('xo', 'xs-', '416843729158-132049654-5609968301-e708ba56e1'),
  'AWS access key id': p('AK', 'IA', 'IOSFODNN7', 'ABCDEFG'),
  'AWS temporary key id': p('AS', 'IA', body(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')),
  'AWS ABIA key id': p('AB', 'IA', body(16, 'QRSTUVWXYZ234567')),
  'AWS ACCA key id': p('AC', 'CA', body(16, 'QRSTUVWXYZ234567')),
  'AWS A3T key id': p('A3', 'TX', body(16, 'QRSTUVWXYZ234567')),
  'GitHub personal access token': p('gh', 'p_', body(36)),
  'GitHub OAuth token': p('gh', 'o_', body(36)),
  'GitHub user-to-server token': p('gh', 'u_', body(36)),
  'GitHub server-to-server token': p('gh', 's_', body(36)),
  'GitHub refresh token': p('gh', 'r_', body(36)),
  'GitHub fine-grained token': p('github', '_pat_', body(22), '_', body(59)),
  'Google API key': p('AI', 'za', 'SyD-', body(31)),
};

describe('secret: tokens of well-known issuers', () => {
  const sc = only('secret');
  for (const [what, tok] of Object.entries(tokens)) {
    test(`finds a ${what}`, () => {
      assert.equal(sc.scan(tok)?.value, '[secret]', tok);
      assert.equal(sc.scan(`config ${tok} loaded`)?.value, 'config [secret] loaded');
      assert.equal(sc.scan(`key="${tok}",`)?.value, 'key="[secret]",');
      assert.equal(all.scan(`using ${tok}`)?.value, 'using [secret]', 'with every detector on');
    });
  }
  const misses: Record<string, string> = {
    'Stripe key too short': p('sk', '_live_', body(9)),
    'Stripe key too long': p('sk', '_live_', body(100)),
    'Stripe publishable key': p('pk', '_live_', body(24)),
    'Stripe other mode': p('sk', '_demo_', body(24)),
    'Slack-like word without digits': 'xoxb-xoxb-my-bot-token',
    'Slack-like word too short': p('xo', 'xb-12345'),
    'Slack unknown type': p('xo', 'xz-', '7812365427', '-', body(24)),
    'AWS id with 0, 1, 8 or 9': p('AK', 'IA', 'IOSFODNN7', 'ABCDE01'),
    'AWS id one short': p('AK', 'IA', body(15, 'QRSTUVWXYZ234567')),
    'AWS id one long': p('AK', 'IA', body(17, 'QRSTUVWXYZ234567')),
    'AWS id in lower case': p('ak', 'ia', body(16, 'qrstuvwxyz234567')),
    'GitHub token too short': p('gh', 'p_', body(35)),
    'GitHub unknown type': p('gh', 'x_', body(36)),
    'fine-grained token too short': p('github', '_pat_', body(81)),
    'Google key one short': p('AI', 'za', body(34)),
    'Google key one long': p('AI', 'za', body(36)),
    'prefix inside a word': p('my', 'sk', '_live_', body(24)),
    'token followed by more word': p('gh', 'p_', body(36), '_x'),
    'snake_case words': 'sk_live_mode_enabled github_pages_url ghp_docs AIza',
  };
  for (const [what, s] of Object.entries(misses)) {
    test(`leaves ${what}`, () => {
      assert.equal(sc.scan(s), null, s);
      assert.equal(sc.scan(`text ${s} text`), null, s);
    });
  }
});

describe('secret: name=value credentials', () => {
  const sc = only('secret');
  const found: [string, string][] = [
    ['login failed password=hunter2 user=jane', 'login failed password=[secret] user=jane'],
    ['DB_PASSWORD=s3cr3t!', 'DB_PASSWORD=[secret]'],
    ['passwd=abc&next=/', 'passwd=[secret]&next=/'],
    ['kennwort=geheim123', 'kennwort=[secret]'],
    ['token=9f8e7d6c5b4a3210', 'token=[secret]'],
    ['GET /cb?access_token=abc123xyzQW&x=1 200', 'GET /cb?access_token=[secret]&x=1 200'],
    ['url https://api.example/v1?api_key=Q2x1c3Rlcj9rZXk9 done', 'url https://api.example/v1?api_key=[secret] done'],
    ['client_secret = "Zm9vYmFyYmF6cXV4"', 'client_secret = "[secret]"'],
    ['{"apiKey":"9f8e7d6c5b4a3210","page":2}', '{"apiKey":"[secret]","page":2}'],
    ["password: 'hunter2'", "password: '[secret]'"],
    ['X-API-KEY=k_8f3a91c2d7e4', 'X-API-KEY=[secret]'],
  ];
  for (const [s, want] of found) test(`finds ${JSON.stringify(s)}`, () => assert.equal(sc.scan(s)?.value, want));
  const left = [
    'token=refresh', // short
    'secret=true',
    'token=aaaaaaaaaaaa', // no entropy
    'token=undefined',
    'api_key=changeme',
    'password=[redacted]', // already a mask
    'password=***',
    'password=${DB_PASSWORD}', // a reference, not a value
    'password: incorrect', // after ":" only a quoted value counts
    'token: expired',
    'token_type=Bearer&expires_in=3600',
    'max_tokens=4096',
    'tokens=12345678abc',
    'broken=abc123xyzQW',
    'pwd=',
    'passwordless=true',
  ];
  for (const s of left) test(`leaves ${JSON.stringify(s)}`, () => assert.equal(sc.scan(s), null, s));
  test('entropy is measured in bits per character', () => {
    assert.equal(entropyBits('aaaa', 0, 4), 0);
    assert.equal(entropyBits('abcd', 0, 4), 2);
    assert.equal(entropyBits('abcdefgh', 0, 8), 3);
  });
});

describe('secret: URL userinfo', () => {
  const sc = all;
  test('free text: the whole userinfo is removed', () => {
    assert.equal(sc.scan('fetch https://bob:s3cret@shop.example/a failed')?.value, 'fetch https://shop.example/a failed');
    assert.equal(sc.scan('redis://default:pa55@10.0.0.7:6379')?.value, 'redis://10.0.0.0:6379');
    assert.equal(sc.scan('https://bob@shop.example/')?.value, 'https://shop.example/');
    assert.equal(sc.scan('https://jane.doe@example.com@shop.example/')?.value, 'https://shop.example/');
  });
  test('free text: no userinfo, no change', () => {
    assert.equal(sc.scan('https://shop.example/users/@jane'), null);
    assert.equal(sc.scan('see https://shop.example/a?b=c'), null);
    assert.equal(sc.scan('time 10:30 //comment @x'), null);
  });
  test('without the secret detector a password is still a credential of the bearer detector', () => {
    const sc2 = compileValueScanner({ detectors: { bearer: { action: 'mask' } } });
    assert.equal(sc2.scrubUrl('https://jane:s3cret@shop.example/')?.value, 'https://jane:[token]@shop.example/');
  });
});

describe('secret: actions and counts', () => {
  test('counted as detector "secret"', () => {
    const counter = createHitCounter();
    const sc = compileValueScanner({ onHit: counter.onHit });
    sc.scan(`a ${tokens['AWS access key id']} b password=hunter2 c https://bob:x@shop.example/`);
    assert.equal(counter.get('secret', 'mask'), 3);
  });
  test('drop marks the value for removal; in a query string only the parameter goes', () => {
    const sc = compileValueScanner({ detectors: { secret: { action: 'drop' } } });
    assert.equal(sc.scan(`k ${tokens['Google API key']}`)?.drop, true);
    assert.deepEqual(sc.scrubQuery('api_key=9f8e7d6c5b4a3210&page=2'), { value: 'page=2', drop: false, hits: 1 });
    assert.equal(sc.scrubUrl('https://bob:x@shop.example/')?.drop, true);
  });
  test('pseudonymize is refused, by the scanner and by the config schema', () => {
    assert.throws(
      () => compileValueScanner({ detectors: { secret: { action: 'pseudonymize' } }, pseudonymize: (v) => v }),
      /detectors::secret::action: a secret is masked or dropped, never pseudonymised/,
    );
    assert.equal(privacySchema.safeParse({ pseudonymization: { key: 'k'.repeat(32) }, detectors: { secret: { action: 'pseudonymize' } } }).success, false);
    assert.equal(privacySchema.safeParse({ pseudonymization: { key: 'k'.repeat(32) }, detectors: { secret: { action: 'drop' } } }).success, true);
  });
  test('a query parameter named like a secret is masked by value when no key rule removes it', () => {
    const sc = compileValueScanner();
    assert.equal(sc.scrubQuery('q=x&access_token=abc123xyzQW')?.value, 'q=x&access_token=[secret]');
    assert.equal(sc.scrubQuery('q=x&token=short'), null);
  });
  test('random high-entropy values under key names are found', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('token', 'access_token', 'api_key', 'apiKey', 'client_secret', 'secret', 'private_key'),
        fc.stringMatching(/^[A-Za-z0-9]{24,40}$/).filter((v) => entropyBits(v, 0, v.length) >= 3),
        (name, v) => {
          assert.equal(only('secret').scan(`req ${name}=${v} ok`)?.value, `req ${name}=[secret] ok`);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('birthdate', () => {
  const sc = only('birthdate');
  const found: [string, string][] = [
    ['geboren am 12.03.1985 in Berlin', 'geboren am [birthdate] in Berlin'],
    ['Geburtsdatum: 12.03.1985', 'Geburtsdatum: [birthdate]'],
    ['geb. 1.3.1985', 'geb. [birthdate]'],
    ['Geburtstag 12.03.1985', 'Geburtstag [birthdate]'],
    ['dob=1985-03-12', 'dob=[birthdate]'],
    ['date_of_birth: 1985-03-12', 'date_of_birth: [birthdate]'],
    ['{"birthdate":"1985-03-12"}', '{"birthdate":"[birthdate]"}'],
    ['birthday 1985-03-12', 'birthday [birthdate]'],
    ['born on 03/12/1985', 'born on [birthdate]'],
    ['DOB: 12/31/1985', 'DOB: [birthdate]'],
    ['née le 12/03/1985', 'née le [birthdate]'],
    ['birth_date=1985-03-12T00:00:00Z', 'birth_date=[birthdate]T00:00:00Z'],
  ];
  for (const [s, want] of found) test(`finds ${JSON.stringify(s)}`, () => assert.equal(sc.scan(s)?.value, want));
  const left = [
    'order placed 2024-01-02',
    'at 2026-11-25T10:00:00Z',
    'born in Berlin, ordered on 2024-05-01',
    'birthday party on 2024-06-01',
    'adobe 2024-01-02',
    'dob=1985-13-12', // no month 13
    'dob=12.03.85', // two-digit year
    'dob=1885-03-12', // before 1900
    'geboren am 1.2.3.4',
    'birth 2.14.0.7',
    'dob=1985-03-12-7',
  ];
  for (const s of left) test(`leaves ${JSON.stringify(s)}`, () => assert.equal(sc.scan(s), null, s));
  test('on by default, counted as "birthdate"', () => {
    const counter = createHitCounter();
    const sc2 = compileValueScanner({ onHit: counter.onHit });
    assert.equal(sc2.scan('Kunde geboren am 12.03.1985, Bestellung am 02.01.2024')?.value, 'Kunde geboren am [birthdate], Bestellung am 02.01.2024');
    assert.equal(counter.get('birthdate', 'mask'), 1);
  });
  test('random event dates without a birth word survive', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }), (d) => {
        const iso = d.toISOString();
        assert.equal(all.scan(`event at ${iso} order ${iso.slice(0, 10)}`), null, iso);
      }),
      { numRuns: 500 },
    );
  });
});

describe('ipv4 next to a version word', () => {
  test('a dotted quad after version or build is a version number', () => {
    for (const s of ['app version 2.14.0.7', 'app_version=2.14.0.7', '"buildVersion":"2.14.0.7"', 'build 10.0.19045.1', 'ver 1.2.3.4']) {
      assert.equal(all.scan(s), null, s);
    }
  });
  test('an address elsewhere in the text is still truncated', () => {
    assert.equal(all.scan('version 2.14.0.7 from 203.0.113.7')?.value, 'version 2.14.0.7 from 203.0.113.0');
    assert.equal(all.scan('server 203.0.113.7')?.value, 'server 203.0.113.0');
    assert.equal(all.scan('discover 203.0.113.7')?.value, 'discover 203.0.113.0');
  });
});
