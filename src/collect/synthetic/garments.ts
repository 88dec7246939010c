// Garment silhouettes of the synthetic photos (t-shirt, shirt, blouse, hoodie, sweater, pullover, vest, a generic
// tunic), drawn flat (front view) as SVG paths in a 300 x 300 unit frame, with their seams, ribs and trims.
import { n } from './drawing';

/** Items the renderer draws with their own silhouette; anything else gets a generic garment. */
export const GARMENT_ITEMS = ['blouse', 'hoodie', 'pullover', 'sweater', 'shirt', 't-shirt', 'vest'] as const;

export interface Garment {
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
function ribs(
  a0: [number, number],
  a1: [number, number],
  b0: [number, number],
  b1: [number, number],
  count: number,
): string {
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
      '<path d="M282,116L246,158M18,116L54,158" ' +
      STITCH +
      '/>' +
      '<path d="M70,272L230,272" ' +
      STITCH +
      '/>',
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
      '<path d="M144,62L144,284M156,60L156,284" ' +
      SEAM +
      '/>' +
      buttons(150, [74, 112, 150, 188, 226, 262], 4) +
      '<path d="M166,112L200,112" ' +
      STITCH +
      '/>' +
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
      '<path d="M76,192Q150,204 224,192" ' +
      SEAM +
      '/>' +
      '<path d="M96,198L92,214M116,201L113,218M136,202L135,220M164,202L165,220M184,201L187,218M204,198L208,214" ' +
      RIB +
      '/>' +
      `<path d="${scallops(250, 186, 284, 178, 4)}" ${SEAM}/>` +
      `<path d="${scallops(16, 178, 50, 186, 4)}" ${SEAM}/>` +
      '<path d="M252,172L282,165M18,165L48,172" ' +
      RIB +
      '/>' +
      '<path d="M48,276Q150,292 252,276" ' +
      STITCH +
      '/>',
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
      '<path d="M104,192L84,250M196,192L216,250" ' +
      STITCH +
      '/>' +
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
      '<path d="M127,36L150,80L173,36" ' +
      SEAM +
      '/>' +
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
      '<path d="M150,124L150,298" ' +
      SEAM +
      '/>' +
      '<path d="M116,30L150,114L184,30" ' +
      STITCH +
      '/>' +
      buttons(158, [146, 180, 214, 248], 4.5) +
      '<path d="M184,200L226,190L228,198L186,208Z" fill="rgba(0,0,0,0.12)" stroke="rgba(0,0,0,0.5)" stroke-width="1.4"/>' +
      '<path d="M116,200L74,190L72,198L114,208Z" fill="rgba(0,0,0,0.12)" stroke="rgba(0,0,0,0.5)" stroke-width="1.4"/>' +
      '<path d="M224,40Q224,96 246,114M76,40Q76,96 54,114" ' +
      STITCH +
      '/>',
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

export function makeGarment(item: string): Garment {
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
