// The model of one iteration (a stored model version), whichever version the dataset's current-model pointer
// names: for a prediction from an iteration that no longer serves the app's own /classify, for quick tests and
// for the test-split evaluation behind `performance`. It renders exactly as the classifier does (ingest's header
// checks, then renderView with the version's own resize, at its input size) and runs the version's fused model.
// At most two versions stay loaded; a version's test-split probabilities are kept once computed.
import * as ort from 'onnxruntime-node';

import type { IngestSettings } from '../config';
import type { Catalog } from '../dataset/catalog';
import { checkImageHeader, ImageRejectedError } from '../dataset/validate';
import { messageOf } from '../errors';
import type { ViewResize } from '../image/preprocessing';
import { renderView } from '../image/view';
import type { ModelTask } from '../model/published';
import type { ModelRegistry } from '../model/registry';
import { servingSessionOptions } from '../serve/modelCache';

export interface IterationModelInfo {
  version: string;
  labels: string[];
  task: ModelTask;
  inputSize: number;
  resize: ViewResize;
}

interface Loaded {
  info: IterationModelInfo;
  session: ort.InferenceSession;
  inputName: string;
  outputName: string;
  leases: number;
  retired: boolean;
}

/** One test image's truth and the model's probabilities, in the order of the model's labels. */
export interface TestPrediction {
  labels: string[];
  probabilities: number[];
}

const KEEP_LOADED = 2;

export class IterationModels {
  readonly #loaded = new Map<string, Promise<Loaded>>();
  readonly #testPredictions = new Map<string, Promise<{ labels: string[]; images: TestPrediction[] }>>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly catalog: Catalog,
    private readonly ingest: IngestSettings,
    /** Reads a catalog image's bytes from where the catalog says it lives. */
    private readonly readImage: (container: string, blobName: string) => Promise<Buffer>,
  ) {}

  /** Probabilities per label (the version's labels, in order) for each image; a bad image throws its rejection. */
  async predict(
    dataset: string,
    version: string,
    images: Buffer[],
  ): Promise<{ info: IterationModelInfo; rows: number[][] }> {
    const loaded = await this.#acquire(dataset, version);
    try {
      const views = await Promise.all(images.map((content) => this.#render(content, loaded.info)));
      const per = views[0]!.length;
      const input = new Float32Array(per * views.length);
      views.forEach((view, i) => input.set(view, i * per));
      const size = loaded.info.inputSize;
      const output = await loaded.session.run({
        [loaded.inputName]: new ort.Tensor('float32', input, [views.length, 3, size, size]),
      });
      const data = output[loaded.outputName]!.data as Float32Array;
      const width = data.length / views.length;
      return { info: loaded.info, rows: views.map((_, i) => Array.from(data.subarray(i * width, (i + 1) * width))) };
    } finally {
      this.#release(dataset, version, loaded);
    }
  }

  /** The version's predictions for every image of the dataset's test split (accepted, not excluded), computed once. */
  testPredictions(dataset: string, version: string): Promise<{ labels: string[]; images: TestPrediction[] }> {
    const key = `${dataset}/${version}`;
    let entry = this.#testPredictions.get(key);
    if (!entry) {
      entry = this.#computeTestPredictions(dataset, version);
      entry.catch(() => this.#testPredictions.delete(key));
      this.#testPredictions.set(key, entry);
    }
    return entry;
  }

  async close(): Promise<void> {
    const all = [...this.#loaded.values()];
    this.#loaded.clear();
    for (const loaded of await Promise.allSettled(all))
      if (loaded.status === 'fulfilled') await loaded.value.session.release();
  }

  async #computeTestPredictions(
    dataset: string,
    version: string,
  ): Promise<{ labels: string[]; images: TestPrediction[] }> {
    const records = (await this.catalog.listAllImages(dataset)).filter(
      (record) => record.status === 'accepted' && record.split === 'test' && !record.excluded,
    );
    const images: TestPrediction[] = [];
    let labels: string[] = [];
    const batch = 8;
    for (let i = 0; i < records.length; i += batch) {
      const slice = records.slice(i, i + batch);
      const contents = await Promise.all(slice.map((record) => this.readImage(record.container, record.blobName)));
      const { info, rows } = await this.predict(dataset, version, contents);
      labels = info.labels;
      slice.forEach((record, j) => images.push({ labels: record.label.split('+'), probabilities: rows[j]! }));
    }
    if (records.length === 0) labels = (await this.#acquireInfo(dataset, version)).labels;
    return { labels, images };
  }

  async #acquireInfo(dataset: string, version: string): Promise<IterationModelInfo> {
    const loaded = await this.#acquire(dataset, version);
    this.#release(dataset, version, loaded);
    return loaded.info;
  }

  async #render(content: Buffer, info: IterationModelInfo): Promise<Float32Array> {
    const header = await checkImageHeader(content, this.ingest);
    try {
      return (await renderView(content, { size: info.inputSize, resize: info.resize })).data;
    } catch (error) {
      throw new ImageRejectedError(
        'corrupt-image',
        `the ${header.format.toUpperCase()} data cannot be decoded: ${messageOf(error)}`,
      );
    }
  }

  async #acquire(dataset: string, version: string): Promise<Loaded> {
    const key = `${dataset}/${version}`;
    let entry = this.#loaded.get(key);
    if (!entry) {
      entry = this.#load(dataset, version);
      entry.catch(() => this.#loaded.delete(key));
      this.#loaded.set(key, entry);
      this.#evict(key);
    } else {
      // Most recently used last.
      this.#loaded.delete(key);
      this.#loaded.set(key, entry);
    }
    const loaded = await entry;
    loaded.leases++;
    return loaded;
  }

  #release(_dataset: string, _version: string, loaded: Loaded): void {
    loaded.leases--;
    if (loaded.retired && loaded.leases === 0) void loaded.session.release();
  }

  #evict(keep: string): void {
    for (const [key, entry] of this.#loaded) {
      if (this.#loaded.size <= KEEP_LOADED) break;
      if (key === keep) continue;
      this.#loaded.delete(key);
      void entry.then(
        (loaded) => {
          loaded.retired = true;
          if (loaded.leases === 0) return loaded.session.release();
        },
        () => undefined,
      );
    }
  }

  async #load(dataset: string, version: string): Promise<Loaded> {
    const [detail, current, bytes] = await Promise.all([
      this.registry.version(dataset, version),
      this.registry.current(dataset),
      this.registry.readModel(dataset, version),
    ]);
    const session = await ort.InferenceSession.create(bytes, servingSessionOptions());
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames.includes('probabilities') ? 'probabilities' : session.outputNames[0]!;
    const pointer = current?.pointer.version === version ? current.pointer : undefined;
    const metrics = detail.metricsFile as
      { labels?: string[]; task?: ModelTask; recipe?: { recipe?: { resize?: ViewResize } } } | undefined;
    const shape = session.inputMetadata[0]?.isTensor ? session.inputMetadata[0].shape : [];
    const side = typeof shape[2] === 'number' ? shape[2] : 224;
    const info: IterationModelInfo = {
      version,
      labels: pointer?.labels ?? metrics?.labels ?? [],
      task: pointer?.task ?? metrics?.task ?? 'single-label',
      inputSize: pointer?.inputSize ?? side,
      resize: pointer?.resize ?? metrics?.recipe?.recipe?.resize ?? { mode: 'squash' },
    };
    return { info, session, inputName, outputName, leases: 0, retired: false };
  }
}
