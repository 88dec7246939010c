import { describe, expect, it } from 'vitest';

import { evaluateMultiLabel, evaluateSingleLabel } from '../../src/train/metrics';
import { seededRandom } from '../../src/util/seededRandom';

/** Softmax-like rows that put `high` on the predicted class and share the rest evenly. */
function scoresFor(predicted: readonly number[], classes: number, high = 0.7): number[][] {
  return predicted.map((p) => Array.from({ length: classes }, (_, c) => (c === p ? high : (1 - high) / (classes - 1))));
}

describe('evaluateSingleLabel', () => {
  it('matches the classification_report example of scikit-learn', () => {
    // scikit-learn docs: y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1].
    // Confusion matrix (rows truth): [[1,0,0], [1,0,0], [0,1,2]]; predicted counts per class 2, 1, 2.
    // class 0: P = 1/2, R = 1/1, F1 = 2·0.5·1/1.5 = 2/3
    // class 1: P = 0/1,  R = 0/1, F1 = 0
    // class 2: P = 2/2,  R = 2/3, F1 = 2·(2/3)/(5/3) = 0.8
    // macro: P = 1.5/3 = 0.5, R = (5/3)/3 = 0.5556, F1 = (2/3 + 0.8)/3 = 0.4889
    // weighted (supports 1, 1, 3): P = (0.5 + 3)/5 = 0.7, R = (1 + 2)/5 = 0.6, F1 = (2/3 + 2.4)/5 = 0.6133
    // (the report prints 0.50 0.56 0.49 and 0.70 0.60 0.61); accuracy 3/5 = 0.6.
    const result = evaluateSingleLabel({
      labels: ['class 0', 'class 1', 'class 2'],
      truth: [0, 1, 2, 2, 2],
      scores: scoresFor([0, 0, 2, 2, 1], 3),
    });
    expect(result.count).toBe(5);
    expect(result.accuracy).toBeCloseTo(0.6, 12);
    expect(result.confusionMatrix).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [0, 1, 2],
    ]);
    const [c0, c1, c2] = result.perClass;
    expect(c0).toMatchObject({ label: 'class 0', precision: 0.5, recall: 1, support: 1 });
    expect(c0!.f1).toBeCloseTo(2 / 3, 12);
    expect(c1).toEqual({ label: 'class 1', precision: 0, recall: 0, f1: 0, support: 1 });
    expect(c2).toMatchObject({ label: 'class 2', precision: 1, support: 3 });
    expect(c2!.recall).toBeCloseTo(2 / 3, 12);
    expect(c2!.f1).toBeCloseTo(0.8, 12);
    expect(result.macro.precision).toBeCloseTo(0.5, 12);
    expect(result.macro.recall).toBeCloseTo(5 / 9, 12);
    expect(result.macro.f1).toBeCloseTo((2 / 3 + 0.8) / 3, 12);
    expect(result.weighted.precision).toBeCloseTo(0.7, 12);
    expect(result.weighted.recall).toBeCloseTo(0.6, 12);
    expect(result.weighted.f1).toBeCloseTo((2 / 3 + 2.4) / 5, 12);
    // Default top-k [1, 3, 5] is clipped to 3 classes: {1, 3}; top-3 of 3 classes always hits.
    expect(result.topK).toEqual({ 1: 0.6, 3: 1 });
  });

  it('matches the top_k_accuracy_score example of scikit-learn', () => {
    // scikit-learn docs: y_true = [0, 1, 2, 2], k = 2 gives 0.75.
    // Ranks of the true class: s0 0.5 is top (rank 0); s1 0.4 top (0); s2 0.3 below 0.4 (1); s3 0.1 below both (2).
    // top-1: ranks < 1 → 2/4 = 0.5; top-2: ranks < 2 → 3/4 = 0.75.
    const result = evaluateSingleLabel({
      labels: ['a', 'b', 'c'],
      truth: [0, 1, 2, 2],
      scores: [
        [0.5, 0.2, 0.2],
        [0.3, 0.4, 0.2],
        [0.2, 0.4, 0.3],
        [0.7, 0.2, 0.1],
      ],
      topK: [2, 1],
    });
    expect(result.topK).toEqual({ 1: 0.5, 2: 0.75 });
    expect(result.accuracy).toBe(0.5);
  });

  it('scores a class that is never predicted, or never present, as 0 (zero_division=0)', () => {
    // truth a a b, predicted a a a; c neither occurs nor is predicted.
    // a: P = 2/3, R = 1, F1 = 2·(2/3)/(5/3) = 0.8; b: never predicted → P = 0, R = 0/1 = 0; c: all 0/0 → 0.
    // macro includes c: P = (2/3)/3 = 2/9, R = 1/3, F1 = 0.8/3.
    const result = evaluateSingleLabel({ labels: ['a', 'b', 'c'], truth: [0, 0, 1], scores: scoresFor([0, 0, 0], 3) });
    expect(result.perClass.map((c) => [c.precision, c.recall, c.support])).toEqual([
      [2 / 3, 1, 2],
      [0, 0, 1],
      [0, 0, 0],
    ]);
    expect(result.perClass[0]!.f1).toBeCloseTo(0.8, 12);
    expect(result.macro.precision).toBeCloseTo(2 / 9, 12);
    expect(result.macro.recall).toBeCloseTo(1 / 3, 12);
    expect(result.macro.f1).toBeCloseTo(0.8 / 3, 12);
    // weighted by supports 2, 1, 0: P = (4/3)/3, R = 2/3.
    expect(result.weighted.precision).toBeCloseTo(4 / 9, 12);
    expect(result.weighted.recall).toBeCloseTo(2 / 3, 12);
  });

  it('breaks ties towards the lower class index, so top-1 always equals accuracy', () => {
    const result = evaluateSingleLabel({
      labels: ['a', 'b'],
      truth: [1, 0],
      scores: [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
    });
    expect(result.confusionMatrix).toEqual([
      [1, 0],
      [1, 0],
    ]);
    expect(result.accuracy).toBe(0.5);
    expect(result.topK).toEqual({ 1: 0.5, 2: 1 });
  });

  it('gives the same answer for a flat Float32Array as for rows', () => {
    const random = seededRandom(7);
    const labels = ['w', 'x', 'y', 'z', 'v', 'u'];
    const rows = Array.from({ length: 200 }, () => labels.map(() => Math.fround(random())));
    const truth = rows.map(() => Math.floor(random() * labels.length));
    const fromRows = evaluateSingleLabel({ labels, truth, scores: rows });
    const fromFlat = evaluateSingleLabel({ labels, truth, scores: Float32Array.from(rows.flat()) });
    expect(fromFlat).toEqual(fromRows);
    expect(Object.keys(fromRows.topK)).toEqual(['1', '3', '5']);
    expect(fromRows.topK[1]).toBe(fromRows.accuracy);
    expect(fromRows.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(200);
    expect(fromRows.perClass.reduce((total, c) => total + c.support, 0)).toBe(200);
  });

  it('names the argument that is wrong', () => {
    const labels = ['a', 'b'];
    const scores = [
      [0.9, 0.1],
      [0.2, 0.8],
    ];
    expect(() => evaluateSingleLabel({ labels, truth: [0], scores })).toThrow(/scores has 2 rows but truth has 1/);
    expect(() => evaluateSingleLabel({ labels, truth: [0, 2], scores })).toThrow(RangeError);
    expect(() => evaluateSingleLabel({ labels, truth: [0, 2], scores })).toThrow(/truth\[1\] = 2 is out of range/);
    expect(() => evaluateSingleLabel({ labels, truth: [0, -1], scores })).toThrow(/truth\[1\] = -1 is out of range/);
    expect(() => evaluateSingleLabel({ labels, truth: [0, 0.5], scores })).toThrow(TypeError);
    expect(() =>
      evaluateSingleLabel({
        labels,
        truth: [0, 1],
        scores: [
          [0.9, 0.1],
          [NaN, 0.8],
        ],
      }),
    ).toThrow(/scores\[1\]\[0\] is NaN/);
    expect(() => evaluateSingleLabel({ labels, truth: [0, 1], scores: [[0.9, 0.1], [0.8]] })).toThrow(
      /scores\[1\] has 1 entries but there are 2 labels/,
    );
    expect(() => evaluateSingleLabel({ labels, truth: [0, 1], scores: new Float32Array(3) })).toThrow(
      /scores has 3 values but truth has 2 samples × 2 labels = 4/,
    );
    expect(() => evaluateSingleLabel({ labels, truth: [0, 1], scores: Float32Array.of(0.1, 0.9, NaN, 0.2) })).toThrow(
      /scores\[2\] \(sample 1, class 0\) is NaN/,
    );
    expect(() => evaluateSingleLabel({ labels: [], truth: [], scores: [] })).toThrow(/labels is empty/);
    expect(() => evaluateSingleLabel({ labels: ['a', 'a'], truth: [0], scores: [[1, 0]] })).toThrow(
      /labels\[1\] = "a" appears twice/,
    );
    expect(() => evaluateSingleLabel({ labels, truth: [], scores: [] })).toThrow(/truth is empty/);
    expect(() => evaluateSingleLabel({ labels, truth: [0, 1], scores, topK: [0] })).toThrow(
      /topK\[0\] must be a positive integer/,
    );
  });
});

