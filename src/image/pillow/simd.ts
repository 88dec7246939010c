// The WebAssembly SIMD path of Pillow's greyscale + Lanczos resize (what dHash runs): a hand-assembled kernel
// for the two hot loops, computing the same integers as the plain JS of arithmetic.ts. index.ts picks between them.
import type { RawPixels } from '../decode';
import {
  CLIP_HIGH,
  greyscaleSpan,
  HALF,
  lanczosCoeffs,
  PRECISION_BITS,
  type ResampleCoeffs,
  resampleColumns,
  rowsNeeded,
} from './arithmetic';

/* ------------------------------------------------------------------------------------------
 * WebAssembly SIMD kernel for the two hot loops (greyscale of RGB/RGBA and the horizontal
 * pass: about 7 integer multiply-adds per source pixel, which V8 runs at ~1 ns each). It is
 * hand-assembled below so that the project needs no WebAssembly toolchain; every value it
 * computes is exact integer arithmetic identical to arithmetic.ts (the golden tests and the
 * JS-vs-WASM equality test guard that).
 *
 * grey(src, dst, count, stride4, mask): 4 pixels per step. Two byte swizzles turn 4 RGB(A)
 * pixels into i16 pairs (R, B) and i32 lanes G; i32x4.dot_i16x8_s gives R*19595 + B*7471,
 * i32x4.mul adds G*38470 (38470 does not fit in i16), + 0x8000, and a swizzle picks byte 2
 * of each lane, i.e. `>> 16`. Every intermediate is below 2^24.
 *
 * hpass(grey, width, rows, outW, tab, wts, k8, out): per output, 8 taps per step. A 22-bit
 * weight w is split as (w >> 11) * 2048 + (w & 2047) so both halves fit i16 lanes of
 * i32x4.dot_i16x8_s; the lane sums recombine as (hi << 11) + lo, exactly Pillow's sum (which
 * stays far from 2^31 for 8-bit input). Taps are padded to a multiple of 8 with zero weights.
 * ---------------------------------------------------------------------------------------- */

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

// Opcodes used (core and 0xFD-prefixed SIMD), named as in the WebAssembly text format.
const I32 = 0x7f;
const V128 = 0x7b;
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const tee = (i: number): number[] => [0x22, i];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, d],
  brIf: (d: number) => [0x0d, d],
  select: [0x1b],
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  i32Store8: [0x3a, 0, 0],
  i32Eqz: [0x45],
  i32LtS: [0x48],
  i32GtS: [0x4a],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  i32ShrS: [0x75],
  v128Load: (offset: number) => [0xfd, 0x00, 0, ...uleb(offset)],
  v128Load8x8U: [0xfd, 0x02, 0, 0],
  v128Const: (bytes: number[]) => [0xfd, 0x0c, ...bytes],
  i8x16Swizzle: [0xfd, 0x0e],
  i32x4Splat: [0xfd, 0x11],
  i32x4ExtractLane: (lane: number) => [0xfd, 0x1b, lane],
  v128Store32Lane: [0xfd, 0x5a, 0, 0, 0],
  i32x4Shl: [0xfd, 0xab, 0x01],
  i32x4Add: [0xfd, 0xae, 0x01],
  i32x4Mul: [0xfd, 0xb5, 0x01],
  i32x4DotI16x8S: [0xfd, 0xba, 0x01],
};

function i16x8Bytes(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, (v >> 8) & 0xff]);
}

