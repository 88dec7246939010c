// Suspect labels, for review before the next training run: images of the training split whose given label the
// current model's features find unlikely (confident learning on out-of-fold predictions of a fresh logistic head),
// near-identical images (dHash) that carry different labels, and the current model's mistakes on the test split,
// per label. Computed on request, not stored by the trainer: with the features cached (by model version) a request
// costs a few cross-validated L-BFGS fits, and it always reflects the catalog as it is now. The first request for a
// model runs it over the training split once; the size is bounded (MAX_SUSPECT_TRAINING_IMAGES) so that a request
// cannot run for long. Single-label datasets only, for now.
import type { ContainerClient } from '@azure/storage-blob';
import * as ort from 'onnxruntime-node';

import type { DedupSettings } from '../config';
import type { Catalog, ImageRecord, ImageStatus } from '../dataset/catalog';
import { HammingIndex } from '../dataset/hammingIndex';
import { labelsOf } from '../dataset/names';
import type { Split } from '../dataset/split';
import { InvalidArgumentError, messageOf, NotFoundError } from '../errors';
import { relativeDistance } from '../image/dhash';
import type { ModelPointer, ModelRegistry } from '../model/registry';
import type { Classifier } from '../serve/classifier';
import { NoModelError, servingSessionOptions } from '../serve/modelCache';
import type { FeatureCache } from '../train/featureCache';
import { extractFeatures, type FeatureBackbone } from '../train/features';
import { LogisticSolver } from '../train/logistic';
import { scoreInputs } from '../train/pipeline';
import { DEFAULT_STRENGTH, fitRecipe, type Recipe } from '../train/recipe';
import { SINGLE_LABEL } from '../train/task';

/** Training images a request may cross-validate: about 2000 × 2048 features, a few seconds of fits once cached. */
export const MAX_SUSPECT_TRAINING_IMAGES = 2000;
/** Folds of the out-of-fold predictions (fewer when a label has fewer training images). */
export const SUSPECT_FOLDS = 5;
/** Test images classified per call of the serving path. */
const TEST_BATCH = 16;

export interface SuspectDependencies {
  catalog: Catalog;
  incoming: ContainerClient;
  models: Pick<ModelRegistry, 'current' | 'readModel'>;
  /** The serving path, for the test split's predictions. */
  classifier: Pick<Classifier, 'classify'>;
  /** The near-duplicate radius and relative distance ingest uses. */
  dedup: Pick<DedupSettings, 'nearDuplicateMaxBits' | 'maxRelativeDistance'>;
  /** Where the current model's features are kept between requests; default none. */
  features?: FeatureCache;
}

/** A training image whose given label the out-of-fold prediction finds unlikely. */
export interface SuspectImage {
  id: string;
  name: string;
  label: string;
  /** The out-of-fold probability of the given label (low: the label is likely wrong). */
  givenProbability: number;
  /** The label the model proposes: the likeliest among those whose probability reaches their class threshold. */
  proposedLabel: string;
  /** The out-of-fold probability of the proposed label. */
  proposedProbability: number;
  /** Out-of-fold probability of every label. */
  probabilities: Record<string, number>;
  /** p(proposed) - p(given), the out-of-fold score: the list is sorted by it, most suspect first. */
  margin: number;
  /** Why it is flagged (see confidentLearning). */
  rule: SuspectRule;
}

export interface PairImage {
  id: string;
  name: string;
  label: string;
  status: ImageStatus;
  split?: Split;
}

/** Two near-identical images (within the near-duplicate radius, or exact copies) with different labels. */
export interface ConflictingPair {
  images: [PairImage, PairImage];
  distanceBits: number;
}

export interface TestMistake {
  id: string;
  name: string;
  predictedLabel: string;
  /** The served probability of the predicted and of the given label. */
  predictedProbability: number;
  givenProbability: number;
}

export interface LabelTestMistakes {
  label: string;
  testImages: number;
  mistakes: TestMistake[];
}

export interface SuspectReport {
  dataset: string;
  /** The model whose backbone gave the features and whose predictions are the test mistakes. */
  modelVersion: string;
  task: 'single-label';
  trainImages: number;
  /** Folds of the out-of-fold predictions; 0 when a label has fewer than 2 training images (no suspects then). */
  folds: number;
  /** Per label, the mean out-of-fold probability of the label over the images labelled with it. */
  thresholds: Record<string, number>;
  suspects: SuspectImage[];
  conflictingPairs: ConflictingPair[];
  testMistakes: LabelTestMistakes[];
  /** Training views whose features came from the cache, of trainImages. */
  cachedFeatures: number;
  seconds: number;
}

