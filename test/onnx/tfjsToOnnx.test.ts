// Converts a tiny hand-made TF.js layers model and checks onnxruntime's output against a plain-JS (NHWC, float64)
// reference of the same network. Sizes are odd on purpose so TF "same" padding is asymmetric.
import { createHash } from 'node:crypto';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { CONVERTER_VERSION, convertTfjsLayersModel, UnsupportedModelError } from '../../src/onnx/tfjsToOnnx';
import { seededRandom } from '../../src/util/seededRandom';

// ---- plain-JS reference, NHWC -------------------------------------------------------------------------------------
interface T3 {
  h: number;
  w: number;
  c: number;
  d: Float64Array; // index (y * w + x) * c + ch
}
const t3 = (h: number, w: number, c: number): T3 => ({ h, w, c, d: new Float64Array(h * w * c) });
const at = (t: T3, y: number, x: number, ch: number): number => t.d[(y * t.w + x) * t.c + ch] as number;

function samePads(size: number, k: number, s: number): { out: number; begin: number } {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return { out, begin: Math.floor(total / 2) };
}

function window(x: T3, kh: number, kw: number, sh: number, sw: number, pad: 'same' | 'valid') {
  if (pad === 'valid')
    return { oh: Math.floor((x.h - kh) / sh) + 1, ow: Math.floor((x.w - kw) / sw) + 1, pt: 0, pl: 0 };
  const v = samePads(x.h, kh, sh);
  const u = samePads(x.w, kw, sw);
  return { oh: v.out, ow: u.out, pt: v.begin, pl: u.begin };
}

function conv(
  x: T3,
  k: Float32Array,
  kh: number,
  kw: number,
  co: number,
  bias: Float32Array | null,
  s: [number, number],
  pad: 'same' | 'valid',
): T3 {
  const { oh, ow, pt, pl } = window(x, kh, kw, s[0], s[1], pad);
  const y = t3(oh, ow, co);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let o = 0; o < co; o++) {
        let sum = bias ? (bias[o] as number) : 0;
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const iy = oy * s[0] + ky - pt;
            const ix = ox * s[1] + kx - pl;
            if (iy < 0 || ix < 0 || iy >= x.h || ix >= x.w) continue; // zero padding
            for (let i = 0; i < x.c; i++) sum += at(x, iy, ix, i) * (k[((ky * kw + kx) * x.c + i) * co + o] as number);
          }
        y.d[(oy * ow + ox) * co + o] = sum;
      }
  return y;
}

function maxPool(x: T3, p: number, s: number, pad: 'same' | 'valid'): T3 {
  const { oh, ow, pt, pl } = window(x, p, p, s, s, pad);
  const y = t3(oh, ow, x.c);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let ch = 0; ch < x.c; ch++) {
        let m = -Infinity; // TF ignores padded cells in max pooling
        for (let ky = 0; ky < p; ky++)
          for (let kx = 0; kx < p; kx++) {
            const iy = oy * s + ky - pt;
            const ix = ox * s + kx - pl;
            if (iy >= 0 && ix >= 0 && iy < x.h && ix < x.w) m = Math.max(m, at(x, iy, ix, ch));
          }
        y.d[(oy * ow + ox) * x.c + ch] = m;
      }
  return y;
}

function avgPool(x: T3, p: number, s: number, pad: 'same' | 'valid'): T3 {
  const { oh, ow, pt, pl } = window(x, p, p, s, s, pad);
  const y = t3(oh, ow, x.c);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let ch = 0; ch < x.c; ch++) {
        let sum = 0;
        let n = 0; // TF averages over the cells inside the image only
        for (let ky = 0; ky < p; ky++)
          for (let kx = 0; kx < p; kx++) {
            const iy = oy * s + ky - pt;
            const ix = ox * s + kx - pl;
            if (iy >= 0 && ix >= 0 && iy < x.h && ix < x.w) {
              sum += at(x, iy, ix, ch);
              n++;
            }
          }
        y.d[(oy * ow + ox) * x.c + ch] = sum / n;
      }
  return y;
}

