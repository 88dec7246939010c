// `icf review DATASET --suspects`: the suspect-label report of GET /api/datasets/{dataset}/suspects, read over HTTP,
// printed most suspect first (by the out-of-fold score, p(proposed) - p(given)), file names first and ids last: training images the model would label otherwise, near-identical images with different
// labels, and the current model's mistakes on the test split per label.
import type { SuspectReport } from '../review/suspects';
import { apiClientFor, APP_OPTIONS, APP_OPTIONS_USAGE } from './apiClient';
import { parseArgs, UsageError } from './options';

export const REVIEW_USAGE = `usage: icf review DATASET --suspects [options]
  suspect labels (with the label the model proposes), near-identical images with different labels and the
  test split's mistakes, from the dataset's serving model
options:
  --suspects                        the suspect-label review (the only review so far)
  --json                            print the report as it came
${APP_OPTIONS_USAGE}`;

/** Runs `icf review ...`; returns the exit code. */
export async function reviewCommand(args: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  const { positional, values, flags } = parseArgs(args, {
    values: APP_OPTIONS,
    flags: ['suspects', 'json'],
    command: 'review',
  });
  const dataset = positional[0];
  if (!dataset || positional.length > 1) throw new UsageError('review', 'review needs one DATASET');
  if (!flags.has('suspects')) throw new UsageError('review', 'review needs --suspects (the only review so far)');
  const api = apiClientFor(values);
  const report = await api.getJson<SuspectReport>(`datasets/${encodeURIComponent(dataset)}/suspects`);
  if (flags.has('json')) out.write(`${JSON.stringify(report, null, 2)}\n`);
  else out.write(formatSuspectReport(report));
  return 0;
}

/** The report as text: one line per suspect, pair and mistake. */
export function formatSuspectReport(report: SuspectReport): string {
  const lines: string[] = [];
  const percent = (p: number | undefined) => `${((p ?? 0) * 100).toFixed(1)}%`;
  lines.push(
    `dataset ${report.dataset}, model ${report.modelVersion}: ` +
      `${report.suspects.length} suspect labels among ${report.trainImages} training images` +
      (report.folds > 0
        ? ` (${report.folds}-fold out-of-fold predictions)`
        : ' (too few images per label to cross-validate)'),
  );
  if (report.suspects.length > 0) {
    // File names first (what a person recognises), the id last (what PATCH .../images/{id} takes).
    const width = Math.max(...report.suspects.map((s) => s.name.length));
    for (const [rank, s] of report.suspects.entries()) {
      lines.push(
        `  ${String(rank + 1).padStart(3)}. ${s.name.padEnd(width)}  labelled ${s.label} ` +
          `(${percent(s.givenProbability)}), proposed ${s.proposedLabel} ` +
          `(${percent(s.proposedProbability)})  ${s.id}`,
      );
    }
  }
  lines.push(`${report.conflictingPairs.length} near-identical pairs with different labels`);
  for (const pair of report.conflictingPairs) {
    const [a, b] = pair.images;
    lines.push(
      `  ${a.name} (${a.label}, ${statusWords(a.status)}) and ${b.name} (${b.label}, ${statusWords(b.status)}): ` +
        `${pair.distanceBits} bits apart  ${a.id} ${b.id}`,
    );
  }
  const mistakes = report.testMistakes.reduce((sum, label) => sum + label.mistakes.length, 0);
  const tested = report.testMistakes.reduce((sum, label) => sum + label.testImages, 0);
  lines.push(`${mistakes} test mistakes of ${tested} test images`);
  for (const label of report.testMistakes) {
    lines.push(`  ${label.label}: ${label.mistakes.length} of ${label.testImages} wrong`);
    for (const m of label.mistakes)
      lines.push(
        `    ${m.name}  predicted ${m.predictedLabel} (${percent(m.predictedProbability)}), ` +
          `given ${percent(m.givenProbability)}  ${m.id}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

function statusWords(status: string): string {
  return status === 'nearDuplicate' ? 'near duplicate' : status;
}
