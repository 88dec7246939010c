// What training publishes, through the real host: a model trained on the seeded garments (one test image excluded by
// a review edit first, so evaluation must leave it out), then the version's detail, its files streamed with their
// content types and caching headers, deletion (409 for the serving version), and `icf models` / `icf results`.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { run as icf } from '../../src/cli/main';
import type { ImageRecord } from '../../src/dataset/catalog';
import type { ModelVersionDetail } from '../../src/model/registry';
import type { Services } from '../../src/services';
import { parseTrainOptions, type TrainJob } from '../../src/train/jobs';
import { type AppStack, callApi, seedGarments, startAppStack } from '../support/appHost';
import { waitFor } from '../support/waitFor';

let stack: AppStack;
let services: Services;
let job: TrainJob;
let dir: string;

const api = <T>(method: string, route: string, body?: unknown) => callApi<T>(stack.host, method, route, body);
const FILES = [
  'confusion-matrix.svg',
  'learning-curve.svg',
  'metrics.json',
  'model.onnx',
  'per-class.svg',
  'training.log',
];

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (chunk: Buffer) => (outText += chunk.toString()));
  err.on('data', (chunk: Buffer) => (errText += chunk.toString()));
  const code = await icf([...args, '--url', stack.host.url], out, err);
  return { code, out: outText, err: errText };
}

beforeAll(async () => {
  stack = await startAppStack({ hostId: 'published-test', seed: (created) => seedGarments(created, 'tees') });
  ({ services } = stack);
  dir = await mkdtemp(path.join(os.tmpdir(), 'icf-results-'));
  const { images } = await services.catalog.listImages('tees', { status: 'accepted', pageSize: 1000 });
  const excluded = images.find((image: ImageRecord) => image.split === 'test')!;
  expect(
    (await api('PATCH', `datasets/tees/images/${encodeURIComponent(excluded.id)}`, { excluded: true })).status,
  ).toBe(200);
  const started = await api<{ jobId: string }>('POST', 'datasets/tees/train', { augmentedViews: 0 });
  expect(started.status).toBe(202);
  job = await waitFor(
    'the training job',
    async () => {
      const { body } = await api<TrainJob>('GET', `datasets/tees/jobs/${started.body.jobId}`);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    },
    240_000,
  );
}, 360_000);

