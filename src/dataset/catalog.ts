// The image catalog in Azure Table storage: one partition per dataset holding its images, the claims on
// their content hashes, a statistics row, and a row per review edit (relabel, exclusion, undo). Keeping them in
// one partition lets one transaction record an image, claim its hash and update the counts, all or nothing; the
// statistics row's ETag serialises concurrent ingests and edits of a dataset (optimistic concurrency).
import { createHash } from 'node:crypto';

import { odata, TableClient, type TableEntityResult, TableTransaction } from '@azure/data-tables';

import { AppError, InvalidArgumentError, NotFoundError, ProgrammingError } from '../errors';
import { ensureTable, isStatus } from '../storage/tables';
import { parseImagePath } from './names';
import type { LabelCounts, Split } from './split';

/** Partition for blobs whose path names no valid dataset: they are still recorded. */
export const INVALID_DATASET_PARTITION = '~invalid';
/** Partition listing the datasets (one row each), so that listing them reads one partition, not the table. */
const DATASETS_PARTITION = '~datasets';

const STATS_ROW = 'stats';
const IMAGE_ROW_PREFIX = 'img:';
const HASH_ROW_PREFIX = 'sha256:';
const INVALID_NAME_ROW_PREFIX = 'img::';
const MAX_ENCODED_KEY_LENGTH = 900;
/** The longest id imageIdFor and imageIdForBlob make: a prefix and MAX_ENCODED_KEY_LENGTH characters. */
const MAX_IMAGE_ID_LENGTH = INVALID_NAME_ROW_PREFIX.length + MAX_ENCODED_KEY_LENGTH;

export type ImageStatus = 'accepted' | 'duplicate' | 'nearDuplicate' | 'rejected';
export const IMAGE_STATUSES: readonly ImageStatus[] = ['accepted', 'duplicate', 'nearDuplicate', 'rejected'];

export interface ImageRecord {
  dataset: string;
  label: string;
  name: string;
  /** Container and blob name where the file lives now (quarantine for rejected files). */
  container: string;
  blobName: string;
  status: ImageStatus;
  split?: Split;
  /** How the split was chosen: 'quota' or 'group' (joined a near-identical image's side). */
  splitRule?: 'quota' | 'group';
  reasonCode?: string;
  reason?: string;
  /** Catalog id of the image this one duplicates or was grouped with. */
  relatedTo?: string;
  /** Hamming distance in bits to `relatedTo`. */
  distanceBits?: number;
  contentSha256: string;
  dhash?: string;
  format?: string;
  width?: number;
  height?: number;
  sizeBytes: number;
  source: string;
  /** Blob metadata as uploaded (search provenance and the like), JSON. */
  provenance: Record<string, string>;
  ingestedAt: string;
  /** Position in the dataset's change sequence; lets each process catch up with the others' ingests. */
  sequence: number;
  /** Left out of training and evaluation by a review edit (it stays accepted, so duplicates of it still are). */
  excluded?: boolean;
  /** The label folder it was uploaded under, once a review edit relabelled it: its id stays derived from this one. */
  uploadedLabel?: string;
}

export interface DatasetStats {
  dataset: string;
  images: Record<ImageStatus, number>;
  labels: Record<string, LabelCounts>;
  sequence: number;
  etag?: string;
}

interface ImageEntity {
  partitionKey: string;
  rowKey: string;
  kind: 'image';
  label: string;
  name: string;
  container: string;
  blobName: string;
  /** name and blobName are written with escapeSeparators (they held U+2028 or U+2029). */
  namesEscaped?: boolean;
  status: ImageStatus;
  split?: string;
  splitRule?: string;
  reasonCode?: string;
  reason?: string;
  relatedTo?: string;
  distanceBits?: number;
  contentSha256: string;
  dhash?: string;
  format?: string;
  width?: number;
  height?: number;
  sizeBytes: number;
  source: string;
  provenance: string;
  ingestedAt: string;
  sequence: number;
  excluded?: boolean;
  uploadedLabel?: string;
}

interface StatsEntity {
  partitionKey: string;
  rowKey: string;
  kind: 'stats';
  accepted: number;
  duplicate: number;
  nearDuplicate: number;
  rejected: number;
  labels: string;
  sequence: number;
}

