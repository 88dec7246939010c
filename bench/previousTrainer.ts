/**
 * The previous trainer, kept only as bench:accuracy's point of comparison (the product no longer has it): a linear
 * head on the plain squashed view of each image, trained by minibatch Adam with its default settings (batch 32,
 * learning rate 1e-3, L2 1e-4, at most 100 epochs), early-stopped on a stratified fifth of the training images
 * (patience 15; the best epoch's weights, and for a multi-label head the threshold there), then refitted on all of
 * them for the best epoch count. One ONNX graph is a whole Adam step (forward, loss, analytic gradients, update),
 * run once per minibatch with the parameters and optimizer state fed in and read back. Its figures are those the
 * README's table gives for "previous trainer".
 */
import * as ort from 'onnxruntime-node';

import { SQUASH } from '../src/image/preprocessing';
import { type AttributeValue, OnnxGraphBuilder } from '../src/onnx/onnxModel';
import type { FoldTrainer } from '../src/train/evaluateFolder';
import { rarestLabels } from '../src/train/folds';
import { addLoss, buildScoringGraph, type HeadKind, SCORE_INPUTS, SCORE_OUTPUT } from '../src/train/headGraph';
import { evaluateMultiLabel } from '../src/train/metrics';
import { scoreInputs } from '../src/train/pipeline';
import type { TrainedRecipeHead } from '../src/train/recipe';
import { MULTI_LABEL, type TaskStrategy } from '../src/train/task';
import { seededRandom } from '../src/util/seededRandom';
import { shuffle } from '../src/util/shuffle';

const EPOCHS = 100;
const BATCH_SIZE = 32;
const LEARNING_RATE = 1e-3;
const L2 = 1e-4;
const VALIDATION_SHARE = 0.2;
const PATIENCE = 15;

/** evaluateFolder's fold trainer for the previous head: squashed plain views, the fold's seed. */
export const previousTrainer: FoldTrainer = async ({ folder, views, trainImages, testImages, fold, seed }) => {
  const features = await views({ resize: SQUASH, mirror: false, augmentedViews: 0 });
  const head = await trainAdamHead({
    rows: trainImages.map((image) => features[image]![0]!),
    labelSets: trainImages.map((image) => folder.labelSets[image]!),
    classCount: folder.labels.length,
    task: folder.task,
    seed: seed + fold,
  });
  return {
    scores: scoreInputs(
      head,
      testImages.map((image) => features[image]![0]!),
    ),
    ...(head.threshold !== undefined ? { threshold: head.threshold } : {}),
    head: `Adam head, best epoch ${head.bestEpoch}`,
  };
};

interface AdamInput {
  /** One feature vector per training image (each image its own group). */
  rows: Float32Array[];
  labelSets: readonly (readonly number[])[];
  classCount: number;
  task: TaskStrategy;
  seed: number;
}

type AdamHead = TrainedRecipeHead & { bestEpoch: number };

/** Trains the head; deterministic for a given seed and inputs. */
async function trainAdamHead(input: AdamInput): Promise<AdamHead> {
  const { rows, classCount: C, task } = input;
  const D = rows[0]!.length;
  const targets = input.labelSets.map((set) => {
    const y = new Float32Array(C);
    for (const label of task.trainedLabels(set)) y[label] = 1;
    return y;
  });
  // Single-label rows are stratified by their label, multi-label rows by their rarest one.
  const strata = task === MULTI_LABEL ? rarestLabels(input.labelSets, C) : input.labelSets.map((set) => set[0]!);
  const step = await ort.InferenceSession.create(buildTrainingStepGraph(D, C, task.head), {
    executionProviders: ['cpu'],
  });
  const score = await ort.InferenceSession.create(buildScoringGraph(D, C, task.head), { executionProviders: ['cpu'] });
  try {
    const run = { rows, targets, task, D, C, seed: input.seed, step, score };
    const { trainRows, validationRows } = splitValidation(strata, C, input.seed);
    const first = await runTraining(run, trainRows, validationRows, EPOCHS);
    if (validationRows.length === 0) return first;
    // Refit: the held-out rows are data too; the validation run only chose how long to train (and the threshold).
    const refit = await runTraining(
      run,
      rows.map((_, i) => i),
      [],
      first.bestEpoch,
    );
    return {
      ...refit,
      bestEpoch: first.bestEpoch,
      ...(first.threshold !== undefined ? { threshold: first.threshold } : {}),
    };
  } finally {
    await Promise.all([step.release(), score.release()]);
  }
}

