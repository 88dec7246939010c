// k-fold evaluation end to end on a tiny synthetic folder (real backbone, loaded from the cache after the first run),
// plus the fold assignment and the `icf eval` command.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main';
import { loadBackbone, type Backbone } from '../../src/train/backbone';
import { evaluateFolder, stratifiedFolds, type FolderEvaluation } from '../../src/train/evaluateFolder';
import { seededRandom } from '../../src/util/seededRandom';

const LABELS = ['red-stripes', 'green-checks', 'blue-rings'];
let dir: string;
let cacheDir: string;
let backbone: Backbone;

/** Very different pictures per label; each image jittered (period, phase, tint, noise) so no two are equal. */
async function picture(label: number, seed: number): Promise<Buffer> {
  const random = seededRandom(seed);
  const width = 96 + Math.floor(random() * 64);
  const height = 96 + Math.floor(random() * 64);
  const period = 10 + Math.floor(random() * 10);
  const phase = Math.floor(random() * period);
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let on: boolean;
      if (label === 0) on = Math.floor((y + phase) / period) % 2 === 0;
      else if (label === 1) on = (Math.floor((x + phase) / period) + Math.floor(y / period)) % 2 === 0;
      else on = Math.floor(Math.hypot(x - width / 2, y - height / 2) / period) % 2 === 0;
      const base = on ? 220 : 30;
      const noise = () => Math.floor(random() * 30);
      const rgb = [label === 0 ? base : 30, label === 1 ? base : 30, label === 2 ? base : 30].map((v) => Math.min(255, v + noise()));
      pixels.set(rgb, (y * width + x) * 3);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'icf-eval-'));
  cacheDir = path.join(dir, '.features');
  for (const [label, name] of LABELS.entries()) {
    mkdirSync(path.join(dir, 'photos', name), { recursive: true });
    for (let i = 0; i < 6; i++) writeFileSync(path.join(dir, 'photos', name, `${i}.jpg`), await picture(label, 100 * label + i));
  }
  writeFileSync(path.join(dir, 'photos', LABELS[0]!, 'notes.txt'), 'not an image: skipped');
  backbone = await loadBackbone();
}, 120_000);

afterAll(async () => {
  await backbone?.session.release();
  rmSync(dir, { recursive: true, force: true });
});

describe('stratifiedFolds', () => {
  it('spreads every class evenly over the folds, deterministically per seed', () => {
    const labels = [...Array<number>(10).fill(0), ...Array<number>(7).fill(1), ...Array<number>(5).fill(2)];
    const folds = stratifiedFolds(labels, 3, 1);
    expect(stratifiedFolds(labels, 3, 1)).toEqual(folds);
    expect(stratifiedFolds(labels, 3, 2)).not.toEqual(folds);
    for (const label of [0, 1, 2]) {
      const counts = [0, 1, 2].map((f) => folds.filter((fold, i) => fold === f && labels[i] === label).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    const sizes = [0, 1, 2].map((f) => folds.filter((fold) => fold === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(() => stratifiedFolds(labels, 6, 0)).toThrow('6 folds need at least 6 images per label; the smallest label has 5');
    expect(() => stratifiedFolds(labels, 1, 0)).toThrow('folds must be an integer of at least 2, got 1');
  });
});

describe('evaluateFolder', () => {
  let result: FolderEvaluation;

  it('cross-validates the synthetic folder with high accuracy (augmented training views)', async () => {
    result = await evaluateFolder(path.join(dir, 'photos'), { folds: 3, augment: 1, seed: 0, backbone, cacheDir });
    expect(result.labels).toEqual([...LABELS].sort());
    expect(result.imageCount).toBe(18);
    expect(result.perFold.map((f) => f.testCount)).toEqual([6, 6, 6]);
    expect(result.pooled.count).toBe(18);
    expect(result.pooled.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.meanAccuracy).toBeCloseTo(result.perFold.reduce((a, f) => a + f.accuracy, 0) / 3, 10);
    expect(result.pooled.perClass.map((c) => c.support)).toEqual([6, 6, 6]);
  }, 60_000);

  it('is reproducible and fast from the feature cache', async () => {
    const again = await evaluateFolder(path.join(dir, 'photos'), { folds: 3, augment: 1, seed: 0, backbone, cacheDir });
    expect(again.perFold).toEqual(result.perFold);
    expect(again.seconds.features).toBeLessThan(result.seconds.features);
  }, 60_000);

  it('icf eval prints the summary and JSON, and rejects bad options', async () => {
    const capture = () => {
      let text = '';
      const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => ((text += chunk.toString()), done()) });
      return { stream, text: () => text };
    };
    const out = capture();
    const err = capture();
    expect(await run(['eval', path.join(dir, 'photos'), '--folds', '3', '--seed', '1'], out.stream, err.stream)).toBe(0);
    expect(out.text()).toMatch(/18 images, 3 labels, 3-fold stratified CV, seed 1/);
    expect(out.text()).toMatch(/accuracy: \d+\.\d% ± \d+\.\d% \(mean ± sample std over folds\); pooled/);
    expect(out.text()).toMatch(/red-stripes\s+\d\.\d{3}/);
    expect(err.text()).toMatch(/fold 3\/3/);

    const json = capture();
    expect(await run(['eval', path.join(dir, 'photos'), '--folds=3', '--json', '--standardize', '--weight-decay', '0.01'], json.stream, capture().stream)).toBe(0);
    const parsed = JSON.parse(json.text()) as FolderEvaluation;
    expect(parsed.folds).toBe(3);
    expect(parsed.head).toEqual({ weightDecay: 0.01, standardize: true });
    expect(parsed.pooled.accuracy).toBeGreaterThanOrEqual(0.9);

    const bad = capture();
    expect(await run(['eval', path.join(dir, 'photos'), '--folds', 'x'], capture().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/--folds must be a number, got "x"/);
    expect(await run(['eval', path.join(dir, 'photos'), '--folds', '7'], capture().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/7 folds need at least 7 images per label; the smallest label has 6/);
    expect(await run(['eval', path.join(dir, 'nowhere')], capture().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/nowhere does not exist/);
    expect(await run(['eval', path.join(dir, 'photos'), '--bogus'], capture().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/unknown option --bogus for eval/);
  }, 60_000);
});
