import { describe, expect, it } from 'vitest';

import {
  assessLearningCurve,
  learningCurveShares,
  stratifiedSubset,
  wilsonHalfWidth,
} from '../../src/train/learningCurve';

/** Label → indices: 100 images of a, 50 of b, 7 of c, 1 of d, interleaved as a dataset listing would have them. */
function byLabel(): Record<string, number[]> {
  const sizes: Record<string, number> = { a: 100, b: 50, c: 7, d: 1 };
  const result: Record<string, number[]> = { a: [], b: [], c: [], d: [] };
  let next = 0;
  for (let round = 0; round < 100; round++) {
    for (const label of Object.keys(sizes)) if (round < sizes[label]!) result[label]!.push(next++);
  }
  return result;
}

describe('learningCurveShares', () => {
  it('is 10 % to 100 % in exact tenths', () => {
    expect(learningCurveShares()).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  });
});

describe('stratifiedSubset', () => {
  it('takes the same share of every label, at least one each', () => {
    const labels = byLabel();
    const subset = new Set(stratifiedSubset(labels, 0.2, 42));
    const taken = Object.fromEntries(
      Object.entries(labels).map(([label, indices]) => [label, indices.filter((i) => subset.has(i)).length]),
    );
    // round(0.2·100) = 20, round(0.2·50) = 10, round(0.2·7 = 1.4) = 1, round(0.2·1) = 0 → raised to 1.
    expect(taken).toEqual({ a: 20, b: 10, c: 1, d: 1 });
    expect(subset.size).toBe(32);
    expect(stratifiedSubset(labels, 1, 42)).toEqual(
      Object.values(labels)
        .flat()
        .sort((x, y) => x - y),
    );
  });

  it('is nested: every share contains the smaller ones', () => {
    const labels = byLabel();
    let previous: number[] = [];
    for (const share of learningCurveShares()) {
      const subset = stratifiedSubset(labels, share, 7);
      const members = new Set(subset);
      expect(previous.every((i) => members.has(i))).toBe(true);
      expect(subset.length).toBeGreaterThan(previous.length);
      expect(subset).toEqual([...subset].sort((x, y) => x - y));
      previous = subset;
    }
  });

  it('depends only on the seed and the index sets', () => {
    const labels = byLabel();
    const first = stratifiedSubset(labels, 0.3, 123);
    expect(stratifiedSubset(labels, 0.3, 123)).toEqual(first);
    // Same sets listed in another order: same subset.
    const reordered = Object.fromEntries(
      Object.entries(labels)
        .reverse()
        .map(([label, indices]) => [label, [...indices].reverse()]),
    );
    expect(stratifiedSubset(reordered, 0.3, 123)).toEqual(first);
    // Another seed: another subset of the same size.
    const other = stratifiedSubset(labels, 0.3, 124);
    expect(other).not.toEqual(first);
    expect(other.length).toBe(first.length);
    // A random pick, not the first indices of each label.
    expect(first.filter((i) => labels.a!.includes(i))).not.toEqual(labels.a!.slice(0, 30));
    // Adding a label leaves the others' picks alone.
    const more = stratifiedSubset({ ...labels, e: [1000, 1001, 1002] }, 0.3, 123);
    expect(more.filter((i) => i < 1000)).toEqual(first);
  });

  it('accepts index arrays per class index', () => {
    const subset = stratifiedSubset([[0, 2, 4, 6, 8, 10, 12, 14, 16, 18], [1, 3, 5, 7, 9], []], 0.4, 1);
    expect(subset.filter((i) => i % 2 === 0)).toHaveLength(4);
    expect(subset.filter((i) => i % 2 === 1)).toHaveLength(2);
  });

  it('rejects bad arguments by name', () => {
    expect(() => stratifiedSubset(byLabel(), 0, 1)).toThrow(/share must be in \(0, 1\]/);
    expect(() => stratifiedSubset(byLabel(), 1.5, 1)).toThrow(RangeError);
    expect(() => stratifiedSubset(byLabel(), 0.5, 1.5)).toThrow(/seed must be an integer/);
    expect(() => stratifiedSubset({ a: [1, -2] }, 0.5, 1)).toThrow(
      /indicesByLabel\[a\]\[1\] must be a non-negative integer/,
    );
  });
});

const sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => i * 100);

describe('assessLearningCurve', () => {
  it('calls a flat curve converged', () => {
    const result = assessLearningCurve(sizes.map((n) => ({ trainingImages: n, accuracy: 0.9 })));
    expect(result).toMatchObject({ converged: true, gainPerDoubling: 0, slopePer10Percent: 0, pointsFitted: 6 });
    expect(result.verdict).toMatch(/^Accuracy has converged at about 90\.0%/);
    expect(result.verdict).toMatch(/unlikely to help/);
  });

  it('calls a curve that flattens out (a power law near its ceiling) converged', () => {
    // 0.95 − 0.3/√n: from 500 to 1000 images it gains 0.3·(1/√500 − 1/√1000) ≈ 0.0039, well under 1 point per doubling.
    const result = assessLearningCurve(sizes.map((n) => ({ trainingImages: n, accuracy: 0.95 - 0.3 / Math.sqrt(n) })));
    expect(result.converged).toBe(true);
    expect(result.gainPerDoubling).toBeGreaterThan(0.003);
    expect(result.gainPerDoubling).toBeLessThan(0.005);
    expect(result.verdict).toMatch(/gained only \+0\.4 points per doubling/);
  });

  it('measures a curve still rising on the log scale and extrapolates one doubling', () => {
    // Exactly +5 points per doubling: 0.5 + 0.05·log2(n/100); at 1000 images 0.5 + 0.05·3.3219 = 0.6661.
    const result = assessLearningCurve(
      sizes.map((n) => ({ trainingImages: n, accuracy: 0.5 + 0.05 * Math.log2(n / 100) })),
    );
    expect(result.converged).toBe(false);
    expect(result.gainPerDoubling).toBeCloseTo(0.05, 10);
    // 10 % more images is log2(1.1) = 0.1375 of a doubling.
    expect(result.slopePer10Percent).toBeCloseTo(0.05 * Math.log2(1.1), 10);
    expect(result.gainUncertainty).toBeCloseTo(0, 10);
    expect(result.verdict).toBe(
      'Accuracy is still rising, by about +5.0 points each time the training images double (over the last 6 sizes, ' +
        '500 to 1000 images): doubling to about 2000 images would likely take it from 66.6% to about 71.6%.',
    );
  });

  it('says a noisy flat curve is converged but that the estimate is rough', () => {
    const noise = [0.012, -0.015, 0.009, -0.011, 0.014, -0.013, 0.016, -0.012, 0.01, -0.014];
    const result = assessLearningCurve(sizes.map((n, i) => ({ trainingImages: n, accuracy: 0.85 + noise[i]! })));
    expect(result.converged).toBe(true);
    expect(result.gainUncertainty).toBeGreaterThan(0.01);
    expect(result.verdict).toMatch(/scatter by about ±1\.\d points/);
    expect(result.verdict).toMatch(/likely between -\d\.\d points and \+\d\.\d points/);
  });

  it('quotes the accuracy measured at the largest size, which the plot and the model show, not the fitted line', () => {
    // The line through the last 6 noisy points sits near 85.0% at 1000 images; what was measured there is 83.6%.
    const noise = [0.012, -0.015, 0.009, -0.011, 0.014, -0.013, 0.016, -0.012, 0.01, -0.014];
    const flat = assessLearningCurve(sizes.map((n, i) => ({ trainingImages: n, accuracy: 0.85 + noise[i]! })));
    expect(flat.verdict).toMatch(/^Accuracy has converged at about 83\.6%/);
    const rising = [0.008, -0.01, 0.006, -0.008, 0.01, -0.009, 0.011, -0.008, 0.007, -0.01];
    const points = sizes.map((n, i) => ({ trainingImages: n, accuracy: 0.6 + 0.06 * Math.log2(n / 100) + rising[i]! }));
    const result = assessLearningCurve(points);
    const measured = points.at(-1)!.accuracy;
    expect(result.verdict).toContain(`from ${(measured * 100).toFixed(1)}% to about `);
    expect(result.verdict).toContain(`to about ${((measured + result.gainPerDoubling) * 100).toFixed(1)}%.`);
  });

  it('sees through noise when the rise is clear', () => {
    const noise = [0.008, -0.01, 0.006, -0.008, 0.01, -0.009, 0.011, -0.008, 0.007, -0.01];
    const result = assessLearningCurve(
      sizes.map((n, i) => ({ trainingImages: n, accuracy: 0.6 + 0.06 * Math.log2(n / 100) + noise[i]! })),
    );
    expect(result.converged).toBe(false);
    expect(result.gainPerDoubling).toBeGreaterThan(0.04);
    expect(result.gainPerDoubling).toBeLessThan(0.08);
    expect(result.verdict).toMatch(/still rising/);
  });

  it('adds what the training accuracy says', () => {
    const flat = sizes.map((n) => ({ trainingImages: n, accuracy: 0.8, trainAccuracy: 0.81 }));
    expect(assessLearningCurve(flat).verdict).toMatch(/the model, not the amount of data, limits accuracy/);
    const overfit = sizes.map((n) => ({ trainingImages: n, accuracy: 0.8, trainAccuracy: 0.99 }));
    expect(assessLearningCurve(overfit).verdict).toMatch(/overfits/);
  });

  it('works from two sizes in any order, and needs at least two', () => {
    const result = assessLearningCurve([
      { trainingImages: 400, accuracy: 0.8 },
      { trainingImages: 200, accuracy: 0.7 },
    ]);
    expect(result.gainPerDoubling).toBeCloseTo(0.1, 12);
    expect(result.gainUncertainty).toBeNull();
    expect(result.pointsFitted).toBe(2);
    expect(() => assessLearningCurve([{ trainingImages: 100, accuracy: 0.5 }])).toThrow(/two or more training sizes/);
    expect(() =>
      assessLearningCurve([
        { trainingImages: 100, accuracy: 1.2 },
        { trainingImages: 200, accuracy: 0.5 },
      ]),
    ).toThrow(/points\[0\]\.accuracy must be in \[0, 1\]/);
    expect(() =>
      assessLearningCurve([
        { trainingImages: 0, accuracy: 0.2 },
        { trainingImages: 200, accuracy: 0.5 },
      ]),
    ).toThrow(/points\[0\]\.trainingImages must be a positive number/);
  });
});

