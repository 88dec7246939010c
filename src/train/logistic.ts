// L2-regularised logistic regression on backbone features, fitted to convergence with L-BFGS: the objective and
// its gradient over the whole data set are one ONNX graph (headGraph.ts) run by ONNX Runtime, the quasi-Newton
// bookkeeping is here, in double precision. Softmax (multinomial) for single-label data, one sigmoid per label for
// multi-label data, each label with its own strength. The textbook linear probe, as scikit-learn's lbfgs solver
// fits it, with no validation part spent on deciding when to stop.
import * as ort from 'onnxruntime-node';

import { ProgrammingError } from '../errors';
import { buildLossGradientGraph, GRADIENT_INPUTS, GRADIENT_OUTPUTS, type HeadKind } from './headGraph';

/** A data set in the solver's form: rows × features, and rows × classes targets (one-hot, or 0/1 per label). */
export interface LogisticData {
  x: Float32Array;
  y: Float32Array;
  rows: number;
}

export interface LogisticParameters {
  /** [D,C] row-major. */
  weights: Float32Array;
  bias: Float32Array;
}

export interface LogisticFit extends LogisticParameters {
  /** The objective at the solution: mean (binary) cross-entropy plus the L2 term. */
  loss: number;
  iterations: number;
  /** Whether the gradient fell under the tolerance (or the objective stopped moving) before maxIterations. */
  converged: boolean;
}

export interface LogisticFitOptions {
  /** L2 strength: one for all classes, or one per class ([C], multi-label heads). */
  l2: number | Float32Array;
  /** Starting point (a warm start from a nearby strength); default zeros. */
  initial?: LogisticParameters;
  /** Default 500. */
  maxIterations?: number;
  /** Converged when every gradient component is at most this; default 1e-4 (scikit-learn's tol). */
  gradientTolerance?: number;
}

/** Pairs of steps and gradient changes L-BFGS keeps (scikit-learn's and SciPy's default: 10). */
const HISTORY = 10;

export class LogisticSolver {
  private constructor(
    readonly kind: HeadKind,
    readonly featureCount: number,
    readonly classCount: number,
    private readonly session: ort.InferenceSession,
  ) {}

