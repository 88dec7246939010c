import { describe, expect, it } from 'vitest';

import { assessLearningCurve, learningCurveShares, stratifiedSubset } from '../../src/train/learningCurve';

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
