// Evaluation metrics for the image classifier's trainer: single-label (softmax) and multi-label (sigmoid) heads.
// Definitions follow scikit-learn so that numbers can be checked against it; where scikit-learn warns and picks
// a value (a class never predicted, a label without positives), the choice made here is stated at the field.
import { isArray } from '../util/isArray';

/** Precision, recall and F1 averaged over classes. */
export interface AveragedScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassScores extends AveragedScores {
  label: string;
  /** How many samples truly have this class. */
  support: number;
}

export interface SingleLabelInput {
  labels: readonly string[];
  /** The true class index of each sample. */
  truth: readonly number[];
  /**
   * Per sample, per class probabilities (or any scores where higher means more likely): either one row per sample,
   * or one flat row-major Float32Array of samples × classes, as a model's output tensor comes.
   */
  scores: Float32Array | readonly (readonly number[])[];
  /** Which top-k accuracies to report; default [1, 3, 5]. Each k is clipped to the class count, duplicates dropped. */
  topK?: readonly number[];
}

export interface SingleLabelMetrics {
  /** Share of samples whose highest-scoring class is the true one (ties go to the lower class index, like argmax). */
  accuracy: number;
  /** Share of samples whose true class is among the k highest scores, by k; ties ranked by class index as above. */
  topK: Record<number, number>;
  /**
   * Precision of a class that is never predicted is 0, recall of a class with no samples is 0, and F1 is 0 when
   * precision and recall are both 0: scikit-learn's zero_division=0.
   */
  perClass: ClassScores[];
  /** Unweighted mean over all classes in `labels` (as scikit-learn with labels=all classes), absent ones included. */
  macro: AveragedScores;
  /** Mean over classes weighted by support. */
  weighted: AveragedScores;
  /** confusionMatrix[truth][predicted] = number of samples. */
  confusionMatrix: number[][];
  count: number;
}

/** Default top-k accuracies: top-1 is plain accuracy; 3 and 5 show how close the misses are. */
const DEFAULT_TOP_K: readonly number[] = [1, 3, 5];

/** Evaluates a single-label classifier: accuracy, top-k accuracy, per-class and averaged P/R/F1, confusion matrix. */
export function evaluateSingleLabel(input: SingleLabelInput): SingleLabelMetrics {
  const where = 'evaluateSingleLabel';
  const labels = checkLabels(where, input.labels);
  const classes = labels.length;
  const { truth } = input;
  if (!isArray(truth)) throw new TypeError(`${where}: truth must be an array of class indices`);
  const count = truth.length;
  if (count === 0) throw new RangeError(`${where}: truth is empty; there is nothing to evaluate`);
  truth.forEach((value, i) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new TypeError(`${where}: truth[${i}] must be an integer class index, got ${String(value)}`);
    }
    if (value < 0 || value >= classes) {
      throw new RangeError(
        `${where}: truth[${i}] = ${value} is out of range; there are ${classes} labels (0..${classes - 1})`,
      );
    }
  });
  const rowOf = scoreRows(where, input.scores, count, classes);
  const ks = topKList(where, input.topK ?? DEFAULT_TOP_K, classes);

  const confusionMatrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const topKHits = new Array<number>(ks.length).fill(0);
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const row = rowOf(i);
    const actual = truth[i]!;
    let predicted = 0;
    for (let c = 1; c < classes; c++) if (row(c) > row(predicted)) predicted = c;
    confusionMatrix[actual]![predicted]! += 1;
    if (predicted === actual) correct += 1;
    // Rank of the true class: classes scoring higher, plus equal ones with a lower index (so top-1 equals accuracy).
    const own = row(actual);
    let rank = 0;
    for (let c = 0; c < classes; c++) if (row(c) > own || (row(c) === own && c < actual)) rank += 1;
    ks.forEach((k, j) => {
      if (rank < k) topKHits[j]! += 1;
    });
  }

  const perClass: ClassScores[] = labels.map((label, c) => {
    const truePositives = confusionMatrix[c]![c]!;
    const support = sum(confusionMatrix[c]!);
    const predictedCount = confusionMatrix.reduce((total, row) => total + row[c]!, 0);
    const precision = ratio(truePositives, predictedCount);
    const recall = ratio(truePositives, support);
    return { label, precision, recall, f1: harmonic(precision, recall), support };
  });
  const topK: Record<number, number> = {};
  ks.forEach((k, j) => {
    topK[k] = topKHits[j]! / count;
  });
  return {
    accuracy: correct / count,
    topK,
    perClass,
    macro: average(perClass, () => 1),
    weighted: average(perClass, (scores) => scores.support),
    confusionMatrix,
    count,
  };
}

