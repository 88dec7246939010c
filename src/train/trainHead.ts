// Trains the linear head on backbone features with ONNX Runtime: softmax for single-label data, sigmoid for
// multi-label data. The training-step graph of headGraph.ts runs once per minibatch (Adam), with seeded shuffling,
// early stopping on a stratified validation part of the training data (best weights restored), and optional
// per-dimension standardisation folded into W and b at the end, so that inference stays
// probabilities = softmax(X·W + b) (or sigmoid) on raw features.
import * as ort from 'onnxruntime-node';

import { InvalidArgumentError } from '../errors';
import { isArray } from '../util/isArray';
import { seededRandom } from '../util/seededRandom';
import { shuffle } from '../util/shuffle';
import { resolveProviders } from './executionProviders';
import {
  buildScoringGraph,
  buildTrainingStepGraph,
  type HeadKind,
  SCORE_INPUTS,
  SCORE_OUTPUT,
  STEP_INPUTS,
  STEP_OUTPUTS,
} from './headGraph';
import { MULTI_LABEL, SINGLE_LABEL, taskOfHead, type TaskStrategy } from './task';

export interface TrainHeadOptions {
  /** One vector per row, or all rows flat (N×D, row-major; then featureCount is required). */
  features: readonly Float32Array[] | Float32Array;
  /** Single-label data (a softmax head): the class index of each row. Give this or `labelSets`. */
  labels?: readonly number[];
  /** Multi-label data (a sigmoid head): the class indices each row has, possibly none. Give this or `labels`. */
  labelSets?: readonly (readonly number[])[];
  classCount: number;
  /** D when `features` is flat. */
  featureCount?: number;
  /**
   * Group of each row (e.g. the source image of augmented views): a group goes wholly to training or to validation,
   * so views of one photo never score each other. Default: every row its own group.
   */
  groups?: readonly number[];
  /** Maximum epochs; default 100. */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Adam learning rate; default 1e-3. */
  learningRate?: number;
  /** Default 1e-4; see weightDecayMode. */
  weightDecay?: number;
  /** 'l2': λ/2·‖W‖² in the loss (λW in the gradient); 'decoupled': AdamW. Default 'l2'. */
  weightDecayMode?: 'l2' | 'decoupled';
  /** Target 1-ε on the true class and ε/C spread over all; default 0 (softmax heads only). */
  labelSmoothing?: number;
  /**
   * Share of the groups (stratified by class; for multi-label rows by their rarest label) held out for early stopping
   * and, for sigmoid heads, choosing the decision threshold; 0 trains all epochs on everything. Default 0.2.
   */
  validationShare?: number;
  /** Epochs without a better validation score before stopping; default 15. */
  patience?: number;
  /**
   * After early stopping, train again from scratch on all rows (validation part included) for the best epoch count.
   * Default true: on TrashNet (5-fold, 3 seeds) it added ~1-2 points; the held-out fifth is too valuable to waste.
   */
  refit?: boolean;
  /**
   * Standardise each feature dimension (fitted on the training rows). Default false: on TrashNet ResNet50 features
   * it did not help (81.6% vs 82.1% mean over 3 seeds without refit, 82.2% vs 83.5% with; within seed noise).
   */
  standardize?: boolean;
  seed?: number;
  /** ONNX Runtime providers, default ['cpu']; with 'cuda' the sessions fall back to CPU (logged) when CUDA is not there. */
  executionProviders?: readonly string[];
  /** Warnings (the CUDA fallback); default console.warn. */
  log?: (message: string) => void;
}

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's minibatches (cross-entropy + L2 term). */
  loss: number;
  /** Softmax heads: top-1 accuracy on the validation part (absent without one). */
  validationAccuracy?: number;
  /** Sigmoid heads: mean average precision over the labels on the validation part (absent without one). */
  validationMeanAP?: number;
  /** Cross-entropy (softmax) or binary cross-entropy summed over the labels (sigmoid), per row. */
  validationLoss?: number;
}

export interface TrainedHead {
  kind: HeadKind;
  /** [D,C] row-major, applied to raw (unstandardised) features. */
  weights: Float32Array;
  bias: Float32Array;
  featureCount: number;
  classCount: number;
  history: EpochRecord[];
  /** 1-based epoch whose weights were kept (the last one when there is no validation). */
  bestEpoch: number;
  /**
   * Sigmoid heads: a label is predicted when its probability is at least this. Chosen on the validation part at the
   * best epoch as the threshold that gets the most whole label sets right (0.5 unless another is strictly better,
   * and 0.5 without a validation part).
   */
  threshold?: number;
  /** Providers the sessions actually ran on. */
  executionProviders: string[];
}

