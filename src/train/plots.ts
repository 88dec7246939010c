// SVG pictures of the trainer's evaluation: confusion matrix, per-class bars, precision-recall curves, learning curve.
// Plain strings with no dependencies so that they can be served, stored as blobs or embedded in HTML as they are;
// svgToPng rasterises them with sharp where a bitmap is wanted. Sizes in SVG user units (1 unit = 1 px at 72 dpi).
import sharp from 'sharp';

export interface ConfusionMatrixOptions {
  /** Show each row as shares of the true class (recall on the diagonal) instead of counts. */
  normalize?: boolean;
}

export interface PerClassBar {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support?: number;
}

export interface PrecisionRecallCurve {
  label: string;
  /** In the order of falling threshold (as evaluateMultiLabel gives them); drawn as steps, like scikit-learn. */
  points: readonly { recall: number; precision: number }[];
  ap: number | null;
}

export interface LearningCurvePoint {
  trainingImages: number;
  accuracy: number;
  trainAccuracy?: number;
}

const FONT = 'sans-serif';
const INK = '#222';
const MUTED = '#666';
const GRID = '#ddd';
/** Tableau 10: distinguishable, colour-blind friendlier than the rainbow. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
/** Past ten curves colours repeat, so the dash pattern tells them apart. */
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];
/** Labels longer than this are cut with an ellipsis; the full text stays in a <title> tooltip. */
const MAX_LABEL_CHARS = 24;

