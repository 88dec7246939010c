// Converts a TensorFlow.js *layers* model (Keras topology in model.json + float32 weight shards) into an ONNX model.
// Keras works in NHWC with HWIO kernels; the ONNX graph is NCHW throughout (what onnxruntime's CPU kernels like best),
// so kernels are transposed here once and every channel axis becomes axis 1.
import { AppError, ProgrammingError } from '../errors';
import { describeValue } from '../util/describeValue';
import { type Dim, OnnxGraphBuilder } from './onnxModel';

export const CONVERTER_NAME = 'image-classifier-functions/tfjsToOnnx';
/** Bump when the emitted graph changes, so caches keyed on it are rebuilt. */
export const CONVERTER_VERSION = '1';

export interface ConvertTfjsOptions {
  /** Name of the ONNX graph input (default 'input'). It is NCHW float32 with a dynamic batch dimension 'N'. */
  inputName?: string;
  /**
   * Preprocessing baked in front of the network. 'caffe' is Keras' for ResNet50/VGG: input RGB 0..255, the graph
   * swaps to BGR and subtracts the ImageNet BGR mean [103.939, 116.779, 123.68]. Default 'none'.
   */
  preprocessing?: 'none' | 'caffe';
  /** Name of the ONNX output carrying the model's (single) Keras output (default 'output'). */
  outputName?: string;
  /** More ONNX outputs: ONNX output name → Keras layer whose output it exposes (e.g. { features: 'avg_pool' }). */
  extraOutputs?: Readonly<Record<string, string>>;
  /** Fold BatchNormalization into the preceding Conv when nothing else reads the Conv's output (default true). */
  foldBatchNorm?: boolean;
}

export class UnsupportedModelError extends AppError {
  override readonly name = 'UnsupportedModelError';
  readonly kind = 'unsupported-content';
}

const CAFFE_BGR_MEAN = [103.939, 116.779, 123.68];

type Shape = { rank: 4; channels: number; height: number | null; width: number | null } | { rank: 2; channels: number };

interface ConvProducer {
  layerName: string;
  node: { inputs: string[] };
  weightName: string;
  biasName: string | null;
  outChannels: number;
}

interface TensorRef {
  name: string;
  shape: Shape;
  /** Set when this tensor is the raw (linear) output of a Conv, so a BatchNormalization reading it may be folded in. */
  conv?: ConvProducer;
}

interface LayerSpec {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inbound: string[];
}

interface WeightEntry {
  shape: number[];
  data: Float32Array;
}
/** What a layer converter is given: the layer, its inputs, and what the whole conversion shares. */
interface LayerContext {
  g: OnnxGraphBuilder;
  layer: LayerSpec;
  /** The tensors the layer reads, in inbound order. */
  inputs: readonly TensorRef[];
  /** The layer's single input; throws when it has none or several. */
  only: () => TensorRef;
  /** The layer's weight `param` (checked against `expectedShape` when given), marked as used. */
  weight: (param: string, expectedShape?: readonly number[]) => Float32Array;
  /** Readers per layer output (layers, the model's output, extra outputs): a Conv may absorb a sole-reader BN. */
  readers: ReadonlyMap<string, number>;
  inputName: string;
  preprocessing: 'none' | 'caffe';
  foldBatchNorm: boolean;
}

/** Emits one Keras layer's ONNX nodes and initializers and returns the tensor that stands for its output. */
type LayerConverter = (context: LayerContext) => TensorRef;

/**
 * Converts a TF.js layers model to ONNX bytes.
 * @param modelJson the parsed model.json ({ modelTopology, weightsManifest, ... })
 * @param weights the weight shards concatenated in manifest order (groups in order, paths in order)
 */
