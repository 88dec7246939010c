// k-fold evaluation end to end on tiny synthetic folders (real backbone, loaded from the cache after the first run),
// single-label (DIR/<label>/<image>) and multi-label (DIR/images/ + DIR/labels.csv), plus the fold assignments and
// the `icf eval` command.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { run } from '../../src/cli/main';
import { type Backbone, loadBackbone } from '../../src/train/backbone';
import {
  evaluateFolder,
  type FolderEvaluation,
  type MultiLabelFolderEvaluation,
  type SingleLabelFolderEvaluation,
} from '../../src/train/evaluateFolder';
import { multiLabelFolds, stratifiedFolds } from '../../src/train/folds';
import { seededRandom } from '../../src/util/seededRandom';
import { capturedOutput } from '../support/capturedOutput';

const LABELS = ['red-stripes', 'green-checks', 'blue-rings'];
let dir: string;
let cacheDir: string;
let backbone: Backbone;

/**
 * Very different pictures per label; each image jittered (period, phase, tint, noise) so no two are equal. With
 * several labels the picture is cut into vertical bands, one label's pattern in each.
 */
async function picture(labelOrLabels: number | readonly number[], seed: number): Promise<Buffer> {
  const bands = typeof labelOrLabels === 'number' ? [labelOrLabels] : labelOrLabels;
  const random = seededRandom(seed);
  const width = 96 + Math.floor(random() * 64);
  const height = 96 + Math.floor(random() * 64);
  const period = 10 + Math.floor(random() * 10);
  const phase = Math.floor(random() * period);
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const label = bands[Math.floor((x * bands.length) / width)]!;
      let on: boolean;
      if (label === 0) on = Math.floor((y + phase) / period) % 2 === 0;
      else if (label === 1) on = (Math.floor((x + phase) / period) + Math.floor(y / period)) % 2 === 0;
      else on = Math.floor(Math.hypot(x - width / 2, y - height / 2) / period) % 2 === 0;
      const base = on ? 220 : 30;
      const noise = () => Math.floor(random() * 30);
      const rgb = [label === 0 ? base : 30, label === 1 ? base : 30, label === 2 ? base : 30].map((v) =>
        Math.min(255, v + noise()),
      );
      pixels.set(rgb, (y * width + x) * 3);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** The multi-label folder: every label alone and every pair (side by side), 4 images each; 12 images per label. */
const LABEL_SETS = [[0], [1], [2], [0, 1], [0, 2], [1, 2]];

function singleLabel(result: FolderEvaluation): SingleLabelFolderEvaluation {
  if (result.task !== 'single-label') throw new Error(`expected a single-label evaluation, got ${result.task}`);
  return result;
}

function multiLabel(result: FolderEvaluation): MultiLabelFolderEvaluation {
  if (result.task !== 'multi-label') throw new Error(`expected a multi-label evaluation, got ${result.task}`);
  return result;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'icf-eval-'));
  cacheDir = path.join(dir, '.features');
  for (const [label, name] of LABELS.entries()) {
    mkdirSync(path.join(dir, 'photos', name), { recursive: true });
    for (let i = 0; i < 6; i++)
      writeFileSync(path.join(dir, 'photos', name, `${i}.jpg`), await picture(label, 100 * label + i));
  }
  writeFileSync(path.join(dir, 'photos', LABELS[0]!, 'notes.txt'), 'not an image: skipped');
  // Multi-label: DIR/images/ and DIR/labels.csv (CRLF and a quoted field, as spreadsheets write them).
  mkdirSync(path.join(dir, 'fridge', 'images'), { recursive: true });
  const rows = ['filename,labels'];
  for (const [s, set] of LABEL_SETS.entries()) {
    for (let i = 0; i < 4; i++) {
      const name = `${s}-${i}.jpg`;
      writeFileSync(
        path.join(dir, 'fridge', 'images', name),
        await picture(i % 2 === 0 ? set : [...set].reverse(), 1000 + 10 * s + i),
      );
      const labels = set.map((label) => LABELS[label]!).join(' ');
      rows.push(i === 0 ? `"${name}",${labels}` : `${name},${labels}`);
    }
  }
  writeFileSync(path.join(dir, 'fridge', 'labels.csv'), `${rows.join('\r\n')}\r\n`);
  writeFileSync(path.join(dir, 'fridge', 'images', 'unlisted.jpg'), await picture(0, 999));
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
    expect(() => stratifiedFolds(labels, 6, 0)).toThrow(
      '6 folds need at least 6 images per label; the smallest label has 5',
    );
    expect(() => stratifiedFolds(labels, 1, 0)).toThrow('folds must be an integer of at least 2, got 1');
  });
});

