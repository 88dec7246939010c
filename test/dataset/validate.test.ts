// Every rejection class, and every kind of real raster photo a user may have, through validateImage.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { describe, expect, it } from 'vitest';

import type { IngestSettings } from '../../src/config';
import { ImageRejectedError, validateImage } from '../../src/dataset/validate';
import { dhashFromPixels } from '../../src/image/dhash';
import { encodeBmp24, noiseImage, pngHeaderClaiming, seededRandom } from '../support/images';
import { haveShared, itWithShared, sharedPath } from '../support/shared';

const settings: IngestSettings = {
  maxFileBytes: 5 * 1024 * 1024,
  maxPixels: 40_000_000,
  minSidePx: 64,
  maxAspectRatio: 8,
  decodePixelBudget: 40_000_000,
};
const photo = () => readFileSync(path.join(sharedPath('fixtures', 'dhash'), 'dog.jpg'));

async function rejection(content: Buffer, overrides: Partial<IngestSettings> = {}): Promise<ImageRejectedError> {
  try {
    await validateImage(content, { ...settings, ...overrides });
  } catch (error) {
    if (error instanceof ImageRejectedError) return error;
    throw error;
  }
  throw new Error('expected a rejection, but the image was accepted');
}

/** An ISO BMFF file as HEIF writers start one: an ftyp box with the brands, then a meta box with no usable content. */
function heifFile(major: string, compatible: string[]): Buffer {
  const ftyp = Buffer.alloc(16 + 4 * compatible.length);
  ftyp.writeUInt32BE(ftyp.length, 0);
  ftyp.write('ftyp', 4, 'latin1');
  ftyp.write(major, 8, 'latin1');
  compatible.forEach((brand, i) => ftyp.write(brand, 16 + 4 * i, 'latin1'));
  const meta = Buffer.alloc(64);
  meta.writeUInt32BE(meta.length, 0);
  meta.write('meta', 4, 'latin1');
  return Buffer.concat([ftyp, meta, Buffer.alloc(2000, 7)]);
}

async function rgbNoise(width: number, height: number, seed = 1): Promise<Sharp> {
  return sharp(await noiseImage(seed, { width, height, format: 'png' }));
}

