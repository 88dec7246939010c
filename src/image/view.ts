// The views of an image that training and serving feed a backbone: the plain view (the preprocessing's region of
// the picture, by default its central 224/256 square, scaled to the input size), its mirror image, and augmented
// views (flips, a small rotation, a random crop, brightness and contrast) as one drawn Augmentation describes them.
import sharp, { type OutputInfo, type Sharp } from 'sharp';

import { decodeBmp, isBmp } from './bmp';
import { CENTRE_CROP, plainResizeTarget, type ViewResize } from './preprocessing';

/** One drawn augmentation. */
export interface Augmentation {
  flipHorizontal: boolean;
  flipVertical: boolean;
  rotationDeg: number;
  zoom: number;
  /** Where the zoomed crop sits, 0..1 along each axis of the room left around it. */
  cropX: number;
  cropY: number;
  brightness: number;
  contrast: number;
}

export const IDENTITY_AUGMENTATION: Readonly<Augmentation> = {
  flipHorizontal: false,
  flipVertical: false,
  rotationDeg: 0,
  zoom: 1,
  cropX: 0.5,
  cropY: 0.5,
  brightness: 1,
  contrast: 1,
};

/** An RGB view of `size` x `size`, as float32 NCHW values 0..255 (one image of a batch). */
export interface ImageView {
  size: number;
  data: Float32Array;
}

export interface RenderOptions {
  /** Default the identity: the plain view. */
  augmentation?: Augmentation;
  /** Side of the square view; default 224. */
  size?: number;
  /** How the picture becomes a square; default CENTRE_CROP. */
  resize?: ViewResize;
}

/**
 * Renders one view: EXIF orientation applied (training wants the picture upright), alpha removed, then the
 * augmentation, scaled and cropped to size x size as the resize recipe says. An augmented view is the picture
 * scaled as for the plain view, times the zoom, cropped anywhere (Resize(256) + RandomCrop(224), with zoom).
 */
export async function renderView(input: Buffer, options: RenderOptions = {}): Promise<ImageView> {
  const augmentation = options.augmentation ?? IDENTITY_AUGMENTATION;
  const size = options.size ?? 224;
  const resize = options.resize ?? CENTRE_CROP;
  if (isIdentity(augmentation)) {
    // The plain view (training's view 0, and every served image) in one pipeline that starts with the resize, so
    // that a JPEG or WebP is decoded already shrunk (a 12 MP photo at an eighth of its pixels). fastShrinkOnLoad off:
    // libvips then shrinks on load only as far as keeps the result within a fraction of a level of a full decode.
    const plain = decodeUpright(input).removeAlpha().toColourspace('srgb');
    const target = plainResizeTarget(size, resize);
    const resized =
      resize.mode === 'squash'
        ? plain.resize(size, size, { fit: 'fill', fastShrinkOnLoad: false })
        : plain.resize(target, target, { fit: 'cover', position: 'centre', fastShrinkOnLoad: false });
    const offset = Math.floor((target - size) / 2);
    const view = target === size ? resized : resized.extract({ left: offset, top: offset, width: size, height: size });
    return { size, data: toNchw(checkView(await view.raw().toBuffer({ resolveWithObject: true }), size), size) };
  }
  // Each step starts from raw pixels: sharp orders the operations of one pipeline its own way.
  let pixels = await decodeUpright(input)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const fromRaw = () =>
    sharp(pixels.data, { raw: { width: pixels.info.width, height: pixels.info.height, channels: 3 } });

  if (augmentation.rotationDeg !== 0) {
    // Rotate, then keep the largest upright rectangle inside the rotated picture: no filled corners.
    const inner = largestInscribedRectangle(
      pixels.info.width,
      pixels.info.height,
      (augmentation.rotationDeg * Math.PI) / 180,
    );
    const rotated = await fromRaw().rotate(augmentation.rotationDeg).raw().toBuffer({ resolveWithObject: true });
    const width = Math.min(inner.width, rotated.info.width);
    const height = Math.min(inner.height, rotated.info.height);
    const left = Math.floor((rotated.info.width - width) / 2);
    const top = Math.floor((rotated.info.height - height) / 2);
    pixels = await sharp(rotated.data, { raw: { width: rotated.info.width, height: rotated.info.height, channels: 3 } })
      .extract({ left, top, width, height })
      .raw()
      .toBuffer({ resolveWithObject: true });
  }
  // Scaled as the plain view is (shorter side to the resize target, or the whole picture to size x size), times the
  // zoom, then a size x size crop anywhere: Resize(256) + RandomCrop(224), with zoom. At zoom 1 and cropX = cropY =
  // 0.5 this is the plain view's crop, offsets rounded as libvips rounds its centre crop.
  const { width, height } = pixels.info;
  const target = plainResizeTarget(size, resize) * augmentation.zoom;
  const scale = resize.mode === 'squash' ? undefined : target / Math.min(width, height);
  const scaledWidth = Math.max(size, Math.round(scale === undefined ? target : width * scale));
  const scaledHeight = Math.max(size, Math.round(scale === undefined ? target : height * scale));
  const left = Math.min(scaledWidth - size, Math.floor((scaledWidth - size + 1) * augmentation.cropX));
  const top = Math.min(scaledHeight - size, Math.floor((scaledHeight - size + 1) * augmentation.cropY));
  let image = sharp(await fromRaw().resize(scaledWidth, scaledHeight, { fit: 'fill' }).raw().toBuffer(), {
    raw: { width: scaledWidth, height: scaledHeight, channels: 3 },
  });
  if (left !== 0 || top !== 0 || scaledWidth !== size || scaledHeight !== size)
    image = image.extract({ left, top, width: size, height: size });
  if (augmentation.flipHorizontal) image = image.flop();
  if (augmentation.flipVertical) image = image.flip();
  if (augmentation.brightness !== 1 || augmentation.contrast !== 1) {
    // Contrast around mid-grey, then brightness as a gain: v' = ((v - 128) * c + 128) * b.
    const gain = augmentation.contrast * augmentation.brightness;
    image = image.linear(gain, (128 - 128 * augmentation.contrast) * augmentation.brightness);
  }
  return { size, data: toNchw(checkView(await image.raw().toBuffer({ resolveWithObject: true }), size), size) };
}