export function convertTfjsLayersModel(
  modelJson: unknown,
  weights: ArrayBuffer | Buffer | Uint8Array,
  options: ConvertTfjsOptions = {},
): Uint8Array {
  const root = record(modelJson, 'model.json');
  const format = root['format'];
  if (format !== undefined && format !== 'layers-model') {
    throw new UnsupportedModelError(
      `model.json has format ${JSON.stringify(format)}; only TF.js "layers-model" is supported (graph models are not)`,
    );
  }
  const topology = record(root['modelTopology'], 'model.json modelTopology');
  // Converter output nests the Keras config in model_config; a bare Keras model JSON is also accepted.
  const modelConfig = record(topology['model_config'] ?? topology, 'modelTopology.model_config');
  const modelClass = string(modelConfig['class_name'], 'model_config.class_name');
  if (modelClass !== 'Model' && modelClass !== 'Functional') {
    throw new UnsupportedModelError(`model class ${modelClass} is not supported (only functional "Model" topologies)`);
  }
  const config = record(modelConfig['config'], 'model_config.config');
  const layers = array(config['layers'], 'model_config.config.layers').map((l, i) => parseLayer(l, i));
  const inputLayers = array(config['input_layers'], 'input_layers').map((e, i) =>
    string(array(e, `input_layers[${i}]`)[0], `input_layers[${i}][0]`),
  );
  const outputLayers = array(config['output_layers'], 'output_layers').map((e, i) =>
    string(array(e, `output_layers[${i}]`)[0], `output_layers[${i}][0]`),
  );
  if (inputLayers.length !== 1)
    throw new UnsupportedModelError(`the model has ${inputLayers.length} inputs; exactly one is supported`);
  if (outputLayers.length !== 1)
    throw new UnsupportedModelError(`the model has ${outputLayers.length} outputs; exactly one is supported`);

  const weightMap = readWeights(array(root['weightsManifest'], 'model.json weightsManifest'), weights);
  const inputName = options.inputName ?? 'input';
  const outputName = options.outputName ?? 'output';
  const extraOutputs = Object.entries(options.extraOutputs ?? {});
  const preprocessing = options.preprocessing ?? 'none';
  const foldBatchNorm = options.foldBatchNorm ?? true;

  // Readers per layer output: a Conv may only absorb a BatchNormalization when that BN is its sole reader.
  const readers = new Map<string, number>();
  const bump = (name: string): void => void readers.set(name, (readers.get(name) ?? 0) + 1);
  for (const layer of layers) layer.inbound.forEach(bump);
  outputLayers.forEach(bump);
  const layerNames = new Set(layers.map((l) => l.name));
  for (const [onnxName, layerName] of extraOutputs) {
    if (!layerNames.has(layerName))
      throw new UnsupportedModelError(`extra output ${onnxName}: the model has no layer named ${layerName}`);
    bump(layerName);
  }

  const g = new OnnxGraphBuilder(string(config['name'] ?? 'model', 'model name'));
  const tensors = new Map<string, TensorRef>();
  const usedWeights = new Set<string>();
  const weight = (layer: LayerSpec, param: string, expectedShape?: readonly number[]): Float32Array => {
    const key = `${layer.name}/${param}`;
    const entry = weightMap.get(key);
    if (!entry)
      throw new UnsupportedModelError(`layer ${layer.name}: weight ${key} is missing from the weights manifest`);
    if (expectedShape && !sameShape(entry.shape, expectedShape)) {
      throw new UnsupportedModelError(
        `layer ${layer.name}: weight ${key} has shape [${entry.shape.join(',')}], expected [${expectedShape.join(',')}]`,
      );
    }
    usedWeights.add(key);
    return entry.data;
  };

  for (const layer of layers) {
    const inputs = layer.inbound.map((src) => {
      const t = tensors.get(src);
      if (!t)
        throw new UnsupportedModelError(
          `layer ${layer.name}: input ${src} is not defined before it (layers must be in topological order)`,
        );
      return t;
    });
    const convert = Object.hasOwn(LAYER_CONVERTERS, layer.className) ? LAYER_CONVERTERS[layer.className] : undefined;
    if (!convert) throw new UnsupportedModelError(`layer ${layer.name} of class ${layer.className} is not supported`);
    const out = convert({
      g,
      layer,
      inputs,
      only: () => {
        if (inputs.length !== 1 || !inputs[0])
          throw new UnsupportedModelError(
            `layer ${layer.name} of class ${layer.className} expects one input, got ${inputs.length}`,
          );
        return inputs[0];
      },
      weight: (param, expectedShape) => weight(layer, param, expectedShape),
      readers,
      inputName,
      preprocessing,
      foldBatchNorm,
    });
    tensors.set(layer.name, out);
  }

  const unused = [...weightMap.keys()].filter((k) => !usedWeights.has(k));
  if (unused.length > 0)
    throw new UnsupportedModelError(
      `weights not used by any layer (the topology and weights disagree): ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''}`,
    );

  const expose = (onnxName: string, layerName: string): void => {
    const t = tensors.get(layerName);
    if (!t) throw new UnsupportedModelError(`output layer ${layerName} is not defined`);
    g.addNode('Identity', [t.name], [g.uniqueName(onnxName)]);
    g.addOutput(
      onnxName,
      t.shape.rank === 4
        ? ['N', t.shape.channels, t.shape.height ?? 'H', t.shape.width ?? 'W']
        : ['N', t.shape.channels],
    );
  };
  expose(outputName, outputLayers[0] as string);
  for (const [onnxName, layerName] of extraOutputs) expose(onnxName, layerName);
  return g.toBytes({ name: CONVERTER_NAME, version: CONVERTER_VERSION });
}

