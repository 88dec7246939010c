// What serving needs of a task, apart from how it is trained: how a head's logits become probabilities (as the
// fused model computes them) and which decision threshold an answer applies. The trainer's TaskStrategy
// (train/task.ts) extends this with folds, metrics and plots, which a classify never loads.
import type { ModelTask } from './published';

export interface ServingTask {
  readonly task: ModelTask;
  /** Probabilities from the head's logits, as the fused model computes them (in double precision). */
  probabilities(logits: Float64Array): number[];
  /** The threshold the classifier applies: none, or the request's, else the published model's, else 0.5. */
  servingThreshold(requested: number | undefined, published: number | undefined): number | undefined;
}

/** One probability distribution over the labels: a softmax; answers carry no threshold. */
export const SINGLE_LABEL_SERVING: ServingTask = {
  task: 'single-label',
  probabilities(logits) {
    let max = -Infinity;
    for (const z of logits) max = Math.max(max, z);
    const exps = Array.from(logits, (z) => Math.exp(z - max));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / total);
  },
  servingThreshold: () => undefined,
};

/** One sigmoid per label, read at a decision threshold. */
export const MULTI_LABEL_SERVING: ServingTask = {
  task: 'multi-label',
  probabilities: (logits) =>
    Array.from(logits, (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))),
  servingThreshold: (requested, published) => requested ?? published ?? 0.5,
};

export const SERVING_TASKS: Readonly<Record<ModelTask, ServingTask>> = {
  'single-label': SINGLE_LABEL_SERVING,
  'multi-label': MULTI_LABEL_SERVING,
};
