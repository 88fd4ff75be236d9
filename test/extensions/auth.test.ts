/**
 * The authenticator extensions on their own: `bearertokenauth` (tokens, names, scheme, header,
 * file format) and `basicauth` (htpasswd formats checked against hashes Apache's own `htpasswd`
 * and `openssl passwd` made, the verification cache, the bound on bcrypt in flight), and the
 * config checks of receivers that name them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { hashSync } from '@node-rs/bcrypt';
import { pino } from 'pino';
import type { AuthOutcome } from '../../src/auth/server.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { ConfigErrors } from '../../src/errors.js';
import { BasicAuthenticator, basicAuthSchema, MAX_SLOW_VERIFICATIONS, MAX_WAITING, parseBasic } from '../../src/extensions/basicauth.js';
import { BearerTokenAuthenticator, bearerTokenAuthSchema, parseTokenFile } from '../../src/extensions/bearertokenauth.js';
import { parseHtpasswd } from '../../src/extensions/htpasswd.js';
import { defaultRegistry } from '../../src/registry.js';

const silent = pino({ level: 'silent' });
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * Lines Apache's `htpasswd` 2.4 wrote (`-nbB`, `-nbm`, `-nbs`, `-nbp`), with their passwords. The
 * SHA line's password, "pässwörd", was given as UTF-8.
 */
const APACHE = {
  bcrypt: ['alice:$2y$05$U0aZ/GK7lv7R5OZFRh/iWeqBKuvxm5W9v4bUFRx4N8DTzBWMQD8iW', 'correct horse'],
  md5: ['bob:$apr1$tzHDYQjP$HNLsIPCyT2M.NbAMU6WPd1', 's3cret!'],
  sha: ['carol:{SHA}9Rfd8dMqES/xrVXGbRsSyzjn6Pc=', 'pässwörd'],
  plain: ['dave:plain-pw', 'plain-pw'],
} as const;

describe('bearertokenauth', () => {
  const make = (cfg: unknown) => new BearerTokenAuthenticator(bearerTokenAuthSchema.parse(cfg), silent);

  it('lets a configured token pass with its name as the subject, and says why others do not', () => {
    const a = make({ token: 'tok-one-0123456789', tokens: [{ name: 'team-a', token: 'tok-team-a-0123456789' }, 'tok-three-0123456789'] });
    assert.equal(a.header, 'authorization');
    assert.equal(a.challenge, 'Bearer realm="otelytics"');
    assert.deepEqual(a.authenticate('Bearer tok-one-0123456789'), { ok: true, attributes: {} });
    assert.deepEqual(a.authenticate('Bearer tok-team-a-0123456789'), { ok: true, attributes: { subject: 'team-a' } });
    assert.deepEqual(a.authenticate('BEARER   tok-three-0123456789'), { ok: true, attributes: {} }, 'the scheme in any case (RFC 9110, §11.1)');
    const reason = (v: string | undefined) => (a.authenticate(v) as Extract<AuthOutcome, { ok: false }>).reason;
    assert.equal(reason(undefined), 'missing');
    assert.equal(reason(''), 'missing');
    assert.equal(reason('tok-one-0123456789'), 'malformed');
    assert.equal(reason('Bearer'), 'malformed');
    assert.equal(reason('Bearer '), 'malformed');
    assert.equal(reason('Basic tok-one-0123456789'), 'malformed');
    assert.equal(reason('Bearer tok-one-012345678'), 'invalid');
    assert.equal(reason('Bearer tok-one-0123456789x'), 'invalid');
  });

  it('reads the token from another header, with another scheme or none', () => {
    const raw = make({ header: 'X-Api-Key', scheme: '', token: 'k-0123456789abcdef' });
    assert.equal(raw.header, 'x-api-key');
    assert.equal(raw.authenticate('k-0123456789abcdef').ok, true);
    assert.equal(raw.authenticate('Bearer k-0123456789abcdef').ok, false);
    const custom = make({ scheme: 'Token', token: 'k-0123456789abcdef' });
    assert.equal(custom.challenge, 'Token realm="otelytics"');
    assert.equal(custom.authenticate('token k-0123456789abcdef').ok, true);
  });

  it('reads token files: a token or "name token" a line, comments and blank lines skipped', () => {
    assert.deepEqual(parseTokenFile('# tokens\n\nteam-a  aaaa\r\nbbbb\n  team-c\tcccc  \n'), [
      { name: 'team-a', token: 'aaaa', line: 3 },
      { name: undefined, token: 'bbbb', line: 4 },
      { name: 'team-c', token: 'cccc', line: 5 },
    ]);
    assert.throws(() => parseTokenFile('a b c\n'), /^Error: line 1: expected "token" or "name token", got 3 fields$/);
  });

  it('needs one of token, tokens or filename, and refuses white space in tokens', () => {
    assert.equal(bearerTokenAuthSchema.safeParse({}).success, false);
    assert.equal(bearerTokenAuthSchema.safeParse({ tokens: [] }).success, false);
    assert.equal(bearerTokenAuthSchema.safeParse({ token: 'a b' }).success, false);
    assert.equal(bearerTokenAuthSchema.safeParse({ filename: '/x' }).success, true);
  });

  it('fails to start on a token file it cannot read, naming the option', async () => {
    const a = make({ filename: '/nonexistent/tokens' });
    await assert.rejects(a.start(), { message: 'filename: cannot read /nonexistent/tokens: ENOENT' });
  });
});

