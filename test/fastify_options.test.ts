/**
 * The gateway's Fastify instances without schema compilers (src/fastify_options.ts): routes
 * without a schema serve as usual, a route given one fails at start with the reason, and building
 * an instance loads neither Ajv nor fast-json-stringify (Fastify's error serialiser still takes
 * fast-json-stringify's small runtime module).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { FASTIFY_BASE_OPTIONS } from '../src/fastify_options.js';

describe('Fastify without schema compilers', () => {
  it('serves routes without a schema, replies in JSON included', async () => {
    const app = Fastify({ ...FASTIFY_BASE_OPTIONS, logger: false });
    app.post('/echo', async (req) => ({ got: req.body }));
    const res = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { got: { a: 1 } });
    await app.close();
  });

  it('refuses a route with a schema when the instance starts, naming why', async () => {
    const app = Fastify({ ...FASTIFY_BASE_OPTIONS, logger: false });
    app.post('/v', { schema: { body: { type: 'object' } } }, async () => 'ok');
    await assert.rejects(async () => void (await app.ready()), /take no JSON Schema/);
  });

  it('does not load Ajv, fast-json-stringify or their Fastify compilers', () => {
    const script = `
      const Module = require('node:module');
      const load = Module._load;
      const loaded = [];
      Module._load = function (request, ...rest) { loaded.push(request); return load.call(this, request, ...rest); };
      import(${JSON.stringify(new URL('../src/fastify_options.js', import.meta.url).href)}).then(async ({ FASTIFY_BASE_OPTIONS }) => {
        const app = require('fastify')({ ...FASTIFY_BASE_OPTIONS, logger: false });
        app.get('/', async () => ({}));
        await app.ready();
        await app.close();
        console.log(JSON.stringify(loaded.filter((r) => /^(ajv|fast-json-stringify|@fastify[/]ajv-compiler|@fastify[/]fast-json-stringify-compiler)$/.test(r))));
      });`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout.trim()), []);
  });
});