/** What one review edit changed: each field from what to what. */
export interface ImageEdits {
  label?: { from: string; to: string };
  excluded?: { from: boolean; to: boolean };
}

/** One recorded review edit of a dataset (who-less: when, which image, from what to what). */
export interface CatalogChange {
  /** The dataset's sequence number the edit committed at: unique in the dataset, increasing. */
  id: number;
  at: string;
  imageId: string;
  edits: ImageEdits;
  /** The change this one undid. */
  undoes?: number;
  /** Set once an undo reverted this change. */
  undone?: boolean;
}

/** One review edit as one transaction: the image row, the statistics, the change row (and the change it undoes). */
export interface ImageEditCommit {
  dataset: string;
  imageId: string;
  /** The image row's ETag as read: another edit or ingest of it in between makes this one retry. */
  imageEtag: string;
  image: { label: string; excluded: boolean; uploadedLabel?: string };
  /** Stats as read (with ETag) and as they must become; their sequence is the change's id. */
  stats: DatasetStats;
  change: CatalogChange;
  /** The change this one undoes, with its row's ETag: marked undone in the same transaction. */
  undoes?: { change: CatalogChange; etag: string };
}

interface ChangeEntity {
  partitionKey: string;
  rowKey: string;
  kind: 'change';
  changeId: number;
  at: string;
  imageId: string;
  edits: string;
  undoes?: number;
  undone?: boolean;
}

const CHANGE_ROW_PREFIX = 'change:';
/** Change rows sort newest first: the key holds this minus the id, zero-padded. */
const CHANGE_ID_CEILING = 999_999_999_999;

function changeRowKey(id: number): string {
  return CHANGE_ROW_PREFIX + String(CHANGE_ID_CEILING - id).padStart(12, '0');
}

function toChangeEntity(dataset: string, change: CatalogChange): ChangeEntity {
  return {
    partitionKey: dataset,
    rowKey: changeRowKey(change.id),
    kind: 'change',
    changeId: change.id,
    at: change.at,
    imageId: change.imageId,
    edits: JSON.stringify(change.edits),
    ...(change.undoes !== undefined ? { undoes: change.undoes } : {}),
    ...(change.undone ? { undone: true } : {}),
  };
}

function fromChangeEntity(entity: ChangeEntity): CatalogChange {
  return {
    id: entity.changeId,
    at: entity.at,
    imageId: entity.imageId,
    edits: JSON.parse(entity.edits) as ImageEdits,
    ...(typeof entity.undoes === 'number' ? { undoes: entity.undoes } : {}),
    ...(entity.undone === true ? { undone: true } : {}),
  };
}

interface HashClaimEntity {
  partitionKey: string;
  rowKey: string;
  kind: 'hash';
  imageId: string;
}

// Image row keys. One injective encoding for every blob name, valid or not:
// - an image with a valid name: `img:` + encodeURIComponent(`{label}/{file}`), unique in its dataset's partition
//   (imageIdFor);
// - any other blob: `img::` + encodeURIComponent(blobName) (imageIdForBlob). encodeURIComponent writes every `:` as
//   `%3A`, so no id of the first kind starts with `img::`, and the two can never meet (`D/x.png`, an invalid name in
//   dataset D, and `D/D/x.png`, a valid one, once shared `img:D%2Fx.png`). Rows written under that older key for
//   invalid names are still read (legacyImageIdForBlob) and moved to the new key when their blob is ingested again.
// Keys over the table's limits are hashed (a preimage, not a collision, would be needed to meet another).

/** The catalog id of an image with a valid name: its row key, derived from label and file name. */
export function imageIdFor(label: string, name: string): string {
  return IMAGE_ROW_PREFIX + boundedKey(encodeURIComponent(`${label}/${name}`));
}

/**
 * The row key of an image record: a blob with a valid name is known by label and file; any other (a bad name in a
 * valid dataset, or no dataset at all) by its whole blob name.
 */
export function imageIdOfRecord(record: Pick<ImageRecord, 'blobName' | 'label' | 'name' | 'uploadedLabel'>): string {
  return 'path' in parseImagePath(record.blobName)
    ? imageIdFor(record.uploadedLabel ?? record.label, record.name)
    : imageIdForBlob(record.blobName);
}

