/**
 * Decoding with sharp so that the pixels equal what Pillow 9.4 hands to imagehash:
 * full resolution (no shrink-on-load: it changes pixels), first frame, embedded ICC
 * profiles ignored (Pillow never applies them), EXIF orientation ignored (imagehash
 * does not transpose), and CMYK JPEGs kept as the stored C, M, Y, K (Pillow converts
 * them with its own arithmetic, see pillow/arithmetic.ts, not with a colour profile).
 */
import sharp from 'sharp';

import { readQuickHeader } from './imageHeader';

export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  colourspace: 'grey' | 'rgb' | 'cmyk';
}

export interface DecodeOptions {
  /** Passed to sharp's limitInputPixels: larger images are rejected before decoding. */
  limitInputPixels: number;
}

/** How to steer sharp's output colourspace for a given input. */
type Layout = 'grey' | 'cmyk' | 'default';

/**
 * Cheap header sniffing (microseconds) instead of a sharp metadata() round trip
 * (a second header parse on the thread pool) for the common formats.
 */
function sniffLayout(buf: Uint8Array): Layout | undefined {
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) {
    const n = readQuickHeader(buf)?.components;
    if (n === 1) return 'grey';
    if (n === 3) return 'default';
    if (n === 4) return 'cmyk'; // CMYK or YCCK: libjpeg hands back CMYK either way, as it does to Pillow
    return undefined;
  }
  const isPng =
    buf.length >= 26 &&
    buf[0] === 0x89 &&
    buf[1] === 0x50 &&
    buf[2] === 0x4e &&
    buf[3] === 0x47 &&
    buf[12] === 0x49 &&
    buf[13] === 0x48 &&
    buf[14] === 0x44 &&
    buf[15] === 0x52; // "IHDR"
  if (isPng) {
    // Colour type 0 (grey) stays one channel; grey+alpha (4) goes through the default
    // RGBA output so that its alpha is kept rather than dropped by a b-w conversion.
    return buf[25] === 0 ? 'grey' : 'default';
  }
  const isWebp =
    buf.length >= 12 &&
    buf[0] === 0x52 &&
    buf[1] === 0x49 &&
    buf[2] === 0x46 &&
    buf[3] === 0x46 && // RIFF
    buf[8] === 0x57 &&
    buf[9] === 0x45 &&
    buf[10] === 0x42 &&
    buf[11] === 0x50; // WEBP
  if (isWebp) return 'default'; // libwebp only produces RGB(A)
  return undefined;
}

/**
 * Full-resolution decode of the first frame as Pillow sees it: no ICC, no EXIF
 * rotation, CMYK kept as stored CMYK. Throws sharp's error on corrupt or truncated
 * input (failOn 'truncated': Pillow raises on a truncated file too, but tolerates the
 * libjpeg warnings that sharp's default 'warning' level would reject).
 *
 * 16-bit inputs come back as 8-bit (sharp's own conversion, which scales). Pillow opens a
 * 16-bit greyscale PNG as mode "I;16"/"I" and its convert("L") clips values above 255
 * instead of scaling, so imagehash's hashes of such files differ from ours (and are mostly
 * meaningless); 16-bit colour PNGs Pillow itself reduces to 8-bit RGB.
 */
export async function decodeLikePillow(input: Buffer, options: DecodeOptions): Promise<RawPixels> {
  const image = sharp(input, {
    failOn: 'truncated',
    limitInputPixels: options.limitInputPixels,
    ignoreIcc: true,
    autoOrient: false,
    sequentialRead: true,
    pages: 1,
    page: 0,
  });
  let layout = sniffLayout(input);
  if (layout === undefined) {
    const meta = await image.metadata();
    layout =
      meta.space === 'cmyk'
        ? 'cmyk'
        : (meta.space === 'b-w' || meta.space === 'grey16') && meta.channels === 1
          ? 'grey'
          : 'default';
  }
  if (layout === 'cmyk') {
    // Without this sharp converts CMYK to sRGB through a colour profile (slow, and not Pillow's numbers).
    image.pipelineColourspace('cmyk').toColourspace('cmyk');
  } else if (layout === 'grey') {
    // Keep one channel: the default sRGB output would triple the bytes for nothing.
    image.toColourspace('b-w');
  }
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  if (data.length !== info.width * info.height * channels) {
    throw new Error(
      `decoded ${data.length} bytes for ${info.width}x${info.height}x${channels}: 8-bit samples expected`,
    );
  }
  if (layout === 'cmyk' && channels !== 4) {
    throw new Error(`CMYK image decoded to ${channels} channels, 4 expected`);
  }
  return {
    data,
    width: info.width,
    height: info.height,
    channels,
    colourspace: layout === 'cmyk' ? 'cmyk' : channels <= 2 ? 'grey' : 'rgb',
  };
}
