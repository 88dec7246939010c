// `icf review DATASET --suspects`: the suspect-label report of GET /api/datasets/{dataset}/suspects, read over HTTP
// like `icf collect run`, printed most suspect first: training images the model would label otherwise, near-identical
// images with different labels, and the current model's mistakes on the test split per label.
import { InvalidArgumentError } from '../errors';
import type { SuspectReport } from '../train/suspects';
import { describeValue } from '../util/describeValue';
import { parseArgs } from './options';

export const REVIEW_USAGE = `  icf review DATASET --suspects     suspect labels (with the label the model proposes),
                                    near-identical images with different labels and the test split's mistakes
options for review: --url, --key as for collect run; --json prints the report as it came`;

export interface ReviewSettings {
  appUrl?: string | undefined;
  functionKey?: string | undefined;
}

/** Runs `icf review ...`; returns the exit code. */
export async function reviewCommand(
  args: readonly string[],
  settings: ReviewSettings,
  out: NodeJS.WritableStream,
  usage: string,
): Promise<number> {
  const { positional, values, flags } = parseArgs(args, {
    values: ['url', 'key'],
    flags: ['suspects', 'json'],
    usage,
    command: 'review',
  });
  const dataset = positional[0];
  if (!dataset || positional.length > 1) throw new InvalidArgumentError(`review needs one DATASET\n${usage}`);
  if (!flags.has('suspects'))
    throw new InvalidArgumentError(`review needs --suspects (the only review so far)\n${usage}`);
  const key = values.key ?? settings.functionKey;
  const report = await fetchSuspects(values.url ?? settings.appUrl ?? 'http://localhost:7071', dataset, key);
  if (flags.has('json')) out.write(`${JSON.stringify(report, null, 2)}\n`);
  else out.write(formatSuspectReport(report));
  return 0;
}

async function fetchSuspects(baseUrl: string, dataset: string, key: string | undefined): Promise<SuspectReport> {
  const url = new URL(`/api/datasets/${encodeURIComponent(dataset)}/suspects`, baseUrl);
  let response: Response;
  try {
    response = await fetch(url, { headers: key ? { 'x-functions-key': key } : {} });
  } catch (error) {
    throw new Error(`cannot reach ${baseUrl} (${(error as Error).message}); is the app running (npm start)?`, {
      cause: error,
    });
  }
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok)
    throw new Error(`GET ${url.pathname}: ${response.status} ${describeValue(json['message'] ?? response.statusText)}`);
  return json as unknown as SuspectReport;
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
    const width = Math.max(...report.suspects.map((s) => s.id.length));
    for (const s of report.suspects) {
      lines.push(
        `  ${s.id.padEnd(width)}  labelled ${s.label} (${percent(s.probabilities[s.label])}), ` +
          `proposed ${s.proposedLabel} (${percent(s.probabilities[s.proposedLabel])})`,
      );
    }
  }
  lines.push(`${report.conflictingPairs.length} near-identical pairs with different labels`);
  for (const pair of report.conflictingPairs) {
    const [a, b] = pair.images;
    lines.push(
      `  ${a.id} (${a.label}, ${a.status}) and ${b.id} (${b.label}, ${b.status}): ${pair.distanceBits} bits apart`,
    );
  }
  const mistakes = report.testMistakes.reduce((sum, label) => sum + label.mistakes.length, 0);
  const tested = report.testMistakes.reduce((sum, label) => sum + label.testImages, 0);
  lines.push(`${mistakes} test mistakes of ${tested} test images`);
  for (const label of report.testMistakes) {
    lines.push(`  ${label.label}: ${label.mistakes.length} of ${label.testImages} wrong`);
    for (const m of label.mistakes)
      lines.push(
        `    ${m.id}  predicted ${m.predictedLabel} (${percent(m.predictedProbability)}), ` +
          `given ${percent(m.givenProbability)}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