describe('evaluateMultiLabel', () => {
  // Two labels, four samples, worked by hand below.
  // cat: truth [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8]  (the average_precision_score docs example: AP 0.83)
  // dog: truth [1, 0, 1, 0], scores [0.9, 0.9, 0.5, 0.1]   (a tie at 0.9 between a positive and a negative)
  const input = {
    labels: ['cat', 'dog'],
    truth: [
      [false, true],
      [false, false],
      [true, true],
      [true, false],
    ],
    scores: [
      [0.1, 0.9],
      [0.4, 0.9],
      [0.35, 0.5],
      [0.8, 0.1],
    ],
  };

  it('computes AP as scikit-learn does, ties included, and the PR curve', () => {
    const result = evaluateMultiLabel(input);
    // cat, thresholds falling: 0.8 → TP1 FP0: P 1,   R 0.5
    //                          0.4 → TP1 FP1: P 0.5, R 0.5
    //                          0.35 → TP2 FP1: P 2/3, R 1
    //                          0.1 → TP2 FP2: P 0.5, R 1
    // AP = 0.5·1 + 0·0.5 + 0.5·(2/3) + 0·0.5 = 0.8333 (scikit-learn's docs print 0.83...).
    const cat = result.perLabel[0]!;
    expect(cat.ap).toBeCloseTo(5 / 6, 12);
    expect(cat.curve).toEqual([
      { recall: 0, precision: 1, threshold: null },
      { recall: 0.5, precision: 1, threshold: 0.8 },
      { recall: 0.5, precision: 0.5, threshold: 0.4 },
      { recall: 1, precision: 2 / 3, threshold: 0.35 },
      { recall: 1, precision: 0.5, threshold: 0.1 },
    ]);
    // dog: 0.9 takes both tied samples at once → TP1 FP1: P 0.5, R 0.5; 0.5 → TP2 FP1: P 2/3, R 1; 0.1 → P 0.5, R 1.
    // AP = 0.5·0.5 + 0.5·(2/3) = 0.5833 (scikit-learn groups tied scores the same way).
    const dog = result.perLabel[1]!;
    expect(dog.ap).toBeCloseTo(7 / 12, 12);
    expect(dog.curve.map((p) => p.threshold)).toEqual([null, 0.9, 0.5, 0.1]);
    expect(result.mAP).toBeCloseTo((5 / 6 + 7 / 12) / 2, 12);
    expect(cat.support).toBe(2);
    expect(dog.support).toBe(2);
  });

  it('computes Hamming and exact-match accuracy at the threshold', () => {
    const result = evaluateMultiLabel(input);
    // At 0.5 (score >= 0.5 predicts): cat predicted [0, 0, 0, 1] vs [0, 0, 1, 1] → 3 cells right;
    // dog predicted [1, 1, 1, 0] vs [1, 0, 1, 0] → 3 right. Hamming accuracy 6/8.
    // Samples entirely right: s0 (cat 0, dog 1) and s3 (cat 1, dog 0) → 2/4.
    expect(result.threshold).toBe(0.5);
    expect(result.hammingAccuracy).toBe(0.75);
    expect(result.zeroOneAccuracy).toBe(0.5);
    // cat: predicted only s3, which is right → P 1, R 1/2, F1 2/3; dog: predicted 3 with 2 right → P 2/3, R 1, F1 0.8.
    expect(result.perLabel[0]).toMatchObject({ precision: 1, recall: 0.5 });
    expect(result.perLabel[0]!.f1).toBeCloseTo(2 / 3, 12);
    expect(result.perLabel[1]!.precision).toBeCloseTo(2 / 3, 12);
    expect(result.perLabel[1]!.f1).toBeCloseTo(0.8, 12);
    expect(evaluateMultiLabel({ ...input, threshold: 0.35 }).zeroOneAccuracy).toBe(0.75);
  });

  it('finds the best single thresholds, preferring the one nearest 0.5 on ties', () => {
    const result = evaluateMultiLabel(input);
    // Candidates: 0.1, 0.35, 0.4, 0.5, 0.8, 0.9. Positive scores [0.35, 0.5, 0.8, 0.9], negatives [0.1, 0.1, 0.4, 0.9].
    // Right cells = positives >= t + negatives < t: 0.1 → 4+0, 0.35 → 4+2, 0.4 → 3+2, 0.5 → 3+3, 0.8 → 2+3, 0.9 → 1+3.
    // 0.35 and 0.5 tie at 6/8; 0.5 is nearer 0.5.
    expect(result.bestThreshold.hamming).toEqual({ threshold: 0.5, accuracy: 0.75 });
    // Sample i is right for t in (highest negative, lowest positive]: s0 (0.1, 0.9], s1 (0.9, ∞), s2 (−∞, 0.35],
    // s3 (0.1, 0.8]. At 0.35: s0, s2, s3 → 3/4, the most of any candidate (0.4, 0.5, 0.8 hold 2).
    expect(result.bestThreshold.zeroOne).toEqual({ threshold: 0.35, accuracy: 0.75 });
  });

  it('agrees with brute force over every candidate threshold on random data', () => {
    const random = seededRandom(11);
    const labels = ['a', 'b', 'c', 'd'];
    // Scores quantised to 0.05 so that ties occur, as they do with real rounded sigmoid outputs.
    const truth = Array.from({ length: 60 }, () => labels.map(() => random() < 0.3));
    const scores = truth.map((row) =>
      row.map((t) => Math.round(Math.min(1, Math.max(0, (t ? 0.65 : 0.35) + (random() - 0.5) * 0.8)) * 20) / 20),
    );
    const result = evaluateMultiLabel({ labels, truth, scores });
    const candidates = [...new Set([0.5, ...scores.flat()])];
    let bestHamming = 0;
    let bestZeroOne = 0;
    for (const threshold of candidates) {
      const at = evaluateMultiLabel({ labels, truth, scores, threshold });
      bestHamming = Math.max(bestHamming, at.hammingAccuracy);
      bestZeroOne = Math.max(bestZeroOne, at.zeroOneAccuracy);
    }
    expect(result.bestThreshold.hamming.accuracy).toBe(bestHamming);
    expect(result.bestThreshold.zeroOne.accuracy).toBe(bestZeroOne);
    const atHamming = evaluateMultiLabel({ labels, truth, scores, threshold: result.bestThreshold.hamming.threshold });
    expect(atHamming.hammingAccuracy).toBe(bestHamming);
    const atZeroOne = evaluateMultiLabel({ labels, truth, scores, threshold: result.bestThreshold.zeroOne.threshold });
    expect(atZeroOne.zeroOneAccuracy).toBe(bestZeroOne);
    // AP is the area under the step curve: Σ ΔR·P over its points.
    for (const label of result.perLabel) {
      const area = label.curve
        .slice(1)
        .reduce((total, p, i) => total + (p.recall - label.curve[i]!.recall) * p.precision, 0);
      expect(label.ap).toBeCloseTo(area, 12);
    }
  });

  it('leaves a label without positives out of mAP', () => {
    const result = evaluateMultiLabel({
      labels: ['seen', 'never'],
      truth: [
        [1, 0],
        [0, 0],
      ],
      scores: [
        [0.9, 0.2],
        [0.1, 0.7],
      ],
    });
    expect(result.perLabel[0]!.ap).toBe(1);
    expect(result.perLabel[1]).toMatchObject({ ap: null, support: 0, precision: 0, recall: 0, f1: 0 });
    expect(result.mAP).toBe(1);
  });

  it('names the argument that is wrong', () => {
    const labels = ['a', 'b'];
    const truth = [[1, 0]];
    expect(() => evaluateMultiLabel({ labels, truth, scores: [] })).toThrow(/scores has 0 rows but truth has 1/);
    expect(() => evaluateMultiLabel({ labels, truth: [[1, 2]], scores: [[0.1, 0.2]] })).toThrow(
      /truth\[0\]\[1\] must be true\/false or 1\/0, got 2/,
    );
    expect(() => evaluateMultiLabel({ labels, truth: [[1]], scores: [[0.1, 0.2]] })).toThrow(
      /truth\[0\] has 1 entries but there are 2 labels/,
    );
    expect(() => evaluateMultiLabel({ labels, truth, scores: [[0.1, NaN]] })).toThrow(/scores\[0\]\[1\] is NaN/);
    expect(() => evaluateMultiLabel({ labels, truth, scores: [[0.1, 2.3]] })).toThrow(
      /scores\[0\]\[1\] = 2.3 is not a probability/,
    );
    expect(() => evaluateMultiLabel({ labels, truth, scores: [[0.1]] })).toThrow(/scores\[0\] has 1 entries/);
    expect(() => evaluateMultiLabel({ labels, truth, scores: [[0.1, 0.2]], threshold: NaN })).toThrow(
      /threshold must be a finite number/,
    );
    expect(() => evaluateMultiLabel({ labels, truth: [], scores: [] })).toThrow(/truth is empty/);
  });
});
