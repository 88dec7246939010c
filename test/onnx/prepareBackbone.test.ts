// prepareBackbone turns a zoo-style model (fixed batch, BGR 0..1 with mean/std, classifier on top) into the project's
// backbone form, checked with onnxruntime against the original model's pooled tensor on hand-preprocessed input.
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { ensureError, InvalidArgumentError } from '../../src/errors';
import { type Dim, OnnxGraphBuilder } from '../../src/onnx/onnxModel';
import { prepareBackbone, type PrepareBackboneOptions } from '../../src/onnx/prepareBackbone';
import { seededRandom } from '../../src/util/seededRandom';

const SIZE = 32;
const ZOO = {
  featuresOutput: 'pool',
  inputSize: SIZE,
  channelOrder: 'bgr',
  scale: 1 / 255,
  mean: [0.406, 0.456, 0.485],
  std: [0.225, 0.224, 0.229],
} satisfies PrepareBackboneOptions;

interface CnnOptions {
  inputName?: string;
  inputDims?: Dim[];
  poolName?: string;
  reluName?: string;
  /** Also expose the pooled tensor as a graph output (the reference). */
  poolOutput?: boolean;
}

/** Conv(3->8, 3x3, stride 2) -> Relu -> GlobalAveragePool [1,8,1,1] -> Flatten -> Gemm to 5 `logits`. */
function tinyCnn(options: CnnOptions = {}): Uint8Array {
  const { inputName = 'input', inputDims = [1, 3, SIZE, SIZE], poolName = 'pool', reluName = 'relu' } = options;
  const random = seededRandom(3);
  const values = (n: number, scale: number) => Float32Array.from({ length: n }, () => (random() - 0.5) * scale);
  const g = new OnnxGraphBuilder('tiny_cnn');
  g.addInput(inputName, inputDims);
  g.addInitializer('conv_w', [8, 3, 3, 3], values(8 * 27, 0.6));
  g.addInitializer('conv_b', [8], values(8, 0.2));
  g.addInitializer('gemm_w', [8, 5], values(40, 0.5));
  g.addInitializer('gemm_b', [5], values(5, 0.1));
  g.addNode('Conv', [inputName, 'conv_w', 'conv_b'], ['conv'], { kernel_shape: [3, 3], strides: [2, 2] });
  g.addNode('Relu', ['conv'], [reluName]);
  g.addNode('GlobalAveragePool', [reluName], [poolName]);
  g.addNode('Flatten', [poolName], ['flat'], { axis: 1 });
  g.addNode('Gemm', ['flat', 'gemm_w', 'gemm_b'], ['logits']);
  g.addOutput('logits', [inputDims[0]!, 5]);
  if (options.poolOutput) g.addOutput(poolName, [inputDims[0]!, 8, 1, 1]);
  return g.toBytes({ name: 'icf-test', version: '1' });
}

/** Decodes, edits, re-encodes. */
function edit(model: Uint8Array, change: (model: onnx.ModelProto) => void): Uint8Array {
  const decoded = onnx.ModelProto.decode(model);
  change(decoded);
  return onnx.ModelProto.encode(decoded).finish();
}

function rgbImages(count: number): Float32Array {
  const random = seededRandom(11);
  return Float32Array.from({ length: count * 3 * SIZE * SIZE }, () => Math.round(random() * 255));
}

/** The zoo preprocessing by hand, one RGB 0..255 image (CHW) to BGR (x/255 - mean) / std. */
function zooPreprocess(rgb: Float32Array): Float32Array {
  const plane = SIZE * SIZE;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++)
      out[c * plane + i] = (rgb[(2 - c) * plane + i]! * ZOO.scale - ZOO.mean[c]!) / ZOO.std[c]!;
  }
  return out;
}

async function run(model: Uint8Array, feeds: Record<string, ort.Tensor>, output: string): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  try {
    return (await session.run(feeds, [output]))[output]!;
  } finally {
    await session.release();
  }
}

/** The original model's `pool` for each image, run one at a time (its batch is fixed to 1). */
async function referencePool(
  images: Float32Array,
  count: number,
  preprocess: (rgb: Float32Array) => Float32Array,
  options: CnnOptions = {},
) {
  const original = tinyCnn({ ...options, poolOutput: true });
  const rows: number[][] = [];
  const length = 3 * SIZE * SIZE;
  for (let i = 0; i < count; i++) {
    const x = preprocess(images.subarray(i * length, (i + 1) * length));
    const pool = await run(
      original,
      { [options.inputName ?? 'input']: new ort.Tensor('float32', x, [1, 3, SIZE, SIZE]) },
      options.poolName ?? 'pool',
    );
    expect(pool.dims).toEqual([1, 8, 1, 1]);
    rows.push(Array.from(pool.data as Float32Array));
  }
  return rows;
}

