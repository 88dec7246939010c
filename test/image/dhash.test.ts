import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { decodeLikePillow, type RawPixels } from '../../src/image/decode';
import {
  DHASH_SIZE,
  dhashFromPixels,
  dhashOfImage,
  hammingDistance,
  relativeDistance,
  setBits,
} from '../../src/image/dhash';
import {
  lanczosCoeffs,
  pillowCmykToRgb,
  pillowGreyResize,
  pillowGreyscale,
  pillowLanczosResize,
  simdAvailable,
} from '../../src/image/pillow';
import { itWithShared } from '../support/shared';

/** /work/shared beside the project (and ../shared beside the clone in CI). */
const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/dhash');
const GOLDEN = path.join(FIXTURES, 'golden.json');
const OPTIONS = { limitInputPixels: 100_000_000 };

interface GoldenEntry {
  of: string;
  edit: string;
  dhash16: string;
  size: [number, number];
  mode: string;
  distance_to_original: number;
}

const haveFixtures = fs.existsSync(GOLDEN);
const golden: Record<string, GoldenEntry> = haveFixtures
  ? (JSON.parse(fs.readFileSync(GOLDEN, 'utf8')) as { files: Record<string, GoldenEntry> }).files
  : {};
const names = Object.keys(golden).sort();

describe('dhash against imagehash 4.3.2 / Pillow 9.4 golden values', () => {
  itWithShared('has the golden fixtures', () => {
    // Fail loudly rather than skip: without them nothing below proves compatibility.
    if (!haveFixtures) {
      throw new Error(
        `../shared/fixtures/dhash is missing (looked for ${GOLDEN}); it holds the photos and golden.json`,
      );
    }
    expect(names.length).toBe(115);
  });

  it.each(names)('%s hashes exactly like imagehash', async (name) => {
    const entry = golden[name]!;
    const buf = fs.readFileSync(path.join(FIXTURES, name));
    const pixels = await decodeLikePillow(buf, OPTIONS);
    // No EXIF rotation: the size is the stored one, as Pillow reports it.
    expect([pixels.width, pixels.height]).toEqual(entry.size);
    expect(pixels.colourspace).toBe(entry.mode === 'CMYK' ? 'cmyk' : entry.mode === 'L' ? 'grey' : 'rgb');
    expect(dhashFromPixels(pixels)).toBe(entry.dhash16);
    // The fast paths (WebAssembly SIMD and fused JS) and the plain Pillow functions agree pixel for pixel.
    const plain = Buffer.from(pillowLanczosResize(pillowGreyscale(pixels), pixels.width, pixels.height, 17, 16));
    expect(Buffer.from(pillowGreyResize(pixels, 17, 16)).equals(plain)).toBe(true);
    expect(Buffer.from(pillowGreyResize(pixels, 17, 16, 'js')).equals(plain)).toBe(true);
  });

  it.runIf(haveFixtures)('dhashOfImage gives the golden hash', async () => {
    const buf = fs.readFileSync(path.join(FIXTURES, 'dog_cmyk.jpg'));
    expect(await dhashOfImage(buf, OPTIONS)).toBe(golden['dog_cmyk.jpg']!.dhash16);
  });

  it.runIf(haveFixtures)('hammingDistance reproduces distance_to_original', () => {
    for (const name of names) {
      const entry = golden[name]!;
      const original = golden[entry.of];
      expect(original, `${name}: original ${entry.of} not in golden.json`).toBeDefined();
      expect(hammingDistance(entry.dhash16, original!.dhash16), name).toBe(entry.distance_to_original);
    }
  });
});

/** A w x h image from a function of (x, y). */
function synth(width: number, height: number, channels: 1 | 3 | 4, f: (x: number, y: number) => number[]): RawPixels {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(f(x, y).slice(0, channels), (y * width + x) * channels);
  }
  return { data, width, height, channels, colourspace: channels === 1 ? 'grey' : 'rgb' };
}

