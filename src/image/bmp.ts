// A BMP decoder: libvips (and so sharp) has no BMP loader, yet BMP is a raster format users still have.
// Pixel values follow Pillow's BmpImagePlugin so that hashes match imagehash.
import { AppError } from '../errors';
import type { RawPixels } from './decode';

export class BmpError extends AppError {
  override name = 'BmpError';
  readonly kind = 'unsupported-content';
}

const FILE_HEADER_BYTES = 14;
const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

export function isBmp(input: Uint8Array): boolean {
  return input.length >= 2 && input[0] === 0x42 && input[1] === 0x4d;
}

export interface BmpHeader {
  width: number;
  height: number;
  bitsPerPixel: number;
  compression: number;
  topDown: boolean;
  pixelOffset: number;
  headerSize: number;
}

export function readBmpHeader(input: Buffer): BmpHeader {
  if (!isBmp(input) || input.length < FILE_HEADER_BYTES + 12) throw new BmpError('BMP header is truncated');
  const headerSize = input.readUInt32LE(14);
  const pixelOffset = input.readUInt32LE(10);
  if (headerSize === 12) {
    // OS/2 BITMAPCOREHEADER: 16-bit dimensions, always bottom-up, uncompressed.
    return {
      headerSize,
      pixelOffset,
      width: input.readUInt16LE(18),
      height: input.readUInt16LE(20),
      bitsPerPixel: input.readUInt16LE(24),
      compression: BI_RGB,
      topDown: false,
    };
  }
  if (headerSize < 40 || input.length < FILE_HEADER_BYTES + 40)
    throw new BmpError(`BMP info header of ${headerSize} bytes is not supported`);
  const rawHeight = input.readInt32LE(22);
  return {
    headerSize,
    pixelOffset,
    width: input.readInt32LE(18),
    height: Math.abs(rawHeight),
    bitsPerPixel: input.readUInt16LE(28),
    compression: input.readUInt32LE(30),
    topDown: rawHeight < 0,
  };
}

/** Decodes uncompressed BMPs (1, 4, 8, 16, 24 and 32 bits, with or without bit fields). */
export function decodeBmp(input: Buffer, options: { limitInputPixels: number }): RawPixels {
  const header = readBmpHeader(input);
  const { width, height, bitsPerPixel, compression } = header;
  if (width <= 0 || height <= 0) throw new BmpError(`BMP dimensions ${width}x${height} are invalid`);
  if (width * height > options.limitInputPixels) {
    throw new BmpError(`BMP of ${width}x${height} pixels exceeds the pixel limit of ${options.limitInputPixels}`);
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw new BmpError(`BMP compression ${compression} (RLE or embedded JPEG/PNG) is not supported`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel))
    throw new BmpError(`BMP with ${bitsPerPixel} bits per pixel is not supported`);

  const rowBytes = Math.ceil((width * bitsPerPixel) / 32) * 4;
  if (header.pixelOffset + rowBytes * height > input.length) throw new BmpError('BMP pixel data is truncated');

  const palette = bitsPerPixel <= 8 ? readPalette(input, header) : undefined;
  const masks = bitsPerPixel === 16 || bitsPerPixel === 32 ? readMasks(input, header) : undefined;
  const hasAlpha = masks !== undefined && masks.alpha !== 0;
  const channels = hasAlpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);

  for (let y = 0; y < height; y++) {
    const sourceRow = header.topDown ? y : height - 1 - y;
    const rowStart = header.pixelOffset + sourceRow * rowBytes;
    let o = y * width * channels;
    for (let x = 0; x < width; x++, o += channels) {
      if (palette) {
        const perByte = 8 / bitsPerPixel;
        const byte = input[rowStart + Math.floor(x / perByte)]!;
        const shift = 8 - bitsPerPixel * ((x % perByte) + 1);
        const index = (byte >> shift) & ((1 << bitsPerPixel) - 1);
        const p = Math.min(index, palette.length / 3 - 1) * 3;
        out[o] = palette[p]!;
        out[o + 1] = palette[p + 1]!;
        out[o + 2] = palette[p + 2]!;
      } else if (bitsPerPixel === 24) {
        const i = rowStart + x * 3;
        out[o] = input[i + 2]!;
        out[o + 1] = input[i + 1]!;
        out[o + 2] = input[i]!;
      } else {
        const value = bitsPerPixel === 16 ? input.readUInt16LE(rowStart + x * 2) : input.readUInt32LE(rowStart + x * 4);
        const m = masks!;
        out[o] = scaleMasked(value, m.red);
        out[o + 1] = scaleMasked(value, m.green);
        out[o + 2] = scaleMasked(value, m.blue);
        if (hasAlpha) out[o + 3] = scaleMasked(value, m.alpha);
      }
    }
  }
  return { data: out, width, height, channels, colourspace: 'rgb' };
}

function readPalette(input: Buffer, header: BmpHeader): Uint8Array {
  const entryBytes = header.headerSize === 12 ? 3 : 4;
  const declared = header.headerSize >= 40 ? input.readUInt32LE(46) : 0;
  const count = declared > 0 ? Math.min(declared, 1 << header.bitsPerPixel) : 1 << header.bitsPerPixel;
  const start = FILE_HEADER_BYTES + header.headerSize;
  if (start + count * entryBytes > input.length) throw new BmpError('BMP palette is truncated');
  const rgb = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    const p = start + i * entryBytes;
    rgb[i * 3] = input[p + 2]!;
    rgb[i * 3 + 1] = input[p + 1]!;
    rgb[i * 3 + 2] = input[p]!;
  }
  return rgb;
}

interface Masks {
  red: number;
  green: number;
  blue: number;
  alpha: number;
}

function readMasks(input: Buffer, header: BmpHeader): Masks {
  if (header.compression === BI_RGB) {
    // Uncompressed 16-bit is 5-5-5; 32-bit is BGRX (Pillow reads it without alpha).
    return header.bitsPerPixel === 16
      ? { red: 0x7c00, green: 0x03e0, blue: 0x001f, alpha: 0 }
      : { red: 0x00ff0000, green: 0x0000ff00, blue: 0x000000ff, alpha: 0 };
  }
  // Masks follow a 40-byte header, or sit inside V2-V5 headers at the same offsets.
  const at = FILE_HEADER_BYTES + 40;
  if (at + 12 > input.length) throw new BmpError('BMP bit masks are truncated');
  const alphaPresent = header.compression === BI_ALPHABITFIELDS || header.headerSize >= 56;
  return {
    red: input.readUInt32LE(at),
    green: input.readUInt32LE(at + 4),
    blue: input.readUInt32LE(at + 8),
    alpha: alphaPresent && at + 16 <= input.length ? input.readUInt32LE(at + 12) : 0,
  };
}

function scaleMasked(value: number, mask: number): number {
  if (mask === 0) return 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  const component = (value & mask) >>> shift;
  return max === 255 ? component : Math.floor((component * 255) / max);
}