/** A heat map of the confusion matrix (rows true, columns predicted) with the number in every cell that has room. */
export function confusionMatrixSvg(
  labels: readonly string[],
  matrix: readonly (readonly number[])[],
  options: ConfusionMatrixOptions = {},
): string {
  const n = labels.length;
  if (n === 0) throw new RangeError('confusionMatrixSvg: labels is empty');
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) {
    throw new RangeError(`confusionMatrixSvg: matrix must be ${n} × ${n} to match labels`);
  }
  const normalize = options.normalize ?? false;
  const rowTotals = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const total = rowTotals.reduce((a, b) => a + b, 0);
  // Colour by share of the row either way: with unbalanced classes raw counts would hide the small classes' errors.
  const share = (r: number, c: number): number => (rowTotals[r]! === 0 ? 0 : matrix[r]![c]! / rowTotals[r]!);

  const cell = clamp(Math.floor(480 / n), 8, 56);
  const labelFont = clamp(Math.round(cell * 0.8), 7, 12);
  const shown = labels.map(shorten);
  const labelWidth = Math.max(...shown.map((label) => textWidth(label, labelFont)));
  const rotate = labelWidth > cell - 4;
  const valueTexts = matrix.map((row, r) => row.map((value, c) => (normalize ? percent(share(r, c)) : String(value))));
  const longestValue = Math.max(2, ...valueTexts.flat().map((text) => text.length));
  // Numbers only where they fit; the colour still carries the information in big matrices.
  const valueFont = Math.min(14, (cell - 4) / (0.62 * longestValue));
  const showValues = valueFont >= 7;

  const left = 40 + labelWidth + 8;
  const top = 48;
  const grid = cell * n;
  const xLabelsHeight = rotate ? labelWidth * Math.SQRT1_2 + labelFont + 6 : labelFont + 8;
  const legendX = left + grid + 16;
  const title = `Confusion matrix${normalize ? ' (share of each true class)' : ''}`;
  const subtitle = `${total} samples · rows: true label · columns: predicted label`;
  // Wide enough for the titles too, which a small matrix would otherwise cut off.
  const width = Math.max(legendX + 60, 16 + Math.max(textWidth(title, 16) * 1.15, textWidth(subtitle, 11)) + 16);
  const height = top + grid + xLabelsHeight + 32;

  const parts: string[] = [];
  parts.push(text(16, 24, title, { size: 16, weight: 'bold' }), text(16, 40, subtitle, { size: 11, fill: MUTED }));
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const value = share(r, c);
      const x = left + c * cell;
      const y = top + r * cell;
      const tip = `true ${labels[r]!} → predicted ${labels[c]!}: ${matrix[r]![c]!} (${percent(value)} of the row)`;
      parts.push(
        `<rect x="${num(x)}" y="${num(y)}" width="${cell}" height="${cell}" fill="${blues(value)}" stroke="#fff" stroke-width="${cell >= 16 ? 1 : 0.5}"><title>${escapeXml(tip)}</title></rect>`,
      );
      if (showValues) {
        const zero = matrix[r]![c]! === 0;
        parts.push(
          text(x + cell / 2, y + cell / 2 + valueFont * 0.35, valueTexts[r]![c]!, {
            size: valueFont,
            anchor: 'middle',
            fill: zero ? '#aaa' : value > 0.5 ? '#fff' : INK,
            weight: r === c && !zero ? 'bold' : undefined,
          }),
        );
      }
    }
  }
  parts.push(`<rect x="${num(left)}" y="${top}" width="${grid}" height="${grid}" fill="none" stroke="#999"/>`);
  shown.forEach((label, i) => {
    const middle = i * cell + cell / 2;
    parts.push(
      text(left - 6, top + middle + labelFont * 0.35, label, { size: labelFont, anchor: 'end', tip: labels[i]! }),
    );
    const x = left + middle;
    const y = top + grid + 6;
    parts.push(
      rotate
        ? text(x + labelFont * 0.3, y, label, { size: labelFont, anchor: 'end', rotate: -45, tip: labels[i]! })
        : text(x, y + labelFont, label, { size: labelFont, anchor: 'middle', tip: labels[i]! }),
    );
  });
  parts.push(
    text(left + grid / 2, top + grid + xLabelsHeight + 18, 'Predicted label', { size: 13, anchor: 'middle' }),
    text(16, top + grid / 2, 'True label', { size: 13, anchor: 'middle', rotate: -90 }),
  );
  // Colour key: a vertical ramp from 0 % to 100 % of the row.
  const legendHeight = Math.min(grid, 200);
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `<stop offset="${t}" stop-color="${blues(1 - t)}"/>`).join('');
  parts.push(
    `<defs><linearGradient id="ramp" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
    `<rect x="${num(legendX)}" y="${top}" width="12" height="${num(legendHeight)}" fill="url(#ramp)" stroke="#999"/>`,
    text(legendX + 16, top + 9, '100%', { size: 10, fill: MUTED }),
    text(legendX + 16, top + legendHeight, '0%', { size: 10, fill: MUTED }),
    text(legendX + 16, top + legendHeight + 14, 'of row', { size: 10, fill: MUTED }),
  );
  return document(width, height, 'Confusion matrix', parts);
}

/** Grouped bars of precision, recall and F1 for every class, on a 0-1 scale, with a legend. */
export function perClassBarsSvg(perClass: readonly PerClassBar[]): string {
  const n = perClass.length;
  if (n === 0) throw new RangeError('perClassBarsSvg: perClass is empty');
  const series = [
    { name: 'Precision', color: PALETTE[0]!, pick: (bar: PerClassBar) => bar.precision },
    { name: 'Recall', color: PALETTE[1]!, pick: (bar: PerClassBar) => bar.recall },
    { name: 'F1', color: PALETTE[4]!, pick: (bar: PerClassBar) => bar.f1 },
  ];
  const group = clamp(Math.floor(640 / n), 18, 84);
  const gap = Math.max(4, group * 0.2);
  const bar = (group - gap) / series.length;
  const showValues = bar >= 20;
  const labelFont = group >= 40 ? 12 : 10;
  const shown = perClass.map((entry) => shorten(entry.label));
  const rotate = Math.max(...shown.map((label) => textWidth(label, labelFont))) > group - 4;
  const hasSupport = perClass.some((entry) => entry.support !== undefined);
  // Level labels carry the support on a second line; slanted ones carry it in brackets.
  if (rotate) {
    perClass.forEach((entry, i) => {
      if (entry.support !== undefined) shown[i] = `${shown[i]!} (n=${entry.support})`;
    });
  }
  const labelWidth = Math.max(...shown.map((label) => textWidth(label, labelFont)));

  const left = 56;
  const top = 66;
  const plotWidth = Math.max(group * n, 300);
  const plotHeight = 260;
  const xLabelsHeight = rotate ? labelWidth * Math.SQRT1_2 + labelFont + 8 : labelFont + (hasSupport ? 24 : 10);
  const width = left + plotWidth + 20;
  const height = top + plotHeight + xLabelsHeight + 12;
  const y = (value: number): number => top + plotHeight * (1 - clamp(value, 0, 1));

  const parts: string[] = [text(left, 24, 'Precision, recall and F1 per class', { size: 16, weight: 'bold' })];
  for (let tick = 0; tick <= 5; tick++) {
    const value = tick / 5;
    parts.push(
      line(left, y(value), left + plotWidth, y(value), tick === 0 ? '#999' : GRID),
      text(left - 6, y(value) + 4, value.toFixed(1), { size: 11, anchor: 'end', fill: MUTED }),
    );
  }
  parts.push(text(16, top + plotHeight / 2, 'Score', { size: 13, anchor: 'middle', rotate: -90 }));
  // Legend in one row above the plot's right end.
  series.forEach((s, i) => {
    const x = left + plotWidth - (series.length - i) * 86;
    parts.push(
      `<rect x="${num(x)}" y="34" width="12" height="12" fill="${s.color}"/>`,
      text(x + 16, 44, s.name, { size: 12 }),
    );
  });
  const offset = (plotWidth - group * n) / 2;
  perClass.forEach((entry, i) => {
    const x0 = left + offset + i * group + gap / 2;
    series.forEach((s, j) => {
      const value = s.pick(entry);
      const x = x0 + j * bar;
      const tip = `${entry.label}: ${s.name.toLowerCase()} ${fixed(value)}`;
      parts.push(
        `<rect x="${num(x)}" y="${num(y(value))}" width="${num(bar - 1)}" height="${num(y(0) - y(value))}" fill="${s.color}"><title>${escapeXml(tip)}</title></rect>`,
      );
      if (showValues) {
        parts.push(text(x + (bar - 1) / 2, y(value) - 3, fixed(value), { size: 9, anchor: 'middle', fill: MUTED }));
      }
    });
    const middle = left + offset + i * group + group / 2;
    const baseline = top + plotHeight + 6;
    if (rotate) {
      parts.push(
        text(middle + labelFont * 0.3, baseline, shown[i]!, {
          size: labelFont,
          anchor: 'end',
          rotate: -45,
          tip: entry.label,
        }),
      );
    } else {
      parts.push(
        text(middle, baseline + labelFont, shown[i]!, { size: labelFont, anchor: 'middle', tip: entry.label }),
      );
      if (hasSupport && entry.support !== undefined) {
        parts.push(
          text(middle, baseline + labelFont + 14, `n=${entry.support}`, { size: 10, anchor: 'middle', fill: MUTED }),
        );
      }
    }
  });
  return document(width, height, 'Precision, recall and F1 per class', parts);
}

/** Precision-recall curves, one per label, as steps whose area is the label's AP; the legend gives the APs. */
export function precisionRecallSvg(curves: readonly PrecisionRecallCurve[]): string {
  if (curves.length === 0) throw new RangeError('precisionRecallSvg: curves is empty');
  const left = 56;
  const top = 56;
  const size = 380;
  const legendX = left + size + 24;
  const legendFont = 12;
  const legendTexts = curves.map(
    (curve) => `${shorten(curve.label)}  AP ${curve.ap === null ? 'n/a' : fixed(curve.ap)}`,
  );
  const width = legendX + 34 + Math.max(...legendTexts.map((t) => textWidth(t, legendFont))) + 12;
  const height = Math.max(top + size + 52, top + curves.length * 20 + 20);
  const x = (recall: number): number => left + size * clamp(recall, 0, 1);
  const y = (precision: number): number => top + size * (1 - clamp(precision, 0, 1));
  const measured = curves.flatMap((curve) => (curve.ap === null ? [] : [curve.ap]));
  const mean = measured.length === 0 ? null : measured.reduce((a, b) => a + b, 0) / measured.length;

  const parts: string[] = [
    text(left, 24, 'Precision–recall', { size: 16, weight: 'bold' }),
    text(
      left,
      42,
      mean === null
        ? 'no label has positive samples'
        : `mAP ${fixed(mean)} over ${measured.length} label${measured.length === 1 ? '' : 's'}`,
      {
        size: 12,
        fill: MUTED,
      },
    ),
  ];
  for (let tick = 0; tick <= 5; tick++) {
    const value = tick / 5;
    parts.push(
      line(left, y(value), left + size, y(value), GRID),
      line(x(value), top, x(value), top + size, GRID),
      text(left - 6, y(value) + 4, value.toFixed(1), { size: 11, anchor: 'end', fill: MUTED }),
      text(x(value), top + size + 16, value.toFixed(1), { size: 11, anchor: 'middle', fill: MUTED }),
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#999"/>`,
    text(left + size / 2, top + size + 38, 'Recall', { size: 13, anchor: 'middle' }),
    text(16, top + size / 2, 'Precision', { size: 13, anchor: 'middle', rotate: -90 }),
  );
  curves.forEach((curve, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const dash = DASHES[Math.floor(i / PALETTE.length) % DASHES.length]!;
    const dashAttribute = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
    // Stable sort: points of equal recall keep their order (precision falling as negatives join).
    const points = [...curve.points].sort((a, b) => a.recall - b.recall);
    // Without positives recall is undefined and the "curve" a meaningless line along the axis: legend entry only.
    if (points.length > 0 && curve.ap !== null) {
      const first = points[0]!;
      // Step up to each next recall at that point's precision: the area under the steps is Σ ΔR·P = AP.
      const path = [`M${num(x(first.recall))},${num(y(first.precision))}`]
        .concat(points.slice(1).map((p) => `V${num(y(p.precision))}H${num(x(p.recall))}`))
        .join('');
      parts.push(
        `<path d="${path}" fill="none" stroke="${color}" stroke-width="2"${dashAttribute} stroke-linejoin="round"><title>${escapeXml(legendTexts[i]!)}</title></path>`,
      );
    }
    const ly = top + i * 20 + 6;
    parts.push(
      `<line x1="${num(legendX)}" y1="${ly}" x2="${num(legendX + 26)}" y2="${ly}" stroke="${color}" stroke-width="3"${dashAttribute}/>`,
      text(legendX + 32, ly + 4, legendTexts[i]!, {
        size: legendFont,
        tip: curve.label,
        fill: curve.ap === null ? MUTED : INK,
      }),
    );
  });
  return document(width, height, 'Precision–recall curves', parts);
}

