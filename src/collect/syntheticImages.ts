// Synthetic clothing photos for the offline provider: a garment silhouette (synthetic/garments.ts) filled with a
// pattern (synthetic/fabrics.ts), drawn as SVG, rasterised with sharp, lightly noised and saved as JPEG. Everything
// follows from the seed. This module renders them and is the public entry.
import sharp from 'sharp';

import { mulberry32, seededRandom } from '../util/seededRandom';
import { BLACK, css, hsl, integerLuma, mix, n, type Random, uniform } from './synthetic/drawing';
import { makeFabric } from './synthetic/fabrics';
import { makeGarment } from './synthetic/garments';

export { GARMENT_PATTERNS } from './synthetic/fabrics';
export { GARMENT_ITEMS } from './synthetic/garments';

export interface RenderGarmentOptions {
  /** One of GARMENT_ITEMS; other words draw a generic garment. */
  item: string;
  /** One of GARMENT_PATTERNS; other words draw a plain fill. */
  pattern: string;
  /** Every random choice (size, colours, placement, pattern geometry, noise) follows from it. */
  seed: number;
  /** Exact output size; by default random, 320-640 px per side with aspect 0.75-1.33. */
  width?: number;
  height?: number;
  /** Lower bounds for the random size (a search's minWidth/minHeight), capped at 4096. */
  minWidth?: number;
  minHeight?: number;
  /** JPEG quality; by default random, 80-92. */
  quality?: number;
}

export interface RenderedGarment {
  content: Buffer;
  width: number;
  height: number;
  quality: number;
}

const MAX_SIDE = 4096;

function pickSize(random: Random, options: RenderGarmentOptions): { width: number; height: number } {
  // Both sides 320-640 px, width / height 0.75-1.33.
  const aspect = uniform(random, 0.75, 1.33);
  const shorter = aspect >= 1 ? uniform(random, 320, 640 / aspect) : uniform(random, 320, 640 * aspect);
  const clampSide = (value: number, minimum: number | undefined): number =>
    Math.min(MAX_SIDE, Math.max(1, Math.round(Math.max(value, minimum ?? 0))));
  const width = options.width ?? clampSide(aspect >= 1 ? shorter * aspect : shorter, options.minWidth);
  const height = options.height ?? clampSide(aspect >= 1 ? shorter : shorter / aspect, options.minHeight);
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    width > MAX_SIDE ||
    height > MAX_SIDE
  ) {
    throw new RangeError(
      `renderGarment: width and height must be integers from 1 to ${MAX_SIDE}, got ${width} x ${height}`,
    );
  }
  return { width, height };
}