describe('dhash on synthetic images', () => {
  it('17x16 image (no resize pass runs): rising rows give 1 bits, falling rows 0 bits', () => {
    // Even rows increase left to right, odd rows decrease: each row is 16 bits = 4 hex digits.
    const img = synth(17, 16, 1, (x, y) => [y % 2 === 0 ? x * 10 : 200 - x * 10]);
    expect(dhashFromPixels(img)).toBe('ffff0000'.repeat(8));
  });

  it('uses Pillow L weights on RGB: pure red (L 76) vs pure green (L 150)', () => {
    // Columns alternate red, green: red->green is brighter (1), green->red darker (0): 1010... = 0xa per nibble.
    const img = synth(17, 16, 3, (x) => (x % 2 === 0 ? [255, 0, 0] : [0, 255, 0]));
    expect(dhashFromPixels(img)).toBe('a'.repeat(64));
    // Alpha is ignored, as in Pillow's RGBA -> L.
    const rgba = synth(17, 16, 4, (x) => (x % 2 === 0 ? [255, 0, 0, 0] : [0, 255, 0, 255]));
    expect(dhashFromPixels(rgba)).toBe('a'.repeat(64));
  });

  it('hash sizes whose bit count is not a multiple of 4 pad at the front, like int(bits, 2)', () => {
    // hashSize 3: a 4x3 image, 9 bits. Rows: rising (111), falling (000), up-down-up (101).
    const rows = [
      [1, 2, 3, 4],
      [4, 3, 2, 1],
      [0, 9, 5, 7],
    ];
    const img = synth(4, 3, 1, (x, y) => [rows[y]![x]!]);
    // bits 111000101 = 0x1c5, three hex digits
    expect(dhashFromPixels(img, 3)).toBe('1c5');
  });

  it('a flat image of any size hashes to all zeros (Lanczos keeps a constant)', () => {
    for (const [w, h] of [
      [640, 480],
      [5, 7],
      [17, 300],
      [300, 16],
    ] as const) {
      expect(dhashFromPixels(synth(w, h, 3, () => [90, 140, 200])), `${w}x${h}`).toBe('0'.repeat(64));
    }
  });

  it('rejects bad input with RangeError', () => {
    const img = synth(4, 3, 1, () => [0]);
    expect(() => dhashFromPixels(img, 1)).toThrow(RangeError);
    expect(() => dhashFromPixels({ ...img, data: new Uint8Array(5) })).toThrow(/pixel buffer/);
    expect(DHASH_SIZE).toBe(16);
  });
});

describe('Pillow arithmetic', () => {
  it('greyscale uses (R*19595 + G*38470 + B*7471 + 0x8000) >> 16', () => {
    const px: RawPixels = {
      data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]),
      width: 4,
      height: 1,
      channels: 3,
      colourspace: 'rgb',
    };
    expect(Array.from(pillowGreyscale(px))).toEqual([76, 150, 29, 255]);
  });

  it('CMYK to RGB uses nk - MULDIV255(X, nk)', () => {
    const cmyk = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 255, 128, 64, 255, 0, 128, 0, 0, 100]);
    // C=128, K=0: 255 - ((32768 >> 8) + 32768 >> 8) = 255 - 128 = 127; K=100: nk=155, 155 - 78 = 77
    expect(Array.from(pillowCmykToRgb(cmyk, 4))).toEqual([255, 255, 255, 0, 0, 0, 127, 191, 0, 77, 155, 155]);
  });

  it('Lanczos coefficients follow Resample.c (bounds, 22-bit weights summing to ~1)', () => {
    const c = lanczosCoeffs(34, 17); // scale 2: support 6, ksize ceil(6)*2+1 = 13
    expect(c.ksize).toBe(13);
    expect(Array.from(c.start.slice(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(c.taps.slice(0, 3))).toEqual([7, 9, 11]);
    for (let xx = 0; xx < 17; xx++) {
      let sum = 0;
      for (let k = 0; k < c.taps[xx]!; k++) sum += c.weights[xx * c.ksize + k]!;
      expect(Math.abs(sum - (1 << 22))).toBeLessThanOrEqual(c.taps[xx]!);
    }
  });

  it('resize skips an unchanged dimension and copies when nothing changes', () => {
    const grey = Uint8Array.from({ length: 17 * 16 }, (_, i) => (i * 37) % 256);
    expect(Array.from(pillowLanczosResize(grey, 17, 16, 17, 16))).toEqual(Array.from(grey));
    expect(() => pillowLanczosResize(grey, 17, 16, 0, 16)).toThrow(RangeError);
  });
});

