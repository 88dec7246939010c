// The web page in a real browser: Debian's Chromium (/usr/bin/chromium; never a downloaded one) driven by
// playwright-core against the app on the strict local host (keys checked, the build run as azd ships it, as on
// Azure), with a seeded garment data set (three labels flipped on purpose, a duplicate and a near duplicate filed
// under another label). What it checks is what a person sees: the key prompt on a 401, the counts in words, the grid
// beside a side panel in one laptop screen, each tile's text and state after each key (relabel, exclusion as a
// toggle, undo), the grid after fast filter changes whose answers come back in the wrong order (equal to a fresh load
// of the same address), the training progress never going back, the suspect labels as a worklist ranked by score and
// worked through with the keyboard alone, a conflicting pair side by side and fixed with one key, "try it"'s preview
// and errors beside its box, a grid of 10,000 images that keeps only what is in sight in the page, and the same on a
// phone-sized screen. Screenshots go to docs/screenshots/ with UPDATE_SCREENSHOTS=1 (npm run screenshots), else to
// a temporary folder; without it the test checks that docs/screenshots/ is left as it was.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { type Browser, chromium, type Page, type Request, type Route } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderGarment } from '../../src/collect/syntheticImages';
import type { SuspectReport } from '../../src/review/suspects';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import { type AppStack, hostKey, projectRoot, seedGarments, startAppStack } from '../support/appHost';

const CHROMIUM = '/usr/bin/chromium';
const DATASET = 'tees';
const MARKUP_NAME = '<img src=x onerror="window.__injected=1">.jpg';
const PATTERNS = ['striped', 'dotted', 'leopard'] as const;
/** Each pattern's flipped image, filed under the next pattern's label: the suspects to find. */
const FLIPPED = PATTERNS.map((pattern, p) => ({
  pattern,
  label: PATTERNS[(p + 1) % PATTERNS.length]!,
  name: `flipped-${pattern}.jpg`,
  seed: 77 + p,
}));
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
// `npm run screenshots` refreshes the README's pictures; a plain test run writes them to a temporary folder, so that
// `npm test` leaves the work tree as it was.
const UPDATE = Boolean(process.env['UPDATE_SCREENSHOTS']);
const committedScreenshots = path.join(projectRoot, 'docs', 'screenshots');
const screenshots = UPDATE ? committedScreenshots : path.join(os.tmpdir(), 'icf-page-screenshots');

let stack: AppStack;
let browser: Browser;
let page: Page;
let committedHashes: Record<string, string>;
const problems: string[] = [];

function hashes(folder: string): Record<string, string> {
  if (!existsSync(folder)) return {};
  return Object.fromEntries(
    readdirSync(folder)
      .filter((name) => name.endsWith('.png'))
      .map((name) => [
        name,
        createHash('sha256')
          .update(readFileSync(path.join(folder, name)))
          .digest('hex'),
      ]),
  );
}

