// How a picture becomes the backbone's square input: the resize recipe of the plain view, shared by training,
// evaluation, the fused model's metadata and the endpoint. The default is the way ImageNet backbones were trained
// and evaluated (shorter side to 256, central 224 x 224; here 224/256 of the shorter side, scaled to any input size);
// squashing the whole picture to a square is the other candidate the recipe search may choose.
import { invalidArgument } from '../errors';

export type ViewResize =
  /** The central square of `cropFraction` of the shorter side, scaled to size x size (aspect kept, small images upscaled). */
  | { mode: 'centre-crop'; cropFraction: number }
  /** The whole picture stretched to size x size (aspect not kept). */
  | { mode: 'squash' };

/** torchvision's Resize(256) + CenterCrop(224), the ImageNet evaluation practice. */
export const CENTRE_CROP: Readonly<ViewResize> = { mode: 'centre-crop', cropFraction: 224 / 256 };
export const SQUASH: Readonly<ViewResize> = { mode: 'squash' };

/** A short stable name, for cache keys and reports: `centre-crop-0.875`, `squash`. */
export function resizeId(resize: ViewResize): string {
  return resize.mode === 'squash' ? 'squash' : `centre-crop-${Number(resize.cropFraction.toFixed(4))}`;
}

/** Validates a recipe read from a job, a pointer or model metadata; absent means `squash`, what models had before. */
export function parseViewResize(json: unknown, field = 'resize'): ViewResize {
  if (json === undefined || json === null) return { ...SQUASH };
  if (typeof json !== 'object' || Array.isArray(json))
    throw invalidArgument(field, 'an object such as {"mode":"centre-crop","cropFraction":0.875}', json);
  const { mode, cropFraction } = json as { mode?: unknown; cropFraction?: unknown };
  if (mode === 'squash') return { mode };
  if (mode !== 'centre-crop') throw invalidArgument(`${field}.mode`, '"centre-crop" or "squash"', mode);
  if (typeof cropFraction !== 'number' || !(cropFraction > 0 && cropFraction <= 1)) {
    throw invalidArgument(`${field}.cropFraction`, 'a number in (0, 1]', cropFraction);
  }
  return { mode, cropFraction };
}

/**
 * The square the whole plain view is first scaled to cover: the shorter side becomes round(size / cropFraction)
 * (256 for 224), then the central size x size is the view. For `squash`, size itself.
 */
export function plainResizeTarget(size: number, resize: ViewResize): number {
  return resize.mode === 'squash' ? size : Math.max(size, Math.round(size / resize.cropFraction));
}

/** In words, for the model's metadata: enough for any runtime to reproduce the input. */
export function describeResize(resize: ViewResize, size: number): string {
  if (resize.mode === 'squash') return `the whole picture resized straight to ${size}x${size} (aspect not kept)`;
  const target = plainResizeTarget(size, resize);
  return (
    `the picture resized, aspect kept, so that its shorter side is ${target} (round(${size} / ${resize.cropFraction})), ` +
    `then its central ${size}x${size} (left = floor((w' - ${target} + 1) / 2) + ${Math.floor((target - size) / 2)}, top ` +
    `likewise, for the resized w' x h'), as ImageNet models are ` +
    `evaluated; small pictures are upscaled`
  );
}
