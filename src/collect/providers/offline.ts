// An image-search provider that needs no network: it reads the item and pattern out of the query and draws
// matching synthetic photos (see syntheticImages.ts). Results are deterministic for a (seed, query, index), and
// about one in `duplicateEvery` repeats an earlier result of the same query, byte for byte or lightly edited,
// so that deduplication downstream has real work to do.
import sharp from 'sharp';

import { mulberry32, seededRandom } from '../../util/seededRandom';
import { GARMENT_ITEMS, GARMENT_PATTERNS, renderGarmentImage } from '../syntheticImages';
import type {
  ImageResult,
  ImageSearchProvider,
  SearchProviderDefinition,
  SearchRequest,
  SearchResponse,
} from '../types';

export interface OfflineProviderOptions {
  /** Mixed into every image's seed: another seed gives another set of pictures. Default 0. */
  seed?: number;
  /** About one result in this many repeats an earlier one; 0 turns repeats off. Default 12. */
  duplicateEvery?: number;
}

export interface ParsedGarmentQuery {
  /** One of GARMENT_ITEMS, or 'garment' when the query names none. */
  item: string;
  /** One of GARMENT_PATTERNS, or 'plain' when the query names none. */
  pattern: string;
}

/** Words (and common variants) that name an item or a pattern. */
const ITEM_WORDS: Record<string, string> = {
  ...Object.fromEntries(GARMENT_ITEMS.map((item) => [item, item])),
  tshirt: 't-shirt',
  't shirt': 't-shirt',
  tee: 't-shirt',
  hoody: 'hoodie',
  jumper: 'sweater',
  waistcoat: 'vest',
};
const PATTERN_WORDS: Record<string, string> = {
  ...Object.fromEntries(GARMENT_PATTERNS.map((pattern) => [pattern, pattern])),
  stripe: 'striped',
  stripes: 'striped',
  stripy: 'striped',
  dot: 'dotted',
  dots: 'dotted',
  'polka dot': 'dotted',
  spotted: 'dotted',
  'leopard print': 'leopard',
};

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matchers for whole words (an optional plural "s"), longest word first so "t-shirt" wins over "shirt". */
function matchers(words: Record<string, string>): Array<[RegExp, string]> {
  return Object.keys(words)
    .sort((a, b) => b.length - a.length || a.localeCompare(b))
    .map((word) => [new RegExp(`(?<![a-z0-9])${escapeRegExp(word)}s?(?![a-z0-9])`), words[word]!]);
}
const ITEM_MATCHERS = matchers(ITEM_WORDS);
const PATTERN_MATCHERS = matchers(PATTERN_WORDS);

/** Finds the item and pattern a query names (case-insensitive); unknown parts fall back to a generic garment, plain. */
export function parseGarmentQuery(query: string): ParsedGarmentQuery {
  const text = query.toLowerCase();
  const find = (list: Array<[RegExp, string]>): string | undefined => list.find(([pattern]) => pattern.test(text))?.[1];
  return { item: find(ITEM_MATCHERS) ?? 'garment', pattern: find(PATTERN_MATCHERS) ?? 'plain' };
}

/** "Striped T-Shirt!" → "striped-t-shirt"; used in the fake content URLs. */
export function querySlug(query: string): string {
  const slug = query
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'query';
}

/** 32-bit FNV-1a over the UTF-8 bytes, then one mulberry32 step to spread the bits. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return mulberry32(h)();
}

/** Renders at most this many images at once (sharp works on the libuv thread pool). */
const CONCURRENCY = 4;

/** The registry's `offline`: generated pictures, no settings and no network. */
export const offlineProvider = {
  name: 'offline',
  create: () => new OfflineImageProvider(),
} as const satisfies SearchProviderDefinition;

export class OfflineImageProvider implements ImageSearchProvider {
  readonly name = 'offline';
  readonly #seed: number;
  readonly #duplicateEvery: number;

  constructor(options: OfflineProviderOptions = {}) {
    const seed = options.seed ?? 0;
    const duplicateEvery = options.duplicateEvery ?? 12;
    if (!Number.isFinite(seed)) throw new RangeError(`OfflineImageProvider: seed must be a finite number, got ${seed}`);
    if (!(duplicateEvery === 0 || duplicateEvery >= 1)) {
      throw new RangeError(
        `OfflineImageProvider: duplicateEvery must be 0 (no repeats) or at least 1, got ${duplicateEvery}`,
      );
    }
    this.#seed = seed;
    this.#duplicateEvery = duplicateEvery;
  }

