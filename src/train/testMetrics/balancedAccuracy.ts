// Balanced accuracy: the mean of the per-class recalls over the classes the test split holds, so that a rare class
// counts as much as a common one (accuracy rewards always answering the common class).
import { argmax } from '../../util/argmax';
import type { TestMetric } from './testMetric';

export const balancedAccuracy: TestMetric = {
  name: 'balancedAccuracy',
  tasks: ['single-label'],
  description: 'mean per-class recall over the classes present in the test split',
  compute({ labels, labelSets, scores }) {
    const hits = new Array<number>(labels.length).fill(0);
    const support = new Array<number>(labels.length).fill(0);
    labelSets.forEach((set, i) => {
      const truth = set[0]!;
      support[truth]! += 1;
      if (argmax(scores[i]!) === truth) hits[truth]! += 1;
    });
    const present = support
      .map((count, c) => (count > 0 ? hits[c]! / count : undefined))
      .filter((r) => r !== undefined);
    return present.length === 0 ? null : present.reduce((a, b) => a + b, 0) / present.length;
  },
};