describe('wilsonHalfWidth', () => {
  it('is the 95 % Wilson score interval, wider than the normal approximation at small n and near 100 %', () => {
    // 25 of 26: (z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n) = 0.0911; the normal approximation would say 0.0739.
    expect(wilsonHalfWidth(25 / 26, 26)).toBeCloseTo(0.0911, 4);
    // 13 of 26: 0.1794 (normal: 0.1922; Wilson is narrower in the middle at small n).
    expect(wilsonHalfWidth(0.5, 26)).toBeCloseTo(0.1794, 4);
    // 100 % right is not ±0: 26 of 26 still leaves 6.4 points of doubt.
    expect(wilsonHalfWidth(1, 26)).toBeCloseTo(0.0644, 4);
    // Large n: close to 1.96·√(p(1−p)/n).
    expect(wilsonHalfWidth(0.9, 5000)).toBeCloseTo(1.959964 * Math.sqrt(0.09 / 5000), 4);
  });
});

describe("assessLearningCurve with the test set's size", () => {
  /** A curve measured on `n` test images: each point a whole number of them right. */
  const measured = (n: number, accuracyAt: (images: number) => number) =>
    sizes.map((images) => ({ trainingImages: images, accuracy: Math.round(accuracyAt(images) * n) / n }));

  it('says a near-flat curve on 26 test images cannot tell, instead of calling it converged', () => {
    // The demo's case: 24, then 25 of 26 right; the fit makes a rise of one image (3.8 points) a trend.
    const points = measured(26, (images) => (images < 700 ? 24 / 26 : 25 / 26));
    const result = assessLearningCurve(points, { testImages: 26 });
    expect(result.converged).toBe(false);
    expect(result.tooFewTestImages).toBe(true);
    expect(result.testImages).toBe(26);
    expect(result.testInterval).toBeCloseTo(wilsonHalfWidth(25 / 26, 26), 12);
    expect(result.verdict).toMatch(/^Too few test images to tell whether more training images would help /);
    expect(result.verdict).toContain('(±9.1 points at 95% over 26 test images)');
    expect(result.verdict).toMatch(
      /its change of \+\d\.\d points per doubling over the last 6 sizes, 500 to 1000 images, is within that\.$/,
    );
    expect(result.verdict).toContain(': accuracy is about 96.2%, and');
    expect(result.verdict).not.toMatch(/converged|likely between/);
    // The same points without the test set's size: one more image right reads as a trend.
    expect(assessLearningCurve(points).verdict).toMatch(/^Accuracy is still rising, by about \+[45]\.\d points/);
  });

  it('says so for a perfectly flat curve on a small test set, and for a small rise', () => {
    const flat = assessLearningCurve(
      measured(40, () => 0.9),
      { testImages: 40 },
    );
    expect(flat).toMatchObject({ converged: false, tooFewTestImages: true, gainPerDoubling: 0 });
    expect(flat.verdict).toMatch(/^Too few test images to tell .*\(±\d+\.\d points at 95% over 40 test images\)/);
    // +3 points per doubling, but each point is good to ±9: not a trend 40 test images can show.
    const rising = assessLearningCurve(
      measured(40, (images) => 0.8 + 0.03 * Math.log2(images / 100)),
      { testImages: 40 },
    );
    expect(rising.tooFewTestImages).toBe(true);
    expect(rising.converged).toBe(false);
    expect(rising.verdict).toMatch(/^Too few test images to tell/);
  });

  it('states a real trend on a large test set with its uncertainty', () => {
    // +5 points per doubling on 5000 test images, each point good to ±1.2 points.
    const points = measured(5000, (images) => 0.5 + 0.05 * Math.log2(images / 100));
    const result = assessLearningCurve(points, { testImages: 5000 });
    expect(result.converged).toBe(false);
    expect(result.tooFewTestImages).toBe(false);
    expect(result.testInterval).toBeCloseTo(wilsonHalfWidth(points.at(-1)!.accuracy, 5000), 12);
    expect(result.testInterval).toBeLessThan(0.014);
    expect(result.verdict).toBe(
      'Accuracy is still rising, by about +5.0 points each time the training images double (over the last 6 sizes, ' +
        '500 to 1000 images; ±1.3 points at 95% over 5000 test images): doubling to about 2000 images would likely ' +
        'take it from 66.6% to about 71.6%.',
    );
  });

  it('calls a flat curve on a large test set converged, and says how finely it was measured', () => {
    const flat = assessLearningCurve(
      measured(20_000, () => 0.9),
      { testImages: 20_000 },
    );
    expect(flat).toMatchObject({ converged: true, tooFewTestImages: false });
    expect(flat.verdict).toMatch(
      /^Accuracy has converged at about 90\.0%: it did not rise over the last 6 sizes, 500 to 1000 images \(\+0\.0 points per doubling; ±0\.4 points at 95% over 20000 test images\), so more images/,
    );
    // A small but clear gain, +0.5 points per doubling on 50000 images (±0.3): converged, with the figure.
    const slow = assessLearningCurve(
      measured(50_000, (images) => 0.9 + 0.005 * Math.log2(images / 100)),
      { testImages: 50_000 },
    );
    expect(slow.converged).toBe(true);
    expect(slow.verdict).toMatch(
      /gained only \+0\.5 points per doubling of the data \(±0\.\d points at 95% over 50000 test images\), so twice/,
    );
  });

  it('takes a mAP curve too, and rejects a test set that is not a positive whole number', () => {
    const result = assessLearningCurve(
      measured(30, () => 0.7),
      { testImages: 30, metric: 'mAP' },
    );
    expect(result.verdict).toMatch(/^Too few test images to tell .*: mAP is about 70\.0%, and its change/);
    const points = measured(30, () => 0.7);
    expect(() => assessLearningCurve(points, { testImages: 0 })).toThrow(/testImages must be a positive integer/);
    expect(() => assessLearningCurve(points, { testImages: 2.5 })).toThrow(RangeError);
  });
});
