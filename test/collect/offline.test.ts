// The offline provider: deterministic synthetic garment photos that decode, differ between queries, and
// include planted near duplicates for dedup to catch.
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';

import { OfflineImageProvider, parseGarmentQuery, querySlug } from '../../src/collect/providers/offline';
import { GARMENT_ITEMS, GARMENT_PATTERNS, renderGarment } from '../../src/collect/syntheticImages';
import type { ImageResult } from '../../src/collect/types';
import { validateImage } from '../../src/dataset/validate';
import { dhashOfImage, hammingDistance, relativeDistance } from '../../src/image/dhash';

const DECODE = { limitInputPixels: 1e8 };
const NEAR_DUPLICATE_MAX_BITS = 24;
const CONTACT_SHEET = '/tmp/offline-contact-sheet.png';

const search = (provider: OfflineImageProvider, query: string, count: number) =>
  provider.search({ query, count, filters: {} });
const hashOf = (result: ImageResult): Promise<string> => dhashOfImage(result.content!, DECODE);

describe('parseGarmentQuery', () => {
  it.each([
    ['striped t-shirt', 't-shirt', 'striped'],
    ['Striped T-Shirt', 't-shirt', 'striped'],
    ['striped shirt', 'shirt', 'striped'],
    ['leopard print tshirts', 't-shirt', 'leopard'],
    ['DOTTED HOODIE', 'hoodie', 'dotted'],
    ['polka dot blouse', 'blouse', 'dotted'],
    ['leopard vest', 'vest', 'leopard'],
    ['sweater', 'sweater', 'plain'],
    ['checked scarf', 'garment', 'plain'],
    ['sweatshirt', 'garment', 'plain'], // "shirt" only as a whole word
  ])('%s → %s, %s', (query, item, pattern) => expect(parseGarmentQuery(query)).toEqual({ item, pattern }));

  it('slugs queries for the content URLs', () => {
    expect(querySlug('Striped T-Shirt!')).toBe('striped-t-shirt');
    expect(querySlug('  ')).toBe('query');
  });
});

describe('OfflineImageProvider', () => {
  const provider = new OfflineImageProvider();

  it('is named offline and validates its options', () => {
    expect(provider.name).toBe('offline');
    expect(() => new OfflineImageProvider({ duplicateEvery: 0.5 })).toThrow(RangeError);
    expect(() => new OfflineImageProvider({ seed: Number.NaN })).toThrow(RangeError);
  });

  it('honours count, fills every field, and is deterministic', async () => {
    expect((await search(provider, 'striped blouse', 0)).results).toEqual([]);
    const first = await search(provider, 'striped blouse', 5);
    const again = await search(new OfflineImageProvider(), 'striped blouse', 5);
    expect(first.results).toHaveLength(5);
    first.results.forEach((result, index) => {
      expect(result).toMatchObject({
        contentUrl: `offline://striped-blouse/${index}.jpg`,
        imageId: `offline-striped-blouse-${index}`,
        encodingFormat: 'jpeg',
        hostPageUrl: undefined,
      });
      expect(result.content!.equals(again.results[index]!.content!)).toBe(true);
    });
    // More results extend the list without changing the first ones.
    const longer = await search(provider, 'striped blouse', 6);
    expect(longer.results[4]!.content!.equals(first.results[4]!.content!)).toBe(true);
    // Another seed gives other pictures, under other URLs.
    const reseeded = await search(new OfflineImageProvider({ seed: 1 }), 'striped blouse', 1);
    expect(reseeded.results[0]!.content!.equals(first.results[0]!.content!)).toBe(false);
    expect(reseeded.results[0]!.contentUrl).toBe('offline://striped-blouse/0.jpg?seed=1');
    // Spellings that share a URL share the picture.
    const respelled = await search(provider, '  Striped  BLOUSE ', 1);
    expect(respelled.results[0]!.contentUrl).toBe(first.results[0]!.contentUrl);
    expect(respelled.results[0]!.content!.equals(first.results[0]!.content!)).toBe(true);
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(
      provider.search({ query: 'dotted vest', count: 3, filters: {}, signal: controller.signal }),
    ).rejects.toThrow('stop');
  });

  it('plants about one repeat in duplicateEvery, each pointing at an earlier original', () => {
    const sources = provider.repeatSources('leopard hoodie', 1200);
    const repeats = sources.filter((source) => source !== null).length;
    expect(repeats / 1200).toBeGreaterThan(1 / 20);
    expect(repeats / 1200).toBeLessThan(1 / 8);
    sources.forEach((source, index) => {
      if (source !== null) {
        expect(source).toBeLessThan(index);
        expect(sources[source]).toBeNull();
      }
    });
    expect(
      new OfflineImageProvider({ duplicateEvery: 0 }).repeatSources('leopard hoodie', 100).every((s) => s === null),
    ).toBe(true);
  });

  it('honours minWidth and minHeight', async () => {
    const { results } = await provider.search({
      query: 'dotted t-shirt',
      count: 1,
      filters: { minWidth: 700, minHeight: 500 },
    });
    const metadata = await sharp(results[0]!.content).metadata();
    expect(metadata.width).toBeGreaterThanOrEqual(700);
    expect(metadata.height).toBeGreaterThanOrEqual(500);
  });
});