function zeroPad(x: T3, [[t, b], [l, r]]: [[number, number], [number, number]]): T3 {
  const y = t3(x.h + t + b, x.w + l + r, x.c);
  for (let iy = 0; iy < x.h; iy++)
    for (let ix = 0; ix < x.w; ix++)
      for (let ch = 0; ch < x.c; ch++) y.d[((iy + t) * y.w + ix + l) * x.c + ch] = at(x, iy, ix, ch);
  return y;
}

function batchNorm(
  x: T3,
  p: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array },
  eps: number,
): T3 {
  const y = t3(x.h, x.w, x.c);
  x.d.forEach((v, i) => {
    const ch = i % x.c;
    y.d[i] =
      ((v - (p.mean[ch] as number)) / Math.sqrt((p.variance[ch] as number) + eps)) * (p.gamma[ch] as number) +
      (p.beta[ch] as number);
  });
  return y;
}

const map = (x: T3, f: (v: number) => number): T3 => ({ ...x, d: x.d.map(f) });
const relu = (x: T3): T3 => map(x, (v) => Math.max(0, v));
const add = (...xs: T3[]): T3 => ({
  ...(xs[0] as T3),
  d: (xs[0] as T3).d.map((_, i) => xs.reduce((s, t) => s + (t.d[i] as number), 0)),
});
const gap = (x: T3): number[] =>
  Array.from({ length: x.c }, (_, ch) => {
    let s = 0;
    for (let i = ch; i < x.d.length; i += x.c) s += x.d[i] as number;
    return s / (x.h * x.w);
  });
function dense(v: readonly number[], k: Float32Array, b: Float32Array, units: number): number[] {
  return Array.from({ length: units }, (_, o) =>
    v.reduce((s, x, i) => s + x * (k[i * units + o] as number), b[o] as number),
  );
}
function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

// ---- the tiny model ----------------------------------------------------------------------------------------------
const H = 7;
const W = 6;
const EPS = 0.001;

interface Weight {
  name: string;
  shape: number[];
  data: Float32Array;
}

