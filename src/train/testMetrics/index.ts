// The registry of the test split's extra metrics: each file in this folder exports one metric (its name, the tasks it
// applies to, and how it is computed from the test images' label sets and predicted probabilities), and this list
// registers it, so a new metric is its file plus one line here. Every registered metric of the model's task is
// published in metrics.json and in the training job's summary, under `testMetrics`.
import type { ModelTask } from '../../model/published';
import { balancedAccuracy } from './balancedAccuracy';
import { binaryLogLoss } from './binaryLogLoss';
import { logLoss } from './logLoss';
import type { TestMetric, TestMetricInput } from './testMetric';

export type { TestMetric, TestMetricInput } from './testMetric';

export const TEST_METRICS: readonly TestMetric[] = [balancedAccuracy, logLoss, binaryLogLoss];

/** Every registered metric of `task`, by name. */
export function computeTestMetrics(task: ModelTask, input: TestMetricInput): Record<string, number | null> {
  const figures: Record<string, number | null> = {};
  for (const metric of TEST_METRICS) {
    if (!metric.tasks.includes(task)) continue;
    if (metric.name in figures) throw new Error(`two test metrics are named ${metric.name}`);
    const value = metric.compute(input);
    figures[metric.name] = value === null || Number.isFinite(value) ? value : null;
  }
  return figures;
}