// ---- one converter per Keras layer class ------------------------------------------------------------------------

/** Keras layer class → its converter; a class not here is refused, naming the layer and the class. */
const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  InputLayer: ({ g, layer, inputName, preprocessing }) => inputLayer(g, layer, inputName, preprocessing),
  Conv2D: conv2d,
  BatchNormalization: batchNormalization,
  Activation: ({ g, layer, only }) =>
    applyActivation(g, only(), string(layer.config['activation'], `${layer.name}.activation`), layer),
  ReLU: relu,
  // Inference: identity.
  Dropout: ({ only }) => only(),
  SpatialDropout2D: ({ only }) => only(),
  Add: add,
  ZeroPadding2D: zeroPadding2d,
  MaxPooling2D: pooling2d('MaxPool'),
  // AveragePool's default count_include_pad=0 matches TF, which averages over the in-image window part only.
  AveragePooling2D: pooling2d('AveragePool'),
  GlobalAveragePooling2D: globalPooling2d('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling2d('GlobalMaxPool'),
  Flatten: flatten,
  Dense: dense,
};

function conv2d({ g, layer, only, weight }: LayerContext): TensorRef {
  const c = layer.config;
  const x = as4d(layer, only());
  channelsLast(layer);
  const [kh, kw] = pair(c['kernel_size'], `${layer.name}.kernel_size`);
  const [sh, sw] = pair(c['strides'] ?? 1, `${layer.name}.strides`);
  const [dh, dw] = pair(c['dilation_rate'] ?? 1, `${layer.name}.dilation_rate`);
  const filters = int(c['filters'], `${layer.name}.filters`);
  if (c['groups'] !== undefined && c['groups'] !== 1)
    throw new UnsupportedModelError(
      `layer ${layer.name}: grouped convolution (groups=${describeValue(c['groups'])}) is not supported`,
    );
  const kernel = weight('kernel', [kh, kw, x.shape.channels, filters]);
  const weightName = g.addInitializer(
    g.uniqueName(`${layer.name}/W`),
    [filters, x.shape.channels, kh, kw],
    hwioToOihw(kernel, kh, kw, x.shape.channels, filters),
  );
  const useBias = c['use_bias'] !== false;
  const biasName = useBias
    ? g.addInitializer(g.uniqueName(`${layer.name}/B`), [filters], weight('bias', [filters]).slice())
    : null;
  const geometry = window2d(layer, x.shape, [kh, kw], [sh, sw], [dh, dw], padding(layer));
  const name = g.uniqueName(layer.name);
  const node = g.addNode('Conv', biasName ? [x.name, weightName, biasName] : [x.name, weightName], [name], {
    kernel_shape: [kh, kw],
    strides: [sh, sw],
    dilations: [dh, dw],
    group: 1,
    ...geometry.attributes,
  });
  const conv: TensorRef = {
    name,
    shape: { rank: 4, channels: filters, height: geometry.height, width: geometry.width },
  };
  const activation = string(c['activation'] ?? 'linear', `${layer.name}.activation`);
  return activation === 'linear'
    ? { ...conv, conv: { layerName: layer.name, node, weightName, biasName, outChannels: filters } }
    : applyActivation(g, conv, activation, layer);
}