export interface MultiLabelInput {
  labels: readonly string[];
  /** Per sample, per label: whether the label applies (true/false or 1/0). */
  truth: readonly (readonly boolean[])[] | readonly (readonly number[])[];
  /** Per sample, per label sigmoid probabilities in [0, 1]. */
  scores: readonly (readonly number[])[];
  /** A label is predicted when its score is at least this; default 0.5. */
  threshold?: number;
}

/** One point of a precision-recall curve; the first point of each curve is the (recall 0, precision 1) anchor. */
export interface PrecisionRecallPoint {
  recall: number;
  precision: number;
  /** Predicting score >= threshold gives this point; null for the anchor (predict nothing). */
  threshold: number | null;
}

export interface LabelScores {
  label: string;
  /** Samples that have the label. */
  support: number;
  /**
   * Average precision as scikit-learn's average_precision_score: Σ (R_n − R_{n−1}) P_n over the distinct scores
   * taken as thresholds, highest first. Null when no sample has the label (scikit-learn warns and returns 0 there;
   * leaving it out keeps mAP from being dragged down by labels the evaluation set cannot measure).
   */
  ap: number | null;
  /** At the threshold; precision 0 when the label is never predicted, recall 0 without positives (zero_division=0). */
  precision: number;
  recall: number;
  f1: number;
  /** Ordered by falling threshold, so recall never decreases; for plotting. */
  curve: PrecisionRecallPoint[];
}

export interface ThresholdChoice {
  threshold: number;
  accuracy: number;
}

export interface MultiLabelMetrics {
  perLabel: LabelScores[];
  /** Mean AP over the labels with at least one positive sample; null when no label has one. */
  mAP: number | null;
  threshold: number;
  /** Share of (sample, label) decisions that are right at the threshold: 1 − Hamming loss. */
  hammingAccuracy: number;
  /** Share of samples whose whole label set is right at the threshold (exact match, scikit-learn's accuracy_score). */
  zeroOneAccuracy: number;
  /**
   * The single threshold, among the distinct scores plus 0.5, that maximises each accuracy. Ties go to the
   * candidate nearest 0.5, then to the lower one: the conventional default wins unless another is strictly better.
   */
  bestThreshold: { hamming: ThresholdChoice; zeroOne: ThresholdChoice };
  count: number;
}

/** Evaluates a multi-label classifier: per-label AP and mAP, accuracies at a threshold, the best thresholds. */
export function evaluateMultiLabel(input: MultiLabelInput): MultiLabelMetrics {
  const where = 'evaluateMultiLabel';
  const labels = checkLabels(where, input.labels);
  const width = labels.length;
  const threshold = input.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new RangeError(`${where}: threshold must be a finite number, got ${String(threshold)}`);
  }
  const { truth: rawTruth, scores } = input;
  if (!isArray(rawTruth)) throw new TypeError(`${where}: truth must be an array of rows (one per sample)`);
  if (!isArray(scores)) throw new TypeError(`${where}: scores must be an array of rows (one per sample)`);
  const count = rawTruth.length;
  if (count === 0) throw new RangeError(`${where}: truth is empty; there is nothing to evaluate`);
  if (scores.length !== count) {
    throw new RangeError(`${where}: scores has ${scores.length} rows but truth has ${count}; they must match`);
  }
  const truth: boolean[][] = rawTruth.map((row: readonly (boolean | number)[], i) => {
    if (!isArray(row)) throw new TypeError(`${where}: truth[${i}] must be an array`);
    if (row.length !== width) {
      throw new RangeError(`${where}: truth[${i}] has ${row.length} entries but there are ${width} labels`);
    }
    return row.map((value, j) => {
      if (value === true || value === 1) return true;
      if (value === false || value === 0) return false;
      throw new TypeError(`${where}: truth[${i}][${j}] must be true/false or 1/0, got ${String(value)}`);
    });
  });
  scores.forEach((row, i) => {
    if (!isArray(row)) throw new TypeError(`${where}: scores[${i}] must be an array`);
    if (row.length !== width) {
      throw new RangeError(`${where}: scores[${i}] has ${row.length} entries but there are ${width} labels`);
    }
    row.forEach((value, j) => {
      if (typeof value !== 'number' || Number.isNaN(value)) {
        throw new RangeError(`${where}: scores[${i}][${j}] is ${String(value)}, not a number`);
      }
      // Probabilities only: logits would silently make the 0.5 threshold meaningless.
      if (value < 0 || value > 1) {
        throw new RangeError(
          `${where}: scores[${i}][${j}] = ${value} is not a probability in [0, 1] (sigmoid applied?)`,
        );
      }
    });
  });
  const score = (i: number, j: number): number => scores[i]![j]!;

  const perLabel: LabelScores[] = labels.map((label, j) => {
    const column = Array.from({ length: count }, (_, i) => ({ score: score(i, j), positive: truth[i]![j]! }));
    const support = column.filter((cell) => cell.positive).length;
    let truePositives = 0;
    let predicted = 0;
    for (const cell of column) {
      if (cell.score >= threshold) {
        predicted += 1;
        if (cell.positive) truePositives += 1;
      }
    }
    const precision = ratio(truePositives, predicted);
    const recall = ratio(truePositives, support);
    const { ap, curve } = precisionRecall(column, support);
    return { label, support, ap, precision, recall, f1: harmonic(precision, recall), curve };
  });
  const measured = perLabel.flatMap((scoresOfLabel) => (scoresOfLabel.ap === null ? [] : [scoresOfLabel.ap]));

  let rightCells = 0;
  let rightSamples = 0;
  for (let i = 0; i < count; i++) {
    let all = true;
    for (let j = 0; j < width; j++) {
      if (score(i, j) >= threshold === truth[i]![j]!) rightCells += 1;
      else all = false;
    }
    if (all) rightSamples += 1;
  }

  return {
    perLabel,
    mAP: measured.length === 0 ? null : sum(measured) / measured.length,
    threshold,
    hammingAccuracy: rightCells / (count * width),
    zeroOneAccuracy: rightSamples / count,
    bestThreshold: bestThresholds(truth, score, count, width),
    count,
  };
}