function tinyModel(seed: number) {
  const random = seededRandom(seed);
  const weights: Weight[] = [];
  const w = (name: string, shape: number[], lo = -0.5, hi = 0.5): Float32Array => {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * random());
    weights.push({ name, shape, data });
    return data;
  };
  const bn = (name: string, n: number) => ({
    gamma: w(`${name}/gamma`, [n], 0.5, 1.5),
    beta: w(`${name}/beta`, [n]),
    mean: w(`${name}/moving_mean`, [n]),
    variance: w(`${name}/moving_variance`, [n], 0.2, 2),
  });
  const p = {
    convA: { kernel: w('conv_a/kernel', [3, 3, 3, 4], -0.02, 0.02), bias: w('conv_a/bias', [4]) },
    bnA: bn('bn_a', 4),
    convB: { kernel: w('conv_b/kernel', [2, 2, 4, 4]) },
    bnB: bn('bn_b', 4),
    convC: { kernel: w('conv_c/kernel', [2, 1, 4, 5]), bias: w('conv_c/bias', [5]) },
    fc: { kernel: w('fc/kernel', [5, 3]), bias: w('fc/bias', [3]) },
  };
  const layer = (name: string, className: string, config: Record<string, unknown>, inputs: string[]) => ({
    name,
    class_name: className,
    config: { name, data_format: 'channels_last', ...config },
    inbound_nodes: inputs.length ? [inputs.map((i) => [i, 0, 0, {}])] : [],
  });
  const bnConfig = { axis: [3], epsilon: EPS, center: true, scale: true };
  const layers = [
    layer('input_1', 'InputLayer', { batch_input_shape: [null, H, W, 3], dtype: 'float32' }, []),
    layer(
      'pad',
      'ZeroPadding2D',
      {
        padding: [
          [1, 0],
          [0, 2],
        ],
      },
      ['input_1'],
    ), // 8x8
    layer(
      'conv_a',
      'Conv2D',
      { filters: 4, kernel_size: [3, 3], strides: [2, 2], padding: 'same', use_bias: true, activation: 'linear' },
      ['pad'],
    ), // 4x4, pads 0/1
    layer('bn_a', 'BatchNormalization', bnConfig, ['conv_a']), // folded
    layer('relu_a', 'Activation', { activation: 'relu' }, ['bn_a']),
    layer(
      'conv_b',
      'Conv2D',
      { filters: 4, kernel_size: [2, 2], strides: [1, 1], padding: 'same', use_bias: false, activation: 'linear' },
      ['relu_a'],
    ),
    layer('bn_b', 'BatchNormalization', bnConfig, ['conv_b']), // conv_b has two readers: not folded
    layer('add', 'Add', {}, ['bn_b', 'conv_b', 'relu_a']),
    layer('pool', 'MaxPooling2D', { pool_size: [3, 3], strides: [2, 2], padding: 'same' }, ['add']), // 2x2, pads 0/1
    layer(
      'conv_c',
      'Conv2D',
      { filters: 5, kernel_size: [2, 1], strides: [1, 1], padding: 'valid', use_bias: true, activation: 'relu' },
      ['pool'],
    ), // 1x2
    layer('avg', 'AveragePooling2D', { pool_size: [2, 2], strides: [2, 2], padding: 'same' }, ['add']), // 2x2, all in-image
    layer('avg3', 'AveragePooling2D', { pool_size: [3, 3], strides: [2, 2], padding: 'same' }, ['add']), // 2x2, edge windows partly padded
    layer('flat', 'Flatten', {}, ['conv_c']),
    layer('gap', 'GlobalAveragePooling2D', {}, ['conv_c']),
    layer('fc', 'Dense', { units: 3, activation: 'softmax', use_bias: true }, ['gap']),
  ];
  // Two weight groups, so concatenation across groups is exercised.
  const half = Math.floor(weights.length / 2);
  const group = (ws: Weight[], i: number) => ({
    paths: [`group${i}-shard1of1.bin`],
    weights: ws.map(({ name, shape }) => ({ name, shape, dtype: 'float32' })),
  });
  const modelJson = {
    format: 'layers-model',
    modelTopology: {
      model_config: {
        class_name: 'Model',
        config: { name: 'tiny', layers, input_layers: [['input_1', 0, 0]], output_layers: [['fc', 0, 0]] },
      },
    },
    weightsManifest: [group(weights.slice(0, half), 1), group(weights.slice(half), 2)],
  };
  const bytes = Buffer.concat(weights.map((x) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)));

  /** The reference forward pass on one NHWC image already in the network's input domain. */
  const reference = (x: T3) => {
    const padded = zeroPad(x, [
      [1, 0],
      [0, 2],
    ]);
    const a = relu(batchNorm(conv(padded, p.convA.kernel, 3, 3, 4, p.convA.bias, [2, 2], 'same'), p.bnA, EPS));
    const b = conv(a, p.convB.kernel, 2, 2, 4, null, [1, 1], 'same');
    const sum = add(batchNorm(b, p.bnB, EPS), b, a);
    const c = relu(conv(maxPool(sum, 3, 2, 'same'), p.convC.kernel, 2, 1, 5, p.convC.bias, [1, 1], 'valid'));
    return {
      fc: softmax(dense(gap(c), p.fc.kernel, p.fc.bias, 3)),
      flat: Array.from(c.d),
      avg: avgPool(sum, 2, 2, 'same'),
      avg3: avgPool(sum, 3, 2, 'same'),
    };
  };
  return { modelJson, bytes, reference };
}

/** NCHW data of image n as NHWC T3. */
function imageNhwc(
  nchw: Float32Array,
  n: number,
  c: number,
  h: number,
  w: number,
  transform: (v: number, ch: number) => number = (v) => v,
): T3 {
  const t = t3(h, w, c);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        t.d[(y * w + x) * c + ch] = transform(nchw[((n * c + ch) * h + y) * w + x] as number, ch);
  return t;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance = 1e-4): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(
      worst,
      Math.abs((actual[i] as number) - (expected[i] as number)) / Math.max(1, Math.abs(expected[i] as number)),
    );
  expect(worst, `${what}: largest relative difference`).toBeLessThan(tolerance);
}

