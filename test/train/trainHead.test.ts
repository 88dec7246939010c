// trainHead on synthetic features: learns a separable problem, early-stops, folds standardisation into W and b,
// is deterministic per seed, and rejects bad arguments precisely.
import '../support/quietOnnxRuntime';

import { describe, expect, it } from 'vitest';

import { splitValidation, trainHead } from '../../src/train/trainHead';
import { seededRandom } from '../../src/util/seededRandom';

const D = 16;
const C = 3;

/** Non-negative, differently scaled features like pooled ReLU activations; class c raises dimensions c, c+3, c+6. */
function dataset(n: number, seed: number): { features: Float32Array[]; labels: number[] } {
  const random = seededRandom(seed);
  const labels = Array.from({ length: n }, (_, i) => i % C);
  const features = labels.map((label) =>
    Float32Array.from(
      { length: D },
      (_, d) => (d % C === label && d < 9 ? 2 : 0) + random() * (1 + d / 4) + (d === 15 ? 40 : 0),
    ),
  );
  return { features, labels };
}

function accuracy(features: Float32Array[], labels: number[], weights: Float32Array, bias: Float32Array): number {
  let correct = 0;
  features.forEach((x, i) => {
    const logits = Array.from(bias, (b, c) => x.reduce((s, v, d) => s + v * weights[d * C + c]!, b));
    if (logits.indexOf(Math.max(...logits)) === labels[i]) correct++;
  });
  return correct / features.length;
}

