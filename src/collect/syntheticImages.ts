// Synthetic clothing photos for the offline provider: a garment silhouette filled with a pattern, drawn as SVG,
// rasterised with sharp, lightly noised and saved as JPEG. Everything follows from the seed.
import sharp from 'sharp';
import { mulberry32, seededRandom } from '../util/seededRandom';

/** Items the renderer draws with their own silhouette; anything else gets a generic garment. */
export const GARMENT_ITEMS = ['blouse', 'hoodie', 'pullover', 'sweater', 'shirt', 't-shirt', 'vest'] as const;
/** Patterns the renderer draws; anything else gets a plain fill. */
export const GARMENT_PATTERNS = ['striped', 'dotted', 'leopard'] as const;

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

type Random = () => number;
type Rgb = readonly [number, number, number];

const MAX_SIDE = 4096;

const uniform = (random: Random, low: number, high: number): number => low + random() * (high - low);
const chance = (random: Random, p: number): boolean => random() < p;
function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Compact number formatting for SVG coordinates. */
const n = (value: number): string => String(Math.round(value * 10) / 10);

function hsl(hue: number, saturation: number, lightness: number): Rgb {
  const h = (((hue % 360) + 360) % 360) / 360;
  const s = Math.min(1, Math.max(0, saturation / 100));
  const l = Math.min(1, Math.max(0, lightness / 100));
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const channel = (t: number): number => {
    const u = t < 0 ? t + 1 : t > 1 ? t - 1 : t;
    const v = u < 1 / 6 ? p + (q - p) * 6 * u : u < 1 / 2 ? q : u < 2 / 3 ? p + (q - p) * (2 / 3 - u) * 6 : p;
    return Math.round(v * 255);
  };
  return [channel(h + 1 / 3), channel(h), channel(h - 1 / 3)];
}

const css = (c: Rgb): string => `rgb(${c[0]},${c[1]},${c[2]})`;
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [
  Math.round(a[0] + (b[0] - a[0]) * t),
  Math.round(a[1] + (b[1] - a[1]) * t),
  Math.round(a[2] + (b[2] - a[2]) * t),
];
/**
 * The colour nudged (by a level or two in red and blue) so that its grey value (0.299 R + 0.587 G + 0.114 B, as
 * Pillow converts) lies close to a whole level: flat areas then keep one grey level through recompression.
 */
function integerLuma(colour: Rgb): Rgb {
  let best = colour;
  let bestError = 1;
  for (let dr = -2; dr <= 2; dr++) {
    for (let db = -4; db <= 4; db++) {
      const r = colour[0] + dr;
      const b = colour[2] + db;
      if (r < 0 || r > 255 || b < 0 || b > 255) continue;
      const luma = 0.299 * r + 0.587 * colour[1] + 0.114 * b;
      const error = Math.abs(luma - Math.round(luma));
      if (error < bestError) {
        best = [r, colour[1], b];
        bestError = error;
      }
    }
  }
  return best;
}

const BLACK: Rgb = [0, 0, 0];
const WHITE: Rgb = [255, 255, 255];

// ---------------------------------------------------------------------------------------------------------
// Fabric patterns, drawn in garment units over the area -20..320 (the garment frame is 0..300, the hood reaches -4).

const FABRIC_LOW = -20;
const FABRIC_HIGH = 320;
const GROUND = (colour: Rgb): string =>
  `<rect x="${FABRIC_LOW}" y="${FABRIC_LOW}" width="${FABRIC_HIGH - FABRIC_LOW}" height="${FABRIC_HIGH - FABRIC_LOW}" fill="${css(colour)}"/>`;

interface Fabric {
  svg: string;
  /** A colour for buttons and trims that stands out from the fabric. */
  trim: Rgb;
  /** The fabric's dominant colour, for outlines and the insides of openings. */
  main: Rgb;
}

