import { describe, expect, it } from 'vitest';

import { chooseSplit, desiredTestCount, type LabelCounts } from '../../src/dataset/split';
import { seededRandom } from '../../src/util/seededRandom';

describe('desiredTestCount', () => {
  it('is zero for one image and at least one from two images on', () => {
    expect(desiredTestCount(0, 0.2)).toBe(0);
    expect(desiredTestCount(1, 0.2)).toBe(0);
    expect(desiredTestCount(2, 0.2)).toBe(1);
    expect(desiredTestCount(2, 0.05)).toBe(1);
  });

  it('follows the rounded fraction and never jumps by more than one', () => {
    for (const fraction of [0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5]) {
      let previous = 0;
      for (let n = 0; n <= 500; n++) {
        const count = desiredTestCount(n, fraction);
        expect(count - previous).toBeGreaterThanOrEqual(0);
        expect(count - previous).toBeLessThanOrEqual(1);
        if (n >= 2) {
          expect(count).toBeGreaterThanOrEqual(1);
          expect(count).toBeLessThanOrEqual(n - 1);
          expect(Math.abs(count - n * fraction)).toBeLessThanOrEqual(Math.max(0.5, 1 - n * fraction) + 1e-9);
        }
        previous = count;
      }
    }
  });
});

describe('chooseSplit', () => {
  it('hits the target exactly after every image when assigned one at a time', () => {
    const counts: LabelCounts = { train: 0, test: 0 };
    for (let n = 1; n <= 200; n++) {
      counts[chooseSplit([counts], 0.2).split] += 1;
      expect(counts.test).toBe(desiredTestCount(n, 0.2));
    }
  });

  it("sends grouped images to their neighbour's side, and later images pay back the imbalance", () => {
    const counts: LabelCounts = { train: 0, test: 0 };
    for (let n = 0; n < 10; n++) counts[chooseSplit([counts], 0.2).split] += 1;
    expect(counts).toEqual({ train: 8, test: 2 });
    for (let n = 0; n < 3; n++) {
      const decision = chooseSplit([counts], 0.2, 'test');
      expect(decision).toEqual({ split: 'test', rule: 'group' });
      counts.test += 1;
    }
    // 13 images, 5 test (target 3): the next free images go to train until the share is back.
    while (counts.test > desiredTestCount(counts.train + counts.test, 0.2)) {
      const decision = chooseSplit([counts], 0.2);
      expect(decision).toEqual({ split: 'train', rule: 'quota' });
      counts.train += 1;
    }
    expect(counts.test).toBe(desiredTestCount(counts.train + counts.test, 0.2));
  });

  it('tests every label of multi-label images and keeps each label near its share', () => {
    // Four labels in overlapping sets; "rare" only ever comes with common labels already at their target.
    const random = seededRandom(3);
    const counts: Record<string, LabelCounts> = {};
    const chance: Record<string, number> = { shelf: 0.7, carton: 0.5, can: 0.3, rare: 0.03 };
    for (let n = 0; n < 400; n++) {
      const labels = Object.keys(chance).filter((label) => random() < chance[label]!);
      if (labels.length === 0) labels.push('shelf');
      const split = chooseSplit(
        labels.map((label) => (counts[label] ??= { train: 0, test: 0 })),
        0.2,
      ).split;
      for (const label of labels) counts[label]![split] += 1;
    }
    expect(counts['rare']!.train + counts['rare']!.test).toBeGreaterThanOrEqual(2);
    for (const [label, { train, test }] of Object.entries(counts)) {
      expect(test, label).toBeGreaterThanOrEqual(1);
      expect(train, label).toBeGreaterThanOrEqual(1);
      if (train + test >= 50) expect(Math.abs(test / (train + test) - 0.2), label).toBeLessThan(0.05);
    }
  });
});
