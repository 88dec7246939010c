// ONNX graphs for a linear classifier head on backbone features, run by ONNX Runtime (which has no training API in
// Node): the full-batch objective and its analytic gradient that logistic.ts minimises (softmax + cross-entropy for
// single-label data, sigmoid + binary cross-entropy for multi-label data), and the graphs to score with:
// X -> probabilities, with the weights as inputs or baked in.
import { type AttributeValue, OnnxGraphBuilder } from '../onnx/onnxModel';

export type HeadKind = 'softmax' | 'sigmoid';

const PRODUCER = { name: 'icf-head', version: '1' };

export type NodeAdder = (
  op: string,
  inputs: string[],
  base: string,
  attributes?: Record<string, AttributeValue>,
) => string;

/** Logits X·W + b, the probabilities, each row's loss, and the batch size as a float (bench:accuracy's previous trainer uses it too). */
export function addLoss(
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