function batchNormalization({ g, layer, only, weight, readers, foldBatchNorm }: LayerContext): TensorRef {
  const c = layer.config;
  const x = only();
  const axis = c['axis'];
  const axisValue: unknown = Array.isArray(axis) && axis.length === 1 ? (axis as unknown[])[0] : axis;
  const lastAxis = x.shape.rank - 1;
  if (axisValue !== -1 && axisValue !== lastAxis) {
    throw new UnsupportedModelError(
      `layer ${layer.name}: BatchNormalization over axis ${JSON.stringify(axis)} is not supported (only the channel axis ${lastAxis})`,
    );
  }
  const n = x.shape.channels;
  const epsilon = num(c['epsilon'] ?? 1e-3, `${layer.name}.epsilon`);
  const gamma = c['scale'] === false ? new Float32Array(n).fill(1) : weight('gamma', [n]);
  const beta = c['center'] === false ? new Float32Array(n) : weight('beta', [n]);
  const mean = weight('moving_mean', [n]);
  const variance = weight('moving_variance', [n]);
  const producer = x.conv;
  if (foldBatchNorm && producer && readers.get(producer.layerName) === 1)
    return foldIntoConv(g, producer, x, { gamma, beta, mean, variance, epsilon });
  const name = g.uniqueName(layer.name);
  g.addNode(
    'BatchNormalization',
    [
      x.name,
      g.addInitializer(g.uniqueName(`${layer.name}/gamma`), [n], gamma.slice()),
      g.addInitializer(g.uniqueName(`${layer.name}/beta`), [n], beta.slice()),
      g.addInitializer(g.uniqueName(`${layer.name}/mean`), [n], mean.slice()),
      g.addInitializer(g.uniqueName(`${layer.name}/var`), [n], variance.slice()),
    ],
    [name],
    { epsilon: { float: epsilon } },
  );
  return { name, shape: x.shape };
}

function relu({ g, layer, only }: LayerContext): TensorRef {
  const c = layer.config;
  if (c['max_value'] != null || (c['negative_slope'] ?? 0) !== 0 || (c['threshold'] ?? 0) !== 0) {
    throw new UnsupportedModelError(
      `layer ${layer.name}: ReLU with max_value/negative_slope/threshold is not supported`,
    );
  }
  return applyActivation(g, only(), 'relu', layer);
}

function add({ g, layer, inputs }: LayerContext): TensorRef {
  if (inputs.length < 2)
    throw new UnsupportedModelError(`layer ${layer.name}: Add needs at least two inputs, got ${inputs.length}`);
  const first = inputs[0] as TensorRef;
  for (const t of inputs) {
    if (!sameTensorShape(t.shape, first.shape))
      throw new UnsupportedModelError(
        `layer ${layer.name}: Add inputs have different shapes (broadcasting is not supported)`,
      );
  }
  const name = g.uniqueName(layer.name);
  g.addNode(
    'Sum',
    inputs.map((t) => t.name),
    [name],
  );
  return { name, shape: first.shape };
}

function zeroPadding2d({ g, layer, only }: LayerContext): TensorRef {
  const x = as4d(layer, only());
  channelsLast(layer);
  const [[top, bottom], [left, right]] = zeroPadding(layer.config['padding'], layer.name);
  const pads = g.addInitializer(
    g.uniqueName(`${layer.name}/pads`),
    [8],
    BigInt64Array.from([0, 0, top, left, 0, 0, bottom, right].map(BigInt)),
  );
  const name = g.uniqueName(layer.name);
  g.addNode('Pad', [x.name, pads], [name], { mode: 'constant' });
  return {
    name,
    shape: {
      rank: 4,
      channels: x.shape.channels,
      height: plus(x.shape.height, top + bottom),
      width: plus(x.shape.width, left + right),
    },
  };
}