describe('basicauth', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-basic-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("checks every format Apache's htpasswd writes, and refuses other passwords", async () => {
    const users = parseHtpasswd(Object.values(APACHE).map(([line]) => line).join('\n'), 'test');
    for (const [format, [line, password]] of Object.entries(APACHE)) {
      const u = users.get(line.slice(0, line.indexOf(':')))!;
      assert.equal(u.format, format);
      assert.equal(await u.check.matches(password), true, format);
      assert.equal(await u.check.matches(`${password}x`), false, format);
      assert.equal(await u.check.matches(''), false, format);
    }
  });

  it('checks MD5-crypt, Apache MD5 of UTF-8 passwords, salted SHA and bcrypt $2a$/$2b$ as openssl and bcrypt make them', async () => {
    const md5crypt = execFileSync('openssl', ['passwd', '-1', 'über-geheim'], { encoding: 'utf8' }).trim();
    const apr1 = execFileSync('openssl', ['passwd', '-apr1', 'über-geheim'], { encoding: 'utf8' }).trim();
    const salt = Buffer.from('s4lt');
    const ssha = `{SSHA}${Buffer.concat([execFileSync('openssl', ['dgst', '-sha1', '-binary'], { input: Buffer.concat([Buffer.from('über-geheim'), salt]) }), salt]).toString('base64')}`;
    const b2b = hashSync('über-geheim', 4);
    const users = parseHtpasswd(`u1:${md5crypt}\nu2:${apr1}\nu3:${ssha}\nu4:${b2b}\nu5:${b2b.replace('$2b$', '$2a$')}\nu6:{PLAIN}über-geheim\n`, 'test');
    for (const [user, u] of users) {
      assert.equal(await u.check.matches('über-geheim'), true, user);
      assert.equal(await u.check.matches('uber-geheim'), false, user);
    }
  });

  it('refuses htpasswd lines it cannot read, naming the line, never the hash', () => {
    assert.throws(() => parseHtpasswd('ok:x\nno colon here\n', 'the file f'), /^Error: the file f, line 2: expected user:hash$/);
    assert.throws(() => parseHtpasswd(':x', 'f'), /line 1: the user name is empty/);
    assert.throws(() => parseHtpasswd('frank:$6$q26TG6zMzeqFzx2r$eyaA', 'f'), /^Error: f, line 1 \(user "frank"\): SHA-crypt hashes \(\$5\$, \$6\$\) are not supported; use bcrypt \(htpasswd -B\)$/);
    assert.throws(() => parseHtpasswd('g:$2y$05$short', 'f'), (err: Error) => /not 60 characters/.test(err.message) && !err.message.includes('short'));
    assert.throws(() => parseHtpasswd('h:{SHA}abc', 'f'), /\{SHA\} hash that is not the base64 of 20 bytes/);
    assert.equal(parseHtpasswd('# comment\n\nx:y\n', 'f').size, 1);
  });

  it('reads Basic credentials (RFC 7617) and says what is wrong with others', () => {
    assert.deepEqual(parseBasic(basic('a', 'b:c')), { user: 'a', password: 'b:c' });
    assert.deepEqual(parseBasic(`basic ${Buffer.from('ü:pw').toString('base64')}`), { user: 'ü', password: 'pw' });
    assert.match(parseBasic('Bearer x') as string, /not "Basic/);
    assert.match(parseBasic('Basic !!!!') as string, /not base64/);
    assert.match(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`) as string, /not user:password/);
  });

  it('lets users pass as themselves; inline lines override the file', async () => {
    const file = path.join(tmp, 'htpasswd');
    fs.writeFileSync(file, `${APACHE.bcrypt[0]}\n${APACHE.md5[0]}\n`);
    const a = new BasicAuthenticator(basicAuthSchema.parse({ htpasswd: { file, inline: 'bob:inline-password' } }), silent);
    await a.start();
    try {
      assert.deepEqual(await a.authenticate(basic('alice', 'correct horse')), { ok: true, attributes: { subject: 'alice', username: 'alice' } });
      assert.equal((await a.authenticate(basic('bob', 's3cret!'))).ok, false, 'the inline line replaced the file line');
      assert.equal((await a.authenticate(basic('bob', 'inline-password'))).ok, true);
      assert.equal((await a.authenticate(basic('nobody', 'x'))).ok, false);
    } finally {
      await a.shutdown();
    }
  });

  it('remembers a successful verification: the same credentials pass again without bcrypt, at once', async () => {
    const a = new BasicAuthenticator(basicAuthSchema.parse({ htpasswd: { inline: `erin:${hashSync('pw-erin', 10)}` } }), silent);
    await a.start();
    const first = a.authenticate(basic('erin', 'pw-erin'));
    assert.ok(first instanceof Promise, 'bcrypt is verified off the event loop');
    assert.equal((await first).ok, true);
    const t0 = performance.now();
    let again: ReturnType<typeof a.authenticate> = first;
    for (let i = 0; i < 1000; i++) again = a.authenticate(basic('erin', 'pw-erin'));
    const perCall = (performance.now() - t0) / 1000;
    assert.ok(!(again instanceof Promise), 'a remembered verification answers synchronously');
    assert.equal((again as AuthOutcome).ok, true);
    assert.ok(perCall < 0.2, `${perCall} ms a check`);
    assert.equal((await a.authenticate(basic('erin', 'pw-erix'))).ok, false, 'another password is verified, and fails');
    await a.shutdown();
  });

  it(`runs at most ${MAX_SLOW_VERIFICATIONS} bcrypt verifications at once, ${MAX_WAITING} waiting, and refuses more as busy`, async () => {
    const a = new BasicAuthenticator(basicAuthSchema.parse({ htpasswd: { inline: `flood:${hashSync('right', 6)}` } }), silent);
    await a.start();
    const outcomes = await Promise.all(Array.from({ length: MAX_SLOW_VERIFICATIONS + MAX_WAITING + 10 }, (_, i) => a.authenticate(basic('flood', `wrong-${i}`))));
    const reasons = outcomes.map((o) => (o.ok ? 'ok' : o.reason));
    assert.equal(reasons.filter((r) => r === 'busy').length, 10);
    assert.equal(reasons.filter((r) => r === 'invalid').length, MAX_SLOW_VERIFICATIONS + MAX_WAITING);
    assert.equal((await a.authenticate(basic('flood', 'right'))).ok, true, 'slots are given back');
    await a.shutdown();
  });

  it('reads the htpasswd file again when it changes, and forgets what it remembered', async () => {
    const file = path.join(tmp, 'rotating');
    fs.writeFileSync(file, 'gina:old-password\n');
    const a = new BasicAuthenticator(basicAuthSchema.parse({ htpasswd: { file } }), silent);
    await a.start();
    try {
      assert.equal((await a.authenticate(basic('gina', 'old-password'))).ok, true);
      fs.writeFileSync(file, 'gina:new-password-now\n');
      const deadline = Date.now() + 10_000;
      while ((await a.authenticate(basic('gina', 'old-password'))).ok) {
        assert.ok(Date.now() < deadline, 'the file was not read again within 10 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal((await a.authenticate(basic('gina', 'new-password-now'))).ok, true);
    } finally {
      await a.shutdown();
    }
  });

  it('fails to start on htpasswd it cannot read, naming the option', async () => {
    await assert.rejects(new BasicAuthenticator(basicAuthSchema.parse({ htpasswd: { file: '/nonexistent/htpasswd' } }), silent).start(), { message: 'htpasswd::file: cannot read /nonexistent/htpasswd: ENOENT' });
    await assert.rejects(new BasicAuthenticator(basicAuthSchema.parse({ htpasswd: { inline: 'x:$5$abc' } }), silent).start(), /^SettingError: htpasswd::inline: the inline lines, line 1/);
    assert.equal(basicAuthSchema.safeParse({ htpasswd: {} }).success, false);
  });
});

describe('auth::authenticator of a receiver', () => {
  const errors = (extensions: Record<string, unknown>, enabled: string[], authenticator = 'bearertokenauth') => {
    try {
      resolveConfig(
        {
          extensions,
          receivers: { otlp: { protocols: { grpc: { auth: { authenticator } } } } },
          exporters: { nop: {} },
          service: { extensions: enabled, pipelines: { traces: { receivers: ['otlp'], exporters: ['nop'] } } },
        },
        defaultRegistry(),
      );
      return [];
    } catch (err) {
      if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
      throw err;
    }
  };

  it('must be a configured authenticator extension listed in service::extensions', () => {
    assert.deepEqual(errors({ bearertokenauth: { token: 'x' } }, ['bearertokenauth']), []);
    assert.deepEqual(errors({}, [], 'bearertokenauth/b'), [
      'receivers::otlp::protocols::grpc::auth::authenticator: references extension "bearertokenauth/b" which is not configured under extensions (authenticator types: basicauth, bearertokenauth)',
    ]);
    assert.deepEqual(errors({ health_check: {} }, ['health_check'], 'health_check'), [
      'receivers::otlp::protocols::grpc::auth::authenticator: extension "health_check" is not an authenticator (authenticator types: basicauth, bearertokenauth)',
    ]);
    assert.deepEqual(errors({ bearertokenauth: { token: 'x' } }, []), [
      'receivers::otlp::protocols::grpc::auth::authenticator: extension "bearertokenauth" is not enabled: add it to service::extensions (an authenticator runs only as an enabled extension)',
    ]);
    assert.deepEqual(errors({ bearertokenauth: {} }, ['bearertokenauth']), ['extensions::bearertokenauth: one of token, tokens or filename is required'], 'an invalid authenticator is reported once, for itself');
  });
});
