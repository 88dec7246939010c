import { writeFile } from 'node:fs/promises';

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { assessLearningCurve } from '../../src/train/learningCurve';
import { evaluateMultiLabel, evaluateSingleLabel } from '../../src/train/metrics';
import {
  confusionMatrixSvg,
  learningCurveSvg,
  perClassBarsSvg,
  precisionRecallSvg,
  svgToPng,
} from '../../src/train/plots';
import { seededRandom } from '../../src/util/seededRandom';

/**
 * A small well-formedness check: tags nest and close, attributes are quoted, and text holds no bare '<' or an '&'
 * that does not start an entity. librsvg (through sharp) then checks the rest by rendering.
 */
function expectWellFormed(svg: string): void {
  const body = svg.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let position = 0;
  for (let match = tag.exec(body); match !== null; match = tag.exec(body)) {
    const between = body.slice(position, match.index);
    expect(between, `text before ${match[0]}`).not.toMatch(/<|&(?!(?:#\d+|amp|lt|gt|quot|apos);)/);
    position = match.index + match[0].length;
    const [, closing, name, , selfClosing] = match;
    if (closing === '/') expect(stack.pop(), `closing </${name}>`).toBe(name);
    else if (selfClosing !== '/') stack.push(name!);
  }
  expect(body.slice(position).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(body.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(body).toMatch(/viewBox="0 0 \d+ \d+"/);
  expect(body).toMatch(/font-family="sans-serif"/);
}

/** Renders to /tmp/plots-<name>.png for a person to look at, and checks size and that something was drawn. */
async function render(name: string, svg: string): Promise<{ width: number; height: number }> {
  expectWellFormed(svg);
  const png = await svgToPng(svg);
  await writeFile(`/tmp/plots-${name}.png`, png);
  const meta = await sharp(png).metadata();
  const [, w, h] = /viewBox="0 0 (\d+) (\d+)"/.exec(svg)!;
  expect(meta.format).toBe('png');
  expect(meta.width).toBe(Number(w));
  expect(meta.height).toBe(Number(h));
  const stats = await sharp(png).stats();
  // Not blank: the darkest pixel is dark (text), and the picture is mostly white background.
  expect(Math.min(...stats.channels.slice(0, 3).map((c) => c.min))).toBeLessThan(80);
  expect(stats.channels[0]!.mean).toBeGreaterThan(150);
  return { width: meta.width, height: meta.height };
}

/** A plausible 5-class evaluation: mostly right, cats and dogs confused with each other. */
function fiveClasses(): ReturnType<typeof evaluateSingleLabel> {
  const labels = ['cat', 'dog', 'golden retriever puppy', 'horse', 'tabby & <striped> "cat"'];
  const random = seededRandom(3);
  const truth: number[] = [];
  const scores: number[][] = [];
  labels.forEach((_, c) => {
    const count = [40, 35, 12, 25, 8][c]!;
    for (let i = 0; i < count; i++) {
      truth.push(c);
      const row = labels.map(() => random() * 0.3);
      const confusedWith = c === 0 ? 1 : c === 1 ? 0 : c === 4 ? 0 : (c + 1) % labels.length;
      row[random() < 0.78 ? c : confusedWith]! += 1;
      scores.push(row);
    }
  });
  return evaluateSingleLabel({ labels, truth, scores });
}

describe('confusionMatrixSvg', () => {
  it('draws counts in a heat map with escaped, rotated long labels', async () => {
    const result = fiveClasses();
    const labels = result.perClass.map((c) => c.label);
    const svg = confusionMatrixSvg(labels, result.confusionMatrix);
    expect(svg).toContain('tabby &#38; &#60;striped&#62; &#34;cat&#34;');
    expect(svg).not.toContain('<striped>');
    expect(svg).toContain('>golden retriever puppy</text>');
    expect(svg).toContain('rotate(-45');
    for (const count of result.confusionMatrix.flat()) expect(svg).toContain(`>${count}</text>`);
    expect(svg).toContain(`${result.count} samples`);
    await render('confusion', svg);
  });

  it('shows row shares when normalised, and keeps short labels level', async () => {
    const svg = confusionMatrixSvg(
      ['a', 'b'],
      [
        [3, 1],
        [0, 4],
      ],
      { normalize: true },
    );
    expect(svg).toContain('>75%</text>');
    expect(svg).toContain('>25%</text>');
    expect(svg).toContain('>100%</text>');
    expect(svg).not.toContain('rotate(-45');
    await render('confusion-normalized', svg);
  });

  it('stays legible with many classes by dropping the numbers, not the colours', async () => {
    const labels = Array.from({ length: 40 }, (_, i) => `class number ${i + 1}`);
    const matrix = labels.map((_, r) => labels.map((__, c) => (r === c ? 20 : Math.abs(r - c) === 1 ? 3 : 0)));
    const svg = confusionMatrixSvg(labels, matrix);
    expect(svg).toContain('class number 40');
    expect(svg).not.toContain('>20</text>');
    expect(svg).toContain('predicted class number 2: 3 (');
    await render('confusion-40', svg);
  });

  it('rejects a matrix that does not match the labels', () => {
    expect(() => confusionMatrixSvg(['a', 'b'], [[1, 2]])).toThrow(/2 × 2/);
  });
});

describe('perClassBarsSvg', () => {
  it('draws grouped precision, recall and F1 bars with a legend', async () => {
    const result = fiveClasses();
    const svg = perClassBarsSvg(result.perClass);
    for (const name of ['Precision', 'Recall', 'F1']) expect(svg).toContain(`>${name}</text>`);
    for (const c of result.perClass) {
      expect(svg).toContain(
        `${c.label.replace(/&/g, '&#38;').replace(/</g, '&#60;').replace(/>/g, '&#62;').replace(/"/g, '&#34;')}: f1 ${c.f1.toFixed(2)}`,
      );
    }
    expect(svg).toContain(`n=${result.perClass[0]!.support}`);
    await render('bars', svg);
  });

  it('handles many classes', async () => {
    const random = seededRandom(5);
    const perClass = Array.from({ length: 30 }, (_, i) => {
      const precision = 0.5 + random() * 0.5;
      const recall = 0.4 + random() * 0.6;
      return { label: `species ${i + 1}`, precision, recall, f1: (2 * precision * recall) / (precision + recall) };
    });
    const svg = perClassBarsSvg(perClass);
    expect(svg).toContain('species 30');
    await render('bars-30', svg);
  });
});

describe('precisionRecallSvg', () => {
  it('draws one step curve per label with its AP in the legend', async () => {
    const random = seededRandom(9);
    const labels = ['outdoor', 'person', 'dog', 'night', 'never present'];
    const difficulty = [0.5, 0.4, 0.25, 0.7, 0.3];
    const truth = Array.from({ length: 120 }, () => labels.map((_, j) => j < 4 && random() < 0.35));
    const scores = truth.map((row) =>
      row.map((t, j) => Math.min(1, Math.max(0, (t ? 0.7 : 0.3) + (random() - 0.5) * 2 * difficulty[j]!))),
    );
    const result = evaluateMultiLabel({ labels, truth, scores });
    const svg = precisionRecallSvg(result.perLabel.map((l) => ({ label: l.label, points: l.curve, ap: l.ap })));
    for (const l of result.perLabel) {
      expect(svg).toContain(`${l.label}  AP ${l.ap === null ? 'n/a' : l.ap.toFixed(2)}`);
    }
    expect(svg).toContain(`mAP ${result.mAP!.toFixed(2)} over 4 labels`);
    // The label without positives gets a legend entry but no curve.
    expect(svg.match(/<path /g)).toHaveLength(4);
    await render('pr', svg);
  });

  it('draws the scikit-learn example as the expected steps', () => {
    // Points (0,1) (0.5,1) (0.5,0.5) (1,2/3) (1,0.5) on a 380-unit square at (56, 56).
    const svg = precisionRecallSvg([
      {
        label: 'cat',
        ap: 5 / 6,
        points: [
          { recall: 0, precision: 1 },
          { recall: 0.5, precision: 1 },
          { recall: 0.5, precision: 0.5 },
          { recall: 1, precision: 2 / 3 },
          { recall: 1, precision: 0.5 },
        ],
      },
    ]);
    expect(svg).toContain('d="M56,56V56H246V246H246V182.7H436V246H436"');
    expect(svg).toContain('AP 0.83');
  });
});

describe('learningCurveSvg', () => {
  it('draws test and training accuracy with the verdict under the plot', async () => {
    const points = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => ({
      trainingImages: i * 120,
      accuracy: 0.93 - 0.45 / Math.sqrt(i) + (i % 2 === 0 ? 0.006 : -0.006),
      trainAccuracy: Math.min(1, 0.995 - 0.02 / i),
    }));
    const { verdict } = assessLearningCurve(points);
    const svg = learningCurveSvg(points, verdict);
    expect(svg).toContain('>test accuracy</text>');
    expect(svg).toContain('>training accuracy</text>');
    expect(svg).toContain('>1200</text>');
    expect(svg).toContain(`>${(points[9]!.accuracy * 100).toFixed(1)}%</text>`);
    // The verdict is there, wrapped over lines, word for word.
    const shown = [...svg.matchAll(/<text x="24" [^>]*>([^<]*)<\/text>/g)].map((m) => m[1]).join(' ');
    expect(shown).toBe(verdict.replace(/&/g, '&#38;'));
    await render('learning', svg);
  });

  it('draws a curve without training accuracy or verdict', async () => {
    const svg = learningCurveSvg([
      { trainingImages: 50, accuracy: 0.42 },
      { trainingImages: 100, accuracy: 0.55 },
      { trainingImages: 200, accuracy: 0.61 },
    ]);
    expect(svg).not.toContain('training accuracy');
    expect(svg).toContain('>55.0%</text>');
    await render('learning-plain', svg);
  });
});

/** A text element's or circle's box, estimated as the plots estimate text: 0.55 em a character, 1.2 em high. */
interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  what: string;
}

const TEST_COLOR = '#4e79a7';

/** The SVG's unrotated text elements as boxes, and which of them label the test points (size 10, the test colour). */
function textBoxes(svg: string): { labels: Box[]; others: Box[] } {
  const labels: Box[] = [];
  const others: Box[] = [];
  const element =
    /<text x="([-\d.]+)" y="([-\d.]+)" font-size="([\d.]+)"([^>]*)>(?:<title>[^<]*<\/title>)?([^<]*)<\/text>/g;
  for (const [, x, y, size, attributes, content] of svg.matchAll(element)) {
    if (attributes!.includes('transform=')) continue;
    const em = Number(size);
    const width = content!.replace(/&#\d+;/g, '&').length * em * 0.55;
    const anchor = /text-anchor="(\w+)"/.exec(attributes!)?.[1] ?? 'start';
    const x0 = anchor === 'middle' ? Number(x) - width / 2 : anchor === 'end' ? Number(x) - width : Number(x);
    const box = {
      x0,
      y0: Number(y) - em,
      x1: x0 + width,
      y1: Number(y) + em * 0.2,
      what: `"${content!}" at ${x},${y}`,
    };
    (em === 10 && attributes!.includes(`fill="${TEST_COLOR}"`) ? labels : others).push(box);
  }
  return { labels, others };
}

/** Every circle as its box, stroke included. */
function circleBoxes(svg: string): Box[] {
  return [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)" r="([\d.]+)"([^>]*)>/g)].map(
    ([, cx, cy, r, attributes]) => {
      const stroke = Number(/stroke-width="([\d.]+)"/.exec(attributes!)?.[1] ?? 0);
      const radius = Number(r) + stroke / 2;
      return {
        x0: Number(cx) - radius,
        y0: Number(cy) - radius,
        x1: Number(cx) + radius,
        y1: Number(cy) + radius,
        what: `point at ${cx},${cy}`,
      };
    },
  );
}

function intersect(a: Box, b: Box): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** No point label overlaps another, a point, or any other text; returns the labels. */
function expectLabelsClear(svg: string): Box[] {
  const { labels, others } = textBoxes(svg);
  const circles = circleBoxes(svg);
  const clashes: string[] = [];
  labels.forEach((label, i) => {
    for (const other of [...labels.slice(i + 1), ...circles, ...others]) {
      if (intersect(label, other)) clashes.push(`${label.what} overlaps ${other.what}`);
    }
  });
  expect(clashes).toEqual([]);
  // Each label reads as its own point's: the test point nearest to it shows the same figure.
  const testPoints = [
    ...svg.matchAll(
      /<circle cx="([-\d.]+)" cy="([-\d.]+)" r="[\d.]+" fill="#4e79a7"><title>[^<]*: \w+ ([\d.]+%)<\/title>/g,
    ),
  ].map(([, cx, cy, value]) => ({ x: Number(cx), y: Number(cy), value: value! }));
  for (const label of labels) {
    const [mx, my] = [(label.x0 + label.x1) / 2, (label.y0 + label.y1) / 2];
    const nearest = testPoints.reduce((a, b) =>
      Math.hypot(a.x - mx, a.y - my) <= Math.hypot(b.x - mx, b.y - my) ? a : b,
    );
    expect(label.what, 'the nearest test point shows the same figure').toMatch(new RegExp(`^"${nearest.value}"`));
  }
  return labels;
}

describe('learningCurveSvg labels', () => {
  const tenths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('label every point of ordinary curves without overlapping each other, the points or other text', async () => {
    const curves = [
      // Rising, training accuracy well above.
      tenths.map((i) => ({
        trainingImages: i * 120,
        accuracy: 0.93 - 0.45 / Math.sqrt(i),
        trainAccuracy: Math.min(1, 0.995 - 0.02 / i),
      })),
      // Near flat on 26 test images, training accuracy a hair above: points two or three units apart.
      tenths.map((i) => ({
        trainingImages: i * 10,
        accuracy: (i < 7 ? 24 : 25) / 26,
        trainAccuracy: (i < 7 ? 24 : 25) / 26 + 0.004,
      })),
      // Flat at 100 %: no room above the points.
      tenths.map((i) => ({ trainingImages: i * 50, accuracy: 1, trainAccuracy: 1 })),
      // Low and rising from the bottom of the axis, where the tick labels are, past the legend.
      tenths.map((i) => ({ trainingImages: i * 30, accuracy: 0.02 + 0.03 * i })),
      // Zig-zag by a point at a time.
      tenths.map((i) => ({ trainingImages: i * 100, accuracy: 0.85 + (i % 2 === 0 ? 0.01 : -0.01) })),
    ];
    for (const [i, points] of curves.entries()) {
      const svg = learningCurveSvg(points, assessLearningCurve(points, { testImages: 26 }).verdict);
      await render(`learning-labels-${i}`, svg);
      const labels = expectLabelsClear(svg);
      expect(labels.map((label) => label.what.split('"')[1])).toEqual(
        points.map((p) => `${(p.accuracy * 100).toFixed(1)}%`),
      );
    }
  });

  it('never overlap when points crowd, leaving out what has no room but not the last point', async () => {
    // Ten sizes within a few percent of the axis and almost the same accuracy: no room for ten labels side by side.
    const crowded = tenths.map((i) => ({
      trainingImages: 1000 + i * 4,
      accuracy: 0.8 + 0.001 * i,
      trainAccuracy: 0.81 + 0.001 * i,
    }));
    const svg = learningCurveSvg(crowded);
    await render('learning-labels-crowded', svg);
    const labels = expectLabelsClear(svg);
    expect(labels.length).toBeGreaterThan(0);
    expect(labels.length).toBeLessThan(crowded.length);
    expect(labels.map((label) => label.what)).toContainEqual(expect.stringMatching(/^"81\.0%"/));
    // Random curves of 2 to 12 points, with and without training accuracy.
    const random = seededRandom(20);
    for (let trial = 0; trial < 40; trial++) {
      const count = 2 + Math.floor(random() * 11);
      const base = 0.3 + random() * 0.6;
      let images = 5 + Math.floor(random() * 50);
      const points = Array.from({ length: count }, () => {
        images += 1 + Math.floor(random() * (trial % 2 === 0 ? 8 : 200));
        const accuracy = Math.min(1, base + random() * 0.05);
        return {
          trainingImages: images,
          accuracy,
          ...(trial % 3 === 0 ? {} : { trainAccuracy: Math.min(1, accuracy + random() * 0.03) }),
        };
      });
      expectLabelsClear(learningCurveSvg(points));
    }
  });
});

describe('svgToPng', () => {
  it('renders at a higher density for sharper pictures', async () => {
    const svg = confusionMatrixSvg(
      ['a', 'b'],
      [
        [1, 0],
        [0, 1],
      ],
    );
    const normal = await sharp(await svgToPng(svg)).metadata();
    const double = await sharp(await svgToPng(svg, { density: 144 })).metadata();
    expect(double.width).toBe(normal.width * 2);
  });
});