/** One flagged row of confidentLearning: the image's index, the class proposed, the margin and the rule. */
export interface ConfidentLearningFlag {
  index: number;
  proposed: number;
  margin: number;
  /** 'threshold': another class reached its threshold; 'top-label': none did, but another class is likelier. */
  rule: SuspectRule;
}

export type SuspectRule = 'threshold' | 'top-label';

/**
 * Confident learning (Northcutt et al.): per class j the threshold t_j is the mean predicted probability of j over
 * the images labelled j; an image labelled i is flagged when p_i < t_i and some other class k, likelier than i, has
 * p_k >= t_k, with the likeliest such k proposed. Also flagged, as cleanlab's "both" filter does, an image with
 * p_i < t_i that no other class reaches the threshold of but whose likeliest class is another one: the thresholds
 * are strict for a class whose own images score high (a leopard shirt filed as striped, at p 0.06 striped and 0.62
 * leopard against a leopard threshold of 0.81, was missed). Sorted by p_proposed - p_given, largest first. A class
 * no image carries has no threshold and is never proposed.
 */
export function confidentLearning(
  probabilities: readonly (readonly number[])[],
  given: readonly number[],
  classCount: number,
): { thresholds: number[]; flags: ConfidentLearningFlag[] } {
  if (probabilities.length !== given.length)
    throw new InvalidArgumentError(`${probabilities.length} probability rows for ${given.length} labels`);
  const sums = new Array<number>(classCount).fill(0);
  const counts = new Array<number>(classCount).fill(0);
  given.forEach((label, i) => {
    const row = probabilities[i]!;
    if (row.length !== classCount)
      throw new InvalidArgumentError(`row ${i} has ${row.length} probabilities for ${classCount} classes`);
    if (!Number.isInteger(label) || label < 0 || label >= classCount)
      throw new InvalidArgumentError(`label ${label} of row ${i} is not a class index below ${classCount}`);
    sums[label]! += row[label]!;
    counts[label]! += 1;
  });
  const thresholds = sums.map((sum, c) => (counts[c]! > 0 ? sum / counts[c]! : Infinity));
  const flags: ConfidentLearningFlag[] = [];
  given.forEach((label, index) => {
    const p = probabilities[index]!;
    if (!(p[label]! < thresholds[label]!)) return;
    let proposed = -1;
    let likeliest = label;
    for (let k = 0; k < classCount; k++) {
      if (k === label || counts[k] === 0) continue;
      // A proposal must also be likelier than the given label: a tie is no evidence against it.
      if (p[k]! >= thresholds[k]! && p[k]! > p[label]! && (proposed < 0 || p[k]! > p[proposed]!)) proposed = k;
      if (p[k]! > p[likeliest]!) likeliest = k;
    }
    if (proposed >= 0) flags.push({ index, proposed, margin: p[proposed]! - p[label]!, rule: 'threshold' });
    else if (likeliest !== label)
      flags.push({ index, proposed: likeliest, margin: p[likeliest]! - p[label]!, rule: 'top-label' });
  });
  flags.sort((a, b) => b.margin - a.margin || a.index - b.index);
  return { thresholds, flags };
}

