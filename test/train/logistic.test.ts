// The full-batch logistic regression: its loss-and-gradient graph against a plain computation and finite
// differences, and the L-BFGS fit reaching a point where the (independently computed) gradient vanishes, the same
// from any start, for softmax and per-label-regularised sigmoid heads.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { ProgrammingError } from '../../src/errors';
import { buildLossGradientGraph, GRADIENT_INPUTS, GRADIENT_OUTPUTS, type HeadKind } from '../../src/train/headGraph';
import { type LogisticData, LogisticSolver } from '../../src/train/logistic';
import { seededRandom } from '../../src/util/seededRandom';

const D = 7;
const C = 3;

/** Rows around a class mean each, overlapping enough that the unregularised optimum is finite. */
function problem(kind: HeadKind, rows = 40, seed = 1): LogisticData {
  const random = seededRandom(seed);
  const x = new Float32Array(rows * D);
  const y = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const label = r % C;
    for (let d = 0; d < D; d++) x[r * D + d] = (d % C === label ? 1 : 0) + (random() - 0.5) * 2.5;
    if (kind === 'softmax') y[r * C + label] = 1;
    else for (let c = 0; c < C; c++) y[r * C + c] = c === label || random() < 0.2 ? 1 : 0;
  }
  return { x, y, rows };
}

/** The objective and its gradient in double precision, written out plainly. */
function reference(
  kind: HeadKind,
  data: LogisticData,
  w: Float64Array,
  b: Float64Array,
  l2: number[],
): { loss: number; gradW: Float64Array; gradB: Float64Array } {
  const gradW = new Float64Array(D * C);
  const gradB = new Float64Array(C);
  let loss = 0;
  for (let r = 0; r < data.rows; r++) {
    const z = Array.from(
      { length: C },
      (_, c) =>
        b[c]! + Array.from({ length: D }, (_, d) => data.x[r * D + d]! * w[d * C + c]!).reduce((a, v) => a + v, 0),
    );
    let p: number[];
    if (kind === 'softmax') {
      const max = Math.max(...z);
      const e = z.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, v) => a + v, 0);
      p = e.map((v) => v / sum);
      for (let c = 0; c < C; c++) loss -= (data.y[r * C + c]! * Math.log(p[c]!)) / data.rows;
    } else {
      p = z.map((v) => 1 / (1 + Math.exp(-v)));
      for (let c = 0; c < C; c++) loss += (Math.log(1 + Math.exp(z[c]!)) - data.y[r * C + c]! * z[c]!) / data.rows;
    }
    for (let c = 0; c < C; c++) {
      const g = (p[c]! - data.y[r * C + c]!) / data.rows;
      gradB[c]! += g;
      for (let d = 0; d < D; d++) gradW[d * C + c]! += g * data.x[r * D + d]!;
    }
  }
  for (let d = 0; d < D; d++) {
    for (let c = 0; c < C; c++) {
      loss += (l2[c]! / 2) * w[d * C + c]! ** 2;
      gradW[d * C + c]! += l2[c]! * w[d * C + c]!;
    }
  }
  return { loss, gradW, gradB };
}

