// The ONNX training step of the linear head against a plain-JS computation of the same loss, gradients and Adam step.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import {
  buildInferenceGraph,
  buildScoringGraph,
  buildTrainingStepGraph,
  type HeadKind,
  STEP_INPUTS,
  STEP_OUTPUTS,
} from '../../src/train/headGraph';
import type { AdamState } from '../../src/train/trainHead';
import { seededRandom } from '../../src/util/seededRandom';

const B = 7;
const D = 5;
const C = 3;

type State = AdamState;

function randomArray(length: number, random: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
}

function oneHot(labels: number[], classes: number): Float32Array {
  const y = new Float32Array(labels.length * classes);
  labels.forEach((label, i) => (y[i * classes + label] = 1));
  return y;
}

/** Loss of the head in float64, the reference the graph must match. */
function jsLoss(
  kind: HeadKind,
  x: Float32Array,
  y: Float32Array,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  l2: number,
  n: number,
): { loss: number; dLogits: Float64Array } {
  let total = 0;
  const dLogits = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: C }, (_, c) => {
      let s = b[c]!;
      for (let d = 0; d < D; d++) s += x[i * D + d]! * w[d * C + c]!;
      return s;
    });
    if (kind === 'softmax') {
      const max = Math.max(...z);
      const sum = z.reduce((a, v) => a + Math.exp(v - max), 0);
      for (let c = 0; c < C; c++) {
        const logp = z[c]! - max - Math.log(sum);
        total -= y[i * C + c]! * logp;
        dLogits[i * C + c] = (Math.exp(logp) - y[i * C + c]!) / n;
      }
    } else {
      for (let c = 0; c < C; c++) {
        const p = 1 / (1 + Math.exp(-z[c]!));
        total += -y[i * C + c]! * Math.log(p) - (1 - y[i * C + c]!) * Math.log(1 - p);
        dLogits[i * C + c] = (p - y[i * C + c]!) / n;
      }
    }
  }
  let sq = 0;
  for (let k = 0; k < D * C; k++) sq += w[k]! * w[k]!;
  return { loss: total / n + 0.5 * l2 * sq, dLogits };
}

async function stepSession(kind: HeadKind): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(buildTrainingStepGraph(D, C, kind), { executionProviders: ['cpu'] });
}

async function runStep(
  session: ort.InferenceSession,
  x: Float32Array,
  y: Float32Array,
  n: number,
  s: State,
  hyper: { lr: number; l2: number; decay: number },
) {
  const f = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
  const out = await session.run({
    [STEP_INPUTS.x]: f(x, [n, D]),
    [STEP_INPUTS.y]: f(y, [n, C]),
    [STEP_INPUTS.w]: f(s.w, [D, C]),
    [STEP_INPUTS.b]: f(s.b, [C]),
    [STEP_INPUTS.mW]: f(s.mW, [D, C]),
    [STEP_INPUTS.vW]: f(s.vW, [D, C]),
    [STEP_INPUTS.mb]: f(s.mb, [C]),
    [STEP_INPUTS.vb]: f(s.vb, [C]),
    [STEP_INPUTS.t]: f(new Float32Array([s.t]), [1]),
    [STEP_INPUTS.learningRate]: f(new Float32Array([hyper.lr]), [1]),
    [STEP_INPUTS.l2]: f(new Float32Array([hyper.l2]), [1]),
    [STEP_INPUTS.decay]: f(new Float32Array([hyper.decay]), [1]),
  });
  const get = (name: string) => out[name]!.data as Float32Array;
  return {
    loss: get(STEP_OUTPUTS.loss)[0]!,
    gradW: get(STEP_OUTPUTS.gradW),
    gradB: get(STEP_OUTPUTS.gradB),
    next: {
      w: get(STEP_OUTPUTS.w),
      b: get(STEP_OUTPUTS.b),
      mW: get(STEP_OUTPUTS.mW),
      vW: get(STEP_OUTPUTS.vW),
      mb: get(STEP_OUTPUTS.mb),
      vb: get(STEP_OUTPUTS.vb),
      t: get(STEP_OUTPUTS.t)[0]!,
    } satisfies State,
  };
}

function freshState(random: () => number): State {
  return {
    w: randomArray(D * C, random, 0.5),
    b: randomArray(C, random, 0.5),
    mW: new Float32Array(D * C),
    vW: new Float32Array(D * C),
    mb: new Float32Array(C),
    vb: new Float32Array(C),
    t: 0,
  };
}

