// The views training and serving share: the plain view and its resize recipes, the mirror, augmented views, BMP.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { CENTRE_CROP, plainResizeTarget, SQUASH } from '../../src/image/preprocessing';
import { IDENTITY_AUGMENTATION, largestInscribedRectangle, mirrorView, renderView } from '../../src/image/view';
import { encodeBmp24 } from '../support/images';
import { itWithShared, sharedPath } from '../support/shared';

const photo = (name: string) => readFileSync(path.join(sharedPath('fixtures', 'dhash'), name));

function toNchwForTest(rgb: Uint8Array): Float32Array {
  const plane = rgb.length / 3;
  const out = new Float32Array(rgb.length);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = rgb[p * 3 + c]!;
  return out;
}

function meanAbsDifference(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

function mean(a: Float32Array): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}

describe('renderView', () => {
  itWithShared('squashed, the plain view is the straight 224x224 resize the backbone reference used', async () => {
    const view = await renderView(photo('dog.jpg'), { resize: SQUASH });
    const { data } = await sharp(photo('dog.jpg'))
      .removeAlpha()
      .resize(224, 224, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(view.size).toBe(224);
    expect(view.data.length).toBe(3 * 224 * 224);
    // NCHW: channel planes of 224 x 224.
    // NCHW of exactly those bytes.
    for (let p = 0; p < 224 * 224; p += 997) {
      for (let c = 0; c < 3; c++) expect(view.data[c * 224 * 224 + p]).toBe(data[p * 3 + c]);
    }
  });

  itWithShared(
    'by default scales the shorter side to 256 and shows the central 224 x 224, upscaling small pictures',
    async () => {
      // A 100x160 portrait: scaled to 256x410 (shorter side 256, aspect kept), then its central 224x224, from (16, 93):
      // floor((410 - 256 + 1) / 2) + 16, as the metadata's description says.
      const { data: raw, info } = await sharp(photo('dog.jpg'))
        .resize(100, 160, { fit: 'fill' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const portrait = await sharp(raw, { raw: { width: info.width, height: info.height, channels: 3 } })
        .png()
        .toBuffer();
      const view = await renderView(portrait);
      const scaled = await sharp(raw, { raw: { width: 100, height: 160, channels: 3 } })
        .resize(256)
        .raw()
        .toBuffer();
      const { data } = await sharp(scaled, { raw: { width: 256, height: 410, channels: 3 } })
        .extract({ left: 16, top: 93, width: 224, height: 224 })
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(view.data).toEqual(toNchwForTest(data));
      expect(plainResizeTarget(224, CENTRE_CROP)).toBe(256);
      expect(plainResizeTarget(224, SQUASH)).toBe(224);
    },
  );

  itWithShared('decodes a large JPEG shrunk on load, within a fraction of a level of the full decode', async () => {
    // A 12 MP phone photo: the pipeline starts with the resize, so libvips decodes it at a fraction of its pixels.
    const large = await sharp(photo('dog.jpg')).resize(4032, 3024, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
    const fullDecode = await sharp(large).raw().toBuffer({ resolveWithObject: true });
    const fromFullDecode = await renderView(
      await sharp(fullDecode.data, { raw: { width: 4032, height: 3024, channels: 3 } })
        .png({ compressionLevel: 0 })
        .toBuffer(),
    );
    for (const resize of [CENTRE_CROP, SQUASH]) {
      const shrunk = await renderView(large, { resize });
      const exact =
        resize === CENTRE_CROP
          ? fromFullDecode
          : await renderView(
              await sharp(fullDecode.data, { raw: { width: 4032, height: 3024, channels: 3 } })
                .png({ compressionLevel: 0 })
                .toBuffer(),
              { resize },
            );
      expect(meanAbsDifference(shrunk.data, exact.data)).toBeLessThan(1);
    }
  });

  itWithShared('crops in upright coordinates: EXIF orientation first, then the central square', async () => {
    // dog_exif6.jpg holds dog.jpg's pixels with orientation 6: upright it is dog.jpg turned 90 degrees.
    const upright = await renderView(photo('dog_exif6.jpg'));
    const rotatedByHand = await renderView(await sharp(photo('dog.jpg')).rotate(90).png().toBuffer());
    expect(meanAbsDifference(upright.data, rotatedByHand.data)).toBeLessThan(3);
    expect(meanAbsDifference(upright.data, (await renderView(photo('dog.jpg'))).data)).toBeGreaterThan(20);
  });

  itWithShared('mirrors a view value for value', async () => {
    const plain = await renderView(photo('eagle.jpg'));
    const mirrored = mirrorView(plain);
    for (const [y, x] of [
      [0, 0],
      [10, 3],
      [223, 100],
    ] as const) {
      for (let c = 0; c < 3; c++)
        expect(mirrored.data[c * 224 * 224 + y * 224 + x]).toBe(plain.data[c * 224 * 224 + y * 224 + 223 - x]);
    }
    expect(mirrorView(mirrored).data).toEqual(plain.data);
  });

  itWithShared('applies EXIF orientation so the picture is upright', async () => {
    const upright = await renderView(photo('dog_exif6.jpg'));
    const rotatedByHand = await renderView(await sharp(photo('dog.jpg')).rotate(90).jpeg({ quality: 100 }).toBuffer());
    expect(meanAbsDifference(upright.data, rotatedByHand.data)).toBeLessThan(3);
    expect(meanAbsDifference(upright.data, (await renderView(photo('dog.jpg'))).data)).toBeGreaterThan(20);
  });

  itWithShared('reads BMP, which ingest accepts and libvips cannot decode', async () => {
    const { data, info } = await sharp(photo('dog.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const bmp = encodeBmp24(data, info.width, info.height);
    const fromBmp = await renderView(bmp);
    const fromJpeg = await renderView(
      await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
        .png()
        .toBuffer(),
    );
    expect(meanAbsDifference(fromBmp.data, fromJpeg.data)).toBeLessThan(0.01);
  });

  itWithShared('flips an augmented view: the mirror image of the plain view, up to resampling', async () => {
    // The plain view is one sharp pipeline (with JPEG shrink-on-load); augmented views resample decoded pixels.
    const plain = await renderView(photo('eagle.jpg'));
    const flipped = await renderView(photo('eagle.jpg'), {
      augmentation: { ...IDENTITY_AUGMENTATION, flipHorizontal: true },
    });
    expect(meanAbsDifference(flipped.data, mirrorView(plain).data)).toBeLessThan(1.5);
    expect(meanAbsDifference(flipped.data, plain.data)).toBeGreaterThan(10);
  });

  it('rotates without filling corners', async () => {
    const white = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    const view = await renderView(white, { augmentation: { ...IDENTITY_AUGMENTATION, rotationDeg: 15 } });
    expect(view.data.reduce((m, v) => Math.min(m, v), 255)).toBeGreaterThan(240);
    const inner = largestInscribedRectangle(400, 300, (15 * Math.PI) / 180);
    expect(inner.width).toBeLessThan(400);
    expect(inner.width / inner.height).toBeCloseTo(400 / 300, 1);
  });

  it('zooms into the chosen part, and changes brightness and contrast', async () => {
    // Left half black, right half white: a 2x zoom at the left edge sees only black.
    const halves = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#000000' } })
      .composite([
        { input: { create: { width: 100, height: 200, channels: 3, background: '#ffffff' } }, left: 100, top: 0 },
      ])
      .png()
      .toBuffer();
    const left = await renderView(halves, {
      augmentation: { ...IDENTITY_AUGMENTATION, zoom: 2, cropX: 0, cropY: 0.5 },
    });
    expect(left.data.reduce((m, v) => Math.max(m, v), 0)).toBe(0);
    const grey = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#646464' } })
      .png()
      .toBuffer();
    const brighter = await renderView(grey, { augmentation: { ...IDENTITY_AUGMENTATION, brightness: 1.2 } });
    expect(mean(brighter.data)).toBeCloseTo(120, 0);
    const flatter = await renderView(grey, { augmentation: { ...IDENTITY_AUGMENTATION, contrast: 0.5 } });
    expect(mean(flatter.data)).toBeCloseTo(114, 0);
  });
});
