// The single-label / multi-label difference in one place: one strategy object per task. A single-label task trains
// a softmax head on one label per image, folds are stratified by that label and models are scored by accuracy; a
// multi-label task trains a sigmoid per label, folds use iterative multi-label stratification, models are scored
// by mAP and predictions are read at a decision threshold chosen on held-out predictions. The recipe search,
// `icf eval`, the training job and the classifier ask the strategy instead of branching on the task.
import type { JobMetrics } from '../model/published';
import type { ModelPointer, ModelTask } from '../model/registry';
import { MULTI_LABEL_SERVING, type ServingTask, SINGLE_LABEL_SERVING } from '../model/task';
import { argmax } from '../util/argmax';
import { multiLabelFolds, stratifiedFolds } from './folds';
import type { HeadKind } from './headGraph';
import { evaluateMultiLabel, evaluateSingleLabel } from './metrics';
import { confusionMatrixSvg, perClassBarsSvg, precisionRecallSvg } from './plots';
import { computeTestMetrics } from './testMetrics';

/** Held-out (out-of-fold) predictions scored for model selection. */
export interface HeldOutScore {
  /** Accuracy (single-label) or mAP (multi-label). */
  score: number;
  /** Mean cross-entropy (single-label) or binary cross-entropy per label (multi-label). */
  loss: number;
  /** Per class the loss its strength is chosen by: one entry (the loss) when all classes share one strength. */
  perClassLoss: number[];
  /**
   * Per held-out image, what a paired comparison of two candidates compares: 1 or 0 for a right or wrong top label
   * (single-label), or minus the image's mean binary cross-entropy over the labels (multi-label).
   */
  perImage: number[];
}

/** A test split's figures in the shapes the training job publishes them. */
export interface TestEvaluation {
  /** One line for the log. */
  headline: string;
  /** The job report's figures (the rest of the job's `metrics` is the trainer's). */
  summary: Pick<JobMetrics, 'accuracy' | 'topK' | 'macroF1' | 'mAP' | 'hammingAccuracy' | 'threshold' | 'testMetrics'>;
  /** metrics.json's evaluation part. */
  metrics: Record<string, unknown>;
  plots: Record<string, string>;
  pointer: Pick<ModelPointer, 'accuracy' | 'mAP' | 'threshold'>;
}