function greyBody(): number[] {
  // params: 0 src, 1 dst, 2 count, 3 stride4, 4 mask; locals: 5 end, 6 mRB, 7 mG, 8 mOut, 9 cRB, 10 c38470, 11 bias, 12 v
  const Z = 0x80; // swizzle index out of range: yields 0
  return [
    ...[2, 1, I32, 7, V128],
    ...get(1),
    ...get(2),
    ...op.i32Add,
    ...set(5),
    ...get(4),
    ...op.v128Load(0),
    ...set(6),
    ...get(4),
    ...op.v128Load(16),
    ...set(7),
    ...op.v128Const([2, 6, 10, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z]),
    ...set(8),
    ...op.v128Const(i16x8Bytes([19595, 7471, 19595, 7471, 19595, 7471, 19595, 7471])),
    ...set(9),
    ...i32c(38470),
    ...op.i32x4Splat,
    ...set(10),
    ...i32c(0x8000),
    ...op.i32x4Splat,
    ...set(11),
    ...op.block,
    ...op.loop,
    ...get(1),
    ...get(5),
    ...op.i32GeU,
    ...op.brIf(1),
    ...get(1),
    ...get(0),
    ...op.v128Load(0),
    ...tee(12),
    ...get(6),
    ...op.i8x16Swizzle,
    ...get(9),
    ...op.i32x4DotI16x8S,
    ...get(12),
    ...get(7),
    ...op.i8x16Swizzle,
    ...get(10),
    ...op.i32x4Mul,
    ...op.i32x4Add,
    ...get(11),
    ...op.i32x4Add,
    ...get(8),
    ...op.i8x16Swizzle,
    ...op.v128Store32Lane,
    ...get(0),
    ...get(3),
    ...op.i32Add,
    ...set(0),
    ...get(1),
    ...i32c(4),
    ...op.i32Add,
    ...set(1),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.end,
  ];
}

function hpassBody(): number[] {
  // params: 0 grey, 1 width, 2 rows, 3 outW, 4 tab, 5 wts, 6 k8, 7 out
  // locals: 8 (unused), 9 xx, 10 p, 11 nb, 12 w, 13 ss, 14 rowp, 15 accLo, 16 accHi, 17 px
  return [
    ...[2, 7, I32, 3, V128],
    ...get(0),
    ...set(14),
    ...op.block,
    ...op.loop,
    ...get(2),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...i32c(0),
    ...set(9),
    ...op.block,
    ...op.loop,
    ...get(9),
    ...get(3),
    ...op.i32GeU,
    ...op.brIf(1),
    // p = rowp + tab[xx].start; nb = tab[xx].blocks; w = wts + xx * k8
    ...get(14),
    ...get(4),
    ...get(9),
    ...i32c(3),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.i32Load(0),
    ...op.i32Add,
    ...set(10),
    ...get(4),
    ...get(9),
    ...i32c(3),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.i32Load(4),
    ...set(11),
    ...get(5),
    ...get(9),
    ...get(6),
    ...op.i32Mul,
    ...op.i32Add,
    ...set(12),
    ...op.v128Const(new Array<number>(16).fill(0)),
    ...tee(15),
    ...set(16),
    ...op.block,
    ...op.loop,
    ...get(11),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...get(10),
    ...op.v128Load8x8U,
    ...set(17),
    ...get(15),
    ...get(17),
    ...get(12),
    ...op.v128Load(0),
    ...op.i32x4DotI16x8S,
    ...op.i32x4Add,
    ...set(15),
    ...get(16),
    ...get(17),
    ...get(12),
    ...op.v128Load(16),
    ...op.i32x4DotI16x8S,
    ...op.i32x4Add,
    ...set(16),
    ...get(10),
    ...i32c(8),
    ...op.i32Add,
    ...set(10),
    ...get(12),
    ...i32c(32),
    ...op.i32Add,
    ...set(12),
    ...get(11),
    ...i32c(1),
    ...op.i32Sub,
    ...set(11),
    ...op.br(0),
    ...op.end,
    ...op.end,
    // ss = sum of lanes of (accHi << 11) + accLo, plus Pillow's rounding bias
    ...get(16),
    ...i32c(11),
    ...op.i32x4Shl,
    ...get(15),
    ...op.i32x4Add,
    ...tee(15),
    ...op.i32x4ExtractLane(0),
    ...get(15),
    ...op.i32x4ExtractLane(1),
    ...op.i32Add,
    ...get(15),
    ...op.i32x4ExtractLane(2),
    ...op.i32Add,
    ...get(15),
    ...op.i32x4ExtractLane(3),
    ...op.i32Add,
    ...i32c(HALF),
    ...op.i32Add,
    ...set(13),
    // out[xx] = clip8(ss)
    ...get(7),
    ...get(9),
    ...op.i32Add,
    ...get(13),
    ...i32c(PRECISION_BITS),
    ...op.i32ShrS,
    ...i32c(0),
    ...get(13),
    ...i32c(0),
    ...op.i32GtS,
    ...op.select,
    ...i32c(255),
    ...get(13),
    ...i32c(CLIP_HIGH),
    ...op.i32LtS,
    ...op.select,
    ...op.i32Store8,
    ...get(9),
    ...i32c(1),
    ...op.i32Add,
    ...set(9),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...get(7),
    ...get(3),
    ...op.i32Add,
    ...set(7),
    ...get(14),
    ...get(1),
    ...op.i32Add,
    ...set(14),
    ...get(2),
    ...i32c(1),
    ...op.i32Sub,
    ...set(2),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.end,
  ];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

/** The kernel module's bytes. */
export function simdKernelBytes(): Uint8Array {
  const bodies = [greyBody(), hpassBody()].map((b) => [...uleb(b.length), ...b]);
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [2, 0x60, 5, I32, I32, I32, I32, I32, 0, 0x60, 8, I32, I32, I32, I32, I32, I32, I32, I32, 0]),
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [3, ...name('mem'), 2, 0, ...name('grey'), 0, 0, ...name('hpass'), 0, 1]),
    ...section(10, [2, ...bodies.flat()]),
  ]);
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface SimdKernel {
  memory: WasmMemory;
  grey: (src: number, dst: number, count: number, stride4: number, mask: number) => void;
  hpass: (
    grey: number,
    width: number,
    rows: number,
    outW: number,
    tab: number,
    wts: number,
    k8: number,
    out: number,
  ) => void;
}

