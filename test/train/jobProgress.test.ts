// The progress a training job reports: JobProgress on its own (forward only, writes in order, the latest replacing
// those not yet written), and a whole job run in process (a tiny registered backbone, fakes for storage) whose
// record's progress never goes back while its stage names each step: the backbone, each candidate of the search,
// the final fit, the evaluation, the learning curve and publishing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ContainerClient } from '@azure/storage-blob';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Catalog, ImageRecord } from '../../src/dataset/catalog';
import type { ModelRegistry } from '../../src/model/registry';
import { prepareBackbone } from '../../src/onnx/prepareBackbone';
import type { BackboneModel } from '../../src/train/backbone';
import type { BackboneRegistry } from '../../src/train/backbones';
import { DiskFeatureCache } from '../../src/train/featureCache';
import { type JobStore, parseTrainOptions, type TrainJob } from '../../src/train/jobs';
import { JobProgress, type ProgressChange } from '../../src/train/progress';
import { runTrainingJob } from '../../src/train/trainer';
import { seededRandom } from '../../src/util/seededRandom';
import { TINY_CNN, tinyCnn } from '../support/onnxModels';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('JobProgress', () => {
  it('only moves forward, writes in order and lets the latest value replace those not yet written', async () => {
    const written: ProgressChange[] = [];
    const progress = new JobProgress(
      async (change) => {
        await sleep(5);
        written.push(change);
      },
      () => undefined,
    );
    await progress.enter('a', 0, 0.5);
    for (const fraction of [0.2, 0.8, 0.4, 1]) progress.within(fraction);
    // A stage that starts behind the progress so far starts where the progress is.
    await progress.enter('b', 0.3, 0.6);
    progress.within(0.5);
    await progress.flush();
    expect(written[0]).toEqual({ stage: 'a', progress: 0 });
    const values = written.map((change) => change.progress);
    expect(values).toEqual([...values].sort((x, y) => x - y));
    expect(written.at(-1)!.stage).toBe('b');
    expect(written.at(-1)!.progress).toBeCloseTo(0.55, 12);
    // The first of four values went out at once; the rest came while it was written, and only the latest (0.5,
    // then under stage b) was.
    expect(values.slice(0, 3)).toEqual([0, 0.1, 0.5]);
    expect(written).toHaveLength(4);
  });

  it('reports a failed write and goes on', async () => {
    const errors: unknown[] = [];
    const written: number[] = [];
    let calls = 0;
    const progress = new JobProgress(
      async (change) => {
        if (calls++ === 0) throw new Error('table busy');
        written.push(change.progress);
      },
      (error) => errors.push(error),
    );
    await progress.enter('a', 0.1, 0.2);
    await progress.enter('b', 0.2, 0.3);
    expect(errors).toHaveLength(1);
    expect(written).toEqual([0.2]);
    expect(progress.value).toBe(0.2);
  });
});

describe('a training job', () => {
  let dir: string;
  const labels = ['blue', 'green', 'red'];
  const records: ImageRecord[] = [];
  const blobs = new Map<string, Buffer>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'icf-job-progress-'));
    const random = seededRandom(3);
    for (const [index, label] of labels.entries()) {
      for (let i = 0; i < 8; i++) {
        const pixels = Buffer.alloc(48 * 40 * 3);
        for (let p = 0; p < 48 * 40; p++) {
          for (let c = 0; c < 3; c++) pixels[p * 3 + c] = (c === index ? 180 : 40) + Math.floor(random() * 60);
        }
        const blobName = `progress/${label}/${i}.jpg`;
        blobs.set(
          blobName,
          await sharp(pixels, { raw: { width: 48, height: 40, channels: 3 } })
            .jpeg()
            .toBuffer(),
        );
        records.push({ label, blobName, split: i < 6 ? 'train' : 'test', status: 'accepted' } as ImageRecord);
      }
    }
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports progress that never goes back, over the whole job, with each stage's name", async () => {
    const prepared = prepareBackbone(tinyCnn(), {
      featuresOutput: TINY_CNN.featuresOutput,
      inputSize: TINY_CNN.inputSize,
      channelOrder: TINY_CNN.channelOrder,
      scale: TINY_CNN.scale,
      mean: TINY_CNN.mean,
      std: TINY_CNN.std,
    });
    const modelPath = path.join(dir, 'tiny-cnn.onnx');
    writeFileSync(modelPath, prepared.model);
    const model: BackboneModel = {
      name: 'tiny-cnn',
      modelPath,
      inputName: 'input',
      inputSize: TINY_CNN.inputSize,
      outputNames: { features: 'features' },
      featureLength: TINY_CNN.featureLength,
      normalization: 'the tiny test CNN',
      converted: false,
    };
    const job: TrainJob = {
      dataset: 'progress',
      jobId: '20260101000000-00000001',
      status: 'queued',
      stage: 'queued',
      progress: 0,
      options: parseTrainOptions({ backbone: 'tiny-cnn', augmentedViews: 1 }),
      createdAt: new Date().toISOString(),
    };
    // The record as a slow store applies the updates: a write that took longer must not land after a newer one.
    const record: Partial<TrainJob>[] = [];
    let delay = 0;
    const jobs = {
      get: async () => job,
      update: async (_dataset: string, _jobId: string, changes: Partial<TrainJob>) => {
        await sleep((delay = (delay + 7) % 11));
        record.push(changes);
      },
    } as unknown as JobStore;
    const stored: string[] = [];
    await runTrainingJob(
      {
        catalog: {
          listImages: async () => ({ images: records }),
        } as unknown as Catalog,
        incoming: {
          containerName: 'incoming',
          getBlockBlobClient: (name: string) => ({ downloadToBuffer: async () => blobs.get(name)! }),
        } as unknown as ContainerClient,
        jobs,
        models: {
          storeVersion: async (_dataset: string, _version: string, files: Record<string, unknown>) => {
            stored.push(...Object.keys(files));
          },
          promote: async () => ({ promoted: true, note: 'published' }),
        } as unknown as ModelRegistry,
        backbones: { ensureModel: async () => model } as unknown as BackboneRegistry,
        features: new DiskFeatureCache(path.join(dir, 'features')),
        log: () => undefined,
      },
      job.dataset,
      job.jobId,
    );
    expect(stored).toContain('model.onnx');
    const reported = record.filter((changes) => changes.progress !== undefined);
    const values = reported.map((changes) => changes.progress!);
    for (let i = 1; i < values.length; i++) expect(values[i], `update ${i}`).toBeGreaterThanOrEqual(values[i - 1]!);
    expect(record.at(-1)).toMatchObject({ status: 'succeeded', stage: 'done', progress: 1 });
    // Progress moved through the search, not in one jump: several distinct values between the backbone and the fit.
    expect(new Set(values.filter((v) => v > 0.05 && v < 0.8)).size).toBeGreaterThan(4);
    const stages = [...new Set(reported.map((changes) => changes.stage))];
    expect(stages).toEqual([
      'loading',
      'features',
      'search: centre-crop-0.875, plain + mirror views (1/4)',
      'search: squash, plain + mirror views (2/4)',
      expect.stringMatching(/^search: (centre-crop-0\.875|squash), plain views \(3\/4\)$/),
      expect.stringMatching(/^search: (centre-crop-0\.875|squash), plain \+ mirror \+ 1 augmented views \(4\/4\)$/),
      'training',
      'evaluating',
      'learning-curve',
      'publishing',
      'done',
    ]);
  }, 120_000);
});