/** The suspect report of a dataset's accepted images, with its current model. */
export async function findSuspects(deps: SuspectDependencies, dataset: string): Promise<SuspectReport> {
  const started = Date.now();
  const [current, records] = await Promise.all([deps.models.current(dataset), deps.catalog.listAllImages(dataset)]);
  if (!current && !(await deps.catalog.getStats(dataset)))
    throw new NotFoundError(`dataset "${dataset}" does not exist`);
  const accepted = records.filter((r) => r.status === 'accepted');
  if (current?.pointer.task === 'multi-label' || accepted.some((r) => labelsOf(r.label).length > 1))
    throw new InvalidArgumentError(
      `dataset "${dataset}" is multi-label; suspect labels are computed for single-label datasets only, for now`,
    );
  if (!current) throw new NoModelError(dataset);
  const pointer = current.pointer;
  // Images a review excluded are out of training and evaluation, as the trainer leaves them out.
  const train = accepted.filter((r) => r.split === 'train' && !r.excluded);
  const test = accepted.filter((r) => r.split === 'test' && !r.excluded);
  if (train.length > MAX_SUSPECT_TRAINING_IMAGES)
    throw new InvalidArgumentError(
      `dataset "${dataset}" has ${train.length} training images; ` +
        `suspects are computed on request for at most ${MAX_SUSPECT_TRAINING_IMAGES}`,
    );
  const labels = [...new Set(train.map((r) => r.label))].sort();
  const index = new Map(labels.map((label, i) => [label, i]));
  const given = train.map((r) => index.get(r.label)!);

  const [trainBytes, testBytes] = await Promise.all([download(deps.incoming, train), download(deps.incoming, test)]);
  const { probabilities, folds, cachedFeatures } = await outOfFold(
    deps,
    dataset,
    pointer,
    trainBytes,
    given,
    labels.length,
  );
  const { thresholds, flags } = folds > 0 ? confidentLearning(probabilities, given, labels.length) : emptyFlags();
  const byLabel = (row: readonly number[]) =>
    Object.fromEntries(labels.map((label, c) => [label, round(row[c]!)] as const));
  return {
    dataset,
    modelVersion: pointer.version,
    task: 'single-label',
    trainImages: train.length,
    folds,
    thresholds: folds > 0 ? byLabel(thresholds) : {},
    suspects: flags.map((flag) => {
      const record = train[flag.index]!;
      const row = probabilities[flag.index]!;
      return {
        id: record.id,
        name: record.name,
        label: record.label,
        givenProbability: round(row[given[flag.index]!]!),
        proposedLabel: labels[flag.proposed]!,
        proposedProbability: round(row[flag.proposed]!),
        probabilities: byLabel(probabilities[flag.index]!),
        margin: round(flag.margin),
        rule: flag.rule,
      };
    }),
    conflictingPairs: conflictingPairs(records, deps.dedup),
    testMistakes: await testMistakes(deps.classifier, dataset, test, testBytes),
    cachedFeatures,
    seconds: (Date.now() - started) / 1000,
  };
}

type CatalogImage = ImageRecord & { id: string };

function emptyFlags(): { thresholds: number[]; flags: ConfidentLearningFlag[] } {
  return { thresholds: [], flags: [] };
}

/**
 * Out-of-fold probabilities of the training images: the current model's features (its backbone, input size and
 * resize, test-time mirroring included, as the fused model's `features` output gives them), a softmax head per fold
 * at the trainer's default strength, stratified folds as the recipe search draws them.
 */
async function outOfFold(
  deps: SuspectDependencies,
  dataset: string,
  pointer: ModelPointer,
  images: readonly Buffer[],
  given: readonly number[],
  classCount: number,
): Promise<{ probabilities: number[][]; folds: number; cachedFeatures: number }> {
  const counts = new Array<number>(classCount).fill(0);
  for (const label of given) counts[label]! += 1;
  const k = Math.min(SUSPECT_FOLDS, ...counts);
  if (k < 2 || classCount < 2) return { probabilities: [], folds: 0, cachedFeatures: 0 };
  const session = await ort.InferenceSession.create(
    await deps.models.readModel(dataset, pointer.version),
    servingSessionOptions(),
  );
  let features: Float32Array[][];
  // extractFeatures reports the views found in the cache first, then its progress.
  let cachedFeatures: number | undefined;
  try {
    const backbone = await fusedFeatureBackbone(session, dataset, pointer);
    features = await extractFeatures(backbone, images, {
      resize: pointer.resize,
      cache: deps.features ?? false,
      onProgress: (done) => (cachedFeatures ??= done),
    });
  } finally {
    await session.release();
  }
  const folds = SINGLE_LABEL.folds(
    given.map((label) => [label]),
    k,
    1,
  );
  const recipe: Recipe = {
    resize: pointer.resize,
    mirror: false,
    augmentedViews: 0,
    testTimeMirror: false,
    strength: new Array<number>(classCount).fill(DEFAULT_STRENGTH),
  };
  const probabilities = new Array<number[]>(images.length);
  const solver = await LogisticSolver.create(features[0]![0]!.length, classCount, 'softmax');
  try {
    for (let fold = 0; fold < k; fold++) {
      const inFold = folds.map((f, i) => (f === fold ? i : -1)).filter((i) => i >= 0);
      const rest = folds.map((f, i) => (f === fold ? -1 : i)).filter((i) => i >= 0);
      const { head } = await fitRecipe(
        solver,
        rest.map((i) => features[i]!),
        rest.map((i) => [given[i]!]),
        recipe,
      );
      const scores = scoreInputs(
        head,
        inFold.map((i) => features[i]![0]!),
      );
      inFold.forEach((image, j) => (probabilities[image] = scores[j]!));
    }
  } finally {
    await solver.release();
  }
  return { probabilities, folds: k, cachedFeatures: cachedFeatures ?? 0 };
}

/**
 * The fused model as a feature extractor: its `features` output is what its head reads. The cache key names the
 * model version, so features of one model never serve another.
 */
