// The augmentation policy: validation over the defaults, and deterministic draws within it.
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../src/errors';
import { DEFAULT_AUGMENTATION, parseAugmentationPolicy, sampleAugmentation } from '../../src/train/augment';

describe('augmentation policy', () => {
  it('fills defaults and names bad fields', () => {
    expect(parseAugmentationPolicy({})).toEqual(DEFAULT_AUGMENTATION);
    expect(parseAugmentationPolicy({ verticalFlip: true, maxRotationDeg: 0 })).toMatchObject({
      verticalFlip: true,
      maxRotationDeg: 0,
      maxZoom: 1.1,
    });
    expect(() => parseAugmentationPolicy({ maxZoom: 0.5 })).toThrow(InvalidArgumentError);
    expect(() => parseAugmentationPolicy({ maxZoom: 0.5 })).toThrow(/maxZoom/);
    expect(() => parseAugmentationPolicy({ shear: 3 })).toThrow(/shear|unrecognized/i);
  });

  it('draws augmentations within the policy, the same for the same seed', () => {
    for (let seed = 0; seed < 200; seed++) {
      const a = sampleAugmentation(DEFAULT_AUGMENTATION, seed);
      expect(a).toEqual(sampleAugmentation(DEFAULT_AUGMENTATION, seed));
      expect(a.flipVertical).toBe(false);
      expect(Math.abs(a.rotationDeg)).toBeLessThanOrEqual(10);
      expect(a.zoom).toBeGreaterThanOrEqual(1);
      expect(a.zoom).toBeLessThanOrEqual(1.1);
      expect(a.brightness).toBeGreaterThanOrEqual(0.8);
      expect(a.contrast).toBeLessThanOrEqual(1.2);
    }
    const flips = Array.from(
      { length: 200 },
      (_, seed) => sampleAugmentation(DEFAULT_AUGMENTATION, seed).flipHorizontal,
    ).filter(Boolean).length;
    expect(flips).toBeGreaterThan(70);
    expect(flips).toBeLessThan(130);
  });
});
