// A multi-label data set end to end on the local stack: images whose folder names several labels ('a+b') are
// ingested with every label counted and tested, training makes a sigmoid model measured by mAP with its own
// threshold, and POST /classify answers with the labels over that threshold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningHost } from '../../src/host/localHost';
import type { ModelPointer } from '../../src/model/registry';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import type { TrainJob } from '../../src/train/jobs';
import { type AppStack, callApi, seedGarmentPairs, startAppStack } from '../support/appHost';
import { waitFor } from '../support/waitFor';

let stack: AppStack;
let services: Services;
let host: RunningHost;

function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  return callApi<T>(host, method, route, body);
}

beforeAll(async () => {
  stack = await startAppStack({ hostId: 'multi-label-test', seed: (created) => seedGarmentPairs(created, 'pairs') });
  ({ services, host } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('a multi-label data set', () => {
  it('counts every label of an image and tests every label', async () => {
    const { body } = await api<{
      images: { accepted: number };
      labels: Record<string, { train: number; test: number }>;
    }>('GET', 'datasets/pairs');
    expect(body.images.accepted).toBe(36);
    // Each pattern is in 6 one-pattern images and 12 two-pattern ones.
    for (const label of ['dotted', 'leopard', 'striped']) {
      const counts = body.labels[label]!;
      expect(counts.train + counts.test, label).toBe(18);
      expect(counts.test, label).toBeGreaterThanOrEqual(3);
      expect(counts.test, label).toBeLessThanOrEqual(6);
    }
    const listed = await api<{ images: { label: string; labels: string[] }[] }>(
      'GET',
      'datasets/pairs/images?label=dotted%2Bstriped',
    );
    expect(listed.body.images).toHaveLength(6);
    expect(listed.body.images[0]!.labels).toEqual(['dotted', 'striped']);
  });

  it('trains a sigmoid model measured by mAP, and classifies with the labels over its threshold', async () => {
    const started = await api<{ jobId: string }>('POST', 'datasets/pairs/train', {});
    expect(started.status).toBe(202);
    const job = await waitFor(
      `job ${started.body.jobId}`,
      async () => {
        const { body } = await api<TrainJob>('GET', `datasets/pairs/jobs/${started.body.jobId}`);
        return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
      },
      170_000,
    );
    expect(job.error).toBeUndefined();
    expect(job.metrics).toMatchObject({ task: 'multi-label', mAP: expect.any(Number), threshold: expect.any(Number) });
    expect((job.metrics as { mAP: number }).mAP).toBeGreaterThan(0.8);
    expect((job.metrics as { testMetrics: Record<string, number> }).testMetrics).toEqual({
      binaryLogLoss: expect.any(Number),
    });

    const models = services.storage.blobs.getContainerClient('models');
    const names: string[] = [];
    for await (const blob of models.listBlobsFlat({ prefix: `pairs/${job.jobId}/` }))
      names.push(blob.name.split('/').pop()!);
    expect(names.sort()).toEqual([
      'learning-curve.svg',
      'metrics.json',
      'model.onnx',
      'per-class.svg',
      'precision-recall.svg',
      'training.log',
    ]);
    const pointer = JSON.parse(
      (await models.getBlockBlobClient('pairs/current.json').downloadToBuffer()).toString(),
    ) as ModelPointer;
    expect(pointer).toMatchObject({
      task: 'multi-label',
      version: job.jobId,
      labels: ['dotted', 'leopard', 'striped'],
    });
    expect(pointer.threshold).toBeGreaterThan(0);

    // The test images over HTTP: each answer is the labels at or over the model's threshold, and most are exactly right.
    const { images } = await services.catalog.listImages('pairs', { status: 'accepted', pageSize: 100 });
    const test = images.filter((image) => image.split === 'test');
    let exact = 0;
    for (const image of test) {
      const content = await services.storage.blobs
        .getContainerClient(INCOMING_CONTAINER)
        .getBlockBlobClient(image.blobName)
        .downloadToBuffer();
      const response = await fetch(`${host.url}/api/datasets/pairs/classify`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: content,
      });
      const answer = (await response.json()) as {
        task: string;
        threshold: number;
        predictions: { label: string; probability: number }[];
      };
      expect(response.status).toBe(200);
      expect(answer).toMatchObject({ task: 'multi-label', threshold: pointer.threshold });
      for (const p of answer.predictions) expect(p.probability).toBeGreaterThanOrEqual(Math.fround(pointer.threshold!));
      if (
        answer.predictions
          .map((p) => p.label)
          .sort()
          .join('+') === image.label
      )
        exact++;
    }
    expect(exact / test.length).toBeGreaterThanOrEqual(0.6);

    // A threshold in the query replaces the model's: at 0 every label is in the answer.
    const one = await services.storage.blobs
      .getContainerClient(INCOMING_CONTAINER)
      .getBlockBlobClient(test[0]!.blobName)
      .downloadToBuffer();
    const all = await fetch(`${host.url}/api/datasets/pairs/classify?threshold=0`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: one,
    });
    expect(((await all.json()) as { predictions: unknown[] }).predictions).toHaveLength(3);
  }, 200_000);
});
