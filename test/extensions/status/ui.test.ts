/** The status page's build: type-checked, bundled, self-contained (no CDN, no inline script). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../helpers.js';

test('scripts/build-status-ui.mjs type-checks the page and writes app.js, app.css and index.html', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-ui-'));
  try {
    execFileSync(process.execPath, [path.join(projectRoot, 'scripts', 'build-status-ui.mjs'), '--outdir', out, '--check'], { cwd: projectRoot, stdio: 'pipe', env: { ...process.env, CI: 'true' } });
    const assets = path.join(out, 'src', 'extensions', 'status', 'assets');
    assert.deepEqual(fs.readdirSync(assets).sort(), ['app.css', 'app.js', 'index.html']);
    const html = fs.readFileSync(path.join(assets, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const r of refs) assert.ok(r.startsWith('#') || r.startsWith('data:') || fs.existsSync(path.join(assets, '..', r)), `${r} is served by the extension`);
    assert.ok(!/<script>(?!<)/.test(html) && !/\son\w+="/.test(html), 'no inline script (the page runs under script-src \'self\')');
    for (const f of ['index.html', 'app.js', 'app.css']) assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(fs.readFileSync(path.join(assets, f), 'utf8')), `${f} loads nothing from elsewhere`);
    assert.ok(fs.statSync(path.join(assets, 'app.js')).size < 64 * 1024, 'the page script stays small');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