/**
 * Accuracy on the test split (the one the model is scored on) against the number of training images, with training
 * accuracy when given and the verdict underneath.
 */
export function learningCurveSvg(
  points: readonly LearningCurvePoint[],
  verdict?: string,
  options: { metric?: string } = {},
): string {
  const metric = options.metric ?? 'accuracy';
  if (points.length === 0) throw new RangeError('learningCurveSvg: points is empty');
  const sorted = [...points].sort((a, b) => a.trainingImages - b.trainingImages);
  const hasTrain = sorted.some((p) => p.trainAccuracy !== undefined);
  const left = 64;
  const top = 56;
  const plotWidth = 520;
  const plotHeight = 300;
  const verdictLines = verdict === undefined ? [] : wrap(verdict, plotWidth + 40, 13);
  const width = left + plotWidth + 30;
  const height = top + plotHeight + 56 + verdictLines.length * 18 + (verdictLines.length > 0 ? 8 : 0);

  const maxImages = Math.max(...sorted.map((p) => p.trainingImages));
  const xStep = niceStep(maxImages, 6);
  const xMax = Math.max(xStep, Math.ceil(maxImages / xStep) * xStep);
  // Zoom the accuracy axis to the data (down to the nearest 0.1 below it) so that a few points of gain are visible.
  const values = sorted.flatMap((p) => (p.trainAccuracy === undefined ? [p.accuracy] : [p.accuracy, p.trainAccuracy]));
  const yMin = clamp(Math.floor((Math.min(...values) - 0.02) * 10) / 10, 0, 0.9);
  const yStep = 1 - yMin > 0.35 ? 0.1 : 0.05;
  const x = (images: number): number => left + (plotWidth * images) / xMax;
  const y = (accuracy: number): number => top + (plotHeight * (1 - clamp(accuracy, yMin, 1))) / (1 - yMin);

  const parts: string[] = [text(left, 24, 'Learning curve', { size: 16, weight: 'bold' })];
  const yTicks = Math.round((1 - yMin) / yStep);
  for (let tick = 0; tick <= yTicks; tick++) {
    const value = yMin + tick * yStep;
    parts.push(
      line(left, y(value), left + plotWidth, y(value), GRID),
      text(left - 6, y(value) + 4, percent(value), { size: 11, anchor: 'end', fill: MUTED }),
    );
  }
  for (let images = 0; images <= xMax; images += xStep) {
    parts.push(
      line(x(images), top, x(images), top + plotHeight, GRID),
      text(x(images), top + plotHeight + 16, String(images), { size: 11, anchor: 'middle', fill: MUTED }),
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
    text(left + plotWidth / 2, top + plotHeight + 38, 'Training images', { size: 13, anchor: 'middle' }),
    text(
      16,
      top + plotHeight / 2,
      metric === metric.toLowerCase() ? metric.charAt(0).toUpperCase() + metric.slice(1) : metric,
      { size: 13, anchor: 'middle', rotate: -90 },
    ),
  );
  const testColor = PALETTE[0]!;
  const trainColor = PALETTE[1]!;
  const trainLine: [number, number][] = [];
  const testLine = sorted.map((p): [number, number] => [x(p.trainingImages), y(p.accuracy)]);
  if (hasTrain) {
    const trained = sorted.flatMap((p) =>
      p.trainAccuracy === undefined ? [] : [{ images: p.trainingImages, value: p.trainAccuracy }],
    );
    trainLine.push(...trained.map((p): [number, number] => [x(p.images), y(p.value)]));
    parts.push(polyline(trainLine, trainColor, '6 4'));
    for (const p of trained) {
      parts.push(
        `<circle cx="${num(x(p.images))}" cy="${num(y(p.value))}" r="${TRAIN_POINT_RADIUS - 1}" fill="#fff" stroke="${trainColor}" stroke-width="2"><title>${p.images} images: training accuracy ${percent(p.value, 1)}</title></circle>`,
      );
    }
  }
  parts.push(polyline(testLine, testColor, ''));
  for (const p of sorted) {
    parts.push(
      `<circle cx="${num(x(p.trainingImages))}" cy="${num(y(p.accuracy))}" r="${TEST_POINT_RADIUS}" fill="${testColor}"><title>${p.trainingImages} images: ${metric} ${percent(p.accuracy, 1)}</title></circle>`,
    );
  }
  // Legend, bottom right inside the plot where curves rarely are.
  const legend = hasTrain
    ? [
        { name: `test ${metric}`, color: testColor, dash: '' },
        { name: `training ${metric}`, color: trainColor, dash: '6 4' },
      ]
    : [{ name: `test ${metric}`, color: testColor, dash: '' }];
  const legendX = left + plotWidth - 170;
  const legendY = (i: number): number => top + plotHeight - 14 - (legend.length - 1 - i) * 18;
  legend.forEach((entry, i) => {
    const ly = legendY(i);
    parts.push(
      `<line x1="${legendX}" y1="${ly}" x2="${legendX + 26}" y2="${ly}" stroke="${entry.color}" stroke-width="2.5"${entry.dash === '' ? '' : ` stroke-dasharray="${entry.dash}"`}/>`,
      text(legendX + 32, ly + 4, entry.name, { size: 12 }),
    );
  });
  if (sorted.length <= 12) {
    // Every point (test and training) and the legend are obstacles; each label takes the first free place of its own.
    const obstacles: Box[] = [
      ...sorted.map((p) => pointBox(x(p.trainingImages), y(p.accuracy), TEST_POINT_RADIUS)),
      ...sorted.flatMap((p) =>
        p.trainAccuracy === undefined ? [] : [pointBox(x(p.trainingImages), y(p.trainAccuracy), TRAIN_POINT_RADIUS)],
      ),
      ...legend.map((entry, i) => ({
        x0: legendX - 2,
        y0: legendY(i) - 10,
        x1: legendX + 32 + textWidth(entry.name, 12) + 2,
        y1: legendY(i) + 8,
      })),
    ];
    const labels = placePointLabels(
      sorted.map((p) => ({ x: x(p.trainingImages), y: y(p.accuracy), text: percent(p.accuracy, 1) })),
      obstacles,
      [testLine, trainLine],
      // Inside the plot, except that the last point's label may stand out into the right margin (no text there).
      { x0: left, y0: top, x1: width - 2, y1: top + plotHeight },
    );
    for (const label of labels) {
      parts.push(text(label.x, label.y, label.text, { size: POINT_LABEL_SIZE, anchor: 'middle', fill: testColor }));
    }
  }
  verdictLines.forEach((lineText, i) => {
    parts.push(text(left - 40, top + plotHeight + 66 + i * 18, lineText, { size: 13 }));
  });
  return document(width, height, 'Learning curve', parts);
}

/** The learning curve's test points' radius, and the training points' outer one (3.5 plus half the 2-unit stroke). */
const TEST_POINT_RADIUS = 4;
const TRAIN_POINT_RADIUS = 4.5;
const POINT_LABEL_SIZE = 10;

/** An axis-aligned box in SVG units. */
interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A point's circle as a box, with a unit of air around it. */
function pointBox(cx: number, cy: number, radius: number): Box {
  return { x0: cx - radius - 1, y0: cy - radius - 1, x1: cx + radius + 1, y1: cy + radius + 1 };
}

/**
 * Where a middle-anchored label of `size` drawn at baseline y covers: the estimated width (textWidth) across, from
 * one em above the baseline to a quarter em below it (taller than digits and '%' are), plus a unit of air.
 */
function labelBox(x: number, y: number, content: string, size: number): Box {
  const half = textWidth(content, size) / 2;
  return { x0: x - half - 1, y0: y - size - 1, x1: x + half + 1, y1: y + size * 0.25 + 1 };
}

function overlaps(a: Box, b: Box): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

function inside(inner: Box, outer: Box): boolean {
  return inner.x0 >= outer.x0 && inner.x1 <= outer.x1 && inner.y0 >= outer.y0 && inner.y1 <= outer.y1;
}

/** Whether the segment from a to b passes through the box (Liang–Barsky clipping). */
function crosses(a: readonly [number, number], b: readonly [number, number], box: Box): boolean {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  let low = 0;
  let high = 1;
  const edges: [number, number][] = [
    [-dx, a[0] - box.x0],
    [dx, box.x1 - a[0]],
    [-dy, a[1] - box.y0],
    [dy, box.y1 - a[1]],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return false;
    } else if (p < 0) low = Math.max(low, q / p);
    else high = Math.min(high, q / p);
    if (low > high) return false;
  }
  return true;
}

