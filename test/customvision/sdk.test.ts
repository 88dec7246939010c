// Microsoft's own Custom Vision SDKs (the real npm packages, unmodified) against the app on the local host, over
// real HTTP, on a real Azurite: a script written for Custom Vision, with only the endpoint and keys changed, from
// project creation through training, publishing and prediction to deletion. TrashNet photos (3 classes x 10).
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

import { PredictionAPIClient, type PredictionAPIModels } from '@azure/cognitiveservices-customvision-prediction';
import { TrainingAPIClient, type TrainingAPIModels } from '@azure/cognitiveservices-customvision-training';
import { ApiKeyCredentials, type RestError } from '@azure/ms-rest-js';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { type AppStack, keyHeaders, startAppStack } from '../support/appHost';
import { describeWithShared, haveShared, sharedPath } from '../support/shared';

const TRAINING_KEY = 'training-key-0123456789abcdef';
const PREDICTION_KEY = 'prediction-key-0123456789abcdef';
const CLASSES = ['cardboard', 'glass', 'metal'];
const PER_CLASS = 10;

let stack: AppStack;
let endpoint: string;
let imageServer: http.Server;
let imageUrl: string;
let photos: Record<string, Buffer[]>;

function trainer(key = TRAINING_KEY): TrainingAPIClient {
  return new TrainingAPIClient(new ApiKeyCredentials({ inHeader: { 'Training-key': key } }), endpoint);
}

function predictor(key = PREDICTION_KEY): PredictionAPIClient {
  return new PredictionAPIClient(new ApiKeyCredentials({ inHeader: { 'Prediction-key': key } }), endpoint);
}