function pooling2d(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return ({ g, layer, only }) => {
    const c = layer.config;
    const x = as4d(layer, only());
    channelsLast(layer);
    const [ph, pw] = pair(c['pool_size'] ?? 2, `${layer.name}.pool_size`);
    const [sh, sw] = pair(c['strides'] ?? [ph, pw], `${layer.name}.strides`);
    const geometry = window2d(layer, x.shape, [ph, pw], [sh, sw], [1, 1], padding(layer));
    const name = g.uniqueName(layer.name);
    g.addNode(op, [x.name], [name], {
      kernel_shape: [ph, pw],
      strides: [sh, sw],
      ...geometry.attributes,
    });
    return { name, shape: { rank: 4, channels: x.shape.channels, height: geometry.height, width: geometry.width } };
  };
}

function globalPooling2d(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return ({ g, layer, only }) => {
    const x = as4d(layer, only());
    channelsLast(layer);
    if (layer.config['keepdims'] === true)
      throw new UnsupportedModelError(`layer ${layer.name}: keepdims=true is not supported`);
    const pooled = g.uniqueName(`${layer.name}/pooled`);
    g.addNode(op, [x.name], [pooled]);
    const name = g.uniqueName(layer.name);
    g.addNode('Flatten', [pooled], [name], { axis: 1 });
    return { name, shape: { rank: 2, channels: x.shape.channels } };
  };
}

function flatten({ g, layer, only }: LayerContext): TensorRef {
  const x = only();
  if (x.shape.rank === 2) return x;
  const { height, width, channels } = x.shape;
  if (height === null || width === null)
    throw new UnsupportedModelError(`layer ${layer.name}: Flatten needs a static height and width`);
  // Keras flattens NHWC (channels fastest); go back to that order so a following Dense sees its trained layout.
  const nhwc = g.uniqueName(`${layer.name}/nhwc`);
  g.addNode('Transpose', [x.name], [nhwc], { perm: [0, 2, 3, 1] });
  const name = g.uniqueName(layer.name);
  g.addNode('Flatten', [nhwc], [name], { axis: 1 });
  return { name, shape: { rank: 2, channels: height * width * channels } };
}

function dense({ g, layer, only, weight }: LayerContext): TensorRef {
  const c = layer.config;
  const x = only();
  if (x.shape.rank !== 2)
    throw new UnsupportedModelError(
      `layer ${layer.name}: Dense on a rank-4 tensor is not supported (add Flatten or pooling before it)`,
    );
  const units = int(c['units'], `${layer.name}.units`);
  // Keras kernel is [in, out]: exactly Gemm's B with transB=0.
  const kernel = g.addInitializer(
    g.uniqueName(`${layer.name}/W`),
    [x.shape.channels, units],
    weight('kernel', [x.shape.channels, units]).slice(),
  );
  const gemmInputs = [x.name, kernel];
  if (c['use_bias'] !== false)
    gemmInputs.push(g.addInitializer(g.uniqueName(`${layer.name}/B`), [units], weight('bias', [units]).slice()));
  const activation = string(c['activation'] ?? 'linear', `${layer.name}.activation`);
  const name = g.uniqueName(activation === 'linear' ? layer.name : `${layer.name}/linear`);
  g.addNode('Gemm', gemmInputs, [name]);
  const linear: TensorRef = { name, shape: { rank: 2, channels: units } };
  return activation === 'linear' ? linear : applyActivation(g, linear, activation, layer);
}