/**
 * The view mirrored left to right, value for value: training's mirror view, and exactly what the fused model's
 * test-time augmentation computes from the plain view (a Slice with step -1), so trainer and endpoint agree.
 */
export function mirrorView(view: ImageView): ImageView {
  const { size, data } = view;
  const out = new Float32Array(data.length);
  for (let row = 0; row < data.length; row += size) {
    for (let x = 0; x < size; x++) out[row + x] = data[row + size - 1 - x]!;
  }
  return { size, data: out };
}

/** Changes whenever views come out differently, so that cached features of older views are not reused. */
export const VIEW_VERSION = 'v4';

function isIdentity(a: Augmentation): boolean {
  return (
    !a.flipHorizontal &&
    !a.flipVertical &&
    a.rotationDeg === 0 &&
    a.zoom === 1 &&
    a.brightness === 1 &&
    a.contrast === 1
  );
}

function checkView(output: { data: Buffer; info: OutputInfo }, size: number): Buffer {
  const { info } = output;
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(`view came out ${info.width}x${info.height}x${info.channels}, not ${size}x${size}x3`);
  }
  return output.data;
}

/** The picture upright; BMP through our own decoder, since libvips has none (ingest accepts BMP). Thumbnails too. */
export function decodeUpright(input: Buffer): Sharp {
  if (isBmp(input)) {
    const bmp = decodeBmp(input, { limitInputPixels: 268_402_689 });
    return sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: bmp.channels } });
  }
  return sharp(input, { failOn: 'truncated' }).autoOrient();
}

/** The largest axis-aligned rectangle of the original's aspect inside a w x h picture rotated by `angle`. */
export function largestInscribedRectangle(
  width: number,
  height: number,
  angle: number,
): { width: number; height: number } {
  const sin = Math.abs(Math.sin(angle));
  const cos = Math.abs(Math.cos(angle));
  // Scale s so that the scaled rectangle (s·w, s·h), rotated back, fits in w x h.
  const scale = Math.min(width / (width * cos + height * sin), height / (width * sin + height * cos));
  return { width: Math.max(1, Math.floor(width * scale)), height: Math.max(1, Math.floor(height * scale)) };
}

function toNchw(rgb: Uint8Array, size: number): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0, p = 0; p < plane; p++, i += 3) {
    out[p] = rgb[i]!;
    out[plane + p] = rgb[i + 1]!;
    out[2 * plane + p] = rgb[i + 2]!;
  }
  return out;
}
