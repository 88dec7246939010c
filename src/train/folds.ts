// Fold assignments for cross-validation: stratified folds for single-label data, iterative stratification for
// multi-label data. Used by `icf eval` (outer folds) and by the recipe search (inner folds on the training split).
import { InvalidArgumentError } from '../errors';
import { seededRandom } from '../util/seededRandom';

/** Fold index of each sample: each class shuffled (seeded) and dealt round-robin, continuing across classes so folds stay even. */
export function stratifiedFolds(labels: readonly number[], folds: number, seed: number): number[] {
  if (!Number.isInteger(folds) || folds < 2)
    throw new InvalidArgumentError(`folds must be an integer of at least 2, got ${folds}`);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => byClass.set(label, [...(byClass.get(label) ?? []), i]));
  const smallest = Math.min(...[...byClass.values()].map((m) => m.length));
  if (smallest < folds)
    throw new InvalidArgumentError(
      `${folds} folds need at least ${folds} images per label; the smallest label has ${smallest}`,
    );
  const random = seededRandom(seed);
  const assignment = new Array<number>(labels.length).fill(-1);
  let next = 0;
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    for (const member of members) assignment[member] = next++ % folds;
  }
  return assignment;
}

/**
 * Fold index of each multi-label sample: iterative stratification (Sechidis, Tsoumakas & Vlahavas, 2011). Labels are
 * taken rarest first; each of a label's unassigned samples (in seeded order) goes to the fold that still wants that
 * label most, then the one that wants samples most, ties broken at random (seeded). Then, where a label with at least
 * `folds` samples is still missing from a fold, samples are swapped between folds (sizes unchanged) while that
 * leaves fewer (label, fold) pairs missing, so that such a label is tested in every fold whenever a swap allows.
 * Samples without labels are dealt to the folds that want samples most.
 */
export function multiLabelFolds(
  labelSets: readonly (readonly number[])[],
  folds: number,
  seed: number,
  labelNames?: readonly string[],
): number[] {
  if (!Number.isInteger(folds) || folds < 2)
    throw new InvalidArgumentError(`folds must be an integer of at least 2, got ${folds}`);
  const C = Math.max(labelNames?.length ?? 0, ...labelSets.flatMap((set) => set.map((label) => label + 1)));
  const counts = new Array<number>(C).fill(0);
  for (const set of labelSets) for (const label of set) counts[label]! += 1;
  const present = counts.map((_, c) => c).filter((c) => counts[c]! > 0);
  if (present.length === 0) throw new InvalidArgumentError('no sample has a label: there is nothing to stratify');
  const smallest = present.reduce((a, c) => (counts[c]! < counts[a]! ? c : a));
  if (counts[smallest]! < folds) {
    const name = labelNames?.[smallest] !== undefined ? ` (${labelNames[smallest]})` : '';
    throw new InvalidArgumentError(
      `${folds} folds need at least ${folds} images per label; the smallest label${name} has ${counts[smallest]}`,
    );
  }
  const random = seededRandom(seed);
  const order = labelSets.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  // What each fold still wants: samples, and samples of each label (fractions: n/k, count/k).
  const wantSamples = new Array<number>(folds).fill(labelSets.length / folds);
  const wantLabel = Array.from({ length: folds }, () => counts.map((n) => n / folds));
  const remaining = [...counts];
  const assignment = new Array<number>(labelSets.length).fill(-1);
  // Fold sizes stay within one of each other: floor(n/k) each, and n mod k folds one more.
  const size = new Array<number>(folds).fill(0);
  const small = Math.floor(labelSets.length / folds);
  let largeLeft = labelSets.length % folds;
  const assign = (sample: number, key: (fold: number) => number[]) => {
    let best: number[] = [];
    let bestKey: number[] = [];
    for (let fold = 0; fold < folds; fold++) {
      if (size[fold]! > small || (size[fold] === small && largeLeft === 0)) continue;
      const k = key(fold);
      const cmp = compareKeys(k, bestKey);
      if (best.length === 0 || cmp > 0) {
        best = [fold];
        bestKey = k;
      } else if (cmp === 0) best.push(fold);
    }
    const fold = best[Math.floor(random() * best.length)]!;
    assignment[sample] = fold;
    if (size[fold]! === small) largeLeft--;
    size[fold]! += 1;
    wantSamples[fold]! -= 1;
    for (const label of labelSets[sample]!) {
      wantLabel[fold]![label]! -= 1;
      remaining[label]! -= 1;
    }
  };
  for (;;) {
    let label = -1;
    for (let c = 0; c < C; c++) if (remaining[c]! > 0 && (label < 0 || remaining[c]! < remaining[label]!)) label = c;
    if (label < 0) break;
    for (const sample of order) {
      if (assignment[sample] === -1 && labelSets[sample]!.includes(label))
        assign(sample, (fold) => [wantLabel[fold]![label]!, wantSamples[fold]!]);
    }
  }
  for (const sample of order) if (assignment[sample] === -1) assign(sample, (fold) => [wantSamples[fold]!]);

  // Repair: swap samples so that every label with >= folds samples is in every fold where possible.
  const inFold = Array.from({ length: folds }, () => new Array<number>(C).fill(0));
  labelSets.forEach((set, i) => set.forEach((label) => (inFold[assignment[i]!]![label]! += 1)));
  const eligible = present.filter((c) => counts[c]! >= folds);
  const missingIn = (fold: number) => eligible.filter((c) => inFold[fold]![c] === 0).length;
  const move = (sample: number, from: number, to: number) => {
    for (const label of labelSets[sample]!) {
      inFold[from]![label]! -= 1;
      inFold[to]![label]! += 1;
    }
    assignment[sample] = to;
  };
  repair: for (;;) {
    for (const label of eligible) {
      for (let fold = 0; fold < folds; fold++) {
        if (inFold[fold]![label] !== 0) continue;
        for (const x of order) {
          const donor = assignment[x]!;
          if (!labelSets[x]!.includes(label) || inFold[donor]![label]! < 2) continue;
          for (const y of order) {
            if (assignment[y] !== fold) continue;
            const before = missingIn(fold) + missingIn(donor);
            move(x, donor, fold);
            move(y, fold, donor);
            if (missingIn(fold) + missingIn(donor) < before) continue repair;
            move(y, donor, fold);
            move(x, fold, donor);
          }
        }
      }
    }
    break;
  }
  return assignment;
}

/**
 * Each multi-label sample's rarest label over all samples (the stratum it is split by, as in the learning curve's
 * shares), or `classCount` for a sample without labels.
 */
export function rarestLabels(labelSets: readonly (readonly number[])[], classCount: number): number[] {
  const frequency = new Array<number>(classCount).fill(0);
  for (const set of labelSets) for (const label of set) frequency[label]! += 1;
  return labelSets.map((set) =>
    set.length === 0
      ? classCount
      : set.reduce((rarest, label) => (frequency[label]! < frequency[rarest]! ? label : rarest)),
  );
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - (b[i] ?? -Infinity);
  return 0;
}
