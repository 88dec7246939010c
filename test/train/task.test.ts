// The task strategies: which task a set of images is, and what each task does differently (folds, activation,
// held-out scoring, strengths, thresholds, serving), against the functions they stand for.
import { describe, expect, it } from 'vitest';

import { multiLabelFolds, stratifiedFolds } from '../../src/train/folds';
import { evaluateMultiLabel } from '../../src/train/metrics';
import { type HeldOutScore, MULTI_LABEL, SINGLE_LABEL, taskOfHead, taskOfLabelSets, TASKS } from '../../src/train/task';

const score = (value: number, loss: number, perClassLoss: number[]): HeldOutScore => ({
  score: value,
  loss,
  perClassLoss,
  perImage: [],
});

describe('task strategies', () => {
  it('finds the task of a data set and of a head', () => {
    expect(taskOfLabelSets([[0], [1], [0]])).toBe(SINGLE_LABEL);
    expect(taskOfLabelSets([['can'], ['can', 'carton']])).toBe(MULTI_LABEL);
    expect(taskOfHead('softmax')).toBe(SINGLE_LABEL);
    expect(taskOfHead('sigmoid')).toBe(MULTI_LABEL);
    expect(TASKS['multi-label'].head).toBe('sigmoid');
    expect(TASKS['single-label'].metric).toBe('accuracy');
  });

  it('draws stratified folds for single-label data and iterative ones for multi-label data', () => {
    const sets = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? [0, 1] : [i % 2]));
    expect(SINGLE_LABEL.folds(sets, 3, 7)).toEqual(
      stratifiedFolds(
        sets.map((set) => set[0]!),
        3,
        7,
      ),
    );
    expect(MULTI_LABEL.folds(sets, 3, 7)).toEqual(multiLabelFolds(sets, 3, 7));
    expect(SINGLE_LABEL.trainedLabels([2, 0])).toEqual([2]);
    expect(MULTI_LABEL.trainedLabels([2, 0])).toEqual([2, 0]);
  });

  it('turns logits into a softmax distribution or independent sigmoids', () => {
    const logits = Float64Array.from([2, -1, 0.5]);
    const softmax = SINGLE_LABEL.probabilities(logits);
    expect(softmax.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(softmax[0]! / softmax[2]!).toBeCloseTo(Math.exp(1.5), 10);
    expect(MULTI_LABEL.probabilities(logits)).toEqual([
      1 / (1 + Math.exp(-2)),
      Math.exp(-1) / (1 + Math.exp(-1)),
      1 / (1 + Math.exp(-0.5)),
    ]);
    // Large logits neither overflow nor lose the order.
    expect(SINGLE_LABEL.probabilities(Float64Array.from([1000, 999]))[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(MULTI_LABEL.probabilities(Float64Array.from([-1000]))[0]).toBe(0);
  });

  it('scores held-out predictions by accuracy and cross-entropy, or mAP and per-label binary cross-entropy', () => {
    const truth = [Float32Array.from([1, 0]), Float32Array.from([0, 1])];
    const single = SINGLE_LABEL.scoreHeldOut(
      [
        [0.8, 0.2],
        [0.6, 0.4],
      ],
      truth,
    );
    expect(single.score).toBe(0.5);
    expect(single.perImage).toEqual([1, 0]);
    expect(single.loss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.4)) / 2, 12);
    const multi = MULTI_LABEL.scoreHeldOut(
      [
        [0.8, 0.3],
        [0.1, 0.9],
      ],
      truth,
    );
    expect(multi.score).toBe(1);
    expect(multi.perClassLoss[0]).toBeCloseTo(-(Math.log(0.8) + Math.log(0.9)) / 2, 12);
    expect(multi.perClassLoss[1]).toBeCloseTo(-(Math.log(0.7) + Math.log(0.9)) / 2, 12);
  });

  it('chooses one strength for all classes by score, or one per label by its loss', () => {
    const path = [
      score(0.5, 1, [1, 0.2]),
      score(0.7, 0.9, [0.5, 0.3]),
      score(0.7, 0.8, [0.6, 0.1]),
      score(0.6, 0.1, [0.7, 0.4]),
    ];
    // Ties in score go to the lower loss.
    expect(SINGLE_LABEL.strengthPoints(path, 2)).toEqual([2, 2]);
    expect(MULTI_LABEL.strengthPoints(path, 2)).toEqual([1, 2]);
  });

  it('gives multi-label heads the threshold that gets most label sets right, and single-label heads none', () => {
    const heldOut = {
      truth: [
        [1, 0],
        [1, 1],
        [0, 1],
      ],
      scores: [
        [0.9, 0.35],
        [0.7, 0.4],
        [0.2, 0.45],
      ],
    };
    expect(SINGLE_LABEL.decisionThreshold(heldOut)).toBeUndefined();
    const threshold = MULTI_LABEL.decisionThreshold(heldOut)!;
    expect(threshold).toBe(evaluateMultiLabel({ labels: ['a', 'b'], ...heldOut }).bestThreshold.zeroOne.threshold);
    expect(evaluateMultiLabel({ labels: ['a', 'b'], ...heldOut, threshold }).zeroOneAccuracy).toBe(1);
    expect(MULTI_LABEL.decisionThreshold()).toBe(0.5);
  });

  it('measures accuracy or mAP, and reads predictions at serving with the right threshold', () => {
    expect(
      SINGLE_LABEL.measure(
        [[0], [1], [1]],
        [
          [0.9, 0.1],
          [0.3, 0.7],
          [0.6, 0.4],
        ],
        2,
      ),
    ).toBeCloseTo(2 / 3, 12);
    expect(
      MULTI_LABEL.measure(
        [[0], [0, 1], [1]],
        [
          [0.9, 0.1],
          [0.8, 0.7],
          [0.2, 0.6],
        ],
        2,
      ),
    ).toBe(1);
    expect(SINGLE_LABEL.servingThreshold(0.3, 0.4)).toBeUndefined();
    expect(MULTI_LABEL.servingThreshold(0.3, 0.4)).toBe(0.3);
    expect(MULTI_LABEL.servingThreshold(undefined, 0.4)).toBe(0.4);
    expect(MULTI_LABEL.servingThreshold(undefined, undefined)).toBe(0.5);
  });
});
