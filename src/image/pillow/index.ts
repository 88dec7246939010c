// Pillow 9.4's pixel arithmetic, bit for bit (what imagehash's dHash computes): the one public entry to the
// plain-JS kernels (arithmetic.ts) and the WebAssembly SIMD kernel (simd.ts) that runs the hot path where it can.
import type { RawPixels } from '../decode';
import { checkResize, pillowGreyResizeJs } from './arithmetic';
import { pillowGreyResizeSimd } from './simd';

export {
  lanczosCoeffs,
  pillowCmykToRgb,
  pillowGreyscale,
  pillowLanczosResize,
  type ResampleCoeffs,
} from './arithmetic';
export { simdAvailable } from './simd';

/** Which implementation runs: `auto` the WebAssembly SIMD kernel where available, `js` always the plain JS path. */
export type PillowEngine = 'auto' | 'js';

/**
 * Pillow's `convert("L").resize((outWidth, outHeight), Image.LANCZOS)` in one go: the same
 * numbers as pillowLanczosResize(pillowGreyscale(pixels), ...), computed with the WebAssembly
 * SIMD kernel where available and the fused JS path otherwise (or when `engine` says so).
 */
export function pillowGreyResize(
  pixels: RawPixels,
  outWidth: number,
  outHeight: number,
  engine: PillowEngine = 'auto',
): Uint8Array {
  checkResize(pixels, outWidth, outHeight);
  // Without a horizontal pass the kernel has nothing to speed up.
  const useSimd = engine === 'auto' && outWidth !== pixels.width;
  const simd = useSimd ? pillowGreyResizeSimd(pixels, outWidth, outHeight) : null;
  return simd ?? pillowGreyResizeJs(pixels, outWidth, outHeight);
}
