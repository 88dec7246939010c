// A small stand-in for a model-zoo backbone: a fixed-size ONNX CNN that expects BGR input scaled to 0..1 and
// normalised by mean and std (as zoo models do), with a pooled tensor inside and a classifier on top.
import { OnnxGraphBuilder } from '../../src/onnx/onnxModel';
import { seededRandom } from '../../src/util/seededRandom';

export const TINY_CNN = {
  inputName: 'image',
  inputSize: 32,
  featuresOutput: 'pool',
  featureLength: 16,
  channelOrder: 'bgr' as const,
  scale: 1 / 255,
  mean: [0.406, 0.456, 0.485] as [number, number, number],
  std: [0.225, 0.224, 0.229] as [number, number, number],
};

/** Conv 3->16 (4x4, stride 4) -> Relu -> GlobalAveragePool `pool` [1,16,1,1] -> Flatten -> Gemm to 10 `logits`. */
export function tinyCnn(seed = 1): Uint8Array {
  const random = seededRandom(seed);
  const values = (n: number, scale: number) => Float32Array.from({ length: n }, () => (random() - 0.5) * scale);
  const g = new OnnxGraphBuilder('tiny_cnn');
  g.addInput(TINY_CNN.inputName, [1, 3, TINY_CNN.inputSize, TINY_CNN.inputSize]);
  g.addInitializer('conv_w', [16, 3, 4, 4], values(16 * 3 * 16, 0.5));
  g.addInitializer('conv_b', [16], values(16, 0.1));
  g.addInitializer('fc_w', [16, 10], values(160, 0.5));
  g.addInitializer('fc_b', [10], values(10, 0.1));
  g.addNode('Conv', [TINY_CNN.inputName, 'conv_w', 'conv_b'], ['conv'], { kernel_shape: [4, 4], strides: [4, 4] });
  g.addNode('Relu', ['conv'], ['relu']);
  g.addNode('GlobalAveragePool', ['relu'], [TINY_CNN.featuresOutput]);
  g.addNode('Flatten', [TINY_CNN.featuresOutput], ['flat'], { axis: 1 });
  g.addNode('Gemm', ['flat', 'fc_w', 'fc_b'], ['logits']);
  g.addOutput('logits', [1, 10]);
  return g.toBytes({ name: 'icf-test', version: '1' });
}
