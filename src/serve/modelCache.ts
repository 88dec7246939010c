// Serving models: per dataset, the current model (the registry's pointer) loaded once into an onnxruntime
// session that concurrent requests share. The pointer is re-checked at most every `recheckIntervalInMs` with
// a read of its properties (its ETag); when it moved, the new version loads in the background and replaces the
// old one atomically. Requests hold a lease, so one in flight finishes on the session it started with; a
// replaced session is released once its last lease is returned.
import * as os from 'node:os';

import * as ort from 'onnxruntime-node';

import { AppError, messageOf, ProgrammingError } from '../errors';
import type { ViewResize } from '../image/preprocessing';
import type { ModelPointer, ModelRegistry } from '../model/registry';
import { Batcher, type BatcherOptions } from './batcher';

/** The dataset has no published model yet. */
export class NoModelError extends AppError {
  override name = 'NoModelError';
  readonly kind = 'no-model';
  constructor(readonly dataset: string) {
    super(`dataset "${dataset}" has no trained model yet; POST /train first`);
  }
}

export interface LoadedModel {
  dataset: string;
  version: string;
  labels: string[];
  pointer: ModelPointer;
  /** How images are rendered for it: the pointer's recipe (models from before it was recorded squash). */
  resize: ViewResize;
  session: ort.InferenceSession;
  inputName: string;
  outputName: string;
  /** Collects concurrent single images into one session.run. */
  batcher: Batcher;
}

export interface ModelLease {
  model: LoadedModel;
  /** Gives the session back; call exactly once, when the request no longer needs it. */
  release(): void;
}

export interface ModelCacheOptions {
  /** Least time between two pointer checks of a dataset; default 5000. */
  recheckIntervalInMs?: number;
  /** Threads per session; default: the cores available. */
  intraOpNumThreads?: number;
  batch?: BatcherOptions;
  /** Reports background failures (a reload that failed keeps the old model serving). */
  log?: (message: string) => void;
  /**
   * Models kept loaded, by the size of their ONNX files (a session holds about that much): past it, the least
   * recently used datasets whose models no request holds are unloaded, and load again on their next request.
   * Default 1 GiB (about eight ResNet50 models).
   */
  memoryBudgetBytes?: number;
}

interface Slot {
  model: LoadedModel;
  etag: string;
  leases: number;
  retired: boolean;
  /** The model file's size: what the memory budget counts. */
  bytes: number;
}

interface DatasetEntry {
  current?: Slot;
  /** When a request last acquired it (the LRU order of eviction). */
  usedAt: number;
  /** The single-flight first load (or reload) in progress. */
  loading?: Promise<Slot>;
  checkedAt: number;
  checking?: Promise<void>;
}

const DEFAULT_MEMORY_BUDGET_BYTES = 1024 * 1024 * 1024;

