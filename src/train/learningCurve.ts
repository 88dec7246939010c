// Learning curves: train on growing, nested, stratified shares of the training set and read off whether accuracy
// has converged or more images would likely help.
import { isArray } from '../util/isArray';
import { seededRandom } from '../util/seededRandom';
import { shuffle } from '../util/shuffle';
import { mean } from '../util/statistics';

/** Shares of the training set to train on: 10 %, 20 %, ..., 100 %. */
export function learningCurveShares(): number[] {
  // From integers, so that 0.3 is 0.3 and not 0.30000000000000004.
  return Array.from({ length: 10 }, (_, i) => (i + 1) / 10);
}

/** Training-set indices per label, either by class index or by label name. */
export type IndicesByLabel = readonly (readonly number[])[] | Readonly<Record<string, readonly number[]>>;

/**
 * The same share of every label's indices (rounded, at least one per non-empty label), sorted ascending.
 * Each label's indices are sorted and then shuffled with a generator seeded from (seed, label key), and the subset
 * is a prefix of that order: so a larger share contains every smaller one (nested), the result depends only on the
 * seed and the index sets (not on their order), and adding a label leaves the others' subsets unchanged.
 */
export function stratifiedSubset(indicesByLabel: IndicesByLabel, share: number, seed: number): number[] {
  if (typeof share !== 'number' || !(share > 0 && share <= 1)) {
    throw new RangeError(`stratifiedSubset: share must be in (0, 1], got ${String(share)}`);
  }
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new RangeError(`stratifiedSubset: seed must be an integer, got ${String(seed)}`);
  }
  if (typeof indicesByLabel !== 'object' || indicesByLabel === null) {
    throw new TypeError('stratifiedSubset: indicesByLabel must be an array or a record of index arrays');
  }
  const chosen: number[] = [];
  // An array of index arrays is also a record of them (keyed '0', '1', ...), so one loop reads either shape.
  const byKey = Object.entries(indicesByLabel as Readonly<Record<string, readonly number[]>>);
  for (const [key, indices] of byKey) {
    if (!isArray(indices)) throw new TypeError(`stratifiedSubset: indicesByLabel[${key}] must be an array`);
    indices.forEach((index: unknown, i) => {
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
        throw new RangeError(
          `stratifiedSubset: indicesByLabel[${key}][${i}] must be a non-negative integer, got ${String(index)}`,
        );
      }
    });
    if (indices.length === 0) continue;
    const order = shuffle(
      [...indices].sort((a, b) => a - b),
      seededRandom(mixSeed(seed, key)),
    );
    const take = Math.max(1, Math.round(share * order.length));
    chosen.push(...order.slice(0, take));
  }
  return chosen.sort((a, b) => a - b);
}

export interface LearningCurveAssessment {
  /**
   * True when doubling the data would likely add less than `minGainPerDoubling`; false when it would add more, and
   * also when the test set is too small to tell (the verdict says which).
   */
  converged: boolean;
  /** One or two plain sentences for the user. */
  verdict: string;
  /** Fitted accuracy gain from 10 % more images than the largest size measured (fraction, e.g. 0.004 = 0.4 points). */
  slopePer10Percent: number;
  /** Fitted accuracy gain from doubling the images (fraction). */
  gainPerDoubling: number;
  /** Standard error of gainPerDoubling from the fit's scatter; null when only two points were fitted. */
  gainUncertainty: number | null;
  /** How many of the largest sizes the fit used. */
  pointsFitted: number;
  /** The test images every point was measured on, when given (`AssessOptions.testImages`). */
  testImages?: number;
  /**
   * Half the width of the 95 % Wilson score interval of the measurement at the largest size over `testImages`
   * (fraction): how finely that many test images resolve a point, and so a change between points.
   */
  testInterval?: number;
  /** True when the change per doubling is within `testInterval` of zero and a gain above the threshold is not ruled out. */
  tooFewTestImages?: boolean;
}

export interface AssessOptions {
  /** Below this gain per doubling (a fraction) the curve counts as converged; default 0.01, one percentage point. */
  minGainPerDoubling?: number;
  /** What the points measure, for the verdict: default 'accuracy' (e.g. 'mAP' for multi-label models). */
  metric?: string;
  /**
   * How many test images each point was measured on. With it the verdict states the test set's uncertainty and says
   * "too few test images to tell" when the change per doubling is within it; without it the verdict cannot.
   */
  testImages?: number;
}