describe('the loss-and-gradient graph', () => {
  for (const kind of ['softmax', 'sigmoid'] as const) {
    it(`gives the ${kind} objective and gradient of a plain computation`, async () => {
      const data = problem(kind);
      const random = seededRandom(5);
      const w = Float64Array.from({ length: D * C }, () => random() - 0.5);
      const b = Float64Array.from({ length: C }, () => random() - 0.5);
      const l2 = [0.1, 0.01, 0.3];
      const session = await ort.InferenceSession.create(buildLossGradientGraph(D, C, kind));
      const out = await session.run({
        [GRADIENT_INPUTS.x]: new ort.Tensor('float32', data.x, [data.rows, D]),
        [GRADIENT_INPUTS.y]: new ort.Tensor('float32', data.y, [data.rows, C]),
        [GRADIENT_INPUTS.w]: new ort.Tensor('float32', Float32Array.from(w), [D, C]),
        [GRADIENT_INPUTS.b]: new ort.Tensor('float32', Float32Array.from(b), [C]),
        [GRADIENT_INPUTS.l2]: new ort.Tensor('float32', Float32Array.from(l2), [C]),
      });
      await session.release();
      const expected = reference(kind, data, w, b, l2);
      expect((out[GRADIENT_OUTPUTS.loss]!.data as Float32Array)[0]).toBeCloseTo(expected.loss, 5);
      (out[GRADIENT_OUTPUTS.gradW]!.data as Float32Array).forEach((g, i) =>
        expect(g).toBeCloseTo(expected.gradW[i]!, 5),
      );
      (out[GRADIENT_OUTPUTS.gradB]!.data as Float32Array).forEach((g, i) =>
        expect(g).toBeCloseTo(expected.gradB[i]!, 5),
      );
      // And the gradient is the objective's: central differences on one weight and one bias.
      const h = 1e-5;
      for (const [array, index, grad] of [
        [w, 4, expected.gradW[4]!],
        [b, 1, expected.gradB[1]!],
      ] as const) {
        array[index]! += h;
        const up = reference(kind, data, w, b, l2).loss;
        array[index]! -= 2 * h;
        const down = reference(kind, data, w, b, l2).loss;
        array[index]! += h;
        expect((up - down) / (2 * h)).toBeCloseTo(grad, 6);
      }
    });
  }
});

describe('LogisticSolver', () => {
  for (const kind of ['softmax', 'sigmoid'] as const) {
    it(`fits the ${kind} head to a point where the gradient vanishes, whatever the start`, async () => {
      const data = problem(kind, 60, 3);
      const l2 = kind === 'softmax' ? 0.05 : Float32Array.from([0.2, 0.02, 0.05]);
      const solver = await LogisticSolver.create(D, C, kind);
      try {
        const fit = await solver.fit(data, { l2, gradientTolerance: 1e-5 });
        expect(fit.converged).toBe(true);
        const strengths = typeof l2 === 'number' ? [l2, l2, l2] : Array.from(l2);
        const at = reference(kind, data, Float64Array.from(fit.weights), Float64Array.from(fit.bias), strengths);
        expect(Math.max(...at.gradW.map(Math.abs), ...at.gradB.map(Math.abs))).toBeLessThan(1e-4);
        expect(fit.loss).toBeCloseTo(at.loss, 5);
        // Convex: a warm start from elsewhere ends at the same weights.
        const random = seededRandom(9);
        const initial = {
          weights: Float32Array.from({ length: D * C }, () => random() * 2 - 1),
          bias: Float32Array.from({ length: C }, () => random()),
        };
        const again = await solver.fit(data, { l2, gradientTolerance: 1e-5, initial });
        expect(again.loss).toBeCloseTo(fit.loss, 6);
        again.weights.forEach((v, i) => expect(v).toBeCloseTo(fit.weights[i]!, 2));
        // A stronger penalty gives smaller weights.
        const strong = await solver.fit(data, { l2: typeof l2 === 'number' ? l2 * 20 : l2.map((v) => v * 20) });
        const norm = (w: Float32Array) => w.reduce((a, v) => a + v * v, 0);
        expect(norm(strong.weights)).toBeLessThan(norm(fit.weights));
      } finally {
        await solver.release();
      }
    });
  }

  it('names bad arguments', async () => {
    await expect(LogisticSolver.create(D, 1, 'softmax')).rejects.toThrow(
      'classCount must be an integer of at least 2, got 1',
    );
    const solver = await LogisticSolver.create(D, C, 'softmax');
    try {
      const data = problem('softmax');
      await expect(solver.fit({ ...data, rows: data.rows + 1 }, { l2: 0.1 })).rejects.toThrow(ProgrammingError);
      await expect(solver.fit(data, { l2: -1 })).rejects.toThrow('l2 must be a non-negative number or 3 of them');
      await expect(solver.fit(data, { l2: new Float32Array(2) })).rejects.toThrow(
        'l2 must be a non-negative number or 3 of them',
      );
    } finally {
      await solver.release();
    }
  });
});
