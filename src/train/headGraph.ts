// ONNX graphs for a linear classifier head trained with ONNX Runtime, which has no training API in Node: one graph
// is a whole Adam step (forward, loss, analytic gradients, update), run once per minibatch with the parameters and
// optimizer state fed in and read back. Softmax + cross-entropy for single-label, sigmoid + binary cross-entropy
// for multi-label. Plus the graphs to score with: X -> probabilities, with the weights as inputs or baked in.
import { type AttributeValue, OnnxGraphBuilder } from '../onnx/onnxModel';

export type HeadKind = 'softmax' | 'sigmoid';

/** Names of the training step's inputs and outputs (the contract between the graph and trainHead). */
export const STEP_INPUTS = {
  x: 'X',
  /** Targets [B,C]: one-hot (possibly label-smoothed) for softmax, 0/1 per label for sigmoid. */
  y: 'Y',
  w: 'W',
  b: 'b',
  mW: 'mW',
  vW: 'vW',
  mb: 'mb',
  vb: 'vb',
  /** Steps taken so far, [1] float (exact up to 2^24 steps). */
  t: 't',
  learningRate: 'learning_rate',
  /** Coupled L2: adds l2/2·‖W‖² to the loss and l2·W to the gradient (bias not penalised). */
  l2: 'l2',
  /** Decoupled (AdamW) decay: W -= learningRate·decay·W each step. */
  decay: 'weight_decay',
} as const;

export const STEP_OUTPUTS = {
  /** [1]: mean cross-entropy over the batch plus the L2 term. */
  loss: 'loss',
  w: 'W_next',
  b: 'b_next',
  mW: 'mW_next',
  vW: 'vW_next',
  mb: 'mb_next',
  vb: 'vb_next',
  t: 't_next',
  /** Gradients of the loss at the input parameters: fetched by tests to check them against a plain computation. */
  gradW: 'grad_W',
  gradB: 'grad_b',
} as const;

