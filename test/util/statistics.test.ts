// Summary statistics and the seeded shuffle, against values worked out by hand.
import { describe, expect, it } from 'vitest';

import { argmax } from '../../src/util/argmax';
import { seededRandom } from '../../src/util/seededRandom';
import { shuffle } from '../../src/util/shuffle';
import { mean, median, percentile } from '../../src/util/statistics';

describe('statistics', () => {
  it('mean and median, odd and even counts, unsorted input left as it was', () => {
    const values = [5, 1, 4, 2];
    expect(mean(values)).toBe(3);
    expect(median(values)).toBe(3);
    expect(median([7, 3, 9])).toBe(7);
    expect(values).toEqual([5, 1, 4, 2]);
  });

  it('nearest-rank percentiles without interpolation', () => {
    const values = [10, 40, 20, 30];
    expect(percentile(values, 0)).toBe(10);
    expect(percentile(values, 50)).toBe(30);
    expect(percentile(values, 99)).toBe(40);
    expect(percentile(values, 100)).toBe(40);
    expect(() => percentile(values, 101)).toThrow(/percent must be a number from 0 to 100, got 101/);
    expect(() => percentile(values, Number.NaN)).toThrow(RangeError);
  });

  it('NaN for an empty list', () => {
    expect(mean([])).toBeNaN();
    expect(median([])).toBeNaN();
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('argmax', () => {
  it('the first of equal maxima', () => {
    expect(argmax([0.1, 0.7, 0.2])).toBe(1);
    expect(argmax(Float32Array.of(3, 5, 5))).toBe(1);
  });
});

describe('shuffle', () => {
  it('permutes in place, the same way for the same seed', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const b = [...a];
    expect(shuffle(a, seededRandom(7))).toBe(a);
    shuffle(b, seededRandom(7));
    expect(a).toEqual(b);
    expect(a).not.toEqual([...a].sort((x, y) => x - y));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