/**
 * Places a label by each point so that no two labels overlap and none covers a point or another obstacle, inside
 * `area`: greedily, the last point (the figure the verdict quotes) first and then from the left, each at the first
 * free one of below, above, right, left and one row further below or above, preferring a place that no curve
 * (`lines`) runs through, and only where it is nearer its own point than any other. A label with no such place is
 * left out rather than drawn where it would be read as another point's: its point's tooltip still gives the value. Returns text baselines (middle-anchored).
 */
function placePointLabels(
  points: readonly { x: number; y: number; text: string }[],
  obstacles: readonly Box[],
  lines: readonly (readonly (readonly [number, number])[])[],
  area: Box,
): { x: number; y: number; text: string }[] {
  const size = POINT_LABEL_SIZE;
  const taken: Box[] = [...obstacles];
  const placed: { x: number; y: number; text: string; order: number }[] = [];
  const order = points.length === 0 ? [] : [points.length - 1, ...points.slice(0, -1).map((_, i) => i)];
  // Baselines that clear the point itself: the box's top a unit under the circle, or its bottom a unit above it.
  const below = TEST_POINT_RADIUS + 2 + size + 1;
  const above = -(TEST_POINT_RADIUS + 2 + size * 0.25 + 1);
  const onALine = (box: Box): boolean =>
    lines.some((vertices) => vertices.some((vertex, i) => i > 0 && crosses(vertices[i - 1]!, vertex, box)));
  // A label must sit nearer its own point than any other, or it reads as the other's.
  const nearestIs = (index: number, box: Box): boolean => {
    const [mx, my] = [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2];
    const own = Math.hypot(points[index]!.x - mx, points[index]!.y - my);
    return points.every((other, i) => i === index || Math.hypot(other.x - mx, other.y - my) > own);
  };
  for (const index of order) {
    const point = points[index]!;
    const side = textWidth(point.text, size) / 2 + TEST_POINT_RADIUS + 4;
    const candidates: [number, number][] = [
      [0, below],
      [0, above],
      [side, size * 0.375],
      [-side, size * 0.375],
      [0, below + size + 3],
      [0, above - size - 3],
    ];
    const free = candidates
      .map(([dx, dy]) => ({ x: point.x + dx, y: point.y + dy }))
      .map((at) => ({ ...at, box: labelBox(at.x, at.y, point.text, size) }))
      .filter(({ box }) => inside(box, area) && !taken.some((other) => overlaps(box, other)) && nearestIs(index, box));
    const chosen = free.find(({ box }) => !onALine(box)) ?? free[0];
    if (chosen === undefined) continue;
    taken.push(chosen.box);
    placed.push({ x: chosen.x, y: chosen.y, text: point.text, order: index });
  }
  return placed.sort((a, b) => a.order - b.order).map((label) => ({ x: label.x, y: label.y, text: label.text }));
}