/** Trains the head; deterministic for a given seed and inputs. */
export async function trainHead(options: TrainHeadOptions): Promise<TrainedHead> {
  const o = checkOptions(options);
  const { rows, D } = o;
  const C = o.classCount;
  const log = options.log ?? ((message: string) => console.warn(message));
  const providers = await chooseProviders(options.executionProviders ?? ['cpu'], log);
  const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: providers };
  // Created once per run: building a session costs far more than a step.
  const step = await ort.InferenceSession.create(buildTrainingStepGraph(D, C, o.task.head), sessionOptions);
  const score = await ort.InferenceSession.create(buildScoringGraph(D, C, o.task.head), sessionOptions);
  try {
    const { trainRows, validationRows } = splitValidation(o.strata, o.groups, C, o.validationShare, o.seed);
    const first = await runTraining(o, step, score, trainRows, validationRows, o.epochs);
    if (!o.refit || validationRows.length === 0) return { ...first, executionProviders: providers };
    // Refit: the held-out rows are data too; the validation run only chose how long to train (and the threshold).
    const all = rows.map((_, i) => i);
    const refit = await runTraining(o, step, score, all, [], first.bestEpoch);
    return {
      ...refit,
      history: first.history,
      bestEpoch: first.bestEpoch,
      ...(first.threshold !== undefined ? { threshold: first.threshold } : {}),
      executionProviders: providers,
    };
  } finally {
    await Promise.all([step.release(), score.release()]);
  }
}

interface CheckedOptions {
  rows: Float32Array[];
  D: number;
  /** Single-label (labels) or multi-label (labelSets): the head's activation, validation score and threshold. */
  task: TaskStrategy;
  /** Per row, its target vector of C values (one-hot, smoothed, or 0/1 per label). */
  targets: Float32Array[];
  /** Per row, the class its group is stratified by (its class; for multi-label rows their rarest label, or C for none). */
  strata: readonly number[];
  groups: readonly number[];
  classCount: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  weightDecayMode: 'l2' | 'decoupled';
  validationShare: number;
  patience: number;
  refit: boolean;
  standardize: boolean;
  seed: number;
}

