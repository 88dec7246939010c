// A registered backbone end to end: a model-zoo style ONNX model (fixed size, BGR, scaled and normalised, a
// classifier on top) is registered, trained on through POST /train, and served at its own input size, with the
// endpoint giving the published model's own probabilities.
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningHost } from '../../src/host/localHost';
import { parseViewResize } from '../../src/image/preprocessing';
import { renderView } from '../../src/image/view';
import type { ModelPointer } from '../../src/model/registry';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import type { TrainJob } from '../../src/train/jobs';
import { type AppStack, callApi, seedGarments, startAppStack } from '../support/appHost';
import { TINY_CNN, tinyCnn } from '../support/onnxModels';
import { waitFor } from '../support/waitFor';

let stack: AppStack;
let services: Services;
let host: RunningHost;
const preprocessing = {
  inputSize: TINY_CNN.inputSize,
  channelOrder: TINY_CNN.channelOrder,
  scale: TINY_CNN.scale,
  mean: TINY_CNN.mean,
  std: TINY_CNN.std,
};

beforeAll(async () => {
  stack = await startAppStack({ hostId: 'backbone-test', seed: (created) => seedGarments(created, 'tees') });
  ({ services, host } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('a registered backbone', () => {
  it('is stored with its measured feature length, and bad registrations say what is wrong', async () => {
    const backbones = services.training.backbones;
    const spec = await backbones.register('tiny-cnn', tinyCnn(), {
      featuresOutput: TINY_CNN.featuresOutput,
      ...preprocessing,
    });
    expect(spec).toMatchObject({
      name: 'tiny-cnn',
      inputSize: 32,
      featureLength: 16,
      featuresOutput: 'pool',
      preprocessing: { channelOrder: 'bgr' },
    });
    expect((await backbones.list()).map((s) => s.name)).toEqual(['tiny-cnn']);
    await expect(
      backbones.register('resnet50-keras', tinyCnn(), { featuresOutput: 'pool', ...preprocessing }),
    ).rejects.toThrow(/is the built-in backbone/);
    await expect(
      backbones.register('Tiny CNN', tinyCnn(), { featuresOutput: 'pool', ...preprocessing }),
    ).rejects.toThrow(/backbone name "Tiny CNN" is invalid/);
    await expect(
      backbones.register('other', tinyCnn(), { featuresOutput: 'no-such-tensor', ...preprocessing }),
    ).rejects.toThrow(/no-such-tensor/);
    expect(await backbones.get('other')).toBeUndefined();
  });

  it("trains through POST /train and serves at its own input size with the model's own probabilities", async () => {
    const unknown = await callApi<{ message: string }>(host, 'POST', 'datasets/tees/train', {
      backbone: 'mobilenet-v9',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe(
      'backbone "mobilenet-v9" is not registered; known: resnet50-keras, tiny-cnn (register one with icf backbone register)',
    );

    const wrongSize = await callApi<{ message: string }>(host, 'POST', 'datasets/tees/train', {
      backbone: 'tiny-cnn',
      inputSize: 64,
    });
    expect(wrongSize).toMatchObject({
      status: 400,
      body: {
        message:
          'backbone "tiny-cnn" takes 32x32 images only (its registered size); inputSize 64 applies to resnet50-keras',
      },
    });
    const oddSize = await callApi<{ message: string }>(host, 'POST', 'datasets/tees/train', { inputSize: 300 });
    expect(oddSize).toMatchObject({
      status: 400,
      body: { message: 'inputSize must be a multiple of 32 from 128 to 512, got 300' },
    });

    const started = await callApi<{ jobId: string }>(host, 'POST', 'datasets/tees/train', {
      backbone: 'tiny-cnn',
      augmentedViews: 0,
    });
    expect(started.status).toBe(202);
    const job = await waitFor(
      `job ${started.body.jobId}`,
      async () => {
        const { body } = await callApi<TrainJob>(host, 'GET', `datasets/tees/jobs/${started.body.jobId}`);
        return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
      },
      120_000,
    );
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('succeeded');
    const models = services.storage.blobs.getContainerClient('models');
    const pointer = JSON.parse(
      (await models.getBlockBlobClient('tees/current.json').downloadToBuffer()).toString(),
    ) as ModelPointer;
    expect(pointer).toMatchObject({ version: job.jobId, backbone: 'tiny-cnn', inputSize: 32 });

    // The endpoint against the published model run on the trainer's 32x32 view of the same photo.
    const { images } = await services.catalog.listImages('tees', { status: 'accepted', label: 'dotted' });
    const content = await services.storage.blobs
      .getContainerClient(INCOMING_CONTAINER)
      .getBlockBlobClient(images[0]!.blobName)
      .downloadToBuffer();
    const session = await ort.InferenceSession.create(
      await models.getBlockBlobClient(`tees/${job.jobId}/model.onnx`).downloadToBuffer(),
    );
    const view = await renderView(content, { size: 32, resize: parseViewResize(pointer.resize) });
    const expected = (await session.run({ input: new ort.Tensor('float32', view.data, [1, 3, 32, 32]) }))[
      'probabilities'
    ]!.data as Float32Array;
    await session.release();
    const response = await fetch(`${host.url}/api/datasets/tees/classify?top=3`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: content,
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { predictions: { label: string; probability: number }[] };
    for (const { label, probability } of answer.predictions) {
      expect(Math.abs(probability - expected[pointer.labels.indexOf(label)]!)).toBeLessThan(1e-5);
    }
  }, 150_000);
});