interface CurvePoint {
  trainingImages: number;
  accuracy: number;
  trainAccuracy?: number;
}

/**
 * Method: least-squares line of accuracy against log2(training images) over the end of the curve, namely the
 * points within the last doubling of the data (images >= half the largest size; at least the last 3 points). On
 * that scale the slope is directly the gain per doubling, and learning curves are close to straight there
 * (power-law behaviour) where on a linear scale they bend. The gain from doubling again is extrapolated from that
 * slope (one doubling ahead only, and capped at 100 %); the scatter of the points around the line gives its
 * standard error, which the verdict mentions when it is large compared with the slope.
 *
 * Every point is measured on the same test images, and with few of them the curve moves by whole images: 1 of 26 is
 * 3.8 points. Given `options.testImages`, the 95 % Wilson score interval of the measurement at the largest size says
 * how finely the test set resolves a point, and it is taken as the scale of a change between points too: the points
 * share their test images, which ties their errors together, so a difference is known better than the √2-wider
 * interval of two independent samples would say, though by how much depends on where the models disagree, which the
 * curve does not record (for mAP the binomial interval is itself an approximation). When the change per doubling is within that interval
 * of zero and a gain above `minGainPerDoubling` is not ruled out either, the verdict says there are too few test
 * images to tell, and `converged` is false: the curve shows no convergence, only that the test set cannot see one.
 */
