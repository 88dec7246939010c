// What one process knows of each dataset it ingests into: the statistics row (with its ETag), the
// near-duplicate index and the claimed content hashes. Loaded once from the catalog, updated by this
// process's own commits without a query, and caught up with other processes' commits (found through a
// stale statistics ETag) by the dataset's change sequence.
import type { Catalog, DatasetStats, IndexEntry } from './catalog';
import { emptyStats } from './catalog';
import { HammingIndex } from './hammingIndex';
import type { Split } from './split';

export interface IndexedImage {
  split: Split;
  label: string;
  dhash: string;
}

export interface DatasetState {
  readonly dataset: string;
  readonly index: HammingIndex<IndexedImage>;
  /** Statistics as last committed or read, with the ETag a commit must match. */
  stats: DatasetStats;
  /** The accepted image holding each content hash. */
  imageWithHash(contentSha256: string): string | undefined;
}

class LoadedState implements DatasetState {
  readonly index: HammingIndex<IndexedImage>;
  readonly #idsByHash = new Map<string, string>();
  readonly #hashesById = new Map<string, string>();
  stats: DatasetStats;

  constructor(
    readonly dataset: string,
    maxRadius: number,
  ) {
    this.index = new HammingIndex<IndexedImage>({ maxRadius });
    this.stats = emptyStats(dataset);
  }

  imageWithHash(contentSha256: string): string | undefined {
    return this.#idsByHash.get(contentSha256);
  }

  apply(entry: IndexEntry): void {
    const previousHash = this.#hashesById.get(entry.id);
    if (previousHash !== undefined && this.#idsByHash.get(previousHash) === entry.id)
      this.#idsByHash.delete(previousHash);
    this.#hashesById.delete(entry.id);
    if (entry.status === 'accepted' && entry.dhash && entry.split) {
      this.index.add(entry.id, entry.dhash, { split: entry.split, label: entry.label, dhash: entry.dhash });
      this.#idsByHash.set(entry.contentSha256, entry.id);
      this.#hashesById.set(entry.id, entry.contentSha256);
    } else {
      this.index.remove(entry.id);
    }
  }
}

export class DatasetStates {
  readonly #states = new Map<string, Promise<LoadedState>>();

  constructor(
    private readonly catalog: Catalog,
    private readonly maxRadius: number,
  ) {}

  get(dataset: string): Promise<DatasetState> {
    let pending = this.#states.get(dataset);
    if (!pending) {
      pending = this.#load(dataset);
      this.#states.set(dataset, pending);
      pending.catch(() => this.#states.delete(dataset));
    }
    return pending;
  }

  /** Re-reads the statistics row and applies the image changes other processes committed since. */
  async refresh(state: DatasetState): Promise<void> {
    const loaded = state as LoadedState;
    const stats = (await this.catalog.getStats(state.dataset)) ?? emptyStats(state.dataset);
    if (stats.sequence > loaded.stats.sequence) {
      for await (const entry of this.catalog.listIndexEntries(state.dataset, loaded.stats.sequence))
        loaded.apply(entry);
    }
    loaded.stats = stats;
  }

  /** Records this process's own commit: the image and the statistics it wrote (with their new ETag). */
  committed(state: DatasetState, entry: IndexEntry, stats: DatasetStats): void {
    const loaded = state as LoadedState;
    loaded.apply(entry);
    loaded.stats = stats;
  }

  async #load(dataset: string): Promise<LoadedState> {
    const state = new LoadedState(dataset, this.maxRadius);
    // Statistics first: images committed while the index loads are seen again by the next refresh, harmlessly.
    state.stats = (await this.catalog.getStats(dataset)) ?? emptyStats(dataset);
    for await (const entry of this.catalog.listIndexEntries(dataset)) state.apply(entry);
    return state;
  }
}