describe('the images', () => {
  // One search per (item, pattern) query, two results each: the contact sheet shows the first of each.
  const queries = GARMENT_ITEMS.flatMap((item) =>
    GARMENT_PATTERNS.map((pattern) => ({ item, pattern, query: `${pattern} ${item}` })),
  );
  const found = new Map<string, ImageResult[]>();
  const hashes = new Map<ImageResult, string>();

  beforeAll(async () => {
    const provider = new OfflineImageProvider({ duplicateEvery: 0 });
    for (const { query } of queries) {
      const { results } = await search(provider, query, 2);
      found.set(query, results);
      for (const result of results) hashes.set(result, await hashOf(result));
    }
  });

  it('decode as JPEGs of at least 320 px a side, of the size the result states, and pass ingest validation', async () => {
    const ingest = {
      maxFileBytes: 50 * 1024 * 1024,
      maxPixels: 64_000_000,
      minSidePx: 64,
      maxAspectRatio: 8,
      decodePixelBudget: 128_000_000,
    }; // the app's defaults
    for (const results of found.values()) {
      for (const result of results) {
        const metadata = await sharp(result.content).metadata();
        expect(metadata.format).toBe('jpeg');
        expect(metadata.width).toBeGreaterThanOrEqual(320);
        expect(metadata.height).toBeGreaterThanOrEqual(320);
        expect([metadata.width, metadata.height]).toEqual([result.width, result.height]);
        await expect(validateImage(result.content!, ingest)).resolves.toBeDefined();
      }
    }
  });

  it('differ visibly between queries (dHash distance > 40)', () => {
    const all = [...found.entries()].flatMap(([query, results]) =>
      results.map((result) => ({ query, hash: hashes.get(result)! })),
    );
    let closest = 256;
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const distance = hammingDistance(all[i]!.hash, all[j]!.hash);
        if (all[i]!.query !== all[j]!.query) {
          closest = Math.min(closest, distance);
          expect(distance, `${all[i]!.query} vs ${all[j]!.query}`).toBeGreaterThan(40);
        } else {
          expect(distance, `two originals of ${all[i]!.query}`).toBeGreaterThan(NEAR_DUPLICATE_MAX_BITS);
        }
      }
    }
    console.log(`closest pair of different queries: ${closest} bits`);
  });

  it('render unknown items and patterns as a plain generic garment', async () => {
    const content = await renderGarment({ item: 'scarf', pattern: 'checked', seed: 5 });
    expect((await sharp(content).metadata()).format).toBe('jpeg');
  });

  it('make a contact sheet of every (item, pattern) pair', async () => {
    // Rows are items, columns patterns; each tile is the query's first result with its query as a caption.
    const cell = 240;
    const caption = 24;
    const columns = GARMENT_PATTERNS.length;
    const tiles = (
      await Promise.all(
        queries.map(async ({ query }, i) => {
          const left = (i % columns) * cell;
          const top = Math.floor(i / columns) * (cell + caption);
          const picture = await sharp(found.get(query)![0]!.content)
            .resize(cell, cell, { fit: 'contain', background: '#ffffff' })
            .png()
            .toBuffer();
          const label = Buffer.from(
            `<svg xmlns="http://www.w3.org/2000/svg" width="${cell}" height="${caption}"><text x="${cell / 2}" y="17" text-anchor="middle" font-family="sans-serif" font-size="14" fill="#222">${query}</text></svg>`,
          );
          return [
            { input: picture, left, top },
            { input: label, left, top: top + cell },
          ];
        }),
      )
    ).flat();
    await sharp({
      create: {
        width: cell * columns,
        height: (cell + caption) * GARMENT_ITEMS.length,
        channels: 3,
        background: '#ffffff',
      },
    })
      .composite(tiles)
      .png()
      .toFile(CONTACT_SHEET);
    expect((await sharp(CONTACT_SHEET).metadata()).width).toBe(cell * columns);
  });
});

describe('planted repeats', () => {
  it('are byte-identical or near duplicates of their originals, and originals are not', async () => {
    const provider = new OfflineImageProvider({ duplicateEvery: 3 });
    const query = 'leopard sweater';
    const sources = provider.repeatSources(query, 36);
    const { results } = await search(provider, query, 36);
    const hashes = await Promise.all(results.map(hashOf));
    let identical = 0;
    let edited = 0;
    let worst = 0;
    sources.forEach((source, index) => {
      if (source === null) return;
      const copy = results[index]!.content!;
      const original = results[source]!.content!;
      if (copy.equals(original)) {
        identical++;
        return;
      }
      edited++;
      const distance = hammingDistance(hashes[index]!, hashes[source]!);
      worst = Math.max(worst, distance);
      expect(distance, `result ${index} repeats ${source}`).toBeLessThanOrEqual(NEAR_DUPLICATE_MAX_BITS);
      expect(relativeDistance(distance, hashes[index]!, hashes[source]!)).toBeLessThanOrEqual(0.4);
    });
    expect(identical).toBeGreaterThan(0);
    expect(edited).toBeGreaterThan(0);
    const originals = sources.flatMap((source, index) => (source === null ? [index] : []));
    for (const a of originals) {
      for (const b of originals) {
        if (a < b)
          expect(hammingDistance(hashes[a]!, hashes[b]!), `originals ${a} and ${b}`).toBeGreaterThan(
            NEAR_DUPLICATE_MAX_BITS,
          );
      }
    }
    console.log(`${identical} identical and ${edited} edited repeats; the furthest edited one is ${worst} bits away`);
  });
});
