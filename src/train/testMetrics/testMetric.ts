// What a test metric is: the contract each file of this folder implements (registered in index.ts).
import type { ModelTask } from '../../model/published';

/** What a metric is computed from: the test images' true label sets and the model's probabilities, per label. */
export interface TestMetricInput {
  labels: readonly string[];
  /** Each test image's true labels (one for single-label data), as indices into `labels`. */
  labelSets: readonly (readonly number[])[];
  /** Each test image's predicted probability per label (softmax, or one sigmoid per label). */
  scores: readonly (readonly number[])[];
}

export interface TestMetric {
  /** Its key in `testMetrics` (camelCase). */
  readonly name: string;
  readonly tasks: readonly ModelTask[];
  /** What it measures, for the README and reports. */
  readonly description: string;
  /** Null when the test split cannot give it (no images, say). */
  compute(input: TestMetricInput): number | null;
}