/** The id of a blob whose path could not be parsed (it is keyed by its whole name). */
export function imageIdForBlob(blobName: string): string {
  return INVALID_NAME_ROW_PREFIX + boundedKey(encodeURIComponent(blobName));
}

/** Whether an id is one imageIdForBlob makes (a blob with an invalid name). */
export function isInvalidNameImageId(id: string): boolean {
  return id.startsWith(INVALID_NAME_ROW_PREFIX);
}

/** Where rows of blobs with invalid names were keyed before INVALID_NAME_ROW_PREFIX (compatible reads only). */
export function legacyImageIdForBlob(blobName: string): string {
  return IMAGE_ROW_PREFIX + boundedKey(encodeURIComponent(blobName));
}

function boundedKey(encoded: string): string {
  return encoded.length <= MAX_ENCODED_KEY_LENGTH ? encoded : `sha256-${sha256Hex(encoded)}`;
}

/** The blob path an image id stands for, for messages (`{dataset}/{label}/{file}`, or the whole blob name). */
export function describeImageId(dataset: string, id: string): string {
  const invalid = isInvalidNameImageId(id);
  const encoded = id.slice(invalid ? INVALID_NAME_ROW_PREFIX.length : IMAGE_ROW_PREFIX.length);
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    decoded = encoded;
  }
  return invalid ? decoded : `${dataset}/${decoded}`;
}

/**
 * Checks an image id from a request before any storage call: a malformed one (not a possible row key) is a 400, an
 * id of a row that is not an image (the statistics, a hash claim, a change) a 404.
 */
