// The demo's pipeline end to end on the local stack, with a smaller plan than `npm run demo`'s: collection by the
// offline provider, ingest on the host's blob trigger, training by the built trainer, classification over HTTP.
// The report's figures are checked against the catalog (counts) and the published metrics.json (accuracy), and a
// second run reuses the model instead of training again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ImageRecord } from '../../src/dataset/catalog';
import { DemoApi } from '../../src/demo/demoApi';
import { type DemoProgress, type DemoReport, runDemo } from '../../src/demo/pipeline';
import { formatDemoReport } from '../../src/demo/report';
import { type AppStack, startAppStack } from '../../src/localStack/appStack';
import { appFunctionFiles, projectRoot } from '../support/appHost';

const DATASET = 'demo-test';
const PLAN = {
  dimensions: { item: ['t-shirt', 'hoodie'], attribute: ['striped', 'dotted', 'leopard'] },
  template: '{attribute} {item}',
  labelFrom: 'attribute',
  imagesPerQuery: 7,
  provider: 'offline',
};

let stack: AppStack;

/** Every image row of the dataset in the catalog, read page by page. */
async function catalogImages(): Promise<ImageRecord[]> {
  const all: ImageRecord[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await stack.services.catalog.listImages(DATASET, {
      pageSize: 100,
      ...(continuationToken ? { continuationToken } : {}),
    });
    all.push(...page.images);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return all;
}

/** Records what the pipeline reported as progress, to check that the long steps show it. */
function recordingProgress(): DemoProgress & { steps: string[]; notes: string[] } {
  const steps: string[] = [];
  const notes: string[] = [];
  return {
    steps,
    notes,
    begin: (step) => steps.push(step),
    update: () => undefined,
    end: () => undefined,
    note: (message) => notes.push(message),
  };
}

beforeAll(async () => {
  stack = await startAppStack({
    hostId: 'demo-test',
    projectRoot,
    functionFiles: appFunctionFiles,
    loadModule: (file) => import(file),
    blobScanIntervalInMs: 500,
  });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

describe('the demo pipeline', () => {
  let report: DemoReport;

  it('collects, ingests, trains and classifies, and reports the catalog and metrics.json figures', async () => {
    const progress = recordingProgress();
    report = await runDemo({
      api: new DemoApi({ baseUrl: stack.host.url }),
      dataset: DATASET,
      plan: PLAN,
      trainOptions: { augmentedViews: 0, searchBudgetInS: 60 },
      classifyImages: 3,
      pollIntervalInMs: 250,
      stepTimeoutInMs: 150_000,
      progress,
    });
    expect(progress.steps).toEqual(['collect', 'ingest', 'train']);
    expect(report.reused).toEqual({ dataset: false, model: false });

    // Counts: every downloaded image has one catalog row, and the report's counts are the catalog's.
    const images = await catalogImages();
    const count = (status: ImageRecord['status']) => images.filter((image) => image.status === status).length;
    expect(report.images.collected).toBe(images.length);
    expect(report.images.collected).toBeGreaterThan(30);
    expect(report.images).toEqual({
      collected: images.length,
      accepted: count('accepted'),
      duplicate: count('duplicate'),
      nearDuplicate: count('nearDuplicate'),
      rejected: count('rejected'),
    });
    // The offline provider plants repeated and edited copies, and ingest removes them.
    expect(report.images.duplicate + report.images.nearDuplicate).toBeGreaterThan(0);
    const splits: Record<string, { train: number; test: number }> = {};
    for (const image of images.filter((i) => i.status === 'accepted')) {
      const entry = (splits[image.label] ??= { train: 0, test: 0 });
      entry[image.split!]++;
    }
    expect(report.labels).toEqual(splits);

    // Accuracy and confusion matrix: the published metrics.json of the model that serves.
    const models = stack.services.storage.blobs.getContainerClient('models');
    const pointer = JSON.parse(
      (await models.getBlockBlobClient(`${DATASET}/current.json`).downloadToBuffer()).toString(),
    ) as { version: string };
    expect(report.model.version).toBe(pointer.version);
    const metrics = JSON.parse(
      (await models.getBlockBlobClient(`${DATASET}/${pointer.version}/metrics.json`).downloadToBuffer()).toString(),
    ) as { accuracy: number; count: number; labels: string[]; confusionMatrix: number[][] };
    expect(report.model.accuracy).toBe(metrics.accuracy);
    expect(report.model.labels).toEqual(metrics.labels);
    expect(report.model.confusionMatrix).toEqual(metrics.confusionMatrix);
    expect(report.model.testImages).toBe(metrics.count);
    // The test images the model was scored on are the catalog's test split, and the matrix adds up to the accuracy.
    expect(report.model.testImages).toBe(Object.values(splits).reduce((sum, s) => sum + s.test, 0));
    const correct = metrics.confusionMatrix.reduce((sum, row, i) => sum + (row[i] ?? 0), 0);
    expect(correct / metrics.count).toBeCloseTo(report.model.accuracy, 10);
    expect(report.model.accuracy).toBeGreaterThanOrEqual(0.6);

    expect(report.classifications).toHaveLength(3);
    for (const c of report.classifications) {
      expect(metrics.labels).toContain(c.predicted);
      expect(c.latencyInMs).toBeGreaterThan(0);
      expect(c.serverTotalInMs).toBeLessThanOrEqual(c.latencyInMs);
    }
    expect(report.stepsInS.train).toBeGreaterThan(0);

    const text = formatDemoReport(report, { baseUrl: stack.host.url });
    expect(text).toContain(`test accuracy: ${(metrics.accuracy * 100).toFixed(1)}% of ${metrics.count} test images`);
    expect(text).toContain(`images collected: ${images.length}; accepted ${count('accepted')}`);
    expect(text).toContain(`Web page: ${stack.host.url}/`);
  }, 170_000);

  it('reuses the dataset and model on a rerun, and says so', async () => {
    const progress = recordingProgress();
    const again = await runDemo({
      api: new DemoApi({ baseUrl: stack.host.url }),
      dataset: DATASET,
      plan: PLAN,
      classifyImages: 1,
      progress,
    });
    expect(progress.steps).toEqual([]);
    expect(progress.notes.join('\n')).toMatch(/already trained: reusing it/);
    expect(again.reused).toEqual({ dataset: true, model: true });
    expect(again.model).toEqual(report.model);
    expect(again.images).toEqual(report.images);
    expect(again.stepsInS.train).toBe(0);
    expect(formatDemoReport(again, { baseUrl: stack.host.url })).toContain('(trained by an earlier run, reused)');
  }, 60_000);
});