/** The PR curve of one label and its AP, stepping through the distinct scores from the highest down. */
function precisionRecall(
  column: readonly { score: number; positive: boolean }[],
  positives: number,
): { ap: number | null; curve: PrecisionRecallPoint[] } {
  const sorted = [...column].sort((a, b) => b.score - a.score);
  const curve: PrecisionRecallPoint[] = [{ recall: 0, precision: 1, threshold: null }];
  let truePositives = 0;
  let falsePositives = 0;
  let ap = 0;
  let previousRecall = 0;
  for (let n = 0; n < sorted.length;) {
    const threshold = sorted[n]!.score;
    // Tied scores cross the threshold together, so they form one point.
    for (; n < sorted.length && sorted[n]!.score === threshold; n++) {
      if (sorted[n]!.positive) truePositives += 1;
      else falsePositives += 1;
    }
    const precision = truePositives / (truePositives + falsePositives);
    const recall = positives === 0 ? 0 : truePositives / positives;
    ap += (recall - previousRecall) * precision;
    previousRecall = recall;
    curve.push({ recall, precision, threshold });
  }
  return { ap: positives === 0 ? null : ap, curve };
}

/**
 * Sweeps all candidate thresholds in O(cells · log cells) instead of re-scoring every cell per candidate.
 * Hamming: right cells at t = positives scoring >= t + negatives scoring < t, counted by binary search.
 * Zero-one: sample i is entirely right exactly for t in (highest negative score, lowest positive score].
 */
function bestThresholds(
  truth: readonly (readonly boolean[])[],
  score: (i: number, j: number) => number,
  count: number,
  width: number,
): { hamming: ThresholdChoice; zeroOne: ThresholdChoice } {
  const positiveScores: number[] = [];
  const negativeScores: number[] = [];
  const intervalLows: number[] = [];
  const intervalHighs: number[] = [];
  const candidates = new Set<number>([0.5]);
  for (let i = 0; i < count; i++) {
    let highestNegative = -Infinity;
    let lowestPositive = Infinity;
    for (let j = 0; j < width; j++) {
      const value = score(i, j);
      candidates.add(value);
      if (truth[i]![j]) {
        positiveScores.push(value);
        lowestPositive = Math.min(lowestPositive, value);
      } else {
        negativeScores.push(value);
        highestNegative = Math.max(highestNegative, value);
      }
    }
    if (highestNegative < lowestPositive) {
      intervalLows.push(highestNegative);
      intervalHighs.push(lowestPositive);
    }
  }
  for (const list of [positiveScores, negativeScores, intervalLows, intervalHighs]) list.sort((a, b) => a - b);
  const ordered = [...candidates].sort((a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5) || a - b);
  let hamming: ThresholdChoice = { threshold: 0.5, accuracy: -1 };
  let zeroOne: ThresholdChoice = { threshold: 0.5, accuracy: -1 };
  for (const t of ordered) {
    const rightCells = positiveScores.length - countBelow(positiveScores, t) + countBelow(negativeScores, t);
    // Every non-empty interval with high < t also has low < t, so the difference counts the intervals holding t.
    const rightSamples = countBelow(intervalLows, t) - countBelow(intervalHighs, t);
    const hammingAccuracy = rightCells / (count * width);
    const zeroOneAccuracy = rightSamples / count;
    // Strictly better only: candidates come nearest-0.5 first, which settles ties.
    if (hammingAccuracy > hamming.accuracy) hamming = { threshold: t, accuracy: hammingAccuracy };
    if (zeroOneAccuracy > zeroOne.accuracy) zeroOne = { threshold: t, accuracy: zeroOneAccuracy };
  }
  return { hamming, zeroOne };
}