function checkOptions(options: TrainHeadOptions): CheckedOptions {
  const C = options.classCount;
  if (!Number.isInteger(C) || C < 2)
    throw new InvalidArgumentError(`classCount must be an integer of at least 2, got ${C}`);
  let rows: Float32Array[];
  let D: number;
  if (options.features instanceof Float32Array) {
    D = options.featureCount ?? 0;
    if (!Number.isInteger(D) || D < 1)
      throw new InvalidArgumentError(
        'featureCount (a positive integer) is required when features is one flat Float32Array',
      );
    if (options.features.length % D !== 0)
      throw new InvalidArgumentError(
        `features has ${options.features.length} values, not a multiple of featureCount ${D}`,
      );
    const flat = options.features;
    rows = Array.from({ length: flat.length / D }, (_, i) => flat.subarray(i * D, (i + 1) * D));
  } else {
    rows = [...options.features];
    D = rows[0]?.length ?? 0;
    if (options.featureCount !== undefined && options.featureCount !== D)
      throw new InvalidArgumentError(`featureCount is ${options.featureCount} but the rows have ${D} values`);
    rows.forEach((row, i) => {
      if (row.length !== D)
        throw new InvalidArgumentError(`features[${i}] has ${row.length} values; features[0] has ${D}`);
    });
  }
  if (rows.length === 0 || D === 0) throw new InvalidArgumentError('features is empty: there is nothing to train on');
  const int = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
    return value;
  };
  const real = (name: string, value: number, min: number, max: number, openMin = false) => {
    if (!Number.isFinite(value) || value < min || value > max || (openMin && value === min))
      throw new InvalidArgumentError(`${name} must be a number in ${openMin ? '(' : '['}${min}, ${max}], got ${value}`);
    return value;
  };
  const isClass = (label: number) => Number.isInteger(label) && label >= 0 && label < C;
  if ((options.labels === undefined) === (options.labelSets === undefined)) {
    throw new InvalidArgumentError(
      'give either labels (one class per row: a softmax head) or labelSets (the classes of each row: a sigmoid head)',
    );
  }
  const field = options.labels ? 'labels' : 'labelSets';
  const count = (options.labels ?? options.labelSets)!.length;
  if (count !== rows.length)
    throw new InvalidArgumentError(`${field} has ${count} entries for ${rows.length} feature rows`);
  const labelSmoothing = real('labelSmoothing', options.labelSmoothing ?? 0, 0, 0.99);
  let targets: Float32Array[];
  let strata: number[];
  if (options.labels) {
    options.labels.forEach((label, i) => {
      if (!isClass(label)) throw new InvalidArgumentError(`labels[${i}] = ${label} is not a class index 0..${C - 1}`);
    });
    targets = options.labels.map((label) => {
      const y = new Float32Array(C).fill(labelSmoothing / C);
      y[label]! += 1 - labelSmoothing;
      return y;
    });
    strata = [...options.labels];
  } else {
    if (labelSmoothing !== 0)
      throw new InvalidArgumentError('labelSmoothing applies to softmax heads (labels), not to labelSets');
    const sets = options.labelSets!;
    sets.forEach((set, i) => {
      if (!isArray(set)) throw new InvalidArgumentError(`labelSets[${i}] must be an array of class indices`);
      set.forEach((label, j) => {
        if (!isClass(label))
          throw new InvalidArgumentError(`labelSets[${i}][${j}] = ${label} is not a class index 0..${C - 1}`);
      });
      if (new Set(set).size !== set.length) throw new InvalidArgumentError(`labelSets[${i}] names a class twice`);
    });
    targets = sets.map((set) => {
      const y = new Float32Array(C);
      for (const label of set) y[label] = 1;
      return y;
    });
    // Stratifying by the rarest label keeps rare labels in both parts (as iterative stratification would, roughly).
    strata = rarestLabels(sets, C);
  }
  const groups = options.groups ?? rows.map((_, i) => i);
  if (groups.length !== rows.length)
    throw new InvalidArgumentError(`groups has ${groups.length} entries for ${rows.length} feature rows`);
  const mode = options.weightDecayMode ?? 'l2';
  if (mode !== 'l2' && mode !== 'decoupled')
    throw new InvalidArgumentError(`weightDecayMode must be "l2" or "decoupled", got ${String(mode)}`);
  return {
    rows,
    D,
    task: options.labels ? SINGLE_LABEL : MULTI_LABEL,
    targets,
    strata,
    groups,
    classCount: C,
    epochs: int('epochs', options.epochs ?? 100, 1, 100_000),
    batchSize: int('batchSize', options.batchSize ?? 32, 1, 65_536),
    learningRate: real('learningRate', options.learningRate ?? 1e-3, 0, 10, true),
    weightDecay: real('weightDecay', options.weightDecay ?? 1e-4, 0, 10),
    weightDecayMode: mode,
    validationShare: real('validationShare', options.validationShare ?? 0.2, 0, 0.9),
    patience: int('patience', options.patience ?? 15, 1, 100_000),
    refit: options.refit ?? true,
    standardize: options.standardize ?? false,
    seed: int('seed', options.seed ?? 0, -(2 ** 31), 2 ** 32 - 1),
  };
}

/** The providers the head's sessions run on, probed with the smallest graph (a probe costs next to nothing). */
async function chooseProviders(requested: readonly string[], log: (message: string) => void): Promise<string[]> {
  if (requested.length > 0 && requested.every((p) => p === 'cpu')) return ['cpu'];
  // Severity 4 (fatal only): ORT's own error line would duplicate the warning.
  const probe = await resolveProviders(buildScoringGraph(1, 2), requested, {
    purpose: 'the head',
    log,
    sessionOptions: { logSeverityLevel: 4 },
  });
  await probe.session.release();
  return probe.providers;
}

/** Each multi-label row's rarest label over all rows (the stratum it is split by), or `classCount` for a row without labels. */
export function rarestLabels(labelSets: readonly (readonly number[])[], classCount: number): number[] {
  const frequency = new Array<number>(classCount).fill(0);
  for (const set of labelSets) for (const label of set) frequency[label]! += 1;
  return labelSets.map((set) =>
    set.length === 0
      ? classCount
      : set.reduce((rarest, label) => (frequency[label]! < frequency[rarest]! ? label : rarest)),
  );
}

/**
 * Stratified over groups: each class gives round(share × its groups) groups (at least one when it has two or more).
 * A group's rows all land on one side. Exported for its test.
 */
