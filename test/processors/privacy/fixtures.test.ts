/**
 * The shop fixtures (the JS SDK shop's OTLP/JSON requests in test/captures/otlp) through key rules
 * and value detectors with the default lists: no personal data survives, non-personal data does.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixtureManifest, fixturesDir } from '../../helpers.js';
import { compileValueScanner, createHitCounter, type ValueScanner } from '../../../processors/privacy/detectors.js';
import { compileDefaultKeyMatcher, type KeyMatcher } from '../../../processors/privacy/keys.js';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

const URL_KEYS = new Set(['url.full', 'http.target', 'http.url', 'url.path']);
const QUERY_KEYS = new Set(['url.query']);

/**
 * A minimal stand-in for the processor: blocked attributes are removed, string values are scanned
 * (URLs and queries structurally), span names and log bodies are scanned; ids and timestamps are
 * collected separately so the test can check that the detectors leave them alone.
 */
function scrubRequest(root: Json, sc: ValueScanner, keys: KeyMatcher, untouched: string[]): Json {
  const scrubString = (key: string, s: string): string => {
    const r = URL_KEYS.has(key) ? sc.scrubUrl(s) : QUERY_KEYS.has(key) ? sc.scrubQuery(s) : sc.scan(s);
    return r === null ? s : r.value;
  };
  const anyValue = (key: string, v: Json): Json => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    if (typeof v.stringValue === 'string') return { stringValue: scrubString(key, v.stringValue) };
    if (v.arrayValue !== undefined) {
      const values = ((v.arrayValue as { values?: Json[] }).values ?? []).map((x) => anyValue(key, x));
      return { arrayValue: { values } };
    }
    if (v.kvlistValue !== undefined) return { kvlistValue: { values: attributes((v.kvlistValue as { values?: Json[] }).values ?? []) } };
    return v;
  };
  const attributes = (list: Json[]): Json[] =>
    list
      .filter((kv) => keys((kv as { key: string }).key) !== 'blocked')
      .map((kv) => {
        const { key, value } = kv as { key: string; value: Json };
        return { key, value: anyValue(key, value) };
      });
  const walk = (node: Json, field: string): Json => {
    if (Array.isArray(node)) return field === 'attributes' ? attributes(node) : node.map((x) => walk(x, field));
    if (node === null || typeof node !== 'object') {
      if (typeof node === 'string') {
        if (field === 'name' || field === 'message') return sc.scan(node)?.value ?? node;
        untouched.push(node);
      }
      return node;
    }
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(node)) out[k] = k === 'body' ? anyValue('body', v) : walk(v, k);
    return out;
  };
  return walk(root, '');
}

describe('shop fixtures through the default key and value rules', () => {
  const files = fixtureManifest()
    .filter((f) => f.contentType === 'application/json' && f.contentEncoding === 'identity')
    .map((f) => f.path);
  const counter = createHitCounter();
  const sc = compileValueScanner({ onHit: counter.onHit });
  const keys = compileDefaultKeyMatcher();
  const untouched: string[] = [];
  let input = '';
  let output = '';
  for (const f of files) {
    const raw = fs.readFileSync(path.join(fixturesDir, f), 'utf8');
    input += raw;
    output += JSON.stringify(scrubRequest(JSON.parse(raw) as Json, sc, keys, untouched));
  }

  test('the fixtures are there and contain the personal data under test', () => {
    assert.ok(files.length >= 4, `fixtures in ${fixturesDir}`);
    for (const s of ['jane.doe@example.com', '+49 151 23456789', '4000 0000 0000 0002', '203.0.113.42', 'jane.doe%40example.com']) {
      assert.ok(input.includes(s), s);
    }
  });

  const personal = [
    'jane.doe@example.com',
    'john.smith@example.com',
    'jane.doe%40example.com',
    '%2B49',
    '151 23456789',
    '151+23456789',
    '415 555 0199',
    '4000 0000 0000 0002',
    '4000000000000002',
    '203.0.113.7',
    '203.0.113.42',
    '192.0.2.10',
    'Jane Doe',
    'John Smith',
  ];
  for (const s of personal) {
    test(`no ${JSON.stringify(s)} in the output`, () => assert.ok(!output.includes(s), s));
  }

  const kept = [
    'TRQ22O064-Q11',
    'LE222N0AB-K11',
    'AD115O0K2-A11',
    'o-22974',
    '229.74',
    '19.99',
    'EUR',
    'q=sneaker+weiss',
    'q=g%C3%BCrtel+leder',
    'gürtel leder',
    'sommerkleid blau',
    'Jeans Slim Fit blau',
    'T-Shirt Print schwarz',
    '/pdp/t-shirt-print-schwarz-trq22o064-q11.html',
    'shop-web',
    '1.4.2',
    '2.12.1',
    'search.performed',
    'user.signed_up',
    'payment.failed',
    'pdp-gallery-v2',
    '"search.query"',
    '"client.address"',
    '203.0.113.0',
    '192.0.2.0',
  ];
  for (const s of kept) {
    test(`${JSON.stringify(s)} survives`, () => assert.ok(output.includes(s), s));
  }

  test('blocked attributes are gone, allowed ones stay', () => {
    for (const k of ['"user.email"', '"user.phone"', '"user.name"', '"payment.card.number"']) assert.ok(!output.includes(k), k);
    for (const k of ['"service.name"', '"product.name"', '"feature_flag.provider.name"', '"network.peer.address"']) assert.ok(output.includes(k), k);
  });

  test('ids and timestamps (trace ids, span ids, nanosecond times) are never matched', () => {
    assert.ok(untouched.length > 100);
    for (const s of untouched) assert.equal(sc.scan(s), null, s);
  });

  test('every kind of fixture PII was counted', () => {
    assert.ok(counter.get('email', 'mask') > 0);
    assert.ok(counter.get('ipv4', 'truncate') > 0);
    assert.ok(counter.get('phone', 'mask') > 0);
    assert.ok(counter.get('card', 'mask') > 0);
  });
});