// ---- shared by the converters -----------------------------------------------------------------------------------
function inputLayer(
  g: OnnxGraphBuilder,
  layer: LayerSpec,
  inputName: string,
  preprocessing: 'none' | 'caffe',
): TensorRef {
  const shape = array(
    layer.config['batch_input_shape'] ?? layer.config['batch_shape'],
    `${layer.name}.batch_input_shape`,
  );
  if (shape.length !== 4)
    throw new UnsupportedModelError(
      `layer ${layer.name}: input of rank ${shape.length} is not supported (only images, [batch, height, width, channels])`,
    );
  const dim = (v: unknown, what: string): number | null => (v === null ? null : int(v, `${layer.name}.${what}`));
  const height = dim(shape[1], 'height');
  const width = dim(shape[2], 'width');
  const channels = dim(shape[3], 'channels');
  if (channels === null) throw new UnsupportedModelError(`layer ${layer.name}: the channel count must be static`);
  const dims: Dim[] = ['N', channels, height ?? 'H', width ?? 'W'];
  g.addInput(inputName, dims);
  const shapeOut: Shape = { rank: 4, channels, height, width };
  if (preprocessing === 'none') return { name: inputName, shape: shapeOut };
  if (channels !== 3)
    throw new UnsupportedModelError(`caffe preprocessing needs 3 input channels, the model has ${channels}`);
  const bgr = g.uniqueName('preprocess/bgr');
  g.addNode(
    'Gather',
    [inputName, g.addInitializer(g.uniqueName('preprocess/bgr_order'), [3], BigInt64Array.from([2n, 1n, 0n]))],
    [bgr],
    { axis: 1 },
  );
  const centred = g.uniqueName('preprocess/centred');
  g.addNode(
    'Sub',
    [bgr, g.addInitializer(g.uniqueName('preprocess/bgr_mean'), [1, 3, 1, 1], Float32Array.from(CAFFE_BGR_MEAN))],
    [centred],
  );
  return { name: centred, shape: shapeOut };
}

function applyActivation(g: OnnxGraphBuilder, x: TensorRef, activation: string, layer: LayerSpec): TensorRef {
  const ops: Record<string, string> = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', softmax: 'Softmax' };
  if (activation === 'linear') return { name: x.name, shape: x.shape };
  const op = ops[activation];
  if (!op) throw new UnsupportedModelError(`layer ${layer.name}: activation ${activation} is not supported`);
  const name = g.uniqueName(layer.name);
  // Keras softmax runs over the last (channel) axis, which is axis 1 in NCHW and in [N, C].
  g.addNode(op, [x.name], [name], op === 'Softmax' ? { axis: 1 } : {});
  return { name, shape: x.shape };
}

function foldIntoConv(
  g: OnnxGraphBuilder,
  producer: ConvProducer,
  x: TensorRef,
  bn: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array; epsilon: number },
): TensorRef {
  const kernel = g.getInitializer(producer.weightName);
  if (!(kernel instanceof Float32Array))
    throw new ProgrammingError(`conv weight ${producer.weightName} is not an initializer`);
  const n = producer.outChannels;
  let bias: Float32Array;
  if (producer.biasName) {
    const existing = g.getInitializer(producer.biasName);
    if (!(existing instanceof Float32Array))
      throw new ProgrammingError(`conv bias ${producer.biasName} is not an initializer`);
    bias = existing;
  } else {
    bias = new Float32Array(n);
    producer.node.inputs.push(g.addInitializer(g.uniqueName(`${producer.layerName}/B`), [n], bias));
  }
  const perFilter = kernel.length / n;
  for (let o = 0; o < n; o++) {
    // y = gamma * (conv + b - mean) / sqrt(var + eps) + beta, so scale the filter and shift the bias.
    const scale = (bn.gamma[o] as number) / Math.sqrt((bn.variance[o] as number) + bn.epsilon);
    for (let i = o * perFilter; i < (o + 1) * perFilter; i++) kernel[i] = (kernel[i] as number) * scale;
    bias[o] = ((bias[o] as number) - (bn.mean[o] as number)) * scale + (bn.beta[o] as number);
  }
  return { name: x.name, shape: x.shape };
}

