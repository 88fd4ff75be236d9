#!/usr/bin/env node
/**
 * Builds the status page (src/extensions/status/ui) into <outdir>/src/extensions/status/assets/:
 * app.js (the ES modules bundled and minified by esbuild, no runtime dependencies), app.css and
 * index.html. Run by `npm run build` after tsc; the status extension serves these files.
 *
 *   node scripts/build-status-ui.mjs [--outdir dist] [--check]
 *
 * --check also type-checks the page's JavaScript (JSDoc types, DOM library) with tsc.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' }, check: { type: 'boolean', default: false } } });
const src = path.join(root, 'src', 'extensions', 'status', 'ui');
const out = path.resolve(root, values.outdir, 'src', 'extensions', 'status', 'assets');

if (values.check) {
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(src, 'jsconfig.json')], { stdio: 'inherit' });
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: [path.join(src, 'app.js'), path.join(src, 'app.css')],
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari16'],
  legalComments: 'none',
  logLevel: 'warning',
});
fs.copyFileSync(path.join(src, 'index.html'), path.join(out, 'index.html'));
const sizes = fs.readdirSync(out).map((f) => `${f} ${fs.statSync(path.join(out, f)).size} B`);
if (!process.env.CI) process.stdout.write(`status page built: ${path.relative(root, out)} (${sizes.join(', ')})\n`);