describe('evaluateFolder', () => {
  let result: SingleLabelFolderEvaluation;

  it('cross-validates the synthetic folder with high accuracy, running the recipe search in every fold', async () => {
    result = singleLabel(
      await evaluateFolder(path.join(dir, 'photos'), { folds: 3, augment: 1, seed: 0, backbone, cacheDir }),
    );
    expect(result.task).toBe('single-label');
    expect(result.labels).toEqual([...LABELS].sort());
    expect(result.imageCount).toBe(18);
    expect(result.perFold.map((f) => f.testCount)).toEqual([6, 6, 6]);
    expect(result.pooled.count).toBe(18);
    expect(result.pooled.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.meanAccuracy).toBeCloseTo(result.perFold.reduce((a, f) => a + f.accuracy, 0) / 3, 10);
    expect(result.pooled.perClass.map((c) => c.support)).toEqual([6, 6, 6]);
    for (const fold of result.perFold) {
      // Both preprocessings, the richer views and test-time mirroring were tried; exactly one candidate won.
      const names = fold.candidates!.map((c) => c.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'centre-crop-0.875, plain + mirror views',
          'squash, plain + mirror views',
          expect.stringMatching(/plain \+ mirror \+ 1 augmented views$/),
          expect.stringMatching(/mirror at test time$/),
        ]),
      );
      expect(fold.candidates!.filter((c) => c.chosen)).toHaveLength(1);
      expect(fold.head).toMatch(/L2 strength/);
    }
  }, 180_000);

  it('runs another fold trainer when given one, on the same folds', async () => {
    const seen: { train: number[]; test: number[] }[] = [];
    const majority = singleLabel(
      await evaluateFolder(path.join(dir, 'photos'), {
        folds: 3,
        seed: 0,
        backbone,
        cacheDir,
        trainer: async ({ folder, trainImages, testImages }) => {
          seen.push({ train: trainImages, test: testImages });
          const C = folder.labels.length;
          return {
            scores: testImages.map(() => Array.from({ length: C }, (_, c) => (c === 0 ? 1 : 0))),
            head: 'first label',
          };
        },
      }),
    );
    expect(majority.perFold.map((f) => f.head)).toEqual(['first label', 'first label', 'first label']);
    expect(majority.pooled.accuracy).toBeCloseTo(1 / 3, 10);
    expect(seen.flatMap((f) => f.test).sort((a, b) => a - b)).toEqual(Array.from({ length: 18 }, (_, i) => i));
    for (const fold of seen) expect(fold.train.length + fold.test.length).toBe(18);
  }, 180_000);

  it('is reproducible and fast from the feature cache', async () => {
    const again = singleLabel(
      await evaluateFolder(path.join(dir, 'photos'), { folds: 3, augment: 1, seed: 0, backbone, cacheDir }),
    );
    // Everything but the candidates' timings.
    const untimed = (r: SingleLabelFolderEvaluation) =>
      r.perFold.map((f) => ({ ...f, candidates: f.candidates?.map(({ seconds: _, ...c }) => c) }));
    expect(untimed(again)).toEqual(untimed(result));
    expect(again.seconds.features).toBeLessThan(result.seconds.features);
  }, 180_000);

  it('icf eval prints the summary and JSON, and rejects bad options', async () => {
    const out = capturedOutput();
    const err = capturedOutput();
    expect(await run(['eval', path.join(dir, 'photos'), '--folds', '3', '--seed', '1'], out.stream, err.stream)).toBe(
      0,
    );
    expect(out.text()).toMatch(/18 images, 3 labels, 3-fold stratified CV, seed 1/);
    expect(out.text()).toMatch(/accuracy: \d+\.\d% ± \d+\.\d% \(mean ± sample std over folds\); pooled/);
    expect(out.text()).toMatch(/red-stripes\s+\d\.\d{3}/);
    expect(err.text()).toMatch(/fold 3\/3/);

    const json = capturedOutput();
    expect(
      await run(
        ['eval', path.join(dir, 'photos'), '--folds=3', '--json', '--resize', 'centre-crop', '--no-tta'],
        json.stream,
        capturedOutput().stream,
      ),
    ).toBe(0);
    const parsed = singleLabel(JSON.parse(json.text()) as FolderEvaluation);
    expect(parsed.folds).toBe(3);
    expect(parsed.augment).toBe(2);
    for (const fold of parsed.perFold)
      expect(fold.candidates!.every((c) => c.name.startsWith('centre-crop') && !c.name.includes('at test time'))).toBe(
        true,
      );
    expect(parsed.pooled.accuracy).toBeGreaterThanOrEqual(0.9);

    const bad = capturedOutput();
    expect(await run(['eval', path.join(dir, 'photos'), '--folds', 'x'], capturedOutput().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/--folds must be a number, got "x"/);
    expect(await run(['eval', path.join(dir, 'photos'), '--folds', '7'], capturedOutput().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/7 folds need at least 7 images per label; the smallest label has 6/);
    expect(await run(['eval', path.join(dir, 'nowhere')], capturedOutput().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/nowhere does not exist/);
    expect(
      await run(['eval', path.join(dir, 'photos'), '--weight-decay', '0.01'], capturedOutput().stream, bad.stream),
    ).toBe(2);
    expect(bad.text()).toMatch(
      /--weight-decay was an option of the previous trainer \(the Adam head\), which is retired: every fold runs the trainer's recipe search/,
    );
    expect(await run(['eval', path.join(dir, 'photos'), '--solver=adam'], capturedOutput().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/--solver was an option of the previous trainer/);
    expect(
      await run(['eval', path.join(dir, 'photos'), '--resize', 'stretch'], capturedOutput().stream, bad.stream),
    ).toBe(2);
    expect(bad.text()).toMatch(/--resize must be centre-crop or squash, got "stretch"/);
    expect(await run(['eval', path.join(dir, 'photos'), '--bogus'], capturedOutput().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/unknown option --bogus for eval/);
  }, 180_000);
});

describe('multiLabelFolds', () => {
  it('keeps fold sizes within one and puts every label with >= k images in every fold, deterministically', () => {
    for (let trial = 0; trial < 300; trial++) {
      const random = seededRandom(trial);
      const n = 10 + Math.floor(random() * 80);
      const C = 2 + Math.floor(random() * 6);
      const k = 2 + Math.floor(random() * 4);
      const prevalence = Array.from({ length: C }, () => 0.05 + random() * 0.6);
      const sets = Array.from({ length: n }, () => {
        const set = prevalence.flatMap((p, c) => (random() < p ? [c] : []));
        return set.length > 0 ? set : [Math.floor(random() * C)];
      });
      const counts = Array.from({ length: C }, (_, c) => sets.filter((set) => set.includes(c)).length);
      const present = counts.filter((count) => count > 0);
      if (Math.min(...present) < k) {
        expect(() => multiLabelFolds(sets, k, trial)).toThrow(
          `${k} folds need at least ${k} images per label; the smallest label has ${Math.min(...present)}`,
        );
        continue;
      }
      const folds = multiLabelFolds(sets, k, trial);
      expect(multiLabelFolds(sets, k, trial)).toEqual(folds);
      const sizes = Array.from({ length: k }, (_, f) => folds.filter((fold) => fold === f).length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      for (let c = 0; c < C; c++) {
        if (counts[c]! < k) continue;
        for (let f = 0; f < k; f++)
          expect(
            sets.some((set, i) => folds[i] === f && set.includes(c)),
            `trial ${trial}: label ${c} in fold ${f}`,
          ).toBe(true);
      }
    }
  });

  it('names the label that is too small', () => {
    expect(() => multiLabelFolds([[0, 1], [0], [0, 1]], 3, 0, ['can', 'carton'])).toThrow(
      '3 folds need at least 3 images per label; the smallest label (carton) has 2',
    );
    expect(() => multiLabelFolds([[0], [1]], 1, 0)).toThrow('folds must be an integer of at least 2, got 1');
  });
});

describe('evaluateFolder on a multi-label folder', () => {
  it('cross-validates a sigmoid head: per-fold and pooled mAP well above chance', async () => {
    const progress: string[] = [];
    const result = multiLabel(
      await evaluateFolder(path.join(dir, 'fridge'), {
        folds: 3,
        seed: 0,
        backbone,
        cacheDir,
        onProgress: (m) => progress.push(m),
      }),
    );
    expect(result.labels).toEqual([...LABELS].sort());
    expect(result.imageCount).toBe(24);
    expect(result.unlisted).toEqual(['unlisted.jpg']);
    expect(
      progress.some((m) =>
        m.includes('left out 1 entry of images/ that labels.csv does not list: images/unlisted.jpg'),
      ),
    ).toBe(true);
    expect(result.perFold.map((f) => f.testCount)).toEqual([8, 8, 8]);
    for (const f of result.perFold) {
      expect(f.threshold).toBeGreaterThan(0);
      expect(f.threshold).toBeLessThan(1);
      expect(f.mAP).toBeGreaterThan(0.8);
    }
    expect(result.meanMAP).toBeCloseTo(result.perFold.reduce((a, f) => a + f.mAP, 0) / 3, 10);
    const p = result.pooled;
    expect(p.count).toBe(24);
    expect(p.perLabel.map((l) => l.support)).toEqual([12, 12, 12]);
    // Chance: AP ≈ prevalence, 0.5 here.
    expect(p.mAP).toBeGreaterThan(0.9);
    expect(p.hammingAccuracy).toBeGreaterThan(0.8);
    expect(p.exactMatch).toBeGreaterThan(0.5);
    expect(p.macro.f1).toBeCloseTo(p.perLabel.reduce((a, l) => a + l.f1, 0) / 3, 10);
  }, 180_000);

  it('icf eval prints the per-label table, and refuses too many folds', async () => {
    const out = capturedOutput();
    expect(await run(['eval', path.join(dir, 'fridge'), '--folds', '3'], out.stream, capturedOutput().stream)).toBe(0);
    const text = out.text();
    expect(text).toMatch(
      /^24 images, 3 labels \(multi-label, labels\.csv\), 3-fold iteratively stratified CV, seed 0, the recipe search in every fold \(nested CV\)\n/,
    );
    expect(text).toMatch(/left out: 1 entry of images\/ not listed in labels\.csv/);
    expect(text).toMatch(
      /fold 3: mAP \d\.\d{3}, exact match \d+\.\d% of 8 \(threshold \d\.\d\d, [^)]*L2 strength [^)]*\)/,
    );
    expect(text).toMatch(/mAP: \d\.\d{3} pooled; \d\.\d{3} ± \d\.\d{3} \(mean ± sample std over folds\)/);
    expect(text).toMatch(
      /exact match: \d+\.\d% pooled \(\d+\/24\); \d+\.\d% ± \d+\.\d% over folds; Hamming accuracy \d+\.\d%/,
    );
    expect(text).toMatch(/label\s+AP\s+precision\s+recall\s+f1\s+support/);
    expect(text).toMatch(/green-checks\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+12\n/);
    expect(text).toMatch(/macro\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+24\n$/);

    const json = capturedOutput();
    expect(
      await run(['eval', path.join(dir, 'fridge'), '--folds', '3', '--json'], json.stream, capturedOutput().stream),
    ).toBe(0);
    const parsed = multiLabel(JSON.parse(json.text()) as FolderEvaluation);
    expect(parsed.pooled.perLabel.map((l) => l.label)).toEqual([...LABELS].sort());

    const bad = capturedOutput();
    expect(await run(['eval', path.join(dir, 'fridge'), '--folds', '13'], capturedOutput().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/13 folds need at least 13 images per label; the smallest label \(blue-rings\) has 12/);
  }, 180_000);

  it('names the line of a bad labels.csv', async () => {
    const broken = path.join(dir, 'broken');
    mkdirSync(path.join(broken, 'images'), { recursive: true });
    writeFileSync(path.join(broken, 'labels.csv'), 'filename,labels\n1.jpg,can\n2.jpg,x/y\n');
    const bad = capturedOutput();
    expect(await run(['eval', broken], capturedOutput().stream, bad.stream)).toBe(2);
    expect(bad.text()).toMatch(/^icf: labels\.csv line 3: label "x\/y" is invalid/);
  });
});