/** The slice of the WebAssembly API used here (the project's lib settings do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

/** Swizzle masks at address 0: RGB (R,B pairs; G lanes) then RGBA. */
const MASKS = (() => {
  const Z = 0x80;
  const rb = (stride: number) => [0, 1, 2, 3].flatMap((p) => [p * stride, Z, p * stride + 2, Z]);
  const g = (stride: number) => [0, 1, 2, 3].flatMap((p) => [p * stride + 1, Z, Z, Z]);
  return Uint8Array.from([...rb(3), ...g(3), ...rb(4), ...g(4)]);
})();
const MASK_RGB = 0;
const MASK_RGBA = 32;

let kernel: SimdKernel | null | undefined;

/** The kernel, or null where WebAssembly SIMD is unavailable (then the JS path runs). */
function simdKernel(): SimdKernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = simdKernelBytes();
    if (wasm && wasm.validate(bytes)) {
      const e = new wasm.Instance(new wasm.Module(bytes)).exports;
      const k: SimdKernel = {
        memory: e['mem'] as WasmMemory,
        grey: e['grey'] as SimdKernel['grey'],
        hpass: e['hpass'] as SimdKernel['hpass'],
      };
      new Uint8Array(k.memory.buffer).set(MASKS, 0);
      kernel = k;
    }
  } catch {
    kernel = null;
  }
  return kernel;
}

/** Whether the WebAssembly SIMD path is in use on this thread. */
export function simdAvailable(): boolean {
  return simdKernel() !== null;
}

/** Horizontal coefficients in the kernel's layout: tab (start, blocks) per output, then split weights. */
interface SimdCoeffs {
  tab: Int32Array;
  /** outSize * k8 bytes: per output, blocks of [lo i16x8][hi i16x8]. */
  wts: Uint8Array;
  k8: number;
}

const simdCoeffCache = new Map<ResampleCoeffs, SimdCoeffs>();

