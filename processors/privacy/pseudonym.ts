/**
 * Keyed pseudonyms for identifiers (user ids, e-mail addresses, IPs, ...).
 *
 * A pseudonym is `HMAC-SHA256(key, value)` (RFC 2104, FIPS 180-4), never a plain hash: a plain hash
 * of an e-mail address or an IPv4 address is reversed by enumerating the (small) input space, while
 * an HMAC cannot be recomputed without the key. The output carries a short key id so that keys can
 * be rotated and pseudonyms made with different keys are told apart:
 *
 *     <keyId>:<base64url of the first 16 bytes of the HMAC>      e.g.  3f9a0c12:Zb2nJ1qX0mYbS8b8yH0p7A
 *
 * Same input and key ⇒ same output (deterministic, so joins and distinct counts still work
 * downstream); different keys ⇒ different pseudonyms and, by default, different key ids.
 */
import { createHmac } from 'node:crypto';

/** Message HMAC'ed with the key to derive the default key id (see {@link keyFingerprint}). */
export const KEY_ID_MESSAGE = 'otelytics-key-id';
/** Default number of HMAC bytes kept in a pseudonym (128 bits). */
export const DEFAULT_PSEUDONYM_BYTES = 16;
/** Default number of recent pseudonyms remembered (entries). 0 disables the cache. */
export const DEFAULT_PSEUDONYM_CACHE_SIZE = 10_000;
/** Values longer than this (UTF-16 code units) are pseudonymised but not cached. */
export const MAX_CACHED_VALUE_LENGTH = 256;

export interface PseudonymizerOptions {
  /**
   * The HMAC key, as a string (UTF-8 bytes are used) or raw bytes. Required and non-empty
   * (whitespace-only strings count as empty); typically `${env:OTELYTICS_PSEUDONYM_KEY}` in config.
   * 32 random bytes or more are recommended.
   */
  key: string | Uint8Array;
  /**
   * Prefix naming the key, 1–32 characters of `[A-Za-z0-9_.-]` (no `:`). Default: the key's
   * fingerprint, {@link keyFingerprint} (8 hex characters).
   */
  keyId?: string;
  /** Output encoding of the HMAC bytes. Default `base64url` (RFC 4648 §5, no padding). */
  encoding?: 'base64url' | 'hex';
  /** HMAC bytes kept, 16–32. Default {@link DEFAULT_PSEUDONYM_BYTES}. */
  bytes?: number;
  /** Recent results remembered (least recently used are evicted). Default {@link DEFAULT_PSEUDONYM_CACHE_SIZE}. */
  cacheSize?: number;
}

/** Maps a value to its pseudonym; `keyId` is the prefix in front of every pseudonym it returns. */
export interface Pseudonymizer {
  (value: string): string;
  readonly keyId: string;
}

const KEY_ID_RE = /^[A-Za-z0-9_.-]{1,32}$/;

function keyBytes(key: unknown): Buffer {
  if (key === undefined || key === null) {
    throw new Error('privacy: pseudonymisation key is missing; set a non-empty key (e.g. key: ${env:OTELYTICS_PSEUDONYM_KEY})');
  }
  if (typeof key === 'string') {
    if (key.trim() === '') {
      throw new Error('privacy: pseudonymisation key is empty; set a non-empty key (e.g. key: ${env:OTELYTICS_PSEUDONYM_KEY})');
    }
    return Buffer.from(key, 'utf8');
  }
  if (key instanceof Uint8Array) {
    if (key.length === 0) throw new Error('privacy: pseudonymisation key is empty (0 bytes)');
    return Buffer.from(key);
  }
  throw new Error(`privacy: pseudonymisation key must be a string or bytes, got ${typeof key}`);
}

/**
 * The default key id of a key: the first 8 hex characters of `HMAC-SHA256(key, "otelytics-key-id")`.
 * Reveals nothing usable about the key, and differs between keys (with 2^-32 collision odds).
 * @throws Error when the key is missing or empty.
 */
export function keyFingerprint(key: string | Uint8Array): string {
  return createHmac('sha256', keyBytes(key)).update(KEY_ID_MESSAGE, 'utf8').digest('hex').slice(0, 8);
}

/**
 * Compiles a pseudonymiser for one key.
 *
 * @returns `(value) => "<keyId>:<HMAC prefix>"`; deterministic for a given key, key id, encoding and
 *   byte count. Recent results are kept in a bounded LRU map since identifiers repeat.
 * @throws Error when the key is missing/empty, the key id is malformed, or `bytes`/`cacheSize`
 *   are out of range. Errors never include the key.
 */
export function createPseudonymizer(opts: PseudonymizerOptions): Pseudonymizer {
  if (opts === null || typeof opts !== 'object') throw new Error('privacy: pseudonymizer options are required');
  const key = keyBytes(opts.key);
  const keyId = opts.keyId ?? keyFingerprint(key);
  if (typeof keyId !== 'string' || !KEY_ID_RE.test(keyId)) {
    throw new Error('privacy: key_id must be 1-32 characters of [A-Za-z0-9_.-] (no ":")');
  }
  const encoding = opts.encoding ?? 'base64url';
  if (encoding !== 'base64url' && encoding !== 'hex') {
    throw new Error(`privacy: pseudonym encoding must be "base64url" or "hex", got ${JSON.stringify(encoding)}`);
  }
  const nBytes = opts.bytes ?? DEFAULT_PSEUDONYM_BYTES;
  if (!Number.isInteger(nBytes) || nBytes < 16 || nBytes > 32) {
    throw new Error(`privacy: pseudonym bytes must be an integer from 16 to 32, got ${String(nBytes)}`);
  }
  const cacheSize = opts.cacheSize ?? DEFAULT_PSEUDONYM_CACHE_SIZE;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new Error(`privacy: pseudonym cache size must be a non-negative integer, got ${String(cacheSize)}`);
  }
  const prefix = keyId + ':';
  const cache = new Map<string, string>();

  const compute = (value: string): string =>
    prefix + createHmac('sha256', key).update(value, 'utf8').digest().subarray(0, nBytes).toString(encoding);

  const pseudonymize = (value: string): string => {
    if (cacheSize === 0 || value.length > MAX_CACHED_VALUE_LENGTH) return compute(value);
    const hit = cache.get(value);
    if (hit !== undefined) {
      // Refresh recency: Map iterates in insertion order, so the first key is the least recent.
      cache.delete(value);
      cache.set(value, hit);
      return hit;
    }
    const out = compute(value);
    if (cache.size >= cacheSize) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(value, out);
    return out;
  };
  Object.defineProperty(pseudonymize, 'keyId', { value: keyId, enumerable: true });
  return pseudonymize as Pseudonymizer;
}
