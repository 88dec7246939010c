// The head's scoring graphs (weights as inputs, or baked in) against the plain-JS probabilities the evaluation uses.
// The loss-and-gradient graph the logistic head is fitted with is checked in logistic.test.ts.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { buildInferenceGraph, buildScoringGraph, type HeadKind } from '../../src/train/headGraph';
import { headProbabilities } from '../../src/train/recipe';
import { seededRandom } from '../../src/util/seededRandom';

const N = 9;
const D = 5;
const C = 3;

function randomArray(length: number, random: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
}

describe.each<HeadKind>(['softmax', 'sigmoid'])('scoring graphs (%s)', (kind) => {
  it('give the same probabilities as each other and as headProbabilities', async () => {
    const random = seededRandom(kind === 'softmax' ? 1 : 2);
    const x = randomArray(N * D, random, 2);
    const w = randomArray(D * C, random);
    const b = randomArray(C, random);
    const scoring = await ort.InferenceSession.create(buildScoringGraph(D, C, kind));
    const inference = await ort.InferenceSession.create(buildInferenceGraph(w, b, D, C, kind));
    try {
      const scored = (
        await scoring.run({
          X: new ort.Tensor('float32', x, [N, D]),
          W: new ort.Tensor('float32', w, [D, C]),
          b: new ort.Tensor('float32', b, [C]),
        })
      )['probabilities']!.data as Float32Array;
      const inferred = (await inference.run({ features: new ort.Tensor('float32', x, [N, D]) }))['probabilities']!
        .data as Float32Array;
      for (let i = 0; i < N; i++) {
        const expected = headProbabilities(
          { kind, weights: w, bias: b, classCount: C },
          x.subarray(i * D, (i + 1) * D),
        );
        const row = Array.from(scored.subarray(i * C, (i + 1) * C));
        if (kind === 'softmax') expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
        for (let c = 0; c < C; c++) {
          expect(row[c]!).toBeCloseTo(expected[c]!, 6);
          expect(inferred[i * C + c]!).toBeCloseTo(expected[c]!, 6);
        }
      }
    } finally {
      await Promise.all([scoring.release(), inference.release()]);
    }
  });
});

describe('buildInferenceGraph', () => {
  it('refuses weights or biases that do not fit the sizes', () => {
    expect(() => buildInferenceGraph(new Float32Array(14), new Float32Array(3), D, C)).toThrow(
      'weights has 14 values; a 5x3 head needs 15',
    );
    expect(() => buildInferenceGraph(new Float32Array(15), new Float32Array(2), D, C)).toThrow(
      'bias has 2 values; 3 classes need 3',
    );
    expect(() => buildScoringGraph(0, C)).toThrow('featureCount must be a positive integer, got 0');
  });
});
