// The demo's closing report as text: what was collected and removed, the split, the model's test figures and
// confusion matrix from its metrics.json, the fresh images' predictions and latencies, and where to look next.
import { wilsonHalfWidth } from '../train/learningCurve';
import type { DemoReport } from './pipeline';

export interface ReportLinks {
  /** The app's base URL (its web page is at `/`). */
  baseUrl: string;
}

export function formatDemoReport(report: DemoReport, links: ReportLinks): string {
  const { images, model } = report;
  const lines: string[] = [];
  const reusedNote = report.reused.dataset ? ' (collected by an earlier run, reused)' : '';
  lines.push(`Dataset "${report.dataset}"${reusedNote}`);
  lines.push(
    `  images collected: ${images.collected}; accepted ${images.accepted}, exact duplicates removed ` +
      `${images.duplicate}, near duplicates removed ${images.nearDuplicate}, rejected ${images.rejected}`,
  );
  lines.push(
    ...table(
      ['label', 'train', 'test'],
      Object.entries(report.labels).map(([l, c]) => [l, c.train, c.test]),
    ),
  );
  lines.push('');
  const modelNote = report.reused.model ? ' (trained by an earlier run, reused)' : '';
  lines.push(`Model ${model.version}${modelNote}`);
  // How far so few test images pin the figure down: the 95 % Wilson interval, as the learning curve's verdict says it.
  const interval =
    model.testImages > 0
      ? `±${(wilsonHalfWidth(model.accuracy, model.testImages) * 100).toFixed(1)} points at 95%; `
      : '';
  lines.push(
    `  test accuracy: ${percent(model.accuracy)} of ${model.testImages} test images ` +
      `(${interval}images the training never saw; from metrics.json)`,
  );
  lines.push('  confusion matrix (rows: true label, columns: predicted):');
  lines.push(
    ...table(
      ['', ...model.labels],
      model.labels.map((label, i) => [label, ...(model.confusionMatrix[i] ?? [])]),
    ),
  );
  lines.push('');
  lines.push(`Fresh images classified through POST /api/datasets/${report.dataset}/classify:`);
  lines.push(
    ...table(
      ['image', 'predicted', 'probability', 'round trip', 'in the app'],
      report.classifications.map((c) => [
        `${c.expected} ${c.item}`,
        `${c.predicted}${c.predicted === c.expected ? '' : ' (wrong)'}`,
        percent(c.probability),
        `${Math.round(c.latencyInMs)} ms`,
        `${Math.round(c.serverTotalInMs)} ms`,
      ]),
    ),
  );
  const [first, ...rest] = report.classifications.map((c) => c.latencyInMs);
  if (first !== undefined) {
    const sorted = rest.sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    lines.push(
      `  per image: ${Math.round(first)} ms for the first (it loads the model)` +
        (median === undefined ? '' : `, then a median of ${Math.round(median)} ms`),
    );
  }
  lines.push('');
  const steps = report.stepsInS;
  lines.push(
    `Steps: collect ${steps.collect.toFixed(0)} s, ingest ${steps.ingest.toFixed(0)} s, ` +
      `train ${steps.train.toFixed(0)} s, classify ${steps.classify.toFixed(1)} s`,
  );
  lines.push(`Web page: ${links.baseUrl}/   (images, review, training, "try it")`);
  lines.push(
    `Try it:   curl --data-binary @photo.jpg -H 'content-type: application/octet-stream' ` +
      `${links.baseUrl}/api/datasets/${report.dataset}/classify`,
  );
  return lines.join('\n');
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** Rows under a header, each column as wide as its widest cell, indented by two spaces. */
function table(header: string[], rows: (string | number)[][]): string[] {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells.map(
    (row) =>
      '  ' +
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  ')
        .trimEnd(),
  );
}
