// Binary log loss for multi-label models: the mean over test images and labels of each label's sigmoid
// cross-entropy, probabilities clipped at 1e-15 (it scores the probabilities themselves, not one threshold).
import type { TestMetric } from './testMetric';

const EPSILON = 1e-15;

export const binaryLogLoss: TestMetric = {
  name: 'binaryLogLoss',
  tasks: ['multi-label'],
  description: 'mean over images and labels of -ln p (label shown) or -ln (1 - p) (not shown), clipped at 1e-15',
  compute({ labels, labelSets, scores }) {
    if (labelSets.length === 0 || labels.length === 0) return null;
    let total = 0;
    labelSets.forEach((set, i) => {
      const shown = new Set(set);
      for (let c = 0; c < labels.length; c++) {
        const p = scores[i]![c]!;
        total -= Math.log(Math.max(EPSILON, shown.has(c) ? p : 1 - p));
      }
    });
    return total / (labelSets.length * labels.length);
  },
};
