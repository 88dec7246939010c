// The current-model pointer moves only to a model at least as good, or when forced, and never twice at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry, type ModelPointer } from '../../src/train/models';
import { startTestStorage, type TestStorage } from '../support/azurite';

let storage: TestStorage;
let registry: ModelRegistry;
const model = (version: string, accuracy: number): ModelPointer => ({
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
    expect(await registry.promote('shirts', model('v1', 0.8), { force: false })).toMatchObject({ promoted: true, note: expect.stringMatching(/first model/) });
    const worse = await registry.promote('shirts', model('v2', 0.7), { force: false });
    expect(worse).toMatchObject({ promoted: false, note: expect.stringMatching(/70\.0% is below the current model's 80\.0%/) });
    expect((await registry.current('shirts'))!.pointer.version).toBe('v1');
    expect(await registry.promote('shirts', model('v3', 0.8), { force: false })).toMatchObject({ promoted: true });
    expect(await registry.promote('shirts', model('v4', 0.5), { force: true })).toMatchObject({ promoted: true, note: expect.stringMatching(/forced/) });
    expect((await registry.current('shirts'))!.pointer.version).toBe('v4');
  });

  it('compares multi-label models by mAP, and lets a dataset that changed task publish its first model of the new task', async () => {
    const multi = (version: string, mAP: number, accuracy: number): ModelPointer => ({ ...model(version, accuracy), task: 'multi-label', mAP, threshold: 0.4 });
    await registry.promote('fridge', model('s1', 0.9), { force: false });
    expect(await registry.promote('fridge', multi('m1', 0.6, 0.3), { force: false })).toMatchObject({
      promoted: true,
      note: expect.stringMatching(/first multi-label model, test mAP 60\.0% \(version s1 was single-label\)/),
    });
    // Better exact-match accuracy does not make up for a lower mAP.
    expect(await registry.promote('fridge', multi('m2', 0.55, 0.5), { force: false })).toMatchObject({ promoted: false, note: expect.stringMatching(/test mAP 55\.0% is below the current model's 60\.0%/) });
    expect(await registry.promote('fridge', multi('m3', 0.7, 0.2), { force: false })).toMatchObject({ promoted: true, note: expect.stringMatching(/test mAP 70\.0% against 60\.0%/) });
    expect((await registry.current('fridge'))!.pointer).toMatchObject({ version: 'm3', task: 'multi-label', threshold: 0.4 });
  });

  it('lets exactly the best of concurrent jobs end up current', async () => {
    const results = await Promise.all([0.61, 0.93, 0.72, 0.88, 0.9].map((accuracy, i) => registry.promote('race', model(`r${i}`, accuracy), { force: false })));
    expect(results.some((r) => r.promoted)).toBe(true);
    expect((await registry.current('race'))!.pointer.accuracy).toBe(0.93);
  });

  it('stores a version\'s files', async () => {
    await registry.storeVersion('shirts', 'v9', { 'metrics.json': '{"accuracy":0.9}', 'model.onnx': Buffer.from([1, 2, 3]) });
    const blob = storage.clients.blobs.getContainerClient('models').getBlockBlobClient('shirts/v9/metrics.json');
    expect((await blob.getProperties()).contentType).toBe('application/json');
  });
});
