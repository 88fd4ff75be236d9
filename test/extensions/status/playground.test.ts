import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PLAYGROUND_KEY_ID, playgroundPipelines, runPlayground } from '../../../src/extensions/status/playground.js';
import { PlaygroundRunner, PlaygroundTimeoutError } from '../../../src/extensions/status/runner.js';
import { PLAYGROUND_SAMPLES } from '../../../src/extensions/status/samples.js';
import { DEVELOPMENT_PSEUDONYM_KEY } from '../../../processors/privacy/config.js';
import { exampleConfig } from './helpers.js';

const sample = (id: string) => PLAYGROUND_SAMPLES.find((s) => s.id === id)!.json;

test("the page starts from the gateway's own rules and privacy settings, without the key", () => {
  const [p] = playgroundPipelines(exampleConfig());
  assert.equal(p!.pipeline, 'events');
  assert.match(p!.analytics, /id: product-page/);
  assert.ok(!p!.privacy.includes(DEVELOPMENT_PSEUDONYM_KEY) && !/key/.test(p!.privacy), 'no pseudonymisation key is sent to the page');
  // The same settings, run by the playground, make the same events as the rules would.
  const r = runPlayground({ input: sample('product-page'), analytics: p!.analytics, privacy: p!.privacy });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  const e = r.result!.events[0]!;
  assert.equal(e.exported?.name, 'view_item');
  // The item id is captured from the URL by the example's rule.
  const path = JSON.parse(sample('product-page')).spans[0].attributes.find((a: { key: string }) => a.key === 'url.path').value.stringValue as string;
  assert.equal(e.exported?.properties.item_id, /-([a-z0-9]{9}-[a-z0-9]{3})\.html$/.exec(path)![1]);
  assert.ok(e.exported!.user_id!.startsWith(`${PLAYGROUND_KEY_ID}:`), 'pseudonyms use the playground key');
  assert.ok(e.changes.some((c) => c.path === 'user_id' && c.action === 'changed'));
});

test('shows what privacy removed and why an event was anonymised', () => {
  const { analytics, privacy } = playgroundPipelines(exampleConfig())[0]!;
  const search = runPlayground({ input: sample('search-email'), analytics, privacy }).result!.events[0]!;
  assert.equal(search.made.properties.search_term, 'jane.doe@example.com');
  assert.deepEqual(search.changes.find((c) => c.path === 'properties::search_term'), { path: 'properties::search_term', action: 'changed', after: '[email]' });
  const checkout = runPlayground({ input: sample('checkout-no-consent'), analytics, privacy }).result!.events[0]!;
  assert.deepEqual(checkout.privacy, { outcome: 'anonymized', reason: 'consent' });
  assert.equal(checkout.exported!.user_id, undefined);
  assert.ok(checkout.changes.some((c) => c.path === 'user_id' && c.action === 'removed'));
  // With consent dropping instead, the event is gone.
  const dropped = runPlayground({ input: sample('checkout-no-consent'), analytics, privacy: 'consent:\n  action: drop\n' }).result!.events[0]!;
  assert.equal(dropped.exported, undefined);
  assert.deepEqual(dropped.privacy, { outcome: 'dropped', reason: 'consent' });
  // No privacy YAML: privacy does not run.
  const raw = runPlayground({ input: sample('search-email'), analytics, privacy: '' });
  assert.equal(raw.privacy?.ran, false);
  assert.equal(raw.result!.events[0]!.exported!.properties.search_term, 'jane.doe@example.com');
});

test('a single rule, a list of rules and a log record as input', () => {
  const rule = 'id: signup-log\nsource: log\nmatch:\n  name: user.signed_*\nevent: sign_up\nproperties:\n  method: attributes.signup.method\n';
  const r = runPlayground({ input: sample('signup-log'), analytics: rule, privacy: '{}' });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  assert.deepEqual(r.result!.events.map((e) => [e.exported?.name, e.exported?.properties]), [['sign_up', { method: 'email' }]]);
  const list = runPlayground({ input: sample('signup-log'), analytics: `- ${rule.replace(/\n(?=.)/g, '\n  ')}`, privacy: '' });
  assert.equal(list.ok, true, JSON.stringify(list.errors));
  assert.equal(list.result!.events[0]!.exported?.name, 'sign_up');
});

test('validation errors name the path and the YAML line, for both texts and the input', () => {
  const analytics = 'rules:\n  - id: x\n    event: foo\n    match:\n      kind: servr\n    bogus: 1\n';
  const r = runPlayground({ input: '{"resourceSpans": 3}', analytics, privacy: 'consent:\n  default: maybe\n' });
  assert.equal(r.ok, false);
  const kind = r.errors.analytics.find((e) => e.path === 'rules::0::match::kind')!;
  assert.equal(kind.line, 5);
  assert.match(kind.message, /server/, 'the enum branch explains the union');
  assert.deepEqual(r.errors.analytics.find((e) => e.path === 'rules::0::bogus'), { path: 'rules::0::bogus', message: 'unknown key', line: 6 });
  assert.equal(r.errors.privacy[0]!.path, 'consent::default');
  assert.equal(r.errors.privacy[0]!.line, 2);
  assert.equal(r.errors.input.length, 1);
  const badRegex = runPlayground({ input: sample('product-page'), analytics: 'id: r\nevent: e\ncapture:\n  url.path: "(?<a"\n', privacy: '' });
  assert.equal(badRegex.ok, false);
  assert.ok(badRegex.errors.analytics.some((e) => /capture/.test(e.path)), JSON.stringify(badRegex.errors));
  const yamlError = runPlayground({ input: sample('product-page'), analytics: 'rules: [\n', privacy: '' });
  assert.equal(yamlError.errors.analytics[0]!.line !== undefined, true);
});

test('a dry run that takes too long is stopped without blocking the caller', async () => {
  const runner = new PlaygroundRunner(1500);
  try {
    const input = JSON.stringify({ spans: [{ traceId: '5b8efff798038103d269b633813fc601', spanId: 'eee19b7ec3c1b101', name: 'x', kind: 2, attributes: [{ key: 'url.path', value: { stringValue: 'a'.repeat(40) + '!' } }] }] });
    const started = Date.now();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    await assert.rejects(runner.run({ input, analytics: 'id: r\nevent: e\ncapture:\n  url.path: "^(?<x>a+)+$"\n', privacy: '' }), PlaygroundTimeoutError);
    clearInterval(timer);
    assert.ok(ticks >= 10, `the event loop kept running (${ticks} ticks)`);
    assert.ok(Date.now() - started < 5000);
    const ok = await runner.run({ input: sample('product-page'), analytics: 'id: r\nevent: e\n', privacy: '' });
    assert.equal(ok.ok, true, 'the next request gets a new worker');
  } finally {
    await runner.close();
  }
});