export interface AdamConstants {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

const PRODUCER = { name: 'icf-head', version: '1' };

/** The training step graph for D features and C classes; the batch size is dynamic. */
export function buildTrainingStepGraph(
  featureCount: number,
  classCount: number,
  kind: HeadKind = 'softmax',
  adam: AdamConstants = {},
): Uint8Array {
  checkSizes(featureCount, classCount);
  const beta1 = adam.beta1 ?? 0.9;
  const beta2 = adam.beta2 ?? 0.999;
  const epsilon = adam.epsilon ?? 1e-8;
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
  return g.toBytes(PRODUCER);
}

type NodeAdder = (op: string, inputs: string[], base: string, attributes?: Record<string, AttributeValue>) => string;

/** Logits X·W + b, the probabilities, each row's loss, and the batch size as a float: what both training graphs share. */
function addLoss(
  g: OnnxGraphBuilder,
  node: NodeAdder,
  kind: HeadKind,
  x: string,
  y: string,
  w: string,
  b: string,
): { logits: string; rowLoss: string; probabilities: string; batch: string } {
  const axis1 = g.addInitializer(g.uniqueName('axis_1'), [1], new BigInt64Array([1n]));
  const logits = node('Gemm', [x, w, b], 'logits');
  // Batch size as a float scalar, for the mean over rows.
  const shape = node('Shape', [x], 'x_shape');
  const batchIndex = g.addInitializer(g.uniqueName('batch_index'), [], new BigInt64Array([0n]));
  const batch = node('Cast', [node('Gather', [shape, batchIndex], 'batch_int')], 'batch_float', { to: 1 });
  if (kind === 'softmax') {
    // log-softmax with the row maximum subtracted first: exp never overflows.
    const shifted = node(
      'Sub',
      [logits, node('ReduceMax', [logits], 'row_max', { axes: [1], keepdims: 1 })],
      'shifted',
    );
    const expShifted = node('Exp', [shifted], 'exp_shifted');
    const sumExp = node('ReduceSum', [expShifted, axis1], 'sum_exp', { keepdims: 1 });
    const logProbabilities = node('Sub', [shifted, node('Log', [sumExp], 'log_sum_exp')], 'log_probabilities');
    const probabilities = node('Div', [expShifted, sumExp], 'probabilities');
    // Cross-entropy of a row: -Σ_c y_c log p_c (y may be smoothed; rows need not be exactly one-hot).
    const rowLoss = node(
      'Neg',
      [node('ReduceSum', [node('Mul', [y, logProbabilities], 'y_logp'), axis1], 'sum_y_logp', { keepdims: 0 })],
      'row_loss',
    );
    return { logits, rowLoss, probabilities, batch };
  }
  // Binary cross-entropy from logits, stable form: softplus(z) - y·z = log(1 + e^z) - y·z, summed over labels.
  const probabilities = node('Sigmoid', [logits], 'probabilities');
  const perLabel = node('Sub', [node('Softplus', [logits], 'softplus'), node('Mul', [y, logits], 'y_z')], 'bce');
  const rowLoss = node('ReduceSum', [perLabel, axis1], 'row_loss', { keepdims: 0 });
  return { logits, rowLoss, probabilities, batch };
}

export const SCORE_INPUTS = { x: 'X', w: 'W', b: 'b' } as const;
export const SCORE_OUTPUT = 'probabilities';

/** X [N,D], W [D,C], b [C] -> probabilities [N,C]; the weights are inputs so one session serves a whole training run. */
export function buildScoringGraph(featureCount: number, classCount: number, kind: HeadKind = 'softmax'): Uint8Array {
  checkSizes(featureCount, classCount);
  const g = new OnnxGraphBuilder(`head_score_${kind}`);
  g.addInput(SCORE_INPUTS.x, ['batch', featureCount]);
  g.addInput(SCORE_INPUTS.w, [featureCount, classCount]);
  g.addInput(SCORE_INPUTS.b, [classCount]);
  g.addNode('Gemm', [SCORE_INPUTS.x, SCORE_INPUTS.w, SCORE_INPUTS.b], ['logits']);
  g.addNode(
    kind === 'softmax' ? 'Softmax' : 'Sigmoid',
    ['logits'],
    [SCORE_OUTPUT],
    kind === 'softmax' ? { axis: 1 } : {},
  );
  g.addOutput(SCORE_OUTPUT, ['batch', classCount]);
  return g.toBytes(PRODUCER);
}

/** The deployable head: input `features` [N,D] -> `probabilities` [N,C], weights baked in as initializers. */
export function buildInferenceGraph(
  weights: Float32Array,
  bias: Float32Array,
  featureCount: number,
  classCount: number,
  kind: HeadKind = 'softmax',
): Uint8Array {
  checkSizes(featureCount, classCount);
  if (weights.length !== featureCount * classCount)
    throw new RangeError(
      `weights has ${weights.length} values; a ${featureCount}x${classCount} head needs ${featureCount * classCount}`,
    );
  if (bias.length !== classCount)
    throw new RangeError(`bias has ${bias.length} values; ${classCount} classes need ${classCount}`);
  const g = new OnnxGraphBuilder(`head_${kind}`);
  g.addInput('features', ['batch', featureCount]);
  g.addInitializer('W', [featureCount, classCount], weights);
  g.addInitializer('b', [classCount], bias);
  g.addNode('Gemm', ['features', 'W', 'b'], ['logits']);
  g.addNode(
    kind === 'softmax' ? 'Softmax' : 'Sigmoid',
    ['logits'],
    [SCORE_OUTPUT],
    kind === 'softmax' ? { axis: 1 } : {},
  );
  g.addOutput(SCORE_OUTPUT, ['batch', classCount]);
  return g.toBytes(PRODUCER);
}

function checkSizes(featureCount: number, classCount: number): void {
  if (!Number.isInteger(featureCount) || featureCount < 1)
    throw new RangeError(`featureCount must be a positive integer, got ${featureCount}`);
  if (!Number.isInteger(classCount) || classCount < 1)
    throw new RangeError(`classCount must be a positive integer, got ${classCount}`);
}

/** Names of the full-batch loss-and-gradient graph's inputs and outputs (the contract with logistic.ts). */
export const GRADIENT_INPUTS = {
  x: 'X',
  y: 'Y',
  w: 'W',
  b: 'b',
  /** [C]: the L2 strength of each class's weights (one value repeated for a softmax head). */
  l2: 'l2',
} as const;

export const GRADIENT_OUTPUTS = {
  /** [1]: mean cross-entropy (or binary cross-entropy summed over labels) over the rows, plus Σ_c l2_c/2·‖W_c‖². */
  loss: 'loss',
  gradW: 'grad_W',
  gradB: 'grad_b',
} as const;

/**
 * L2-regularised logistic regression's objective and its gradient over a whole data set at once: what a full-batch
 * solver (L-BFGS, in logistic.ts) evaluates at each step. Softmax + cross-entropy, or for multi-label data
 * independent sigmoids + binary cross-entropy, each label with its own L2 strength.
 */
export function buildLossGradientGraph(
  featureCount: number,
  classCount: number,
  kind: HeadKind = 'softmax',
): Uint8Array {
  checkSizes(featureCount, classCount);
  const D = featureCount;
  const C = classCount;
  const g = new OnnxGraphBuilder(`head_loss_gradient_${kind}`);
  const I = GRADIENT_INPUTS;
  const O = GRADIENT_OUTPUTS;
  g.addInput(I.x, ['batch', D]);
  g.addInput(I.y, ['batch', C]);
  g.addInput(I.w, [D, C]);
  g.addInput(I.b, [C]);
  g.addInput(I.l2, [C]);
  const node = (op: string, inputs: string[], base: string, attributes: Record<string, AttributeValue> = {}) => {
    const out = g.uniqueName(base);
    g.addNode(op, inputs, [out], attributes);
    return out;
  };
  const axis0 = g.addInitializer('axis_0', [1], new BigInt64Array([0n]));
  const half = g.addInitializer('half', [1], new Float32Array([0.5]));
  const { rowLoss, probabilities, batch } = addLoss(g, node, kind, I.x, I.y, I.w, I.b);
  const dataLoss = node('Div', [node('ReduceSum', [rowLoss, axis0], 'sum_loss', { keepdims: 1 }), batch], 'data_loss');
  // Σ_c l2_c/2 · Σ_d W_dc²: column sums of squares weighted by each class's strength.
  const columnSquares = node('ReduceSum', [node('Mul', [I.w, I.w], 'w_sq'), axis0], 'column_sq', { keepdims: 0 });
  const l2Loss = node(
    'Mul',
    [
      half,
      node('ReduceSum', [node('Mul', [I.l2, columnSquares], 'weighted_sq'), axis0], 'sum_weighted_sq', { keepdims: 1 }),
    ],
    'l2_loss',
  );
  g.addNode('Add', [dataLoss, l2Loss], [O.loss]);
  const dLogits = node('Div', [node('Sub', [probabilities, I.y], 'p_minus_y'), batch], 'd_logits');
  g.addNode(
    'Add',
    [node('Gemm', [I.x, dLogits], 'xt_dlogits', { transA: 1 }), node('Mul', [I.l2, I.w], 'l2_w')],
    [O.gradW],
  );
  g.addNode('ReduceSum', [dLogits, axis0], [O.gradB], { keepdims: 0 });
  g.addOutput(O.loss, [1]);
  g.addOutput(O.gradW, [D, C]);
  g.addOutput(O.gradB, [C]);
  return g.toBytes(PRODUCER);
}