export function splitValidation(
  strata: readonly number[],
  groups: readonly number[],
  classCount: number,
  share: number,
  seed: number,
): { trainRows: number[]; validationRows: number[] } {
  const all = strata.map((_, i) => i);
  if (share === 0) return { trainRows: all, validationRows: [] };
  const groupClass = new Map<number, number>();
  strata.forEach((label, i) => {
    const group = groups[i]!;
    const known = groupClass.get(group);
    if (known === undefined) groupClass.set(group, label);
    else if (known !== label)
      throw new InvalidArgumentError(
        `group ${group} holds rows of classes ${known} and ${label}; a group's rows must have the same labels`,
      );
  });
  // One more stratum for multi-label rows without any label.
  const byClass = Array.from({ length: classCount + 1 }, () => [] as number[]);
  for (const [group, label] of [...groupClass].sort((a, b) => a[0] - b[0])) byClass[label]!.push(group);
  const random = seededRandom(seed ^ 0x5eed);
  const held = new Set<number>();
  for (const members of byClass) {
    shuffle(members, random);
    const take = members.length < 2 ? 0 : Math.min(members.length - 1, Math.max(1, Math.round(share * members.length)));
    for (const group of members.slice(0, take)) held.add(group);
  }
  return {
    trainRows: all.filter((i) => !held.has(groups[i]!)),
    validationRows: all.filter((i) => held.has(groups[i]!)),
  };
}

/** The head's weights and Adam's moments, as the training-step graph reads and writes them. */
export interface AdamState {
  w: Float32Array;
  b: Float32Array;
  mW: Float32Array;
  vW: Float32Array;
  mb: Float32Array;
  vb: Float32Array;
  t: number;
}

