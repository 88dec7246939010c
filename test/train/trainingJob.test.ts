// Training end to end on the local stack: POST /train queues a job, the train-jobs function launches the
// built trainer as a child process, and the job ends with a published, self-contained ONNX model, its
// metrics, plots and learning curve. A trainer that fails leaves its job failed and the current model as it was.
import * as http from 'node:http';

import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningHost } from '../../src/host/localHost';
import { renderView } from '../../src/image/view';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import type { TrainJob } from '../../src/train/jobs';
import type { Recipe } from '../../src/train/recipe';
import { type AppStack, callApi, seedGarments, startAppStack } from '../support/appHost';
import { waitFor } from '../support/waitFor';

let stack: AppStack;
let services: Services;
let host: RunningHost;

function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  return callApi<T>(host, method, route, body);
}

async function finished(dataset: string, jobId: string): Promise<TrainJob> {
  return waitFor(
    `training job ${jobId}`,
    async () => {
      const { body } = await api<TrainJob>('GET', `datasets/${dataset}/jobs/${jobId}`);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    },
    170_000,
  );
}

beforeAll(async () => {
  stack = await startAppStack({
    hostId: 'train-test',
    // A Host the test sends to check that status URLs are relative: the host answers only the names it is told of.
    env: { HTTP_ALLOWED_HOSTS: 'attacker.example' },
    seed: (created) => seedGarments(created, 'tees'),
  });
  ({ services, host } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('a training job', () => {
  it('publishes a model with metrics, plots and a learning curve, which reproduces the predictions on its own', async () => {
    // Through node:http, which sends the Host header it is given (fetch does not let a caller set one).
    const response = await new Promise<{ status: number; location: string | undefined; text: string }>(
      (resolve, reject) => {
        const request = http.request(
          `${host.url}/api/datasets/tees/train`,
          { method: 'POST', headers: { 'content-type': 'application/json', host: 'attacker.example' } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
            res.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(JSON.stringify({ augmentedViews: 1 }));
      },
    );
    const started = {
      status: response.status,
      body: JSON.parse(response.text) as { jobId: string; statusUrl: string },
    };
    expect(started.status).toBe(202);
    // Relative to the app, whatever Host the caller sent.
    expect(started.body.statusUrl).toBe(`/api/datasets/tees/jobs/${started.body.jobId}`);
    expect(response.location).toBe(started.body.statusUrl);
    const job = await finished('tees', started.body.jobId);
    expect(job.error).toBeUndefined();
    expect(job).toMatchObject({
      status: 'succeeded',
      stage: 'done',
      progress: 1,
      launcher: 'local',
      published: true,
      modelVersion: started.body.jobId,
    });
    // The trainer beat while it ran.
    expect(Date.parse(job.heartbeatAt!)).toBeGreaterThanOrEqual(Date.parse(job.startedAt!));
    expect((job.metrics as { accuracy: number }).accuracy).toBeGreaterThanOrEqual(0.8);

    const models = services.storage.blobs.getContainerClient('models');
    const names: string[] = [];
    for await (const blob of models.listBlobsFlat({ prefix: `tees/${job.jobId}/` }))
      names.push(blob.name.split('/').pop()!);
    expect(names.sort()).toEqual([
      'confusion-matrix.svg',
      'learning-curve.svg',
      'metrics.json',
      'model.onnx',
      'per-class.svg',
      'training.log',
    ]);
    const metrics = JSON.parse(
      (await models.getBlockBlobClient(`tees/${job.jobId}/metrics.json`).downloadToBuffer()).toString(),
    ) as {
      labels: string[];
      confusionMatrix: number[][];
      testMetrics: Record<string, number | null>;
      learningCurve: { points: { trainingImages: number; accuracy: number }[]; verdict: string };
      recipe: {
        chosen: string;
        recipe: Recipe;
        candidates: { name: string; score: number; chosen: boolean }[];
        innerFolds: number;
      };
    };
    // The recipe was chosen inside the training split, and the report says which and how each candidate scored.
    expect(metrics.recipe.innerFolds).toBe(5);
    expect(metrics.recipe.candidates.filter((c) => c.chosen)).toHaveLength(1);
    expect(metrics.recipe.candidates.map((c) => c.name)).toEqual(
      expect.arrayContaining(['centre-crop-0.875, plain + mirror views', 'squash, plain + mirror views']),
    );
    expect((job.metrics as { recipe: { chosen: string } }).recipe.chosen).toBe(metrics.recipe.chosen);
    const { recipe } = metrics.recipe;
    expect(metrics.labels).toEqual(['dotted', 'leopard', 'striped']);
    // The registered test metrics, in metrics.json and in the job's summary alike.
    expect(Object.keys(metrics.testMetrics).sort()).toEqual(['balancedAccuracy', 'logLoss']);
    expect(metrics.testMetrics['balancedAccuracy']).toBeGreaterThanOrEqual(0.5);
    expect((job.metrics as { testMetrics: unknown }).testMetrics).toEqual(metrics.testMetrics);
    expect(metrics.learningCurve.points.length).toBeGreaterThanOrEqual(3);
    expect(metrics.learningCurve.verdict).toMatch(/\w/);
    const pointer = JSON.parse(
      (await models.getBlockBlobClient('tees/current.json').downloadToBuffer()).toString(),
    ) as { version: string };
    expect(pointer.version).toBe(job.jobId);
    // The features went to blob storage, where the next job (another container, another disk) finds them.
    const log = (await models.getBlockBlobClient(`tees/${job.jobId}/training.log`).downloadToBuffer()).toString();
    expect(log).toMatch(
      /features \(centre-crop-0.875, plain \+ mirror views\): 0 of 36 training views from the cache, 36 to compute/,
    );
    expect(log).toMatch(
      /features \(squash, plain \+ mirror views\): 0 of 36 training views from the cache, 36 to compute/,
    );
    expect(log).toMatch(
      /features \((centre-crop-0.875|squash), plain \+ mirror \+ 1 augmented views\): 36 of 54 training views from the cache, 18 to compute/,
    );
    let cached = 0;
    for await (const _ of services.storage.blobs.getContainerClient('features').listBlobsFlat()) cached++;
    // 18 training images' plain and mirror views in both preprocessings, their augmented views in the chosen one,
    // and the 6 test images' plain views (and mirror views when test-time mirroring won).
    expect(cached).toBe(18 * 2 * 2 + 18 + 6 * (recipe.testTimeMirror ? 2 : 1));

    // The published model alone: a test image's own label comes out on top.
    const model = await models.getBlockBlobClient(`tees/${job.jobId}/model.onnx`).downloadToBuffer();
    const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
    const { images } = await services.catalog.listImages('tees', { status: 'accepted', label: 'leopard' });
    const testImage = images.find((image) => image.split === 'test')!;
    const view = await renderView(
      await services.storage.blobs
        .getContainerClient(INCOMING_CONTAINER)
        .getBlockBlobClient(testImage.blobName)
        .downloadToBuffer(),
      { resize: recipe.resize },
    );
    const output = await session.run({ input: new ort.Tensor('float32', view.data, [1, 3, 224, 224]) });
    const probabilities = Array.from(output['probabilities']!.data as Float32Array);
    await session.release();
    expect(metrics.labels[probabilities.indexOf(Math.max(...probabilities))]).toBe('leopard');
  }, 200_000);

  it('fails clearly when the trainer cannot finish, and leaves the current model as it was', async () => {
    const before = JSON.parse(
      (
        await services.storage.blobs
          .getContainerClient('models')
          .getBlockBlobClient('tees/current.json')
          .downloadToBuffer()
      ).toString(),
    ) as { version: string };
    // An accepted image whose file has gone: the trainer cannot read its data set.
    await services.storage.blobs.getContainerClient(INCOMING_CONTAINER).deleteBlob('tees/striped/striped-0.jpg');
    const started = await api<{ jobId: string }>('POST', 'datasets/tees/train', {});
    const job = await finished('tees', started.body.jobId);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/BlobNotFound|does not exist|404/);
    const after = JSON.parse(
      (
        await services.storage.blobs
          .getContainerClient('models')
          .getBlockBlobClient('tees/current.json')
          .downloadToBuffer()
      ).toString(),
    ) as { version: string };
    expect(after.version).toBe(before.version);
  }, 200_000);

  it('refuses bad requests with a 4xx naming the problem', async () => {
    const badOption = await api<{ message: string }>('POST', 'datasets/tees/train', { searchBudgetInS: 0 });
    expect(badOption.status).toBe(400);
    expect(badOption.body.message).toMatch(/searchBudgetInS/);
    for (const [body, what] of [
      [null, 'null'],
      [[1], 'an array'],
      [3, 'number'],
      ['x', 'string'],
    ] as const) {
      const notObject = await api<{ message: string }>('POST', 'datasets/tees/train', body);
      expect(notObject.status).toBe(400);
      expect(notObject.body.message).toBe(
        `the request body must be a JSON object of training options (or empty), got ${what}`,
      );
    }
    const unknown = await api<{ message: string }>('POST', 'datasets/no-such-set/train', {});
    expect(unknown.status).toBe(404);
    const missingJob = await api<{ message: string }>('GET', 'datasets/tees/jobs/nope');
    expect(missingJob.status).toBe(404);
  });
});