export interface TaskStrategy extends ServingTask {
  /** The head's output activation (and so its loss): softmax over the labels, or one sigmoid per label. */
  readonly head: HeadKind;
  /** What models of the task are scored and compared by, as reports name it. */
  readonly metric: 'accuracy' | 'mAP';
  /** How folds are drawn, as reports name it. */
  readonly foldMethod: 'stratified' | 'iteratively stratified';
  /** Fold index of each image: stratified by its label, or iterative multi-label stratification. */
  folds(
    labelSets: readonly (readonly number[])[],
    folds: number,
    seed: number,
    labelNames?: readonly string[],
  ): number[];
  /** The labels of an image the head learns: its first (softmax) or all of them. */
  trainedLabels(labelSet: readonly number[]): readonly number[];
  /** Scores held-out probabilities against 0/1 target rows, for the recipe search's strength and candidate choice. */
  scoreHeldOut(probabilities: readonly (readonly number[])[], truth: readonly Float32Array[]): HeldOutScore;
  /**
   * The path point (index into `scores`, one per strength tried) of each class's strength: one strength for all
   * classes by score (then loss), earliest on a tie; or each label its own, by its loss.
   */
  strengthPoints(scores: readonly HeldOutScore[], classCount: number): number[];
  /**
   * The decision threshold of a head chosen on held-out predictions: none for single-label heads; for multi-label
   * heads the one that gets the most label sets exactly right (0.5 unless another is strictly better, and 0.5 with
   * nothing held out).
   */
  decisionThreshold(heldOut?: {
    truth: readonly (readonly number[])[];
    scores: readonly (readonly number[])[];
  }): number | undefined;
  /** The task's metric (accuracy or mAP) of the probabilities `scores` for images with these label sets. */
  measure(
    labelSets: readonly (readonly number[])[],
    scores: readonly (readonly number[])[],
    classCount: number,
  ): number;
  /** The test split's metrics and plots: accuracy and a confusion matrix, or per-label AP and precision-recall curves. */
  evaluateTest(
    labels: string[],
    labelSets: readonly (readonly number[])[],
    scores: number[][],
    threshold: number | undefined,
  ): TestEvaluation;
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
const names = (classCount: number) => Array.from({ length: classCount }, (_, c) => String(c));
/** 0/1 rows of label sets. */
const indicator = (labelSets: readonly (readonly number[])[], classCount: number) =>
  labelSets.map((set) => Array.from({ length: classCount }, (_, c) => (set.includes(c) ? 1 : 0)));

/** A scores higher, or as high with a lower loss. */
export function scoresHigher(a: { score: number; loss: number }, b: { score: number; loss: number }): boolean {
  return a.score > b.score || (a.score === b.score && a.loss < b.loss);
}

export const SINGLE_LABEL: TaskStrategy = {
  ...SINGLE_LABEL_SERVING,
  head: 'softmax',
  metric: 'accuracy',
  foldMethod: 'stratified',
  folds: (labelSets, folds, seed) =>
    stratifiedFolds(
      labelSets.map((set) => set[0]!),
      folds,
      seed,
    ),
  trainedLabels: (labelSet) => labelSet.slice(0, 1),
  scoreHeldOut(probabilities, truth) {
    const n = probabilities.length;
    let loss = 0;
    const perImage = probabilities.map((p, i) => {
      const label = truth[i]!.indexOf(1);
      loss -= Math.log(Math.max(p[label]!, 1e-12));
      return argmax(p) === label ? 1 : 0;
    });
    return {
      score: perImage.reduce((a: number, b) => a + b, 0) / n,
      loss: loss / n,
      perClassLoss: [loss / n],
      perImage,
    };
  },
  strengthPoints(scores, classCount) {
    let best = 0;
    scores.forEach((s, p) => {
      if (scoresHigher(s, scores[best]!)) best = p;
    });
    return new Array<number>(classCount).fill(best);
  },
  decisionThreshold: () => undefined,
  measure: (labelSets, scores) => labelSets.filter((set, i) => argmax(scores[i]!) === set[0]).length / labelSets.length,
  evaluateTest(labels, labelSets, scores) {
    const metrics = evaluateSingleLabel({ labels, truth: labelSets.map((set) => set[0]!), scores });
    const testMetrics = computeTestMetrics('single-label', { labels, labelSets, scores });
    return {
      headline: `accuracy ${percent(metrics.accuracy)}`,
      summary: { accuracy: metrics.accuracy, topK: metrics.topK, macroF1: metrics.macro.f1, testMetrics },
      metrics: { ...metrics, testMetrics },
      plots: {
        'confusion-matrix.svg': confusionMatrixSvg(labels, metrics.confusionMatrix),
        'per-class.svg': perClassBarsSvg(metrics.perClass),
      },
      pointer: { accuracy: metrics.accuracy },
    };
  },
};

export const MULTI_LABEL: TaskStrategy = {
  ...MULTI_LABEL_SERVING,
  head: 'sigmoid',
  metric: 'mAP',
  foldMethod: 'iteratively stratified',
  folds: (labelSets, folds, seed, labelNames) => multiLabelFolds(labelSets, folds, seed, labelNames),
  trainedLabels: (labelSet) => labelSet,
  scoreHeldOut(probabilities, truth) {
    const n = probabilities.length;
    const C = truth[0]!.length;
    const perClassLoss = new Array<number>(C).fill(0);
    const perImage = probabilities.map((p, i) => {
      let imageLoss = 0;
      for (let c = 0; c < C; c++) {
        const q = Math.min(Math.max(p[c]!, 1e-12), 1 - 1e-12);
        const bce = -(truth[i]![c]! === 1 ? Math.log(q) : Math.log(1 - q));
        perClassLoss[c]! += bce / n;
        imageLoss += bce / C;
      }
      return -imageLoss;
    });
    const { mAP } = evaluateMultiLabel({
      labels: names(C),
      truth: truth.map((row) => Array.from(row)),
      scores: probabilities,
    });
    return { score: mAP ?? 0, loss: perClassLoss.reduce((a, b) => a + b, 0) / C, perClassLoss, perImage };
  },
  strengthPoints: (scores, classCount) =>
    Array.from({ length: classCount }, (_, c) =>
      scores.reduce((best, s, p) => (s.perClassLoss[c]! < scores[best]!.perClassLoss[c]! ? p : best), 0),
    ),
  decisionThreshold(heldOut) {
    if (!heldOut) return 0.5;
    const C = heldOut.truth[0]?.length ?? 0;
    return evaluateMultiLabel({ labels: names(C), truth: heldOut.truth, scores: heldOut.scores }).bestThreshold.zeroOne
      .threshold;
  },
  measure: (labelSets, scores, classCount) =>
    evaluateMultiLabel({ labels: names(classCount), truth: indicator(labelSets, classCount), scores }).mAP ?? 0,
  evaluateTest(labels, labelSets, scores, threshold) {
    const metrics = evaluateMultiLabel({
      labels,
      truth: indicator(labelSets, labels.length),
      scores,
      threshold: threshold ?? 0.5,
    });
    const mAP = metrics.mAP ?? 0;
    const testMetrics = computeTestMetrics('multi-label', { labels, labelSets, scores });
    return {
      headline: `mAP ${percent(mAP)}, exact label sets ${percent(metrics.zeroOneAccuracy)} at threshold ${metrics.threshold.toFixed(3)}`,
      summary: {
        mAP,
        accuracy: metrics.zeroOneAccuracy,
        hammingAccuracy: metrics.hammingAccuracy,
        threshold: metrics.threshold,
        testMetrics,
      },
      metrics: { ...metrics, testMetrics },
      plots: {
        'precision-recall.svg': precisionRecallSvg(
          metrics.perLabel.map((l) => ({ label: l.label, points: l.curve, ap: l.ap })),
        ),
        'per-class.svg': perClassBarsSvg(metrics.perLabel),
      },
      pointer: { accuracy: metrics.zeroOneAccuracy, mAP, threshold: metrics.threshold },
    };
  },
};

/** The strategy of each task. */
export const TASKS: Readonly<Record<ModelTask, TaskStrategy>> = {
  'single-label': SINGLE_LABEL,
  'multi-label': MULTI_LABEL,
};

/** The strategy whose head has this activation. */
export function taskOfHead(kind: HeadKind): TaskStrategy {
  return kind === MULTI_LABEL.head ? MULTI_LABEL : SINGLE_LABEL;
}

/** The task of a set of labelled images: multi-label as soon as one image carries several labels. */
export function taskOfLabelSets(
  labelSets: readonly (readonly number[])[] | readonly (readonly string[])[],
): TaskStrategy {
  return labelSets.some((set) => set.length > 1) ? MULTI_LABEL : SINGLE_LABEL;
}