describe('rejections', () => {
  it('empty files', async () => {
    expect(await rejection(Buffer.alloc(0))).toMatchObject({ code: 'empty-file' });
  });

  itWithShared('files over the size limit', async () => {
    const error = await rejection(photo(), { maxFileBytes: 1000 });
    expect(error.code).toBe('file-too-large');
    expect(error.message).toMatch(/INGEST_MAX_FILE_BYTES/);
  });

  itWithShared('truncated JPEG and PNG files', async () => {
    const jpeg = photo();
    expect(await rejection(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)))).toMatchObject({ code: 'corrupt-image' });
    const png = await (await rgbNoise(300, 200)).png().toBuffer();
    expect(await rejection(png.subarray(0, Math.floor(png.length * 0.5)))).toMatchObject({ code: 'corrupt-image' });
  });

  it('corrupt data after a valid header', async () => {
    const png = await (await rgbNoise(300, 200)).png().toBuffer();
    const damaged = Buffer.from(png);
    const random = seededRandom(3);
    for (let i = 100; i < damaged.length - 20; i++) damaged[i] = Math.floor(random() * 256);
    expect(await rejection(damaged)).toMatchObject({ code: 'corrupt-image' });
  });

  it('a file that starts like an image but is not one', async () => {
    const error = await rejection(Buffer.from('GIF89a and then nothing that makes sense'));
    expect(error.code).toBe('corrupt-image');
    expect(error.message).toMatch(/starts like a GIF/);
  });

  it.each([
    [
      'an HTML error page',
      Buffer.from('<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>nope</body></html>'),
      /HTML page/,
    ],
    ['a ZIP archive', Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(200, 1)]), /ZIP archive/],
    ['a gzip archive', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(200, 7)]), /gzip/],
    ['a PDF', Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF'), /PDF/],
    [
      'random bytes',
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)),
      /not an image in any known format/,
    ],
  ])('%s, whatever its name', async (_what, content, message) => {
    const error = await rejection(content);
    expect(error.code).toBe('not-an-image');
    expect(error.message).toMatch(message);
  });

  it('SVG, a vector format that can carry scripts', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><script>alert(1)</script><rect width="400" height="300" fill="red"/></svg>',
    );
    const error = await rejection(svg);
    expect(error.code).toBe('unsupported-format');
    expect(error.message).toMatch(/SVG is a vector format/);
  });

  it.each([
    ['an XML declaration', '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'],
    [
      'a BOM, whitespace, a declaration, a comment and a doctype',
      '\uFEFF \n<?xml version="1.0"?>\n<!-- made by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n',
    ],
    ['a long comment before the root', `<?xml version="1.0"?><!-- ${'x'.repeat(3000)} -->`],
    ['leading whitespace only', '\n\t  '],
  ])('SVG after %s', async (_, prolog) => {
    const svg = Buffer.from(
      `${prolog}<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300"/></svg>`,
    );
    const error = await rejection(svg);
    expect(error.code).toBe('unsupported-format');
    expect(error.message).toMatch(/^SVG is a vector format/);
  });

  it('XML that is not SVG is still not an image', async () => {
    const error = await rejection(Buffer.from('<?xml version="1.0"?>\n<feed><title>svg</title></feed>'));
    expect(error.code).toBe('not-an-image');
  });

  it.each(['heic', 'heix', 'hevc', 'heim', 'heis', 'hevx', 'mif1', 'msf1'])(
    'HEIC/HEIF files (brand %s), which cannot be decoded here',
    async (brand) => {
      const error = await rejection(heifFile(brand, ['mif1', brand]));
      expect(error.code).toBe('unsupported-format');
      expect(error.message).toMatch(/^HEIC photos cannot be decoded here|^HEIF images cannot be decoded here/);
      expect(error.message).toContain(`brand ${brand}`);
    },
  );

  it('an AVIF file whose header is damaged is corrupt, not unsupported', async () => {
    const error = await rejection(heifFile('avif', ['avif', 'mif1', 'miaf']));
    expect(error.code).toBe('corrupt-image');
    expect(error.message).toMatch(/starts like an AVIF/);
  });

  it('a real AVIF is still accepted', async () => {
    const avif = await (await rgbNoise(200, 150)).avif().toBuffer();
    expect((await validateImage(avif, settings)).format).toBe('avif');
  });

  it('a header that claims huge dimensions (decompression bomb), refused before decoding', async () => {
    const error = await rejection(pngHeaderClaiming(100_000, 100_000));
    expect(error.code).toBe('too-many-pixels');
    expect(error.message).toMatch(/100000x100000.*refused before decoding/);
  });

  itWithShared('a real image over the pixel limit', async () => {
    expect(await rejection(photo(), { maxPixels: 100_000 })).toMatchObject({ code: 'too-many-pixels' });
  });

  it('images too small or too thin to be useful', async () => {
    const small = await (await rgbNoise(48, 48)).png().toBuffer();
    const smallError = await rejection(small);
    expect(smallError.code).toBe('too-small');
    expect(smallError.message).toMatch(/INGEST_MIN_SIDE_PX/);
    const thin = await (await rgbNoise(1000, 100)).png().toBuffer();
    expect(await rejection(thin)).toMatchObject({ code: 'too-thin' });
  });
});