/** How many values of an ascending list are strictly below t. */
function countBelow(sorted: readonly number[], t: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < t) low = middle + 1;
    else high = middle;
  }
  return low;
}

function checkLabels(where: string, labels: readonly string[]): readonly string[] {
  if (!isArray(labels)) throw new TypeError(`${where}: labels must be an array of strings`);
  if (labels.length === 0) throw new RangeError(`${where}: labels is empty; at least one label is needed`);
  const seen = new Set<string>();
  labels.forEach((label, i) => {
    if (typeof label !== 'string') throw new TypeError(`${where}: labels[${i}] must be a string, got ${String(label)}`);
    if (seen.has(label)) throw new RangeError(`${where}: labels[${i}] = ${JSON.stringify(label)} appears twice`);
    seen.add(label);
  });
  return labels;
}

/** Returns an accessor per sample after checking shape and values, so the loop above needs no second format. */
function scoreRows(
  where: string,
  scores: Float32Array | readonly (readonly number[])[],
  count: number,
  classes: number,
): (i: number) => (c: number) => number {
  if (scores instanceof Float32Array) {
    if (scores.length !== count * classes) {
      throw new RangeError(
        `${where}: scores has ${scores.length} values but truth has ${count} samples × ${classes} labels = ${count * classes}`,
      );
    }
    const bad = scores.findIndex((value) => Number.isNaN(value));
    if (bad >= 0) {
      throw new RangeError(
        `${where}: scores[${bad}] (sample ${Math.floor(bad / classes)}, class ${bad % classes}) is NaN`,
      );
    }
    return (i) => (c) => scores[i * classes + c]!;
  }
  if (!isArray(scores)) throw new TypeError(`${where}: scores must be a Float32Array or an array of rows`);
  if (scores.length !== count) {
    throw new RangeError(`${where}: scores has ${scores.length} rows but truth has ${count}; they must match`);
  }
  scores.forEach((row, i) => {
    if (!isArray(row)) throw new TypeError(`${where}: scores[${i}] must be an array`);
    if (row.length !== classes) {
      throw new RangeError(`${where}: scores[${i}] has ${row.length} entries but there are ${classes} labels`);
    }
    row.forEach((value, c) => {
      if (typeof value !== 'number' || Number.isNaN(value)) {
        throw new RangeError(`${where}: scores[${i}][${c}] is ${String(value)}, not a number`);
      }
    });
  });
  return (i) => (c) => scores[i]![c]!;
}

function topKList(where: string, topK: readonly number[], classes: number): number[] {
  if (!isArray(topK)) throw new TypeError(`${where}: topK must be an array of positive integers`);
  topK.forEach((k, i) => {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
      throw new RangeError(`${where}: topK[${i}] must be a positive integer, got ${String(k)}`);
    }
  });
  return [...new Set(topK.map((k) => Math.min(k, classes)))].sort((a, b) => a - b);
}

function average(perClass: readonly ClassScores[], weight: (scores: ClassScores) => number): AveragedScores {
  const total = sum(perClass.map(weight));
  const mean = (pick: (scores: ClassScores) => number): number =>
    total === 0 ? 0 : sum(perClass.map((scores) => pick(scores) * weight(scores))) / total;
  return { precision: mean((s) => s.precision), recall: mean((s) => s.recall), f1: mean((s) => s.f1) };
}

/** numerator / denominator, with 0 for 0 / 0 (zero_division=0). */
function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

function harmonic(precision: number, recall: number): number {
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
