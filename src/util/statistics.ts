// Summary statistics of plain number lists (timings, accuracies, rates): mean, median and nearest-rank percentile.
// Each returns NaN for an empty list, so that a missing measurement prints as NaN rather than as a plausible 0.

/** The arithmetic mean. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return values.reduce((total, value) => total + value, 0) / values.length;
}

/** The median: the middle value, or the mean of the two middle values of an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The nearest-rank percentile (no interpolation): the value at index floor(n × percent / 100) of the sorted
 * values, the largest for 100. `percent` is from 0 to 100.
 */
export function percentile(values: readonly number[], percent: number): number {
  if (!(percent >= 0 && percent <= 100)) throw new RangeError(`percent must be a number from 0 to 100, got ${percent}`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((percent / 100) * sorted.length))]!;
}
