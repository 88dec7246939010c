// Decides whether a file is a usable raster photo, reading its header before any pixel is decoded.
import sharp, { type Metadata } from 'sharp';

import type { IngestSettings } from '../config';
import { AppError, type ErrorKind, messageOf } from '../errors';
import { decodeBmp, isBmp, readBmpHeader } from '../image/bmp';
import { decodeLikePillow, type RawPixels } from '../image/decode';
import { type FileTypeBrands, isSvg, readFileTypeBrands, readQuickHeader } from '../image/imageHeader';
import type { PixelBudget } from '../util/pixelBudget';

export type RejectionCode =
  | 'invalid-name'
  | 'empty-file'
  | 'file-too-large'
  | 'not-an-image'
  | 'unsupported-format'
  | 'corrupt-image'
  | 'too-many-pixels'
  | 'too-small'
  | 'too-thin';

/** Why an image was refused. Thrown by validation, recorded in the catalog, stored with the quarantined blob. */
export class ImageRejectedError extends AppError {
  override name = 'ImageRejectedError';
  /** A file over the size limit is refused as too large, any other rejection as a bad image. */
  readonly kind: ErrorKind;
  constructor(
    /** The rejection reason, as recorded in the catalog and answered in the body's `code`. */
    readonly code: RejectionCode,
    message: string,
  ) {
    super(message);
    this.kind = code === 'file-too-large' ? 'payload-too-large' : 'image-rejected';
  }

  override get details(): Readonly<Record<string, string>> {
    return { code: this.code };
  }
}

/** Raster formats a photo may come in; vector and scriptable formats (SVG, PDF) are refused. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'tiff', 'gif', 'bmp', 'avif']);

export interface ValidImage {
  format: string;
  /** Stored dimensions (before EXIF orientation). */
  width: number;
  height: number;
  /** EXIF orientation 1-8 when present. */
  orientation?: number;
  /** Frames in the file; only the first is used. */
  pages: number;
  pixels: RawPixels;
}

/** The rejection of a file over INGEST_MAX_FILE_BYTES (ingest also gives it from a stored blob's length alone). */
export function fileTooLarge(sizeBytes: number, settings: Pick<IngestSettings, 'maxFileBytes'>): ImageRejectedError {
  return new ImageRejectedError(
    'file-too-large',
    `the file has ${sizeBytes} bytes, more than the limit of ${settings.maxFileBytes} (INGEST_MAX_FILE_BYTES)`,
  );
}

/**
 * The checks that need no decoding (size, format, pixel limit, dimensions); throws ImageRejectedError. Serving
 * uses these alone and lets its one decode find damaged data.
 */
export async function checkImageHeader(content: Buffer, settings: IngestSettings): Promise<Omit<ValidImage, 'pixels'>> {
  if (content.length === 0) throw new ImageRejectedError('empty-file', 'the file is empty (0 bytes)');
  if (content.length > settings.maxFileBytes) throw fileTooLarge(content.length, settings);

  const header = await readHeader(content);
  if (!ACCEPTED_FORMATS.has(header.format)) {
    throw new ImageRejectedError('unsupported-format', describeUnsupported(header.format));
  }
  checkDimensions(header.width, header.height, settings);
  return header;
}

/** Validates and decodes `content`; throws ImageRejectedError with the reason when it is not a usable photo. */
export async function validateImage(
  content: Buffer,
  settings: IngestSettings,
  budget?: PixelBudget,
): Promise<ValidImage> {
  const header = await checkImageHeader(content, settings);
  // The header says how many pixels the decode will hold; the budget bounds how many decode at once.
  const decode = () => decodePixels(content, header.format, settings.maxPixels);
  const pixels = budget ? await budget.run(header.width * header.height, decode) : await decode();
  return { ...header, pixels };
}

interface Header {
  format: string;
  width: number;
  height: number;
  orientation?: number;
  pages: number;
}

