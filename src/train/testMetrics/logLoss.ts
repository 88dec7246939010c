// Log loss (cross-entropy): the mean of -ln p(true class), which, unlike accuracy, also scores how sure the model is;
// probabilities are clipped at 1e-15 so that one confident mistake is large but finite.
import type { TestMetric } from './testMetric';

const EPSILON = 1e-15;

export const logLoss: TestMetric = {
  name: 'logLoss',
  tasks: ['single-label'],
  description: 'mean -ln p(true class), probabilities clipped at 1e-15 (lower is better)',
  compute({ labelSets, scores }) {
    if (labelSets.length === 0) return null;
    let total = 0;
    labelSets.forEach((set, i) => {
      total -= Math.log(Math.max(EPSILON, scores[i]![set[0]!]!));
    });
    return total / labelSets.length;
  },
};
