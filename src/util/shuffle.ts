// Fisher–Yates shuffle with a given generator, so that seeded runs (folds, learning curves, benchmarks) repeat.

/** Shuffles `items` in place with `random` (uniform in [0, 1), e.g. seededRandom) and returns the same array. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