async function fusedFeatureBackbone(
  session: ort.InferenceSession,
  dataset: string,
  pointer: ModelPointer,
): Promise<FeatureBackbone> {
  const inputName = session.inputNames[0]!;
  if (!session.outputNames.includes('features'))
    throw new Error(`model ${dataset}/${pointer.version} has no "features" output`);
  const size = pointer.inputSize;
  const probe = await session.run(
    { [inputName]: new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]) },
    ['features'],
  );
  return {
    session,
    modelPath: `suspects-${dataset}-${pointer.version}.onnx`,
    inputName,
    inputSize: size,
    outputNames: { features: 'features' },
    featureLength: probe['features']!.data.length,
  };
}

/**
 * Near-identical image pairs with different labels: recorded (near) duplicates, and accepted pairs in the radius.
 * An image a review excluded is out of training, so it conflicts with nothing.
 */
function conflictingPairs(all: readonly CatalogImage[], dedup: SuspectDependencies['dedup']): ConflictingPair[] {
  const records = all.filter((r) => !r.excluded);
  const byId = new Map(records.map((r) => [r.id, r]));
  const pairs: ConflictingPair[] = [];
  const seen = new Set<string>();
  const add = (a: CatalogImage, b: CatalogImage, distanceBits: number) => {
    if (a.label === b.label || a.id === b.id) return;
    const [first, second] = a.id < b.id ? [a, b] : [b, a];
    const key = `${first.id}\n${second.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    pairs.push({ images: [pairImage(first), pairImage(second)], distanceBits });
  };
  for (const record of records) {
    if ((record.status !== 'duplicate' && record.status !== 'nearDuplicate') || !record.relatedTo) continue;
    const related = byId.get(record.relatedTo);
    if (related) add(record, related, record.distanceBits ?? 0);
  }
  const index = new HammingIndex<CatalogImage>({ maxRadius: dedup.nearDuplicateMaxBits });
  for (const record of records) {
    if (record.status !== 'accepted' || !record.dhash) continue;
    for (const match of index.search(record.dhash, dedup.nearDuplicateMaxBits)) {
      if (relativeDistance(match.distance, record.dhash, match.value.dhash!) <= dedup.maxRelativeDistance)
        add(record, match.value, match.distance);
    }
    index.add(record.id, record.dhash, record);
  }
  return pairs.sort((a, b) => a.distanceBits - b.distanceBits || a.images[0].id.localeCompare(b.images[0].id));
}

function pairImage(record: CatalogImage): PairImage {
  return {
    id: record.id,
    name: record.name,
    label: record.label,
    status: record.status,
    ...(record.split ? { split: record.split } : {}),
  };
}

/** Per label of the test split, the images the served model gets wrong (top label not the given one). */
async function testMistakes(
  classifier: SuspectDependencies['classifier'],
  dataset: string,
  test: readonly CatalogImage[],
  bytes: readonly Buffer[],
): Promise<LabelTestMistakes[]> {
  const byLabel = new Map<string, LabelTestMistakes>();
  for (const record of test) {
    if (!byLabel.has(record.label)) byLabel.set(record.label, { label: record.label, testImages: 0, mistakes: [] });
    byLabel.get(record.label)!.testImages += 1;
  }
  for (let start = 0; start < test.length; start += TEST_BATCH) {
    const batch = test.slice(start, start + TEST_BATCH);
    const outcome = await classifier.classify(
      dataset,
      batch.map((_, i) => ({ content: bytes[start + i]! })),
      (model) => ({ top: model.labels.length }),
    );
    outcome.results.forEach((result, i) => {
      const record = batch[i]!;
      const top = result.predictions[0];
      if (!top || top.label === record.label) return;
      byLabel.get(record.label)!.mistakes.push({
        id: record.id,
        name: record.name,
        predictedLabel: top.label,
        predictedProbability: round(top.probability),
        givenProbability: round(result.predictions.find((p) => p.label === record.label)?.probability ?? 0),
      });
    });
  }
  return [...byLabel.values()].sort((a, b) => a.label.localeCompare(b.label));
}

async function download(container: ContainerClient, records: readonly CatalogImage[]): Promise<Buffer[]> {
  const out = new Array<Buffer>(records.length);
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const i = next++;
      const blobName = records[i]!.blobName;
      try {
        out[i] = await container.getBlockBlobClient(blobName).downloadToBuffer();
      } catch (error) {
        throw new Error(`cannot read ${container.containerName}/${blobName}: ${messageOf(error)}`, {
          cause: error,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
