// Drawing helpers of the synthetic garment photos: seeded draws, colours (HSL, mixing, grey-level-exact colours)
// and compact SVG number formatting.

export type Random = () => number;
export type Rgb = readonly [number, number, number];

export const uniform = (random: Random, low: number, high: number): number => low + random() * (high - low);
export const chance = (random: Random, p: number): boolean => random() < p;
export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Compact number formatting for SVG coordinates. */
export const n = (value: number): string => String(Math.round(value * 10) / 10);

export function hsl(hue: number, saturation: number, lightness: number): Rgb {
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

export const css = (c: Rgb): string => `rgb(${c[0]},${c[1]},${c[2]})`;
export const mix = (a: Rgb, b: Rgb, t: number): Rgb => [
  Math.round(a[0] + (b[0] - a[0]) * t),
  Math.round(a[1] + (b[1] - a[1]) * t),
  Math.round(a[2] + (b[2] - a[2]) * t),
];
/**
 * The colour nudged (by a level or two in red and blue) so that its grey value (0.299 R + 0.587 G + 0.114 B, as
 * Pillow converts) lies close to a whole level: flat areas then keep one grey level through recompression.
 */
export function integerLuma(colour: Rgb): Rgb {
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

export const BLACK: Rgb = [0, 0, 0];
export const WHITE: Rgb = [255, 255, 255];
