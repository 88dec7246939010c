// The recipe search on synthetic features (no backbone): it keeps the textbook candidate unless another scores
// higher inside the training split, lists every candidate with its inner-CV score, honours its time budget and the
// policy, chooses per-label strengths and a threshold for multi-label heads, and says when there is too little data.
import { describe, expect, it } from 'vitest';

import { beatsClearly, type FeatureSource, type ViewSet } from '../../src/train/recipe';
import { searchRecipe, type SearchStep } from '../../src/train/recipeSearch';
import { seededRandom } from '../../src/util/seededRandom';

const D = 16;

/** Per image, a feature vector: class-dependent when `informative`, else noise alone; views add a little noise. */
function features(
  labelSets: readonly (readonly number[])[],
  seed: number,
  informative: (views: ViewSet) => boolean,
): FeatureSource {
  return async (views) => {
    const random = seededRandom(seed);
    const signal = informative(views);
    return labelSets.map((set) => {
      const base = Float32Array.from({ length: D }, (_, d) => (signal && set.includes(d % 4) ? 1.5 : 0) + random());
      const count = 1 + (views.mirror ? 1 : 0) + views.augmentedViews;
      return Array.from({ length: count }, (_, v) => (v === 0 ? base : base.map((x) => x + (random() - 0.5) * 0.2)));
    });
  };
}

const single = (n: number, C: number) => Array.from({ length: n }, (_, i) => [i % C]);

