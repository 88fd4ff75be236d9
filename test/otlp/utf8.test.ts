/** UTF-8 validity of byte ranges (`src/otlp/utf8.ts`), against Node's own `buffer.isUtf8`. */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { invalidUtf8At, isUtf8Range } from '../../src/otlp/utf8.js';

const SEED = Number(process.env.OTELYTICS_FUZZ_SEED ?? 20240611);
const runs = (n: number) => ({ numRuns: n, seed: SEED });

/** Bytes near UTF-8: text, with bytes flipped, cut or inserted so that many are just invalid. */
const nearUtf8 = fc
  .tuple(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', minLength: 100, maxLength: 300 })), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x80, max: 0xff })), { maxLength: 2 }), fc.nat())
  .map(([s, flips, cut]) => {
    const b = Buffer.from(s);
    for (const [at, byte] of flips) if (b.length > 0) b[at % b.length] = byte;
    return b.subarray(0, b.length === 0 ? 0 : b.length - (cut % 2));
  });

function agrees(b: Uint8Array): void {
  const valid = isUtf8(b);
  assert.equal(isUtf8Range(b, 0, b.length), valid, Buffer.from(b).toString('hex'));
  const at = invalidUtf8At(b, 0, b.length);
  assert.equal(at < 0, valid, Buffer.from(b).toString('hex'));
  if (at >= 0) {
    // Everything before the first bad sequence is valid; the rest is not.
    assert.ok(isUtf8(b.subarray(0, at)), `prefix before ${at}: ${Buffer.from(b).toString('hex')}`);
    assert.ok(!isUtf8(b.subarray(at)), `from ${at}: ${Buffer.from(b).toString('hex')}`);
  }
}

describe('UTF-8 validity of byte ranges', () => {
  it('takes every well-formed sequence and refuses overlong forms, surrogates, code points above U+10FFFF and cut sequences', () => {
    const valid = ['', 'a', 'é', '€', '𝄞', '\uFFFD', '\u{10FFFF}', '\uD7FF', '\uE000', '\u0080', '\u07FF', '\u0800', '\u{10000}', 'aé€𝄞'.repeat(20)];
    for (const s of valid) assert.equal(invalidUtf8At(Buffer.from(s), 0, Buffer.byteLength(s)), -1, s);
    const invalid: [number[], number][] = [
      [[0x80], 0],
      [[0x61, 0xbf], 1],
      [[0xc0, 0x80], 0],
      [[0xc1, 0xbf], 0],
      [[0xc3, 0x28], 0],
      [[0xc3], 0],
      [[0xe0, 0x9f, 0xbf], 0],
      [[0xe2, 0x82], 0],
      [[0xed, 0xa0, 0x80], 0],
      [[0xed, 0xbf, 0xbf], 0],
      [[0x61, 0xf0, 0x8f, 0xbf, 0xbf], 1],
      [[0xf4, 0x90, 0x80, 0x80], 0],
      [[0xf5, 0x80, 0x80, 0x80], 0],
      [[0xff], 0],
      [[0xe2, 0x82, 0xac, 0xe2, 0x28, 0xac], 3],
    ];
    for (const [bytes, at] of invalid) {
      const b = Buffer.from(bytes);
      assert.equal(invalidUtf8At(b, 0, b.length), at, b.toString('hex'));
      agrees(b);
    }
  });

  it('checks only the range asked for, in short and long ranges', () => {
    // 400 bytes between the bad ones: long enough for Node's validator.
    const b = Buffer.concat([Buffer.from([0xff]), Buffer.from('é'.repeat(200)), Buffer.from([0xc3])]);
    assert.equal(isUtf8Range(b, 1, b.length - 1), true);
    assert.equal(isUtf8Range(b, 1, 3), true);
    assert.equal(isUtf8Range(b, 1, 2), false, 'a range cutting a sequence');
    assert.equal(isUtf8Range(b, 0, 3), false);
    assert.equal(isUtf8Range(b, 1, b.length), false);
    const view = new Uint8Array(b.buffer, b.byteOffset + 1, b.length - 2);
    assert.equal(isUtf8Range(view, 0, view.length), true);
  });

  it('agrees with Node on random bytes and on text with bytes changed', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => agrees(b)), runs(2000));
    fc.assert(fc.property(nearUtf8, (b) => agrees(b)), runs(3000));
  });
});