/** HEIF brands of HEVC-coded images and sequences (HEIC): there is no HEVC decoder here. */
const HEVC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
/** HEIF brands that say nothing of the codec: AV1 (AVIF), HEVC or JPEG inside; sharp tells which. */
const GENERIC_HEIF_BRANDS = new Set(['mif1', 'msf1', 'mif2', 'miaf']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

type HeifKind = { kind: 'hevc' | 'avif' | 'heif'; brand: string };

/** Which sort of HEIF file the ftyp brands announce, if any; the major brand decides where it is one of them. */
function heifKind(brands: FileTypeBrands | undefined): HeifKind | undefined {
  if (!brands) return undefined;
  const all = [brands.major, ...brands.compatible];
  const avif = all.find((brand) => AVIF_BRANDS.has(brand));
  if (avif && !HEVC_BRANDS.has(brands.major)) return { kind: 'avif', brand: avif };
  const hevc = all.find((brand) => HEVC_BRANDS.has(brand));
  if (hevc) return { kind: 'hevc', brand: HEVC_BRANDS.has(brands.major) ? brands.major : hevc };
  const generic = all.find((brand) => GENERIC_HEIF_BRANDS.has(brand));
  return generic ? { kind: 'heif', brand: GENERIC_HEIF_BRANDS.has(brands.major) ? brands.major : generic } : undefined;
}

async function readHeader(content: Buffer): Promise<Header> {
  // Refused by their own signatures before any decoder sees them: SVG is scriptable text, and HEVC has no decoder.
  if (isSvg(content)) throw new ImageRejectedError('unsupported-format', describeUnsupported('svg'));
  const heif = heifKind(readFileTypeBrands(content));
  if (heif?.kind === 'hevc')
    throw new ImageRejectedError('unsupported-format', describeUnsupported('heic', `brand ${heif.brand}`));
  if (isBmp(content)) {
    try {
      const bmp = readBmpHeader(content);
      return { format: 'bmp', width: bmp.width, height: bmp.height, pages: 1 };
    } catch (error) {
      throw new ImageRejectedError('corrupt-image', `the BMP file is damaged: ${messageOf(error)}`);
    }
  }
  const quick = readQuickHeader(content);
  if (quick) {
    const { format, width, height, orientation } = quick;
    return { format, width, height, pages: 1, ...(orientation ? { orientation } : {}) };
  }
  let metadata: Metadata;
  try {
    // Only the header is read here; the pixel limit is applied below with a message that names the setting.
    metadata = await sharp(content, { limitInputPixels: false }).metadata();
  } catch (error) {
    if (heif?.kind === 'heif')
      throw new ImageRejectedError('unsupported-format', describeUnsupported('heif', `brand ${heif.brand}`));
    const claimed = heif?.kind === 'avif' ? 'AVIF' : sniffImageSignature(content);
    if (claimed) {
      throw new ImageRejectedError(
        'corrupt-image',
        `the file starts like ${/^[AEIOU]/.test(claimed) ? 'an' : 'a'} ${claimed} but its header is damaged: ${messageOf(error)}`,
      );
    }
    throw new ImageRejectedError('not-an-image', describeNonImage(content));
  }
  // libvips reports AVIF and HEIC both as "heif"; only AV1-coded files can be decoded here.
  const format = metadata.format === 'heif' ? (metadata.compression === 'av1' ? 'avif' : 'heic') : metadata.format;
  const width = metadata.width;
  const height = metadata.pageHeight ?? metadata.height;
  if (!width || !height) throw new ImageRejectedError('corrupt-image', `the ${format} header has no dimensions`);
  return {
    format,
    width,
    height,
    pages: metadata.pages ?? 1,
    ...(metadata.orientation ? { orientation: metadata.orientation } : {}),
  };
}

function checkDimensions(width: number, height: number, settings: IngestSettings): void {
  if (width * height > settings.maxPixels) {
    throw new ImageRejectedError(
      'too-many-pixels',
      `the image claims ${width}x${height} = ${width * height} pixels, more than the limit of ${settings.maxPixels} (INGEST_MAX_PIXELS); refused before decoding`,
    );
  }
  const shortSide = Math.min(width, height);
  if (shortSide < settings.minSidePx) {
    throw new ImageRejectedError(
      'too-small',
      `the image is ${width}x${height}; its shorter side is under the minimum of ${settings.minSidePx} px (INGEST_MIN_SIDE_PX)`,
    );
  }
  const aspect = Math.max(width, height) / shortSide;
  if (aspect > settings.maxAspectRatio) {
    throw new ImageRejectedError(
      'too-thin',
      `the image is ${width}x${height}, an aspect ratio of ${aspect.toFixed(1)}:1, above the maximum of ${settings.maxAspectRatio}:1 (INGEST_MAX_ASPECT_RATIO)`,
    );
  }
}

/** Full decode of any accepted format (BMP included) as Pillow sees it; throws on undecodable input. */
export async function decodeRasterLikePillow(
  content: Buffer,
  options: { limitInputPixels: number },
): Promise<RawPixels> {
  return isBmp(content) ? decodeBmp(content, options) : decodeLikePillow(content, options);
}

async function decodePixels(content: Buffer, format: string, maxPixels: number): Promise<RawPixels> {
  try {
    return await decodeRasterLikePillow(content, { limitInputPixels: maxPixels });
  } catch (error) {
    throw undecodable(format, error);
  }
}

/** A decode's failure on a file whose header passed, as the rejection ingest records for it. */
export function undecodable(format: string, error: unknown): ImageRejectedError {
  const reason = messageOf(error);
  return new ImageRejectedError('corrupt-image', `the ${format.toUpperCase()} data cannot be decoded: ${reason}`);
}

function describeUnsupported(format: string, detail?: string): string {
  const accepted = 'only raster photos (JPEG, PNG, WebP, TIFF, GIF, BMP, AVIF) are accepted';
  const about = detail ? `, ${detail}` : '';
  if (format === 'svg') return `SVG is a vector format that can carry scripts and external references: ${accepted}`;
  if (format === 'heic')
    return `HEIC photos cannot be decoded here (no HEVC decoder${about}): convert to JPEG; ${accepted}`;
  if (format === 'heif')
    return `HEIF images cannot be decoded here (neither AVIF nor anything sharp reads${about}): convert to JPEG; ${accepted}`;
  return `${format.toUpperCase()} is not accepted: ${accepted}`;
}

/** The raster format a file's first bytes announce, whether or not the rest is intact. */
function sniffImageSignature(content: Buffer): string | undefined {
  const starts = (...bytes: number[]) => bytes.every((byte, i) => content[i] === byte);
  if (starts(0xff, 0xd8, 0xff)) return 'JPEG';
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'PNG';
  if (content.subarray(0, 4).toString('latin1') === 'GIF8') return 'GIF';
  if (content.subarray(0, 4).toString('latin1') === 'RIFF' && content.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'WebP';
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return 'TIFF';
  return undefined;
}

/** Names what a non-image file most likely is, so the reason helps (an error page saved as .jpg is common). */
function describeNonImage(content: Buffer): string {
  const head = content.subarray(0, 512).toString('latin1').trimStart().toLowerCase();
  const signatures: [boolean, string][] = [
    [
      head.startsWith('<!doctype html') || head.startsWith('<html') || head.includes('<head>'),
      'an HTML page (often an error page saved in place of the image)',
    ],
    [head.startsWith('%pdf-'), 'a PDF document'],
    [head.startsWith('pk\u0003\u0004'), 'a ZIP archive'],
    [content[0] === 0x1f && content[1] === 0x8b, 'a gzip archive'],
    [head.startsWith('rar!'), 'a RAR archive'],
    [head.startsWith('7z\u00bc\u00af'), 'a 7-Zip archive'],
    [head.startsWith('{') || head.startsWith('['), 'JSON text'],
    [head.startsWith('<?xml') || head.startsWith('<'), 'an XML or markup document'],
  ];
  const match = signatures.find(([matches]) => matches);
  return match
    ? `the file is ${match[1]}, not an image`
    : 'the file is not an image in any known format (its content does not match its name)';
}
