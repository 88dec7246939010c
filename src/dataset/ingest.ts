// Ingest of one blob of the incoming container: validate, hash, deduplicate, split, record, quarantine.
import { createHash } from 'node:crypto';

import type { BlobClient, ContainerClient } from '@azure/storage-blob';

import type { DedupSettings, IngestSettings } from '../config';
import { dhashFromPixels, relativeDistance } from '../image/dhash';
import { INCOMING_CONTAINER, QUARANTINE_CONTAINER } from '../storage/names';
import { isStatus } from '../storage/tables';
import type { PixelBudget } from '../util/pixelBudget';
import {
  Catalog,
  CatalogConflictError,
  type DatasetStats,
  describeImageId,
  imageIdFor,
  imageIdForBlob,
  imageIdOfRecord,
  type ImageRecord,
  type ImageStatus,
  INVALID_DATASET_PARTITION,
  isInvalidNameImageId,
  legacyImageIdForBlob,
} from './catalog';
import { type DatasetState, DatasetStates } from './datasetState';
import { KeyedMutex } from './keyedMutex';
import { checkDatasetName, labelsOf, parseImagePath } from './names';
import { chooseSplit } from './split';
import { fileTooLarge, ImageRejectedError, validateImage, type ValidImage } from './validate';

/** How many of the closest images are weighed as neighbours (nearest first). */
const NEIGHBOUR_CANDIDATES = 32;

/** Commits that lose a race re-read and decide again; this many losses in a row is a real problem. */
const MAX_COMMIT_ATTEMPTS = 50;

export interface IngestBlob {
  /** Blob name inside the incoming container: `{dataset}/{label}/{file}`. */
  blobName: string;
  content: Buffer;
  /** The blob's metadata (provenance written by uploaders and the collector). */
  metadata?: Record<string, string>;
  /** The blob's ETag as triggered, so that quarantine never deletes a newer upload of the same name. */
  etag?: string;
}

/** What ingest works from: the blob's bytes, or for a blob over the size limit only its hash and size (never read whole). */
interface IngestInput extends Omit<IngestBlob, 'content'> {
  contentSha256: string;
  sizeBytes: number;
  /** Undefined: the blob is over INGEST_MAX_FILE_BYTES, and is rejected without its bytes in memory. */
  content?: Buffer;
}

export interface IngestOutcome {
  id: string;
  dataset: string;
  status: ImageStatus;
  split?: 'train' | 'test';
  reason?: string;
  /** True when the catalog already had this blob with this content: nothing changed. */
  alreadyIngested: boolean;
}

export interface IngestLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface IngestorOptions {
  catalog: Catalog;
  incoming: ContainerClient;
  quarantine: ContainerClient;
  ingest: IngestSettings;
  dedup: DedupSettings;
  logger?: IngestLogger;
  /** Bounds the pixels decoded at once (shared with the classifier); default: no bound. */
  pixelBudget?: PixelBudget;
}

export class Ingestor {
  readonly #catalog: Catalog;
  readonly #incoming: ContainerClient;
  readonly #quarantine: ContainerClient;
  readonly #ingest: IngestSettings;
  readonly #dedup: DedupSettings;
  readonly #pixelBudget: PixelBudget | undefined;
  readonly #states: DatasetStates;
  readonly #logger: IngestLogger;
  readonly #commits = new KeyedMutex();

  constructor(options: IngestorOptions) {
    this.#catalog = options.catalog;
    this.#incoming = options.incoming;
    this.#quarantine = options.quarantine;
    this.#ingest = options.ingest;
    this.#dedup = options.dedup;
    this.#pixelBudget = options.pixelBudget;
    this.#states = new DatasetStates(options.catalog, options.dedup.splitGroupMaxBits);
    this.#logger = options.logger ?? { info: () => undefined, warn: () => undefined };
  }

  async ensureStorage(): Promise<void> {
    await Promise.all([
      this.#catalog.ensureTable(),
      this.#incoming.createIfNotExists(),
      this.#quarantine.createIfNotExists(),
    ]);
  }

  async ingest(blob: IngestBlob): Promise<IngestOutcome> {
    const contentSha256 = createHash('sha256').update(blob.content).digest('hex');
    return this.#ingestInput({ ...blob, contentSha256, sizeBytes: blob.content.length });
  }

