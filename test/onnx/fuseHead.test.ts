// A head fused onto the real backbone gives softmax(features · W + b), carries its labels, and drops the
// ImageNet classifier.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect } from 'vitest';

import { mirrorView, renderView } from '../../src/image/view';
import { fuseLinearHead, supportsTestTimeMirror } from '../../src/onnx/fuseHead';
import { loadBackbone } from '../../src/train/backbone';
import { headInput, headProbabilities } from '../../src/train/recipe';
import { seededRandom } from '../../src/util/seededRandom';
import { itWithShared, sharedPath } from '../support/shared';

describe('fuseLinearHead', () => {
  itWithShared(
    'reproduces softmax(features · W + b) in one model',
    async () => {
      const backbone = await loadBackbone();
      const labels = ['cat', 'dog', 'eagle'];
      const random = seededRandom(7);
      const weights = Float32Array.from({ length: 2048 * 3 }, () => (random() - 0.5) * 0.05);
      const bias = Float32Array.from([0.1, -0.2, 0.3]);
      const fused = fuseLinearHead(
        new Uint8Array(await readFile(backbone.modelPath)),
        { weights, bias, labels },
        {
          featuresOutput: 'features',
          probabilitiesOutput: 'probabilities',
          metadata: { preprocessing: 'NCHW float32 RGB 0..255, 224x224 straight resize' },
        },
      );

      const view = await renderView(await readFile(path.join(sharedPath('fixtures', 'dhash'), 'eagle.jpg')));
      const input = new ort.Tensor('float32', view.data, [1, 3, 224, 224]);
      const features = (await backbone.session.run({ input }, ['features']))['features']!.data as Float32Array;
      await backbone.session.release();
      const logits = [0, 1, 2].map((c) => bias[c]! + features.reduce((sum, f, d) => sum + f * weights[d * 3 + c]!, 0));
      const max = Math.max(...logits);
      const exps = logits.map((l) => Math.exp(l - max));
      const expected = exps.map((e) => e / exps.reduce((a, b) => a + b, 0));

      const session = await ort.InferenceSession.create(fused, { executionProviders: ['cpu'] });
      const outputs = await session.run({ input });
      const probabilities = Array.from(outputs['probabilities']!.data as Float32Array);
      await session.release();
      expect(probabilities).toHaveLength(3);
      probabilities.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 4));

      const model = onnx.ModelProto.decode(fused);
      expect(JSON.parse((model.metadataProps ?? []).find((e) => e.key === 'labels')!.value!)).toEqual(labels);
      expect((model.graph!.output ?? []).map((o) => o.name).sort()).toEqual(['features', 'probabilities']);
      // The ImageNet classifier's 2048 x 1000 weights are gone.
      expect((model.graph!.initializer ?? []).some((t) => t.dims?.map(Number).join('x') === '2048x1000')).toBe(false);
    },
    120_000,
  );

  itWithShared(
    'with test-time mirroring, averages the features of each input and its mirror image inside the model',
    async () => {
      const backbone = await loadBackbone();
      const labels = ['a', 'b'];
      const random = seededRandom(8);
      const weights = Float32Array.from({ length: 2048 * 2 }, () => (random() - 0.5) * 0.05);
      const bias = Float32Array.from([0.05, -0.05]);
      const fused = fuseLinearHead(
        new Uint8Array(await readFile(backbone.modelPath)),
        { weights, bias, labels },
        {
          featuresOutput: 'features',
          probabilitiesOutput: 'probabilities',
          testTimeMirror: true,
          metadata: {},
        },
      );
      // A batch of two photos: the model must pair each with its own mirror image.
      const views = await Promise.all(
        ['eagle.jpg', 'dog.jpg'].map(async (name) =>
          renderView(await readFile(path.join(sharedPath('fixtures', 'dhash'), name))),
        ),
      );
      const plane = 3 * 224 * 224;
      const batch = new Float32Array(2 * plane);
      views.forEach((view, i) => batch.set(view.data, i * plane));
      const run = async (data: Float32Array) =>
        (await backbone.session.run({ input: new ort.Tensor('float32', data, [1, 3, 224, 224]) }, ['features']))[
          'features'
        ]!.data as Float32Array;
      const expected: number[][] = [];
      for (const view of views) {
        const averaged = headInput([await run(view.data), await run(mirrorView(view).data)], true);
        expected.push(headProbabilities({ kind: 'softmax', weights, bias, classCount: 2 }, averaged));
      }
      await backbone.session.release();
      const session = await ort.InferenceSession.create(fused, { executionProviders: ['cpu'] });
      const outputs = await session.run({ input: new ort.Tensor('float32', batch, [2, 3, 224, 224]) });
      await session.release();
      const probabilities = outputs['probabilities']!.data as Float32Array;
      expect(outputs['features']!.dims).toEqual([2, 2048]);
      for (let i = 0; i < 2; i++)
        for (let c = 0; c < 2; c++) expect(Math.abs(probabilities[i * 2 + c]! - expected[i]![c]!)).toBeLessThan(1e-5);
      expect(supportsTestTimeMirror(fused)).toBe(true);
    },
    120_000,
  );
});