function stripedFabric(random: Random): Fabric {
  const hue = uniform(random, 0, 360);
  const dark = hsl(hue, uniform(random, 40, 85), uniform(random, 22, 45));
  const light = hsl(hue + uniform(random, -60, 60), uniform(random, 5, 50), uniform(random, 82, 95));
  const accent = hsl(hue + uniform(random, 90, 270), uniform(random, 50, 85), uniform(random, 40, 60));
  const band = (): number => uniform(random, 5, 24);
  // Two colours (dark, light) or three (dark, light, accent, light): stripes of random widths.
  let sequence: Array<[Rgb, number]>;
  if (chance(random, 0.5)) {
    sequence = [
      [dark, band()],
      [light, band()],
    ];
  } else {
    const gap = band();
    sequence = [
      [dark, band()],
      [light, gap],
      [accent, uniform(random, 3, 12)],
      [light, gap],
    ];
  }
  // Mostly horizontal or vertical like real stripes, sometimes diagonal.
  const angle = chance(random, 0.7) ? pick(random, [0, 90]) + uniform(random, -12, 12) : uniform(random, 0, 180);
  const rects: string[] = [];
  // A band of stripes through the centre, long and wide enough to cover the frame at any angle.
  let y = -90 - uniform(random, 0, 30);
  for (let i = 0; y < 390; i++) {
    const [colour, width] = sequence[i % sequence.length]!;
    if (colour !== light) rects.push(`<rect x="-90" y="${n(y)}" width="480" height="${n(width)}" fill="${css(colour)}"/>`);
    y += width;
  }
  return { svg: `${GROUND(light)}<g transform="rotate(${n(angle)} 150 150)">${rects.join('')}</g>`, trim: light, main: dark };
}