/** The SVG of one garment photo (before noise and JPEG encoding). */
export function garmentSvg(options: RenderGarmentOptions): {
  svg: string;
  width: number;
  height: number;
  quality: number;
  noiseSeed: number;
} {
  const random = seededRandom(options.seed);
  const { width, height } = pickSize(random, options);
  const quality = options.quality ?? Math.round(uniform(random, 80, 92));
  const noiseSeed = Math.floor(random() * 4294967296);
  const fabric = makeFabric(options.pattern.toLowerCase(), random);
  const garment = makeGarment(options.item.toLowerCase());

  // A plain light background of one flat colour (plus the noise). No gradient: dHash compares neighbouring cells'
  // mean brightness rounded to a level, and a gradient leaves those means at fractions that a recompressed copy
  // rounds the other way, so near duplicates would drift apart by dozens of bits.
  const bgHue = uniform(random, 0, 360);
  const bg = integerLuma(hsl(bgHue, uniform(random, 3, 25), uniform(random, 84, 92)));

  // Placement: scale, position and rotation of the 300-unit garment frame.
  const scale = (Math.min(width, height) * uniform(random, 0.62, 0.86)) / 300;
  const rotation = uniform(random, -20, 20);
  // Room left around the rotated frame's bounding box, to shift the garment within (a sleeve tip may still crop).
  const radians = (Math.abs(rotation) * Math.PI) / 180;
  const extent = 300 * scale * (Math.cos(radians) + Math.sin(radians));
  const slackX = Math.max(0, width - extent) / 2;
  const slackY = Math.max(0, height - extent) / 2;
  const cx = width / 2 + uniform(random, -0.9, 0.9) * slackX;
  const cy = height / 2 + uniform(random, -0.9, 0.9) * slackY;
  const light = uniform(random, 0, 360); // direction the shading comes from
  const lx = Math.cos((light * Math.PI) / 180) / 2;
  const ly = Math.sin((light * Math.PI) / 180) / 2;
  const outline = css(mix(fabric.main, BLACK, 0.6));
  const trim = css(fabric.trim);

  const outlined = (d: string): string =>
    `<path d="${d}" fill="none" stroke="${outline}" stroke-width="2" stroke-linejoin="round"/>`;
  const SHADING = '<rect x="-20" y="-20" width="340" height="340" fill="url(#shade)"/>';
  const pieces = garment.pieces ?? [];

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<defs>',
    `<linearGradient id="shade" gradientUnits="userSpaceOnUse" x1="${n(150 - lx * 300)}" y1="${n(150 - ly * 300)}" x2="${n(150 + lx * 300)}" y2="${n(150 + ly * 300)}">` +
      '<stop offset="0" stop-color="#fff" stop-opacity="0.18"/><stop offset="0.5" stop-color="#fff" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.2"/></linearGradient>',
    `<g id="fabric">${fabric.svg}</g>`,
    `<clipPath id="body"><path d="${garment.body}"/></clipPath>`,
    // The body and the pieces on it share one drawing of the fabric (each drawing of it costs time).
    `<clipPath id="cloth"><path d="${garment.body}"/>${pieces.map((piece) => `<path d="${piece.d}"/>`).join('')}</clipPath>`,
    '</defs>',
    `<rect width="${width}" height="${height}" fill="${css(bg)}"/>`,
    `<g transform="translate(${n(cx)},${n(cy)}) rotate(${n(rotation)}) scale(${Math.round(scale * 1000) / 1000}) translate(-150,-150)">`,
    // A soft shadow from stacked translucent outlines (much cheaper than a blur filter).
    `<g transform="translate(4,7)" stroke-linejoin="round"><path d="${garment.body}" fill="rgba(0,0,0,0.1)" stroke="rgba(0,0,0,0.05)" stroke-width="14"/>` +
      `<path d="${garment.body}" fill="none" stroke="rgba(0,0,0,0.05)" stroke-width="7"/></g>`,
  );
  (garment.behind ?? []).forEach((piece, i) => {
    parts.push(
      `<clipPath id="behind${i}"><path d="${piece.d}"/></clipPath>`,
      `<g clip-path="url(#behind${i})"><use xlink:href="#fabric"/><path d="${piece.d}" fill="rgba(0,0,0,${piece.shade})"/>${SHADING}</g>`,
      outlined(piece.d),
    );
  });
  for (const d of garment.inside ?? []) parts.push(`<path d="${d}" fill="${css(mix(fabric.main, BLACK, 0.55))}"/>`);
  parts.push(`<g clip-path="url(#cloth)"><use xlink:href="#fabric"/>`);
  for (const piece of pieces) parts.push(`<path d="${piece.d}" fill="rgba(0,0,0,${piece.shade})"/>`);
  parts.push(`${SHADING}</g>`, outlined(garment.body));
  for (const piece of pieces) parts.push(outlined(piece.d));
  parts.push(`<g clip-path="url(#body)">${garment.details.split('{trim}').join(trim)}</g>`);
  parts.push('</g></svg>');
  return { svg: parts.join(''), width, height, quality, noiseSeed };
}

/** Renders a garment photo as JPEG, with its size and quality. */
export async function renderGarmentImage(options: RenderGarmentOptions): Promise<RenderedGarment> {
  const { svg, width, height, quality, noiseSeed } = garmentSvg(options);
  const { data, info } = await sharp(Buffer.from(svg), { limitInputPixels: MAX_SIDE * MAX_SIDE })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new Error(
      `renderGarment: expected ${width}x${height}x3 from the SVG, got ${info.width}x${info.height}x${info.channels}`,
    );
  }
  // Slight sensor-like noise: the sum of two random bytes, centred, about ±5 levels (one draw per sample).
  const next = mulberry32(noiseSeed);
  for (let i = 0; i < data.length; i++) {
    const r = next();
    const value = data[i]! + (((r & 255) + ((r >>> 8) & 255) - 255) * 5) / 255;
    data[i] = value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
  }
  const content = await sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  return { content, width, height, quality };
}

/** Renders a garment photo as JPEG bytes. */
export async function renderGarment(options: RenderGarmentOptions): Promise<Buffer> {
  return (await renderGarmentImage(options)).content;
}