async function seed(services: Services): Promise<void> {
  const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  const put = async (blobName: string, content: Buffer) => {
    await incoming.getBlockBlobClient(blobName).uploadData(content);
    await services.ingestor.ingest({ blobName, content });
  };
  await seedGarments(services, DATASET);
  for (const f of FLIPPED)
    await put(
      `${DATASET}/${f.label}/${f.name}`,
      await renderGarment({ item: 't-shirt', pattern: f.pattern, seed: f.seed }),
    );
  const hoodie = await renderGarment({ item: 'hoodie', pattern: 'dotted', seed: 4711 });
  await put(`${DATASET}/dotted/${MARKUP_NAME}`, hoodie);
  // An exact copy under another name: a duplicate, shown beside what it duplicates.
  await put(`${DATASET}/dotted/copy-of-hoodie.jpg`, hoodie);
  // The same photo re-encoded under another label: a near duplicate, and a conflicting pair.
  const original = await incoming.getBlockBlobClient(`${DATASET}/striped/striped-0.jpg`).downloadToBuffer();
  await put(`${DATASET}/leopard/copy-of-striped-0.jpg`, await sharp(original).jpeg({ quality: 60 }).toBuffer());
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`);
  }
  committedHashes = hashes(committedScreenshots);
  stack = await startAppStack({ hostId: 'web-page', strict: true, seed });
  await mkdir(screenshots, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: LAPTOP });
  watch(page);
  await page.goto(`${stack.host.url}/`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

function watch(target: Page): void {
  target.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  target.on('pageerror', (error) => problems.push(error.message));
}

async function catalogImage(name: string) {
  const { images } = await stack.services.catalog.listImages(DATASET, { pageSize: 1000 });
  return images.find((image) => image.name === name);
}

async function catalogNames(status: string, label?: string): Promise<string[]> {
  const { images } = await stack.services.catalog.listImages(DATASET, { pageSize: 1000 });
  return images
    .filter((image) => image.status === status && (label === undefined || image.label === label))
    .map((image) => image.name);
}

/** Waits until every API call of the page has been answered and handled (the page counts them on <html>). */
async function settled(target: Page = page): Promise<void> {
  await target.locator('html[data-api-calls="0"]').waitFor({ state: 'attached' });
  await target.locator('#grid[aria-busy="false"]').waitFor({ state: 'attached' });
}

interface TileSeen {
  index: number;
  id: string;
  name: string;
  label: string;
  excluded: boolean;
  text: string;
}

/**
 * Every tile of the grid as a person scrolling through it sees them: the grid keeps only the rows in sight in the
 * page, so this scrolls from top to bottom and back, collecting the tiles in their order.
 */
async function gridTiles(target: Page = page): Promise<TileSeen[]> {
  return target.evaluate(`(async () => {
    const viewport = document.getElementById('grid-viewport');
    const seen = new Map();
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    viewport.scrollTop = 0;
    for (;;) {
      await frame();
      for (const tile of document.querySelectorAll('#grid .tile')) {
        seen.set(Number(tile.dataset.index), {
          index: Number(tile.dataset.index),
          id: tile.dataset.id,
          name: tile.querySelector('.name').textContent,
          label: tile.querySelector('.label').textContent,
          excluded: tile.classList.contains('excluded'),
          text: tile.querySelector('.info').innerText,
        });
      }
      if (viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - 1) break;
      viewport.scrollTop += viewport.clientHeight;
    }
    viewport.scrollTop = 0;
    await frame();
    return [...seen.values()].sort((a, b) => a.index - b.index);
  })()`);
}

/** The tile of the image with this file name (among those in sight). */
function tile(name: string, target: Page = page) {
  return target.locator('#grid .tile').filter({ has: target.getByText(name, { exact: true }) });
}

async function focusedTile(target: Page = page): Promise<{ id?: string; name?: string } | null> {
  return target.evaluate(`(() => {
    const tile = document.activeElement && document.activeElement.closest && document.activeElement.closest('.tile');
    return tile ? { id: tile.dataset.id, name: tile.querySelector('.name').textContent } : null;
  })()`);
}

/** Tabs from the view selector to the grid's focused tile: the keyboard alone. */
async function tabIntoGrid(target: Page = page): Promise<void> {
  await target.locator('#filter-view').focus();
  for (let i = 0; i < 6 && !(await focusedTile(target)); i++) await target.keyboard.press('Tab');
  expect(await focusedTile(target)).not.toBeNull();
}

async function labelKey(label: string): Promise<string> {
  const labels = await page
    .locator('#label-keys li')
    .evaluateAll((items: { dataset: { label?: string } }[]) => items.map((item) => item.dataset.label));
  const index = labels.indexOf(label);
  expect(index).toBeGreaterThanOrEqual(0);
  return String(index + 1);
}

async function labelRow(label: string): Promise<string> {
  return (await page.locator('#label-counts tbody tr', { hasText: label }).first().textContent()) ?? '';
}

async function suspectReport(): Promise<SuspectReport> {
  const response = await fetch(`${stack.host.url}/api/datasets/${DATASET}/suspects`, {
    headers: { 'x-functions-key': hostKey(stack.host)! },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as SuspectReport;
}

/** Holds the page's requests that match, until the test lets each go on. */
function holdRequests(target: Page, pattern: RegExp) {
  const held: Route[] = [];
  const handler = (route: Route) => {
    held.push(route);
  };
  return {
    held,
    install: () => target.route(pattern, handler),
    /** Lets a held request go on and waits until it has finished or failed (the page may have aborted it). */
    release: async (route: Route) => {
      const request = route.request();
      const ended = requestEnd(target, request);
      await route.continue().catch(() => undefined);
      await ended;
    },
    remove: () => target.unroute(pattern, handler),
  };
}

function requestEnd(target: Page, request: Request): Promise<void> {
  return new Promise((resolve) => {
    const done = (other: Request) => {
      if (other !== request) return;
      target.off('requestfinished', done);
      target.off('requestfailed', done);
      resolve();
    };
    target.on('requestfinished', done);
    target.on('requestfailed', done);
    // An aborted request may have failed before the listeners were on.
    void request.response().then(
      () => undefined,
      () => undefined,
    );
    if (request.failure()) done(request);
  });
}

/** The grid on the left, the side panel on the right, every section of it within the window; the page never scrolls. */
async function expectOneLaptopScreen(): Promise<void> {
  const grid = (await page.locator('#grid-viewport').boundingBox())!;
  const side = (await page.locator('#side').boundingBox())!;
  expect(side.x).toBeGreaterThanOrEqual(grid.x + grid.width);
  expect(grid.y + grid.height).toBeLessThanOrEqual(LAPTOP.height);
  for (const id of ['#summary', '#training', '#try', '#model-headline', '#plots']) {
    const box = (await page.locator(id).boundingBox())!;
    expect(box.y + box.height, id).toBeLessThanOrEqual(LAPTOP.height);
  }
  expect(await page.evaluate('document.documentElement.scrollHeight - window.innerHeight')).toBeLessThanOrEqual(0);
}

const wholePercent = (p: number) => (p > 0 && p < 0.005 ? '<1%' : `${Math.round(p * 100)}%`);

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
    await page.screenshot({ path: path.join(screenshots, 'key.png') });
    await page.locator('#key-input').fill(hostKey(stack.host)!);
    await page.locator('#key-form button[type="submit"]').click();
    await page.locator('#label-counts tbody tr').first().waitFor();
    await settled();
    expect(await form.isHidden()).toBe(true);
    expect(
      problems.every((problem) => /the server responded with a status of 401/.test(problem)),
      problems.join('\n'),
    ).toBe(true);
    problems.length = 0;
  }, 60_000);

  it('takes the key as ?code= too, keeps it out of the address and of requests to other origins', async () => {
    const other = await browser.newPage();
    const origins = new Set<string>();
    other.on('request', (request) => origins.add(new URL(request.url()).origin));
    try {
      await other.goto(`${stack.host.url}/?code=${encodeURIComponent(hostKey(stack.host)!)}`);
      await other.locator('#label-counts tbody tr').first().waitFor();
      expect(await other.locator('#key-form').isHidden()).toBe(true);
      expect([...origins]).toEqual([new URL(stack.host.url).origin]);
      // The address names the view, not the key: it can be shared.
      await expect.poll(() => new URL(other.url()).searchParams.get('dataset')).toBe(DATASET);
      expect(new URL(other.url()).searchParams.has('code')).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('shows the counts in words, the grid and the side panel in one laptop screen, no raw ids or keys', async () => {
    const response = await fetch(`${stack.host.url}/`);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const rows = await page.locator('#label-counts tbody tr').allTextContents();
    const stats = (await stack.services.catalog.getStats(DATASET))!;
    expect(rows).toHaveLength(Object.keys(stats.labels).length);
    for (const [label, counts] of Object.entries(stats.labels)) {
      expect(rows).toContain(`${label}${counts.train}${counts.test}`);
    }
    expect(await page.locator('#image-counts').textContent()).toBe(
      `${stats.images.accepted} accepted · 1 duplicate · 1 near duplicate · 0 rejected`,
    );
    await page.locator('#grid .tile img').first().waitFor();
    // The grid on the left, the side panel on the right, everything within the window: nothing scrolls the page.
    await expectOneLaptopScreen();
    expect(await page.locator('#grid-footer').textContent()).toBe(`${stats.images.accepted} images`);
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/nearDuplicate|img:|%2F|%20/);
    expect(problems).toEqual([]);
  }, 60_000);

  it('renders a file name with markup as text', async () => {
    const name = page.locator('#grid .tile .name', { hasText: MARKUP_NAME });
    await expect.poll(() => name.count()).toBe(1);
    expect(await name.textContent()).toBe(MARKUP_NAME);
    expect(await page.evaluate('window.__injected')).toBeUndefined();
    expect(await page.locator('#grid img[src="x"]').count()).toBe(0);
  });

  it('shows a duplicate and a near duplicate beside what they duplicate, in words, with the filter in the address', async () => {
    await page.locator('#filter-status').selectOption('duplicate');
    await settled();
    expect(new URL(page.url()).searchParams.get('status')).toBe('duplicate');
    const copy = tile('copy-of-hoodie.jpg');
    expect(await copy.locator('.relation').textContent()).toBe(`copy of ${MARKUP_NAME}`);
    await expect
      .poll(() => copy.locator('.related img').evaluate((image: { naturalWidth: number }) => image.naturalWidth))
      .toBeGreaterThan(0);

    await page.locator('#filter-status').selectOption('nearDuplicate');
    await settled();
    const near = (await catalogImage('copy-of-striped-0.jpg'))!;
    expect(near.status).toBe('nearDuplicate');
    const nearTile = tile('copy-of-striped-0.jpg');
    expect(await nearTile.locator('.relation').textContent()).toBe(
      `near duplicate of striped-0.jpg (${near.distanceBits} bits)`,
    );
    expect((await gridTiles()).map((t) => t.name)).toEqual(['copy-of-striped-0.jpg']);

    await page.locator('#filter-status').selectOption('accepted');
    await settled();
    expect(new URL(page.url()).searchParams.has('status')).toBe(false);
  });

  it('after each key shows the tile as stored: a relabel, exclusion as a toggle, undo walking back', async () => {
    const name = 'striped-3.jpg';
    const before = (await catalogImage(name))!;
    expect(before.label).toBe('striped');
    const target = tile(name);
    await target.click();
    const leopardBefore = await labelRow('leopard');

    await page.keyboard.press(await labelKey('leopard'));
    await settled();
    expect(await target.locator('.label').textContent()).toBe('leopard');
    expect(await target.getAttribute('class')).not.toMatch(/excluded/);
    expect(await page.locator('#review-status').textContent()).toBe(`${name}: now leopard`);
    expect((await catalogImage(name))!).toMatchObject({ label: 'leopard', split: before.split });
    expect(await labelRow('leopard')).not.toBe(leopardBefore);

    const expectExcluded = async (excluded: boolean) => {
      await settled();
      expect(
        await target.evaluate((t: { classList: { contains(c: string): boolean } }) => t.classList.contains('excluded')),
      ).toBe(excluded);
      expect(await target.locator('.state').count()).toBe(excluded ? 1 : 0);
      if (excluded) expect(await target.locator('.state').textContent()).toBe('excluded');
      expect((await catalogImage(name))?.excluded ?? false).toBe(excluded);
    };
    await page.keyboard.press('x');
    await expectExcluded(true);
    await page.keyboard.press('x');
    await expectExcluded(false);
    // Two presses before any answer: the second is sent from what the first stored, so they cancel out.
    const sequence = (await stack.services.catalog.getStats(DATASET))!.sequence;
    await page.keyboard.press('x');
    await page.keyboard.press('x');
    await expectExcluded(false);
    const latest = (await stack.services.catalog.listChanges(DATASET)).slice(0, 2).map(({ change }) => change);
    expect(latest.map((change) => [change.id, change.edits.excluded?.to])).toEqual([
      [sequence + 2, false],
      [sequence + 1, true],
    ]);

    // Undo walks back through the five changes, the tile following each answer.
    for (const excluded of [true, false, true, false]) {
      await page.keyboard.press('u');
      await expectExcluded(excluded);
      expect(await target.locator('.label').textContent()).toBe('leopard');
    }
    await page.keyboard.press('u');
    await settled();
    expect(await target.locator('.label').textContent()).toBe('striped');
    expect(await page.locator('#review-status').textContent()).toBe(`Undone: ${name} back to striped`);
    expect((await catalogImage(name))?.label).toBe('striped');
    expect(await labelRow('leopard')).toBe(leopardBefore);
    expect(problems).toEqual([]);
  }, 60_000);

  it('after fast filter changes whose answers come back newest first, shows what a fresh load of the address shows', async () => {
    const hold = holdRequests(page, /\/api\/datasets\/tees\/images\?/);
    await hold.install();
    try {
      await page.locator('#filter-status').selectOption('duplicate');
      await page.locator('#filter-status').selectOption('nearDuplicate');
      await page.locator('#filter-status').selectOption('accepted');
      await page.locator('#filter-label').selectOption('dotted');
      await page.locator('#filter-label').selectOption('striped');
      await expect.poll(() => hold.held.length).toBe(5);
      // The newest answer first, then each older one after the one before it was handled.
      for (const route of [...hold.held].reverse()) {
        await hold.release(route);
        await settled();
      }
    } finally {
      await hold.remove();
    }
    const shown = await gridTiles();
    const names = shown.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual((await catalogNames('accepted', 'striped')).sort());
    expect(shown.every((t) => t.label === 'striped')).toBe(true);
    const address = new URL(page.url());
    expect(Object.fromEntries(address.searchParams)).toEqual({ dataset: DATASET, label: 'striped' });
    // A fresh load of the same address (the key is kept for the tab) shows the same grid.
    await page.reload();
    await page.locator('#grid .tile').first().waitFor();
    await settled();
    expect(await page.locator('#filter-label').inputValue()).toBe('striped');
    expect(await gridTiles()).toEqual(shown);
    await page.locator('#filter-label').selectOption('');
    await settled();
    expect(problems).toEqual([]);
  }, 60_000);

  it('starts a training run and shows its stage and a progress that never goes back, then the metrics and plots', async () => {
    // Every other answer of the job says less progress than the one before: the bar must not follow it back.
    let answers = 0;
    const sent: number[] = [];
    const jobRoute = /\/api\/datasets\/tees\/jobs\/[^/?]+$/;
    await page.route(jobRoute, async (route) => {
      const response = await route.fetch();
      const job = (await response.json()) as { status: string; progress: number };
      answers += 1;
      if (job.status === 'running' && answers % 2 === 0) job.progress = 0;
      sent.push(job.progress);
      await route.fulfill({ response, json: job });
    });
    await page.evaluate(`(() => {
      window.__stages = [];
      new MutationObserver(() => window.__stages.push(document.getElementById('train-stage').textContent))
        .observe(document.getElementById('train-stage'), { childList: true, characterData: true, subtree: true });
    })()`);
    try {
      await page.locator('#train').click();
      await page.locator('#train-progress').waitFor({ state: 'visible' });
      await expect
        .poll(() => page.locator('#train-stage').textContent(), { timeout: 240_000, interval: 500 })
        .toMatch(/^Done/);
    } finally {
      await page.unroute(jobRoute);
    }
    const stages = await page.evaluate<string[]>('window.__stages');
    const shown = stages.map((s) => /· (\d+)%$/.exec(s)).flatMap((m) => (m ? [Number(m[1])] : []));
    expect(shown.length).toBeGreaterThan(1);
    expect([...shown].sort((a, b) => a - b)).toEqual(shown);
    // The stage in words, not the trainer's key.
    expect(new Set(stages.map((s) => s.replace(/ · \d+%$/, ''))).size).toBeGreaterThan(1);
    expect(stages.some((s) => /^(Loading the images|Extracting features|Trying a recipe: .+) · \d+%$/.test(s))).toBe(
      true,
    );
    // The answers did go back at least once after some progress.
    expect(sent.some((p, i) => p === 0 && sent.slice(0, i).some((q) => q > 0))).toBe(true);
    expect(await page.evaluate("document.getElementById('train-progress').value")).toBe(1);

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
    // The figures in words, not the metrics file's keys.
    const figures = await page.locator('#model-metrics').innerText();
    expect(figures).toContain('macro F1: ');
    expect(figures).not.toMatch(/balancedAccuracy|logLoss/);
    await expectOneLaptopScreen();
    expect(problems).toEqual([]);
  }, 300_000);

  it('shows the suspects loading, drops their answer when another view was chosen meanwhile', async () => {
    const hold = holdRequests(page, /\/api\/datasets\/tees\/suspects$/);
    await hold.install();
    try {
      await page.locator('#filter-view').selectOption('suspects');
      await page.locator('#grid-loading').waitFor({ state: 'visible' });
      expect(await page.locator('#grid-loading').textContent()).toMatch(/^Finding suspect labels/);
      expect(await page.locator('#grid').getAttribute('aria-busy')).toBe('true');
      expect(await page.locator('#filter-status').isDisabled()).toBe(true);
      await expect.poll(() => hold.held.length).toBe(1);
      await page.locator('#filter-view').selectOption('images');
      await settled();
      await hold.release(hold.held[0]!);
      await settled();
    } finally {
      await hold.remove();
    }
    const names = (await gridTiles()).map((t) => t.name);
    expect([...names].sort()).toEqual((await catalogNames('accepted')).sort());
    expect(await page.locator('#grid-loading').isHidden()).toBe(true);
    expect(await page.locator('#worklist').isHidden()).toBe(true);
  }, 60_000);

  it('lists the suspects most suspect first with their proposals, and goes through them with the keyboard alone', async () => {
    await page.locator('#filter-view').selectOption('suspects');
    await settled();
    expect(new URL(page.url()).searchParams.get('view')).toBe('suspects');
    const report = await suspectReport();
    const margins = report.suspects.map((s) => s.margin);
    expect([...margins].sort((a, b) => b - a)).toEqual(margins);
    const flipped = report.suspects.filter((s) => FLIPPED.some((f) => f.name === s.name));
    expect(flipped.length).toBeGreaterThanOrEqual(2);
    const shown = await gridTiles();
    // Ranked as the report, each with its proposal and both probabilities.
    expect(shown.map((t) => t.name)).toEqual(report.suspects.map((s) => s.name));
    report.suspects.forEach((s, rank) => {
      expect(shown[rank]!.text.split('\n').slice(0, 2)).toEqual([
        `${s.label} ${wholePercent(s.givenProbability)}`,
        `proposed ${s.proposedLabel} ${wholePercent(s.proposedProbability)}`,
      ]);
    });
    expect(await tile(report.suspects[0]!.name).locator('.rank').textContent()).toBe('#1');
    const total = report.suspects.length;
    const worklist = page.locator('#worklist');
    expect(await worklist.textContent()).toBe(
      `${total} of ${total} suspect${total === 1 ? '' : 's'} left, most suspect first`,
    );

    // The keyboard alone: tab into the grid, `a` accepts a flipped image's proposal, an arrow passes a clean one.
    await tabIntoGrid();
    let left = total;
    for (const [rank, s] of report.suspects.entries()) {
      expect((await focusedTile())?.name).toBe(s.name);
      if (FLIPPED.some((f) => f.name === s.name)) {
        await page.keyboard.press('a');
        await settled();
        left -= 1;
        const fixed = tile(s.name);
        expect(await fixed.locator('.label').textContent()).toBe(s.proposedLabel);
        expect(await fixed.locator('.proposal').textContent()).toBe(`✓ now ${s.proposedLabel}`);
        expect(await fixed.getAttribute('class')).toMatch(/\bresolved\b/);
        expect(await worklist.textContent()).toMatch(new RegExp(`^${left} of ${total} `));
        expect((await catalogImage(s.name))?.label).toBe(s.proposedLabel);
        // It moved on to the next one still open.
        const next = report.suspects.slice(rank + 1)[0];
        if (next) expect((await focusedTile())?.name).toBe(next.name);
      } else {
        await page.keyboard.press('ArrowRight');
      }
    }
    expect(left).toBe(total - flipped.length);
    await page.keyboard.press('Home');
    await page.screenshot({ path: path.join(screenshots, 'review.png') });

    // Undo brings each back, newest first, on its tile and in the count.
    for (const s of [...flipped].reverse()) {
      await page.keyboard.press('u');
      await settled();
      left += 1;
      expect(await tile(s.name).locator('.label').textContent()).toBe(s.label);
      expect(await tile(s.name).getAttribute('class')).not.toMatch(/\bresolved\b/);
      expect(await worklist.textContent()).toMatch(new RegExp(`^${left} of ${total} `));
      expect((await catalogImage(s.name))?.label).toBe(s.label);
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('shows a conflicting near-duplicate pair side by side and settles it with one key', async () => {
    await page.locator('#filter-view').selectOption('conflicts');
    await settled();
    const shown = await gridTiles();
    expect(shown.map((t) => t.name).sort()).toEqual(['copy-of-striped-0.jpg', 'striped-0.jpg']);
    const copy = tile('copy-of-striped-0.jpg');
    const original = tile('striped-0.jpg');
    const [a, b] = [(await copy.boundingBox())!, (await original.boundingBox())!];
    expect(a.y).toBe(b.y);
    expect(Math.abs(a.x - b.x)).toBeLessThan(a.width * 1.5);
    const near = (await catalogImage('copy-of-striped-0.jpg'))!;
    expect(await copy.locator('.relation').textContent()).toBe(
      `near duplicate of striped-0.jpg (${near.distanceBits} bits)`,
    );
    expect(await original.locator('.relation').textContent()).toMatch(
      new RegExp(`looks like copy-of-striped-0\\.jpg \\(${near.distanceBits} bits\\)$`),
    );
    expect(await original.locator('.proposal').textContent()).toBe('the other is leopard');
    expect(await page.locator('#worklist').textContent()).toBe('1 of 1 pair left to settle');

    await tabIntoGrid();
    // The near duplicate is out of training: it cannot be changed, and the page says so.
    if ((await focusedTile())?.name !== 'copy-of-striped-0.jpg') await page.keyboard.press('ArrowRight');
    await page.keyboard.press('a');
    await settled();
    expect(await page.locator('#review-status').textContent()).toBe(
      'copy-of-striped-0.jpg is a near duplicate, kept out of training: only accepted images can be changed.',
    );
    expect((await catalogImage('copy-of-striped-0.jpg'))?.label).toBe('leopard');
    // `a` on the accepted one gives it the other's label: the pair agrees.
    await page.keyboard.press((await focusedTile())?.name === shown[0]!.name ? 'ArrowRight' : 'ArrowLeft');
    expect((await focusedTile())?.name).toBe('striped-0.jpg');
    await page.keyboard.press('a');
    await settled();
    expect(await original.locator('.label').textContent()).toBe('leopard');
    for (const t of [copy, original]) {
      expect(await t.locator('.proposal').textContent()).toBe('✓ the labels agree');
      expect(await t.getAttribute('class')).toMatch(/\bresolved\b/);
    }
    expect(await page.locator('#worklist').textContent()).toBe('0 of 1 pair left to settle');
    expect((await catalogImage('striped-0.jpg'))?.label).toBe('leopard');
    await page.keyboard.press('u');
    await settled();
    expect(await original.locator('.label').textContent()).toBe('striped');
    expect(await page.locator('#worklist').textContent()).toBe('1 of 1 pair left to settle');
    expect((await catalogImage('striped-0.jpg'))?.label).toBe('striped');
    await page.locator('#filter-view').selectOption('images');
    await settled();
    expect(problems).toEqual([]);
  }, 60_000);

  it('"try it" previews the photo, shows the predictions, and shows an error beside its box, clearing the last answer', async () => {
    const photo = await renderGarment({ item: 't-shirt', pattern: 'striped', seed: 9001 });
    const preview = page.locator('#try-preview');
    const predictions = page.locator('#predictions li');
    await page.locator('#try-file').setInputFiles({ name: 'striped.jpg', mimeType: 'image/jpeg', buffer: photo });
    await predictions.first().waitFor();
    await expect
      .poll(() => preview.evaluate((image: { naturalWidth: number }) => image.naturalWidth))
      .toBeGreaterThan(0);
    expect(await preview.isVisible()).toBe(true);
    const first = await predictions.allTextContents();
    expect(first[0]).toMatch(/^(dotted|leopard|striped) \d+\.\d%$/);

    await page.locator('#try-file').setInputFiles({
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('not a photo'),
    });
    const error = page.locator('#try-error');
    await error.waitFor({ state: 'visible' });
    await settled();
    expect(await error.textContent()).toMatch(/^This file cannot be classified: /);
    expect(await predictions.count()).toBe(0);
    await expect.poll(() => preview.isHidden()).toBe(true);
    // Beside the box, not in the header.
    const drop = (await page.locator('#drop').boundingBox())!;
    const shownError = (await error.boundingBox())!;
    expect(shownError.y - (drop.y + drop.height)).toBeLessThan(100);
    expect(await page.locator('#status').textContent()).toBe('');
    expect(problems.every((p) => /status of 415/.test(p))).toBe(true);
    problems.length = 0;

    await page.locator('#try-file').setInputFiles({ name: 'striped.jpg', mimeType: 'image/jpeg', buffer: photo });
    await predictions.first().waitFor();
    expect(await error.isHidden()).toBe(true);
    await expect.poll(() => preview.isVisible()).toBe(true);
    await page.screenshot({ path: path.join(screenshots, 'model.png') });
    expect(problems).toEqual([]);
  }, 60_000);

  it('keeps a grid of 10,000 images smooth: only the rows in sight are in the page, the rest load as it scrolls', async () => {
    const total = 10_000;
    const thumbnail = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#8899aa' } })
      .jpeg()
      .toBuffer();
    const big = await browser.newPage({ viewport: LAPTOP });
    watch(big);
    const pageSizes: number[] = [];
    try {
      await big.route(/\/api\//, async (route) => {
        const url = new URL(route.request().url());
        const at = url.pathname;
        if (at === '/api/datasets') return route.fulfill({ json: { datasets: ['big'] } });
        if (at === '/api/datasets/big')
          return route.fulfill({
            json: {
              dataset: 'big',
              images: { accepted: total, duplicate: 0, nearDuplicate: 0, rejected: 0 },
              labels: { cats: { train: 4000, test: 1000 }, dogs: { train: 4000, test: 1000 } },
            },
          });
        if (at === '/api/datasets/big/images') {
          const from = Number(url.searchParams.get('continuationToken') ?? 0);
          const size = Number(url.searchParams.get('pageSize'));
          pageSizes.push(size);
          const images = Array.from({ length: Math.min(size, total - from) }, (_, k) => {
            const n = String(from + k + 1).padStart(5, '0');
            const label = (from + k) % 2 ? 'dogs' : 'cats';
            return {
              id: `img:${label}%2Fphoto-${n}.jpg`,
              name: `photo-${n}.jpg`,
              label,
              status: 'accepted',
              split: 'train',
              sequence: 1,
            };
          });
          const next = from + images.length;
          return route.fulfill({ json: { images, ...(next < total ? { continuationToken: String(next) } : {}) } });
        }
        if (at.endsWith('/thumbnail')) return route.fulfill({ body: thumbnail, contentType: 'image/jpeg' });
        if (at === '/api/datasets/big/models') return route.fulfill({ json: { versions: [] } });
        if (at === '/api/datasets/big/jobs') return route.fulfill({ json: { jobs: [] } });
        return route.fulfill({ status: 404, json: { error: 'NotFound', message: at } });
      });
      await big.goto(`${stack.host.url}/?dataset=big`);
      await big.locator('#grid .tile').first().waitFor();
      await settled(big);
      const inPage = () => big.locator('#grid .tile').count();
      expect(await inPage()).toBeLessThanOrEqual(120);
      // Scroll to the end again and again: pages load on the way, the page never holds more than the rows in sight.
      let most = 0;
      for (let step = 0; step < 200; step++) {
        await big.evaluate(`(() => {
          const viewport = document.getElementById('grid-viewport');
          viewport.scrollTop = viewport.scrollHeight;
        })()`);
        await big.evaluate('new Promise((resolve) => requestAnimationFrame(() => resolve(true)))');
        await settled(big);
        most = Math.max(most, await inPage());
        if ((await big.locator('#grid-footer').textContent()) === '10,000 images') break;
      }
      expect(await big.locator('#grid-footer').textContent()).toBe('10,000 images');
      expect(most).toBeLessThanOrEqual(120);
      expect(pageSizes.length).toBe(total / 200);
      // Jumps anywhere draw at once: a jump and the frame that draws it.
      const jumps = await big.evaluate<number[]>(`(async () => {
        const viewport = document.getElementById('grid-viewport');
        const times = [];
        for (let i = 0; i < 40; i++) {
          const started = performance.now();
          viewport.scrollTop = ((i * 7919) % 101) / 100 * viewport.scrollHeight;
          await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
          times.push(performance.now() - started);
        }
        viewport.scrollTop = viewport.scrollHeight;
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        return times;
      })()`);
      jumps.sort((a, b) => a - b);
      console.log(
        `10,000 tiles: ${jumps.length} jumps, median ${jumps[20]!.toFixed(0)} ms, slowest ${jumps.at(-1)!.toFixed(0)} ms`,
      );
      expect(jumps[20]!).toBeLessThan(250);
      expect(await inPage()).toBeLessThanOrEqual(120);
      await tile('photo-10000.jpg', big).waitFor();
      // The keyboard reaches either end, drawing what it lands on.
      await tile('photo-10000.jpg', big).click();
      await big.keyboard.press('Home');
      expect((await focusedTile(big))?.name).toBe('photo-00001.jpg');
      await big.keyboard.press('End');
      expect((await focusedTile(big))?.name).toBe('photo-10000.jpg');
      await big.keyboard.press('ArrowUp');
      const columns = Number(
        await big.evaluate("getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length"),
      );
      expect((await focusedTile(big))?.name).toBe(`photo-${String(total - columns).padStart(5, '0')}.jpg`);
      expect(await inPage()).toBeLessThanOrEqual(120);
      expect(problems).toEqual([]);
    } finally {
      await big.close();
    }
  }, 120_000);

  it('fits a phone-sized screen: stacked, no horizontal scrolling, the keys and "try it" work the same', async () => {
    await page.setViewportSize(PHONE);
    await settled();
    expect(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
    const review = (await page.locator('#review').boundingBox())!;
    const side = (await page.locator('#side').boundingBox())!;
    expect(side.y).toBeGreaterThanOrEqual(review.y + review.height - 1);
    const first = page.locator('#grid .tile').first();
    await first.click();
    const name = (await first.locator('.name').textContent())!;
    const before = (await catalogImage(name))!;
    const other = PATTERNS.find((p) => p !== before.label)!;
    const target = tile(name);
    await page.keyboard.press(await labelKey(other));
    await settled();
    expect(await target.locator('.label').textContent()).toBe(other);
    await page.keyboard.press('x');
    await settled();
    expect(await target.getAttribute('class')).toMatch(/\bexcluded\b/);
    await page.screenshot({ path: path.join(screenshots, 'phone.png') });
    await page.keyboard.press('u');
    await page.keyboard.press('u');
    await settled();
    expect(await target.locator('.label').textContent()).toBe(before.label);
    expect(await target.getAttribute('class')).not.toMatch(/\bexcluded\b/);
    expect(await catalogImage(name)).toMatchObject({ label: before.label });

    await page.locator('#try').scrollIntoViewIfNeeded();
    const photo = await renderGarment({ item: 't-shirt', pattern: 'dotted', seed: 9002 });
    await page.locator('#try-file').setInputFiles({ name: 'dotted.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.locator('#predictions li').first().waitFor();
    expect(await page.locator('#try-preview').isVisible()).toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
    expect(problems).toEqual([]);
  }, 60_000);

  it("writes its screenshots to a temporary folder unless asked to refresh the README's", () => {
    for (const name of ['key.png', 'review.png', 'model.png', 'phone.png'])
      expect(existsSync(path.join(screenshots, name)), name).toBe(true);
    if (!UPDATE) expect(hashes(committedScreenshots)).toEqual(committedHashes);
  });
});
