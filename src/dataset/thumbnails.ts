// Thumbnails of a dataset's images (GET .../images/{id}/thumbnail?size=): the catalog says where the file lives,
// ingest's header checks and the process's pixel budget bound the decode as for ingest and classify, and rendered
// JPEGs are kept in memory up to a bound (least recently used go first). The ETag derives from the content hash
// and the size, so a caller's copy is known current without decoding anything.
import type { BlobServiceClient } from '@azure/storage-blob';

import type { IngestSettings } from '../config';
import { invalidArgument, NotFoundError } from '../errors';
import { renderThumbnail } from '../image/thumbnail';
import { INCOMING_CONTAINER, QUARANTINE_CONTAINER } from '../storage/names';
import { isStatus } from '../storage/tables';
import type { PixelBudget } from '../util/pixelBudget';
import type { Catalog } from './catalog';
import { checkImageHeader, undecodable } from './validate';

export const THUMBNAIL_SIZE = { min: 16, max: 512, default: 128 } as const;
/** Rendered thumbnails kept at most, in bytes (a 128 px JPEG is about 5 KB). */
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

/** The `size` query parameter: a whole number of pixels in THUMBNAIL_SIZE's range; absent, the default. */
export function parseThumbnailSize(text: string | null): number {
  if (text === null || text === '') return THUMBNAIL_SIZE.default;
  const size = Number(text);
  if (!/^\d+$/.test(text) || size < THUMBNAIL_SIZE.min || size > THUMBNAIL_SIZE.max)
    throw invalidArgument('size', `a whole number of pixels from ${THUMBNAIL_SIZE.min} to ${THUMBNAIL_SIZE.max}`, text);
  return size;
}

export interface Thumbnail {
  etag: string;
  /** Undefined when the caller's ETag matched: nothing was rendered. */
  jpeg?: Buffer;
}

export interface ThumbnailsOptions {
  catalog: Catalog;
  blobs: BlobServiceClient;
  ingest: IngestSettings;
  pixelBudget: PixelBudget;
  cacheBytes?: number;
}

export class Thumbnails {
  readonly #cache = new Map<string, Buffer>();
  #cachedBytes = 0;
  readonly #cacheBytes: number;

  constructor(private readonly options: ThumbnailsOptions) {
    this.#cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
  }

  /** The image's thumbnail at `size` (checked by parseThumbnailSize), or only its ETag when `ifNoneMatch` is it. */
  async get(dataset: string, imageId: string, size: number, ifNoneMatch?: string | null): Promise<Thumbnail> {
    await this.options.catalog.requireStats(dataset);
    const found = await this.options.catalog.getImage(dataset, imageId);
    if (!found) throw new NotFoundError(`dataset "${dataset}" has no image "${imageId}"`);
    const { record } = found;
    const etag = `"${record.contentSha256.slice(0, 32)}-${size}"`;
    if (ifNoneMatch === etag) return { etag };
    const key = `${record.contentSha256}/${size}`;
    const cached = this.#cache.get(key);
    if (cached) {
      // Most recently used last.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return { etag, jpeg: cached };
    }
    if (record.container !== INCOMING_CONTAINER && record.container !== QUARANTINE_CONTAINER)
      throw new NotFoundError(`image "${imageId}" has no file in ${INCOMING_CONTAINER} or ${QUARANTINE_CONTAINER}`);
    let content: Buffer;
    try {
      content = await this.options.blobs
        .getContainerClient(record.container)
        .getBlockBlobClient(record.blobName)
        .downloadToBuffer();
    } catch (error) {
      if (isStatus(error, 404)) throw new NotFoundError(`the file of image "${imageId}" is gone`);
      throw error;
    }
    // Ingest's limits before any decoding (size, format, pixels), then the shared budget for the decode itself.
    const header = await checkImageHeader(content, this.options.ingest);
    // A file whose header passes may still not decode (an RLE BMP, a truncated JPEG: files ingest rejected): that
    // is the file's problem, answered as ingest words it, not a server error.
    const jpeg = await this.options.pixelBudget.run(header.width * header.height, () =>
      renderThumbnail(content, { size }).catch((error: unknown) => {
        throw undecodable(header.format, error);
      }),
    );
    this.#remember(key, jpeg);
    return { etag, jpeg };
  }

  #remember(key: string, jpeg: Buffer): void {
    if (jpeg.length > this.#cacheBytes) return;
    this.#cache.set(key, jpeg);
    this.#cachedBytes += jpeg.length;
    for (const [oldest, value] of this.#cache) {
      if (this.#cachedBytes <= this.#cacheBytes) break;
      this.#cache.delete(oldest);
      this.#cachedBytes -= value.length;
    }
  }
}
