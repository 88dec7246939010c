// Waiting for ingest after an upload: the catalog is read until every uploaded blob has its record (accepted,
// duplicate, near duplicate or rejected with a reason), so `icf upload --wait` can say what became of each file.
import type { Catalog, ImageRecord } from '../dataset/catalog';

export interface IngestWaitOptions {
  /** Give up after this long (the files may still be ingested later). */
  timeoutInMs: number;
  /** How often the catalog is read (default 1000). */
  pollIntervalInMs?: number;
  onProgress?: (recorded: number, total: number) => void;
}

/** What ingest made of the uploaded blobs; `missing` lists those it had not recorded when the wait ended. */
export interface IngestOutcome {
  records: ImageRecord[];
  missing: string[];
}

export async function waitForIngest(
  catalog: Catalog,
  dataset: string,
  blobNames: readonly string[],
  options: IngestWaitOptions,
): Promise<IngestOutcome> {
  const wanted = new Set(blobNames);
  const found = new Map<string, ImageRecord>();
  const deadline = Date.now() + options.timeoutInMs;
  for (;;) {
    for (const record of await catalog.listAllImages(dataset))
      if (wanted.has(record.blobName)) found.set(record.blobName, record);
    options.onProgress?.(found.size, wanted.size);
    if (found.size === wanted.size || Date.now() >= deadline)
      return { records: [...found.values()], missing: blobNames.filter((name) => !found.has(name)) };
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalInMs ?? 1000));
  }
}
