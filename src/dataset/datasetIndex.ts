// Per-dataset near-duplicate indexes kept in memory, loaded once from the catalog and then caught up with
// the changes other processes committed (by the dataset's sequence number) before each decision.
import type { Catalog } from './catalog';
import { HammingIndex } from './hammingIndex';
import type { Split } from './split';

export interface IndexedImage {
  split: Split;
  label: string;
}

interface Entry {
  index: HammingIndex<IndexedImage>;
  sequence: number;
}

export class DatasetIndexes {
  readonly #entries = new Map<string, Promise<Entry>>();

  constructor(
    private readonly catalog: Catalog,
    private readonly maxRadius: number,
  ) {}

  /** The dataset's index, caught up to at least `sequence` (the statistics row's, as just read). */
  async get(dataset: string, sequence: number): Promise<HammingIndex<IndexedImage>> {
    let pending = this.#entries.get(dataset);
    if (!pending) {
      pending = this.#load(dataset);
      this.#entries.set(dataset, pending);
      pending.catch(() => this.#entries.delete(dataset));
    }
    const entry = await pending;
    if (entry.sequence < sequence) {
      const from = entry.sequence;
      let highest = from;
      for await (const change of this.catalog.listIndexEntries(dataset, from)) {
        this.#apply(entry.index, change);
        highest = Math.max(highest, change.sequence);
      }
      entry.sequence = Math.max(entry.sequence, highest, sequence);
    }
    return entry.index;
  }

  /** Records an ingest this process just committed, so the next decision sees it without a query. */
  noteCommitted(dataset: string, change: { id: string; status: string; dhash?: string; split?: Split; label: string; sequence: number }): void {
    const pending = this.#entries.get(dataset);
    if (!pending) return;
    void pending.then((entry) => {
      this.#apply(entry.index, change);
      // Only advance when no other process's change can sit in between.
      if (change.sequence === entry.sequence + 1) entry.sequence = change.sequence;
    });
  }

  async #load(dataset: string): Promise<Entry> {
    const index = new HammingIndex<IndexedImage>({ maxRadius: this.maxRadius });
    const stats = await this.catalog.getStats(dataset);
    const sequence = stats?.sequence ?? 0;
    for await (const row of this.catalog.listIndexEntries(dataset)) this.#apply(index, row);
    return { index, sequence };
  }

  #apply(index: HammingIndex<IndexedImage>, change: { id: string; status: string; dhash?: string; split?: Split; label: string }): void {
    if (change.status === 'accepted' && change.dhash && change.split) {
      index.add(change.id, change.dhash, { split: change.split, label: change.label });
    } else {
      index.remove(change.id);
    }
  }
}