async function rejected(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (error) {
    return error as RestError;
  }
  throw new Error('expected the call to fail');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  if (!haveShared) return;
  const root = sharedPath('datasets', 'trashnet-subset');
  photos = Object.fromEntries(
    CLASSES.map((label) => [
      label,
      readdirSync(path.join(root, label))
        .sort()
        .slice(0, PER_CLASS + 1)
        .map((name) => readFileSync(path.join(root, label, name))),
    ]),
  );
  // The URL the prediction fetches: a loopback server, which the test's settings let the safe downloader reach.
  const probe = photos['glass']![PER_CLASS]!;
  imageServer = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'image/jpeg' });
    response.end(probe);
  });
  await new Promise<void>((resolve) => imageServer.listen(0, '127.0.0.1', resolve));
  imageUrl = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}/glass.jpg`;
  stack = await startAppStack({
    hostId: 'customvision-sdk',
    strict: true,
    env: {
      CUSTOMVISION_TRAINING_KEY: TRAINING_KEY,
      CUSTOMVISION_PREDICTION_KEY: PREDICTION_KEY,
      COLLECT_ALLOW_PRIVATE_ADDRESSES: 'true',
    },
  });
  endpoint = stack.host.url;
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await new Promise((resolve) => imageServer?.close(resolve));
});

describeWithShared('the Custom Vision SDKs against this app', () => {
  it('create, upload, train, publish, predict, evaluate, export and delete, as a Custom Vision script does', async () => {
    const training = trainer();

    // Keys: a wrong one is Custom Vision's 401.
    expect((await rejected(trainer('wrong-key').getProjects())).statusCode).toBe(401);
    expect((await rejected(training.getProject('00000000-0000-4000-8000-000000000000'))).statusCode).toBe(404);

    const project = await training.createProject('Trash sorter (SDK test)', { classificationType: 'Multiclass' });
    const projectId = project.id!;
    expect(projectId).toMatch(/^[0-9a-f-]{36}$/);
    expect(project.settings?.classificationType).toBe('Multiclass');
    expect((await training.getProjects()).map((p) => p.id)).toContain(projectId);

    const tags: Record<string, TrainingAPIModels.Tag> = {};
    for (const label of CLASSES) tags[label] = await training.createTag(projectId, label);
    expect((await rejected(training.createTag(projectId, 'Glass'))).code).toBe('BadRequestTagNameNotUnique');
    const spare = await training.createTag(projectId, 'spare tag');

    // Half of each class one at a time as data (multipart imageData), the other half as one batch of files.
    for (const label of CLASSES) {
      for (const photo of photos[label]!.slice(0, PER_CLASS / 2)) {
        const summary = await training.createImagesFromData(projectId, photo, { tagIds: [tags[label]!.id!] });
        expect(summary.isBatchSuccessful).toBe(true);
        expect(summary.images![0]!.status).toBe('OK');
      }
    }
    const batch: TrainingAPIModels.ImageCreateSummary = await training.createImagesFromFiles(projectId, {
      images: CLASSES.flatMap((label) =>
        photos[label]!.slice(PER_CLASS / 2, PER_CLASS).map((photo, i) => ({
          name: `${label}-${i}.jpg`,
          contents: photo,
          tagIds: [tags[label]!.id!],
        })),
      ),
    });
    expect(batch.images!.map((image) => image.status)).toEqual(new Array(15).fill('OK'));
    // An exact duplicate, and a file that is no image.
    const again = await training.createImagesFromData(projectId, photos['metal']![0]!, {
      tagIds: [tags['metal']!.id!],
    });
    expect(again.images![0]!.status).toBe('OKDuplicate');
    const broken = await training.createImagesFromData(projectId, Buffer.from('<html>not an image</html>'), {
      tagIds: [tags['metal']!.id!],
    });
    expect(broken.isBatchSuccessful).toBe(false);
    expect(broken.images![0]!.status).toBe('ErrorImageFormat');

    expect((await training.getTaggedImageCount(projectId)).body).toBe(30);
    expect((await training.getTaggedImageCount(projectId, { tagIds: [tags['glass']!.id!] })).body).toBe(10);
    const page = await training.getTaggedImages(projectId, { take: 20, skip: 20 });
    expect(page).toHaveLength(10);
    const tagList: TrainingAPIModels.Tag[] = await training.getTags(projectId);
    expect(tagList.find((t) => t.id === tags['glass']!.id)?.imageCount).toBe(10);
    await training.deleteTag(projectId, spare.id!);

    // Train and wait the way the SDK samples do.
    let iteration = await training.trainProject(projectId);
    const iterationId = iteration.id!;
    expect(iteration.status).toBe('Training');
    while (iteration.status === 'Training') {
      await sleep(1000);
      iteration = await training.getIteration(projectId, iterationId);
    }
    expect(iteration.trainingErrorDetails ?? null).toBeNull();
    expect(iteration.status).toBe('Completed');
    const iterations: TrainingAPIModels.Iteration[] = await training.getIterations(projectId);
    expect(iterations.map((i) => i.id)).toEqual([iterationId]);

    const published = await training.publishIteration(projectId, iterationId, 'trash', 'prediction-resource-id');
    expect(published.body).toBe(true);

    // Prediction: the image as data and as a URL; the probabilities are the app's own /classify.
    const prediction = predictor();
    expect(
      (await rejected(predictor('wrong-key').classifyImage(projectId, 'trash', photos['glass']![0]!))).statusCode,
    ).toBe(401);
    const probe = photos['glass']![PER_CLASS]!;
    const fromData: PredictionAPIModels.ImagePrediction = await prediction.classifyImage(projectId, 'trash', probe);
    const fromUrl: PredictionAPIModels.ImagePrediction = await prediction.classifyImageUrlWithNoStore(
      projectId,
      'trash',
      { url: imageUrl },
    );
    expect(fromData.project).toBe(projectId);
    expect(fromData.iteration).toBe(iterationId);
    expect(fromData.predictions!.map((p) => p.tagName).sort()).toEqual(CLASSES);
    const probabilities = fromData.predictions!.map((p) => p.probability!);
    expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
    const { dataset } = await stackProject(projectId);
    const own = (await (
      await fetch(`${endpoint}/api/datasets/${dataset}/classify?top=3`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', ...keyHeaders(stack.host) },
        body: probe,
      })
    ).json()) as { predictions: { label: string; probability: number }[] };
    for (const answer of [fromData, fromUrl]) {
      for (const { label, probability } of own.predictions) {
        const match = answer.predictions!.find((p) => p.tagName === label)!;
        expect(match.tagId).toBe(tags[label]!.id);
        expect(match.tagType).toBe('Regular');
        expect(Math.abs(match.probability! - probability)).toBeLessThan(1e-6);
      }
    }

    // Performance on the fixed test split, a quick test, and the ONNX export.
    const performance: TrainingAPIModels.IterationPerformance = await training.getIterationPerformance(
      projectId,
      iterationId,
      { threshold: 0.5 },
    );
    expect(performance.perTagPerformance!.map((t) => t.name).sort()).toEqual(CLASSES);
    expect(performance.precisionStdDeviation).toBe(0);
    for (const value of [performance.precision, performance.recall, performance.averagePrecision])
      expect(value).toBeGreaterThanOrEqual(0);
    expect(performance.averagePrecision).toBeGreaterThan(0.3);
    const quick: TrainingAPIModels.ImagePrediction = await training.quickTestImage(projectId, probe, {
      iterationId: iterationId,
    });
    expect(quick.predictions!.map((p) => p.probability)).toEqual(fromData.predictions!.map((p) => p.probability));
    const quickUrl: TrainingAPIModels.ImagePrediction = await training.quickTestImageUrl(
      projectId,
      { url: imageUrl },
      { iterationId: iterationId },
    );
    expect(quickUrl.predictions!.map((p) => p.tagName)).toEqual(fromData.predictions!.map((p) => p.tagName));
    const exported = await training.exportIteration(projectId, iterationId, 'ONNX');
    expect(exported.status).toBe('Done');
    const onnx = Buffer.from(await (await fetch(exported.downloadUri!)).arrayBuffer());
    const stored = await stack.services.training.models.readModel(dataset, (await stackProject(projectId)).jobId);
    expect(onnx.equals(stored)).toBe(true);
    const exports: TrainingAPIModels.ExportModel[] = await training.getExports(projectId, iterationId);
    expect(exports.map((e) => e.platform)).toEqual(['ONNX']);
    expect((await rejected(training.exportIteration(projectId, iterationId, 'TensorFlow'))).statusCode).toBe(501);

    // Unpublish, delete.
    await training.unpublishIteration(projectId, iterationId);
    expect((await rejected(prediction.classifyImage(projectId, 'trash', probe))).statusCode).toBe(404);
    await training.deleteIteration(projectId, iterationId);
    await training.deleteProject(projectId);
    expect((await rejected(training.getProject(projectId))).statusCode).toBe(404);
  }, 300_000);

  it('answers what it does not support with 501 naming the operation', async () => {
    const error = await rejected(trainer().getDomains());
    expect(error.statusCode).toBe(501);
    expect(error.message).toMatch(/GET training\/v3\.4-preview\/domains/);
  });
});

/** The app's side of a project: its dataset and (once trained) the model version of its first iteration. */
async function stackProject(projectId: string): Promise<{ dataset: string; jobId: string }> {
  const blob = await stack.services.storage.blobs
    .getContainerClient('config')
    .getBlockBlobClient(`_customvision/projects/${projectId}.json`)
    .downloadToBuffer();
  const project = JSON.parse(blob.toString()) as { dataset: string; iterations: { jobId: string }[] };
  return { dataset: project.dataset, jobId: project.iterations[0]?.jobId ?? '' };
}
