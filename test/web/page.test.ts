// The web page in a real browser: Debian's Chromium (/usr/bin/chromium; never a downloaded one) driven by
// playwright-core against the app on the strict local host (keys checked, the build run as azd ships it, as on
// Azure), with a seeded garment data set. It checks that the page and its assets load with no key, that the page
// asks for the function key on screen when the API answers 401 and works once given one (or ?code=), that it loads
// with no console errors and no CSP violations, shows the right counts, that a keyboard relabel, an exclusion and an
// undo reach the catalog, that a training run started from the page shows its progress and then the plots, that a
// photo given to "try it" shows predictions, and that a file name with markup in it renders as text. Screenshots go
// to docs/screenshots/ with UPDATE_SCREENSHOTS=1 (npm run screenshots), else to a temporary folder.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderGarment } from '../../src/collect/syntheticImages';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import { type AppStack, hostKey, projectRoot, seedGarments, startAppStack } from '../support/appHost';

const CHROMIUM = '/usr/bin/chromium';
const DATASET = 'tees';
const MARKUP_NAME = '<img src=x onerror="window.__injected=1">.jpg';
// `npm run screenshots` refreshes the README's pictures; a plain test run writes them to a temporary folder, so that
// `npm test` leaves the work tree as it was.
const screenshots = process.env['UPDATE_SCREENSHOTS']
  ? path.join(projectRoot, 'docs', 'screenshots')
  : path.join(os.tmpdir(), 'icf-page-screenshots');

let stack: AppStack;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`);
  }
  stack = await startAppStack({
    hostId: 'web-page',
    strict: true,
    seed: async (services) => {
      await seedGarments(services, DATASET);
      const blobName = `${DATASET}/dotted/${MARKUP_NAME}`;
      const content = await renderGarment({ item: 'hoodie', pattern: 'dotted', seed: 4711 });
      await services.storage.blobs
        .getContainerClient(INCOMING_CONTAINER)
        .getBlockBlobClient(blobName)
        .uploadData(content);
      await services.ingestor.ingest({ blobName, content });
      // An exact copy under another name: a duplicate, shown beside what it duplicates.
      const copyName = `${DATASET}/dotted/copy-of-hoodie.jpg`;
      await services.storage.blobs
        .getContainerClient(INCOMING_CONTAINER)
        .getBlockBlobClient(copyName)
        .uploadData(content);
      await services.ingestor.ingest({ blobName: copyName, content });
    },
  });
  await mkdir(screenshots, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${stack.host.url}/`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function catalogImage(name: string) {
  const { images } = await stack.services.catalog.listImages(DATASET, { pageSize: 1000 });
  return images.find((image) => image.name === name);
}

/** Chromium's console line for a response the page expected: the API's 401 before the key is given. */
const UNAUTHORIZED_LOAD = /Failed to load resource: the server responded with a status of 401/;