/** Stratified: each class gives round(share × its rows) rows to validation (at least one when it has two or more). */
function splitValidation(
  strata: readonly number[],
  classCount: number,
  seed: number,
): { trainRows: number[]; validationRows: number[] } {
  const all = strata.map((_, i) => i);
  // One more stratum for multi-label rows without any label.
  const byClass = Array.from({ length: classCount + 1 }, () => [] as number[]);
  strata.forEach((label, row) => byClass[label]!.push(row));
  const random = seededRandom(seed ^ 0x5eed);
  const held = new Set<number>();
  for (const members of byClass) {
    shuffle(members, random);
    const take =
      members.length < 2 ? 0 : Math.min(members.length - 1, Math.max(1, Math.round(VALIDATION_SHARE * members.length)));
    for (const row of members.slice(0, take)) held.add(row);
  }
  return { trainRows: all.filter((i) => !held.has(i)), validationRows: all.filter((i) => held.has(i)) };
}

interface Run {
  rows: Float32Array[];
  targets: Float32Array[];
  task: TaskStrategy;
  D: number;
  C: number;
  seed: number;
  step: ort.InferenceSession;
  score: ort.InferenceSession;
}

interface AdamState {
  w: Float32Array;
  b: Float32Array;
  mW: Float32Array;
  vW: Float32Array;
  mb: Float32Array;
  vb: Float32Array;
  t: number;
}