async function runTraining(
  o: CheckedOptions,
  step: ort.InferenceSession,
  score: ort.InferenceSession,
  trainRows: number[],
  validationRows: number[],
  epochs: number,
): Promise<Omit<TrainedHead, 'executionProviders'>> {
  const { D, rows, targets } = o;
  const C = o.classCount;
  // Standardisation fitted on the training rows only; σ floored so dead (always-zero) ReLU features stay zero.
  const mean = new Float64Array(D);
  const scale = new Float64Array(D).fill(1);
  if (o.standardize) {
    const sq = new Float64Array(D);
    for (const i of trainRows) {
      const row = rows[i]!;
      for (let d = 0; d < D; d++) {
        mean[d]! += row[d]!;
        sq[d]! += row[d]! * row[d]!;
      }
    }
    for (let d = 0; d < D; d++) {
      mean[d]! /= trainRows.length;
      const variance = Math.max(0, sq[d]! / trainRows.length - mean[d]! ** 2);
      scale[d] = Math.sqrt(variance) > 1e-6 ? 1 / Math.sqrt(variance) : 1;
    }
  }
  const copyRows = (indices: readonly number[], into: Float32Array) => {
    indices.forEach((i, r) => {
      const row = rows[i]!;
      const offset = r * D;
      for (let d = 0; d < D; d++) into[offset + d] = (row[d]! - mean[d]!) * scale[d]!;
    });
  };
  const validationX = new Float32Array(validationRows.length * D);
  copyRows(validationRows, validationX);

  let state: AdamState = {
    w: new Float32Array(D * C),
    b: new Float32Array(C),
    mW: new Float32Array(D * C),
    vW: new Float32Array(D * C),
    mb: new Float32Array(C),
    vb: new Float32Array(C),
    t: 0,
  };
  const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
  const hyper = {
    [STEP_INPUTS.learningRate]: tensor(new Float32Array([o.learningRate]), [1]),
    [STEP_INPUTS.l2]: tensor(new Float32Array([o.weightDecayMode === 'l2' ? o.weightDecay : 0]), [1]),
    [STEP_INPUTS.decay]: tensor(new Float32Array([o.weightDecayMode === 'decoupled' ? o.weightDecay : 0]), [1]),
  };
  const random = seededRandom(o.seed);
  const order = [...trainRows];
  const batchX = new Float32Array(Math.min(o.batchSize, order.length) * D);
  const batchY = new Float32Array(Math.min(o.batchSize, order.length) * C);
  const history: EpochRecord[] = [];
  let best: {
    epoch: number;
    score: number;
    loss: number;
    w: Float32Array;
    b: Float32Array;
    probabilities?: Float32Array;
  } = { epoch: 0, score: -1, loss: Infinity, w: state.w, b: state.b };
  let sinceBest = 0;

  for (let epoch = 1; epoch <= epochs; epoch++) {
    shuffle(order, random);
    let lossSum = 0;
    for (let start = 0; start < order.length; start += o.batchSize) {
      const batch = order.slice(start, start + o.batchSize);
      const n = batch.length;
      copyRows(batch, batchX);
      batch.forEach((i, r) => batchY.set(targets[i]!, r * C));
      const out = await step.run({
        [STEP_INPUTS.x]: tensor(batchX.subarray(0, n * D), [n, D]),
        [STEP_INPUTS.y]: tensor(batchY.subarray(0, n * C), [n, C]),
        [STEP_INPUTS.w]: tensor(state.w, [D, C]),
        [STEP_INPUTS.b]: tensor(state.b, [C]),
        [STEP_INPUTS.mW]: tensor(state.mW, [D, C]),
        [STEP_INPUTS.vW]: tensor(state.vW, [D, C]),
        [STEP_INPUTS.mb]: tensor(state.mb, [C]),
        [STEP_INPUTS.vb]: tensor(state.vb, [C]),
        [STEP_INPUTS.t]: tensor(new Float32Array([state.t]), [1]),
        ...hyper,
      });
      const get = (name: string) => out[name]!.data as Float32Array;
      const loss = get(STEP_OUTPUTS.loss)[0]!;
      if (!Number.isFinite(loss))
        throw new Error(
          `training diverged at epoch ${epoch} (loss ${loss}); lower learningRate (now ${o.learningRate})`,
        );
      lossSum += loss * n;
      state = {
        w: get(STEP_OUTPUTS.w),
        b: get(STEP_OUTPUTS.b),
        mW: get(STEP_OUTPUTS.mW),
        vW: get(STEP_OUTPUTS.vW),
        mb: get(STEP_OUTPUTS.mb),
        vb: get(STEP_OUTPUTS.vb),
        t: get(STEP_OUTPUTS.t)[0]!,
      };
    }
    const record: EpochRecord = { epoch, loss: lossSum / order.length };
    if (validationRows.length > 0) {
      const out = await score.run({
        [SCORE_INPUTS.x]: tensor(validationX, [validationRows.length, D]),
        [SCORE_INPUTS.w]: tensor(state.w, [D, C]),
        [SCORE_INPUTS.b]: tensor(state.b, [C]),
      });
      const p = out[SCORE_OUTPUT]!.data as Float32Array;
      const { score: validationScore, loss } = o.task.scoreValidation(p, validationRows, targets, C);
      record[o.task.validationField] = validationScore;
      record.validationLoss = loss;
      // Scores on a few dozen rows move in coarse steps; the validation loss breaks ties.
      if (validationScore > best.score || (validationScore === best.score && loss < best.loss)) {
        best = { epoch, score: validationScore, loss, w: state.w, b: state.b, probabilities: p };
        sinceBest = 0;
      } else sinceBest++;
    } else {
      best = { epoch, score: -1, loss: record.loss, w: state.w, b: state.b };
    }
    history.push(record);
    if (sinceBest >= o.patience) break;
  }

  // Fold the standardisation in: (x - μ)·s·W + b = x·(s∘W) + (b - Σ_d μ_d s_d W_d).
  const weights = new Float32Array(D * C);
  const bias = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let shift = best.b[c]!;
    for (let d = 0; d < D; d++) {
      const w = best.w[d * C + c]! * scale[d]!;
      weights[d * C + c] = w;
      shift -= mean[d]! * w;
    }
    bias[c] = shift;
  }
  const head = { kind: o.task.head, weights, bias, featureCount: D, classCount: C, history, bestEpoch: best.epoch };
  const threshold = o.task.decisionThreshold(
    best.probabilities ? heldOutRows(best.probabilities, validationRows, targets, C) : undefined,
  );
  return threshold === undefined ? head : { ...head, threshold };
}

/** Validation rows as 0/1 truth and probability rows: what the decision threshold is chosen on. */
function heldOutRows(p: Float32Array, rows: readonly number[], targets: readonly Float32Array[], C: number) {
  return {
    truth: rows.map((i) => Array.from(targets[i]!, (v) => (v === 1 ? 1 : 0))),
    scores: rows.map((_, r) => Array.from(p.subarray(r * C, (r + 1) * C))),
  };
}

/**
 * The head's probabilities for one feature vector in plain numbers: softmax(x·W + b), or the sigmoid of each logit
 * for a multi-label head. What the fused model computes, in double precision, for evaluation in JavaScript.
 */
export function headProbabilities(
  head: Pick<TrainedHead, 'kind' | 'weights' | 'bias' | 'classCount'>,
  x: Float32Array,
): number[] {
  const C = head.classCount;
  const logits = Float64Array.from(head.bias);
  for (let d = 0; d < x.length; d++) {
    const v = x[d]!;
    if (v === 0) continue; // pooled ReLU features are often exactly zero
    for (let c = 0; c < C; c++) logits[c]! += v * head.weights[d * C + c]!;
  }
  return taskOfHead(head.kind).probabilities(logits);
}
