/** Byte-level mutations of valid messages, and raw protobuf pieces, for the property tests (fast-check). */
import fc from 'fast-check';

export interface Mutation {
  kind: string;
  at: number;
  bytes: Uint8Array;
}

/** One mutation: a flip, truncation, insertion, deletion or overwrite with varint-ish bytes, at any position. */
export const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'truncate', 'insert', 'delete', 'overwrite'),
  at: fc.nat(),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
});

/** `body` with the mutations applied in order (positions taken modulo the current length). */
export function mutate(body: Uint8Array, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(body);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip' && b.length > 0) b[at] = b[at]! ^ (m.bytes[0]! || 1);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.bytes.length)]);
    else if (m.kind === 'overwrite') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at + m.bytes.length)]);
  }
  return b;
}

/** The protobuf base-128 varint encoding of a non-negative integer, as bytes. */
export function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