/** The options every serving session is created with (bench:inference gives its bare session the same). */
export function servingSessionOptions(
  intraOpNumThreads = os.availableParallelism(),
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads,
    // No spin-waiting between runs: a spinning pool thread holds a core that the decoding of the next requests, the
    // host and any other loaded session need. With spinning, two sessions in one process, run in turn, each took
    // about twice as long as without (README, Serve, has the measurement); one session alone runs as fast either way.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

export class ModelCache {
  readonly #entries = new Map<string, DatasetEntry>();
  readonly #recheckIntervalInMs: number;
  readonly #threads: number;
  #closed = false;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly options: ModelCacheOptions = {},
  ) {
    this.#recheckIntervalInMs = options.recheckIntervalInMs ?? 5000;
    this.#threads = options.intraOpNumThreads ?? os.availableParallelism();
  }

  /** The dataset's current model, loading it on first use; throws NoModelError when none is published. */
  async acquire(dataset: string): Promise<ModelLease> {
    let entry = this.#entries.get(dataset);
    if (!entry) this.#entries.set(dataset, (entry = { checkedAt: 0, usedAt: 0 }));
    entry.usedAt = performance.now();
    let slot = entry.current;
    if (!slot) {
      // Concurrent first requests share one load; a failed load (no model) is not cached, so the next request asks again.
      entry.loading ??= this.#loadCurrent(dataset).finally(() => {
        entry.loading = undefined;
      });
      const loaded = await entry.loading;
      if (this.#closed) {
        // Closed while it loaded: nothing would ever release this session.
        await this.#dispose(loaded);
        throw new ProgrammingError(`the model cache was closed while "${dataset}" loaded`);
      }
      if (!entry.current) this.#install(entry, loaded);
      slot = entry.current!;
      // Held from here on, so that the eviction this load may cause never picks it.
      slot.leases++;
      this.#evict();
      slot.leases--;
    } else if (Date.now() - entry.checkedAt >= this.#recheckIntervalInMs && !entry.checking) {
      // Checked in the background: the request does not wait for the blob read, nor for a new version to load.
      entry.checking = this.#recheck(dataset, entry).finally(() => {
        entry.checking = undefined;
      });
    }
    slot.leases++;
    let released = false;
    const held = slot;
    return {
      model: held.model,
      release: () => {
        if (released) return;
        released = true;
        held.leases--;
        if (held.retired && held.leases === 0) void this.#dispose(held);
        // Over the budget only while models were held: the first release brings it back.
        else if (held.leases === 0) this.#evict();
      },
    };
  }

  /**
   * Loads the current models of `selection` ('*': every dataset with one, the most recently published first), one
   * after another, until the memory budget is full, and says which are serving. A request that arrives meanwhile
   * joins the load of its dataset rather than starting its own. Never throws: a dataset whose model fails to load
   * is reported through `log` and skipped, and it loads again on its first request.
   */
  async warmUp(selection: '*' | readonly string[]): Promise<string[]> {
    const budget = this.options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
    let datasets: readonly string[];
    try {
      datasets = selection === '*' ? await this.registry.publishedDatasets() : selection;
    } catch (error) {
      this.options.log?.(`serve: warm-up could not list the published models: ${messageOf(error)}`);
      return [];
    }
    const loaded: string[] = [];
    for (const dataset of datasets) {
      if (this.#closed || this.#loadedBytes() >= budget) break;
      try {
        (await this.acquire(dataset)).release();
        loaded.push(dataset);
      } catch (error) {
        if (this.#closed) break;
        if (!(error instanceof NoModelError))
          this.options.log?.(`serve: warm-up could not load the model of "${dataset}": ${messageOf(error)}`);
      }
    }
    return loaded.filter((dataset) => this.#entries.get(dataset)?.current);
  }

  #loadedBytes(): number {
    let total = 0;
    for (const entry of this.#entries.values()) total += entry.current?.bytes ?? 0;
    return total;
  }

  /** Checks the pointer now and, when it moved, waits for the new version to be serving (tests, warm-up). */
  async refresh(dataset: string): Promise<void> {
    const entry = this.#entries.get(dataset);
    if (!entry?.current) return;
    await (entry.checking ??= this.#recheck(dataset, entry).finally(() => {
      entry.checking = undefined;
    }));
  }

  /** Versions currently loaded, per dataset. */
  loaded(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [dataset, entry] of this.#entries) if (entry.current) out[dataset] = entry.current.model.version;
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const slots = [...this.#entries.values()].flatMap((entry) => (entry.current ? [entry.current] : []));
    this.#entries.clear();
    for (const slot of slots) {
      slot.retired = true;
      if (slot.leases === 0) await this.#dispose(slot);
    }
  }

  /** Unloads least recently used, unheld models until the loaded ones fit the memory budget (or none can go). */
  #evict(): void {
    const budget = this.options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
    let total = this.#loadedBytes();
    const idle = [...this.#entries]
      .filter(([, entry]) => entry.current && entry.current.leases === 0 && !entry.loading && !entry.checking)
      .sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [dataset, entry] of idle) {
      if (total <= budget) break;
      const slot = entry.current!;
      total -= slot.bytes;
      this.#entries.delete(dataset);
      slot.retired = true;
      this.options.log?.(
        `serve: unloaded the model of "${dataset}" (version ${slot.model.version}, ${Math.round(slot.bytes / 1048576)} MiB), the least recently used, to stay within ${Math.round(budget / 1048576)} MiB`,
      );
      void this.#dispose(slot);
    }
  }

  #install(entry: DatasetEntry, slot: Slot): void {
    const previous = entry.current;
    entry.current = slot;
    entry.checkedAt = Date.now();
    if (previous) {
      previous.retired = true;
      if (previous.leases === 0) void this.#dispose(previous);
    }
  }

  async #recheck(dataset: string, entry: DatasetEntry): Promise<void> {
    try {
      entry.checkedAt = Date.now();
      // No pointer (it was deleted): keep serving what is loaded rather than failing every request.
      const etag = await this.registry.currentETag(dataset);
      if (etag === undefined) return;
      if (!entry.current || etag === entry.current.etag) return;
      const slot = await this.#loadCurrent(dataset);
      if (this.#closed) return void (await slot.model.session.release());
      if (entry.current && slot.model.version === entry.current.model.version) {
        // Same version re-published (e.g. pointer rewritten): keep the loaded session, remember the new ETag.
        entry.current.etag = slot.etag;
        await slot.model.session.release();
        return;
      }
      this.#install(entry, slot);
      this.#evict();
    } catch (error) {
      this.options.log?.(
        `serve: could not reload the model of "${dataset}": ${messageOf(error)}; the loaded version keeps serving`,
      );
    }
  }

  async #loadCurrent(dataset: string): Promise<Slot> {
    const current = await this.registry.current(dataset);
    if (!current) throw new NoModelError(dataset);
    const { pointer, etag } = current;
    const bytes = await this.registry.readModel(dataset, pointer.version);
    const session = await ort.InferenceSession.create(bytes, servingSessionOptions(this.#threads));
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames.includes('probabilities') ? 'probabilities' : session.outputNames[0]!;
    const model: LoadedModel = {
      dataset,
      version: pointer.version,
      labels: pointer.labels,
      pointer,
      resize: pointer.resize,
      session,
      inputName,
      outputName,
      batcher: new Batcher(session, inputName, outputName, this.options.batch),
    };
    return { model, etag, leases: 0, retired: false, bytes: bytes.length };
  }

  async #dispose(slot: Slot): Promise<void> {
    try {
      await slot.model.session.release();
    } catch (error) {
      this.options.log?.(
        `serve: releasing model ${slot.model.dataset}/${slot.model.version} failed: ${messageOf(error)}`,
      );
    }
  }
}