  /**
   * Ingests a blob as it is stored, reading no more than the size limit allows: its length comes from its
   * properties first, a blob over INGEST_MAX_FILE_BYTES is hashed as a stream (bounded memory) and rejected as
   * file-too-large without being held, and any other is read with a cap. Undefined: the blob is gone, or was
   * replaced since it was found (its new version is ingested on its own).
   */
  async ingestStored(blobName: string, blob: BlobClient): Promise<IngestOutcome | undefined> {
    let properties: Awaited<ReturnType<BlobClient['getProperties']>>;
    try {
      properties = await blob.getProperties();
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
    const etag = properties.etag;
    const sizeBytes = properties.contentLength ?? 0;
    const source = { blobName, metadata: properties.metadata ?? {}, ...(etag ? { etag } : {}) };
    try {
      if (sizeBytes > this.#ingest.maxFileBytes) {
        const contentSha256 = await streamedSha256(blob, etag);
        return await this.#ingestInput({ ...source, contentSha256, sizeBytes });
      }
      const content = await readCapped(blob, etag, this.#ingest.maxFileBytes);
      // The read is of the version whose length was read (If-Match): more bytes is the service's error, not ours.
      if (!content) throw new Error(`blob ${blobName} held more than the ${sizeBytes} bytes its properties said`);
      return await this.ingest({ ...source, content });
    } catch (error) {
      if (isStatus(error, 404) || isStatus(error, 412)) return undefined;
      throw error;
    }
  }

  async #ingestInput(blob: IngestInput): Promise<IngestOutcome> {
    const { contentSha256 } = blob;
    const parsed = parseImagePath(blob.blobName);
    const { dataset, id } = catalogKeyOfBlob(blob.blobName);

    const previous = await this.#storedRecord(dataset, id, blob.blobName);
    if (previous && previous.record.contentSha256 === contentSha256) {
      // Seen before (a retry, a replayed trigger): finish a quarantine move that a crash may have cut short.
      if (previous.record.status === 'rejected') await this.#moveToQuarantine(blob, previous.record);
      return outcome(id, previous.record, true);
    }

    let image: (Pick<ValidImage, 'format' | 'width' | 'height'> & { dhash: string }) | undefined;
    let rejection: ImageRejectedError | undefined;
    if ('problem' in parsed) {
      rejection = new ImageRejectedError('invalid-name', parsed.problem);
    } else if (!blob.content) {
      rejection = fileTooLarge(blob.sizeBytes, this.#ingest);
    } else {
      // Bytes an accepted image already has are an exact duplicate: its record says all a decode would, so a copy
      // of a huge image costs no decode at all (the commit still checks the claim).
      image = await this.#sameBytesAs(dataset, id, contentSha256);
      if (!image) {
        try {
          const valid = await validateImage(blob.content, this.#ingest, this.#pixelBudget);
          image = {
            format: valid.format,
            width: valid.width,
            height: valid.height,
            dhash: dhashFromPixels(valid.pixels),
          };
        } catch (error) {
          if (!(error instanceof ImageRejectedError)) throw error;
          rejection = error;
        }
      }
    }

    const base: ImageRecord = {
      dataset,
      label: 'path' in parsed ? parsed.path.label : '',
      name: 'path' in parsed ? parsed.path.name : blob.blobName,
      container: INCOMING_CONTAINER,
      blobName: blob.blobName,
      status: 'rejected',
      contentSha256,
      sizeBytes: blob.sizeBytes,
      source: blob.metadata?.['source'] ?? 'upload',
      provenance: blob.metadata ?? {},
      ingestedAt: new Date().toISOString(),
      sequence: 0,
    };
    if (image)
      Object.assign(base, { dhash: image.dhash, format: image.format, width: image.width, height: image.height });

    // Validation and hashing above run in parallel; deciding and committing run one at a time per dataset.
    const record = await this.#commits.run(dataset, () => this.#decideAndCommit(base, rejection, previous));
    if (record.status === 'rejected') {
      this.#logger.warn(`ingest: rejected ${blob.blobName}: ${record.reason ?? ''}`);
      await this.#moveToQuarantine(blob, record);
    } else {
      this.#logger.info(`ingest: ${blob.blobName} ${record.status}${record.split ? ` (${record.split})` : ''}`);
    }
    return outcome(id, record, false);
  }

  /**
   * The blob's record as stored: at its id, or (a blob with an invalid name catalogued before its key changed) at its
   * legacy key, when the row there is this blob's own, with that key to move it from.
   */
  async #storedRecord(
    dataset: string,
    id: string,
    blobName: string,
  ): Promise<{ record: ImageRecord; etag: string; imageId?: string } | undefined> {
    const current = await this.#catalog.getImage(dataset, id);
    if (current || !isInvalidNameImageId(id)) return current;
    const legacyId = legacyImageIdForBlob(blobName);
    const legacy = await this.#catalog.getImage(dataset, legacyId);
    return legacy && legacy.record.blobName === blobName ? { ...legacy, imageId: legacyId } : undefined;
  }

  /** What the accepted image with these bytes recorded, when another one of the dataset has them. */
  async #sameBytesAs(
    dataset: string,
    id: string,
    contentSha256: string,
  ): Promise<{ format: string; width: number; height: number; dhash: string } | undefined> {
    const claimedBy = (await this.#states.get(dataset)).imageWithHash(contentSha256);
    if (!claimedBy || claimedBy === id) return undefined;
    const original = (await this.#catalog.getImage(dataset, claimedBy))?.record;
    if (
      !original ||
      original.contentSha256 !== contentSha256 ||
      !original.dhash ||
      !original.format ||
      !original.width ||
      !original.height
    )
      return undefined;
    return { format: original.format, width: original.width, height: original.height, dhash: original.dhash };
  }

  async #decideAndCommit(
    base: ImageRecord,
    rejection: ImageRejectedError | undefined,
    previous: { record: ImageRecord; etag: string; imageId?: string } | undefined,
  ): Promise<ImageRecord> {
    const state = await this.#states.get(base.dataset);
    let replaces = previous;
    for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
      const record: ImageRecord = { ...base, sequence: state.stats.sequence + 1 };
      if (rejection) {
        Object.assign(record, {
          status: 'rejected',
          reasonCode: rejection.code,
          reason: rejection.message,
          container: QUARANTINE_CONTAINER,
        });
      } else {
        this.#classify(record, state);
      }
      const nextStats = applyToStats(state.stats, record, replaces?.record);
      try {
        const etag = await this.#catalog.commit({
          record,
          ...(replaces ? { replaces } : {}),
          claimHash: record.status === 'accepted',
          stats: nextStats,
        });
        this.#states.committed(state, { id: imageIdOfRecord(record), ...record }, { ...nextStats, etag });
        return record;
      } catch (error) {
        if (!(error instanceof CatalogConflictError)) throw error;
        // Another process committed to this dataset first (maybe this very blob): catch up and decide again.
        await this.#states.refresh(state);
        const current = await this.#storedRecord(base.dataset, imageIdOfRecord(base), base.blobName);
        if (current && current.record.contentSha256 === base.contentSha256) return current.record;
        replaces = current;
      }
    }
    throw new Error(`ingest of ${base.blobName}: gave up after ${MAX_COMMIT_ATTEMPTS} conflicting commits`);
  }

  /** Sets status, split and relations of a valid image against what the dataset holds. */
  #classify(record: ImageRecord, state: DatasetState): void {
    const self = imageIdOfRecord(record);
    const claimedBy = state.imageWithHash(record.contentSha256);
    if (claimedBy && claimedBy !== self) {
      Object.assign(record, {
        status: 'duplicate',
        relatedTo: claimedBy,
        distanceBits: 0,
        reasonCode: 'exact-duplicate',
        reason: `same bytes as ${describeImageId(record.dataset, claimedBy)}`,
      });
      return;
    }
    // One lookup at the looser grouping radius answers both questions: the nearest other image that is
    // close relative to what the hashes hold decides (plain-background photos have nearly empty hashes).
    const dhash = record.dhash!;
    const nearest = state.index
      .search(dhash, this.#dedup.splitGroupMaxBits, { limit: NEIGHBOUR_CANDIDATES })
      .find(
        (match) =>
          match.id !== self &&
          relativeDistance(match.distance, dhash, match.value.dhash) <= this.#dedup.maxRelativeDistance,
      );
    if (nearest && nearest.distance <= this.#dedup.nearDuplicateMaxBits) {
      Object.assign(record, {
        status: 'nearDuplicate',
        relatedTo: nearest.id,
        distanceBits: nearest.distance,
        reasonCode: 'near-duplicate',
        reason: `${nearest.distance} of 256 dHash bits from ${describeImageId(record.dataset, nearest.id)} (threshold ${this.#dedup.nearDuplicateMaxBits})`,
      });
      return;
    }
    const neighbour = nearest;
    const counts = labelsOf(record.label).map((label) => state.stats.labels[label] ?? { train: 0, test: 0 });
    const decision = chooseSplit(counts, this.#dedup.testFraction, neighbour?.value.split);
    Object.assign(record, { status: 'accepted', split: decision.split, splitRule: decision.rule });
    if (neighbour && decision.rule === 'group') {
      Object.assign(record, { relatedTo: neighbour.id, distanceBits: neighbour.distance });
    }
  }

  async #moveToQuarantine(blob: IngestInput, record: ImageRecord): Promise<void> {
    const target = this.#quarantine.getBlockBlobClient(blob.blobName);
    const metadata = {
      ...blob.metadata,
      rejection_code: record.reasonCode ?? 'unknown',
      rejection_reason: asciiHeaderValue(record.reason ?? ''),
      original_container: INCOMING_CONTAINER,
    };
    if (blob.content) {
      await target.uploadData(blob.content, { metadata });
    } else {
      // Too large to hold: the storage service copies it (same account), this process never reads it.
      const source = this.#incoming.getBlobClient(blob.blobName);
      const copy = await target.beginCopyFromURL(source.url, {
        metadata,
        ...(blob.etag ? { sourceConditions: { ifMatch: blob.etag } } : {}),
      });
      await copy.pollUntilDone();
    }
    try {
      await this.#incoming.deleteBlob(blob.blobName, blob.etag ? { conditions: { ifMatch: blob.etag } } : {});
    } catch (error) {
      // Already moved (404), or replaced by a newer upload that will be ingested on its own (412).
      if (!isStatus(error, 404) && !isStatus(error, 412)) throw error;
    }
  }
}