  async search(request: SearchRequest): Promise<SearchResponse> {
    const { query, signal } = request;
    if (!Number.isFinite(request.count) || request.count < 0) {
      throw new RangeError(`OfflineImageProvider: count must be a non-negative number, got ${request.count}`);
    }
    const count = Math.floor(request.count);
    const { item, pattern } = parseGarmentQuery(query);
    const slug = querySlug(query);
    const seedFor = this.#seeder(query);
    const sources = this.repeatSources(query, count);
    const results: ImageResult[] = new Array<ImageResult>(count);
    const qualities = new Map<number, number>();
    const originals: number[] = [];
    const repeats: number[] = [];
    for (let index = 0; index < count; index++) (sources[index] === null ? originals : repeats).push(index);

    const minimum = (value: number | undefined): number | undefined =>
      value === undefined ? undefined : Math.min(4096, value);
    const filters = request.filters ?? {};
    const minWidth = minimum(filters.minWidth);
    const minHeight = minimum(filters.minHeight);
    await forEachLimited(originals, CONCURRENCY, async (index) => {
      signal?.throwIfAborted();
      const image = await renderGarmentImage({
        item,
        pattern,
        seed: seedFor(index, 'image'),
        ...(minWidth !== undefined ? { minWidth } : {}),
        ...(minHeight !== undefined ? { minHeight } : {}),
      });
      results[index] = this.#result(slug, index, image.content, image.width, image.height);
      qualities.set(index, image.quality);
    });
    await forEachLimited(repeats, CONCURRENCY, async (index) => {
      signal?.throwIfAborted();
      const source = sources[index]!;
      const original = results[source]!;
      const random = seededRandom(seedFor(index, 'edit'));
      if (random() < 0.3) {
        // Byte-identical (a copy, so that no two results share one buffer).
        results[index] = this.#result(slug, index, Buffer.from(original.content!), original.width!, original.height!);
        return;
      }
      const edited = await editCopy(
        original.content!,
        original.width!,
        original.height!,
        qualities.get(source)!,
        random,
        { minWidth, minHeight },
      );
      results[index] = this.#result(slug, index, edited.content, edited.width, edited.height);
    });
    signal?.throwIfAborted();
    return { results, totalEstimatedMatches: Math.max(count, 1000) };
  }

  /**
   * For each of a query's first `count` results, the index of the earlier result it repeats, or null for an
   * original picture. Cheap (no rendering): tests and demos use it to know which repeats were planted.
   */
  repeatSources(query: string, count: number): Array<number | null> {
    const seedFor = this.#seeder(query);
    // Index 0 never repeats, so the walk down to an original always ends.
    const isRepeat = (index: number): boolean =>
      index > 0 && this.#duplicateEvery > 0 && seedFor(index, 'repeat') / 4294967296 < 1 / this.#duplicateEvery;
    const sources: Array<number | null> = [];
    for (let index = 0; index < count; index++) {
      if (!isRepeat(index)) {
        sources.push(null);
        continue;
      }
      let source = Math.floor((seedFor(index, 'source') / 4294967296) * index);
      while (isRepeat(source)) source--;
      sources.push(source);
    }
    return sources;
  }

  /**
   * Seeds for a query's results: a hash of (provider seed, query slug, index, purpose). Keyed by the slug, so
   * queries that share a content URL ("T-Shirt", "t shirt") also share their pictures.
   */
  #seeder(query: string): (index: number, purpose: string) => number {
    const key = querySlug(query);
    return (index, purpose) => hash32(`${this.#seed}\u0000${key}\u0000${index}\u0000${purpose}`);
  }

  #result(slug: string, index: number, content: Buffer, width: number, height: number): ImageResult {
    return {
      // Another provider seed draws other pictures, so it must make other URLs (the collector remembers URLs).
      contentUrl: `offline://${slug}/${index}.jpg${this.#seed === 0 ? '' : `?seed=${this.#seed}`}`,
      content,
      hostPageUrl: undefined,
      imageId: `offline-${slug}-${index}${this.#seed === 0 ? '' : `-seed${this.#seed}`}`,
      encodingFormat: 'jpeg',
      width,
      height,
    };
  }
}

/**
 * A lightly edited copy, as the same photo often reappears on the web: always re-encoded at another JPEG
 * quality, and often resized to 80-95% (never below 320 px or the requested minimum) and/or brightened a little.
 */
async function editCopy(
  content: Buffer,
  width: number,
  height: number,
  quality: number,
  random: () => number,
  limits: { minWidth: number | undefined; minHeight: number | undefined },
): Promise<{ content: Buffer; width: number; height: number }> {
  let image = sharp(content);
  let outWidth = width;
  let outHeight = height;
  if (random() < 0.6) {
    const floor = Math.max(
      320 / Math.min(width, height),
      (limits.minWidth ?? 0) / width,
      (limits.minHeight ?? 0) / height,
    );
    const factor = Math.min(1, Math.max(0.8 + random() * 0.15, floor));
    outWidth = Math.max(1, Math.round(width * factor));
    outHeight = Math.max(1, Math.round(height * factor));
    if (outWidth !== width || outHeight !== height) image = image.resize(outWidth, outHeight, { fit: 'fill' });
  }
  if (random() < 0.5) {
    // Brighter by a whole number of levels (3-8): flat areas stay flat and on whole grey levels.
    image = image.linear(1, 3 + Math.floor(random() * 6));
  }
  // Another quality than the original's, 76-95.
  const other = 76 + Math.floor(random() * 19);
  const newQuality = other >= quality ? other + 1 : other;
  return { content: await image.jpeg({ quality: newQuality }).toBuffer(), width: outWidth, height: outHeight };
}

/** Runs `task` over `items` with at most `limit` in flight; the first failure rejects. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