describe('fast paths agree with the reference functions', () => {
  it('the hand-assembled WebAssembly SIMD kernel validates and is in use', () => {
    // Node 20 always has WebAssembly SIMD; if this fails the kernel bytes are broken and hashing silently runs ~8x slower in JS.
    expect(simdAvailable()).toBe(true);
  });

  it('SIMD, fused JS and pillowLanczosResize(pillowGreyscale()) give the same pixels on random images', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const kinds = [
      [1, 'grey'],
      [2, 'grey'],
      [3, 'rgb'],
      [4, 'rgb'],
      [4, 'cmyk'],
    ] as const;
    for (let t = 0; t < 300; t++) {
      // Mostly small, sometimes wide and tall enough for several bands of the SIMD path.
      const width = 1 + rnd(t % 10 === 0 ? 1500 : 90);
      const height = 1 + rnd(t % 10 === 0 ? 400 : 90);
      const [channels, colourspace] = kinds[rnd(kinds.length)]!;
      const data = new Uint8Array(width * height * channels);
      const style = rnd(3); // noise, black/white edges (clipping), smooth ramps
      for (let i = 0; i < data.length; i++)
        data[i] = style === 0 ? rnd(256) : style === 1 ? (rnd(2) ? 255 : 0) : (i * 7 + (i >> 5)) & 255;
      const px: RawPixels = { data, width, height, channels, colourspace };
      const outW = 1 + rnd(40);
      const outH = 1 + rnd(40);
      const label = `${width}x${height}x${channels} ${colourspace} -> ${outW}x${outH}`;
      const ref = Buffer.from(pillowLanczosResize(pillowGreyscale(px), width, height, outW, outH));
      expect(Buffer.from(pillowGreyResize(px, outW, outH)).equals(ref), label).toBe(true);
      expect(Buffer.from(pillowGreyResize(px, outW, outH, 'js')).equals(ref), label).toBe(true);
    }
  });
});

describe('hammingDistance', () => {
  it('counts differing bits', () => {
    expect(hammingDistance('00', '00')).toBe(0);
    expect(hammingDistance('0f', 'f0')).toBe(8);
    expect(hammingDistance('8000', '0001')).toBe(2);
    expect(hammingDistance('ABCD', 'abcd')).toBe(0);
  });

  it('throws RangeError naming the problem', () => {
    expect(() => hammingDistance('00', '000')).toThrow(/length/);
    expect(() => hammingDistance('0g', '00')).toThrow(/non-hex/);
    expect(() => hammingDistance('00', '0g')).toThrow(RangeError);
  });
});

describe('relativeDistance', () => {
  it('measures distance against the set bits of both hashes', () => {
    const zeros = '0'.repeat(64);
    const ones = 'f'.repeat(64);
    expect(setBits(zeros)).toBe(0);
    expect(setBits(ones)).toBe(256);
    expect(setBits('8' + '0'.repeat(62) + '1')).toBe(2);
    expect(relativeDistance(0, zeros, zeros)).toBe(0);
    // Two sparse hashes with disjoint bits: small in bits, as far apart as hashes can be relatively.
    expect(relativeDistance(2, '8' + '0'.repeat(63), '0'.repeat(63) + '1')).toBe(1);
    expect(relativeDistance(16, ones, ones)).toBeCloseTo(16 / 512);
  });
});