/**
 * Where a blob's record lives: its dataset's partition and its image id. A bad name in a valid dataset counts in that
 * dataset's summary; only a path with no valid dataset goes to INVALID_DATASET_PARTITION. Distinct blob names get
 * distinct keys (see imageIdFor).
 */
export function catalogKeyOfBlob(blobName: string): { dataset: string; id: string } {
  const parsed = parseImagePath(blobName);
  if ('path' in parsed) return { dataset: parsed.path.dataset, id: imageIdFor(parsed.path.label, parsed.path.name) };
  const first = blobName.split('/')[0]!;
  return {
    dataset: checkDatasetName(first) === undefined ? first : INVALID_DATASET_PARTITION,
    id: imageIdForBlob(blobName),
  };
}

/** The SHA-256 of a blob's bytes, read as a stream (memory stays at one chunk, whatever the blob's size). */
async function streamedSha256(blob: BlobClient, etag: string | undefined): Promise<string> {
  const download = await blob.download(0, undefined, etag ? { conditions: { ifMatch: etag } } : {});
  const hash = createHash('sha256');
  for await (const chunk of download.readableStreamBody!) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A blob's bytes, read as a stream up to `maxBytes`; undefined when there are more. */
async function readCapped(blob: BlobClient, etag: string | undefined, maxBytes: number): Promise<Buffer | undefined> {
  const download = await blob.download(0, undefined, etag ? { conditions: { ifMatch: etag } } : {});
  const stream = download.readableStreamBody!;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function applyToStats(stats: DatasetStats, record: ImageRecord, replaced?: ImageRecord): DatasetStats {
  const next: DatasetStats = {
    ...stats,
    images: { ...stats.images },
    labels: Object.fromEntries(Object.entries(stats.labels).map(([label, counts]) => [label, { ...counts }])),
    sequence: record.sequence,
  };
  // A multi-label image counts once for each of its labels.
  if (replaced) {
    next.images[replaced.status] -= 1;
    // An excluded image had already left the per-label counts.
    if (replaced.status === 'accepted' && replaced.split && !replaced.excluded) {
      for (const label of labelsOf(replaced.label)) {
        const counts = next.labels[label];
        if (counts) counts[replaced.split] -= 1;
      }
    }
  }
  next.images[record.status] += 1;
  if (record.status === 'accepted' && record.split) {
    for (const label of labelsOf(record.label)) (next.labels[label] ??= { train: 0, test: 0 })[record.split] += 1;
  }
  return next;
}

function outcome(id: string, record: ImageRecord, alreadyIngested: boolean): IngestOutcome {
  return {
    id,
    dataset: record.dataset,
    status: record.status,
    alreadyIngested,
    ...(record.split ? { split: record.split } : {}),
    ...(record.reason ? { reason: record.reason } : {}),
  };
}

// Blob metadata travels in HTTP headers: printable ASCII only.
function asciiHeaderValue(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
}