describe.each<HeadKind>(['softmax', 'sigmoid'])('training step (%s)', (kind) => {
  it('matches the JS loss, analytic and finite-difference gradients, and the Adam update', async () => {
    const random = seededRandom(kind === 'softmax' ? 1 : 2);
    const x = randomArray(B * D, random, 2);
    const labels = Array.from({ length: B }, () => Math.floor(random() * C));
    // Label-smoothed targets for softmax (rows still sum to 1), independent 0/1 targets for sigmoid.
    const y =
      kind === 'softmax'
        ? oneHot(labels, C).map((v) => v * 0.9 + 0.1 / C)
        : Float32Array.from({ length: B * C }, () => (random() < 0.4 ? 1 : 0));
    const state = freshState(random);
    // Pretend some steps were taken so the moment terms matter.
    state.mW = randomArray(D * C, random, 0.1);
    state.vW = randomArray(D * C, random, 0.01).map(Math.abs);
    state.mb = randomArray(C, random, 0.1);
    state.vb = randomArray(C, random, 0.01).map(Math.abs);
    state.t = 3;
    const hyper = { lr: 0.01, l2: 0.05, decay: 0.02 };
    const session = await stepSession(kind);
    const result = await runStep(session, x, y, B, state, hyper);

    const reference = jsLoss(kind, x, y, state.w, state.b, hyper.l2, B);
    expect(result.loss).toBeCloseTo(reference.loss, 5);
    // Analytic: dW = Xᵀ dlogits + l2·W, db = Σ_rows dlogits.
    const gradW = new Float64Array(D * C);
    const gradB = new Float64Array(C);
    for (let i = 0; i < B; i++) {
      for (let c = 0; c < C; c++) {
        gradB[c]! += reference.dLogits[i * C + c]!;
        for (let d = 0; d < D; d++) gradW[d * C + c]! += x[i * D + d]! * reference.dLogits[i * C + c]!;
      }
    }
    for (let k = 0; k < D * C; k++) gradW[k]! += hyper.l2 * state.w[k]!;
    for (let k = 0; k < D * C; k++) expect(result.gradW[k]!).toBeCloseTo(gradW[k]!, 5);
    for (let c = 0; c < C; c++) expect(result.gradB[c]!).toBeCloseTo(gradB[c]!, 5);

    // Central finite differences of the float64 loss: checks the formula itself, not just its transcription.
    const h = 1e-5;
    const w64 = Float64Array.from(state.w);
    for (let k = 0; k < D * C; k++) {
      const plus = Float64Array.from(w64);
      const minus = Float64Array.from(w64);
      plus[k]! += h;
      minus[k]! -= h;
      const numeric =
        (jsLoss(kind, x, y, plus, state.b, hyper.l2, B).loss - jsLoss(kind, x, y, minus, state.b, hyper.l2, B).loss) /
        (2 * h);
      expect(result.gradW[k]!).toBeCloseTo(numeric, 4);
    }

    // AdamW update in JS.
    const t = state.t + 1;
    expect(result.next.t).toBe(t);
    const adam = (p: number, g: number, m: number, v: number, decayed: boolean) => {
      const m2 = 0.9 * m + 0.1 * g;
      const v2 = 0.999 * v + 0.001 * g * g;
      const direction =
        m2 / (1 - 0.9 ** t) / (Math.sqrt(v2 / (1 - 0.999 ** t)) + 1e-8) + (decayed ? hyper.decay * p : 0);
      return { p: p - hyper.lr * direction, m: m2, v: v2 };
    };
    for (let k = 0; k < D * C; k++) {
      const e = adam(state.w[k]!, gradW[k]!, state.mW[k]!, state.vW[k]!, true);
      expect(result.next.w[k]!).toBeCloseTo(e.p, 5);
      expect(result.next.mW[k]!).toBeCloseTo(e.m, 6);
      expect(result.next.vW[k]!).toBeCloseTo(e.v, 7);
    }
    for (let c = 0; c < C; c++) {
      const e = adam(state.b[c]!, gradB[c]!, state.mb[c]!, state.vb[c]!, false);
      expect(result.next.b[c]!).toBeCloseTo(e.p, 5);
    }
    await session.release();
  });

  it('decreases the loss on a separable toy problem and then classifies it', async () => {
    const random = seededRandom(7);
    const n = 60;
    const labels = Array.from({ length: n }, (_, i) => i % C);
    // Class c sits around +3 on feature c: linearly separable.
    const x = Float32Array.from(
      { length: n * D },
      (_, k) => (k % D === labels[Math.floor(k / D)]! ? 3 : 0) + (random() - 0.5),
    );
    const y = oneHot(labels, C);
    const session = await stepSession(kind);
    let state = freshState(random);
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) {
      const result = await runStep(session, x, y, n, state, { lr: 0.05, l2: 0, decay: 0 });
      losses.push(result.loss);
      state = result.next;
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.3);
    for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThan(losses[i - 1]! + 1e-3);

    // Both scoring graphs give the same probabilities, and they classify the training set.
    const scoring = await ort.InferenceSession.create(buildScoringGraph(D, C, kind));
    const scored = (
      await scoring.run({
        X: new ort.Tensor('float32', x, [n, D]),
        W: new ort.Tensor('float32', state.w, [D, C]),
        b: new ort.Tensor('float32', state.b, [C]),
      })
    )['probabilities']!.data as Float32Array;
    const inference = await ort.InferenceSession.create(buildInferenceGraph(state.w, state.b, D, C, kind));
    const inferred = (await inference.run({ features: new ort.Tensor('float32', x, [n, D]) }))['probabilities']!
      .data as Float32Array;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const row = Array.from(scored.subarray(i * C, (i + 1) * C));
      if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
      if (kind === 'softmax') expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
    }
    expect(correct).toBe(n);
    for (let k = 0; k < n * C; k++) expect(inferred[k]!).toBeCloseTo(scored[k]!, 6);
    await Promise.all([session.release(), scoring.release(), inference.release()]);
  });
});
