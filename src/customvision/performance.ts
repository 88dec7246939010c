// An iteration's `performance` as Custom Vision reports it, computed on the dataset's fixed test split: a tag is
// predicted for an image when its probability reaches the threshold; precision and recall per tag and over all
// (image, tag) pairs; average precision per tag from the ranking of the test images by that tag's probability, and
// its mean over the tags. The split is fixed, so every standard deviation is 0.
import type { TestPrediction } from './iterationModels';

export interface TagPerformance {
  id: string;
  name: string;
  precision: number;
  precisionStdDeviation: number;
  recall: number;
  recallStdDeviation: number;
  averagePrecision: number;
}

export interface IterationPerformance {
  perTagPerformance: TagPerformance[];
  precision: number;
  precisionStdDeviation: number;
  recall: number;
  recallStdDeviation: number;
  averagePrecision: number;
}

/** Precision and recall at `threshold` and average precision, per tag (in `tags` order) and over all. */
export function iterationPerformance(
  labels: readonly string[],
  images: readonly TestPrediction[],
  threshold: number,
  tags: readonly { id: string; name: string; label: string }[],
): IterationPerformance {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const aps: number[] = [];
  const perTagPerformance = tags.flatMap((tag) => {
    const column = labels.indexOf(tag.label);
    if (column < 0) return [];
    let tagTp = 0;
    let tagFp = 0;
    let tagFn = 0;
    const ranked = images
      .map((image) => ({ p: image.probabilities[column] ?? 0, truth: image.labels.includes(tag.label) }))
      .sort((a, b) => b.p - a.p);
    for (const { p, truth } of ranked) {
      const predicted = p >= threshold;
      if (predicted && truth) tagTp++;
      else if (predicted) tagFp++;
      else if (truth) tagFn++;
    }
    tp += tagTp;
    fp += tagFp;
    fn += tagFn;
    const averagePrecision = averagePrecisionOf(ranked);
    aps.push(averagePrecision);
    return [
      {
        id: tag.id,
        name: tag.name,
        precision: ratio(tagTp, tagTp + tagFp),
        precisionStdDeviation: 0,
        recall: ratio(tagTp, tagTp + tagFn),
        recallStdDeviation: 0,
        averagePrecision,
      },
    ];
  });
  return {
    perTagPerformance,
    precision: ratio(tp, tp + fp),
    precisionStdDeviation: 0,
    recall: ratio(tp, tp + fn),
    recallStdDeviation: 0,
    averagePrecision: aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : 0,
  };
}

/** Non-interpolated average precision: the mean precision at the rank of each true image (0 with none). */
function averagePrecisionOf(ranked: readonly { truth: boolean }[]): number {
  let hits = 0;
  let sum = 0;
  ranked.forEach(({ truth }, i) => {
    if (!truth) return;
    hits++;
    sum += hits / (i + 1);
  });
  return hits === 0 ? 0 : sum / hits;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}
