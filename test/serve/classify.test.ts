// Serving end to end on the local host: a model trained by POST /train answers POST /classify over HTTP with
// the trainer's own numbers, a retrain swaps the model under load without a failed request, and
// GET /models lists the versions and which one serves.
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderGarment } from '../../src/collect/syntheticImages';
import type { RunningHost } from '../../src/host/localHost';
import { parseViewResize } from '../../src/image/preprocessing';
import { renderView } from '../../src/image/view';
import type { ModelPointer } from '../../src/model/registry';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import type { TrainJob } from '../../src/train/jobs';
import { type AppStack, callApi, seedGarments, startAppStack } from '../support/appHost';
import { waitFor } from '../support/waitFor';

const MAX_FILE_BYTES = 1_000_000;

interface Prediction {
  label: string;
  probability: number;
}
interface Timing {
  decode: number;
  wait: number;
  inference: number;
  total: number;
}
interface SingleResponse {
  dataset: string;
  modelVersion: string;
  predictions: Prediction[];
  timingInMs: Timing;
}
interface ErrorBody {
  error: string;
  message: string;
}

let stack: AppStack;
let services: Services;
let host: RunningHost;
let firstVersion: string;
const testImages: { label: string; content: Buffer }[] = [];

function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  return callApi<T>(host, method, route, body);
}

