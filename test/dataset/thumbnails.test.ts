// Thumbnails through the real host: small JPEGs of catalog images, fitted to the size asked for, with an ETag that
// answers 304, kept in memory; refused sizes name the parameter; ingest's pixel limit applies before decoding.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Thumbnails } from '../../src/dataset/thumbnails';
import { ImageRejectedError } from '../../src/dataset/validate';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import { PixelBudget } from '../../src/util/pixelBudget';
import { type AppStack, callApi, seedGarments, startAppStack } from '../support/appHost';
import { encodeBmp24, noiseImage } from '../support/images';

let stack: AppStack;
let services: Services;
let imageId: string;

const thumbnailUrl = (id: string, query = '') =>
  `${stack.host.url}/api/datasets/tees/images/${encodeURIComponent(id)}/thumbnail${query}`;

beforeAll(async () => {
  stack = await startAppStack({
    hostId: 'thumbnails-test',
    seed: async (created) => {
      await seedGarments(created, 'tees');
      // Two files ingest rejected whose headers look fine: their thumbnails once answered 500.
      const incoming = created.storage.blobs.getContainerClient(INCOMING_CONTAINER);
      for (const [blobName, content] of await corruptFiles()) {
        await incoming.getBlockBlobClient(blobName).uploadData(content);
        await created.ingestor.ingest({ blobName, content });
      }
    },
  });
  ({ services } = stack);
  imageId = (await services.catalog.listImages('tees', { status: 'accepted', pageSize: 1 })).images[0]!.id;
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('thumbnails of files that cannot be decoded', () => {
  it('answer 400 with a JSON message naming the problem, never 500', async () => {
    const { images } = await services.catalog.listImages('tees', { status: 'rejected', pageSize: 10 });
    expect(images.map((image) => image.blobName).sort()).toEqual([
      'tees/striped/rle8.bmp',
      'tees/striped/truncated.jpg',
    ]);
    for (const image of images) {
      const response = await fetch(thumbnailUrl(image.id, '?size=64'));
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await response.json()) as { error: string; code: string; message: string };
      expect(body).toMatchObject({ error: 'BadRequest', code: 'corrupt-image' });
      expect(body.message).toMatch(
        image.blobName.endsWith('.bmp')
          ? /^the BMP data cannot be decoded: BMP compression 1 \(RLE/
          : /^the JPEG data cannot be decoded: /,
      );
    }
  });
});

describe('image thumbnails', () => {
  it('renders a JPEG that fits the size, with caching headers, and answers 304 to its ETag', async () => {
    const { record } = (await services.catalog.getImage('tees', imageId))!;
    const response = await fetch(thumbnailUrl(imageId, '?size=64'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(response.headers.get('cache-control')).toBe('private, max-age=86400');
    const jpeg = Buffer.from(await response.arrayBuffer());
    expect(Number(response.headers.get('content-length'))).toBe(jpeg.length);
    const meta = await sharp(jpeg).metadata();
    expect(meta.format).toBe('jpeg');
    expect(Math.max(meta.width, meta.height)).toBe(64);
    // The aspect ratio of the original, to the pixel.
    const ratio = record.width! / record.height!;
    expect(Math.abs(meta.width / meta.height - ratio)).toBeLessThan(2 / 64);
    const etag = response.headers.get('etag')!;
    expect(etag).toBe(`"${record.contentSha256.slice(0, 32)}-64"`);
    const again = await fetch(thumbnailUrl(imageId, '?size=64'), { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    // Another size is another thumbnail; the default is 128.
    const fallback = await fetch(thumbnailUrl(imageId));
    expect(Math.max(...Object.values(await sizeOf(Buffer.from(await fallback.arrayBuffer()))))).toBe(128);
    expect(fallback.headers.get('etag')).not.toBe(etag);
  });

  it('serves a thumbnail again from memory, byte for byte', async () => {
    const thumbnails = new Thumbnails({
      catalog: services.catalog,
      blobs: services.storage.blobs,
      ingest: services.settings.ingest,
      pixelBudget: new PixelBudget(64_000_000),
    });
    const first = await thumbnails.get('tees', imageId, 96);
    // The file is gone, yet the cached thumbnail still answers.
    const { record } = (await services.catalog.getImage('tees', imageId))!;
    const blob = services.storage.blobs.getContainerClient(record.container).getBlockBlobClient(record.blobName);
    const content = await blob.downloadToBuffer();
    await blob.delete();
    try {
      expect((await thumbnails.get('tees', imageId, 96)).jpeg!.equals(first.jpeg!)).toBe(true);
      await expect(thumbnails.get('tees', imageId, 97)).rejects.toThrow(`the file of image "${imageId}" is gone`);
    } finally {
      await blob.uploadData(content);
    }
  });

  it('applies ingest limits before decoding, and refuses bad sizes and unknown images', async () => {
    const strict = new Thumbnails({
      catalog: services.catalog,
      blobs: services.storage.blobs,
      ingest: { ...services.settings.ingest, maxPixels: 1000 },
      pixelBudget: new PixelBudget(64_000_000),
    });
    const refused = strict.get('tees', imageId, 64);
    await expect(refused).rejects.toBeInstanceOf(ImageRejectedError);
    await expect(refused).rejects.toMatchObject({ code: 'too-many-pixels' });
    for (const size of ['8', '513', 'abc', '64.5', '-64']) {
      const answer = await fetch(thumbnailUrl(imageId, `?size=${size}`));
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { message: string }).message).toBe(
        `expected a whole number of pixels from 16 to 512 for size but received "${size}"`,
      );
    }
    expect((await fetch(thumbnailUrl('img:nope'))).status).toBe(404);
    expect((await callApi(stack.host, 'GET', 'datasets/no-such-set/images/img%3Ax/thumbnail')).status).toBe(404);
  });
});

/** An RLE8 BMP (a compression the decoder does not take, behind a sound header) and a JPEG cut off half way. */
async function corruptFiles(): Promise<[string, Buffer][]> {
  const bmp = encodeBmp24(new Uint8Array(100 * 100 * 3).fill(128), 100, 100);
  bmp.writeUInt16LE(8, 28); // bits per pixel
  bmp.writeUInt32LE(1, 30); // BI_RLE8
  const jpeg = await noiseImage(7, { width: 300, height: 200 });
  return [
    ['tees/striped/rle8.bmp', bmp],
    ['tees/striped/truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2))],
  ];
}

async function sizeOf(jpeg: Buffer): Promise<{ width: number; height: number }> {
  const { width, height } = await sharp(jpeg).metadata();
  return { width, height };
}
