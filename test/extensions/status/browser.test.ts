/**
 * The status page in a real browser: headless Chromium (Debian's package, installed by
 * scripts/install-chromium.sh when missing) driven by playwright-core, against a gateway run by
 * the CLI. Screenshots go to test-artifacts/status/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { fixtureManifest, postFixture, projectRoot } from '../../helpers.js';
import { startStatusGateway, type StatusGateway } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const artifacts = path.join(projectRoot, 'test-artifacts', 'status');
const traces = fixtureManifest().find((f) => f.signal === 'traces' && f.contentType === 'application/json' && f.contentEncoding === 'identity')!;
let gw: StatusGateway;
let ctx: BrowserContext;
let page: Page;
let profile: string;
/** The page's DOM, inside functions that playwright runs in the browser (this project compiles without the DOM library). */
declare const document: {
  querySelector(s: string): { textContent: string | null; getAttribute(n: string): string | null } | null;
  querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string | null }>;
  getElementById(id: string): { textContent: string | null } | null;
};

before(async () => {
  // The script says on stderr what it installs, and how big it is once done: let that through.
  if (!fs.existsSync(CHROMIUM)) execFileSync('bash', [path.join(projectRoot, 'scripts', 'install-chromium.sh')], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 15 * 60_000 });
  fs.mkdirSync(artifacts, { recursive: true });
  gw = await startStatusGateway();
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'otelytics-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(10_000);
});

after(async () => {
  await ctx?.close();
  await gw?.stop();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

test('the graph shows every component with live rates', async () => {
  await page.goto(`${gw.statusUrl}/#graph`);
  const { graph } = (await (await fetch(`${gw.statusUrl}/api/graph`)).json()) as { graph: { nodes: unknown[] } };
  await page.locator('svg g[data-node="receiver:otlp"]').waitFor();
  assert.equal(await page.locator('svg g[data-node]').count(), graph.nodes.length);
  for (let i = 0; i < 3; i++) {
    await postFixture(gw.ports.http, traces);
    await page.waitForTimeout(400);
  }
  const file = page.locator('svg g[data-node="exporter:file"] text.rates').first();
  await page.waitForFunction(() => /sent [1-9]/.test(document.querySelector('svg g[data-node="exporter:file"] text.rates')?.textContent ?? ''));
  assert.match((await file.textContent()) ?? '', /in [\d.]+k?\/s · sent [1-9]/);
  assert.match((await page.locator('#node-table tr[data-node="receiver:otlp"] td.num').first().textContent()) ?? '', /^[1-9][\d.]*k?$/);
  await page.screenshot({ path: path.join(artifacts, 'graph.png'), fullPage: true });
});

test('the tail shows events after privacy, filtered by name', async () => {
  await page.goto(`${gw.statusUrl}/#tail`);
  await page.locator('#tail-name').fill('search');
  await page.waitForFunction(() => /live/.test(document.getElementById('tail-state')?.textContent ?? ''));
  await postFixture(gw.ports.http, traces);
  // The list settles on the filtered events (items shown before the filter took effect go away).
  await page.waitForFunction(() => {
    const lis = [...document.querySelectorAll('#tail-list li')];
    return lis.length > 0 && lis.every((li) => li.getAttribute('data-name') === 'search');
  });
  const names = await page.locator('#tail-list li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-name')));
  assert.ok(names.length > 0 && names.every((n) => n === 'search'), names.join(','));
  const text = (await page.locator('#tail-list').textContent()) ?? '';
  // The fixture searches for an e-mail address once; privacy masks it before the exporters.
  assert.ok(!text.includes('@example.com'), 'no raw e-mail address in the tail');
  assert.match(text, /search_term=\[email\]/);
  await page.screenshot({ path: path.join(artifacts, 'tail.png') });
});

test('the playground runs an edited rule and shows validation errors inline', async () => {
  await page.goto(`${gw.statusUrl}/#playground`);
  await page.locator('#pg-result article').first().waitFor();
  await page.locator('#pg-sample').selectOption('search-email');
  const firstEvent = (name: string) => page.waitForFunction((n) => document.querySelector('#pg-result article')?.getAttribute('data-name') === n, name);
  await firstEvent('search');
  assert.match((await page.locator('#pg-result .changes').first().textContent()) ?? '', /properties::search_term changed → "\[email\]"/);

  const analytics = page.locator('#pg-analytics');
  const yaml = await analytics.inputValue();
  await analytics.fill(yaml.replace('event: search', 'event: site_search'));
  await firstEvent('site_search');

  await analytics.fill(yaml.replace(/kind:\n\s+- server/, 'kind: servr'));
  await page.locator('#pg-analytics-errors li').first().waitFor();
  assert.match((await page.locator('#pg-analytics-errors').textContent()) ?? '', /line \d+: rules::0::match::kind: .*server/);
  await page.screenshot({ path: path.join(artifacts, 'playground.png'), fullPage: true });
});