describe('the web page', () => {
  it('loads with its script and stylesheet and no key, asks for the key when the API answers 401, then works', async () => {
    // The page ran (its script loaded: it put up the form) and is styled (the stylesheet loaded).
    const form = page.locator('#key-form');
    await form.waitFor({ state: 'visible' });
    expect(await page.locator('#key-message').textContent()).toBe(
      'This app needs a function key (its API answered 401 Unauthorized). Enter one of its keys to continue.',
    );
    expect(await page.evaluate("getComputedStyle(document.querySelector('header')).display")).toBe('flex');
    expect(await page.locator('#label-counts tbody tr').count()).toBe(0);
    // A wrong key is refused, on screen.
    await page.locator('#key-input').fill('not-a-key');
    await page.locator('#key-form button[type="submit"]').click();
    await expect
      .poll(() => page.locator('#key-message').textContent())
      .toBe('The app refused this function key (401 Unauthorized). Enter a valid one.');
    await form.waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(screenshots, 'key.png'), fullPage: false });
    await page.locator('#key-input').fill(hostKey(stack.host)!);
    await page.locator('#key-form button[type="submit"]').click();
    await page.locator('#label-counts tbody tr').first().waitFor();
    expect(await form.isHidden()).toBe(true);
    expect(
      problems.every((problem) => UNAUTHORIZED_LOAD.test(problem)),
      problems.join('\n'),
    ).toBe(true);
    problems.length = 0;
  }, 60_000);

  it('takes the key as ?code= too, and keeps it out of requests to other origins', async () => {
    const other = await browser.newPage();
    const origins = new Set<string>();
    other.on('request', (request) => origins.add(new URL(request.url()).origin));
    try {
      await other.goto(`${stack.host.url}/?code=${encodeURIComponent(hostKey(stack.host)!)}`);
      await other.locator('#label-counts tbody tr').first().waitFor();
      expect(await other.locator('#key-form').isHidden()).toBe(true);
      expect([...origins]).toEqual([new URL(stack.host.url).origin]);
    } finally {
      await other.close();
    }
  });

  it('loads with its security headers, no console errors and no CSP violations, and shows the counts', async () => {
    const response = await fetch(`${stack.host.url}/`);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    await page.locator('#label-counts tbody tr').first().waitFor();
    const rows = await page.locator('#label-counts tbody tr').allTextContents();
    const stats = (await stack.services.catalog.getStats(DATASET))!;
    expect(rows).toHaveLength(Object.keys(stats.labels).length);
    for (const [label, counts] of Object.entries(stats.labels)) {
      expect(rows).toContain(`${label}${counts.train}${counts.test}`);
    }
    expect(await page.locator('#image-counts').textContent()).toContain(`${stats.images.accepted} accepted`);
    await page.locator('#grid .tile img').first().waitFor();
    await page.screenshot({ path: path.join(screenshots, 'review.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it('renders a file name with markup as text', async () => {
    const tile = page.locator('#grid .tile .name', { hasText: MARKUP_NAME });
    await expect.poll(() => tile.count()).toBe(1);
    expect(await tile.textContent()).toBe(MARKUP_NAME);
    expect(await page.evaluate('window.__injected')).toBeUndefined();
    expect(await page.locator('#grid img[src="x"]').count()).toBe(0);
  });

  it('shows a duplicate beside what it duplicates', async () => {
    await page.locator('#filter-status').selectOption('duplicate');
    const tile = page.locator('#grid .tile', { hasText: 'copy-of-hoodie.jpg' });
    await tile.waitFor();
    const original = (await catalogImage(MARKUP_NAME))!;
    expect(await tile.locator('.related figcaption').textContent()).toBe(`same as ${original.id}`);
    await expect
      .poll(() => tile.locator('.related img').evaluate((image: { naturalWidth: number }) => image.naturalWidth))
      .toBeGreaterThan(0);
    await page.locator('#filter-status').selectOption('accepted');
    await page.locator('#grid .tile', { hasText: 'dotted-0.jpg' }).waitFor();
  });

  it('relabels with a digit, excludes with x and undoes with u, from the keyboard, into the catalog', async () => {
    const first = page.locator('#grid .tile').first();
    await first.click();
    const name = (await first.locator('.name').textContent())!;
    const before = (await catalogImage(name))!;
    const labels = await page.locator('#label-keys li').allTextContents();
    const target = labels.map((entry) => entry.split(': ')[1]!).find((label) => label !== before.label)!;
    const digit = String(labels.findIndex((entry) => entry.endsWith(`: ${target}`)) + 1);
    await page.keyboard.press(digit);
    await expect.poll(async () => (await catalogImage(name))?.label).toBe(target);
    expect((await catalogImage(name))?.split).toBe(before.split);
    await page.keyboard.press('x');
    await expect.poll(async () => (await catalogImage(name))?.excluded).toBe(true);
    await page.keyboard.press('u');
    await expect.poll(async () => (await catalogImage(name))?.excluded ?? false).toBe(false);
    await page.keyboard.press('u');
    await expect.poll(async () => (await catalogImage(name))?.label).toBe(before.label);
    expect(problems).toEqual([]);
  }, 60_000);

  it('starts a training run, follows it, then shows the metrics and plots; a photo in "try it" is classified', async () => {
    await page.locator('#train').click();
    await page.locator('#train-progress').waitFor({ state: 'visible' });
    await expect
      .poll(() => page.locator('#train-stage').textContent(), { timeout: 240_000, interval: 500 })
      .toMatch(/^done/);
    await page.locator('#plots img').first().waitFor({ timeout: 30_000 });
    // Every plot loaded (an SVG the CSP or a wrong route kept out would have no size). The callbacks run in the
    // page; this project's types have no DOM, so they see plain objects.
    type PlotImage = { complete: boolean; naturalWidth: number; alt: string };
    const plots = page.locator('#plots img');
    await expect
      .poll(() => plots.evaluateAll((images: PlotImage[]) => images.every((i) => i.complete && i.naturalWidth > 0)))
      .toBe(true);
    expect(await plots.evaluateAll((images: PlotImage[]) => images.map((image) => image.alt))).toContain(
      'confusion-matrix.svg',
    );
    expect(await page.locator('#model-headline').textContent()).toMatch(/test accuracy \d+\.\d%/);

    const photo = await renderGarment({ item: 't-shirt', pattern: 'striped', seed: 9001 });
    await page.locator('#try-file').setInputFiles({ name: 'striped.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.locator('#predictions li').first().waitFor();
    const predictions = await page.locator('#predictions li').allTextContents();
    expect(predictions.length).toBeGreaterThan(0);
    expect(predictions[0]).toMatch(/^(dotted|leopard|striped) \d+\.\d%$/);
    await page.screenshot({ path: path.join(screenshots, 'model.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 300_000);

  it('fits a phone-sized screen without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(screenshots, 'phone.png'), fullPage: false });
  });
});
