/**
 * The `privacy` processor's config: defaults, the key being required whenever anything is
 * pseudonymised (reported by `otelytics validate` and refused at start with the key's path), the
 * start-up warning for the development key, and the block in config.example.yaml.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveConfig } from '../../../src/config/resolve.js';
import { loadRawConfig } from '../../../src/config/sources.js';
import { defaultRegistry } from '../../../src/registry.js';
import { DEVELOPMENT_PSEUDONYM_KEY, privacySchema, type PrivacyConfig } from '../../../processors/privacy/config.js';
import { keyFingerprint } from '../../../processors/privacy/pseudonym.js';
import { cliPath, projectRoot } from '../../helpers.js';
import { makePrivacy } from './harness.js';

const issues = (raw: unknown) => {
  const r = privacySchema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('::'), message: i.message }));
};

describe('privacy config schema', () => {
  it('has safe defaults: all detectors on, identity pseudonymised, consent required and denied by default', () => {
    const c = privacySchema.parse({ pseudonymization: { key: 'k'.repeat(32) } });
    for (const d of Object.values(c.detectors)) assert.equal(d.enabled, true);
    assert.equal(c.detectors.ipv4.action, 'truncate');
    assert.equal(c.detectors.ipv4.prefix_bits, 24);
    assert.equal(c.detectors.ipv6.prefix_bits, 48);
    assert.equal(c.detectors.email.action, 'mask');
    assert.equal(c.identity.action, 'pseudonymize');
    assert.deepEqual(c.identity.fields, ['user_id', 'device_id', 'session_id']);
    assert.ok(c.identity.attributes.includes('enduser.id') && c.identity.attributes.includes('session.id'));
    assert.deepEqual(c.consent, { required: true, purpose: 'analytics', attributes: ['consent.analytics'], default: 'denied', action: 'anonymize' });
    assert.equal(c.keys.mode, 'block_list');
    assert.equal(c.keys.action, 'drop');
  });

  it('requires a key whenever something is pseudonymised, naming the key path and why', () => {
    const missing = issues({});
    assert.deepEqual(missing.map((i) => i.path), ['pseudonymization::key']);
    assert.match(missing[0]!.message, /identity::action: pseudonymize/);
    assert.deepEqual(issues({ pseudonymization: { key: '   ' } }).map((i) => i.path), ['pseudonymization::key'], 'whitespace is no key');
    const byDetector = issues({ identity: { action: 'drop' }, detectors: { email: { action: 'pseudonymize' } } });
    assert.match(byDetector[0]!.message, /detectors::email::action: pseudonymize/);
    assert.match(issues({ identity: { action: 'keep' }, keys: { action: 'pseudonymize' } })[0]!.message, /keys::action: pseudonymize/);
    assert.deepEqual(issues({ identity: { action: 'drop' } }), [], 'nothing pseudonymised: no key needed');
    assert.deepEqual(issues({ identity: { fields: [], attributes: [] } }), []);
  });

  it('rejects unknown keys, bad actions, bad prefixes, bad key ids and unknown levels', () => {
    const k = { key: 'x'.repeat(32) };
    assert.deepEqual(issues({ pseudonymization: k, detectors: { email: { action: 'truncate' } } }).map((i) => i.path), ['detectors::email::action']);
    assert.deepEqual(issues({ pseudonymization: k, detectors: { ipv4: { prefix_bits: 33 } } }).map((i) => i.path), ['detectors::ipv4::prefix_bits']);
    assert.deepEqual(issues({ pseudonymization: { ...k, key_id: 'a:b' } }).map((i) => i.path), ['pseudonymization::key_id']);
    assert.deepEqual(issues({ pseudonymization: k, governance: { allowed_level: 'secret' } }).map((i) => i.path), ['governance::allowed_level']);
    assert.deepEqual(issues({ pseudonymization: k, keys: { blocked_keys: [''] } }).map((i) => i.path), ['keys::blocked_keys::0']);
    assert.ok(issues({ pseudonymization: k, detector: {} }).length > 0, 'unknown key');
  });
});

describe('privacy key at start-up', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-privacy-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, privacy: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nprocessors:\n  analytics: {}\n  privacy:${privacy}\nexporters:\n  debug: {}\nservice:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    events:\n      receivers: [otlp]\n      processors: [analytics, privacy]\n      exporters: [debug]\n`,
    );
    return file;
  };

  it('`otelytics validate` reports a missing key with its full path', () => {
    const r = spawnSync(process.execPath, [cliPath, 'validate', '--config', write('nokey.yaml', ' {}')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /processors::privacy::pseudonymization::key: required/);
  });

  it('the gateway refuses to start without a key', () => {
    const r = spawnSync(process.execPath, [cliPath, '--config', write('nokey2.yaml', ' {}')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /processors::privacy::pseudonymization::key/);
  });

  it('warns loudly when the development key is in use, never printing a key', async () => {
    const dev = makePrivacy({ pseudonymization: { key: DEVELOPMENT_PSEUDONYM_KEY } });
    await dev.processor.start({ getExporter: () => undefined });
    const warn = dev.logs.filter((l) => l.level === 40);
    assert.equal(warn.length, 1);
    assert.match(warn[0]!.msg, /PUBLIC DEVELOPMENT KEY/);
    assert.match(warn[0]!.msg, /OTELYTICS_PSEUDONYM_KEY/);
    assert.equal(warn[0]!.key_id, keyFingerprint(DEVELOPMENT_PSEUDONYM_KEY));
    assert.ok(!JSON.stringify(dev.logs).includes(DEVELOPMENT_PSEUDONYM_KEY));

    const short = makePrivacy({ pseudonymization: { key: 'short-key' } });
    await short.processor.start({ getExporter: () => undefined });
    assert.match(short.logs.find((l) => l.level === 40)!.msg, /shorter than 16 bytes/);
    assert.ok(!JSON.stringify(short.logs).includes('short-key'));

    const good = makePrivacy({ pseudonymization: { key: 'a-proper-secret-key-of-32-bytes!!' } });
    await good.processor.start({ getExporter: () => undefined });
    assert.deepEqual(good.logs, []);
  });

  it('config.example.yaml puts privacy right after analytics and falls back to the development key', () => {
    const example = path.join(projectRoot, 'config.example.yaml');
    const cfg = resolveConfig(loadRawConfig([example], [], {}), defaultRegistry());
    const pipeline = cfg.pipelines.find((p) => p.id === 'events')!;
    const at = pipeline.processors.indexOf('analytics');
    assert.deepEqual(pipeline.processors.slice(at, at + 2), ['analytics', 'privacy']);
    const privacy = cfg.processors.get('privacy')!.config as PrivacyConfig;
    assert.equal(privacy.pseudonymization.key, DEVELOPMENT_PSEUDONYM_KEY);
    assert.equal(privacy.consent.action, 'anonymize');
    assert.equal(privacy.consent.required, true);
    assert.equal(privacy.identity.action, 'pseudonymize');
    for (const d of Object.values(privacy.detectors)) assert.equal(d.enabled, true);
    const withEnv = resolveConfig(loadRawConfig([example], [], { OTELYTICS_PSEUDONYM_KEY: 'from-the-environment-0123456789abcdef' }), defaultRegistry());
    assert.equal((withEnv.processors.get('privacy')!.config as PrivacyConfig).pseudonymization.key, 'from-the-environment-0123456789abcdef');
  });
});
