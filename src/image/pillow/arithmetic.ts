/**
 * The plain-JS kernels behind pillow/index.ts (and the reference the WebAssembly kernel is checked against):
 * Pillow 9.4's pixel arithmetic, reproduced bit for bit so that our dHash equals
 * Python's `imagehash.dhash` (which is `convert("L").resize(..., LANCZOS)`).
 * Pure functions: no sharp, no I/O. Sources mirrored: libImaging/Convert.c
 * (rgb2l, cmyk2rgb) and libImaging/Resample.c (precompute_coeffs,
 * normalize_coeffs_8bpc, ImagingResample{Horizontal,Vertical}_8bpc, ImagingResampleInner).
 */
import type { RawPixels } from '../decode';

/** Pillow's fixed-point precision for 8-bit resampling coefficients. */
export const PRECISION_BITS = 22;
export const HALF = 1 << (PRECISION_BITS - 1);
/** clip8: anything at or above 256 << 22 saturates to 255. */
export const CLIP_HIGH = 1 << (PRECISION_BITS + 8);
const LANCZOS_SUPPORT = 3;

/** Pillow's MULDIV255: a*b/255 rounded, using its shift trick (not exact division). */
function muldiv255(a: number, b: number): number {
  const tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

/** One channel of Pillow's cmyk2rgb: `CLIP8(nk - MULDIV255(x, nk))` with nk = 255 - K. */
export function pillowCmykChannel(x: number, k: number): number {
  const nk = 255 - k;
  const v = nk - muldiv255(x, nk);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Pillow's `Image.convert("RGB")` of a CMYK image (stored, non-inverted C, M, Y, K
 * as Pillow holds them after decoding). Returns packed RGB, 3 bytes per pixel.
 */
export function pillowCmykToRgb(cmyk: Uint8Array, pixelCount: number): Uint8Array {
  if (cmyk.length < pixelCount * 4) {
    throw new RangeError(`CMYK buffer holds ${cmyk.length} bytes, ${pixelCount * 4} needed`);
  }
  const out = new Uint8Array(pixelCount * 3);
  for (let i = 0, o = 0, p = 0; p < pixelCount; p++, i += 4, o += 3) {
    const k = cmyk[i + 3]!;
    out[o] = pillowCmykChannel(cmyk[i]!, k);
    out[o + 1] = pillowCmykChannel(cmyk[i + 1]!, k);
    out[o + 2] = pillowCmykChannel(cmyk[i + 2]!, k);
  }
  return out;
}

let cmykLut: Uint8Array | undefined;

/** pillowCmykChannel for every (K, X) as `[K << 8 | X]`: 64 KiB, built on first CMYK image. */
function cmykTable(): Uint8Array {
  if (!cmykLut) {
    cmykLut = new Uint8Array(65536);
    for (let k = 0; k < 256; k++) for (let x = 0; x < 256; x++) cmykLut[(k << 8) | x] = pillowCmykChannel(x, k);
  }
  return cmykLut;
}

function checkPixels(pixels: RawPixels): void {
  const { data, width, height, channels, colourspace } = pixels;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size ${width}x${height} is not a positive integer size`);
  }
  if (data.length < width * height * channels) {
    throw new RangeError(`pixel buffer holds ${data.length} bytes, ${width}x${height}x${channels} needed`);
  }
  if (colourspace === 'cmyk' && channels !== 4) {
    throw new RangeError(`cmyk pixels need 4 channels, got ${channels}`);
  }
  if (colourspace === 'rgb' && channels < 3) {
    throw new RangeError(`rgb pixels need 3 or 4 channels, got ${channels}`);
  }
}

/**
 * Converts `count` pixels starting at pixel `start` to Pillow's L into `out` at `outOffset`:
 * `(R*19595 + G*38470 + B*7471 + 0x8000) >> 16`, ITU-R 601-2 luma in Pillow's 16-bit integer weights.
 * Shared by the whole-image conversion and the fused paths (pillowGreyResize).
 */
export function greyscaleSpan(
  pixels: RawPixels,
  start: number,
  count: number,
  out: Uint8Array,
  outOffset: number,
): void {
  const { data, channels, colourspace } = pixels;
  let i = start * channels;
  const end = outOffset + count;
  if (colourspace === 'cmyk') {
    const t = cmykTable();
    for (let o = outOffset; o < end; o++, i += 4) {
      const row = data[i + 3]! << 8;
      out[o] =
        (t[row + data[i]!]! * 19595 + t[row + data[i + 1]!]! * 38470 + t[row + data[i + 2]!]! * 7471 + 0x8000) >> 16;
    }
  } else if (channels >= 3) {
    // RGB or RGBA: Pillow's rgba2l ignores alpha, exactly like rgb2l.
    for (let o = outOffset; o < end; o++, i += channels) {
      out[o] = (data[i]! * 19595 + data[i + 1]! * 38470 + data[i + 2]! * 7471 + 0x8000) >> 16;
    }
  } else if (channels === 1) {
    out.set(data.subarray(i, i + count), outOffset);
  } else {
    // LA: Pillow's la2l keeps the L channel.
    for (let o = outOffset; o < end; o++, i += 2) out[o] = data[i]!;
  }
}

/** Pillow's `Image.convert("L")` for the decoded pixel layouts we produce. */
export function pillowGreyscale(pixels: RawPixels): Uint8Array {
  checkPixels(pixels);
  const n = pixels.width * pixels.height;
  const out = new Uint8Array(n);
  greyscaleSpan(pixels, 0, n, out, 0);
  return out;
}

// Math.sin (V8's fdlibm port) and glibc's sin may differ in the last bit; that could only flip a
// 22-bit coefficient sitting exactly on a rounding boundary, and the golden tests show it does not.
function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczos(x: number): number {
  return -LANCZOS_SUPPORT <= x && x < LANCZOS_SUPPORT ? sinc(x) * sinc(x / 3) : 0;
}

/** Fixed-point Lanczos coefficients for one axis, laid out as Pillow does (ksize slots per output). */
export interface ResampleCoeffs {
  readonly inSize: number;
  readonly outSize: number;
  readonly ksize: number;
  /** xmin per output. */
  readonly start: Int32Array;
  /** Number of taps per output (Pillow's `xmax` after `xmax -= xmin`). */
  readonly taps: Int32Array;
  /** outSize * ksize fixed-point weights. */
  readonly weights: Int32Array;
}

const coeffCache = new Map<number, ResampleCoeffs>();

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for a whole-image box. Cached: image sizes repeat. */
export function lanczosCoeffs(inSize: number, outSize: number): ResampleCoeffs {
  const key = inSize * 65536 + outSize;
  const cached = outSize < 65536 ? coeffCache.get(key) : undefined;
  if (cached) return cached;

  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = LANCZOS_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const taps = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero before the clamp.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      weights[base + x] =
        v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    taps[xx] = xmax;
  }
  const coeffs: ResampleCoeffs = { inSize, outSize, ksize, start, taps, weights };
  if (outSize < 65536) {
    // Bounded: a dataset has few distinct sizes, but keep a hostile stream from growing it forever.
    if (coeffCache.size > 4096) coeffCache.clear();
    coeffCache.set(key, coeffs);
  }
  return coeffs;
}

/** Pillow's clip8 on a biased fixed-point sum. */
function clip8(ss: number): number {
  return ss >= CLIP_HIGH ? 255 : ss <= 0 ? 0 : ss >> PRECISION_BITS;
}

/**
 * Horizontal 8-bit pass over one row: `src[srcOffset .. srcOffset + inSize)` into
 * `dst[dstOffset .. dstOffset + outSize)`.
 */
export function resampleRow(
  src: Uint8Array,
  srcOffset: number,
  c: ResampleCoeffs,
  dst: Uint8Array,
  dstOffset: number,
): void {
  const { outSize, ksize, start, taps, weights } = c;
  for (let xx = 0; xx < outSize; xx++) {
    const n = taps[xx]!;
    const s = srcOffset + start[xx]!;
    const kb = xx * ksize;
    let ss = HALF;
    for (let x = 0; x < n; x++) ss += src[s + x]! * weights[kb + x]!;
    dst[dstOffset + xx] = clip8(ss);
  }
}

/** Vertical 8-bit pass: `src` is `width` wide with row 0 = source row `rowShift`. */
export function resampleColumns(src: Uint8Array, width: number, rowShift: number, c: ResampleCoeffs): Uint8Array {
  const { outSize, ksize, start, taps, weights } = c;
  const out = new Uint8Array(width * outSize);
  for (let yy = 0; yy < outSize; yy++) {
    const n = taps[yy]!;
    const y0 = start[yy]! - rowShift;
    const kb = yy * ksize;
    for (let xx = 0; xx < width; xx++) {
      let ss = HALF;
      for (let y = 0; y < n; y++) ss += src[(y0 + y) * width + xx]! * weights[kb + y]!;
      out[yy * width + xx] = clip8(ss);
    }
  }
  return out;
}

/** The source rows [first, last) that the vertical pass reads (Pillow's ybox_first / ybox_last). */
export function rowsNeeded(c: ResampleCoeffs): { first: number; last: number } {
  const n = c.outSize;
  return { first: c.start[0]!, last: c.start[n - 1]! + c.taps[n - 1]! };
}

/**
 * Pillow's `Image.resize((outWidth, outHeight), Image.LANCZOS)` on an L image: separable,
 * horizontal first over only the rows the vertical pass reads, 8-bit intermediate, and each
 * pass skipped when its dimension is unchanged (need_horizontal / need_vertical).
 */
export function pillowLanczosResize(
  grey: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  if (![width, height, outWidth, outHeight].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RangeError(`resize ${width}x${height} -> ${outWidth}x${outHeight}: sizes must be positive integers`);
  }
  if (grey.length < width * height) {
    throw new RangeError(`greyscale buffer holds ${grey.length} bytes, ${width}x${height} needed`);
  }
  const needH = outWidth !== width;
  const needV = outHeight !== height;
  if (!needH && !needV) return grey.slice(0, width * height);

  let img = grey;
  let rowShift = 0;
  const vc = needV ? lanczosCoeffs(height, outHeight) : undefined;
  if (needH) {
    const hc = lanczosCoeffs(width, outWidth);
    // Pillow computes ybox from the vertical coefficients even when only the horizontal pass runs;
    // then outHeight === height and the box is the full image.
    const { first, last } = vc ? rowsNeeded(vc) : { first: 0, last: height };
    const tmp = new Uint8Array(outWidth * (last - first));
    for (let y = first; y < last; y++) resampleRow(grey, y * width, hc, tmp, (y - first) * outWidth);
    img = tmp;
    rowShift = first;
  }
  if (!vc) return img;
  return resampleColumns(img, needH ? outWidth : width, rowShift, vc);
}

/** Row scratch for the JS fused path: hashing is synchronous, so one buffer per thread suffices. */
let rowScratch = new Uint8Array(0);

export function checkResize(pixels: RawPixels, outWidth: number, outHeight: number): void {
  checkPixels(pixels);
  if (!Number.isInteger(outWidth) || !Number.isInteger(outHeight) || outWidth < 1 || outHeight < 1) {
    throw new RangeError(`output size ${outWidth}x${outHeight} is not a positive integer size`);
  }
}

/**
 * The same numbers as `pillowLanczosResize(pillowGreyscale(pixels), ...)`, in plain JS, with the
 * greyscale conversion fused into the horizontal pass: each needed source row is converted into
 * a scratch row and resampled at once, so no full-size greyscale image is allocated and rows the
 * vertical pass never reads are never converted. The fallback when WebAssembly SIMD is missing.
 */
export function pillowGreyResizeJs(pixels: RawPixels, outWidth: number, outHeight: number): Uint8Array {
  checkResize(pixels, outWidth, outHeight);
  const { data, width, height, channels } = pixels;
  const needH = outWidth !== width;
  const vc = outHeight !== height ? lanczosCoeffs(height, outHeight) : undefined;
  const { first, last } = vc ? rowsNeeded(vc) : { first: 0, last: height };
  const rowWidth = needH ? outWidth : width;
  const tmp = new Uint8Array(rowWidth * (last - first));
  if (needH) {
    const hc = lanczosCoeffs(width, outWidth);
    const direct = channels === 1; // already L: resample straight from the decoded buffer
    if (!direct && rowScratch.length < width) rowScratch = new Uint8Array(width);
    for (let y = first; y < last; y++) {
      if (direct) {
        resampleRow(data, y * width, hc, tmp, (y - first) * outWidth);
      } else {
        greyscaleSpan(pixels, y * width, width, rowScratch, 0);
        resampleRow(rowScratch, 0, hc, tmp, (y - first) * outWidth);
      }
    }
  } else {
    greyscaleSpan(pixels, first * width, (last - first) * width, tmp, 0);
  }
  return vc ? resampleColumns(tmp, rowWidth, first, vc) : tmp;
}
