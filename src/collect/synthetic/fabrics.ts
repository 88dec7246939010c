// Fabric patterns of the synthetic garment photos (stripes, dots, leopard rosettes, plain), drawn as SVG in garment
// units over the area -20..320 (the garment frame is 0..300, the hood reaches -4), every choice from the generator.
import { chance, css, hsl, mix, n, pick, type Random, type Rgb, uniform, WHITE } from './drawing';

/** Patterns the renderer draws; anything else gets a plain fill. */
export const GARMENT_PATTERNS = ['striped', 'dotted', 'leopard'] as const;

const FABRIC_LOW = -20;
const FABRIC_HIGH = 320;
const GROUND = (colour: Rgb): string =>
  `<rect x="${FABRIC_LOW}" y="${FABRIC_LOW}" width="${FABRIC_HIGH - FABRIC_LOW}" height="${FABRIC_HIGH - FABRIC_LOW}" fill="${css(colour)}"/>`;

export interface Fabric {
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
    if (colour !== light)
      rects.push(`<rect x="-90" y="${n(y)}" width="480" height="${n(width)}" fill="${css(colour)}"/>`);
    y += width;
  }
  return {
    svg: `${GROUND(light)}<g transform="rotate(${n(angle)} 150 150)">${rects.join('')}</g>`,
    trim: light,
    main: dark,
  };
}

function dottedFabric(random: Random): Fabric {
  const hue = uniform(random, 0, 360);
  const darkGround = chance(random, 0.5);
  const ground = darkGround
    ? hsl(hue, uniform(random, 35, 80), uniform(random, 18, 40))
    : hsl(hue, uniform(random, 15, 70), uniform(random, 80, 94));
  const dotHue = chance(random, 0.6) ? hue : uniform(random, 0, 360);
  const dot = darkGround
    ? hsl(dotHue, uniform(random, 0, 50), uniform(random, 82, 97))
    : hsl(dotHue, uniform(random, 40, 85), uniform(random, 18, 45));
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
      if (x < FABRIC_LOW - radius || x > FABRIC_HIGH + radius || y < FABRIC_LOW - radius || y > FABRIC_HIGH + radius)
        continue;
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
function blob(
  random: Random,
  cx: number,
  cy: number,
  radius: number,
  aspect: number,
  tilt: number,
  jitter: number,
): string {
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
function ringPiece(
  random: Random,
  cx: number,
  cy: number,
  radius: number,
  aspect: number,
  tilt: number,
  a0: number,
  a1: number,
): string {
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

export function makeFabric(pattern: string, random: Random): Fabric {
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
