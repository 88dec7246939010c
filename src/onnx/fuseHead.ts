// Fuses a trained linear head onto the backbone: one self-contained ONNX model (backbone, head, and softmax or
// sigmoid) whose metadata carries the labels and the preprocessing, so any ONNX runtime reproduces the predictions.
import { onnx } from 'onnx-proto';

import { pruneUnreachable } from './prune';
import { node, tensor, valueInfo } from './tensorProto';

export interface HeadWeights {
  /** Row-major [featureLength, classCount]. */
  weights: Float32Array;
  bias: Float32Array;
  labels: readonly string[];
  /** 'softmax' (single-label, the default) or 'sigmoid' (multi-label: one independent probability per label). */
  activation?: 'softmax' | 'sigmoid';
}

export interface FuseOptions {
  /** The backbone output the head reads (e.g. `features`). */
  featuresOutput: string;
  /** Name of the fused model's probabilities output; the backbone's own output of that name is replaced. */
  probabilitiesOutput: string;
  /** Extra metadata (preprocessing, backbone, dataset, version...), stored as model metadata_props. */
  metadata: Record<string, string>;
  /**
   * Test-time augmentation inside the model: each input runs through the backbone as it is and mirrored left to
   * right (a Slice with step -1 on the width axis), and the head reads the mean of the two feature vectors, so a
   * caller still sends one plain view. Needs a backbone importing ONNX opset 10 or later.
   */
  testTimeMirror?: boolean;
}

/** The oldest default-domain opset with Slice steps, which test-time mirroring needs. */
const MIRROR_MIN_OPSET = 10;

/** Whether the model's default-domain opset allows test-time mirroring. */
export function supportsTestTimeMirror(modelOnnx: Uint8Array): boolean {
  const model = onnx.ModelProto.decode(modelOnnx);
  const opset = (model.opsetImport ?? []).find((entry) => !entry.domain || entry.domain === 'ai.onnx');
  return Number(opset?.version ?? 0) >= MIRROR_MIN_OPSET;
}

export function fuseLinearHead(backboneOnnx: Uint8Array, head: HeadWeights, options: FuseOptions): Uint8Array {
  const model = onnx.ModelProto.decode(backboneOnnx);
  const graph = model.graph;
  if (!graph) throw new Error('the backbone model has no graph');
  const featuresInfo = (graph.output ?? []).find((output) => output.name === options.featuresOutput);
  if (!featuresInfo) throw new Error(`the backbone has no output named "${options.featuresOutput}"`);
  const classCount = head.labels.length;
  if (classCount < 1 || head.bias.length !== classCount || head.weights.length % classCount !== 0) {
    throw new RangeError(
      `head: ${head.weights.length} weights and ${head.bias.length} biases do not fit ${classCount} labels`,
    );
  }
  const featureLength = head.weights.length / classCount;
  if (options.testTimeMirror) addTestTimeMirror(model, options.featuresOutput, featureLength);

  const prefix = 'head_';
  graph.initializer = [
    ...(graph.initializer ?? []),
    tensor(`${prefix}weights`, [featureLength, classCount], head.weights),
    tensor(`${prefix}bias`, [classCount], head.bias),
  ];
  graph.node = [
    ...(graph.node ?? []).filter((node) => !(node.output ?? []).includes(options.probabilitiesOutput)),
    node('MatMul', `${prefix}matmul`, [options.featuresOutput, `${prefix}weights`], [`${prefix}scores`]),
    node('Add', `${prefix}add`, [`${prefix}scores`, `${prefix}bias`], [`${prefix}logits`]),
    head.activation === 'sigmoid'
      ? node('Sigmoid', `${prefix}sigmoid`, [`${prefix}logits`], [options.probabilitiesOutput])
      : node('Softmax', `${prefix}softmax`, [`${prefix}logits`], [options.probabilitiesOutput], { axis: -1 }),
  ];
  const batch =
    featuresInfo.type?.tensorType?.shape?.dim?.[0] ?? onnx.TensorShapeProto.Dimension.create({ dimParam: 'N' });
  graph.output = [
    ...(graph.output ?? []).filter((output) => output.name !== options.probabilitiesOutput),
    valueInfo(options.probabilitiesOutput, [batch, classCount]),
  ];
  pruneUnreachable(graph);
  model.metadataProps = [
    ...(model.metadataProps ?? []).filter((entry) => entry.key !== 'labels' && !(entry.key! in options.metadata)),
    onnx.StringStringEntryProto.create({ key: 'labels', value: JSON.stringify(head.labels) }),
    ...Object.entries(options.metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
  ];
  return onnx.ModelProto.encode(model).finish();
}

/** Rewires the graph so that `featuresOutput` is the mean of the features of each input and its mirror image. */
function addTestTimeMirror(model: onnx.ModelProto, featuresOutput: string, featureLength: number): void {
  if (!supportsTestTimeMirror(onnx.ModelProto.encode(model).finish()))
    throw new RangeError(`test-time mirroring needs a backbone importing ONNX opset ${MIRROR_MIN_OPSET} or later`);
  const graph = model.graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const input = (graph.input ?? []).find((value) => !initializers.has(value.name))?.name;
  if (!input) throw new Error('the backbone has no image input');
  const p = 'tta_';
  const both = `${p}both`;
  const viewFeatures = `${p}view_features`;
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map((name) => (name === input ? both : name));
    node.output = (node.output ?? []).map((name) => (name === featuresOutput ? viewFeatures : name));
  }
  for (const node of graph.node ?? [])
    node.input = (node.input ?? []).map((name) => (name === featuresOutput ? viewFeatures : name));
  const int64 = (name: string, values: bigint[], dims = [values.length]) =>
    tensor(name, dims, BigInt64Array.from(values));
  graph.initializer = [
    ...(graph.initializer ?? []),
    int64(`${p}starts`, [-1n]),
    // Past the first column whatever the width: Slice clamps it.
    int64(`${p}ends`, [-(2n ** 62n)]),
    int64(`${p}axes`, [3n]),
    int64(`${p}steps`, [-1n]),
    int64(`${p}shape`, [2n, -1n, BigInt(featureLength)]),
    int64(`${p}first`, [0n], []),
    int64(`${p}second`, [1n], []),
    tensor(`${p}two`, [], new Float32Array([2])),
  ];
  const at = (opType: string, inputs: string[], output: string, attributes: Record<string, number> = {}) =>
    node(opType, `${p}node_${output}`, inputs, [output], attributes);
  const axis = (i: number) => ({ axis: i });
  graph.node = [
    at('Slice', [input, `${p}starts`, `${p}ends`, `${p}axes`, `${p}steps`], `${p}mirrored`),
    at('Concat', [input, `${p}mirrored`], both, axis(0)),
    ...(graph.node ?? []),
    // [2N, F] -> [2, N, F]: the plain views' features, then the mirrored ones'; their mean, (a + b) / 2.
    at('Reshape', [viewFeatures, `${p}shape`], `${p}pairs`),
    at('Gather', [`${p}pairs`, `${p}first`], `${p}plain`, axis(0)),
    at('Gather', [`${p}pairs`, `${p}second`], `${p}mirror`, axis(0)),
    at('Add', [`${p}plain`, `${p}mirror`], `${p}sum`),
    at('Div', [`${p}sum`, `${p}two`], featuresOutput),
  ];
}
