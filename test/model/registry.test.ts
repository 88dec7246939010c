// The current-model pointer moves only to a model at least as good, or when forced, and never twice at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type ModelPointerInput, ModelRegistry } from '../../src/model/registry';
import { startTestStorage, type TestStorage } from '../support/azurite';

let storage: TestStorage;
let registry: ModelRegistry;
const model = (version: string, accuracy: number): ModelPointerInput => ({
  version,
  jobId: `job-${version}`,
  task: 'single-label',
  backbone: 'resnet50-keras',
  inputSize: 224,
  accuracy,
  testImages: 60,
  labels: ['a', 'b'],
  publishedAt: new Date().toISOString(),
});

beforeAll(async () => {
  storage = await startTestStorage();
  registry = new ModelRegistry(storage.clients.blobs.getContainerClient('models'));
  await registry.ensureContainer();
});
afterAll(async () => {
  await storage.azurite.close();
});

describe('ModelRegistry', () => {
  it('publishes the first model, keeps a worse one out unless forced, and takes a better one', async () => {
    expect(await registry.promote('shirts', model('v1', 0.8), { force: false })).toMatchObject({
      promoted: true,
      note: expect.stringMatching(/first model/),
    });
    const worse = await registry.promote('shirts', model('v2', 0.7), { force: false });
    expect(worse).toMatchObject({
      promoted: false,
      note: expect.stringMatching(/70\.0% is below the current model's 80\.0%/),
    });
    expect((await registry.current('shirts'))!.pointer.version).toBe('v1');
    expect(await registry.promote('shirts', model('v3', 0.8), { force: false })).toMatchObject({ promoted: true });
    expect(await registry.promote('shirts', model('v4', 0.5), { force: true })).toMatchObject({
      promoted: true,
      note: expect.stringMatching(/forced/),
    });
    expect((await registry.current('shirts'))!.pointer.version).toBe('v4');
  });

  it('compares multi-label models by mAP, and lets a dataset that changed task publish its first model of the new task', async () => {
    const multi = (version: string, mAP: number, accuracy: number): ModelPointerInput => ({
      ...model(version, accuracy),
      task: 'multi-label',
      mAP,
      threshold: 0.4,
    });
    await registry.promote('fridge', model('s1', 0.9), { force: false });
    expect(await registry.promote('fridge', multi('m1', 0.6, 0.3), { force: false })).toMatchObject({
      promoted: true,
      note: expect.stringMatching(/first multi-label model, test mAP 60\.0% \(version s1 was single-label\)/),
    });
    // Better exact-match accuracy does not make up for a lower mAP.
    expect(await registry.promote('fridge', multi('m2', 0.55, 0.5), { force: false })).toMatchObject({
      promoted: false,
      note: expect.stringMatching(/test mAP 55\.0% is below the current model's 60\.0%/),
    });
    expect(await registry.promote('fridge', multi('m3', 0.7, 0.2), { force: false })).toMatchObject({
      promoted: true,
      note: expect.stringMatching(/test mAP 70\.0% against 60\.0%/),
    });
    expect((await registry.current('fridge'))!.pointer).toMatchObject({
      version: 'm3',
      task: 'multi-label',
      threshold: 0.4,
    });
  });

  it('lets exactly the best of concurrent jobs end up current', async () => {
    const results = await Promise.all(
      [0.61, 0.93, 0.72, 0.88, 0.9].map((accuracy, i) =>
        registry.promote('race', model(`r${i}`, accuracy), { force: false }),
      ),
    );
    expect(results.some((r) => r.promoted)).toBe(true);
    expect((await registry.current('race'))!.pointer.accuracy).toBe(0.93);
  });

  it("stores a version's files", async () => {
    await registry.storeVersion('shirts', 'v9', {
      'metrics.json': '{"accuracy":0.9}',
      'model.onnx': Buffer.from([1, 2, 3]),
    });
    const blob = storage.clients.blobs.getContainerClient('models').getBlockBlobClient('shirts/v9/metrics.json');
    expect((await blob.getProperties()).contentType).toBe('application/json');
  });

  it('reads pointers stored before task, backbone, input size and resize were recorded, with what they meant', async () => {
    const models = storage.clients.blobs.getContainerClient('models');
    const first = JSON.stringify({
      version: 'old1',
      jobId: 'old1',
      accuracy: 0.75,
      testImages: 20,
      labels: ['a', 'b'],
      publishedAt: '2026-01-01T00:00:00.000Z',
    });
    await models.getBlockBlobClient('legacy/current.json').upload(first, first.length);
    expect((await registry.current('legacy'))!.pointer).toEqual({
      version: 'old1',
      jobId: 'old1',
      task: 'single-label',
      backbone: 'resnet50-keras',
      inputSize: 224,
      resize: { mode: 'squash' },
      accuracy: 0.75,
      testImages: 20,
      labels: ['a', 'b'],
      publishedAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it('names the file and the field of a stored pointer that breaks the contract', async () => {
    const models = storage.clients.blobs.getContainerClient('models');
    const broken = JSON.stringify({ ...model('b1', 0.9), resize: { mode: 'centre-crop', cropFraction: 2 } });
    await models.getBlockBlobClient('broken/current.json').upload(broken, broken.length);
    await expect(registry.current('broken')).rejects.toThrow(
      /models\/broken\/current\.json is invalid: resize\.cropFraction: /,
    );
    await models.getBlockBlobClient('broken/current.json').upload('{"version":', 11);
    await expect(registry.current('broken')).rejects.toThrow(/models\/broken\/current\.json is not valid JSON/);
  });

  it('refuses to publish a pointer or store a metrics.json that readers would refuse, before writing', async () => {
    await expect(registry.promote('strict', { ...model('s1', 0.9), labels: [] }, { force: true })).rejects.toThrow(
      /refusing to write models\/strict\/current\.json: labels: /,
    );
    expect(await registry.current('strict')).toBeUndefined();
    await expect(
      registry.storeVersion('strict', 's1', {
        'metrics.json': '{"task":"regression"}',
        'model.onnx': Buffer.from([1]),
      }),
    ).rejects.toThrow(/models\/strict\/s1\/metrics\.json is invalid: task: must be "single-label" or "multi-label"/);
    // Nothing of either was stored: the dataset has no versions at all.
    await expect(registry.list('strict', { getStats: async () => undefined })).rejects.toThrow(
      /dataset "strict" does not exist/,
    );
  });

  it('lists the stored versions with their metrics summary and the one that serves', async () => {
    const catalog = { getStats: async () => undefined };
    await expect(registry.list('nothing-here', catalog)).rejects.toThrow(/dataset "nothing-here" does not exist/);
    await registry.storeVersion('listed', 'v1', {
      'metrics.json': JSON.stringify({
        task: 'single-label',
        labels: ['a', 'b'],
        accuracy: 0.8,
        count: 10,
        macro: { f1: 0.7 },
      }),
    });
    await registry.storeVersion('listed', 'v2', {
      'metrics.json': JSON.stringify({
        task: 'multi-label',
        labels: ['a', 'b'],
        zeroOneAccuracy: 0.5,
        mAP: 0.9,
        threshold: 0.4,
        count: 10,
      }),
    });
    await registry.promote(
      'listed',
      { ...model('v2', 0.5), task: 'multi-label', mAP: 0.9, threshold: 0.4 },
      { force: false },
    );
    const list = await registry.list('listed', catalog);
    expect(list.serving).toMatchObject({ version: 'v2', task: 'multi-label', mAP: 0.9, threshold: 0.4 });
    expect(list.versions.map((v) => v.version)).toEqual(['v2', 'v1']);
    expect(list.versions[0]).toMatchObject({
      serving: true,
      metrics: { task: 'multi-label', accuracy: 0.5, mAP: 0.9, threshold: 0.4, count: 10 },
    });
    expect(list.versions[1]).toMatchObject({
      serving: false,
      metrics: { task: 'single-label', accuracy: 0.8, count: 10, macroF1: 0.7 },
    });
  });
});