describe('trainHead', () => {
  it.each([
    { standardize: false, refit: false },
    { standardize: true, refit: false },
    { standardize: true, refit: true },
  ])('learns a separable problem (%o) and generalises', async (settings) => {
    const train = dataset(150, 1);
    const test = dataset(60, 2);
    const head = await trainHead({
      ...train,
      classCount: C,
      epochs: 200,
      learningRate: 0.01,
      seed: 3,
      log: () => undefined,
      ...settings,
    });
    expect(head.weights).toHaveLength(D * C);
    expect(head.bias).toHaveLength(C);
    expect(head.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(head.history.length).toBeLessThanOrEqual(200);
    expect(head.history[0]!.validationAccuracy).toBeDefined();
    expect(head.history.at(-1)!.loss).toBeLessThan(head.history[0]!.loss);
    // The weights apply to raw features: standardisation is folded in.
    expect(accuracy(test.features, test.labels, head.weights, head.bias)).toBeGreaterThan(0.95);
    expect(head.executionProviders).toEqual(['cpu']);
  });

  it('is deterministic for a seed, accepts flat features, and trains all epochs without validation', async () => {
    const { features, labels } = dataset(60, 4);
    const flat = new Float32Array(60 * D);
    features.forEach((row, i) => flat.set(row, i * D));
    const options = { labels, classCount: C, epochs: 7, seed: 9, validationShare: 0, log: () => undefined };
    const a = await trainHead({ ...options, features });
    const b = await trainHead({ ...options, features: flat, featureCount: D });
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
    expect(a.history).toHaveLength(7);
    expect(a.bestEpoch).toBe(7);
    expect(a.history[0]!.validationAccuracy).toBeUndefined();
  });

  it('keeps a group (the views of one image) on one side of the validation split', async () => {
    const { features, labels } = dataset(90, 5);
    // Groups of three rows of one class; a mixed group is an error.
    const groups = labels.map((_, i) => Math.floor(i / 9) * 3 + (i % 3));
    await expect(
      trainHead({ features, labels, groups, classCount: C, epochs: 3, log: () => undefined }),
    ).resolves.toBeDefined();
    for (const seed of [0, 1, 2]) {
      const { trainRows, validationRows } = splitValidation(labels, groups, C, 0.2, seed);
      expect([...trainRows, ...validationRows].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
      const sideOf = new Map<number, 'train' | 'validation'>();
      for (const [side, rows] of [
        ['train', trainRows],
        ['validation', validationRows],
      ] as const) {
        for (const row of rows) {
          const group = groups[row]!;
          // A group seen on the other side straddles the split.
          expect(sideOf.get(group) ?? side, `group ${group} (row ${row})`).toBe(side);
          sideOf.set(group, side);
        }
      }
      // Whole groups were held out: 30 groups of 3 rows, 2 of each class's 10 groups.
      expect(new Set(validationRows.map((row) => groups[row])).size).toBe(6);
      expect(validationRows).toHaveLength(18);
    }
    await expect(
      trainHead({ features, labels, groups: labels.map(() => 0), classCount: C, log: () => undefined }),
    ).rejects.toThrow(/group 0 holds rows of classes 0 and 1/);
  });

  it('falls back to CPU loudly when CUDA is asked for but missing', async () => {
    const { features, labels } = dataset(30, 6);
    const messages: string[] = [];
    const head = await trainHead({
      features,
      labels,
      classCount: C,
      epochs: 2,
      executionProviders: ['cuda', 'cpu'],
      log: (m) => messages.push(m),
    });
    // On a machine with CUDA onnxruntime this passes through; on CPU-only builds it must warn and use the CPU.
    if (head.executionProviders.includes('cuda')) expect(messages).toEqual([]);
    else
      expect(messages.join('\n')).toMatch(
        /WARNING: execution provider cuda is unavailable \(.+\); running the head on \[cpu\] instead/,
      );
  });

  it('rejects bad arguments with precise messages', async () => {
    const { features, labels } = dataset(12, 7);
    const base = { features, labels, classCount: C, log: () => undefined };
    await expect(trainHead({ ...base, classCount: 1 })).rejects.toThrow(
      'classCount must be an integer of at least 2, got 1',
    );
    await expect(trainHead({ ...base, labels: labels.slice(1) })).rejects.toThrow(
      'labels has 11 entries for 12 feature rows',
    );
    await expect(trainHead({ ...base, labels: labels.map(() => 3) })).rejects.toThrow(
      'labels[0] = 3 is not a class index 0..2',
    );
    await expect(trainHead({ ...base, learningRate: 0 })).rejects.toThrow(
      'learningRate must be a number in (0, 10], got 0',
    );
    await expect(trainHead({ ...base, features: new Float32Array(10) })).rejects.toThrow(
      'featureCount (a positive integer) is required',
    );
    await expect(
      trainHead({ ...base, features: [new Float32Array(3), new Float32Array(4)], labels: [0, 1] }),
    ).rejects.toThrow('features[1] has 4 values; features[0] has 3');
  });

  it('trains a sigmoid head on multi-label rows and chooses its threshold on the validation part', async () => {
    // Four labels, each present in about 40% of rows independently (some rows have none); label c raises dimensions c and c+4.
    const L = 4;
    const make = (n: number, seed: number) => {
      const random = seededRandom(seed);
      const labelSets = Array.from({ length: n }, () => [0, 1, 2, 3].filter(() => random() < 0.4));
      const features = labelSets.map((set) =>
        Float32Array.from({ length: D }, (_, d) => (d < 2 * L && set.includes(d % L) ? 1.5 : 0) + random()),
      );
      return { features, labelSets };
    };
    const train = make(200, 11);
    const test = make(100, 12);
    const head = await trainHead({
      ...train,
      classCount: L,
      epochs: 300,
      learningRate: 0.02,
      seed: 1,
      log: () => undefined,
    });
    expect(head.kind).toBe('sigmoid');
    expect(head.history[0]!.validationMeanAP).toBeGreaterThan(0);
    expect(head.history[0]!.validationAccuracy).toBeUndefined();
    expect(head.threshold).toBeGreaterThan(0.05);
    expect(head.threshold).toBeLessThan(0.95);
    // Exact label sets on unseen rows, with the weights applied as sigmoid(x·W + b) >= threshold.
    let exact = 0;
    test.features.forEach((x, i) => {
      const predicted = [0, 1, 2, 3].filter(
        (c) =>
          1 / (1 + Math.exp(-x.reduce((sum, v, d) => sum + v * head.weights[d * L + c]!, head.bias[c]!))) >=
          head.threshold!,
      );
      if (predicted.join() === test.labelSets[i]!.join()) exact++;
    });
    expect(exact / test.features.length).toBeGreaterThan(0.9);
  });

  it('rejects mixed or malformed multi-label arguments', async () => {
    const features = [new Float32Array(4), new Float32Array(4)];
    const base = { features, classCount: 3, log: () => undefined };
    await expect(trainHead({ ...base })).rejects.toThrow(
      'give either labels (one class per row: a softmax head) or labelSets',
    );
    await expect(trainHead({ ...base, labels: [0, 1], labelSets: [[0], [1]] })).rejects.toThrow('give either labels');
    await expect(trainHead({ ...base, labelSets: [[0], [1, 3]] })).rejects.toThrow(
      'labelSets[1][1] = 3 is not a class index 0..2',
    );
    await expect(trainHead({ ...base, labelSets: [[0, 0], [1]] })).rejects.toThrow('labelSets[0] names a class twice');
    await expect(trainHead({ ...base, labelSets: [[0], [1]], labelSmoothing: 0.1 })).rejects.toThrow(
      'labelSmoothing applies to softmax heads',
    );
  });
});