async function classify<T>(
  dataset: string,
  body: Buffer | FormData,
  contentType?: string,
  query = '',
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}/api/datasets/${dataset}/classify${query}`, {
    method: 'POST',
    ...(contentType ? { headers: { 'content-type': contentType } } : {}),
    body,
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function train(options: Record<string, unknown>): Promise<TrainJob> {
  const started = await api<{ jobId: string }>('POST', 'datasets/tees/train', options);
  expect(started.status).toBe(202);
  return waitFor(
    `training job ${started.body.jobId}`,
    async () => {
      const { body } = await api<TrainJob>('GET', `datasets/tees/jobs/${started.body.jobId}`);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    },
    // A bound, not an estimate: training shares two cores with the clients of the swap test.
    280_000,
  );
}

beforeAll(async () => {
  stack = await startAppStack({
    hostId: 'serve-test',
    env: {
      INGEST_MAX_FILE_BYTES: String(MAX_FILE_BYTES),
      // Short, so the swap test does not wait 5 s for the pointer check.
      SERVE_MODEL_RECHECK_MS: '200',
    },
    seed: async (created) => {
      await seedGarments(created, 'tees');
      // A dataset with images but no model yet (503, not 404).
      const lone = await renderGarment({ item: 't-shirt', pattern: 'striped', seed: 9 });
      await created.storage.blobs
        .getContainerClient(INCOMING_CONTAINER)
        .getBlockBlobClient('untrained/striped/a.jpg')
        .uploadData(lone);
      await created.ingestor.ingest({ blobName: 'untrained/striped/a.jpg', content: lone });
    },
  });
  ({ services, host } = stack);
  const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  const job = await train({ augmentedViews: 0 });
  expect(job.error).toBeUndefined();
  expect(job.published).toBe(true);
  firstVersion = job.jobId;
  for (const label of ['leopard', 'dotted']) {
    const { images } = await services.catalog.listImages('tees', { status: 'accepted', label });
    const image = images.find((candidate) => candidate.split === 'test')!;
    testImages.push({ label, content: await incoming.getBlockBlobClient(image.blobName).downloadToBuffer() });
  }
}, 300_000);

afterAll(async () => {
  await stack?.close();
});

describe('POST /classify', () => {
  it("returns the right label with the trainer's probabilities", async () => {
    const image = testImages[0]!;
    const response = await classify<SingleResponse>('tees', image.content, 'image/jpeg', '?top=3');
    expect(response.status).toBe(200);
    expect(response.body.modelVersion).toBe(firstVersion);
    expect(response.body.predictions).toHaveLength(3);
    expect(response.body.predictions[0]!.label).toBe(image.label);
    const probabilities = response.body.predictions.map((p) => p.probability);
    expect([...probabilities].sort((a, b) => b - a)).toEqual(probabilities);
    expect(response.body.timingInMs.total).toBeGreaterThanOrEqual(response.body.timingInMs.inference);

    // The reference is the trainer's side, computed here directly: the published model file (the backbone with
    // the trained head fused in, which the trainer checks against its own evaluation) run by onnxruntime with
    // default options at batch 1 on renderView's plain view with the model's recorded resize, the exact input the
    // trainer evaluates (test-time mirroring, when chosen, happens inside the model).
    const models = services.storage.blobs.getContainerClient('models');
    const model = await models.getBlockBlobClient(`tees/${firstVersion}/model.onnx`).downloadToBuffer();
    const pointer = JSON.parse(
      (await models.getBlockBlobClient(`tees/current.json`).downloadToBuffer()).toString(),
    ) as ModelPointer;
    expect(pointer.version).toBe(firstVersion);
    const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
    const view = await renderView(image.content, { resize: parseViewResize(pointer.resize) });
    const output = await session.run({ input: new ort.Tensor('float32', view.data, [1, 3, 224, 224]) });
    const reference = Array.from(output['probabilities']!.data as Float32Array);
    await session.release();
    const labels = ['dotted', 'leopard', 'striped'];
    for (const prediction of response.body.predictions) {
      expect(Math.abs(prediction.probability - reference[labels.indexOf(prediction.label)]!)).toBeLessThan(1e-5);
    }
    // Default top is 5, capped at the 3 labels; raw octet-stream works too.
    const all = await classify<SingleResponse>('tees', image.content, 'application/octet-stream');
    expect(all.body.predictions.map((p) => p.label).sort()).toEqual(labels);
    for (const prediction of all.body.predictions) {
      expect(Math.abs(prediction.probability - reference[labels.indexOf(prediction.label)]!)).toBeLessThan(1e-5);
    }
  });

  it('classifies a multipart batch, one result per file in order, each with its own timing', async () => {
    const form = new FormData();
    form.append('a', new Blob([testImages[1]!.content], { type: 'image/jpeg' }), 'dotted.jpg');
    form.append('b', new Blob([testImages[0]!.content], { type: 'image/jpeg' }), 'leopard.jpg');
    const response = await classify<{
      modelVersion: string;
      results: { field: string; fileName: string; predictions: Prediction[]; timingInMs: Timing }[];
      timingInMs: { decode: number; inference: number; total: number };
    }>('tees', form, undefined, '?top=1');
    expect(response.status).toBe(200);
    const { results, timingInMs } = response.body;
    expect(results.map((r) => [r.field, r.fileName, r.predictions[0]!.label, r.predictions.length])).toEqual([
      ['a', 'dotted.jpg', 'dotted', 1],
      ['b', 'leopard.jpg', 'leopard', 1],
    ]);
    for (const { timingInMs: own } of results) {
      // Its own decode, then the wait for the other decode, then the one model run both images shared.
      expect(own.decode).toBeGreaterThan(0);
      expect(own.inference).toBe(timingInMs.inference);
      expect(own.decode + own.wait + own.inference).toBeLessThanOrEqual(own.total + 0.05);
      expect(own.total).toBeLessThanOrEqual(timingInMs.total + 0.05);
    }
    // The decodes ran in parallel: the request's decode time is their wall time, not their sum.
    expect(timingInMs.decode).toBeLessThanOrEqual(
      Math.max(...results.map((r) => r.timingInMs.decode + r.timingInMs.wait)) + 0.05,
    );
    expect(timingInMs.decode).toBeGreaterThanOrEqual(Math.max(...results.map((r) => r.timingInMs.decode)) - 0.05);
  });

  it('answers the good files of a multipart batch and names each bad one with its reason and code', async () => {
    const image = testImages[0]!.content;
    const form = new FormData();
    form.append('first', new Blob([testImages[1]!.content], { type: 'image/jpeg' }), 'dotted.jpg');
    form.append('broken', new Blob([image.subarray(0, 200)], { type: 'image/jpeg' }), 'cut.jpg');
    form.append('notes', new Blob([Buffer.from('hello, not a picture at all')], { type: 'text/plain' }), 'notes.txt');
    form.append('big', new Blob([Buffer.concat([image, Buffer.alloc(MAX_FILE_BYTES)])]), 'big.jpg');
    form.append('last', new Blob([image], { type: 'image/jpeg' }), 'leopard.jpg');
    const response = await classify<{ results: Record<string, unknown>[] }>('tees', form, undefined, '?top=1');
    expect(response.status).toBe(200);
    const [first, broken, notes, big, last] = response.body.results;
    expect(first).toMatchObject({ field: 'first', fileName: 'dotted.jpg', predictions: [{ label: 'dotted' }] });
    expect(last).toMatchObject({ field: 'last', fileName: 'leopard.jpg', predictions: [{ label: 'leopard' }] });
    expect(broken).toMatchObject({ field: 'broken', fileName: 'cut.jpg', error: 'BadRequest', code: 'corrupt-image' });
    expect(broken!['message']).toMatch(/^file "cut\.jpg" \(field "broken"\): /);
    expect(notes).toMatchObject({ fileName: 'notes.txt', error: 'BadRequest', code: 'not-an-image' });
    expect(big).toMatchObject({ fileName: 'big.jpg', error: 'PayloadTooLarge', code: 'file-too-large' });
    expect(big!['message']).toMatch(/^file "big\.jpg" \(field "big"\): .*INGEST_MAX_FILE_BYTES/);
    for (const bad of [broken, notes, big]) expect(bad).not.toHaveProperty('predictions');

    // Only bad files: still one named entry each, and no model run.
    const onlyBad = new FormData();
    onlyBad.append('broken', new Blob([image.subarray(0, 200)], { type: 'image/jpeg' }), 'cut.jpg');
    const bad = await classify<{ results: Record<string, unknown>[]; timingInMs: { inference: number } }>(
      'tees',
      onlyBad,
    );
    expect(bad.status).toBe(200);
    expect(bad.body.results).toMatchObject([{ fileName: 'cut.jpg', code: 'corrupt-image' }]);
    expect(bad.body.timingInMs.inference).toBe(0);
  });

  it('refuses bad requests with 400, 413, 415, 404 and 503', async () => {
    const image = testImages[0]!.content;
    const empty = await classify<ErrorBody>('tees', Buffer.alloc(0), 'image/jpeg');
    expect([empty.status, empty.body.error]).toEqual([400, 'BadRequest']);
    const notImage = await classify<ErrorBody>(
      'tees',
      Buffer.from('hello, not a picture at all'),
      'application/octet-stream',
    );
    expect(notImage.status).toBe(400);
    expect(notImage.body.message).toMatch(/image|format/i);
    const corrupt = await classify<ErrorBody>('tees', image.subarray(0, Math.floor(image.length / 2)), 'image/jpeg');
    expect(corrupt.status).toBe(400);
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } })
      .png()
      .toBuffer();
    const tooSmall = await classify<ErrorBody>('tees', tiny, 'image/png');
    expect(tooSmall.status).toBe(400);
    expect(tooSmall.body.message).toMatch(/8/);
    const badTop = await classify<ErrorBody>('tees', image, 'image/jpeg', '?top=0');
    expect(badTop.status).toBe(400);

    const huge = Buffer.concat([image, Buffer.alloc(MAX_FILE_BYTES)]);
    const tooLarge = await classify<ErrorBody>('tees', huge, 'image/jpeg');
    expect([tooLarge.status, tooLarge.body.error]).toEqual([413, 'PayloadTooLarge']);

    for (const type of ['text/plain', 'application/json']) {
      const unsupported = await classify<ErrorBody>('tees', image, type);
      expect([unsupported.status, unsupported.body.error]).toEqual([415, 'UnsupportedMediaType']);
    }
    const unknown = await classify<ErrorBody>('no-such-set', image, 'image/jpeg');
    expect([unknown.status, unknown.body.error]).toEqual([404, 'NotFound']);
    const untrained = await classify<ErrorBody>('untrained', image, 'image/jpeg');
    expect(untrained.status).toBe(503);
    expect(untrained.body.message).toMatch(/no trained model yet; POST \/train first/);
  });

  it('answers a truncated multipart body with a 400 and stays up (it once ended the process)', async () => {
    const head =
      '--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n';
    for (const body of [`${head}abc`, `${head}abc\r\n`]) {
      for (const dataset of ['any', 'tees']) {
        const response = await fetch(`${host.url}/api/datasets/${dataset}/classify`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=B' },
          body,
        });
        expect(response.status).toBe(400);
        expect(((await response.json()) as ErrorBody).message).toMatch(/the multipart body cannot be read/);
      }
    }
    expect((await fetch(`${host.url}/api/health`)).status).toBe(200);
  });

  it('swaps to a retrained model under concurrent load without a failed request, and lists both versions', async () => {
    const seen: { status: number; version?: string }[] = [];
    let stop = false;
    // Resolved by the clients themselves when they see it happen: no wall-clock guess of how long a swap takes.
    // eslint-disable-next-line prefer-const -- the clients read it before the retraining below sets it (const would be in its TDZ)
    let newVersion: string | undefined;
    let afterSwap = -1;
    let swapped!: () => void;
    const served = new Promise<void>((resolve) => (swapped = resolve));
    const client = async () => {
      while (!stop) {
        const image = testImages[seen.length % 2]!;
        const response = await classify<SingleResponse | ErrorBody>('tees', image.content, 'image/jpeg');
        seen.push({
          status: response.status,
          ...('modelVersion' in response.body ? { version: response.body.modelVersion } : {}),
        });
        if (newVersion !== undefined && afterSwap < 0 && seen.at(-1)!.version === newVersion) afterSwap = seen.length;
        // A few more requests on the new model.
        if (afterSwap >= 0 && seen.length >= afterSwap + 8) swapped();
      }
    };
    const clients = Array.from({ length: 4 }, () => client());
    const job = await train({ augmentedViews: 0, force: true });
    expect(job.error).toBeUndefined();
    expect(job.published).toBe(true);
    newVersion = job.jobId;
    await served;
    stop = true;
    await Promise.all(clients);

    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    const versions = seen.map((s) => s.version);
    expect(versions).toContain(firstVersion);
    const firstNew = versions.indexOf(job.jobId);
    expect(firstNew).toBeGreaterThan(0);
    // Once the new model answered, requests started later never go back to the old one (allowing the few in flight).
    expect(versions.slice(firstNew + 8).every((v) => v === job.jobId)).toBe(true);

    const list = await api<{
      serving: { version: string };
      versions: { version: string; serving: boolean; metrics?: { accuracy?: number } }[];
    }>('GET', 'datasets/tees/models');
    expect(list.status).toBe(200);
    expect(list.body.serving.version).toBe(job.jobId);
    const byVersion = new Map(list.body.versions.map((v) => [v.version, v]));
    expect(byVersion.get(firstVersion)).toMatchObject({ serving: false });
    expect(byVersion.get(job.jobId)).toMatchObject({ serving: true });
    expect(typeof byVersion.get(firstVersion)!.metrics?.accuracy).toBe('number');
    expect((await api('GET', 'datasets/no-such-set/models')).status).toBe(404);
    const untrained = await api<{ serving: null; versions: unknown[] }>('GET', 'datasets/untrained/models');
    expect(untrained.body).toMatchObject({ serving: null, versions: [] });
  }, 300_000);
});
