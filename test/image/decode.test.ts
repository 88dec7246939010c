import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';

import { decodeLikePillow } from '../../src/image/decode';
import { pillowCmykToRgb } from '../../src/image/pillow';

// Self-contained: every input is made here with sharp, so these run without shared/ fixtures.
const OPTIONS = { limitInputPixels: 10_000_000 };

/** Deterministic noisy RGB so that JPEGs have real entropy-coded data to truncate. */
function noise(width: number, height: number, channels: 3 | 4): Buffer {
  const data = Buffer.alloc(width * height * channels);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return data;
}

function raw(width: number, height: number, channels: 3 | 4): Sharp {
  return sharp(noise(width, height, channels), { raw: { width, height, channels } });
}

describe('decodeLikePillow', () => {
  it('throws on a truncated JPEG', async () => {
    const jpeg = await raw(256, 256, 3).jpeg({ quality: 90 }).toBuffer();
    await expect(decodeLikePillow(jpeg, OPTIONS)).resolves.toMatchObject({ width: 256, height: 256 });
    await expect(decodeLikePillow(jpeg.subarray(0, jpeg.length >> 1), OPTIONS)).rejects.toThrow(
      /premature end|truncat/i,
    );
  });

  it('throws on bytes that are not an image', async () => {
    await expect(decodeLikePillow(Buffer.from('not an image at all'), OPTIONS)).rejects.toThrow();
  });

  it('enforces limitInputPixels', async () => {
    const png = await raw(100, 50, 3).png().toBuffer();
    await expect(decodeLikePillow(png, { limitInputPixels: 4999 })).rejects.toThrow(/pixel limit/);
    await expect(decodeLikePillow(png, { limitInputPixels: 5000 })).resolves.toMatchObject({ width: 100, height: 50 });
  });

  it('keeps a CMYK JPEG as stored CMYK, 4 channels', async () => {
    const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#ffffff' } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).space).toBe('cmyk');
    const px = await decodeLikePillow(jpeg, OPTIONS);
    expect(px).toMatchObject({ width: 40, height: 30, channels: 4, colourspace: 'cmyk' });
    expect(px.data.length).toBe(40 * 30 * 4);
    // White stays near white through Pillow's CMYK -> RGB (an inverted or profile-converted read would not).
    const rgb = pillowCmykToRgb(px.data, 40 * 30);
    expect(Math.min(...rgb)).toBeGreaterThan(230);
  });

  it('finds CMYK through sharp metadata when the format is not sniffed (TIFF)', async () => {
    const tiff = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#336699' } })
      .toColourspace('cmyk')
      .tiff()
      .toBuffer();
    expect(await decodeLikePillow(tiff, OPTIONS)).toMatchObject({ channels: 4, colourspace: 'cmyk' });
  });

  it('gives 4 channels for a PNG with alpha, alpha untouched', async () => {
    const png = await raw(20, 10, 4).png().toBuffer();
    const px = await decodeLikePillow(png, OPTIONS);
    expect(px).toMatchObject({ width: 20, height: 10, channels: 4, colourspace: 'rgb' });
    expect(Buffer.from(px.data).equals(noise(20, 10, 4))).toBe(true);
  });

  it('gives one grey channel for greyscale JPEG and PNG', async () => {
    const base = () => raw(32, 16, 3).toColourspace('b-w');
    for (const buf of [await base().jpeg().toBuffer(), await base().png().toBuffer()]) {
      expect(await decodeLikePillow(buf, OPTIONS)).toMatchObject({ channels: 1, colourspace: 'grey' });
    }
  });

  it('does not apply EXIF orientation', async () => {
    const jpeg = await raw(60, 20, 3).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const px = await decodeLikePillow(jpeg, OPTIONS);
    expect([px.width, px.height]).toEqual([60, 20]); // rotated would be 20x60
  });

  it('ignores an embedded ICC profile', async () => {
    // Stored values in Display P3: applying the profile (sharp's default) would move them back towards sRGB.
    const tagged = await raw(16, 16, 3).withIccProfile('p3').png().toBuffer();
    expect((await sharp(tagged).metadata()).icc).toBeDefined();
    const px = await decodeLikePillow(tagged, OPTIONS);
    const stored = await sharp(tagged, { ignoreIcc: true }).raw().toBuffer();
    const converted = await sharp(tagged).raw().toBuffer();
    expect(Buffer.from(px.data).equals(stored)).toBe(true);
    expect(converted.equals(stored)).toBe(false);
  });
});
