// Reads what ingest needs from JPEG and PNG headers (most photos) in microseconds, instead of a sharp
// metadata() call, which costs about as much as a tenth of the decode. Anything unusual returns undefined
// and the caller asks sharp.

export interface QuickHeader {
  format: 'jpeg' | 'png';
  width: number;
  height: number;
  /** JPEG: colour components (1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK). PNG: IHDR colour type. */
  components: number;
  /** EXIF orientation 1-8 when the file has one. */
  orientation?: number;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
const APP1 = 0xe1;
const EXIF_ORIENTATION_TAG = 0x0112;

export function readQuickHeader(buf: Uint8Array): QuickHeader | undefined {
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return readJpeg(buf);
  if (isPng(buf)) return readPng(buf);
  return undefined;
}

function readJpeg(buf: Uint8Array): QuickHeader | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let orientation: number | undefined;
  let i = 2;
  while (i + 3 < buf.length) {
    if (buf[i] !== 0xff) return undefined;
    while (i < buf.length && buf[i] === 0xff) i++; // fill bytes
    const marker = buf[i++];
    if (marker === undefined) return undefined;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // markers without a length
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image or scan data before any frame header
    if (i + 1 >= buf.length) return undefined;
    const length = view.getUint16(i);
    if (length < 2 || i + length > buf.length) return undefined;
    if (marker === APP1 && orientation === undefined) orientation = exifOrientation(buf, i + 2, length - 2);
    if (SOF_MARKERS.has(marker)) {
      if (length < 8) return undefined;
      const height = view.getUint16(i + 3);
      const width = view.getUint16(i + 5);
      // Height 0 means "defined later by a DNL marker": rare enough to leave to sharp.
      if (width === 0 || height === 0) return undefined;
      return { format: 'jpeg', width, height, components: buf[i + 7]!, ...(orientation ? { orientation } : {}) };
    }
    i += length;
  }
  return undefined;
}

/** The orientation tag of an APP1 Exif segment's first IFD, if valid. */
function exifOrientation(buf: Uint8Array, start: number, length: number): number | undefined {
  const end = start + length;
  if (length < 14 || String.fromCharCode(...buf.subarray(start, start + 4)) !== 'Exif') return undefined;
  const tiff = start + 6;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const little = buf[tiff] === 0x49 && buf[tiff + 1] === 0x49;
  if (!little && !(buf[tiff] === 0x4d && buf[tiff + 1] === 0x4d)) return undefined;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > end) return undefined;
  const entries = view.getUint16(ifd, little);
  for (let e = 0; e < entries; e++) {
    const entry = ifd + 2 + e * 12;
    if (entry + 12 > end) return undefined;
    if (view.getUint16(entry, little) === EXIF_ORIENTATION_TAG) {
      const value = view.getUint16(entry + 8, little);
      return value >= 1 && value <= 8 ? value : undefined;
    }
  }
  return undefined;
}

function isPng(buf: Uint8Array): boolean {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return buf.length >= 33 && signature.every((byte, i) => buf[i] === byte);
}

function readPng(buf: Uint8Array): QuickHeader | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (String.fromCharCode(...buf.subarray(12, 16)) !== 'IHDR') return undefined;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0) return undefined;
  // Orientation lives in an eXIf chunk before the image data, and animation in acTL: leave both to sharp.
  for (let i = 8; i + 8 <= buf.length;) {
    const length = view.getUint32(i);
    const type = String.fromCharCode(...buf.subarray(i + 4, i + 8));
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'eXIf' || type === 'acTL') return undefined;
    i += 12 + length;
  }
  return { format: 'png', width, height, components: buf[25]! };
}

/** How far into a file the SVG sniffer reads: XML declarations, comments and doctypes before the root can be long. */
const SVG_SNIFF_BYTES = 64 * 1024;
const XML_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const SVG_ROOT = /^<(?:[A-Za-z_][\w.-]*:)?svg[\s/>]/;

/**
 * Whether the file is SVG text: an optional UTF-8 byte order mark and whitespace, then XML declarations, processing
 * instructions, comments or a doctype, then an `svg` root element (`<svg` or a prefixed `<x:svg`).
 */
export function isSvg(buf: Uint8Array): boolean {
  let start = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (start < buf.length && XML_SPACE.has(buf[start]!)) start++;
  // Anything but markup is decided at once, without decoding text (photos never start with '<').
  if (buf[start] !== 0x3c) return false;
  const text = new TextDecoder('latin1').decode(buf.subarray(start, start + SVG_SNIFF_BYTES));
  let i = 0;
  for (;;) {
    while (i < text.length && XML_SPACE.has(text.charCodeAt(i))) i++;
    if (text.startsWith('<?', i)) i = after(text, '?>', i + 2);
    else if (text.startsWith('<!--', i)) i = after(text, '-->', i + 4);
    else if (text.slice(i, i + 9).toUpperCase() === '<!DOCTYPE') i = afterDoctype(text, i + 9);
    else return SVG_ROOT.test(text.slice(i, i + 200));
    if (i < 0) return false;
  }
}

function after(text: string, end: string, from: number): number {
  const at = text.indexOf(end, from);
  return at < 0 ? -1 : at + end.length;
}

/** The position after a doctype's closing '>', past an internal subset in [...]; -1 when it does not close. */
function afterDoctype(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return i + 1;
  }
  return -1;
}

/** The brands of an ISO BMFF file's leading `ftyp` box (HEIF, AVIF, MP4...), or undefined when it has none. */
export interface FileTypeBrands {
  major: string;
  compatible: string[];
}

export function readFileTypeBrands(buf: Uint8Array): FileTypeBrands | undefined {
  if (buf.length < 16 || String.fromCharCode(...buf.subarray(4, 8)) !== 'ftyp') return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // A box's size covers its header; the compatible brands follow the major brand and minor version.
  const size = Math.min(view.getUint32(0), buf.length, 4096);
  if (size < 16) return undefined;
  const brand = (at: number) => String.fromCharCode(...buf.subarray(at, at + 4));
  const compatible: string[] = [];
  for (let at = 16; at + 4 <= size; at += 4) compatible.push(brand(at));
  return { major: brand(8), compatible };
}