  /** One session per (features, classes, kind); reuse it for every fit of a search. */
  static async create(featureCount: number, classCount: number, kind: HeadKind): Promise<LogisticSolver> {
    if (!Number.isInteger(classCount) || classCount < 2)
      throw new ProgrammingError(`classCount must be an integer of at least 2, got ${classCount}`);
    const session = await ort.InferenceSession.create(buildLossGradientGraph(featureCount, classCount, kind), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      // One thread: these GEMMs are thin (C columns), too small for a second thread to pay for its synchronisation
      // (it was slower when measured on 2 cores).
      intraOpNumThreads: 1,
    });
    return new LogisticSolver(kind, featureCount, classCount, session);
  }

  release(): Promise<void> {
    return this.session.release();
  }

  /** Minimises mean cross-entropy + Σ_c l2_c/2·‖W_c‖² (the bias is not penalised). */
  async fit(data: LogisticData, options: LogisticFitOptions): Promise<LogisticFit> {
    const D = this.featureCount;
    const C = this.classCount;
    if (data.x.length !== data.rows * D || data.y.length !== data.rows * C) {
      throw new ProgrammingError(
        `data has ${data.x.length} feature and ${data.y.length} target values for ${data.rows} rows of ${D} features and ${C} classes`,
      );
    }
    if (data.rows < 1) throw new ProgrammingError('data has no rows');
    const l2 = typeof options.l2 === 'number' ? new Float32Array(C).fill(options.l2) : options.l2;
    if (l2.length !== C || l2.some((v) => !(v >= 0) || !Number.isFinite(v)))
      throw new ProgrammingError(`l2 must be a non-negative number or ${C} of them`);
    const maxIterations = options.maxIterations ?? 500;
    const tolerance = options.gradientTolerance ?? 1e-4;
    const P = D * C + C;
    const x = new ort.Tensor('float32', data.x, [data.rows, D]);
    const y = new ort.Tensor('float32', data.y, [data.rows, C]);
    const l2Tensor = new ort.Tensor('float32', l2, [C]);
    const w32 = new Float32Array(D * C);
    const b32 = new Float32Array(C);
    const evaluate = async (theta: Float64Array, gradient: Float64Array): Promise<number> => {
      for (let i = 0; i < D * C; i++) w32[i] = theta[i]!;
      for (let c = 0; c < C; c++) b32[c] = theta[D * C + c]!;
      const out = await this.session.run({
        [GRADIENT_INPUTS.x]: x,
        [GRADIENT_INPUTS.y]: y,
        [GRADIENT_INPUTS.w]: new ort.Tensor('float32', w32, [D, C]),
        [GRADIENT_INPUTS.b]: new ort.Tensor('float32', b32, [C]),
        [GRADIENT_INPUTS.l2]: l2Tensor,
      });
      const gW = out[GRADIENT_OUTPUTS.gradW]!.data as Float32Array;
      const gB = out[GRADIENT_OUTPUTS.gradB]!.data as Float32Array;
      gradient.set(gW);
      gradient.set(gB, D * C);
      const loss = (out[GRADIENT_OUTPUTS.loss]!.data as Float32Array)[0]!;
      if (!Number.isFinite(loss)) throw new Error(`logistic regression diverged (objective ${loss})`);
      return loss;
    };

    const theta = new Float64Array(P);
    if (options.initial) {
      theta.set(options.initial.weights);
      theta.set(options.initial.bias, D * C);
    }
    const gradient = new Float64Array(P);
    let loss = await evaluate(theta, gradient);
    const steps: Float64Array[] = [];
    const changes: Float64Array[] = [];
    const rhos: number[] = [];
    const direction = new Float64Array(P);
    const candidate = new Float64Array(P);
    const candidateGradient = new Float64Array(P);
    const alphas = new Float64Array(HISTORY);
    let iterations = 0;
    let converged = maxAbs(gradient) <= tolerance;
    let stalls = 0;
    while (!converged && iterations < maxIterations) {
      iterations++;
      // Two-loop recursion: direction = -H·g with H the L-BFGS inverse-Hessian estimate.
      for (let i = 0; i < P; i++) direction[i] = -gradient[i]!;
      for (let k = steps.length - 1; k >= 0; k--) {
        alphas[k] = rhos[k]! * dot(steps[k]!, direction);
        axpy(-alphas[k]!, changes[k]!, direction);
      }
      if (steps.length > 0) {
        const last = steps.length - 1;
        scale(dot(steps[last]!, changes[last]!) / dot(changes[last]!, changes[last]!), direction);
      } else {
        // The first step: a short one along the gradient, so the line search starts near the right scale.
        scale(1 / Math.max(1, Math.sqrt(dot(gradient, gradient))), direction);
      }
      for (let k = 0; k < steps.length; k++) {
        const beta = rhos[k]! * dot(changes[k]!, direction);
        axpy(alphas[k]! - beta, steps[k]!, direction);
      }
      let slope = dot(gradient, direction);
      if (!(slope < 0)) {
        // Not a descent direction (float32 noise in the gradient): restart from steepest descent.
        steps.length = 0;
        changes.length = 0;
        rhos.length = 0;
        for (let i = 0; i < P; i++) direction[i] = -gradient[i]!;
        scale(1 / Math.max(1, Math.sqrt(dot(gradient, gradient))), direction);
        slope = dot(gradient, direction);
      }
      // Backtracking line search with the Armijo condition; each retry at the minimum of the quadratic through the
      // objective and slope at 0 and the objective at the rejected step, kept within [0.1, 0.5] of that step.
      let step = 1;
      let accepted = false;
      let candidateLoss = loss;
      for (let tries = 0; tries < 30; tries++) {
        for (let i = 0; i < P; i++) candidate[i] = theta[i]! + step * direction[i]!;
        candidateLoss = await evaluate(candidate, candidateGradient);
        if (candidateLoss <= loss + 1e-4 * step * slope) {
          accepted = true;
          break;
        }
        const curvatureEstimate = candidateLoss - loss - slope * step;
        const minimum = curvatureEstimate > 0 ? (-slope * step * step) / (2 * curvatureEstimate) : 0.5 * step;
        step = Math.min(0.5 * step, Math.max(0.1 * step, Number.isFinite(minimum) ? minimum : 0.5 * step));
      }
      if (!accepted) {
        // No decrease is measurable in float32 any more: as converged as this precision allows.
        converged = true;
        break;
      }
      const s = new Float64Array(P);
      const yChange = new Float64Array(P);
      for (let i = 0; i < P; i++) {
        s[i] = candidate[i]! - theta[i]!;
        yChange[i] = candidateGradient[i]! - gradient[i]!;
      }
      const curvature = dot(s, yChange);
      if (curvature > 1e-12) {
        if (steps.length === HISTORY) {
          steps.shift();
          changes.shift();
          rhos.shift();
        }
        steps.push(s);
        changes.push(yChange);
        rhos.push(1 / curvature);
      }
      const decrease = loss - candidateLoss;
      theta.set(candidate);
      gradient.set(candidateGradient);
      loss = candidateLoss;
      stalls = decrease <= 1e-9 * Math.max(1, Math.abs(loss)) ? stalls + 1 : 0;
      converged = maxAbs(gradient) <= tolerance || stalls >= 3;
    }
    const weights = new Float32Array(D * C);
    const bias = new Float32Array(C);
    for (let i = 0; i < D * C; i++) weights[i] = theta[i]!;
    for (let c = 0; c < C; c++) bias[c] = theta[D * C + c]!;
    return { weights, bias, loss, iterations, converged };
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i]! += alpha * x[i]!;
}

function scale(alpha: number, x: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i]! *= alpha;
}

function maxAbs(x: Float64Array): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]!));
  return max;
}