function hwioToOihw(k: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        const src = ((y * kw + x) * ci + i) * co;
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = k[src + o] as number;
      }
    }
  }
  return out;
}

/** Output size and ONNX padding attributes for a 2-D window op with Keras/TF semantics. */
function window2d(
  layer: LayerSpec,
  shape: { height: number | null; width: number | null },
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
  pad: 'valid' | 'same',
): { height: number | null; width: number | null; attributes: Record<string, number[] | string> } {
  const effective = [(kernel[0] - 1) * dilations[0] + 1, (kernel[1] - 1) * dilations[1] + 1] as const;
  const sizes = [shape.height, shape.width] as const;
  if (pad === 'valid') {
    const out = sizes.map((s, i) => {
      if (s === null) return null;
      const o = Math.floor((s - (effective[i] as number)) / (strides[i] as number)) + 1;
      if (o < 1)
        throw new UnsupportedModelError(`layer ${layer.name}: input ${s} is smaller than the window ${effective[i]}`);
      return o;
    });
    return { height: out[0] ?? null, width: out[1] ?? null, attributes: { pads: [0, 0, 0, 0] } };
  }
  if (sizes[0] === null || sizes[1] === null) {
    // Unknown size: SAME_UPPER puts the odd pixel at the end, as TF does.
    return { height: null, width: null, attributes: { auto_pad: 'SAME_UPPER' } };
  }
  const out: number[] = [];
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < 2; i++) {
    const s = sizes[i] as number;
    const o = Math.ceil(s / (strides[i] as number));
    const total = Math.max((o - 1) * (strides[i] as number) + (effective[i] as number) - s, 0);
    out.push(o);
    begin.push(Math.floor(total / 2)); // TF pads the smaller half first, the odd pixel at the end
    end.push(total - Math.floor(total / 2));
  }
  return { height: out[0] ?? null, width: out[1] ?? null, attributes: { pads: [...begin, ...end] } };
}

function readWeights(manifest: unknown[], weights: ArrayBuffer | Buffer | Uint8Array): Map<string, WeightEntry> {
  const bytes = weights instanceof ArrayBuffer ? new Uint8Array(weights) : weights;
  // Float32Array views need 4-byte alignment; a Buffer from the pool may not have it.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : Uint8Array.prototype.slice.call(bytes);
  const map = new Map<string, WeightEntry>();
  let offset = 0;
  manifest.forEach((group, gi) => {
    const specs = array(record(group, `weightsManifest[${gi}]`)['weights'], `weightsManifest[${gi}].weights`);
    specs.forEach((spec, wi) => {
      const where = `weightsManifest[${gi}].weights[${wi}]`;
      const w = record(spec, where);
      const name = string(w['name'], `${where}.name`).replace(/:0$/, '');
      const shape = array(w['shape'], `${where}.shape`).map((d, i) => int(d, `${where}.shape[${i}]`));
      const dtype = w['dtype'] ?? 'float32';
      if (dtype !== 'float32')
        throw new UnsupportedModelError(`weight ${name} has dtype ${describeValue(dtype)}; only float32 is supported`);
      if (w['quantization'] !== undefined)
        throw new UnsupportedModelError(`weight ${name} is quantized; quantized weights are not supported`);
      const count = shape.reduce((a, b) => a * b, 1);
      const byteLength = count * 4;
      if (offset + byteLength > aligned.byteLength) {
        throw new UnsupportedModelError(
          `weight ${name} needs bytes ${offset}..${offset + byteLength} but the weight data has only ${aligned.byteLength} bytes`,
        );
      }
      if (map.has(name)) throw new UnsupportedModelError(`weight ${name} appears twice in the manifest`);
      map.set(name, { shape, data: new Float32Array(aligned.buffer, aligned.byteOffset + offset, count) });
      offset += byteLength;
    });
  });
  if (offset !== aligned.byteLength)
    throw new UnsupportedModelError(
      `the manifest describes ${offset} bytes of weights but ${aligned.byteLength} were given`,
    );
  return map;
}

