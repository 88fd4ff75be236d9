/** Keyed pseudonyms: determinism, key ids, key rotation, errors, cache. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { KEY_ID_MESSAGE, createPseudonymizer, keyFingerprint } from '../../../processors/privacy/pseudonym.js';

const KEY_A = 'a-long-random-key-for-tests-000000000000';
const KEY_B = 'a-long-random-key-for-tests-111111111111';

describe('createPseudonymizer', () => {
  test('same input and key give the same pseudonym; the format is <keyId>:<base64url of 16 bytes>', () => {
    const p = createPseudonymizer({ key: KEY_A });
    const a = p('u-1001');
    assert.equal(p('u-1001'), a);
    assert.equal(createPseudonymizer({ key: KEY_A })('u-1001'), a, 'a second instance agrees');
    assert.match(a, /^[0-9a-f]{8}:[A-Za-z0-9_-]{22}$/);
    assert.notEqual(p('u-1002'), a);
    assert.equal(p.keyId, keyFingerprint(KEY_A));
    assert.ok(a.startsWith(p.keyId + ':'));
  });
  test('it is the keyed HMAC-SHA256, never a plain hash', () => {
    const p = createPseudonymizer({ key: KEY_A, keyId: 'k1' });
    const hmac = createHmac('sha256', KEY_A).update('jane.doe@example.com').digest().subarray(0, 16).toString('base64url');
    assert.equal(p('jane.doe@example.com'), `k1:${hmac}`);
    const plain = createHash('sha256').update('jane.doe@example.com').digest();
    assert.ok(!p('jane.doe@example.com').includes(plain.subarray(0, 16).toString('base64url')));
    assert.ok(!p('jane.doe@example.com').includes(plain.toString('hex').slice(0, 16)));
  });
  test('key rotation: two keys give different pseudonyms with different key ids', () => {
    const a = createPseudonymizer({ key: KEY_A });
    const b = createPseudonymizer({ key: KEY_B });
    assert.notEqual(a.keyId, b.keyId);
    for (const v of ['u-1001', 'jane.doe@example.com', '203.0.113.7', '']) {
      assert.notEqual(a(v), b(v));
      assert.notEqual(a(v).split(':')[1], b(v).split(':')[1]);
    }
  });
  test('key id: default fingerprint, explicit id, validation', () => {
    const expected = createHmac('sha256', KEY_A).update(KEY_ID_MESSAGE).digest('hex').slice(0, 8);
    assert.equal(keyFingerprint(KEY_A), expected);
    assert.equal(keyFingerprint(Buffer.from(KEY_A)), expected);
    assert.equal(createPseudonymizer({ key: KEY_A, keyId: '2025-q1' })('x').split(':')[0], '2025-q1');
    assert.throws(() => createPseudonymizer({ key: KEY_A, keyId: 'a:b' }), /key_id must be/);
    assert.throws(() => createPseudonymizer({ key: KEY_A, keyId: '' }), /key_id must be/);
  });
  test('hex encoding and longer output', () => {
    assert.match(createPseudonymizer({ key: KEY_A, keyId: 'k', encoding: 'hex' })('x'), /^k:[0-9a-f]{32}$/);
    assert.match(createPseudonymizer({ key: KEY_A, keyId: 'k', bytes: 32 })('x'), /^k:[A-Za-z0-9_-]{43}$/);
    assert.throws(() => createPseudonymizer({ key: KEY_A, bytes: 8 }), /bytes must be an integer from 16 to 32/);
    assert.throws(() => createPseudonymizer({ key: KEY_A, encoding: 'base32' as never }), /encoding/);
  });
  test('a missing or empty key is refused with a clear error that does not echo the key', () => {
    assert.throws(() => createPseudonymizer({ key: undefined as unknown as string }), /pseudonymisation key is missing/);
    assert.throws(() => createPseudonymizer({ key: '' }), /pseudonymisation key is empty/);
    assert.throws(() => createPseudonymizer({ key: '   ' }), /pseudonymisation key is empty/);
    assert.throws(() => createPseudonymizer({ key: new Uint8Array(0) }), /empty/);
    assert.throws(() => createPseudonymizer({ key: 42 as unknown as string }), /must be a string or bytes/);
    assert.throws(() => keyFingerprint(''), /empty/);
    try {
      createPseudonymizer({ key: KEY_A, keyId: 'bad:id' });
    } catch (err) {
      assert.ok(!(err as Error).message.includes(KEY_A));
    }
  });
  test('the bounded cache never changes results', () => {
    const cached = createPseudonymizer({ key: KEY_A, cacheSize: 3 });
    const uncached = createPseudonymizer({ key: KEY_A, cacheSize: 0 });
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 20; k++) assert.equal(cached(`u-${k % 7}`), uncached(`u-${k % 7}`));
    }
    const long = 'x'.repeat(10_000);
    assert.equal(cached(long), uncached(long));
    assert.throws(() => createPseudonymizer({ key: KEY_A, cacheSize: -1 }), /cache size/);
  });
});