afterAll(async () => {
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('routes for what training publishes', () => {
  it('evaluated without the excluded image, and details the version with its files and metrics', async () => {
    expect(job).toMatchObject({ status: 'succeeded', published: true });
    const tests = (await services.catalog.listImages('tees', { status: 'accepted', pageSize: 1000 })).images.filter(
      (image) => image.split === 'test',
    );
    const { status, body } = await api<ModelVersionDetail>('GET', `datasets/tees/models/${job.jobId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ dataset: 'tees', version: job.jobId, serving: true });
    expect(body.metricsFile!.count).toBe(tests.length - 1);
    expect(body.metrics!.count).toBe(tests.length - 1);
    expect(body.files.map((file) => file.name)).toEqual(FILES);
    expect(body.files.find((file) => file.name === 'model.onnx')!.sizeInBytes).toBeGreaterThan(50_000_000);
    const unknown = await api<{ message: string }>('GET', 'datasets/tees/models/20990101000000-00000000');
    expect(unknown).toMatchObject({ status: 404, body: { message: expect.stringMatching(/has no model version/) } });
    const bad = await api<{ message: string }>('GET', `datasets/tees/models/${encodeURIComponent('a/b')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^version "a\/b" is not valid/);
  });

  it('streams each file with its content type, length, ETag and caching headers, and 304 for its ETag', async () => {
    const types: Record<string, RegExp> = {
      'metrics.json': /^application\/json/,
      'confusion-matrix.svg': /^image\/svg\+xml/,
      'training.log': /^text\/plain/,
      'model.onnx': /^application\/octet-stream/,
    };
    const models = services.storage.blobs.getContainerClient('models');
    for (const [name, type] of Object.entries(types)) {
      const response = await fetch(`${stack.host.url}/api/datasets/tees/models/${job.jobId}/files/${name}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(type);
      expect(response.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
      expect(bytes.equals(await models.getBlockBlobClient(`tees/${job.jobId}/${name}`).downloadToBuffer())).toBe(true);
      const etag = response.headers.get('etag')!;
      const again = await fetch(`${stack.host.url}/api/datasets/tees/models/${job.jobId}/files/${name}`, {
        headers: { 'if-none-match': etag },
      });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(etag);
    }
    const missing = await api<{ message: string }>('GET', `datasets/tees/models/${job.jobId}/files/nothing.txt`);
    expect(missing).toMatchObject({
      status: 404,
      body: { message: expect.stringMatching(/has no file "nothing.txt"/) },
    });
  });

  it('refuses to delete the serving version, and deletes one that does not serve', async () => {
    const serving = await api<{ error: string; message: string }>('DELETE', `datasets/tees/models/${job.jobId}`);
    expect(serving).toMatchObject({
      status: 409,
      body: { error: 'Conflict', code: 'state-conflict', message: expect.stringMatching(/serves/) },
    });
    // An older version (its files as the trainer stored them), which does not serve.
    const models = services.storage.blobs.getContainerClient('models');
    const files: Record<string, Buffer> = {};
    for (const name of ['metrics.json', 'training.log'])
      files[name] = await models.getBlockBlobClient(`tees/${job.jobId}/${name}`).downloadToBuffer();
    await services.training.models.storeVersion('tees', 'older', files);
    expect((await api<ModelVersionDetail>('GET', 'datasets/tees/models/older')).body.serving).toBe(false);
    const deleted = await api('DELETE', 'datasets/tees/models/older');
    expect(deleted).toEqual({ status: 200, body: { dataset: 'tees', version: 'older', files: 2 } });
    expect((await api('GET', 'datasets/tees/models/older')).status).toBe(404);
    expect((await api('DELETE', 'datasets/tees/models/older')).status).toBe(404);
    expect((await api('GET', `datasets/tees/models/${job.jobId}`)).status).toBe(200);
    // A version whose job has not finished may still be written or published: it stays.
    const queued = await services.training.jobs.create('tees', parseTrainOptions({}));
    await services.training.models.storeVersion('tees', queued.jobId, files);
    const inFlight = await api<{ message: string }>('DELETE', `datasets/tees/models/${queued.jobId}`);
    expect(inFlight).toMatchObject({ status: 409, body: { message: expect.stringMatching(/still queued$/) } });
  });

  it('lists the versions with icf models and downloads the serving one with icf results', async () => {
    const models = await cli(['models', 'tees']);
    expect(models.err).toBe('');
    expect(models.code).toBe(0);
    expect(models.out).toMatch(new RegExp(`^\\*\\s+${job.jobId}\\s+\\S+\\s+single-label\\s+\\d+\\.\\d%`, 'm'));
    expect(models.out).toMatch(new RegExp(`serves \\(${job.jobId}\\)`));
    const results = await cli(['results', 'tees', '--out', dir]);
    expect(results.err).toBe('');
    expect(results.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(FILES);
    const stored = services.storage.blobs.getContainerClient('models');
    for (const name of FILES) {
      const expected = await stored.getBlockBlobClient(`tees/${job.jobId}/${name}`).downloadToBuffer();
      expect((await readFile(path.join(dir, name))).equals(expected)).toBe(true);
    }
    expect(results.out).toMatch(new RegExp(`downloaded 6 files \\(\\d+ bytes\\) of version ${job.jobId}`));
    const unknown = await cli(['results', 'no-such-set', '--out', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/404/);
    expect((await cli(['results', 'tees'])).code).toBe(2);
  });
});