/** Rasterises one of these SVGs to PNG; density 72 gives one pixel per SVG unit, 144 a sharper double size. */
export async function svgToPng(svg: string, options: { density?: number } = {}): Promise<Buffer> {
  return sharp(Buffer.from(svg, 'utf8'), { density: options.density ?? 72 })
    .png()
    .toBuffer();
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

interface TextOptions {
  size: number;
  anchor?: 'start' | 'middle' | 'end';
  fill?: string;
  weight?: 'bold' | undefined;
  /** Degrees, around the text's anchor point. */
  rotate?: number;
  /** Full text for a tooltip when the shown text is shortened. */
  tip?: string;
}

function text(x: number, y: number, content: string, options: TextOptions): string {
  const attributes = [`x="${num(x)}"`, `y="${num(y)}"`, `font-size="${num(options.size)}"`];
  if (options.anchor !== undefined && options.anchor !== 'start') attributes.push(`text-anchor="${options.anchor}"`);
  if (options.fill !== undefined && options.fill !== INK) attributes.push(`fill="${options.fill}"`);
  if (options.weight !== undefined) attributes.push(`font-weight="${options.weight}"`);
  if (options.rotate !== undefined) attributes.push(`transform="rotate(${options.rotate} ${num(x)} ${num(y)})"`);
  const tip = options.tip !== undefined && options.tip !== content ? `<title>${escapeXml(options.tip)}</title>` : '';
  return `<text ${attributes.join(' ')}>${tip}${escapeXml(content)}</text>`;
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string): string {
  return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" stroke="${stroke}"/>`;
}

function polyline(points: readonly (readonly [number, number])[], stroke: string, dash: string): string {
  const coordinates = points.map(([px, py]) => `${num(px)},${num(py)}`).join(' ');
  const dashAttribute = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
  return `<polyline points="${coordinates}" fill="none" stroke="${stroke}" stroke-width="2.5"${dashAttribute} stroke-linejoin="round"/>`;
}

function document(width: number, height: number, title: string, parts: readonly string[]): string {
  const w = Math.ceil(width);
  const h = Math.ceil(height);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${FONT}" fill="${INK}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${w}" height="${h}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** A white-to-dark-blue ramp (after ColorBrewer "Blues"), t in [0, 1]. */
function blues(t: number): string {
  const stops: readonly (readonly [number, number, number])[] = [
    [247, 251, 255],
    [198, 219, 239],
    [107, 174, 214],
    [33, 113, 181],
    [8, 48, 107],
  ];
  const position = clamp(t, 0, 1) * (stops.length - 1);
  const index = Math.min(Math.floor(position), stops.length - 2);
  const f = position - index;
  const a = stops[index]!;
  const b = stops[index + 1]!;
  const channel = (k: 0 | 1 | 2): string =>
    Math.round(a[k] + (b[k] - a[k]) * f)
      .toString(16)
      .padStart(2, '0');
  return `#${channel(0)}${channel(1)}${channel(2)}`;
}

/** Rough width of sans-serif text: about 0.55 em per character for DejaVu Sans / Helvetica-like faces. */
function textWidth(content: string, size: number): number {
  return content.length * size * 0.55;
}

function shorten(label: string): string {
  return label.length > MAX_LABEL_CHARS ? `${label.slice(0, MAX_LABEL_CHARS - 1)}…` : label;
}

/** Greedy word wrap by estimated width. */
function wrap(content: string, width: number, size: number): string[] {
  const perLine = Math.max(10, Math.floor(width / (size * 0.6)));
  const lines: string[] = [];
  let current = '';
  for (const word of content.split(/\s+/).filter((w) => w !== '')) {
    if (current !== '' && current.length + 1 + word.length > perLine) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

/** A 1, 2 or 5 × 10^k step giving about `count` ticks up to max. */
function niceStep(max: number, count: number): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw) ?? 10 * power;
  return Math.max(1, step);
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Coordinates to at most one decimal keep the SVG small and readable. */
function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function fixed(value: number): string {
  return value.toFixed(2);
}

function percent(value: number, digits = 0): string {
  return `${(value * 100).toFixed(digits)}%`;
}
