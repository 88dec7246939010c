// Fuses a trained linear head onto the backbone: one self-contained ONNX model (backbone, head, and softmax or
// sigmoid) whose metadata carries the labels and the preprocessing, so any ONNX runtime reproduces the predictions.
import { onnx } from 'onnx-proto';
import { pruneUnreachable } from './prune';

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
}

export function fuseLinearHead(backboneOnnx: Uint8Array, head: HeadWeights, options: FuseOptions): Uint8Array {
  const model = onnx.ModelProto.decode(backboneOnnx);
  const graph = model.graph;
  if (!graph) throw new Error('the backbone model has no graph');
  const featuresInfo = (graph.output ?? []).find((output) => output.name === options.featuresOutput);
  if (!featuresInfo) throw new Error(`the backbone has no output named "${options.featuresOutput}"`);
  const classCount = head.labels.length;
  if (classCount < 1 || head.bias.length !== classCount || head.weights.length % classCount !== 0) {
    throw new RangeError(`head: ${head.weights.length} weights and ${head.bias.length} biases do not fit ${classCount} labels`);
  }
  const featureLength = head.weights.length / classCount;

  const prefix = 'head_';
  graph.initializer = [
    ...(graph.initializer ?? []),
    floatTensor(`${prefix}weights`, [featureLength, classCount], head.weights),
    floatTensor(`${prefix}bias`, [classCount], head.bias),
  ];
  graph.node = [
    ...(graph.node ?? []).filter((node) => !(node.output ?? []).includes(options.probabilitiesOutput)),
    onnx.NodeProto.create({ opType: 'MatMul', name: `${prefix}matmul`, input: [options.featuresOutput, `${prefix}weights`], output: [`${prefix}scores`] }),
    onnx.NodeProto.create({ opType: 'Add', name: `${prefix}add`, input: [`${prefix}scores`, `${prefix}bias`], output: [`${prefix}logits`] }),
    head.activation === 'sigmoid'
      ? onnx.NodeProto.create({ opType: 'Sigmoid', name: `${prefix}sigmoid`, input: [`${prefix}logits`], output: [options.probabilitiesOutput] })
      : onnx.NodeProto.create({
          opType: 'Softmax',
          name: `${prefix}softmax`,
          input: [`${prefix}logits`],
          output: [options.probabilitiesOutput],
          attribute: [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 })],
        }),
  ];
  const batch = featuresInfo.type?.tensorType?.shape?.dim?.[0] ?? onnx.TensorShapeProto.Dimension.create({ dimParam: 'N' });
  graph.output = [
    ...(graph.output ?? []).filter((output) => output.name !== options.probabilitiesOutput),
    onnx.ValueInfoProto.create({
      name: options.probabilitiesOutput,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: onnx.TensorShapeProto.create({ dim: [batch, onnx.TensorShapeProto.Dimension.create({ dimValue: classCount })] }),
        }),
      }),
    }),
  ];
  pruneUnreachable(graph);
  model.metadataProps = [
    ...(model.metadataProps ?? []).filter((entry) => entry.key !== 'labels' && !(entry.key! in options.metadata)),
    onnx.StringStringEntryProto.create({ key: 'labels', value: JSON.stringify(head.labels) }),
    ...Object.entries(options.metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
  ];
  return onnx.ModelProto.encode(model).finish();
}

function floatTensor(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  });
}