export function assertImageId(id: string): string {
  if (id.length === 0 || id.length > MAX_IMAGE_ID_LENGTH) {
    throw new InvalidArgumentError(`an image id has 1 to ${MAX_IMAGE_ID_LENGTH} characters, got ${id.length}`);
  }
  // The table service refuses these in keys; a `/` is also what an id that was not URL-encoded in the path becomes.
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  const forbidden = /[/\\#?\u0000-\u001f\u007f-\u009f]/.exec(id);
  if (forbidden) {
    throw new InvalidArgumentError(
      `image id ${quoted(id)} holds ${JSON.stringify(forbidden[0])}, which no image id has: ids are ` +
        'used as the listing gives them, URL-encoded in the path (encodeURIComponent)',
    );
  }
  if (!id.startsWith(IMAGE_ROW_PREFIX)) {
    throw new NotFoundError(`${quoted(id)} is not an image id (image ids start with ${IMAGE_ROW_PREFIX})`);
  }
  return id;
}

/** A request's text in a message: quoted, escaped and bounded. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

export function emptyStats(dataset: string): DatasetStats {
  return { dataset, images: { accepted: 0, duplicate: 0, nearDuplicate: 0, rejected: 0 }, labels: {}, sequence: 0 };
}

/** What one ingest writes, as one transaction. */
export interface CatalogCommit {
  record: ImageRecord;
  /**
   * The record this one replaces (a blob overwritten with new content), with its ETag, and the row it is stored at
   * when that is not this record's (a row under a legacy key, moved in the same transaction).
   */
  replaces?: { record: ImageRecord; etag: string; imageId?: string };
  /** Claim the content hash for this image (accepted images only). */
  claimHash: boolean;
  /** Stats as read (with ETag) and as they must become. */
  stats: DatasetStats;
}

/** What the in-memory dataset state needs of an image row. */
export interface IndexEntry {
  id: string;
  status: ImageStatus;
  label: string;
  contentSha256: string;
  sequence: number;
  dhash?: string;
  split?: Split;
}

export class CatalogConflictError extends AppError {
  override name = 'CatalogConflictError';
  readonly kind = 'conflict';
}

export class Catalog {
  constructor(private readonly table: TableClient) {}

  ensureTable(): Promise<void> {
    return ensureTable(this.table);
  }

  async getImage(dataset: string, imageId: string): Promise<{ record: ImageRecord; etag: string } | undefined> {
    try {
      const entity = await this.table.getEntity<ImageEntity>(dataset, imageId);
      return { record: fromImageEntity(entity), etag: entity.etag };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async getStats(dataset: string): Promise<DatasetStats | undefined> {
    try {
      const entity = await this.table.getEntity<StatsEntity>(dataset, STATS_ROW);
      return {
        dataset,
        images: {
          accepted: entity.accepted,
          duplicate: entity.duplicate,
          nearDuplicate: entity.nearDuplicate,
          rejected: entity.rejected,
        },
        labels: JSON.parse(entity.labels) as Record<string, LabelCounts>,
        sequence: entity.sequence,
        etag: entity.etag,
      };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Datasets that have images, in name order. */
  async listDatasets(): Promise<string[]> {
    const names: string[] = [];
    const rows = this.table.listEntities<{ rowKey: string }>({
      queryOptions: { filter: odata`PartitionKey eq ${DATASETS_PARTITION}`, select: ['RowKey'] },
    });
    for await (const row of rows) names.push(row.rowKey);
    return names.sort();
  }

  /**
   * Writes the record, the hash claim and the new statistics in one transaction and returns the statistics
   * row's new ETag. Throws CatalogConflictError when another ingest of the dataset committed first (the
   * caller re-reads and retries).
   */
  async commit(commit: CatalogCommit): Promise<string> {
    const { record, replaces, stats } = commit;
    if (!stats.etag && record.dataset !== INVALID_DATASET_PARTITION) {
      // A dataset's first image: list the dataset (idempotent; a listed dataset whose first commit then
      // fails shows as a dataset with no images yet).
      await this.table.upsertEntity({ partitionKey: DATASETS_PARTITION, rowKey: record.dataset }, 'Replace');
    }
    const transaction = new TableTransaction();
    const entity = toImageEntity(record);
    if (replaces && replaces.imageId !== undefined && replaces.imageId !== entity.rowKey) {
      // A transaction's delete takes no ETag; the statistics row's ETag, in the same transaction, serialises it.
      transaction.deleteEntity(record.dataset, replaces.imageId);
      transaction.createEntity(entity);
    } else if (replaces) {
      transaction.updateEntity(entity, 'Replace', { etag: replaces.etag });
      if (replaces.record.status === 'accepted') {
        transaction.deleteEntity(record.dataset, HASH_ROW_PREFIX + replaces.record.contentSha256);
      }
    } else {
      transaction.createEntity(entity);
    }
    if (commit.claimHash) {
      const claim: HashClaimEntity = {
        partitionKey: record.dataset,
        rowKey: HASH_ROW_PREFIX + record.contentSha256,
        kind: 'hash',
        imageId: imageIdFor(record.label, record.name),
      };
      transaction.createEntity(claim);
    }
    const statsEntity = toStatsEntity(stats);
    if (stats.etag) {
      transaction.updateEntity(statsEntity, 'Replace', { etag: stats.etag });
    } else {
      transaction.createEntity(statsEntity);
    }
    try {
      const response = await this.table.submitTransaction(transaction.actions);
      // Sub-responses come in the order of the actions; the statistics row is the last.
      const statsEtag = response.subResponses[transaction.actions.length - 1]?.etag;
      if (!statsEtag) throw new Error('the table service returned no ETag for the statistics row');
      return statsEtag;
    } catch (error) {
      // 409: a row already exists (hash claimed, stats created); 412: the stats row changed under us.
      if (isStatus(error, 409) || isStatus(error, 412)) {
        throw new CatalogConflictError(`another ingest of dataset "${record.dataset}" committed first`);
      }
      throw error;
    }
  }

  /**
   * Writes a review edit: the image row's label and exclusion, the new statistics and the change row (marking the
   * change it undoes, if any) in one transaction. Throws CatalogConflictError when the image, the statistics or the
   * undone change moved since they were read (the caller re-reads and retries).
   */
  async commitImageEdit(commit: ImageEditCommit): Promise<void> {
    const { dataset, stats } = commit;
    const transaction = new TableTransaction();
    transaction.updateEntity(
      {
        partitionKey: dataset,
        rowKey: commit.imageId,
        label: commit.image.label,
        excluded: commit.image.excluded,
        sequence: stats.sequence,
        ...(commit.image.uploadedLabel !== undefined ? { uploadedLabel: commit.image.uploadedLabel } : {}),
      },
      'Merge',
      { etag: commit.imageEtag },
    );
    transaction.updateEntity(toStatsEntity(stats), 'Replace', { etag: stats.etag! });
    transaction.createEntity(toChangeEntity(dataset, commit.change));
    if (commit.undoes) {
      transaction.updateEntity(toChangeEntity(dataset, { ...commit.undoes.change, undone: true }), 'Replace', {
        etag: commit.undoes.etag,
      });
    }
    try {
      await this.table.submitTransaction(transaction.actions);
    } catch (error) {
      if (isStatus(error, 409) || isStatus(error, 412)) {
        throw new CatalogConflictError(`another change to dataset "${dataset}" committed first`);
      }
      throw error;
    }
  }

  /** The dataset's recorded review edits, newest first, with their rows' ETags. */
  async listChanges(
    dataset: string,
    options: { limit?: number } = {},
  ): Promise<{ change: CatalogChange; etag: string }[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: { change: CatalogChange; etag: string }[] = [];
    const rows = this.table.listEntities<ChangeEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${dataset} and kind eq 'change'` },
    });
    for await (const row of rows) {
      out.push({ change: fromChangeEntity(row), etag: row.etag });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Accepted images for building a dataset's in-memory state; with `afterSequence`, every image changed since. */
  async *listIndexEntries(dataset: string, afterSequence = 0): AsyncIterable<IndexEntry> {
    const filter =
      afterSequence > 0
        ? odata`PartitionKey eq ${dataset} and kind eq 'image' and sequence gt ${afterSequence}`
        : odata`PartitionKey eq ${dataset} and kind eq 'image' and status eq 'accepted'`;
    const rows = this.table.listEntities<ImageEntity>({
      queryOptions: { filter, select: ['RowKey', 'status', 'dhash', 'split', 'label', 'sequence', 'contentSha256'] },
    });
    for await (const row of rows) {
      yield {
        id: row.rowKey,
        status: row.status,
        label: row.label,
        contentSha256: row.contentSha256,
        sequence: row.sequence,
        ...(row.dhash ? { dhash: row.dhash } : {}),
        ...(row.split ? { split: row.split as Split } : {}),
      };
    }
  }

  /** One page of a dataset's images, optionally filtered by status and label. */
  /** Every image record of a dataset, all pages read (for whole-dataset work: suspects, waiting for ingest). */
  async listAllImages(dataset: string): Promise<(ImageRecord & { id: string })[]> {
    const records: (ImageRecord & { id: string })[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.listImages(dataset, {
        pageSize: 1000,
        ...(continuationToken ? { continuationToken } : {}),
      });
      records.push(...page.images);
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return records;
  }

  async listImages(
    dataset: string,
    options: { status?: ImageStatus; label?: string; pageSize?: number; continuationToken?: string } = {},
  ): Promise<{ images: (ImageRecord & { id: string })[]; continuationToken?: string }> {
    // A request's status is checked where it is read (queries.ts): an unknown one here comes from code.
    if (options.status && !IMAGE_STATUSES.includes(options.status)) {
      throw new ProgrammingError(`status "${options.status}" is not one of ${IMAGE_STATUSES.join(', ')}`);
    }
    if (options.continuationToken !== undefined) checkContinuationToken(options.continuationToken);
    let filter = odata`PartitionKey eq ${dataset} and kind eq 'image'`;
    if (options.status) filter += ` and ${odata`status eq ${options.status}`}`;
    if (options.label !== undefined) filter += ` and ${odata`label eq ${options.label}`}`;
    const pages = this.table.listEntities<ImageEntity>({ queryOptions: { filter } }).byPage({
      maxPageSize: options.pageSize ?? 100,
      ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}),
    });
    const page = await pages.next();
    if (page.done) return { images: [] };
    const images = page.value.map((entity) => ({ id: entity.rowKey, ...fromImageEntity(entity) }));
    const token = page.value.continuationToken;
    return token ? { images, continuationToken: token } : { images };
  }

  async requireStats(dataset: string): Promise<DatasetStats> {
    const stats = await this.getStats(dataset);
    if (!stats) throw new NotFoundError(`dataset "${dataset}" has no images yet`);
    return stats;
  }
}

function toImageEntity(record: ImageRecord): ImageEntity {
  const { dataset, provenance, ...rest } = record;
  const entity: ImageEntity = {
    partitionKey: dataset,
    rowKey: imageIdOfRecord(record),
    kind: 'image',
    ...rest,
    // Only rejected names can hold these (valid ones may not): Azurite fails a whole transaction on them, so they
    // are stored escaped, reversibly, and marked.
    ...(hasSeparators(record.name) || hasSeparators(record.blobName)
      ? { name: escapeSeparators(record.name), blobName: escapeSeparators(record.blobName), namesEscaped: true }
      : {}),
    provenance: JSON.stringify(provenance),
  };
  // Tables reject undefined properties: leave them out.
  return Object.fromEntries(
    Object.entries(entity).filter(([, value]) => value !== undefined),
  ) as unknown as ImageEntity;
}

function hasSeparators(value: string): boolean {
  return /[\u2028\u2029]/.test(value);
}

/** U+2028 and U+2029 as the escapes \u2028 and \u2029, and \ as \\, so that unescapeSeparators gives the text back. */
function escapeSeparators(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function unescapeSeparators(value: string): string {
  return value.replace(/\\(\\|u2028|u2029)/g, (_, escape: string) =>
    escape === '\\' ? '\\' : escape === 'u2028' ? '\u2028' : '\u2029',
  );
}

/**
 * The names of a row as stored. Rows written before namesEscaped held the escapes without a way back; for a blob
 * with an invalid name the id has it exactly (imageIdForBlob), unless it was long enough to be hashed.
 */
function storedNames(entity: TableEntityResult<ImageEntity>): { name: string; blobName: string } {
  if (entity.namesEscaped)
    return { name: unescapeSeparators(entity.name), blobName: unescapeSeparators(entity.blobName) };
  if (
    isInvalidNameImageId(entity.rowKey) &&
    /\\u202[89]/.test(entity.blobName) &&
    !entity.rowKey.startsWith(`${INVALID_NAME_ROW_PREFIX}sha256-`)
  ) {
    const blobName = describeImageId(entity.partitionKey, entity.rowKey);
    return { name: entity.name === entity.blobName ? blobName : entity.name, blobName };
  }
  return { name: entity.name, blobName: entity.blobName };
}

function fromImageEntity(entity: TableEntityResult<ImageEntity>): ImageRecord {
  const record: ImageRecord = {
    dataset: entity.partitionKey,
    label: entity.label,
    ...storedNames(entity),
    container: entity.container,
    status: entity.status,
    contentSha256: entity.contentSha256,
    sizeBytes: entity.sizeBytes,
    source: entity.source,
    provenance: JSON.parse(entity.provenance) as Record<string, string>,
    ingestedAt: entity.ingestedAt,
    sequence: entity.sequence,
  };
  const optional = [
    'split',
    'splitRule',
    'reasonCode',
    'reason',
    'relatedTo',
    'distanceBits',
    'dhash',
    'format',
    'width',
    'height',
    'excluded',
    'uploadedLabel',
  ] as const;
  for (const key of optional) {
    if (entity[key] !== undefined && entity[key] !== null) Object.assign(record, { [key]: entity[key] });
  }
  return record;
}

function toStatsEntity(stats: DatasetStats): StatsEntity {
  return {
    partitionKey: stats.dataset,
    rowKey: STATS_ROW,
    kind: 'stats',
    ...stats.images,
    labels: JSON.stringify(stats.labels),
    sequence: stats.sequence,
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * A table continuation token is base64 of JSON naming the next partition and row keys; anything else is a caller's
 * mistake (a 400), not a failure of the storage call it would otherwise become.
 */
function checkContinuationToken(token: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const keys = parsed as { nextPartitionKey?: unknown; nextRowKey?: unknown } | undefined;
  if (
    typeof keys !== 'object' ||
    keys === null ||
    typeof keys.nextPartitionKey !== 'string' ||
    (keys.nextRowKey !== undefined && typeof keys.nextRowKey !== 'string')
  ) {
    throw new InvalidArgumentError(
      'continuationToken is not one this API gave out; pass the continuationToken of the previous page as it is',
    );
  }
}
