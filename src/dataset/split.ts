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
 * Chooses the side of a new image given its label's counts so far. An image close to an existing one
 * takes that image's side (no leakage between train and test); otherwise it goes where the label's test
 * count falls short of its target, which also pays back any imbalance that grouped images caused.
 */
export function chooseSplit(counts: LabelCounts, testFraction: number, neighbourSplit?: Split): SplitDecision {
  if (neighbourSplit) return { split: neighbourSplit, rule: 'group' };
  const target = desiredTestCount(counts.train + counts.test + 1, testFraction);
  return { split: counts.test < target ? 'test' : 'train', rule: 'quota' };
}