function simdCoeffs(c: ResampleCoeffs): SimdCoeffs {
  const hit = simdCoeffCache.get(c);
  if (hit) return hit;
  let maxBlocks = 0;
  for (let xx = 0; xx < c.outSize; xx++) maxBlocks = Math.max(maxBlocks, Math.ceil(c.taps[xx]! / 8));
  const k8 = maxBlocks * 32;
  const tab = new Int32Array(c.outSize * 2);
  const wts = new Uint8Array(c.outSize * k8);
  const view = new DataView(wts.buffer);
  for (let xx = 0; xx < c.outSize; xx++) {
    const n = c.taps[xx]!;
    tab[xx * 2] = c.start[xx]!;
    tab[xx * 2 + 1] = Math.ceil(n / 8);
    for (let k = 0; k < n; k++) {
      const w = c.weights[xx * c.ksize + k]!;
      const at = xx * k8 + (k >> 3) * 32 + (k & 7) * 2;
      view.setInt16(at, w & 2047, true);
      view.setInt16(at + 16, w >> 11, true);
    }
  }
  const out = { tab, wts, k8 };
  if (simdCoeffCache.size > 4096) simdCoeffCache.clear();
  simdCoeffCache.set(c, out);
  return out;
}

const align16 = (n: number): number => (n + 15) & ~15;
/** Source bytes converted per kernel call: rows go through in bands that stay in cache and keep the WebAssembly memory small. */
const BAND_BYTES = 1 << 19;
/** Sanity bound on the WebAssembly memory (only a pathologically tall image gets near it): beyond it, the JS path. */
const SIMD_MAX_BYTES = 1 << 28;

/**
 * The greyscale + Lanczos resize with the kernel, or null where WebAssembly SIMD is unavailable or the image
 * would need more kernel memory than SIMD_MAX_BYTES (the caller then runs the JS path). The caller checks the
 * arguments.
 */
export function pillowGreyResizeSimd(pixels: RawPixels, outWidth: number, outHeight: number): Uint8Array | null {
  const k = simdKernel();
  if (k === null) return null;
  const { data, width, height, channels, colourspace } = pixels;
  const vc = outHeight !== height ? lanczosCoeffs(height, outHeight) : undefined;
  const { first, last } = vc ? rowsNeeded(vc) : { first: 0, last: height };
  const rows = last - first;
  const hc = simdCoeffs(lanczosCoeffs(width, outWidth));
  const viaKernel = colourspace === 'rgb' && (channels === 3 || channels === 4);
  const band = Math.max(1, Math.min(rows, Math.floor(BAND_BYTES / (width * channels))));

  const tabPtr = MASKS.length;
  const wtsPtr = align16(tabPtr + hc.tab.byteLength);
  const outPtr = align16(wtsPtr + hc.wts.length);
  const inPtr = align16(outPtr + rows * outWidth);
  const inBytes = viaKernel ? band * width * channels + 32 : 0; // + overread of the last 16-byte load
  const greyPtr = align16(inPtr + inBytes);
  const total = greyPtr + band * width + 32; // + 4-pixel write granularity and 8-tap overread
  if (total > SIMD_MAX_BYTES) return null;
  if (k.memory.buffer.byteLength < total) k.memory.grow(Math.ceil((total - k.memory.buffer.byteLength) / 65536));
  const mem = new Uint8Array(k.memory.buffer);

  new Int32Array(k.memory.buffer, tabPtr, hc.tab.length).set(hc.tab);
  mem.set(hc.wts, wtsPtr);
  for (let y0 = first; y0 < last; y0 += band) {
    const n = Math.min(band, last - y0);
    if (viaKernel) {
      mem.set(data.subarray(y0 * width * channels, (y0 + n) * width * channels), inPtr);
      k.grey(inPtr, greyPtr, n * width, channels * 4, channels === 3 ? MASK_RGB : MASK_RGBA);
    } else if (channels === 1) {
      mem.set(data.subarray(y0 * width, (y0 + n) * width), greyPtr);
    } else {
      greyscaleSpan(pixels, y0 * width, n * width, mem, greyPtr);
    }
    mem.fill(0, greyPtr + n * width, greyPtr + n * width + 32); // the padded taps read zeros, not stale bytes
    k.hpass(greyPtr, width, n, outWidth, tabPtr, wtsPtr, hc.k8, outPtr + (y0 - first) * outWidth);
  }
  const tmp = mem.subarray(outPtr, outPtr + rows * outWidth);
  return vc ? resampleColumns(tmp, outWidth, first, vc) : tmp.slice();
}
