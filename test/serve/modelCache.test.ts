// Loaded models stay within a memory budget: past it the least recently used model that no request holds is
// unloaded, and loads again on its next request; a model in use is never unloaded under it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type ModelPointerInput, ModelRegistry } from '../../src/model/registry';
import { ModelCache } from '../../src/serve/modelCache';
import { buildInferenceGraph } from '../../src/train/headGraph';
import { startTestStorage, type TestStorage } from '../support/azurite';

let storage: TestStorage;
let registry: ModelRegistry;
let modelBytes = 0;

/** A small model of the served form: [N, 4] in, probabilities of two labels out. */
const smallModel = () =>
  Buffer.from(buildInferenceGraph(new Float32Array(8).fill(0.1), new Float32Array([0, 1]), 4, 2));

async function publish(dataset: string, publishedAt: string, model = smallModel()): Promise<void> {
  await registry.storeVersion(dataset, 'v1', { 'model.onnx': model });
  const pointer: ModelPointerInput = {
    version: 'v1',
    jobId: 'v1',
    task: 'single-label',
    backbone: 'test',
    inputSize: 2,
    accuracy: 1,
    testImages: 1,
    labels: ['a', 'b'],
    publishedAt,
  };
  await registry.promote(dataset, pointer, { force: true });
}

beforeAll(async () => {
  storage = await startTestStorage();
  modelBytes = smallModel().length;
  registry = new ModelRegistry(storage.clients.blobs.getContainerClient('models'));
  await registry.ensureContainer();
  // Published in this order, a minute apart.
  for (const [i, dataset] of ['alpha', 'beta', 'gamma'].entries())
    await publish(dataset, new Date(Date.UTC(2026, 0, 1, 12, i)).toISOString());
});
afterAll(async () => {
  await storage.azurite.close();
});

describe('ModelCache memory budget', () => {
  it('unloads the least recently used idle model, reloads it on demand, and never unloads one in use', async () => {
    const logged: string[] = [];
    // Room for two models.
    const cache = new ModelCache(registry, { memoryBudgetBytes: 2 * modelBytes, log: (m) => logged.push(m) });
    try {
      for (const dataset of ['alpha', 'beta']) (await cache.acquire(dataset)).release();
      expect(Object.keys(cache.loaded()).sort()).toEqual(['alpha', 'beta']);
      (await cache.acquire('alpha')).release(); // alpha is now the more recent
      (await cache.acquire('gamma')).release();
      expect(Object.keys(cache.loaded()).sort()).toEqual(['alpha', 'gamma']);
      expect(logged.join('\n')).toMatch(/unloaded the model of "beta" \(version v1, 0 MiB\), the least recently used/);

      // Held models stay, even over the budget; releasing them brings it back within, least recently used first.
      const heldAlpha = await cache.acquire('alpha');
      const heldGamma = await cache.acquire('gamma');
      const beta = await cache.acquire('beta');
      expect(Object.keys(cache.loaded()).sort()).toEqual(['alpha', 'beta', 'gamma']);
      const out = await beta.model.session.run({
        features: new (await import('onnxruntime-node')).Tensor('float32', new Float32Array(4).fill(1), [1, 4]),
      });
      expect(out['probabilities']!.dims).toEqual([1, 2]);
      heldAlpha.release();
      expect(Object.keys(cache.loaded()).sort()).toEqual(['beta', 'gamma']);
      heldGamma.release();
      beta.release();
      expect(Object.keys(cache.loaded()).sort()).toEqual(['beta', 'gamma']);
      // And the unloaded one serves again on its next request.
      const again = await cache.acquire('alpha');
      expect(again.model.version).toBe('v1');
      again.release();
    } finally {
      await cache.close();
    }
  });
});

describe('ModelCache warm-up', () => {
  it('loads every published model, the most recently published first, until the memory budget is full', async () => {
    expect(await registry.publishedDatasets()).toEqual(['gamma', 'beta', 'alpha']);
    const cache = new ModelCache(registry, { memoryBudgetBytes: 2 * modelBytes });
    try {
      expect(await cache.warmUp('*')).toEqual(['gamma', 'beta']);
      expect(Object.keys(cache.loaded()).sort()).toEqual(['beta', 'gamma']);
    } finally {
      await cache.close();
    }
  });

  it('loads the datasets named, skips one without a model quietly, and loads nothing once closed', async () => {
    const logged: string[] = [];
    const cache = new ModelCache(registry, { log: (m) => logged.push(m) });
    expect(await cache.warmUp(['alpha', 'never-trained'])).toEqual(['alpha']);
    expect(cache.loaded()).toEqual({ alpha: 'v1' });
    expect(logged).toEqual([]);
    await cache.close();
    expect(await cache.warmUp(['beta'])).toEqual([]);
    expect(cache.loaded()).toEqual({});
  });

  // Last in this file: "broken" stays published.
  it('reports a model that fails to load and goes on with the next', async () => {
    await publish('broken', new Date(Date.UTC(2026, 0, 2)).toISOString(), Buffer.from('not an onnx model'));
    const logged: string[] = [];
    const cache = new ModelCache(registry, { log: (m) => logged.push(m) });
    try {
      expect(await cache.warmUp(['broken', 'alpha'])).toEqual(['alpha']);
      expect(logged.join('\n')).toMatch(/warm-up could not load the model of "broken": /);
    } finally {
      await cache.close();
    }
  });
});