describe('accepted raster photos', () => {
  const cases: [string, () => Promise<Buffer>, string][] = [
    ['baseline JPEG', async () => photo(), 'jpeg'],
    ['progressive JPEG', async () => (await rgbNoise(320, 240)).jpeg({ progressive: true }).toBuffer(), 'jpeg'],
    ['CMYK JPEG', async () => (await rgbNoise(320, 240)).toColourspace('cmyk').jpeg().toBuffer(), 'jpeg'],
    ['greyscale JPEG', async () => (await rgbNoise(320, 240)).greyscale().jpeg().toBuffer(), 'jpeg'],
    ['16-bit PNG', async () => (await rgbNoise(320, 240)).toColourspace('rgb16').png().toBuffer(), 'png'],
    ['palette PNG', async () => (await rgbNoise(320, 240)).png({ palette: true, colours: 64 }).toBuffer(), 'png'],
    ['PNG with alpha', async () => (await rgbNoise(320, 240)).ensureAlpha(0.5).png().toBuffer(), 'png'],
    ['WebP', async () => (await rgbNoise(320, 240)).webp().toBuffer(), 'webp'],
    [
      'lossless WebP with alpha',
      async () => (await rgbNoise(320, 240)).ensureAlpha().webp({ lossless: true }).toBuffer(),
      'webp',
    ],
    ['TIFF', async () => (await rgbNoise(320, 240)).tiff({ compression: 'lzw' }).toBuffer(), 'tiff'],
    [
      'BMP',
      async () => {
        const { data, info } = await (await rgbNoise(320, 240)).raw().toBuffer({ resolveWithObject: true });
        return encodeBmp24(data, info.width, info.height);
      },
      'bmp',
    ],
    ['AVIF', async () => (await rgbNoise(320, 240)).avif({ quality: 60 }).toBuffer(), 'avif'],
  ];

  // The baseline JPEG is a real photo from ../shared; the others are generated.
  it.each(haveShared ? cases : cases.slice(1))('%s', async (_what, make, format) => {
    const image = await validateImage(await make(), settings);
    expect(image.format).toBe(format);
    expect([image.width, image.height]).toEqual(
      format === 'jpeg' && _what === 'baseline JPEG' ? [768, 576] : [320, 240],
    );
    expect(dhashFromPixels(image.pixels)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps the pictures recognisable: format conversions land near the original dHash', async () => {
    const reference = dhashFromPixels(
      (await validateImage(await (await rgbNoise(320, 240)).png().toBuffer(), settings)).pixels,
    );
    // Not CMYK: Pillow's (and so our) naive CMYK-to-RGB formula differs from the ICC conversion that made the file.
    for (const [what, make] of cases.slice(1).filter(([what]) => what !== 'CMYK JPEG')) {
      const hash = dhashFromPixels((await validateImage(await make(), settings)).pixels);
      expect(hammingBits(hash, reference), what).toBeLessThanOrEqual(24);
    }
  });

  it('animated GIF: the first frame', async () => {
    const frames = await Promise.all([1, 2, 3].map(async (seed) => (await rgbNoise(200, 150, seed)).raw().toBuffer()));
    const gif = await sharp(Buffer.concat(frames), {
      raw: { width: 200, height: 450, channels: 3, pageHeight: 150 },
    } as SharpOptions)
      .gif({ loop: 0, delay: [100, 100, 100] })
      .toBuffer();
    const image = await validateImage(gif, settings);
    expect(image).toMatchObject({ format: 'gif', width: 200, height: 150, pages: 3 });
    const firstFrame = dhashFromPixels(
      (await validateImage(await (await rgbNoise(200, 150, 1)).gif().toBuffer(), settings)).pixels,
    );
    expect(hammingBits(dhashFromPixels(image.pixels), firstFrame)).toBeLessThanOrEqual(24);
  });

  itWithShared(
    'EXIF-rotated photos are accepted, orientation recorded, pixels hashed as stored (like imagehash)',
    async () => {
      const image = await validateImage(
        readFileSync(path.join(sharedPath('fixtures', 'dhash'), 'dog_exif6.jpg')),
        settings,
      );
      expect(image.orientation).toBe(6);
      const golden = JSON.parse(readFileSync(sharedPath('fixtures', 'dhash', 'golden.json'), 'utf8')) as {
        files: Record<string, { dhash16: string }>;
      };
      expect(dhashFromPixels(image.pixels)).toBe(golden.files['dog_exif6.jpg']!.dhash16);
    },
  );
});

function hammingBits(a: string, b: string): number {
  let bits = 0;
  for (let i = 0; i < a.length; i++) {
    let x = parseInt(a[i]!, 16) ^ parseInt(b[i]!, 16);
    while (x) {
      bits += x & 1;
      x >>= 1;
    }
  }
  return bits;
}
