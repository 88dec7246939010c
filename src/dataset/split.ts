// Train/test assignment: a fixed test set whose per-label share is exact, and near-identical images on one side.

export type Split = 'train' | 'test';

export interface LabelCounts {
  train: number;
  test: number;
}

/**
 * How many of `total` images of a label belong in the test split: the rounded fraction, but at least one
 * once a label has two images, so that every label is tested; it never grows by more than one per image,
 * which is what lets images be assigned one at a time and still hit the target exactly.
 */
export function desiredTestCount(total: number, testFraction: number): number {
  if (total < 2) return 0;
  return Math.min(total - 1, Math.max(1, Math.round(total * testFraction)));
}

export interface SplitDecision {
  split: Split;
  /** 'group': joined a near-identical neighbour's side; 'quota': the per-label target decided. */
  rule: 'group' | 'quota';
}

/**
 * Chooses the side of a new image given the counts so far of each of its labels (one for a single-label image).
 * An image close to an existing one takes that image's side (no leakage between train and test). Otherwise it
 * goes where it brings its labels' test counts nearer their targets in total: for one label that is test exactly
 * when the label falls short, which also pays back any imbalance that grouped images caused; for a multi-label
 * image a rare label short of its first test image outweighs a common label already at its target, so every
 * label gets tested, and a label tested but not yet trained on takes the image for training first.
 */
export function chooseSplit(
  counts: readonly LabelCounts[],
  testFraction: number,
  neighbourSplit?: Split,
): SplitDecision {
  if (neighbourSplit) return { split: neighbourSplit, rule: 'group' };
  let gain = 0;
  let untested = false;
  let untrained = false;
  for (const { train, test } of counts) {
    const target = desiredTestCount(train + test + 1, testFraction);
    gain += Math.abs(test - target) - Math.abs(test + 1 - target);
    if (test === 0 && target > 0) untested = true;
    if (train === 0 && test > 0) untrained = true;
  }
  // A label with no training image cannot be learned at all, which is worse than one that cannot be measured.
  if (untrained) return { split: 'train', rule: 'quota' };
  return { split: untested || gain > 0 ? 'test' : 'train', rule: 'quota' };
}