async function runTraining(run: Run, trainRows: number[], validationRows: number[], epochs: number): Promise<AdamHead> {
  const { D, C, rows, targets, task } = run;
  const copyRows = (indices: readonly number[], into: Float32Array) =>
    indices.forEach((i, r) => into.set(rows[i]!, r * D));
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
    [STEP_INPUTS.learningRate]: tensor(new Float32Array([LEARNING_RATE]), [1]),
    [STEP_INPUTS.l2]: tensor(new Float32Array([L2]), [1]),
    [STEP_INPUTS.decay]: tensor(new Float32Array([0]), [1]),
  };
  const random = seededRandom(run.seed);
  const order = [...trainRows];
  const batchX = new Float32Array(Math.min(BATCH_SIZE, order.length) * D);
  const batchY = new Float32Array(Math.min(BATCH_SIZE, order.length) * C);
  let best: { epoch: number; score: number; loss: number; w: Float32Array; b: Float32Array; p?: Float32Array } = {
    epoch: 0,
    score: -1,
    loss: Infinity,
    w: state.w,
    b: state.b,
  };
  let sinceBest = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    shuffle(order, random);
    for (let start = 0; start < order.length; start += BATCH_SIZE) {
      const batch = order.slice(start, start + BATCH_SIZE);
      const n = batch.length;
      copyRows(batch, batchX);
      batch.forEach((i, r) => batchY.set(targets[i]!, r * C));
      const out = await run.step.run({
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
      if (!Number.isFinite(get(STEP_OUTPUTS.loss)[0]!)) throw new Error(`the Adam head diverged at epoch ${epoch}`);
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
    if (validationRows.length > 0) {
      const out = await run.score.run({
        [SCORE_INPUTS.x]: tensor(validationX, [validationRows.length, D]),
        [SCORE_INPUTS.w]: tensor(state.w, [D, C]),
        [SCORE_INPUTS.b]: tensor(state.b, [C]),
      });
      const p = out[SCORE_OUTPUT]!.data as Float32Array;
      const { score, loss } = scoreValidation(task, p, validationRows, targets, C);
      // Scores on a few dozen rows move in coarse steps; the validation loss breaks ties.
      if (score > best.score || (score === best.score && loss < best.loss)) {
        best = { epoch, score, loss, w: state.w, b: state.b, p };
        sinceBest = 0;
      } else sinceBest++;
    } else {
      best = { epoch, score: -1, loss: 0, w: state.w, b: state.b };
    }
    if (sinceBest >= PATIENCE) break;
  }
  const head: AdamHead = {
    kind: task.head,
    weights: Float32Array.from(best.w),
    bias: Float32Array.from(best.b),
    featureCount: D,
    classCount: C,
    bestEpoch: best.epoch,
  };
  const threshold = task.decisionThreshold(
    best.p
      ? {
          truth: validationRows.map((i) => Array.from(targets[i]!)),
          scores: validationRows.map((_, r) => Array.from(best.p!.subarray(r * C, (r + 1) * C))),
        }
      : undefined,
  );
  return threshold === undefined ? head : { ...head, threshold };
}

/**
 * The validation rows' score: accuracy and cross-entropy, or mAP and binary cross-entropy summed over the labels.
 * `p` holds the probabilities of the rows (flat, row-major).
 */
function scoreValidation(
  task: TaskStrategy,
  p: Float32Array,
  rows: readonly number[],
  targets: readonly Float32Array[],
  C: number,
): { score: number; loss: number } {
  let loss = 0;
  if (task !== MULTI_LABEL) {
    let correct = 0;
    rows.forEach((i, r) => {
      const row = p.subarray(r * C, (r + 1) * C);
      const y = targets[i]!;
      let arg = 0;
      let truth = 0;
      for (let c = 1; c < C; c++) {
        if (row[c]! > row[arg]!) arg = c;
        if (y[c]! > y[truth]!) truth = c;
      }
      if (arg === truth) correct++;
      loss -= Math.log(Math.max(row[truth]!, 1e-12));
    });
    return { score: correct / rows.length, loss: loss / rows.length };
  }
  rows.forEach((i, r) => {
    const y = targets[i]!;
    for (let c = 0; c < C; c++) {
      const q = Math.min(Math.max(p[r * C + c]!, 1e-12), 1 - 1e-12);
      loss -= y[c]! * Math.log(q) + (1 - y[c]!) * Math.log(1 - q);
    }
  });
  const { mAP } = evaluateMultiLabel({
    labels: Array.from({ length: C }, (_, c) => String(c)),
    truth: rows.map((i) => Array.from(targets[i]!)),
    scores: rows.map((_, r) => Array.from(p.subarray(r * C, (r + 1) * C))),
  });
  return { score: mAP ?? 0, loss: loss / rows.length };
}

/** Names of the training step's inputs and outputs. */
const STEP_INPUTS = {
  x: 'X',
  y: 'Y',
  w: 'W',
  b: 'b',
  mW: 'mW',
  vW: 'vW',
  mb: 'mb',
  vb: 'vb',
  /** Steps taken so far, [1] float. */
  t: 't',
  learningRate: 'learning_rate',
  /** Coupled L2: adds l2/2·‖W‖² to the loss and l2·W to the gradient (bias not penalised). */
  l2: 'l2',
  /** Decoupled (AdamW) decay, 0 here: W -= learningRate·decay·W each step. */
  decay: 'weight_decay',
} as const;

const STEP_OUTPUTS = {
  loss: 'loss',
  w: 'W_next',
  b: 'b_next',
  mW: 'mW_next',
  vW: 'vW_next',
  mb: 'mb_next',
  vb: 'vb_next',
  t: 't_next',
  gradW: 'grad_W',
  gradB: 'grad_b',
} as const;

/** One Adam step of the head for D features and C classes; the batch size is dynamic. */
function buildTrainingStepGraph(featureCount: number, classCount: number, kind: HeadKind): Uint8Array {
  const beta1 = 0.9;
  const beta2 = 0.999;
  const epsilon = 1e-8;
  const D = featureCount;
  const C = classCount;
  const g = new OnnxGraphBuilder(`head_train_step_${kind}`);
  const I = STEP_INPUTS;
  const O = STEP_OUTPUTS;
  g.addInput(I.x, ['batch', D]);
  g.addInput(I.y, ['batch', C]);
  g.addInput(I.w, [D, C]);
  g.addInput(I.b, [C]);
  g.addInput(I.mW, [D, C]);
  g.addInput(I.vW, [D, C]);
  g.addInput(I.mb, [C]);
  g.addInput(I.vb, [C]);
  g.addInput(I.t, [1]);
  g.addInput(I.learningRate, [1]);
  g.addInput(I.l2, [1]);
  g.addInput(I.decay, [1]);

  const scalar = (name: string, value: number) => g.addInitializer(g.uniqueName(name), [1], new Float32Array([value]));
  const axis0 = g.addInitializer('axis_0', [1], new BigInt64Array([0n]));
  const one = scalar('one', 1);
  const half = scalar('half', 0.5);
  const node = (op: string, inputs: string[], base: string, attributes: Record<string, AttributeValue> = {}) => {
    const out = g.uniqueName(base);
    g.addNode(op, inputs, [out], attributes);
    return out;
  };

  const { rowLoss, probabilities, batch } = addLoss(g, node, kind, I.x, I.y, I.w, I.b);
  const dataLoss = node('Div', [node('ReduceSum', [rowLoss, axis0], 'sum_loss', { keepdims: 1 }), batch], 'data_loss');
  const l2Loss = node(
    'Mul',
    [node('Mul', [half, I.l2], 'half_l2'), node('ReduceSumSquare', [I.w], 'w_sq', { keepdims: 0 })],
    'l2_loss',
  );
  g.addNode('Add', [dataLoss, l2Loss], [O.loss]);

  // Both heads share dL/dlogits = (p - y)/B: softmax+CE and sigmoid+BCE have the same gradient form.
  const dLogits = node('Div', [node('Sub', [probabilities, I.y], 'p_minus_y'), batch], 'd_logits');
  const xtd = node('Gemm', [I.x, dLogits], 'xt_dlogits', { transA: 1 });
  g.addNode('Add', [xtd, node('Mul', [I.l2, I.w], 'l2_w')], [O.gradW]);
  g.addNode('ReduceSum', [dLogits, axis0], [O.gradB], { keepdims: 0 });

  // Adam with bias correction; the decoupled decay uses the plain learning rate (AdamW, Loshchilov & Hutter).
  g.addNode('Add', [I.t, one], [O.t]);
  const b1 = scalar('beta1', beta1);
  const b2 = scalar('beta2', beta2);
  const oneMinusB1 = scalar('one_minus_beta1', 1 - beta1);
  const oneMinusB2 = scalar('one_minus_beta2', 1 - beta2);
  const eps = scalar('epsilon', epsilon);
  const correction1 = node('Sub', [one, node('Pow', [b1, O.t], 'beta1_t')], 'correction1');
  const correction2 = node('Sub', [one, node('Pow', [b2, O.t], 'beta2_t')], 'correction2');
  const update = (
    param: string,
    grad: string,
    m: string,
    v: string,
    mOut: string,
    vOut: string,
    pOut: string,
    decayed: boolean,
  ) => {
    g.addNode('Add', [node('Mul', [b1, m], `${m}_decay`), node('Mul', [oneMinusB1, grad], `${m}_grad`)], [mOut]);
    g.addNode(
      'Add',
      [
        node('Mul', [b2, v], `${v}_decay`),
        node('Mul', [oneMinusB2, node('Mul', [grad, grad], `${v}_grad_sq`)], `${v}_grad`),
      ],
      [vOut],
    );
    const mHat = node('Div', [mOut, correction1], `${m}_hat`);
    const vHat = node('Div', [vOut, correction2], `${v}_hat`);
    let direction = node(
      'Div',
      [mHat, node('Add', [node('Sqrt', [vHat], `${v}_sqrt`), eps], `${v}_denominator`)],
      `${param}_adam`,
    );
    if (decayed)
      direction = node('Add', [direction, node('Mul', [I.decay, param], `${param}_decayed`)], `${param}_direction`);
    g.addNode('Sub', [param, node('Mul', [I.learningRate, direction], `${param}_step`)], [pOut]);
  };
  update(I.w, O.gradW, I.mW, I.vW, O.mW, O.vW, O.w, true);
  update(I.b, O.gradB, I.mb, I.vb, O.mb, O.vb, O.b, false);

  g.addOutput(O.loss, [1]);
  g.addOutput(O.w, [D, C]);
  g.addOutput(O.b, [C]);
  g.addOutput(O.mW, [D, C]);
  g.addOutput(O.vW, [D, C]);
  g.addOutput(O.mb, [C]);
  g.addOutput(O.vb, [C]);
  g.addOutput(O.t, [1]);
  g.addOutput(O.gradW, [D, C]);
  g.addOutput(O.gradB, [C]);
  return g.toBytes({ name: 'icf-head', version: '1' });
}