async function runModel(
  onnxBytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(onnxBytes, { executionProviders: ['cpu'] });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('convertTfjsLayersModel', () => {
  const BATCH = 2;
  const random = seededRandom(7);
  const input = Float32Array.from({ length: BATCH * 3 * H * W }, () => Math.floor(random() * 256));

  it('matches a plain-JS reference of a small network (odd same-padding, folded and unfolded BN, Add, pools, Dense)', async () => {
    const { modelJson, bytes, reference } = tinyModel(1);
    const onnxBytes = convertTfjsLayersModel(modelJson, bytes, {
      preprocessing: 'none',
      extraOutputs: { flat: 'flat', avg: 'avg', avg3: 'avg3' },
    });
    const scaled = input.map((v) => v / 255); // keep activations small without preprocessing
    const out = await runModel(onnxBytes, { input: new ort.Tensor('float32', scaled, [BATCH, 3, H, W]) });
    for (let n = 0; n < BATCH; n++) {
      const ref = reference(imageNhwc(scaled, n, 3, H, W));
      expect(out['output']?.dims).toEqual([BATCH, 3]);
      expectClose((out['output']?.data as Float32Array).subarray(n * 3, n * 3 + 3), ref.fc, `image ${n} softmax`);
      expectClose(
        (out['flat']?.data as Float32Array).subarray(n * 10, n * 10 + 10),
        ref.flat,
        `image ${n} flatten (NHWC order)`,
      );
      // avg/avg3 are NCHW [N,4,2,2]; compare per channel against the NHWC reference.
      for (const key of ['avg', 'avg3'] as const) {
        const t = out[key];
        expect(t?.dims).toEqual([BATCH, 4, 2, 2]);
        expectClose(
          Array.from(imageNhwc(t?.data as Float32Array, n, 4, 2, 2).d),
          Array.from(ref[key].d),
          `image ${n} ${key}`,
        );
      }
    }
  });

  it('bakes Keras caffe preprocessing (RGB→BGR, minus the BGR mean) into the graph', async () => {
    const { modelJson, bytes, reference } = tinyModel(2);
    const onnxBytes = convertTfjsLayersModel(modelJson, bytes, {
      preprocessing: 'caffe',
      inputName: 'pixels',
      outputName: 'probabilities',
    });
    const out = await runModel(onnxBytes, { pixels: new ort.Tensor('float32', input, [BATCH, 3, H, W]) });
    const mean = [103.939, 116.779, 123.68];
    for (let n = 0; n < BATCH; n++) {
      // Reference input: channel ch of the network is BGR channel ch, i.e. RGB channel 2 - ch.
      const rgb = imageNhwc(input, n, 3, H, W);
      const bgr = t3(H, W, 3);
      for (let i = 0; i < H * W; i++)
        for (let ch = 0; ch < 3; ch++) bgr.d[i * 3 + ch] = (rgb.d[i * 3 + 2 - ch] as number) - (mean[ch] as number);
      expectClose(
        (out['probabilities']?.data as Float32Array).subarray(n * 3, n * 3 + 3),
        reference(bgr).fc,
        `image ${n} softmax`,
      );
    }
  });

  it('gives the same result with BatchNormalization folding switched off', async () => {
    const { modelJson, bytes } = tinyModel(3);
    const feeds = {
      input: new ort.Tensor(
        'float32',
        input.map((v) => v / 255),
        [BATCH, 3, H, W],
      ),
    };
    const folded = await runModel(convertTfjsLayersModel(modelJson, bytes), feeds);
    const plain = await runModel(convertTfjsLayersModel(modelJson, bytes, { foldBatchNorm: false }), feeds);
    expectClose(folded['output']?.data as Float32Array, plain['output']?.data as Float32Array, 'folded vs unfolded');
  });

  it('names the layer and class it cannot convert', () => {
    const { modelJson, bytes } = tinyModel(4);
    const layers = modelJson.modelTopology.model_config.config.layers;
    const conv = layers.find((l) => l.name === 'conv_a');
    if (!conv) throw new Error('tiny model has no conv_a');
    conv.class_name = 'Conv3D';
    expect(() => convertTfjsLayersModel(modelJson, bytes)).toThrow(
      new UnsupportedModelError('layer conv_a of class Conv3D is not supported'),
    );
  });

  it('refuses class names that are only properties of every object (toString, constructor, __proto__)', () => {
    for (const className of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const { modelJson, bytes } = tinyModel(4);
      const conv = modelJson.modelTopology.model_config.config.layers.find((l) => l.name === 'conv_a');
      if (!conv) throw new Error('tiny model has no conv_a');
      conv.class_name = className;
      expect(() => convertTfjsLayersModel(modelJson, bytes)).toThrow(
        new UnsupportedModelError(`layer conv_a of class ${className} is not supported`),
      );
    }
  });

  it('converts ReLU, Dropout, SpatialDropout2D, GlobalMaxPooling2D and a Dense without bias', async () => {
    const random = seededRandom(11);
    const kernel = Float32Array.from({ length: 3 * 2 }, () => random() - 0.5);
    const layer = (name: string, className: string, config: Record<string, unknown>, inputs: string[]) => ({
      name,
      class_name: className,
      config: { name, ...config },
      inbound_nodes: inputs.length ? [inputs.map((i) => [i, 0, 0, {}])] : [],
    });
    const modelJson = {
      modelTopology: {
        class_name: 'Functional',
        config: {
          layers: [
            layer('in', 'InputLayer', { batch_shape: [null, H, W, 3] }, []),
            layer('relu', 'ReLU', {}, ['in']),
            layer('drop', 'Dropout', { rate: 0.5 }, ['relu']),
            layer('sdrop', 'SpatialDropout2D', { rate: 0.5 }, ['drop']),
            layer('gmp', 'GlobalMaxPooling2D', {}, ['sdrop']),
            layer('fc', 'Dense', { units: 2, use_bias: false }, ['gmp']),
          ],
          input_layers: [['in', 0, 0]],
          output_layers: [['fc', 0, 0]],
        },
      },
      weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'fc/kernel', shape: [3, 2], dtype: 'float32' }] }],
    };
    const centred = input.map((v) => v / 255 - 0.5); // negative values, so the ReLU matters
    const out = await runModel(convertTfjsLayersModel(modelJson, Buffer.from(kernel.buffer)), {
      input: new ort.Tensor('float32', centred, [BATCH, 3, H, W]),
    });
    expect(out['output']?.dims).toEqual([BATCH, 2]);
    for (let n = 0; n < BATCH; n++) {
      const x = relu(imageNhwc(centred, n, 3, H, W));
      const pooled = Array.from({ length: 3 }, (_, ch) => {
        let m = -Infinity;
        for (let i = ch; i < x.d.length; i += 3) m = Math.max(m, x.d[i] as number);
        return m;
      });
      expectClose(
        (out['output']?.data as Float32Array).subarray(n * 2, n * 2 + 2),
        dense(pooled, kernel, new Float32Array(2), 2),
        `image ${n} dense`,
      );
    }
  });

  it('emits the bytes its CONVERTER_VERSION stands for (a change here needs a new version: caches key on it)', () => {
    const { modelJson, bytes } = tinyModel(1);
    const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    expect(CONVERTER_VERSION).toBe('1');
    expect({
      folded: sha256(convertTfjsLayersModel(modelJson, bytes, { extraOutputs: { flat: 'flat', avg: 'avg' } })),
      unfolded: sha256(convertTfjsLayersModel(modelJson, bytes, { foldBatchNorm: false })),
      caffe: sha256(convertTfjsLayersModel(modelJson, bytes, { preprocessing: 'caffe', outputName: 'probabilities' })),
    }).toEqual({
      folded: 'f4da18d4317a727a25609796b181b70a210f2a987d135a2614abe4500dc6f7fa',
      unfolded: 'e063c7e38f2171bdf140a60e69ac12cf4bcccdd4911fbd4fda72449099c77189',
      caffe: 'd8418c016cbd5d446e440901047cff99bfb37d7d740cd1492cdd9be54cf39485',
    });
  });

  it('rejects weights that do not match the manifest', () => {
    const { modelJson, bytes } = tinyModel(5);
    expect(() => convertTfjsLayersModel(modelJson, bytes.subarray(0, bytes.length - 4))).toThrow(
      /weight fc\/bias needs bytes .* but the weight data has only/,
    );
    expect(() => convertTfjsLayersModel(modelJson, Buffer.concat([bytes, Buffer.alloc(4)]))).toThrow(
      /describes \d+ bytes of weights but \d+ were given/,
    );
    expect(() => convertTfjsLayersModel({ format: 'graph-model' }, bytes)).toThrow(/only TF.js "layers-model"/);
  });
});