describe('searchRecipe', () => {
  it('keeps the centre crop when squash is no better, and lists every candidate', async () => {
    const labelSets = single(60, 3);
    const result = await searchRecipe({
      labelSets,
      classCount: 3,
      kind: 'softmax',
      features: features(labelSets, 1, () => true),
      augmentedViews: 1,
    });
    expect(result.recipe.resize.mode).toBe('centre-crop');
    expect(result.innerFolds).toBe(5);
    expect(result.candidates.map((c) => c.name)).toEqual([
      'centre-crop-0.875, plain + mirror views',
      'centre-crop-0.875, plain + mirror views, mirror at test time',
      'squash, plain + mirror views',
      'squash, plain + mirror views, mirror at test time',
      'centre-crop-0.875, plain views',
      'centre-crop-0.875, plain views, mirror at test time',
      'centre-crop-0.875, plain + mirror + 1 augmented views',
      'centre-crop-0.875, plain + mirror + 1 augmented views, mirror at test time',
    ]);
    expect(result.candidates.filter((c) => c.chosen)).toHaveLength(1);
    for (const c of result.candidates) expect(c.score).toBeGreaterThan(0.9);
    expect(result.head.weights).toHaveLength(D * 3);
    expect(result.finalFit.converged).toBe(true);
    expect(result.skipped).toEqual([]);
  });

  it('chooses squash when only its features carry the classes', async () => {
    const labelSets = single(60, 3);
    const result = await searchRecipe({
      labelSets,
      classCount: 3,
      kind: 'softmax',
      features: features(labelSets, 2, (v) => v.resize.mode === 'squash'),
      augmentedViews: 0,
    });
    expect(result.recipe.resize.mode).toBe('squash');
    const [crop, , squash] = result.candidates;
    expect(crop!.name).toBe('centre-crop-0.875, plain + mirror views');
    expect(crop!.score).toBeLessThan(0.6);
    expect(squash!.name).toBe('squash, plain + mirror views');
    expect(squash!.score).toBeGreaterThan(0.9);
  });

  it('skips what would overrun its budget, and mirror views when the policy forbids flips', async () => {
    const labelSets = single(30, 3);
    const result = await searchRecipe({
      labelSets,
      classCount: 3,
      kind: 'softmax',
      features: features(labelSets, 3, () => true),
      budgetInMs: 0,
      allowMirror: false,
    });
    expect(result.candidates.map((c) => c.name)).toEqual(['centre-crop-0.875, plain views']);
    expect(result.skipped).toEqual([
      'mirror views and test-time mirroring: the augmentation policy has horizontalFlip off',
      expect.stringMatching(
        /^squash, plain views: 30 new views and its training \(about \d+ s\) would overrun the 0 s budget$/,
      ),
      expect.stringMatching(
        /^centre-crop-0\.875, plain \+ 2 augmented views: 60 new views and its training \(about \d+ s\) would overrun the 0 s budget$/,
      ),
    ]);
    expect(result.recipe).toMatchObject({ mirror: false, augmentedViews: 0, testTimeMirror: false });
  });

  it('always tries a candidate that needs no new views, and says where it is before each candidate', async () => {
    const labelSets = single(30, 3);
    const steps: SearchStep[] = [];
    const result = await searchRecipe({
      labelSets,
      classCount: 3,
      kind: 'softmax',
      features: features(labelSets, 3, () => true),
      budgetInMs: 0,
      onStep: (step) => steps.push(step),
    });
    // Plain views alone reuse the first candidate's views and train on fewer rows: within any budget.
    expect(result.candidates.map((c) => c.name)).toEqual([
      'centre-crop-0.875, plain + mirror views',
      'centre-crop-0.875, plain + mirror views, mirror at test time',
      'centre-crop-0.875, plain views',
      'centre-crop-0.875, plain views, mirror at test time',
    ]);
    expect(result.skipped).toEqual([
      expect.stringMatching(/^squash, plain \+ mirror views: 60 new views and its training/),
      expect.stringMatching(/^centre-crop-0\.875, plain \+ mirror \+ 2 augmented views: 60 new views/),
    ]);
    // Test-time mirroring is never chosen for a head trained without mirror views.
    expect(result.recipe.mirror || !result.recipe.testTimeMirror).toBe(true);
    expect(steps).toEqual([
      { stage: 'search: centre-crop-0.875, plain + mirror views (1/4)', index: 0, count: 4 },
      { stage: 'search: squash, plain + mirror views (2/4)', index: 1, count: 4 },
      { stage: 'search: centre-crop-0.875, plain views (3/4)', index: 2, count: 4 },
      { stage: 'search: centre-crop-0.875, plain + mirror + 2 augmented views (4/4)', index: 3, count: 4 },
      { stage: 'training', index: 4, count: 4 },
    ]);
  });

  it('gives a multi-label head a strength per label and a threshold chosen out of fold', async () => {
    const random = seededRandom(4);
    const labelSets = Array.from({ length: 80 }, () => [0, 1, 2, 3].filter(() => random() < 0.4));
    const result = await searchRecipe({
      labelSets,
      classCount: 4,
      kind: 'sigmoid',
      features: features(labelSets, 5, () => true),
      augmentedViews: 0,
    });
    expect(result.head.kind).toBe('sigmoid');
    expect(result.recipe.strength).toHaveLength(4);
    expect(result.head.threshold).toBeGreaterThan(0);
    expect(result.head.threshold).toBeLessThan(1);
    expect(result.candidates[0]!.score).toBeGreaterThan(0.8); // mAP
  });

  it('says so when a label has too few images to cross-validate', async () => {
    const labelSets = [[0], [0], [0], [1]];
    const result = await searchRecipe({
      labelSets,
      classCount: 2,
      kind: 'softmax',
      features: features(labelSets, 6, () => true),
    });
    expect(result.innerFolds).toBe(0);
    expect(result.candidates).toEqual([]);
    expect(result.skipped[0]).toMatch(/the smallest label has fewer than 2 training images/);
    expect(result.recipe.resize.mode).toBe('centre-crop');
  });

  it('evaluates one fixed candidate alone', async () => {
    const labelSets = single(30, 3);
    const result = await searchRecipe({
      labelSets,
      classCount: 3,
      kind: 'softmax',
      features: features(labelSets, 7, () => true),
      fixed: { resize: { mode: 'squash' }, mirror: true, augmentedViews: 0, testTimeMirror: true },
    });
    expect(result.candidates).toHaveLength(1);
    expect(result.recipe).toMatchObject({ resize: { mode: 'squash' }, mirror: true, testTimeMirror: true });
  });
});

describe('beatsClearly', () => {
  it('needs a gain beyond one paired standard error', () => {
    const base = { score: 0.5, perImage: Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 : 0)) };
    // Four more right answers and two fewer, out of 100: within the noise.
    const slightly = { score: 0.52, perImage: base.perImage.map((v, i) => (i >= 60 && i < 64 ? 1 : i < 2 ? 0 : v)) };
    expect(beatsClearly(slightly, base)).toBe(false);
    // Ten more right, none lost: clear.
    const clearly = { score: 0.6, perImage: base.perImage.map((v, i) => (i >= 50 && i < 60 ? 1 : v)) };
    expect(beatsClearly(clearly, base)).toBe(true);
    // A higher score with the per-image measure no better (multi-label: mAP up, cross-entropy not): no.
    expect(beatsClearly({ score: 0.7, perImage: base.perImage }, base)).toBe(false);
    expect(beatsClearly(base, clearly)).toBe(false);
  });
});