function parseLayer(value: unknown, index: number): LayerSpec {
  const l = record(value, `layers[${index}]`);
  const name = string(l['name'] ?? record(l['config'], `layers[${index}].config`)['name'], `layers[${index}].name`);
  const className = string(l['class_name'], `layer ${name} class_name`);
  const config = record(l['config'], `layer ${name} config`);
  const nodes = array(l['inbound_nodes'] ?? [], `layer ${name} inbound_nodes`);
  if (nodes.length > 1)
    throw new UnsupportedModelError(`layer ${name} is called ${nodes.length} times; shared layers are not supported`);
  const inbound =
    nodes.length === 0
      ? []
      : array(nodes[0], `layer ${name} inbound_nodes[0]`).map((entry, i) => {
          const where = `layer ${name} inbound_nodes[0][${i}]`;
          const e = array(entry, `${where} (Keras 2 format [layer, node, tensor, kwargs] expected)`);
          if (e[1] !== 0 || e[2] !== 0)
            throw new UnsupportedModelError(`${where}: only the first output of single-use layers is supported`);
          return string(e[0], where);
        });
  return { name, className, config, inbound };
}

function padding(layer: LayerSpec): 'valid' | 'same' {
  const p = layer.config['padding'] ?? 'valid';
  if (p !== 'valid' && p !== 'same')
    throw new UnsupportedModelError(`layer ${layer.name}: padding ${JSON.stringify(p)} is not supported`);
  return p;
}

function channelsLast(layer: LayerSpec): void {
  const f = layer.config['data_format'];
  if (f !== undefined && f !== null && f !== 'channels_last')
    throw new UnsupportedModelError(
      `layer ${layer.name}: data_format ${describeValue(f)} is not supported (only channels_last)`,
    );
}

function as4d(layer: LayerSpec, t: TensorRef): TensorRef & { shape: Extract<Shape, { rank: 4 }> } {
  const shape = t.shape;
  if (shape.rank !== 4)
    throw new UnsupportedModelError(
      `layer ${layer.name} of class ${layer.className} needs an image tensor, got rank ${shape.rank}`,
    );
  return { ...t, shape };
}

function zeroPadding(v: unknown, layerName: string): [[number, number], [number, number]] {
  const where = `${layerName}.padding`;
  if (typeof v === 'number')
    return [
      [int(v, where), v],
      [v, v],
    ];
  const a = array(v, where);
  if (a.length !== 2) throw new UnsupportedModelError(`${where}: expected 2 entries, got ${a.length}`);
  if (typeof a[0] === 'number') {
    const [h, w] = pair(a, where);
    return [
      [h, h],
      [w, w],
    ];
  }
  return [pair(a[0], `${where}[0]`), pair(a[1], `${where}[1]`)];
}

function plus(a: number | null, b: number): number | null {
  return a === null ? null : a + b;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameTensorShape(a: Shape, b: Shape): boolean {
  if (a.rank !== b.rank || a.channels !== b.channels) return false;
  return a.rank === 2 || (b.rank === 4 && a.height === b.height && a.width === b.width);
}

// Narrowing helpers for the untyped JSON; each names the field so errors point at the model.
function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new UnsupportedModelError(`${where}: expected an object`);
  return v as Record<string, unknown>;
}
function array(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new UnsupportedModelError(`${where}: expected an array`);
  return v as unknown[];
}
function string(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new UnsupportedModelError(`${where}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}
function num(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new UnsupportedModelError(`${where}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}
function int(v: unknown, where: string): number {
  const n = num(v, where);
  if (!Number.isInteger(n) || n < 0)
    throw new UnsupportedModelError(`${where}: expected a non-negative integer, got ${n}`);
  return n;
}
function pair(v: unknown, where: string): [number, number] {
  if (typeof v === 'number') return [int(v, where), v];
  const a = array(v, where);
  if (a.length !== 2) throw new UnsupportedModelError(`${where}: expected 2 numbers, got ${a.length}`);
  return [int(a[0], `${where}[0]`), int(a[1], `${where}[1]`)];
}