function dottedFabric(random: Random): Fabric {
  const hue = uniform(random, 0, 360);
  const darkGround = chance(random, 0.5);
  const ground = darkGround ? hsl(hue, uniform(random, 35, 80), uniform(random, 18, 40)) : hsl(hue, uniform(random, 15, 70), uniform(random, 80, 94));
  const dotHue = chance(random, 0.6) ? hue : uniform(random, 0, 360);
  const dot = darkGround ? hsl(dotHue, uniform(random, 0, 50), uniform(random, 82, 97)) : hsl(dotHue, uniform(random, 40, 85), uniform(random, 18, 45));
  const radius = uniform(random, 3, 11);
  const spacing = radius * uniform(random, 2.4, 4.2);
  const staggered = chance(random, 0.7);
  const rowStep = staggered ? spacing * 0.866 : spacing;
  // A grid tilted a little: points generated around the centre, rotated, kept where they touch the area.
  const angle = (uniform(random, -15, 15) * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const dx = uniform(random, 0, spacing);
  const dy = uniform(random, 0, rowStep);
  const reach = 230;
  const circles: string[] = [];
  for (let row = Math.floor(-reach / rowStep); row * rowStep <= reach; row++) {
    const shift = staggered && row % 2 !== 0 ? spacing / 2 : 0;
    for (let col = Math.floor(-reach / spacing) - 1; col * spacing <= reach; col++) {
      const u = col * spacing + shift + dx;
      const v = row * rowStep + dy;
      const x = 150 + u * cos - v * sin;
      const y = 150 + u * sin + v * cos;
      if (x < FABRIC_LOW - radius || x > FABRIC_HIGH + radius || y < FABRIC_LOW - radius || y > FABRIC_HIGH + radius) continue;
      circles.push(`<circle cx="${n(x)}" cy="${n(y)}" r="${n(radius)}"/>`);
    }
  }
  return { svg: `${GROUND(ground)}<g fill="${css(dot)}">${circles.join('')}</g>`, trim: dot, main: ground };
}

/** A closed smooth path through the midpoints of a polygon's edges, with the corners as control points. */
function smoothClosed(points: Array<[number, number]>): string {
  const count = points.length;
  const mid = (i: number): [number, number] => {
    const a = points[i % count]!;
    const b = points[(i + 1) % count]!;
    return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  };
  const first = mid(0);
  let d = `M${n(first[0])},${n(first[1])}`;
  for (let i = 1; i <= count; i++) {
    const control = points[i % count]!;
    const end = mid(i);
    d += `Q${n(control[0])},${n(control[1])} ${n(end[0])},${n(end[1])}`;
  }
  return `${d}Z`;
}

/** An irregular blob around (cx, cy), squashed to an ellipse of the given aspect and tilt. */
function blob(random: Random, cx: number, cy: number, radius: number, aspect: number, tilt: number, jitter: number): string {
  const points: Array<[number, number]> = [];
  const count = 7 + Math.floor(random() * 3);
  const start = uniform(random, 0, Math.PI * 2);
  const cos = Math.cos(tilt);
  const sin = Math.sin(tilt);
  for (let i = 0; i < count; i++) {
    const a = start + ((i + uniform(random, -0.25, 0.25)) / count) * Math.PI * 2;
    const r = radius * uniform(random, 1 - jitter, 1 + jitter);
    const u = Math.cos(a) * r * aspect;
    const v = Math.sin(a) * r;
    points.push([cx + u * cos - v * sin, cy + u * sin + v * cos]);
  }
  return smoothClosed(points);
}

/** One piece of a rosette's broken ring: a thick, irregular crescent along the ellipse from angle a0 to a1. */
function ringPiece(random: Random, cx: number, cy: number, radius: number, aspect: number, tilt: number, a0: number, a1: number): string {
  const cos = Math.cos(tilt);
  const sin = Math.sin(tilt);
  const at = (a: number, r: number): [number, number] => {
    const u = Math.cos(a) * r * aspect;
    const v = Math.sin(a) * r;
    return [cx + u * cos - v * sin, cy + u * sin + v * cos];
  };
  const thickness = radius * uniform(random, 0.4, 0.6);
  const steps = 4;
  const outer: Array<[number, number]> = [];
  const inner: Array<[number, number]> = [];
  for (let i = 0; i <= steps; i++) {
    const a = a0 + ((a1 - a0) * i) / steps;
    // Thickest in the middle, tapering to the ends.
    const swell = Math.sin((Math.PI * i) / steps) * 0.7 + 0.3;
    const r = radius * uniform(random, 0.92, 1.08);
    outer.push(at(a, r + (thickness / 2) * swell * uniform(random, 0.8, 1.2)));
    inner.push(at(a, r - (thickness / 2) * swell * uniform(random, 0.8, 1.2)));
  }
  return smoothClosed([...outer, ...inner.reverse()]);
}

function leopardFabric(random: Random): Fabric {
  // Classic tan most of the time, sometimes a fashion colour (pink, grey, blue leopard).
  const hue = chance(random, 0.8) ? uniform(random, 26, 42) : uniform(random, 0, 360);
  const saturation = uniform(random, 40, 70);
  const lightness = uniform(random, 60, 74);
  const base = hsl(hue, saturation, lightness);
  const spot = hsl(hue - 5, Math.min(90, saturation + 8), lightness - uniform(random, 9, 15));
  const ring = hsl(hue + uniform(random, -10, 5), uniform(random, 25, 50), uniform(random, 6, 14));
  const cell = uniform(random, 20, 32);
  const spots: string[] = [];
  const rings: string[] = [];
  for (let row = 0, y = FABRIC_LOW; y < FABRIC_HIGH + cell / 2; row++, y += cell * 0.85) {
    for (let x = FABRIC_LOW - (row % 2) * cell * 0.5; x < FABRIC_HIGH + cell / 2; x += cell) {
      const cx = x + uniform(random, -0.2, 0.2) * cell;
      const cy = y + uniform(random, -0.2, 0.2) * cell;
      const radius = cell * uniform(random, 0.3, 0.4);
      const aspect = uniform(random, 1, 1.5);
      const tilt = uniform(random, 0, Math.PI);
      if (chance(random, 0.12)) {
        // A small solid spot between the rosettes.
        rings.push(`<path d="${blob(random, cx, cy, radius * 0.4, aspect, tilt, 0.3)}"/>`);
        continue;
      }
      spots.push(`<path d="${blob(random, cx, cy, radius * 0.9, aspect, tilt, 0.15)}"/>`);
      // The broken ring: 3-5 thick crescents with irregular gaps.
      const pieces = 3 + Math.floor(random() * 3);
      let a = uniform(random, 0, Math.PI * 2);
      for (let k = 0; k < pieces; k++) {
        const share = (Math.PI * 2) / pieces;
        const span = share * uniform(random, 0.5, 0.8);
        rings.push(`<path d="${ringPiece(random, cx, cy, radius, aspect, tilt, a, a + span)}"/>`);
        a += share * uniform(random, 0.9, 1.1);
      }
    }
  }
  return {
    svg: `${GROUND(base)}<g fill="${css(spot)}">${spots.join('')}</g><g fill="${css(ring)}">${rings.join('')}</g>`,
    trim: ring,
    main: spot,
  };
}

function plainFabric(random: Random): Fabric {
  const colour = hsl(uniform(random, 0, 360), uniform(random, 25, 80), uniform(random, 28, 68));
  return {
    svg: GROUND(colour),
    trim: mix(colour, WHITE, 0.7),
    main: colour,
  };
}

function makeFabric(pattern: string, random: Random): Fabric {
  switch (pattern) {
    case 'striped':
      return stripedFabric(random);
    case 'dotted':
      return dottedFabric(random);
    case 'leopard':
      return leopardFabric(random);
    default:
      return plainFabric(random);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Garments, drawn flat (front view) in a 300 x 300 unit frame.

interface Garment {
  /** The silhouette, filled with the fabric. */
  body: string;
  /** Fabric pieces behind the body (a hood), each with a shade (0 none .. 1 black). */
  behind?: Array<{ d: string; shade: number }>;
  /** Dark openings behind the body (the inside of the back neck, of the hood). */
  inside?: string[];
  /** Pieces on the body (collars, pockets, a bow), drawn in the same fabric and darkened by their shade. */
  pieces?: Array<{ d: string; shade: number }>;
  /** Seams, ribs and trims as SVG elements; `{trim}` is replaced by the trim colour. */
  details: string;
}

const STITCH = 'fill="none" stroke="rgba(0,0,0,0.35)" stroke-width="1.4" stroke-dasharray="4 3"';
const SEAM = 'fill="none" stroke="rgba(0,0,0,0.45)" stroke-width="1.8"';
const RIB = 'fill="none" stroke="rgba(0,0,0,0.3)" stroke-width="1.3"';

/** Parallel rib lines across a band: from segment a0-a1 (edge) towards b0-b1 (inner line), `count` of them. */
function ribs(a0: [number, number], a1: [number, number], b0: [number, number], b1: [number, number], count: number): string {
  let d = '';
  for (let i = 1; i < count; i++) {
    const t = i / count;
    d += `M${n(a0[0] + (a1[0] - a0[0]) * t)},${n(a0[1] + (a1[1] - a0[1]) * t)}L${n(b0[0] + (b1[0] - b0[0]) * t)},${n(b0[1] + (b1[1] - b0[1]) * t)}`;
  }
  return `<path d="${d}" ${RIB}/><path d="M${b0[0]},${b0[1]}L${b1[0]},${b1[1]}" ${SEAM}/>`;
}

/** Ribbing along a neckline curve: short strokes across a thick band. */
function neckRib(x0: number, x1: number, yTop: number, depth: number, width: number): string {
  let ticks = '';
  for (let i = 0; i <= 24; i++) {
    const t = i / 24;
    const x = x0 + (x1 - x0) * t;
    const y = yTop + depth * 4 * t * (1 - t); // the quadratic's curve
    ticks += `M${n(x)},${n(y - width / 2)}L${n(x)},${n(y + width / 2)}`;
  }
  const c = yTop + depth * 2;
  return (
    `<path d="M${x0},${yTop}Q150,${c} ${x1},${yTop}" fill="none" stroke="rgba(0,0,0,0.16)" stroke-width="${width}"/>` +
    `<path d="${ticks}" ${RIB}/>` +
    `<path d="M${x0},${yTop + width / 2}Q150,${c + width / 2} ${x1},${yTop + width / 2}" ${SEAM}/>`
  );
}

function buttons(x: number, ys: number[], radius: number): string {
  return ys
    .map(
      (y) =>
        `<circle cx="${x}" cy="${y}" r="${radius}" fill="{trim}" stroke="rgba(0,0,0,0.55)" stroke-width="1.2"/>` +
        `<circle cx="${x - radius * 0.3}" cy="${y}" r="0.9" fill="rgba(0,0,0,0.5)"/><circle cx="${x + radius * 0.3}" cy="${y}" r="0.9" fill="rgba(0,0,0,0.5)"/>`,
    )
    .join('');
}

/** Long sleeves, shared by the shirt, pullover, sweater and hoodie (outer shoulder x 232 / 68). */
const LONG_SLEEVE_RIGHT = 'L234,48Q262,62 268,126L294,262L254,270L234,162';
const LONG_SLEEVE_LEFT = 'L66,162L46,270L6,262L32,126Q38,62 66,48';

function tShirt(): Garment {
  return {
    body: 'M112,38Q150,76 188,38L232,48L292,106L256,148L230,126L230,284L70,284L70,126L44,148L8,106L68,48Z',
    inside: ['M112,38Q150,50 188,38Q150,76 112,38Z'],
    details:
      neckRib(112, 188, 38, 19, 8) +
      '<path d="M282,116L246,158M18,116L54,158" ' + STITCH + '/>' +
      '<path d="M70,272L230,272" ' + STITCH + '/>',
  };
}

function shirt(): Garment {
  return {
    body: `M116,34L184,34${LONG_SLEEVE_RIGHT}L232,272Q192,292 150,282Q108,292 68,272${LONG_SLEEVE_LEFT}Z`,
    pieces: [
      { d: 'M116,32Q150,24 184,32L186,42Q150,34 114,42Z', shade: 0.15 },
      { d: 'M118,32L152,60L128,80L106,40Z', shade: 0.05 },
      { d: 'M182,32L148,60L172,80L194,40Z', shade: 0.05 },
      { d: 'M166,104L200,104L200,134L183,142L166,134Z', shade: 0.08 },
    ],
    details:
      '<path d="M144,62L144,284M156,60L156,284" ' + SEAM + '/>' +
      buttons(150, [74, 112, 150, 188, 226, 262], 4) +
      '<path d="M166,112L200,112" ' + STITCH + '/>' +
      ribs([294, 262], [254, 270], [291, 246], [251, 254], 2) +
      ribs([6, 262], [46, 270], [9, 246], [49, 254], 2) +
      buttons(272, [258], 2.5) +
      buttons(28, [258], 2.5),
  };
}

function blouse(): Garment {
  const scallops = (x0: number, y0: number, x1: number, y1: number, count: number): string => {
    let d = `M${x0},${y0}`;
    for (let i = 1; i <= count; i++) {
      const t = i / count;
      const tm = (i - 0.5) / count;
      d += `Q${n(x0 + (x1 - x0) * tm)},${n(y0 + (y1 - y0) * tm + 7)} ${n(x0 + (x1 - x0) * t)},${n(y0 + (y1 - y0) * t)}`;
    }
    return d;
  };
  return {
    body:
      'M112,40Q150,84 188,40L226,50Q266,58 280,104Q292,144 284,178L250,186Q246,156 236,134Q228,162 224,192' +
      'Q246,240 256,284Q150,300 44,284Q54,240 76,192Q72,162 64,134Q54,156 50,186L16,178Q8,144 20,104Q34,58 74,50Z',
    inside: ['M112,40Q150,52 188,40Q150,84 112,40Z'],
    pieces: [
      // A pussy-bow at the neck.
      { d: 'M150,64Q128,50 122,66Q126,80 150,68Z', shade: 0.1 },
      { d: 'M150,64Q172,50 178,66Q174,80 150,68Z', shade: 0.1 },
      { d: 'M147,68L136,108L144,110L150,70Z', shade: 0.12 },
      { d: 'M153,68L164,108L156,110L150,70Z', shade: 0.12 },
    ],
    details:
      `<path d="${scallops(112, 40, 188, 40, 8)}" ${SEAM}/>` +
      '<circle cx="150" cy="66" r="4" fill="rgba(0,0,0,0.25)"/>' +
      '<path d="M76,192Q150,204 224,192" ' + SEAM + '/>' +
      '<path d="M96,198L92,214M116,201L113,218M136,202L135,220M164,202L165,220M184,201L187,218M204,198L208,214" ' + RIB + '/>' +
      `<path d="${scallops(250, 186, 284, 178, 4)}" ${SEAM}/>` +
      `<path d="${scallops(16, 178, 50, 186, 4)}" ${SEAM}/>` +
      '<path d="M252,172L282,165M18,165L48,172" ' + RIB + '/>' +
      '<path d="M48,276Q150,292 252,276" ' + STITCH + '/>',
  };
}

function hoodie(): Garment {
  return {
    body: `M104,40Q150,74 196,40${LONG_SLEEVE_RIGHT}L234,286L66,286${LONG_SLEEVE_LEFT}Z`,
    behind: [{ d: 'M96,52Q84,4 150,-4Q216,4 204,52Q150,80 96,52Z', shade: 0.12 }],
    inside: ['M112,50Q106,14 150,8Q194,14 188,50Q150,74 112,50Z'],
    pieces: [{ d: 'M102,188L198,188L222,254L78,254Z', shade: 0.1 }],
    details:
      '<path d="M112,50Q150,74 188,50" fill="none" stroke="rgba(0,0,0,0.25)" stroke-width="6"/>' +
      '<path d="M134,62Q130,92 128,118M166,62Q170,92 172,118" fill="none" stroke="{trim}" stroke-width="3.2" stroke-linecap="round"/>' +
      '<path d="M126,114L130,126M174,114L170,126" fill="none" stroke="rgba(0,0,0,0.6)" stroke-width="4" stroke-linecap="round"/>' +
      '<path d="M104,192L84,250M196,192L216,250" ' + STITCH + '/>' +
      ribs([66, 286], [234, 286], [66, 264], [234, 264], 40) +
      ribs([294, 262], [254, 270], [290, 242], [250, 250], 8) +
      ribs([6, 262], [46, 270], [10, 242], [50, 250], 8),
  };
}

function sweater(): Garment {
  // Crew neck, ribbed collar, cuffs and hem, with cable-knit columns.
  let cables = '';
  for (const x of [98, 150, 202]) {
    let d = '';
    for (let y = 76; y < 252; y += 16) {
      d += `M${x - 9},${y}Q${x},${y + 4} ${x + 9},${y + 14}M${x + 9},${y}Q${x},${y + 4} ${x - 9},${y + 14}`;
    }
    cables += `<path d="${d}" fill="none" stroke="rgba(0,0,0,0.28)" stroke-width="2.2"/>`;
    cables += `<path d="M${x - 14},70L${x - 14},258M${x + 14},70L${x + 14},258" ${RIB}/>`;
  }
  return {
    body: `M114,36Q150,68 186,36${LONG_SLEEVE_RIGHT}L234,286L66,286${LONG_SLEEVE_LEFT}Z`,
    inside: ['M114,36Q150,48 186,36Q150,68 114,36Z'],
    details:
      neckRib(114, 186, 36, 16, 12) +
      cables +
      ribs([66, 286], [234, 286], [66, 262], [234, 262], 48) +
      ribs([294, 262], [254, 270], [290, 240], [250, 248], 10) +
      ribs([6, 262], [46, 270], [10, 240], [50, 248], 10),
  };
}

function pullover(): Garment {
  // V-neck, smooth knit, ribbed cuffs and hem.
  return {
    body: `M114,36L150,104L186,36${LONG_SLEEVE_RIGHT}L234,286L66,286${LONG_SLEEVE_LEFT}Z`,
    inside: ['M114,36Q150,46 186,36L150,104Z'],
    details:
      '<path d="M114,36L150,104L186,36" fill="none" stroke="rgba(0,0,0,0.18)" stroke-width="14"/>' +
      '<path d="M121,36L150,91L179,36" fill="none" stroke="rgba(0,0,0,0.3)" stroke-dasharray="1.5 3" stroke-width="9"/>' +
      '<path d="M127,36L150,80L173,36" ' + SEAM + '/>' +
      ribs([66, 286], [234, 286], [66, 266], [234, 266], 44) +
      ribs([294, 262], [254, 270], [291, 246], [251, 254], 8) +
      ribs([6, 262], [46, 270], [9, 246], [49, 254], 8),
  };
}

function vest(): Garment {
  // A waistcoat: sleeveless, deep armholes, V front with buttons, pointed hem, welt pockets.
  return {
    body: 'M112,28L150,124L188,28L224,36Q222,96 252,118L252,256L160,282L150,298L140,282L48,256L48,118Q78,96 76,36Z',
    inside: ['M112,28Q150,40 188,28L150,124Z'],
    details:
      '<path d="M150,124L150,298" ' + SEAM + '/>' +
      '<path d="M116,30L150,114L184,30" ' + STITCH + '/>' +
      buttons(158, [146, 180, 214, 248], 4.5) +
      '<path d="M184,200L226,190L228,198L186,208Z" fill="rgba(0,0,0,0.12)" stroke="rgba(0,0,0,0.5)" stroke-width="1.4"/>' +
      '<path d="M116,200L74,190L72,198L114,208Z" fill="rgba(0,0,0,0.12)" stroke="rgba(0,0,0,0.5)" stroke-width="1.4"/>' +
      '<path d="M224,40Q224,96 246,114M76,40Q76,96 54,114" ' + STITCH + '/>',
  };
}

function genericGarment(): Garment {
  // A plain tunic with elbow sleeves and no details.
  return {
    body: 'M114,40Q150,70 186,40L232,50L286,150L252,166L228,126L236,286L64,286L72,126L48,166L14,150L68,50Z',
    inside: ['M114,40Q150,50 186,40Q150,70 114,40Z'],
    details: '<path d="M64,274L236,274" ' + STITCH + '/>',
  };
}

function makeGarment(item: string): Garment {
  switch (item) {
    case 't-shirt':
      return tShirt();
    case 'shirt':
      return shirt();
    case 'blouse':
      return blouse();
    case 'hoodie':
      return hoodie();
    case 'sweater':
      return sweater();
    case 'pullover':
      return pullover();
    case 'vest':
      return vest();
    default:
      return genericGarment();
  }
}

// ---------------------------------------------------------------------------------------------------------

function pickSize(random: Random, options: RenderGarmentOptions): { width: number; height: number } {
  // Both sides 320-640 px, width / height 0.75-1.33.
  const aspect = uniform(random, 0.75, 1.33);
  const shorter = aspect >= 1 ? uniform(random, 320, 640 / aspect) : uniform(random, 320, 640 * aspect);
  const clampSide = (value: number, minimum: number | undefined): number =>
    Math.min(MAX_SIDE, Math.max(1, Math.round(Math.max(value, minimum ?? 0))));
  const width = options.width ?? clampSide(aspect >= 1 ? shorter * aspect : shorter, options.minWidth);
  const height = options.height ?? clampSide(aspect >= 1 ? shorter : shorter / aspect, options.minHeight);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new RangeError(`renderGarment: width and height must be integers from 1 to ${MAX_SIDE}, got ${width} x ${height}`);
  }
  return { width, height };
}

/** The SVG of one garment photo (before noise and JPEG encoding). */
export function garmentSvg(options: RenderGarmentOptions): { svg: string; width: number; height: number; quality: number; noiseSeed: number } {
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

  const outlined = (d: string): string => `<path d="${d}" fill="none" stroke="${outline}" stroke-width="2" stroke-linejoin="round"/>`;
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
    throw new Error(`renderGarment: expected ${width}x${height}x3 from the SVG, got ${info.width}x${info.height}x${info.channels}`);
  }
  // Slight sensor-like noise: the sum of two random bytes, centred, about ±5 levels (one draw per sample).
  const next = mulberry32(noiseSeed);
  for (let i = 0; i < data.length; i++) {
    const r = next();
    const value = data[i]! + (((r & 255) + ((r >>> 8) & 255) - 255) * 5) / 255;
    data[i] = value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
  }
  const content = await sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return { content, width, height, quality };
}

/** Renders a garment photo as JPEG bytes. */
export async function renderGarment(options: RenderGarmentOptions): Promise<Buffer> {
  return (await renderGarmentImage(options)).content;
}