export function assessLearningCurve(
  points: readonly CurvePoint[],
  options: AssessOptions = {},
): LearningCurveAssessment {
  const metric = options.metric ?? 'accuracy';
  // 'accuracy' starts a sentence as 'Accuracy'; an acronym such as 'mAP' stays as it is.
  const Metric = metric === metric.toLowerCase() ? metric.charAt(0).toUpperCase() + metric.slice(1) : metric;
  const minGain = options.minGainPerDoubling ?? 0.01;
  if (options.testImages !== undefined && !(Number.isInteger(options.testImages) && options.testImages > 0)) {
    throw new RangeError(
      `assessLearningCurve: testImages must be a positive integer, got ${String(options.testImages)}`,
    );
  }
  if (!isArray(points)) throw new TypeError('assessLearningCurve: points must be an array');
  points.forEach((p, i) => {
    if (!(Number.isFinite(p.trainingImages) && p.trainingImages > 0)) {
      throw new RangeError(
        `assessLearningCurve: points[${i}].trainingImages must be a positive number, got ${String(p.trainingImages)}`,
      );
    }
    if (!(p.accuracy >= 0 && p.accuracy <= 1)) {
      throw new RangeError(`assessLearningCurve: points[${i}].accuracy must be in [0, 1], got ${String(p.accuracy)}`);
    }
  });
  const sorted = [...points].sort((a, b) => a.trainingImages - b.trainingImages);
  const distinct = new Set(sorted.map((p) => p.trainingImages)).size;
  if (distinct < 2) {
    throw new RangeError(`assessLearningCurve: needs points at two or more training sizes, got ${distinct}`);
  }
  const largest = sorted[sorted.length - 1]!.trainingImages;
  let take = Math.min(sorted.length, Math.max(3, sorted.filter((p) => p.trainingImages >= largest / 2).length));
  while (new Set(sorted.slice(-take).map((p) => p.trainingImages)).size < 2) take += 1;
  const fitted = sorted.slice(-take);

  const xs = fitted.map((p) => Math.log2(p.trainingImages));
  const ys = fitted.map((p) => p.accuracy);
  const meanX = mean(xs);
  const meanY = mean(ys);
  const sxx = xs.reduce((total, x) => total + (x - meanX) ** 2, 0);
  const slope = xs.reduce((total, x, i) => total + (x - meanX) * (ys[i]! - meanY), 0) / sxx;
  const residuals = xs.map((x, i) => ys[i]! - (meanY + slope * (x - meanX)));
  const scatter = take > 2 ? Math.sqrt(residuals.reduce((total, r) => total + r * r, 0) / (take - 2)) : null;
  const uncertainty = scatter === null ? null : scatter / Math.sqrt(sxx);

  // The measurement at the largest size, not the line's value there: the verdict must quote the figure the curve and
  // the model's own test metrics show (a fitted 82.7% beside a measured 82.0% reads as a mistake).
  const atLargest = mean(sorted.filter((p) => p.trainingImages === largest).map((p) => p.accuracy));
  const projected = Math.min(1, atLargest + slope);
  const testImages = options.testImages;
  // How finely the test set resolves a point: a change per doubling within it of zero may be the test images' luck.
  const interval = testImages === undefined ? undefined : wilsonHalfWidth(atLargest, testImages);
  const tooFew = interval !== undefined && Math.abs(slope) <= interval && slope + interval >= minGain;
  const converged = !tooFew && slope < minGain;
  const span = `the last ${take} sizes, ${fitted[0]!.trainingImages} to ${largest} images`;
  const resolution =
    interval === undefined ? '' : `±${inPoints(interval)} points at 95% over ${testImages} test images`;
  const sentences: string[] = [];
  if (tooFew) {
    sentences.push(
      `Too few test images to tell whether more training images would help (${resolution}): ` +
        `${metric} is about ${pct(atLargest)}, and its change of ${signedPoints(slope)} per doubling over ${span}, is within that.`,
    );
  } else if (converged) {
    const also = resolution === '' ? '' : ` (${resolution})`;
    sentences.push(
      slope <= 0
        ? `${Metric} has converged at about ${pct(atLargest)}: it did not rise over ${span} (${signedPoints(slope)} per doubling${resolution === '' ? '' : `; ${resolution}`}), so more images of the same kind are unlikely to help.`
        : `${Metric} has converged at about ${pct(atLargest)}: over ${span} it gained only ${signedPoints(slope)} per doubling of the data${also}, so twice as many images would likely add little.`,
    );
  } else {
    sentences.push(
      `${Metric} is still rising, by about ${signedPoints(slope)} each time the training images double (over ${span}${resolution === '' ? '' : `; ${resolution}`}): ` +
        `doubling to about ${Math.round(largest * 2)} images would likely take it from ${pct(atLargest)} to about ${pct(projected)}.`,
    );
  }
  if (!tooFew && uncertainty !== null && scatter !== null && 2 * uncertainty > Math.max(Math.abs(slope), minGain)) {
    sentences.push(
      `The points scatter by about ±${(scatter * 100).toFixed(1)} points around the trend, so this is rough: ` +
        `the gain per doubling is likely between ${signedPoints(slope - 2 * uncertainty)} and ${signedPoints(slope + 2 * uncertainty)}.`,
    );
  }
  const lastTrain = [...sorted].reverse().find((p) => p.trainAccuracy !== undefined)?.trainAccuracy;
  if (lastTrain !== undefined) {
    const gap = lastTrain - atLargest;
    if (gap >= 0.1) {
      sentences.push(
        tooFew
          ? `Training accuracy (${pct(lastTrain)}) is well above it, so the model overfits the training images.`
          : converged
            ? `Training accuracy (${pct(lastTrain)}) is well above it, so the model overfits; more varied images or stronger augmentation may help more than more of the same.`
            : `Training accuracy (${pct(lastTrain)}) is well above it, which also says the model is still data-limited.`,
      );
    } else if (converged && gap < 0.03 && atLargest < 0.95) {
      sentences.push(
        `Training accuracy (${pct(lastTrain)}) is about the same, so the model, not the amount of data, limits ${metric}.`,
      );
    }
  }
  return {
    converged,
    verdict: sentences.join(' '),
    slopePer10Percent: slope * Math.log2(1.1),
    gainPerDoubling: slope,
    gainUncertainty: uncertainty,
    pointsFitted: take,
    ...(interval === undefined ? {} : { testImages, testInterval: interval, tooFewTestImages: tooFew }),
  };
}

/** z for a two-sided 95 % interval. */
const Z95 = 1.959963984540054;

/**
 * Half the width of the 95 % Wilson score interval of a share `p` measured on `n` images: unlike the normal
 * approximation it stays honest near 0 % and 100 % and on small n (at 25 of 26 right it is ±9.1 points, not ±7.4).
 */
export function wilsonHalfWidth(p: number, n: number): number {
  const z2 = Z95 * Z95;
  return (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

/** One seed per label from the run's seed and the label's key (FNV-1a), so labels shuffle independently. */
function mixSeed(seed: number, key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ hash) >>> 0;
}

/** A share as percentage points with one decimal (0.091 → "9.1"). */
function inPoints(value: number): string {
  return (value * 100).toFixed(1);
}

function pct(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

/** A signed accuracy difference in percentage points. */
function signedPoints(value: number): string {
  const rounded = (value * 100).toFixed(1);
  return `${value >= 0 ? '+' : ''}${rounded === '-0.0' ? '0.0' : rounded} points`;
}