function expectRowsClose(actual: Float32Array, expected: number[][]): void {
  const width = expected[0]!.length;
  expect(actual.length).toBe(expected.length * width);
  expected.forEach((row, r) =>
    row.forEach((value, c) => expect(Math.abs(actual[r * width + c]! - value)).toBeLessThan(1e-5)),
  );
}

function shapeOf(info: onnx.IValueInfoProto): Dim[] {
  return (info.type!.tensorType!.shape!.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
}

function errorOf(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return ensureError(error);
  }
  throw new Error('expected prepareBackbone to throw');
}

describe('prepareBackbone', () => {
  it('prepends BGR / scale / mean-std preprocessing, outputs the pooled tensor as features [N,D], drops the classifier', async () => {
    const original = edit(tinyCnn(), (model) => {
      model.metadataProps = [onnx.StringStringEntryProto.create({ key: 'source', value: 'zoo' })];
    });
    const prepared = prepareBackbone(original, ZOO);
    expect(prepared.sourceInput).toBe('input');
    expect(prepared.sourceInputShape).toEqual([1, 3, SIZE, SIZE]);
    expect(prepared.featureShape).toEqual(['N', 'D']); // `pool` has no declared shape in this model
    expect(prepared.preprocessing).toEqual(['Mul', 'Gather', 'Sub', 'Div']);

    const model = onnx.ModelProto.decode(prepared.model);
    const graph = model.graph!;
    expect((graph.input ?? []).map((i) => [i.name, shapeOf(i)])).toEqual([['input', ['N', 3, SIZE, SIZE]]]);
    expect((graph.output ?? []).map((o) => o.name)).toEqual(['features']);
    expect((graph.node ?? []).map((n) => n.opType)).toEqual([
      'Mul',
      'Gather',
      'Sub',
      'Div',
      'Conv',
      'Relu',
      'GlobalAveragePool',
      'Flatten',
    ]);
    // The original input was called `input`: it is renamed, and the Div now produces it.
    expect(graph.node![3]!.output).toEqual(['input_original']);
    expect(graph.node![4]!.input![0]).toBe('input_original');
    expect((graph.initializer ?? []).map((t) => t.name)).not.toContain('gemm_w');
    expect((graph.initializer ?? []).map((t) => t.name)).not.toContain('gemm_b');
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    expect(model.metadataProps.map((e) => [e.key, e.value])).toEqual([['source', 'zoo']]);

    const images = rgbImages(2);
    const features = await run(
      prepared.model,
      { input: new ort.Tensor('float32', images, [2, 3, SIZE, SIZE]) },
      'features',
    );
    expect(features.dims).toEqual([2, 8]);
    expectRowsClose(features.data as Float32Array, await referencePool(images, 2, zooPreprocess));
  });

  it('adds no preprocessing for the identity case and takes the input under its own name', async () => {
    const options: CnnOptions = { inputName: 'data', inputDims: ['batch', 3, 'height', 'width'] };
    const prepared = prepareBackbone(tinyCnn(options), { featuresOutput: 'pool', inputSize: SIZE });
    expect(prepared.preprocessing).toEqual([]);
    expect(prepared.sourceInput).toBe('data');
    expect(prepared.sourceInputShape).toEqual(['batch', 3, 'height', 'width']);
    const graph = onnx.ModelProto.decode(prepared.model).graph!;
    expect((graph.node ?? []).map((n) => n.opType)).toEqual(['Conv', 'Relu', 'GlobalAveragePool', 'Flatten']);
    expect(graph.node![0]!.input![0]).toBe('input');
    expect((graph.initializer ?? []).map((t) => t.name).sort()).toEqual(['conv_b', 'conv_w']);

    const images = rgbImages(2);
    const features = await run(
      prepared.model,
      { input: new ort.Tensor('float32', images, [2, 3, SIZE, SIZE]) },
      'features',
    );
    expect(features.dims).toEqual([2, 8]);
    expectRowsClose(features.data as Float32Array, await referencePool(images, 2, (rgb) => rgb, options));
  });

  it('uses a declared shape for D, forgets a fixed batch in value_info, and keeps old-IR initializer inputs valid', async () => {
    const original = edit(tinyCnn(), (model) => {
      model.irVersion = 3; // ONNX IR < 4: every initializer is also listed as a graph input
      const graph = model.graph!;
      graph.input = [
        ...graph.input!,
        ...graph.initializer!.map((t) =>
          onnx.ValueInfoProto.create({
            name: t.name!,
            type: {
              tensorType: {
                elemType: onnx.TensorProto.DataType.FLOAT,
                shape: { dim: t.dims!.map((d) => ({ dimValue: Number(d) })) },
              },
            },
          }),
        ),
      ];
      graph.valueInfo = [
        onnx.ValueInfoProto.create({
          name: 'pool',
          type: {
            tensorType: {
              elemType: onnx.TensorProto.DataType.FLOAT,
              shape: { dim: [1, 8, 1, 1].map((d) => ({ dimValue: d })) },
            },
          },
        }),
      ];
    });
    const prepared = prepareBackbone(original, { ...ZOO, channelOrder: 'rgb', mean: [0, 0, 0] });
    expect(prepared.featureShape).toEqual(['N', 8]);
    expect(prepared.preprocessing).toEqual(['Mul', 'Div']);
    const model = onnx.ModelProto.decode(prepared.model);
    const graph = model.graph!;
    expect(Number(model.irVersion)).toBe(3);
    expect(shapeOf(graph.output![0]!)).toEqual(['N', 8]);
    // The classifier's weights are gone from the inputs too; the new constants are listed as IR 3 wants.
    expect((graph.input ?? []).map((i) => i.name)).toEqual([
      'input',
      'conv_w',
      'conv_b',
      'preprocess_scale_value',
      'preprocess_std_value',
    ]);
    expect(shapeOf(graph.valueInfo!.find((v) => v.name === 'pool')!)[0]).toBe(0); // unknown, no longer 1

    const session = await ort.InferenceSession.create(prepared.model, {
      executionProviders: ['cpu'],
      logSeverityLevel: 3,
    });
    expect(session.inputNames).toEqual(['input']);
    await session.release();
    const images = rgbImages(2);
    const features = await run(
      prepared.model,
      { input: new ort.Tensor('float32', images, [2, 3, SIZE, SIZE]) },
      'features',
    );
    const plane = SIZE * SIZE;
    const byHand = (rgb: Float32Array) =>
      Float32Array.from(rgb, (v, i) => (v * ZOO.scale) / ZOO.std[Math.floor(i / plane)]!);
    expectRowsClose(features.data as Float32Array, await referencePool(images, 2, byHand));
  });

  it('keeps names apart when the model already uses `features` and `input` for other tensors', async () => {
    const options: CnnOptions = { inputName: 'image', reluName: 'input', poolName: 'features' };
    const prepared = prepareBackbone(tinyCnn(options), { featuresOutput: 'features', inputSize: SIZE });
    const graph = onnx.ModelProto.decode(prepared.model).graph!;
    expect(graph.node!.map((n) => `${n.opType}:${n.input![0]}->${n.output![0]}`)).toEqual([
      'Conv:input->conv',
      'Relu:conv->input_1',
      'GlobalAveragePool:input_1->features_source',
      'Flatten:features_source->features',
    ]);
    const images = rgbImages(1);
    const features = await run(
      prepared.model,
      { input: new ort.Tensor('float32', images, [1, 3, SIZE, SIZE]) },
      'features',
    );
    expectRowsClose(features.data as Float32Array, await referencePool(images, 1, (rgb) => rgb, options));
  });

  it('says what it expected and what it found', () => {
    const model = tinyCnn();
    const message = (bytes: Uint8Array, options: PrepareBackboneOptions = ZOO) =>
      errorOf(() => prepareBackbone(bytes, options)).message;

    expect(message(Buffer.from('{"not": "an onnx model"}'))).toMatch(/^prepareBackbone: expected an ONNX model/);
    expect(message(new Uint8Array(0))).toBe(
      'prepareBackbone: expected an ONNX model with a graph, found 0 bytes that decode to no graph (not an .onnx file?).',
    );

    const twoInputs = edit(model, (m) =>
      m.graph!.input!.push(onnx.ValueInfoProto.create({ name: 'mask', type: m.graph!.input![0]!.type! })),
    );
    expect(message(twoInputs)).toBe(
      "prepareBackbone: expected exactly one graph input (not counting initializers), found 2: 'input' [1,3,32,32], 'mask' [1,3,32,32].",
    );
    expect(message(tinyCnn({ inputDims: [3, SIZE, SIZE] }))).toBe(
      "prepareBackbone: expected the graph input 'input' to be 4-D NCHW [N,3,H,W], found [3,32,32] (rank 3).",
    );
    expect(message(tinyCnn({ inputDims: [1, SIZE, SIZE, 3] }))).toBe(
      "prepareBackbone: expected the graph input 'input' to have 3 channels in dimension 1 (NCHW [N,3,H,W]), found [1,32,32,3], " +
        'which looks like NHWC (channels last); only NCHW models are supported.',
    );
    expect(message(model, { ...ZOO, inputSize: 64 })).toBe(
      "prepareBackbone: options.inputSize is 64, but the graph input 'input' has a fixed size of 32x32 ([1,3,32,32]); pass inputSize: 32.",
    );
    const uint8 = edit(
      model,
      (m) => (m.graph!.input![0]!.type!.tensorType!.elemType = onnx.TensorProto.DataType.UINT8),
    );
    expect(message(uint8)).toBe("prepareBackbone: expected the graph input 'input' to be float32, found UINT8.");

    expect(message(model, { ...ZOO, featuresOutput: 'Pool2' })).toBe(
      "prepareBackbone: options.featuresOutput 'Pool2' is not a tensor of the graph; candidates: 'logits', 'flat', 'pool', 'relu', 'conv'.",
    );
    expect(message(model, { ...ZOO, featuresOutput: 'gemm_w' })).toMatch(
      /'gemm_w' is an initializer \(a constant\), not a tensor computed from the input; candidates: /,
    );
    expect(message(model, { ...ZOO, featuresOutput: 'input' })).toBe(
      "prepareBackbone: expected options.featuresOutput to name a tensor computed from the input, found the graph input 'input' itself.",
    );
    expect(message(model, { ...ZOO, featuresOutput: '' })).toBe(
      "prepareBackbone: expected options.featuresOutput to be a non-empty tensor name, found ''.",
    );

    for (const inputSize of [8, 2048, 32.5, Number.NaN]) {
      expect(message(model, { ...ZOO, inputSize })).toBe(
        `prepareBackbone: expected options.inputSize to be an integer from 16 to 1024, found ${inputSize}.`,
      );
    }
    expect(message(model, { ...ZOO, scale: Number.POSITIVE_INFINITY })).toBe(
      'prepareBackbone: expected options.scale to be a finite non-zero number, found Infinity.',
    );
    expect(message(model, { ...ZOO, mean: [0.5, Number.NaN, 0.5] })).toBe(
      "prepareBackbone: expected options.mean to be 3 finite numbers (one per channel, in the model's channel order, applied after scale), found [0.5,NaN,0.5].",
    );
    expect(message(model, { ...ZOO, std: [0.2, 0, 0.2] })).toBe(
      "prepareBackbone: expected options.std to be 3 finite non-zero numbers (one per channel, in the model's channel order, applied after scale), found [0.2,0,0.2].",
    );
    expect(message(model, { ...ZOO, channelOrder: 'rbg' as 'rgb' })).toBe(
      "prepareBackbone: expected options.channelOrder to be 'rgb' or 'bgr', found 'rbg'.",
    );
  });

  it('rejects a tensor that does not depend on the input, and a non-float features tensor', () => {
    const constant = edit(tinyCnn(), (m) => {
      m.graph!.node!.push(
        onnx.NodeProto.create({ opType: 'Relu', name: 'bias_relu', input: ['conv_b'], output: ['bias_relu'] }),
      );
    });
    expect(errorOf(() => prepareBackbone(constant, { ...ZOO, featuresOutput: 'bias_relu' })).message).toBe(
      "prepareBackbone: options.featuresOutput 'bias_relu' does not depend on the graph input 'input'.",
    );
    const typed = edit(tinyCnn(), (m) => {
      m.graph!.valueInfo = [
        onnx.ValueInfoProto.create({
          name: 'pool',
          type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64 } },
        }),
      ];
    });
    expect(errorOf(() => prepareBackbone(typed, ZOO)).message).toBe(
      "prepareBackbone: expected options.featuresOutput 'pool' to be float32, found INT64.",
    );
  });
});
